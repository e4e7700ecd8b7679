//! Terminal prompt.

//! Scripted test prompt.

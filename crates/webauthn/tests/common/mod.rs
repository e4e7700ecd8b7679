//! Shared test data.
pub mod w3c_vectors;

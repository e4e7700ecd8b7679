//! Shared test data and the test authenticator.
pub mod softkey;
pub mod w3c_vectors;

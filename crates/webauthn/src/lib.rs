//! WebAuthn Level 3 client-side data types and checks, sans-I/O.
#![forbid(unsafe_code)]

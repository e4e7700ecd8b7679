//! The CTAP client: drives any authenticator through a WebAuthn ceremony.
#![forbid(unsafe_code)]

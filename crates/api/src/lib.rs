//! The caller side of latchkeyd's D-Bus API, `dev.latchkey.Credentials1` (the contract is the
//! committed [`INTERFACE_XML`], `data/dev.latchkey.Credentials1.xml`): its names, the request
//! [`Kind`], the request handle a caller can predict ([`handle_path`]), the typed method
//! [`Error`], and [`client::CredentialsClient`] with its `Response` subscription.
//!
//! What every client links — the `latchkey` command, the native messaging host, the benchmark,
//! the test kit — and nothing more: no policy, no authenticator, no TLS, no sandbox.
#![forbid(unsafe_code)]

pub mod client;
pub mod error;
pub mod latchkeyd;
pub mod names;
pub mod request;
pub mod started;

pub use client::{CallOptions, ClientError, Closer, CredentialsClient, Outcome, Pending};
pub use error::Error;
pub use names::{API_VERSION, BUS_NAME, INTERFACE, INTERFACE_XML, OBJECT_PATH, REQUEST_INTERFACE};
pub use request::{
    handle_path, Kind, MAX_HANDLE_TOKEN, RESPONSE_CANCELLED, RESPONSE_ERROR, RESPONSE_SUCCESS,
};

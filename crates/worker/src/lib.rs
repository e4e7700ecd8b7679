//! The platform authenticator in a sandboxed child process (DESIGN.md "Processes": the platform
//! authenticator worker holds the credential store and the TPM, and may not use the network or
//! devices).
//!
//! latchkeyd starts `latchkey-platform-worker` (next to its own executable) with one end of a
//! `SOCK_SEQPACKET` socketpair as the child's standard input ([`link`]). The worker opens the
//! store, then applies its [`sandbox`] before reading any request, says `Ready`, and answers
//! typed CBOR messages ([`protocol`]) with the software authenticator ([`serve`]). The parent
//! starts it ([`process`]) and sees it as a [`WorkerDevice`]: a `latchkey_client::Device` and a
//! [`ManagedDevice`] that restarts the worker when it died. Both sides are blocking code on
//! threads: this crate links no async runtime, no D-Bus and no TLS.
#![forbid(unsafe_code)]

pub mod device;
mod fields;
pub mod link;
pub mod managed;
pub mod process;
pub mod protocol;
pub mod sandbox;
pub mod serve;

#[cfg(test)]
mod tests;

pub use device::WorkerDevice;
pub use managed::ManagedDevice;
pub use process::{WorkerConfig, WorkerError, STOPPED, WORKER_PROGRAM};

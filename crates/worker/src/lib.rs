//! The platform authenticator in a sandboxed child process (DESIGN.md "Processes": the platform
//! authenticator worker holds the credential store and the TPM, and may not use the network or
//! devices).
//!
//! latchkeyd starts `latchkey-platform-worker` (next to its own executable) with one end of a
//! `SOCK_SEQPACKET` socketpair as the child's standard input ([`link`]). The worker opens the
//! store, then applies its [`sandbox`] before reading any request, says `Ready` (with its
//! protocol version), and answers typed CBOR messages ([`protocol`], on `latchkey_ctap`'s
//! canonical CBOR) with the software authenticator ([`serve`]). The conversation's rules are a
//! sans-I/O client and server ([`session`]); the socket loops around them only move bytes. The
//! parent starts it ([`process`]) and sees it as a [`WorkerDevice`]: a `latchkey_client::Device`
//! and a [`ManagedDevice`] that restarts the worker when it died. Both sides are blocking code on
//! threads: this crate links no async runtime, no D-Bus and no TLS.
//!
//! The same pieces (link, CBOR messages, version in `Ready`, sandbox building blocks) serve the
//! security key worker, `latchkey-device-worker` ([`device_worker`]), which opens the keys that
//! [`keys`] finds so latchkeyd never does.
// One `unsafe` block, with its SAFETY comment: the device worker's `unshare`
// (`device_worker::namespace`), which rustix offers only as an unsafe function.
#![deny(unsafe_code)]

pub mod device;
pub mod device_worker;
pub mod keys;
pub mod link;
pub mod managed;
pub mod process;
pub mod protocol;
pub mod refusal;
pub mod sandbox;
pub mod serve;
pub mod session;

pub use device::WorkerDevice;
pub use managed::{ManageError, ManagedDevice};
pub use process::{WorkerConfig, WorkerError, STOPPED, WORKER_PROGRAM};
pub use refusal::Refusal;

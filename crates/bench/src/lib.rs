//! Latchkey's benchmark suite: how fast a ceremony is, against peer authenticators and against the
//! physical floor (the bare P-256 operations every assertion must do).
//!
//! `cargo bench -p latchkey-bench` prints one table; `-- --quick` runs the same code paths with
//! few iterations as a smoke test (and `cargo test -p latchkey-bench` runs that quick mode too).
//! The peers (1Password's `passkey-authenticator`, kanidm's `SoftPasskey`) are dev-dependencies
//! measured in `benches/ceremony/`; everything that measures Latchkey itself lives here:
//!
//! - [`stats`]: timing loops, medians and p99s.
//! - [`table`]: the one table, with ratios computed within the run.
//! - [`core`]: the authenticator core in process, driven through `handle_cbor` by a small CTAP
//!   client that gets one pinUvAuthToken per ceremony, as a real client does; the crypto floor.
//! - [`hid`]: the same ceremony through the client crate, in process and over CTAPHID to the
//!   virtual key on a Unix socket.
//! - [`scale`]: a file store of 10 to 10,000 credentials.
//! - [`tpm`]: a TPM-bound store against `swtpm` (feature `tpm`).
//! - [`daemon`]: latchkeyd on a private D-Bus; [`load`]: many callers at once through it;
//!   [`keys`]: ceremonies through it on a security key.
//! - [`ui`]: the graphical prompt under Xvfb: latchkeyd's `Consent` call to the dialog on screen.

pub mod core;
pub mod daemon;
pub mod error;
pub mod hid;
pub mod keys;
pub mod load;
pub mod prompt_time;
pub mod scale;
pub mod stats;
pub mod table;
pub mod tpm;
pub mod ui;

pub use error::BenchError;
pub use stats::{Budget, Samples};
pub use table::Table;

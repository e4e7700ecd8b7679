//! What can stop a benchmark row.

use latchkey_authenticator::store::StoreError;
use latchkey_ctap::StatusCode;

/// Why a row could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The authenticator answered a request with an error status.
    #[error("{command} answered {status:?}")]
    Status {
        /// The command sent.
        command: &'static str,
        /// Its status.
        status: StatusCode,
    },
    /// A response did not decode.
    #[error("{command}: undecodable response: {detail}")]
    Response {
        /// The command sent.
        command: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The credential store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A client ceremony failed.
    #[error("ceremony: {0}")]
    Ceremony(String),
    /// The PIN protocol failed on the client side.
    #[error("PIN protocol: {0}")]
    Pin(String),
    /// Setting up the row (files, sockets, processes) failed.
    #[error("{what}: {detail}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// A peer implementation failed.
    #[error("{peer}: {detail}")]
    Peer {
        /// The peer.
        peer: &'static str,
        /// Its error.
        detail: String,
    },
}

impl BenchError {
    /// A setup failure from any displayable error.
    pub fn setup(what: &'static str, e: impl std::fmt::Display) -> Self {
        BenchError::Setup {
            what,
            detail: e.to_string(),
        }
    }
}

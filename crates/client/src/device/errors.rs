//! Why a device did not answer: [`DeviceError`] and the typed causes inside it. Each keeps what
//! it is (the OS error, the CTAPHID error code, the kind of malformed answer, the process that
//! stopped) and words it for a person; only what another process or a reader reports in its own
//! words stays text.

use std::fmt;
use std::io;

use latchkey_ctap::hid::{ErrorCode, FrameError, HostError};
use latchkey_ctap::iso7816::{ApduError, StatusWord};
use latchkey_ctap::nfc::NfcError;

/// Why a device did not answer a request. The CTAP status byte of an answer that did come back is
/// not a `DeviceError`: see [`crate::ctap2::CtapError::Status`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The device went away (unplugged, socket closed, server stopped) or is not there at all
    /// (no such node or socket). Opening it again is pointless until something new appears.
    #[error("the authenticator is gone: {0}")]
    Gone(#[source] Gone),
    /// The device is there but cannot be opened yet: a hidraw node udev has not given the
    /// desktop user's ACL (permission denied), a socket bound but not yet listening (connection
    /// refused). Opening it a moment later may succeed; this is the one error worth retrying.
    #[error("the authenticator is not ready yet: {0}")]
    NotReady(#[source] Unreachable),
    /// An I/O error talking to the device.
    #[error("I/O error talking to the authenticator: {0}")]
    Io(#[from] io::Error),
    /// The device answered with bytes that are not a valid transport frame or message.
    #[error("the authenticator sent a malformed answer: {0}")]
    Garbage(#[source] Malformed),
    /// The transport reported an error (CTAPHID_ERROR, CTAP 2.1 §11.2.9.1.6; a status word over
    /// NFC) or cannot carry the request.
    #[error("the authenticator's transport reported an error: {0}")]
    Transport(#[source] TransportError),
    /// No answer in time.
    #[error("the authenticator did not answer in time")]
    Timeout,
    /// The request was cancelled through the device's [`super::CancelHandle`].
    #[error("the request was cancelled")]
    Cancelled,
    /// The device cannot carry this kind of message (e.g. a U2F APDU to a CTAP2-only device).
    #[error("the authenticator does not support {0}")]
    Unsupported(&'static str),
}

/// A device (a node, a socket, an address) the OS would not let us reach, and the OS's error.
#[derive(Debug, thiserror::Error)]
pub struct Unreachable {
    /// The device as the user named it (a path, `host:port`); empty when the open already said.
    pub device: String,
    /// What the OS said.
    #[source]
    pub error: io::Error,
}

impl Unreachable {
    /// `device` could not be reached: `error`.
    pub fn new(device: impl Into<String>, error: io::Error) -> Self {
        Self {
            device: device.into(),
            error,
        }
    }
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.device.is_empty() {
            write!(f, "{}", self.error)
        } else {
            write!(f, "{}: {}", self.device, self.error)
        }
    }
}

/// A process that serves devices to latchkeyd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Server {
    /// `latchkey-platform-worker`: the platform authenticator.
    PlatformWorker,
    /// `latchkey-device-worker`: the security keys.
    DeviceWorker,
}

impl Server {
    /// How a person is told it stopped.
    pub const fn stopped(self) -> &'static str {
        match self {
            Self::PlatformWorker => "the platform authenticator stopped",
            Self::DeviceWorker => "the security key worker stopped",
        }
    }

    /// What a person calls it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::PlatformWorker => "the platform authenticator",
            Self::DeviceWorker => "the security key worker",
        }
    }
}

/// Why a device is gone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Gone {
    /// Not there or went away, as the OS said: no such node or socket, a connection closed or
    /// reset.
    #[error(transparent)]
    Os(Unreachable),
    /// A virtual key's `host:port` names no address.
    #[error("{0}: no address")]
    NoAddress(String),
    /// The card left the reader's field, or the reader or the PC/SC service went away: the
    /// reader's own words.
    #[error("{0}")]
    Removed(String),
    /// The process that served it stopped.
    #[error("{}", .0.stopped())]
    Stopped(Server),
    /// The process that served it failed (`why`); latchkeyd keeps the cause.
    #[error("{} failed: {why}", server.name())]
    Failed {
        /// Which process.
        server: Server,
        /// What failed in it, for a person.
        why: &'static str,
    },
    /// Gone, in the words of the process that saw it (the device worker's reply).
    #[error("{0}")]
    Reported(String),
}

/// What was malformed about a device's answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// A CTAPHID answer that breaks the transaction or its framing (CTAP 2.1 §11.2.4).
    #[error(transparent)]
    Ctaphid(HostError),
    /// An answer that breaks CTAP over NFC (CTAP 2.1 §11.3).
    #[error(transparent)]
    Nfc(NfcError),
    /// A U2F response shorter than its status word (CTAP 2.1 §11.2.9.1.1).
    #[error("a U2F response shorter than its status word")]
    ShortU2f,
    /// A U2F key refused the registration that waits for its touch.
    #[error("the U2F key refused a registration")]
    U2fRefused,
    /// An empty answer: not even a status byte.
    #[error("an empty answer from the key")]
    Empty,
    /// A worker process broke its protocol (latchkeyd keeps the cause).
    #[error("{} broke its protocol", .0.name())]
    Protocol(Server),
    /// Malformed, in the words of the process that saw it (the device worker's reply).
    #[error("{0}")]
    Reported(String),
}

/// What the transport reported, or why it cannot carry the request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// CTAPHID_ERROR with this code (CTAP 2.1 §11.2.9.1.6).
    #[error("{0}")]
    Ctaphid(ErrorCode),
    /// The request cannot be framed as a CTAPHID message.
    #[error("the request cannot be framed: {0}")]
    Unframeable(FrameError),
    /// The card refused a request over NFC with a status word (CTAP 2.1 §11.3).
    #[error(transparent)]
    Nfc(NfcError),
    /// SELECT of the FIDO applet was refused: the card is not a FIDO authenticator.
    #[error("the card has no FIDO applet (SELECT answered status word {0})")]
    NotFido(StatusWord),
    /// The U2F request is not an APDU that can be sent.
    #[error("the U2F request cannot be sent: {0}")]
    BadApdu(ApduError),
    /// The reader or the PC/SC service failed: its own words.
    #[error("{0}")]
    Reader(String),
    /// The request cannot be encoded for the worker process that serves the device.
    #[error("cannot ask {}: the request cannot be encoded", .0.name())]
    Unencodable(Server),
    /// Reported in the words of the process that saw it (the device worker's reply).
    #[error("{0}")]
    Reported(String),
}

/// The kind of a [`DeviceError`], without its details: what whoever runs a ceremony needs to
/// decide whose fault it was ([`crate::error::Failure::Device`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceErrorKind {
    /// [`DeviceError::Gone`], the device itself (unplugged, closed, not there).
    Gone,
    /// [`DeviceError::Gone`] because the process serving the device ([`Server`], one of
    /// latchkeyd's own workers) stopped or failed ([`Gone::Stopped`], [`Gone::Failed`]): the
    /// system's fault, not the authenticator's.
    ServerStopped,
    /// [`DeviceError::NotReady`].
    NotReady,
    /// [`DeviceError::Io`].
    Io,
    /// [`DeviceError::Garbage`].
    Garbage,
    /// [`DeviceError::Transport`].
    Transport,
    /// [`DeviceError::Timeout`].
    Timeout,
    /// [`DeviceError::Cancelled`].
    Cancelled,
    /// [`DeviceError::Unsupported`].
    Unsupported,
}

impl DeviceError {
    /// Its kind.
    pub fn kind(&self) -> DeviceErrorKind {
        match self {
            Self::Gone(Gone::Stopped(_) | Gone::Failed { .. }) => DeviceErrorKind::ServerStopped,
            Self::Gone(_) => DeviceErrorKind::Gone,
            Self::NotReady(_) => DeviceErrorKind::NotReady,
            Self::Io(_) => DeviceErrorKind::Io,
            Self::Garbage(_) => DeviceErrorKind::Garbage,
            Self::Transport(_) => DeviceErrorKind::Transport,
            Self::Timeout => DeviceErrorKind::Timeout,
            Self::Cancelled => DeviceErrorKind::Cancelled,
            Self::Unsupported(_) => DeviceErrorKind::Unsupported,
        }
    }
}

#[cfg(test)]
mod tests;

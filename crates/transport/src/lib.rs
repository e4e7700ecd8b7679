//! CTAPHID transports: hidraw devices, Unix sockets and UDP.
//!
//! Drivers only: every protocol decision lives in the sans-I/O state machines of
//! [`latchkey_ctap::hid`]; the code here moves 64-byte reports between sockets and those cores.
//!
//! - [`connection`]: the host's view of a device, [`HidConnection`], over a Unix
//!   `SOCK_SEQPACKET` socket or UDP (hidraw joins later under the same trait).
//! - [`channel`]: [`CtapHidChannel`], a blocking CTAPHID channel (INIT, CBOR, MSG, PING, WINK)
//!   with keepalive reporting and cancellation.
//! - [`virtual_key`]: the device side: serves any [`virtual_key::CtapHidApp`] over UDP or a Unix
//!   socket, running it on a worker thread so the I/O loop keeps answering.

pub mod channel;
pub mod connection;
mod seqpacket;
pub mod virtual_key;

pub use channel::{ChannelError, CtapHidChannel, TransactOptions};
pub use connection::{HidConnection, UdpConnection, UnixConnection};
pub use seqpacket::{SeqpacketListener, SeqpacketStream};

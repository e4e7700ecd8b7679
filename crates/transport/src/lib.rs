//! Transports: CTAPHID over hidraw devices, Unix sockets and UDP; CTAP over NFC through PC/SC.
//!
//! Drivers only: every protocol decision lives in the sans-I/O state machines of
//! [`latchkey_ctap::hid`] and [`latchkey_ctap::nfc`]; the code here moves 64-byte reports and
//! APDUs between sockets, readers and those cores.
//!
//! - [`connection`]: the host's view of a device, [`HidConnection`], over a Unix
//!   `SOCK_SEQPACKET` socket or UDP (and hidraw, below).
//! - [`channel`]: [`CtapHidChannel`], a blocking CTAPHID channel (INIT, CBOR, MSG, PING, WINK)
//!   with keepalive reporting and cancellation.
//! - [`hidraw`]: [`HidrawConnection`], a USB security key's `/dev/hidrawN` node, and the HID
//!   report descriptor parser.
//! - [`discovery`]: which hidraw nodes are FIDO keys (from sysfs), and [`DeviceSpec`], the
//!   `--device` / config-file names of USB and virtual keys.
//! - [`hotplug`]: [`DeviceWatcher`], keys coming and going, from kernel uevents or inotify.
//! - [`nfc`]: [`NfcChannel`], CTAP over NFC (SELECT, NFCCTAP_MSG, chaining, status updates)
//!   over any [`nfc::ApduLink`].
//! - `pcsc` (feature `pcsc`, links libpcsclite): a card on a PC/SC reader as an `ApduLink`, the
//!   reader list, and a watcher for cards and readers coming and going.
//! - [`virtual_key`]: the device side: serves any [`virtual_key::CtapHidApp`] over UDP, a Unix
//!   socket, or as a contactless card in vsmartcard's vpcd, running it on a worker thread so the
//!   I/O loop keeps answering.

pub mod channel;
pub mod connection;
pub mod discovery;
pub mod hidraw;
pub mod hotplug;
pub mod nfc;
#[cfg(feature = "pcsc")]
pub mod pcsc;
mod seqpacket;
pub mod virtual_key;

pub use channel::{ChannelError, CtapHidChannel, TransactOptions};
pub use connection::{HidConnection, UdpConnection, UnixConnection};
pub use discovery::{enumerate, DeviceInfo, DeviceSpec, Roots, UnixConnector};
pub use hidraw::{is_device_gone, HidrawConnection};
pub use hotplug::{DeviceWatcher, WatchEvent};
pub use nfc::{ApduLink, LinkError, NfcChannel, NfcChannelError};
pub use seqpacket::{checked_seqpacket, SeqpacketListener, SeqpacketStream};

//! CTAPHID transports: hidraw devices, Unix sockets and UDP.
//!
//! Drivers only: every protocol decision lives in the sans-I/O state machines of
//! [`latchkey_ctap::hid`]; the code here moves 64-byte reports between sockets and those cores.
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
//! - [`virtual_key`]: the device side: serves any [`virtual_key::CtapHidApp`] over UDP or a Unix
//!   socket, running it on a worker thread so the I/O loop keeps answering.

pub mod channel;
pub mod connection;
pub mod discovery;
pub mod hidraw;
pub mod hotplug;
mod seqpacket;
pub mod virtual_key;

pub use channel::{ChannelError, CtapHidChannel, TransactOptions};
pub use connection::{HidConnection, UdpConnection, UnixConnection};
pub use discovery::{enumerate, DeviceInfo, DeviceSpec, Roots};
pub use hidraw::{is_device_gone, HidrawConnection};
pub use hotplug::{DeviceWatcher, WatchEvent};
pub use seqpacket::{SeqpacketListener, SeqpacketStream};

//! CTAPHID authenticators (CTAP 2.1 §11.2) through `latchkey-transport`'s host channel: virtual
//! keys over a Unix `SOCK_SEQPACKET` socket or UDP today, hidraw devices under the same trait.

use std::net::ToSocketAddrs;
use std::path::Path;

use latchkey_ctap::hid::{Capabilities, HostError};
use latchkey_transport::{
    ChannelError, CtapHidChannel, DeviceSpec, HidConnection, TransactOptions, UdpConnection,
    UnixConnection,
};

use crate::device::{
    CancelHandle, Device, DeviceDescription, DeviceError, Gone, KeepaliveStatus, Malformed,
    Transport, TransportError, Unreachable,
};

/// A CTAPHID device with an allocated channel.
pub struct HidDevice<C: HidConnection> {
    channel: CtapHidChannel<C>,
    cancel: CancelHandle,
    description: DeviceDescription,
}

impl<C: HidConnection> std::fmt::Debug for HidDevice<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HidDevice")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

fn device_error(e: ChannelError) -> DeviceError {
    use std::io::ErrorKind;
    match e {
        ChannelError::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::BrokenPipe
            | ErrorKind::NotFound
            | ErrorKind::UnexpectedEof => DeviceError::Gone(Gone::Os(Unreachable::new("", io))),
            _ => DeviceError::Io(io),
        },
        ChannelError::Timeout => DeviceError::Timeout,
        ChannelError::Protocol(HostError::Device(code)) => {
            DeviceError::Transport(TransportError::Ctaphid(code))
        }
        ChannelError::Protocol(other) => DeviceError::Garbage(Malformed::Ctaphid(other)),
        ChannelError::Frame(f) => DeviceError::Transport(TransportError::Unframeable(f)),
    }
}

/// What a failed CTAPHID_INIT means: a key that refuses it (a UDP key whose port has no
/// listener yet) is not ready; anything else as in a transaction.
fn open_error(e: ChannelError) -> DeviceError {
    match e {
        ChannelError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            DeviceError::NotReady(Unreachable::new("", io))
        }
        other => device_error(other),
    }
}

/// What a failed open of a node or socket means: not there ([`DeviceError::Gone`]), there but
/// not yet usable ([`DeviceError::NotReady`]: no ACL yet, not listening yet), or an I/O error.
fn connect_error(label: &str, e: std::io::Error) -> DeviceError {
    use std::io::ErrorKind;
    if latchkey_transport::is_device_gone(&e) || e.kind() == ErrorKind::NotFound {
        return DeviceError::Gone(Gone::Os(Unreachable::new(label, e)));
    }
    match e.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ConnectionRefused => {
            DeviceError::NotReady(Unreachable::new(label, e))
        }
        _ => DeviceError::Io(e),
    }
}

impl<C: HidConnection> HidDevice<C> {
    /// A transaction's result, the channel resynchronised first when it ended without a clean
    /// answer (no answer in time, or a garbled one): the key may still answer that request
    /// late, and an answer names no request, so the next request would take it for its own.
    /// CTAPHID_INIT on the channel makes the key drop whatever it had under way (CTAP 2.1
    /// §11.2.9.1.3).
    fn settled(&mut self, result: Result<Vec<u8>, ChannelError>) -> Result<Vec<u8>, DeviceError> {
        let unsettled = matches!(
            result,
            Err(ChannelError::Timeout | ChannelError::Frame(_))
                | Err(ChannelError::Protocol(
                    HostError::UnexpectedCommand(_) | HostError::Frame(_)
                ))
        );
        if unsettled {
            if let Err(e) = self.channel.resync() {
                tracing::debug!(error = %e, "the key did not resynchronise its channel");
            }
        }
        result.map_err(device_error)
    }

    /// Allocates a channel on `conn` (CTAPHID_INIT).
    pub fn open(
        conn: C,
        name: String,
        path: String,
        transport: Transport,
    ) -> Result<Self, DeviceError> {
        let channel = CtapHidChannel::open(conn).map_err(open_error)?;
        let cbor = channel.info().capabilities.has(Capabilities::CBOR);
        Ok(Self {
            channel,
            cancel: CancelHandle::new(),
            description: DeviceDescription {
                name,
                path,
                transport,
                cbor,
            },
        })
    }
}

/// Opens a virtual key listening on the Unix socket `path`.
pub fn open_unix(path: &Path) -> Result<HidDevice<UnixConnection>, DeviceError> {
    let conn =
        UnixConnection::connect(path).map_err(|e| connect_error(&path.display().to_string(), e))?;
    HidDevice::open(
        conn,
        format!("virtual key at {}", path.display()),
        format!("unix:{}", path.display()),
        Transport::Virtual,
    )
}

/// Opens a virtual key at the UDP address `addr` (`host:port`).
pub fn open_udp(addr: &str) -> Result<HidDevice<UdpConnection>, DeviceError> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| DeviceError::Gone(Gone::Os(Unreachable::new(addr, e))))?
        .next()
        .ok_or_else(|| DeviceError::Gone(Gone::NoAddress(addr.to_owned())))?;
    let conn = UdpConnection::connect(sock).map_err(DeviceError::Io)?;
    HidDevice::open(
        conn,
        format!("virtual key at udp:{addr}"),
        format!("udp:{addr}"),
        Transport::Virtual,
    )
}

/// Opens a device named `unix:PATH` or `udp:HOST:PORT`.
pub fn open_named(spec: &str) -> Result<Box<dyn Device>, DeviceError> {
    if let Some(path) = spec.strip_prefix("unix:") {
        Ok(Box::new(open_unix(Path::new(path))?))
    } else if let Some(addr) = spec.strip_prefix("udp:") {
        Ok(Box::new(open_udp(addr)?))
    } else {
        Err(DeviceError::Unsupported(
            "this device name: use unix:PATH or udp:HOST:PORT",
        ))
    }
}

impl<C: HidConnection> Device for HidDevice<C> {
    fn info(&self) -> DeviceDescription {
        self.description.clone()
    }

    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if !self.description.cbor {
            return Err(DeviceError::Unsupported("CTAP2 (CTAPHID_CBOR)"));
        }
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        let options = TransactOptions {
            on_keepalive: Some(status),
            cancel: Some(self.cancel.flag()),
            ..TransactOptions::default()
        };
        let result = self.channel.cbor(request, options);
        self.settled(result)
    }

    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        let options = TransactOptions {
            cancel: Some(self.cancel.flag()),
            ..TransactOptions::default()
        };
        let result = self.channel.msg(apdu, options);
        self.settled(result)
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }
}

pub use latchkey_transport::UnixConnector;

/// Opens the device a [`DeviceSpec`] names: a virtual key (reported as [`Transport::Virtual`])
/// or a USB key's hidraw node ([`Transport::Usb`]), both over CTAPHID, or the card on a PC/SC
/// reader ([`Transport::Nfc`], through [`crate::nfc`]).
pub fn open_spec(spec: &DeviceSpec, name: Option<&str>) -> Result<Box<dyn Device>, DeviceError> {
    open_spec_via(spec, name, None)
}

/// [`open_spec`], a `unix:` key reached through `unix` when there is one.
pub fn open_spec_via(
    spec: &DeviceSpec,
    name: Option<&str>,
    unix: Option<&dyn UnixConnector>,
) -> Result<Box<dyn Device>, DeviceError> {
    if let Some(reader) = spec.pcsc_reader() {
        return crate::nfc::open_reader(reader, name);
    }
    let label = spec.to_string();
    let conn = spec.open_via(unix).map_err(|e| connect_error(&label, e))?;
    let (transport, default_name) = if spec.is_usb() {
        (Transport::Usb, format!("security key at {label}"))
    } else {
        (Transport::Virtual, format!("virtual key at {label}"))
    };
    let name = name.map_or(default_name, str::to_owned);
    Ok(Box::new(HidDevice::open(conn, name, label, transport)?))
}

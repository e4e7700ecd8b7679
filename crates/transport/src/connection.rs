//! The host's side of a CTAPHID device: write a 64-byte report, read one with a timeout.
//!
//! Implemented over a Unix `SOCK_SEQPACKET` socket ([`UnixConnection`]) and UDP
//! ([`UdpConnection`], the convention of the Solo and Trezor simulators: one datagram is one
//! report). A hidraw device implements the same trait.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use latchkey_ctap::hid::{Report, REPORT_SIZE};

use crate::seqpacket::{is_timeout, SeqpacketStream};

/// A CTAPHID device as the host sees it.
pub trait HidConnection: Send {
    /// Writes one output report.
    fn send_report(&mut self, report: &Report) -> io::Result<()>;
    /// Reads one input report, waiting at most `timeout`; `Ok(None)` if none came.
    /// Reports of the wrong size are skipped.
    fn recv_report(&mut self, timeout: Duration) -> io::Result<Option<Report>>;
}

impl<C: HidConnection + ?Sized> HidConnection for Box<C> {
    fn send_report(&mut self, report: &Report) -> io::Result<()> {
        (**self).send_report(report)
    }
    fn recv_report(&mut self, timeout: Duration) -> io::Result<Option<Report>> {
        (**self).recv_report(timeout)
    }
}

/// Waits are at least this long: a zero timeout means "block forever" to the socket calls.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// A virtual device behind a Unix `SOCK_SEQPACKET` socket.
#[derive(Debug)]
pub struct UnixConnection {
    stream: SeqpacketStream,
}

impl UnixConnection {
    /// Connects to the device socket at `path`.
    pub fn connect(path: &Path) -> io::Result<Self> {
        Ok(Self {
            stream: SeqpacketStream::connect(path)?,
        })
    }

    /// A device socket connected elsewhere and passed in.
    pub fn from_stream(stream: SeqpacketStream) -> Self {
        Self { stream }
    }
}

impl HidConnection for UnixConnection {
    fn send_report(&mut self, report: &Report) -> io::Result<()> {
        self.stream.send(report)
    }

    fn recv_report(&mut self, timeout: Duration) -> io::Result<Option<Report>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left.max(MIN_WAIT)))?;
            let mut buf = [0u8; REPORT_SIZE + 1];
            match self.stream.recv(&mut buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "device closed the connection",
                    ))
                }
                Ok(REPORT_SIZE) => {
                    let mut report = [0u8; REPORT_SIZE];
                    report.copy_from_slice(&buf[..REPORT_SIZE]);
                    return Ok(Some(report));
                }
                Ok(_) => continue,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A virtual device listening on UDP.
#[derive(Debug)]
pub struct UdpConnection {
    socket: UdpSocket,
}

impl UdpConnection {
    /// Binds an ephemeral local port on the matching loopback address and connects it to
    /// `device`, so only the device's datagrams are received.
    pub fn connect(device: SocketAddr) -> io::Result<Self> {
        let local: SocketAddr = if device.is_ipv4() {
            ([127, 0, 0, 1], 0).into()
        } else {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(device)?;
        Ok(Self { socket })
    }
}

impl HidConnection for UdpConnection {
    fn send_report(&mut self, report: &Report) -> io::Result<()> {
        self.socket.send(report).map(|_| ())
    }

    fn recv_report(&mut self, timeout: Duration) -> io::Result<Option<Report>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left.max(MIN_WAIT)))?;
            let mut buf = [0u8; REPORT_SIZE + 1];
            match self.socket.recv(&mut buf) {
                Ok(REPORT_SIZE) => {
                    let mut report = [0u8; REPORT_SIZE];
                    report.copy_from_slice(&buf[..REPORT_SIZE]);
                    return Ok(Some(report));
                }
                Ok(_) => continue,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

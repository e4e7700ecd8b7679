//! Unix `SOCK_SEQPACKET` sockets: each `send` is one message, each `recv` returns exactly one,
//! so one 64-byte report is one message, as on a HID interrupt endpoint.

use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

/// A listening `SOCK_SEQPACKET` socket bound to a path; the path is removed on drop.
#[derive(Debug)]
pub struct SeqpacketListener {
    socket: Socket,
    path: PathBuf,
}

impl SeqpacketListener {
    /// Binds and listens at `path`. A stale socket file (one nobody accepts on) is removed
    /// first; a live one fails with `AddrInUse`, and a non-socket file with `AlreadyExists`.
    pub fn bind(path: &Path) -> io::Result<Self> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            if SeqpacketStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running server", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let socket = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        socket.listen(16)?;
        Ok(Self {
            socket,
            path: path.to_path_buf(),
        })
    }

    /// The path it is bound to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts a connection; with `nonblocking` set, `WouldBlock` means none is pending.
    pub fn accept(&self) -> io::Result<SeqpacketStream> {
        let (socket, _) = self.socket.accept()?;
        socket.set_nonblocking(false)?;
        Ok(SeqpacketStream { socket })
    }

    /// Makes [`SeqpacketListener::accept`] return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.socket.set_nonblocking(nonblocking)
    }
}

impl Drop for SeqpacketListener {
    fn drop(&mut self) {
        // Best effort: the file may already be gone.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `fd` as a socket, if it is a `SOCK_SEQPACKET` one (a descriptor inherited or passed in).
pub fn checked_seqpacket(fd: std::os::fd::OwnedFd) -> io::Result<Socket> {
    let socket = Socket::from(fd);
    if socket.r#type()? != Type::SEQPACKET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the descriptor is not a SOCK_SEQPACKET socket",
        ));
    }
    Ok(socket)
}

/// A connected `SOCK_SEQPACKET` socket.
#[derive(Debug)]
pub struct SeqpacketStream {
    socket: Socket,
}

impl SeqpacketStream {
    /// A socket connected elsewhere (by another process, passed in), which must be a
    /// `SOCK_SEQPACKET` socket.
    pub fn from_fd(fd: std::os::fd::OwnedFd) -> io::Result<Self> {
        Ok(Self {
            socket: checked_seqpacket(fd)?,
        })
    }

    /// Connects to a listener at `path`.
    pub fn connect(path: &Path) -> io::Result<Self> {
        let socket = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
        socket.connect(&SockAddr::unix(path)?)?;
        Ok(Self { socket })
    }

    /// Sends one message.
    pub fn send(&self, message: &[u8]) -> io::Result<()> {
        let n = (&self.socket).write(message)?;
        if n == message.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short seqpacket send",
            ))
        }
    }

    /// Receives one message into `buf` (a longer one is truncated); `Ok(0)` is end of stream.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.socket).read(buf)
    }

    /// Bounds how long [`SeqpacketStream::recv`] waits (`None`: forever); a timeout shows as
    /// `WouldBlock` or `TimedOut`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    /// Bounds how long [`SeqpacketStream::send`] may block on a peer that does not read.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_write_timeout(timeout)
    }

    /// Another handle to the same socket (for a writer next to a blocked reader).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            socket: self.socket.try_clone()?,
        })
    }

    /// Shuts both directions down, waking a reader blocked on another handle.
    pub fn shutdown(&self) -> io::Result<()> {
        self.socket.shutdown(std::net::Shutdown::Both)
    }
}

/// Whether an I/O error is a read timeout (the platform reports either kind).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

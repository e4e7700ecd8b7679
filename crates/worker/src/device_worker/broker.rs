//! latchkeyd connects the device worker's `unix:` virtual keys for it and passes the connected
//! socket in (`SCM_RIGHTS`): the worker's namespace holds none of the user's sockets
//! ([`super::namespace`]), so it cannot name a key's socket, nor the session bus that may lie
//! beside it, and a key whose socket appears or is made anew during a ceremony is still reached.
//!
//! The broker runs on a `SOCK_SEQPACKET` socketpair of its own, the worker's standard output
//! (standard input is the worker protocol's link; the worker writes nothing else there: its log
//! goes to standard error). A request is one message: a request number (4 bytes, little-endian)
//! and a socket path (at most [`MAX_PATH`] bytes). The answer is one message: `0` and the
//! request's number with the connected socket attached, or `1`, the number and the `errno`
//! (4 bytes each, little-endian) of the refusal or the failed connect. The worker takes only the
//! answer with its request's number: one that comes after its wait ended is dropped, its socket
//! closed. latchkeyd ([`serve`]) connects only the paths of the `unix:` keys it named in its recent
//! `Acquire`s ([`Allowed`]); any other is `EACCES`, so a worker taken over by a hostile key gets
//! no socket latchkeyd was not asked to use, and only as `SOCK_SEQPACKET` (a bus is a stream
//! socket: `EPROTOTYPE`), never making latchkeyd wait (a key whose backlog is full is `EAGAIN`).
//!
//! Written here rather than taken from a crate: it is a few lines on rustix's `sendmsg`/`recvmsg`
//! with their `SCM_RIGHTS` buffers, and its rules (which path, which socket type) are ours.

use std::ffi::OsStr;
use std::io::{self, IoSlice, IoSliceMut, Read as _, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use latchkey_client::hid::UnixConnector;
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use socket2::{Domain, SockAddr, Socket, Type};

/// The longest socket path asked for (the kernel's `sun_path` holds 108 bytes; a longer path
/// fails to connect anyway).
pub const MAX_PATH: usize = 4096;

/// The answer's first byte: connected, the socket attached.
const CONNECTED: u8 = 0;
/// The answer's first byte: refused or failed, the `errno` follows.
const FAILED: u8 = 1;

/// A request's number.
const ID: usize = 4;

/// The `unix:` key paths latchkeyd allows the worker to have connected.
pub type Allowed = Arc<Mutex<Vec<PathBuf>>>;

/// latchkeyd's side: answers the worker's requests on `socket` until the worker closes it.
pub fn serve(socket: &Socket, allowed: &Allowed) {
    let mut buf = vec![0u8; ID + MAX_PATH + 1];
    let mut refusals = Refusals::default();
    loop {
        // One message per read (a longer one is cut, and refused as too long).
        let n = match (&*socket).read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(error = %e, "the security key worker's broker socket failed");
                return;
            }
        };
        // A message too short for a number is answered under number 0.
        let (id, path) = buf[..n]
            .split_first_chunk::<ID>()
            .map_or(([0; ID], &[][..]), |(id, path)| (*id, path));
        let named = named(path, allowed);
        let answer = match &named {
            Ok(path) => connect(path),
            Err(errno) => {
                refusals.log(path, *errno);
                Err(io::Error::from_raw_os_error(*errno))
            }
        };
        let sent = match &answer {
            Ok(connected) => send(socket, &[&[CONNECTED][..], &id].concat(), Some(connected)),
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                let reply = [&[FAILED][..], &id, &errno.to_le_bytes()].concat();
                send(socket, &reply, None)
            }
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "cannot answer the security key worker's broker request");
            return;
        }
        if named.is_err() {
            // Answered at once; the worker's next request waits.
            std::thread::sleep(REFUSAL_PAUSE);
        }
    }
}

/// The path of the key latchkeyd named that the request `path` asks for, as latchkeyd named it
/// (not as the worker spelled it), or the `errno` it is refused with.
fn named(path: &[u8], allowed: &Allowed) -> Result<PathBuf, i32> {
    let errno = if path.is_empty() {
        libc::EINVAL
    } else if path.len() > MAX_PATH {
        libc::ENAMETOOLONG
    } else {
        let asked = Path::new(OsStr::from_bytes(path));
        let allowed = allowed.lock().unwrap_or_else(PoisonError::into_inner);
        match allowed.iter().find(|p| p.as_path() == asked) {
            Some(p) => return Ok(p.clone()),
            None => libc::EACCES,
        }
    };
    Err(errno)
}

/// The connected socket of the named key at `path`, or why not.
fn connect(path: &Path) -> io::Result<OwnedFd> {
    // Non-blocking: a key whose backlog is full (a worker taken over may fill it) answers
    // EAGAIN at once instead of holding this thread; the worker tries again at its next poll.
    let socket = Socket::new(Domain::UNIX, Type::SEQPACKET.cloexec().nonblocking(), None)?;
    socket.connect(&SockAddr::unix(path)?)?;
    socket.set_nonblocking(false)?;
    Ok(socket.into())
}

/// How long the broker pauses after answering a refused request, before it reads the next one.
const REFUSAL_PAUSE: Duration = Duration::from_millis(10);
/// At most one log line about refused requests per this long.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

/// The requests refused: a path no key names, none, or one too long. The worker's own client
/// sends none of the last two, and asks only for keys latchkeyd named (unless it still polls one
/// latchkeyd has since stopped naming), so these come from a worker taken over by a hostile
/// device. Each costs that worker a pause ([`REFUSAL_PAUSE`]: latchkeyd's thread does not spin
/// for it), and the log gets the first and then at most one line a minute
/// ([`REFUSAL_LOG_EVERY`]) with the count refused in between (the journal is not flooded).
#[derive(Debug, Default)]
struct Refusals {
    /// When the last line was logged.
    logged: Option<Instant>,
    /// Refused since without a line.
    unlogged: u64,
}

impl Refusals {
    /// Notes one refusal at `now`: whether it gets a log line, with how many went unlogged
    /// before it.
    fn note(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .logged
            .is_none_or(|t| now.duration_since(t) >= REFUSAL_LOG_EVERY);
        if due {
            self.logged = Some(now);
            Some(std::mem::take(&mut self.unlogged))
        } else {
            self.unlogged += 1;
            None
        }
    }

    /// Logs the refused request `path`, if a line is due.
    fn log(&mut self, path: &[u8], errno: i32) {
        if let Some(unlogged) = self.note(Instant::now()) {
            // Debug-formatted and cut: the worker chose these bytes.
            let shown = Path::new(OsStr::from_bytes(&path[..path.len().min(256)]));
            tracing::warn!(path = ?shown, error = %io::Error::from_raw_os_error(errno), unlogged, "the security key worker asked for a socket no key names, or sent a malformed request; refused (`unlogged`: refused since the last such line)");
        }
    }
}

fn send(socket: &Socket, bytes: &[u8], fd: Option<&OwnedFd>) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(fd) = fd {
        fds = [fd.as_fd()];
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other("no room for the descriptor"));
        }
    }
    sendmsg(
        socket,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// How long the worker waits for the broker's answer; latchkeyd answers at once (its connect
/// does not block).
const ANSWER_LIMIT: Duration = Duration::from_secs(5);

/// The worker's side: asks latchkeyd for each `unix:` key's connected socket.
#[derive(Debug)]
pub struct BrokerClient {
    /// The socket and the next request's number; one request at a time.
    socket: Mutex<(Socket, u32)>,
}

impl BrokerClient {
    /// The worker's end of the broker socketpair, when standard output is one (a duplicate).
    /// `None` when the worker was started without it (by hand): `unix:` keys are then connected
    /// in place, which its namespace may not allow.
    pub fn from_stdout() -> Option<Self> {
        let fd = io::stdout().as_fd().try_clone_to_owned().ok()?;
        let socket = latchkey_transport::checked_seqpacket(fd).ok()?;
        socket.set_read_timeout(Some(ANSWER_LIMIT)).ok()?;
        Some(Self::from_socket(socket))
    }

    /// Wraps one end of a socketpair.
    pub fn from_socket(socket: Socket) -> Self {
        Self {
            socket: Mutex::new((socket, 1)),
        }
    }
}

impl UnixConnector for BrokerClient {
    fn connect(&self, path: &Path) -> io::Result<OwnedFd> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.len() > MAX_PATH {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        if bytes.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let mut guard = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        let (socket, next) = &mut *guard;
        let id = *next;
        *next = next.wrapping_add(1);
        let mut writer = &*socket;
        writer.write_all(&[&id.to_le_bytes()[..], bytes].concat())?;
        loop {
            match Self::receive(socket)? {
                (answered, answer) if answered == id => return answer,
                // The answer to a request whose wait ended: its socket closes as it drops.
                (stale, _) => tracing::debug!(stale, "a late broker answer dropped"),
            }
        }
    }
}

impl BrokerClient {
    /// One answer: its request's number and what it says. `Err` when none came whole (within
    /// the socket's timeout).
    fn receive(socket: &Socket) -> io::Result<(u32, io::Result<OwnedFd>)> {
        let mut reply = [0u8; 1 + ID + 4];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            socket,
            &mut [IoSliceMut::new(&mut reply)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        let mut received: Option<OwnedFd> = None;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = message {
                for fd in fds {
                    // One is expected; any other is closed as it drops.
                    if received.is_none() {
                        received = Some(fd);
                    }
                }
            }
        }
        let id = u32::from_le_bytes([reply[1], reply[2], reply[3], reply[4]]);
        match (got.bytes, reply[0], received) {
            (0, _, _) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "latchkeyd closed the broker socket",
            )),
            (5, CONNECTED, Some(fd)) => Ok((id, Ok(fd))),
            (9, FAILED, None) => {
                let errno = i32::from_le_bytes([reply[5], reply[6], reply[7], reply[8]]);
                Ok((id, Err(io::Error::from_raw_os_error(errno))))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a malformed answer from the broker",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn broker(allowed: Vec<PathBuf>) -> (BrokerClient, std::thread::JoinHandle<()>) {
        let (ours, theirs) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None).unwrap();
        // A broker that never answers fails the test instead of hanging it.
        theirs
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let allowed: Allowed = Arc::new(Mutex::new(allowed));
        let server = std::thread::spawn(move || serve(&ours, &allowed));
        (BrokerClient::from_socket(theirs), server)
    }

    /// A key's listening `SOCK_SEQPACKET` socket at `key.sock` in `dir`, with `backlog`.
    fn key_listener(dir: &Path, backlog: i32) -> (PathBuf, Socket) {
        let key = dir.join("key.sock");
        let listener = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
        listener.bind(&SockAddr::unix(&key).unwrap()).unwrap();
        listener.listen(backlog).unwrap();
        (key, listener)
    }

    #[test]
    fn only_a_named_keys_socket_is_connected_and_only_as_seqpacket() {
        let dir = tempfile::tempdir().unwrap();
        let (key, key_listener) = key_listener(dir.path(), 4);
        // A stream socket beside it, as the session bus is, and a stream socket named as a key.
        let bus = dir.path().join("bus");
        let _bus = UnixListener::bind(&bus).unwrap();
        let stream_key = dir.path().join("stream.sock");
        let _stream_key = UnixListener::bind(&stream_key).unwrap();
        let (client, server) = broker(vec![key.clone(), stream_key.clone()]);

        let fd = client.connect(&key).unwrap();
        let connected = Socket::from(fd);
        assert_eq!(connected.r#type().unwrap(), Type::SEQPACKET);
        let (accepted, _) = key_listener.accept().unwrap();
        (&connected).write_all(b"report").unwrap();
        let mut got = [0u8; 16];
        assert_eq!((&accepted).read(&mut got).unwrap(), 6);

        let refused = client.connect(&bus).unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EACCES), "{refused}");
        let wrong_type = client.connect(&stream_key).unwrap_err();
        assert_eq!(
            wrong_type.raw_os_error(),
            Some(libc::EPROTOTYPE),
            "{wrong_type}"
        );
        let missing = client.connect(&dir.path().join("gone.sock")).unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(libc::EACCES), "{missing}");
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn refusals_are_logged_first_then_once_a_minute_with_the_count_between() {
        let mut refusals = Refusals::default();
        let start = Instant::now();
        assert_eq!(refusals.note(start), Some(0));
        for s in 1..=5 {
            assert_eq!(refusals.note(start + Duration::from_secs(s)), None);
        }
        assert_eq!(refusals.note(start + REFUSAL_LOG_EVERY), Some(5));
        assert_eq!(refusals.note(start + REFUSAL_LOG_EVERY), None);
        assert_eq!(refusals.note(start + REFUSAL_LOG_EVERY * 2), Some(1));
    }

    /// A log line's writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Log {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_worker_asking_for_sockets_no_key_names_is_paused_and_logged_once() {
        let dir = tempfile::tempdir().unwrap();
        let (key, key_listener) = key_listener(dir.path(), 4);
        let (ours, theirs) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None).unwrap();
        theirs
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let allowed: Allowed = Arc::new(Mutex::new(vec![key.clone()]));
        let log = Log::default();
        let writer = log.clone();
        let server = std::thread::spawn(move || {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::with_default(subscriber, || serve(&ours, &allowed));
        });
        let client = BrokerClient::from_socket(theirs);

        const ASKED: u32 = 20;
        let start = Instant::now();
        for i in 0..ASKED {
            let bus = dir.path().join(format!("bus{i}"));
            let refused = client.connect(&bus).unwrap_err();
            assert_eq!(refused.raw_os_error(), Some(libc::EACCES), "{refused}");
        }
        // Each refusal paused the broker before it read the next request (the last one's pause
        // ends before the named key's request below is answered).
        let named = client.connect(&key);
        assert!(
            start.elapsed() >= Duration::from_millis(10) * ASKED,
            "{:?}",
            start.elapsed()
        );
        // The named key is still served.
        let connected = Socket::from(named.unwrap());
        let (_accepted, _) = key_listener.accept().unwrap();
        assert_eq!(connected.r#type().unwrap(), Type::SEQPACKET);
        drop(client);
        server.join().unwrap();

        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("no key names")).collect();
        assert_eq!(lines.len(), 1, "{log}");
        assert!(
            lines[0].contains("bus0") && lines[0].contains("unlogged=0"),
            "{log}"
        );
    }

    #[test]
    fn a_late_answer_is_not_taken_for_the_next_request() {
        // The test plays latchkeyd: an answer to an earlier request whose wait ended (a refusal,
        // number 99) is still queued when the next request's answer (a socket) comes.
        let (ours, theirs) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None).unwrap();
        let client = BrokerClient::from_socket(theirs);
        let stale = [
            &[FAILED][..],
            &99u32.to_le_bytes(),
            &libc::EACCES.to_le_bytes(),
        ]
        .concat();
        send(&ours, &stale, None).unwrap();
        let latchkeyd = std::thread::spawn(move || {
            let mut request = [0u8; 64];
            let n = (&ours).read(&mut request).unwrap();
            let (id, path) = request[..n].split_first_chunk::<ID>().unwrap();
            assert_eq!(path, b"/k");
            let (key, _peer) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None).unwrap();
            let key: OwnedFd = key.into();
            send(&ours, &[&[CONNECTED][..], id].concat(), Some(&key)).unwrap();
            _peer
        });
        let fd = client.connect(Path::new("/k")).unwrap();
        assert_eq!(Socket::from(fd).r#type().unwrap(), Type::SEQPACKET);
        latchkeyd.join().unwrap();
    }

    #[test]
    fn a_key_whose_backlog_is_full_is_refused_at_once_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let (key, listener) = key_listener(dir.path(), 0);
        // Connections never accepted, until the backlog refuses more.
        let mut pending = Vec::new();
        loop {
            let s = Socket::new(Domain::UNIX, Type::SEQPACKET.nonblocking(), None).unwrap();
            match s.connect(&SockAddr::unix(&key).unwrap()) {
                Ok(()) => pending.push(s),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
                    break;
                }
            }
            assert!(pending.len() < 1000);
        }
        let (client, server) = broker(vec![key.clone()]);
        let full = client.connect(&key).unwrap_err();
        assert_eq!(full.raw_os_error(), Some(libc::EAGAIN), "{full}");
        // Once one is accepted, the key is reached again.
        let _accepted = listener.accept().unwrap();
        assert!(client.connect(&key).is_ok());
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn a_request_too_long_or_malformed_is_refused_and_the_broker_serves_on() {
        let dir = tempfile::tempdir().unwrap();
        let (client, server) = broker(vec![dir.path().join("k")]);
        let long = PathBuf::from("/".repeat(MAX_PATH + 1));
        assert_eq!(
            client.connect(&long).unwrap_err().raw_os_error(),
            Some(libc::ENAMETOOLONG)
        );
        assert_eq!(
            client.connect(Path::new("")).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        // Sent raw, past the client's own checks: too long, and no path at all.
        let guard = client.socket.lock().unwrap();
        let raw = &guard.0;
        let mut reply = [0u8; 16];
        (&*raw)
            .write_all(&[&7u32.to_le_bytes()[..], &vec![b'/'; MAX_PATH + 1]].concat())
            .unwrap();
        assert_eq!((&*raw).read(&mut reply).unwrap(), 9);
        assert_eq!(
            reply[..9],
            [FAILED, 7, 0, 0, 0, libc::ENAMETOOLONG as u8, 0, 0, 0]
        );
        (&*raw).write_all(&8u32.to_le_bytes()).unwrap();
        assert_eq!((&*raw).read(&mut reply).unwrap(), 9);
        assert_eq!(
            reply[..9],
            [FAILED, 8, 0, 0, 0, libc::EINVAL as u8, 0, 0, 0]
        );
        (&*raw).write_all(&[1, 2]).unwrap();
        assert_eq!((&*raw).read(&mut reply).unwrap(), 9);
        assert_eq!(
            reply[..9],
            [FAILED, 0, 0, 0, 0, libc::EINVAL as u8, 0, 0, 0]
        );
        drop(guard);
        let named = client.connect(&dir.path().join("k")).unwrap_err();
        assert_eq!(named.raw_os_error(), Some(libc::ENOENT), "{named}");
        drop(client);
        server.join().unwrap();
    }
}

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};

use zbus::message::Message;

use super::*;
use crate::identity::identify_pinned;

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

fn name(n: &str) -> OwnedUniqueName {
    OwnedUniqueName::try_from(n).unwrap()
}

/// What `PeerSocket::credentials` reports, without a connection (it reads none).
fn reported(peer: &PeerSocket) -> PeerCredentials {
    let pidfd = peer.pidfd.try_clone().unwrap();
    PeerCredentials {
        pid: Some(peer.pid),
        pidfd: Some(pidfd),
        uid: Some(peer.uid),
    }
}

#[test]
fn the_peer_of_a_socket_pair_is_this_process_as_the_kernel_reads_it() {
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let peer = PeerSocket::of(&ours, name(":p2p.caller")).unwrap();
    assert_eq!(peer.pid, std::process::id());
    assert_eq!(peer.uid, uid());
    let (id, _pidfd) = identify_pinned(reported(&peer), uid()).unwrap();
    assert_eq!(id.pid, std::process::id());
    let exe = std::env::current_exe().unwrap();
    assert_eq!(id.executable.as_deref(), Some(exe.as_path()));
    assert!(id.executable_is(&exe));
}

#[test]
fn the_peer_of_an_accepted_connection_is_the_process_that_connected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkeyd.socket");
    let listener = UnixListener::bind(&path).unwrap();
    // Another program connects and waits for a byte that never comes (it exits at EOF).
    let python = Path::new("/usr/bin/python3");
    let mut child = Command::new(python)
        .arg("-c")
        .arg(
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
             s.sendall(b'x')\ns.recv(1)",
        )
        .arg(&path)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (mut accepted, _) = listener.accept().unwrap();
    let mut byte = [0u8; 1];
    accepted.read_exact(&mut byte).unwrap();
    let peer = PeerSocket::of(&accepted, name(":p2p.caller")).unwrap();
    assert_eq!(peer.uid, uid());
    let (id, _pidfd) = identify_pinned(reported(&peer), uid()).unwrap();
    drop(accepted);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(id.pid, child.id());
    assert_ne!(id.pid, std::process::id());
    assert_eq!(id.ppid, std::process::id());
    let python = std::fs::canonicalize(python).unwrap();
    assert_eq!(id.executable.as_deref(), Some(python.as_path()));
}

#[test]
fn a_message_goes_by_the_peer_s_name_and_may_not_claim_another() {
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let peer = PeerSocket::of(&ours, name(":p2p.caller")).unwrap();
    let call = |sender: Option<&str>| {
        let mut b = Message::method_call("/dev/latchkey/Credentials", "Version").unwrap();
        if let Some(s) = sender {
            b = b.sender(s).unwrap();
        }
        b.build(&()).unwrap()
    };
    let unnamed = call(None);
    assert_eq!(peer.sender(&unnamed.header()).unwrap(), name(":p2p.caller"));
    let own = call(Some(":p2p.caller"));
    assert_eq!(peer.sender(&own.header()).unwrap(), name(":p2p.caller"));
    let other = call(Some(":1.42"));
    match peer.sender(&other.header()) {
        Err(Error::CallerRefused(m)) => assert_eq!(m, "the peer claims to be :1.42"),
        r => panic!("{r:?}"),
    }
    match peer.is_the_peer(&UniqueName::try_from(":1.42").unwrap()) {
        Err(Error::CallerRefused(m)) => assert_eq!(m, ":1.42 is not this connection's peer"),
        r => panic!("{r:?}"),
    }
}

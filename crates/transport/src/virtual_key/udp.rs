//! UDP listener: one datagram is one report; answers go to the channel's peer address.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use super::engine::{Engine, Input};
use super::{worker, CtapHidApp, VirtualKey};
use crate::seqpacket::is_timeout;

/// How often a blocked reader looks at the shutdown flag.
const READ_POLL: Duration = Duration::from_millis(50);

pub(super) fn serve<A: CtapHidApp>(
    key: VirtualKey<A>,
    socket: UdpSocket,
    shutdown: Arc<AtomicBool>,
) -> io::Result<()> {
    let (input_tx, input_rx) = mpsc::channel::<Input<SocketAddr>>();
    let (jobs, app_thread) = worker::spawn(key.app, key.signals.clone(), input_tx.clone())?;

    let reader_socket = socket.try_clone()?;
    reader_socket.set_read_timeout(Some(READ_POLL))?;
    let reader_shutdown = Arc::clone(&shutdown);
    let reader = thread::Builder::new()
        .name("virtual-key-udp".into())
        .spawn(move || {
            // One byte more than a report so that an oversized datagram is seen as such.
            let mut buf = [0u8; 2048];
            while !reader_shutdown.load(Ordering::SeqCst) {
                match reader_socket.recv_from(&mut buf) {
                    Ok((n, peer)) => {
                        if input_tx
                            .send(Input::Report(peer, buf[..n].to_vec()))
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) if is_timeout(&e) => {}
                    // ICMP "port unreachable" from a peer that went away shows up here.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                    Err(_) => break,
                }
            }
        })?;

    let engine = Engine::new(key.config, key.signals, jobs);
    engine.run(
        &input_rx,
        |peer, report| {
            // A vanished peer is not the device's problem: UDP has no connection to fail.
            let _ = socket.send_to(report, peer);
        },
        &shutdown,
    );
    shutdown.store(true, Ordering::SeqCst);
    let _ = reader.join();
    super::unix::join_briefly(app_thread);
    Ok(())
}

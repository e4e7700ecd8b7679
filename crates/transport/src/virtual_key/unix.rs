//! Unix `SOCK_SEQPACKET` listener: each connection is a host that opened the device; all of
//! them share the one device state, like several processes opening one hidraw node.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::engine::{Engine, Input};
use super::{worker, CtapHidApp, VirtualKey};
use crate::seqpacket::{is_timeout, SeqpacketListener, SeqpacketStream};

/// How often blocked accept/read calls look at the shutdown flag.
const POLL: Duration = Duration::from_millis(50);
/// How long a stuck host may block the device's writes before it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the server waits for the application to finish at shutdown.
const APP_GRACE: Duration = Duration::from_secs(2);

type Writers = Arc<Mutex<HashMap<u64, SeqpacketStream>>>;

pub(super) fn serve<A: CtapHidApp>(
    key: VirtualKey<A>,
    listener: SeqpacketListener,
    shutdown: Arc<AtomicBool>,
) -> io::Result<()> {
    let (input_tx, input_rx) = mpsc::channel::<Input<u64>>();
    let (jobs, app_thread) = worker::spawn(key.app, key.signals.clone(), input_tx.clone())?;
    let writers: Writers = Arc::default();

    listener.set_nonblocking(true)?;
    let accept_writers = Arc::clone(&writers);
    let accept_shutdown = Arc::clone(&shutdown);
    let acceptor = thread::Builder::new()
        .name("virtual-key-accept".into())
        .spawn(move || accept_loop(&listener, &accept_writers, &input_tx, &accept_shutdown))?;

    let engine = Engine::new(key.config, key.signals, jobs);
    engine.run(
        &input_rx,
        |peer, report| {
            let mut map = writers.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(stream) = map.get(peer) {
                if stream.send(report).is_err() {
                    // The host stopped reading or left: forget it, its reader sees the end.
                    let _ = stream.shutdown();
                    map.remove(peer);
                }
            }
        },
        &shutdown,
    );
    shutdown.store(true, Ordering::SeqCst);
    for stream in writers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
    {
        let _ = stream.shutdown();
    }
    // The acceptor owns the listener; joining it removes the socket file.
    let _ = acceptor.join();
    join_briefly(app_thread);
    Ok(())
}

fn accept_loop(
    listener: &SeqpacketListener,
    writers: &Writers,
    inputs: &mpsc::Sender<Input<u64>>,
    shutdown: &Arc<AtomicBool>,
) {
    let mut next_id = 0u64;
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    while !shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok(stream) => {
                next_id += 1;
                let id = next_id;
                let Ok(writer) = stream.try_clone() else {
                    continue;
                };
                if writer.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
                    continue;
                }
                writers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id, writer);
                let inputs = inputs.clone();
                let shutdown = Arc::clone(shutdown);
                let conn_writers = Arc::clone(writers);
                let spawned = thread::Builder::new()
                    .name(format!("virtual-key-conn-{id}"))
                    .spawn(move || {
                        read_loop(&stream, id, &inputs, &shutdown);
                        conn_writers
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&id);
                    });
                match spawned {
                    Ok(handle) => readers.push(handle),
                    Err(_) => {
                        writers
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&id);
                    }
                }
                readers.retain(|h| !h.is_finished());
            }
            Err(e) if is_timeout(&e) => thread::sleep(POLL / 5),
            Err(_) => thread::sleep(POLL),
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
}

fn read_loop(
    stream: &SeqpacketStream,
    id: u64,
    inputs: &mpsc::Sender<Input<u64>>,
    shutdown: &AtomicBool,
) {
    if stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let mut buf = [0u8; 2048];
    while !shutdown.load(Ordering::SeqCst) {
        match stream.recv(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if inputs.send(Input::Report(id, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    let _ = inputs.send(Input::Gone(id));
}

/// Waits up to [`APP_GRACE`] for the application thread; an application that ignores
/// cancellation is left behind rather than hanging the shutdown.
pub(super) fn join_briefly(handle: JoinHandle<()>) {
    let deadline = Instant::now() + APP_GRACE;
    while !handle.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    if handle.is_finished() {
        let _ = handle.join();
    }
}

//! Arbitrary bytes through the platform worker's protocol (latchkeyd ↔
//! `latchkey-platform-worker`, `crates/worker/src/protocol.rs` on `latchkey_ctap`'s canonical
//! CBOR), both directions: the worker reads requests from latchkeyd, latchkeyd reads replies
//! from a worker that may have been compromised.
//!
//! Properties: no panic; no allocation beyond what the input bounds (libFuzzer's
//! `-rss_limit_mb` and `-malloc_limit_mb` catch that); a message longer than the limit is
//! refused as too large; a decoded message has exactly one encoding, the input itself (the
//! reader accepts canonical CBOR only and the message tables refuse unknown keys). Then the
//! input, cut at each 0xff byte into messages, goes through both sans-I/O sessions: the
//! worker's server (after each `Run` the request is started and finished, as the executor
//! would) and latchkeyd's client (with a request under way), which must refuse or accept each
//! message without panicking, and whose replies the server gives must decode.
#![no_main]

use latchkey_worker::protocol::{
    Message, ProtocolError, Reply, Request, MAX_MESSAGE,
};
use latchkey_worker::session::client::Client;
use latchkey_worker::session::server::{Action, Server};
use latchkey_worker::session::Outcome;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = Message::<Request>::decode(data);
    let reply = Message::<Reply>::decode(data);
    if data.len() > MAX_MESSAGE {
        let too_large = ProtocolError::TooLarge {
            len: data.len(),
            max: MAX_MESSAGE,
        };
        assert!(matches!(request, Err(ref m) if m.error == too_large));
        assert!(matches!(reply, Err(ref m) if m.error == too_large));
        return;
    }
    if let Ok(message) = request {
        assert_eq!(message.encode().as_deref(), Ok(data), "one encoding per request");
    }
    if let Ok(message) = reply {
        assert_eq!(message.encode().as_deref(), Ok(data), "one encoding per reply");
    }

    let mut server = Server::new();
    let mut client = Client::new();
    let mut started = false;
    for (i, part) in data.split(|b| *b == 0xff).enumerate() {
        let replies = match server.receive(part) {
            Action::Run(seq, _) => match server.start(seq) {
                Ok(()) => server.finish(seq, Ok(Outcome::Ctap(vec![0]))),
                Err(cancelled) => vec![cancelled],
            },
            Action::Send(bytes) => vec![bytes],
            Action::CancelRunning | Action::Nothing => Vec::new(),
        };
        for bytes in replies {
            assert!(bytes.len() <= MAX_MESSAGE);
            assert!(Message::<Reply>::decode(&bytes).is_ok(), "the server's replies decode");
        }
        if i == 0 {
            let _ = client.ready(part);
            continue;
        }
        if !started || !client.waiting() {
            started = true;
            let _ = client.start(&Request::Ctap {
                command: vec![0x04],
            });
        }
        let _ = client.receive(part);
        if part.first() == Some(&0) {
            let _ = client.cancel();
        }
    }
});

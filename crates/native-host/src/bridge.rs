//! The host's loop: frames from the browser become latchkeyd calls, `Response` signals become
//! frames back. Requests run concurrently, keyed by the extension's request number; `cancel`
//! calls the request object's `Close()` and answers `AbortError` (latchkeyd sends no `Response`
//! after `Close()`).
//!
//! Threads: one blocking reader (stdin → channel), one blocking writer (channel → stdout), and
//! tokio tasks per request in between. When the browser closes the port (stdin ends), every
//! request in flight is closed and the host exits.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use latchkey_api::{CallOptions, ClientError, CredentialsClient, Kind};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::framing::{self, FrameError};
use crate::message::{self, Ceremony, Request, RequestId};

/// Most requests in flight at once (a page rarely has more than one).
pub const MAX_IN_FLIGHT: usize = 16;

/// Why the loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The browser sent a frame we cannot read; the stream is out of sync.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

type InFlight = Arc<Mutex<HashMap<RequestId, oneshot::Sender<()>>>>;

/// Serves requests from `input` to `client` (`None`: latchkeyd is unreachable, every request
/// fails with `unavailable`'s message) until `input` ends.
pub async fn serve<R, W>(
    input: R,
    output: W,
    client: Result<CredentialsClient, String>,
) -> Result<(), BridgeError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let (in_tx, mut in_rx) = mpsc::channel::<Result<Option<Vec<u8>>, FrameError>>(4);
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            let frame = framing::read_frame(&mut input);
            // An oversized message was skipped: the stream is still in step.
            let stop = !matches!(frame, Ok(Some(_)) | Err(FrameError::TooLarge { .. }));
            if in_tx.blocking_send(frame).is_err() || stop {
                break;
            }
        }
    });
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Value>();
    let writer = std::thread::spawn(move || {
        let mut output = output;
        while let Some(v) = out_rx.blocking_recv() {
            let bytes = serde_json::to_vec(&v).unwrap_or_default();
            let bytes = if bytes.len() > framing::MAX_OUTGOING {
                let id = v.get("id").and_then(Value::as_u64).map(RequestId);
                let e = message::error_reply(id, "UnknownError", "the response is too large");
                serde_json::to_vec(&e).unwrap_or_default()
            } else {
                bytes
            };
            if framing::write_frame(&mut output, &bytes).is_err() {
                break;
            }
        }
    });

    let in_flight: InFlight = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let result = loop {
        let frame = match in_rx.recv().await {
            Some(Ok(Some(frame))) => frame,
            Some(Ok(None)) | None => break Ok(()),
            // Its id is in the part we did not keep: the reply has none, and the extension
            // (which refuses such requests itself) drops it rather than failing every request.
            Some(Err(e @ FrameError::TooLarge { .. })) => {
                let _ = out_tx.send(message::error_reply(None, "TypeError", &e.to_string()));
                continue;
            }
            Some(Err(e)) => {
                let _ = out_tx.send(message::error_reply(None, "UnknownError", &e.to_string()));
                break Err(BridgeError::Frame(e));
            }
        };
        let request = match message::parse_request(&frame) {
            Ok(r) => r,
            Err(reply) => {
                let _ = out_tx.send(reply);
                continue;
            }
        };
        let client = match &client {
            Ok(c) => c.clone(),
            Err(why) => {
                if !matches!(request, Request::Cancel { .. }) {
                    let _ = out_tx.send(message::error_reply(
                        Some(request.id()),
                        "NotSupportedError",
                        &format!("latchkeyd is unavailable: {why}"),
                    ));
                }
                continue;
            }
        };
        match request {
            Request::Cancel { id } => {
                let cancel = lock(&in_flight).remove(&id);
                if let Some(cancel) = cancel {
                    let _ = cancel.send(());
                }
            }
            Request::GetClientCapabilities { id } => {
                let out = out_tx.clone();
                tasks.spawn(async move {
                    let reply = match client.proxy().get_client_capabilities().await {
                        Ok(caps) => message::capabilities_reply(id, caps),
                        Err(e) => dbus_error_reply(id, e.into()),
                    };
                    let _ = out.send(reply);
                });
            }
            Request::Create(c) => start(&mut tasks, &in_flight, &out_tx, client, Kind::Create, c),
            Request::Get(c) => start(&mut tasks, &in_flight, &out_tx, client, Kind::Get, c),
        }
        while tasks.try_join_next().is_some() {}
    };
    // The browser is gone: close whatever is still running, then let the writer drain.
    let pending: Vec<_> = lock(&in_flight).drain().collect();
    for (_, cancel) in pending {
        let _ = cancel.send(());
    }
    while tasks.join_next().await.is_some() {}
    drop(out_tx);
    let _ = writer.join();
    result
}

fn lock(m: &InFlight) -> std::sync::MutexGuard<'_, HashMap<RequestId, oneshot::Sender<()>>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn dbus_error_reply(id: RequestId, e: ClientError) -> Value {
    let e = e.webauthn_error();
    message::error_reply(Some(id), e.name(), e.message())
}

fn start(
    tasks: &mut tokio::task::JoinSet<()>,
    in_flight: &InFlight,
    out: &mpsc::UnboundedSender<Value>,
    client: CredentialsClient,
    kind: Kind,
    c: Ceremony,
) {
    let id = c.id;
    let (cancel_tx, cancel_rx) = oneshot::channel();
    {
        let mut map = lock(in_flight);
        if map.contains_key(&id) {
            let _ = out.send(message::error_reply(
                Some(id),
                "InvalidStateError",
                "a request with this id is in flight",
            ));
            return;
        }
        if map.len() >= MAX_IN_FLIGHT {
            let _ = out.send(message::error_reply(
                Some(id),
                "NotAllowedError",
                "too many requests in flight",
            ));
            return;
        }
        map.insert(id, cancel_tx);
    }
    let out = out.clone();
    let in_flight = in_flight.clone();
    tasks.spawn(async move {
        let reply = run(&client, kind, c, cancel_rx).await;
        lock(&in_flight).remove(&id);
        let _ = out.send(reply);
    });
}

async fn run(
    client: &CredentialsClient,
    kind: Kind,
    c: Ceremony,
    mut cancel: oneshot::Receiver<()>,
) -> Value {
    let id = c.id;
    let options_json = Value::Object(c.options).to_string();
    let opts = CallOptions {
        origin: Some(c.origin),
        top_origin: c.top_origin,
        // A browser extension cannot name the browser's window.
        handle_token: None,
        parent_window: None,
    };
    let pending = match client.start(kind, &options_json, &opts).await {
        Ok(p) => p,
        Err(e) => return dbus_error_reply(id, e),
    };
    let handle = pending.handle.clone();
    tokio::select! {
        outcome = pending.response() => match outcome {
            Ok(o) if o.code == 0 => match o.response_json().map(|s| serde_json::from_str(&s)) {
                Some(Ok(v)) => message::result_reply(id, v),
                _ => message::error_reply(Some(id), "UnknownError", "latchkeyd sent no response"),
            },
            Ok(o) => message::error_reply(
                Some(id),
                o.error_name().as_deref().unwrap_or("NotAllowedError"),
                o.message().as_deref().unwrap_or(""),
            ),
            Err(e) => dbus_error_reply(id, e),
        },
        _ = &mut cancel => {
            let closed = client
                .connection()
                .call_method(
                    Some(latchkey_api::BUS_NAME),
                    handle.as_str(),
                    Some(latchkey_api::REQUEST_INTERFACE),
                    "Close",
                    &(),
                )
                .await;
            let message = match closed {
                Ok(_) => "the request was aborted".to_owned(),
                Err(e) => format!("the request was aborted (Close failed: {e})"),
            };
            message::error_reply(Some(id), "AbortError", &message)
        }
    }
}

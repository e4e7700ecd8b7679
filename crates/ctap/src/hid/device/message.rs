//! A complete message on an idle device: what each CTAPHID command does (§11.2.9.1, §11.2.9.2),
//! and the framing of the device's answers.

use super::{Device, Event, Lock, Processing, Request, Transaction, MAX_LOCK_SECONDS};
use crate::hid::packet::{fragment, ChannelId, Message};
use crate::hid::{Capabilities, Command, ErrorCode, KeepaliveStatus};

impl Device {
    /// Carries out a complete message (PING, MSG, CBOR, WINK, LOCK; anything else is
    /// ERR_INVALID_CMD).
    pub(super) fn on_message(&mut self, now_ms: u64, msg: Message, out: &mut Vec<Event>) {
        let caps = self.config.capabilities;
        let Message { cid, cmd, payload } = msg;
        match cmd {
            Command::PING => send(cid, cmd, &payload, out),
            Command::MSG if caps.has(Capabilities::NMSG) => {
                error(cid, ErrorCode::INVALID_CMD, out);
            }
            Command::CBOR if !caps.has(Capabilities::CBOR) => {
                error(cid, ErrorCode::INVALID_CMD, out);
            }
            Command::MSG | Command::CBOR if payload.is_empty() => {
                error(cid, ErrorCode::INVALID_LEN, out);
            }
            Command::MSG | Command::CBOR => {
                self.transaction = Transaction::Processing(Processing {
                    cid,
                    cmd,
                    last_keepalive_ms: now_ms,
                    status: KeepaliveStatus::Processing,
                    status_changed: false,
                    aborted: false,
                });
                out.push(Event::Dispatch(Request { cid, cmd, payload }));
            }
            Command::WINK if caps.has(Capabilities::WINK) => {
                if payload.is_empty() {
                    out.push(Event::Wink(cid));
                    send(cid, cmd, &[], out);
                } else {
                    error(cid, ErrorCode::INVALID_LEN, out);
                }
            }
            Command::LOCK => match payload.as_slice() {
                [secs] if *secs > MAX_LOCK_SECONDS => error(cid, ErrorCode::INVALID_PAR, out),
                [0] => {
                    self.lock = None;
                    send(cid, cmd, &[], out);
                }
                [secs] => {
                    self.lock = Some(Lock {
                        cid,
                        until_ms: now_ms.saturating_add(u64::from(*secs) * 1000),
                    });
                    send(cid, cmd, &[], out);
                }
                _ => error(cid, ErrorCode::INVALID_LEN, out),
            },
            _ => error(cid, ErrorCode::INVALID_CMD, out),
        }
    }
}

/// Frames `payload` as the answer `cmd` on `cid`.
pub(super) fn send(cid: ChannelId, cmd: Command, payload: &[u8], out: &mut Vec<Event>) {
    match fragment(cid, cmd, payload) {
        Ok(reports) => out.extend(reports.map(Event::Send)),
        Err(_) => error(cid, ErrorCode::OTHER, out),
    }
}

/// Answers CTAPHID_ERROR `code` on `cid`.
pub(super) fn error(cid: ChannelId, code: ErrorCode, out: &mut Vec<Event>) {
    out.extend(
        fragment(cid, Command::ERROR, &[code.0])
            .into_iter()
            .flatten()
            .map(Event::Send),
    );
}

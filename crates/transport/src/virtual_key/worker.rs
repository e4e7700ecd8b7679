//! The application's worker thread: runs one request at a time, reports each answer back to
//! the engine.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use latchkey_ctap::hid::{ChannelId, Command};
use latchkey_ctap::u2f::StatusWord;

use super::engine::Input;
use super::{CtapHidApp, Signals};

/// CTAP1_ERR_OTHER, answered to a CBOR request whose handler panicked.
const CTAP1_ERR_OTHER: u8 = 0x7F;
/// ISO 7816 "no precise diagnosis", answered to an APDU whose handler panicked.
const SW_NO_PRECISE_DIAGNOSIS: StatusWord = StatusWord(0x6F00);

/// Work for the application.
#[derive(Debug)]
pub(crate) enum Job {
    /// A CBOR or MSG request; `id` identifies it in [`Signals`] and in the answer.
    Request {
        id: u64,
        cid: ChannelId,
        cmd: Command,
        payload: Vec<u8>,
    },
    /// CTAPHID_WINK.
    Wink,
    /// The device was power-cycled.
    PowerCycle,
}

/// Starts the worker; it ends when the returned sender is dropped.
pub(crate) fn spawn<A: CtapHidApp, P: Send + 'static>(
    mut app: A,
    signals: Signals,
    answers: Sender<Input<P>>,
) -> std::io::Result<(Sender<Job>, JoinHandle<()>)> {
    let (tx, rx): (Sender<Job>, Receiver<Job>) = mpsc::channel();
    let handle = thread::Builder::new()
        .name("virtual-key-app".into())
        .spawn(move || {
            for job in rx {
                match job {
                    Job::Request {
                        id,
                        cid,
                        cmd,
                        payload,
                    } => {
                        signals.start(id);
                        let answer = catch_unwind(AssertUnwindSafe(|| {
                            if cmd == Command::CBOR {
                                app.cbor(&payload)
                            } else {
                                app.msg(&payload)
                            }
                        }))
                        .unwrap_or_else(|_| {
                            if cmd == Command::CBOR {
                                vec![CTAP1_ERR_OTHER]
                            } else {
                                SW_NO_PRECISE_DIAGNOSIS.to_bytes().to_vec()
                            }
                        });
                        signals.set_up_needed(false);
                        if answers
                            .send(Input::AppDone {
                                id,
                                cid,
                                payload: answer,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    // A panicking handler must not take the device down with it.
                    Job::Wink => drop(catch_unwind(AssertUnwindSafe(|| app.wink()))),
                    Job::PowerCycle => drop(catch_unwind(AssertUnwindSafe(|| app.power_cycle()))),
                }
            }
        })?;
    Ok((tx, handle))
}

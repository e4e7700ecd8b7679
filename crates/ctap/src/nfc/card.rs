//! The card's side of CTAP over NFC: the FIDO applet's APDU handling around an application
//! that runs elsewhere (a worker thread, another process).
//!
//! [`Applet::on_apdu`] takes each command APDU and says what to do ([`Action`]): answer at once
//! (SELECT, a chain piece, a GET RESPONSE piece, an error status word), or start a request on
//! the application ([`Job`]), or report on the running one. The application's answer goes to
//! [`Applet::finish`], which cuts it to the client's Le and keeps the rest for GET RESPONSE; a
//! request that takes a while is reported with [`Applet::still_running`] (a 9100 status
//! update), if the client said it understands them. Every length is bounded by
//! [`AppletConfig::max_request`].

use super::{
    UpdateStatus, CLA_CTAP, FIDO_AID, INS_NFCCTAP_GETRESPONSE, INS_NFCCTAP_MSG, P1_CANCEL,
    P1_GETRESPONSE_SUPPORTED, VERSION_FIDO2, VERSION_U2F,
};
use crate::iso7816::{CommandApdu, StatusWord, CLA_CHAINING, INS_GET_RESPONSE, INS_SELECT};
use crate::u2f::{INS_AUTHENTICATE, INS_REGISTER, INS_VERSION};

/// What the applet speaks and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppletConfig {
    /// Accepts U2F APDUs and answers SELECT with `U2F_V2` (else `FIDO_2_0`).
    pub u2f: bool,
    /// Accepts NFCCTAP_MSG.
    pub ctap2: bool,
    /// Most bytes of command data one request may carry, chain pieces together.
    pub max_request: usize,
    /// Most data bytes in one response APDU, whatever Ne the client asked for (a link that
    /// frames answers with a 16-bit length, like vpcd's, carries at most 65,533 plus SW1 SW2).
    pub max_response_data: usize,
}

impl Default for AppletConfig {
    /// U2F and CTAP2; 7,609 bytes of request (the CTAPHID maximum, §11.2.4, so the same
    /// authenticator accepts the same requests over both transports).
    fn default() -> Self {
        Self {
            u2f: true,
            ctap2: true,
            max_request: crate::hid::MAX_MESSAGE,
            max_response_data: 65_536,
        }
    }
}

/// A request for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A CTAP2 request: command byte ‖ CBOR. The answer is status byte ‖ CBOR.
    Ctap(Vec<u8>),
    /// A U2F command APDU, extended-length encoded whatever way it came. The answer is a
    /// response APDU, data ‖ SW1 ‖ SW2.
    U2f(Vec<u8>),
}

/// What the driver does with an APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Transmit these bytes as the answer.
    Reply(Vec<u8>),
    /// Start `job` on the application. With `updates`, answer with [`Applet::finish`] if it is
    /// done within about [`super::host::POLL_INTERVAL_MS`], else with [`Applet::still_running`];
    /// without, wait for it and answer with [`Applet::finish`].
    Run {
        /// The request.
        job: Job,
        /// Whether the client accepts status updates.
        updates: bool,
    },
    /// The client polls the running job (NFCCTAP_GETRESPONSE): answer as for [`Action::Run`]
    /// with updates. `cancel`: ask the application to cancel first.
    Poll {
        /// The client asked to cancel.
        cancel: bool,
    },
    /// The client selected the applet afresh while a job ran: cancel that job, never send its
    /// answer, and transmit these bytes.
    Abandon(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Ctap,
    U2f,
}

/// The applet's state; each APDU takes it and leaves the next one.
#[derive(Debug, Clone, Default)]
enum State {
    /// Not selected (after power-up, reset, or SELECT of another AID).
    #[default]
    Deselected,
    /// Selected, nothing under way.
    Idle,
    /// Receiving a command chain with this header (chaining bit cleared).
    Chaining { header: [u8; 4], data: Vec<u8> },
    /// A response waits for GET RESPONSE: `rest`, then `status`.
    Pending { rest: Vec<u8>, status: StatusWord },
    /// The application runs a job; `ne` is the Le of the APDU to answer.
    Running {
        kind: JobKind,
        updates: bool,
        ne: usize,
    },
}

/// The FIDO applet of one card.
#[derive(Debug, Clone, Default)]
pub struct Applet {
    config: AppletConfig,
    state: State,
}

fn status(sw: StatusWord) -> Vec<u8> {
    sw.to_bytes().to_vec()
}

/// The response length the client accepts: its Ne, or 256 when it sent no Le (lenient: some
/// clients leave it out of NFCCTAP_MSG).
fn ne_of(apdu: &CommandApdu) -> usize {
    apdu.ne
        .map_or(256, |n| usize::try_from(n).unwrap_or(65_536))
}

impl Applet {
    /// A deselected applet.
    pub fn new(config: AppletConfig) -> Self {
        Self {
            config,
            state: State::Deselected,
        }
    }

    /// Power-off or reset of the card: everything is forgotten. Returns whether a job was
    /// running, which the driver must cancel (its answer is not sent).
    pub fn reset(&mut self) -> bool {
        matches!(std::mem::take(&mut self.state), State::Running { .. })
    }

    /// Forgets the running job (its answer will not be sent) and stays selected: for a driver
    /// that answers in its place.
    pub fn abandon(&mut self) {
        if self.running() {
            self.state = State::Idle;
        }
    }

    /// Whether a job is running.
    pub fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// Handles one command APDU.
    pub fn on_apdu(&mut self, bytes: &[u8]) -> Action {
        let Ok(apdu) = CommandApdu::parse(bytes) else {
            // A running job stays running; a chain or a pending response is abandoned.
            if !self.running() && !matches!(self.state, State::Deselected) {
                self.state = State::Idle;
            }
            return Action::Reply(status(StatusWord::WRONG_LENGTH));
        };
        if apdu.cla & !CLA_CHAINING == 0 && apdu.ins == INS_SELECT {
            return self.select(&apdu);
        }
        match std::mem::take(&mut self.state) {
            State::Deselected => Action::Reply(status(StatusWord::COMMAND_NOT_ALLOWED)),
            State::Running { kind, updates, ne } => {
                if apdu.cla == CLA_CTAP && apdu.ins == INS_NFCCTAP_GETRESPONSE && updates {
                    self.state = State::Running {
                        kind,
                        updates,
                        ne: ne_of(&apdu),
                    };
                    Action::Poll {
                        cancel: apdu.p1 == P1_CANCEL,
                    }
                } else {
                    self.state = State::Running { kind, updates, ne };
                    Action::Reply(status(StatusWord::COMMAND_NOT_ALLOWED))
                }
            }
            State::Pending { rest, status } if apdu.cla == 0 && apdu.ins == INS_GET_RESPONSE => {
                Action::Reply(self.respond(rest, status, ne_of(&apdu)))
            }
            // Any other command drops the response nobody fetched.
            State::Pending { .. } | State::Idle => self.start(apdu),
            State::Chaining { header, mut data } => {
                if header != [apdu.cla & !CLA_CHAINING, apdu.ins, apdu.p1, apdu.p2] {
                    self.state = State::Idle;
                    return Action::Reply(status(StatusWord::LAST_COMMAND_EXPECTED));
                }
                if data.len().saturating_add(apdu.data.len()) > self.config.max_request {
                    self.state = State::Idle;
                    return Action::Reply(status(StatusWord::WRONG_LENGTH));
                }
                data.extend_from_slice(&apdu.data);
                if apdu.is_chained() {
                    self.state = State::Chaining { header, data };
                    return Action::Reply(status(StatusWord::NO_ERROR));
                }
                let [cla, ins, p1, p2] = header;
                self.dispatch(CommandApdu {
                    cla,
                    ins,
                    p1,
                    p2,
                    data,
                    ne: apdu.ne,
                })
            }
        }
    }

    fn select(&mut self, apdu: &CommandApdu) -> Action {
        let was_running = self.running();
        let reply = if apdu.p1 == 0x04 && apdu.data == FIDO_AID {
            self.state = State::Idle;
            let version = if self.config.u2f {
                VERSION_U2F
            } else {
                VERSION_FIDO2
            };
            let mut reply = version.to_vec();
            reply.extend_from_slice(&StatusWord::NO_ERROR.to_bytes());
            reply
        } else {
            self.state = State::Deselected;
            status(StatusWord::FILE_NOT_FOUND)
        };
        if was_running {
            Action::Abandon(reply)
        } else {
            Action::Reply(reply)
        }
    }

    /// The first APDU of a command, in the idle state.
    fn start(&mut self, apdu: CommandApdu) -> Action {
        self.state = State::Idle;
        if apdu.is_chained() {
            if apdu.data.len() > self.config.max_request {
                return Action::Reply(status(StatusWord::WRONG_LENGTH));
            }
            self.state = State::Chaining {
                header: [apdu.cla & !CLA_CHAINING, apdu.ins, apdu.p1, apdu.p2],
                data: apdu.data,
            };
            return Action::Reply(status(StatusWord::NO_ERROR));
        }
        if apdu.data.len() > self.config.max_request {
            return Action::Reply(status(StatusWord::WRONG_LENGTH));
        }
        self.dispatch(apdu)
    }

    /// A complete command, in the idle state.
    fn dispatch(&mut self, apdu: CommandApdu) -> Action {
        let ne = ne_of(&apdu);
        match (apdu.cla, apdu.ins) {
            (CLA_CTAP, INS_NFCCTAP_MSG) if self.config.ctap2 => {
                if apdu.data.is_empty() {
                    return Action::Reply(status(StatusWord::WRONG_LENGTH));
                }
                let updates = apdu.p1 & P1_GETRESPONSE_SUPPORTED != 0;
                self.state = State::Running {
                    kind: JobKind::Ctap,
                    updates,
                    ne,
                };
                Action::Run {
                    job: Job::Ctap(apdu.data),
                    updates,
                }
            }
            (0x00, INS_REGISTER | INS_AUTHENTICATE | INS_VERSION) if self.config.u2f => {
                let Ok(bytes) = CommandApdu { ne: None, ..apdu }.to_extended_bytes() else {
                    return Action::Reply(status(StatusWord::WRONG_LENGTH));
                };
                self.state = State::Running {
                    kind: JobKind::U2f,
                    updates: false,
                    ne,
                };
                Action::Run {
                    job: Job::U2f(bytes),
                    updates: false,
                }
            }
            (0x00, INS_GET_RESPONSE) | (CLA_CTAP, INS_NFCCTAP_GETRESPONSE) => {
                Action::Reply(status(StatusWord::COMMAND_NOT_ALLOWED))
            }
            (0x00 | CLA_CTAP, _) => Action::Reply(status(StatusWord::INS_NOT_SUPPORTED)),
            _ => Action::Reply(status(StatusWord::CLA_NOT_SUPPORTED)),
        }
    }

    /// The application's answer to the running job, as the response APDU to transmit (its
    /// first piece, if it is longer than the client's Le). Without a running job (it was
    /// abandoned) the answer is dropped and `None` returned.
    pub fn finish(&mut self, answer: Vec<u8>) -> Option<Vec<u8>> {
        let State::Running { kind, ne, .. } = self.state else {
            return None;
        };
        let (data, status) = match kind {
            JobKind::Ctap => (answer, StatusWord::NO_ERROR),
            JobKind::U2f => {
                let mut answer = answer;
                match answer.len().checked_sub(2) {
                    Some(split) => {
                        let sw = answer.split_off(split);
                        (answer, StatusWord(u16::from_be_bytes([sw[0], sw[1]])))
                    }
                    None => (Vec::new(), StatusWord::NO_PRECISE_DIAGNOSIS),
                }
            }
        };
        Some(self.respond(data, status, ne))
    }

    /// A status update for the running job, if its client accepts them (else `None`: wait for
    /// the application).
    pub fn still_running(&self, how: UpdateStatus) -> Option<Vec<u8>> {
        match self.state {
            State::Running { updates: true, .. } => {
                let mut reply = vec![how.to_byte()];
                reply.extend_from_slice(&StatusWord::CTAP_STATUS_UPDATE.to_bytes());
                Some(reply)
            }
            _ => None,
        }
    }

    /// Up to `ne` bytes of `data` with `status`, or `61XX` and the rest kept for GET RESPONSE.
    fn respond(&mut self, mut data: Vec<u8>, status: StatusWord, ne: usize) -> Vec<u8> {
        let ne = ne.min(self.config.max_response_data);
        if data.len() <= ne {
            self.state = State::Idle;
            data.extend_from_slice(&status.to_bytes());
            return data;
        }
        let rest = data.split_off(ne);
        data.extend_from_slice(&StatusWord::more_data_of(rest.len()).to_bytes());
        self.state = State::Pending { rest, status };
        data
    }
}

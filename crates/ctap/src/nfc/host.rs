//! The client's side of one request to an NFC card: which APDUs to transmit, and what the
//! answers mean (CTAP 2.1 §11.3.5–§11.3.7).
//!
//! [`Exchange::ctap`] (a CTAP2 request in NFCCTAP_MSG) and [`Exchange::apdu`] (a U2F or other
//! ISO 7816 command, passed through) give the first APDU to transmit. Each answer goes to
//! [`Exchange::on_response`], which says what comes next: another APDU (the next piece of a
//! command chain, a GET RESPONSE), a status update to show the user before polling again
//! ([`Polling`]), the response, or a named failure. Every way a card can keep an exchange
//! going is bounded: bytes, GET RESPONSE rounds, time spent on status updates, polls after a
//! cancel.

use std::collections::VecDeque;

use super::{
    NfcError, UpdateStatus, CLA_CTAP, INS_NFCCTAP_GETRESPONSE, INS_NFCCTAP_MSG, P1_CANCEL,
    P1_GETRESPONSE_SUPPORTED,
};
use crate::iso7816::{
    CommandApdu, ResponseApdu, StatusWord, CLA_CHAINING, INS_GET_RESPONSE, MAX_EXTENDED_DATA,
    MAX_SHORT_DATA,
};

/// How long a client should wait between a status update and its next poll (the CTAPHID
/// keepalive period, §11.2.9.1.5, which python-fido2 and libfido2 use for NFC as well).
pub const POLL_INTERVAL_MS: u64 = 100;

/// How command APDUs are length-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Short APDUs: data over 255 bytes goes in a command chain; every reader supports it.
    Short,
    /// One extended-length APDU per command (up to 65,535 data bytes); CTAP 2.1 §11.3.5 requires
    /// cards to accept it, but not every reader carries it.
    Extended,
}

/// Bounds on what a card may make an exchange do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most response bytes, all GET RESPONSE pieces together.
    pub max_response: usize,
    /// Most GET RESPONSE rounds for one response.
    pub max_rounds: usize,
    /// Longest time a card may answer with status updates.
    pub max_status_wait_ms: u64,
    /// Most status updates after the client asked to cancel.
    pub max_polls_after_cancel: u32,
}

impl Default for Limits {
    /// 64 KiB of response (every CTAP message fits: authenticators announce `maxMsgSize` of a
    /// few KiB), 1,024 rounds (a 64 KiB response in 256-byte pieces takes 256), two minutes of
    /// status updates (a user finding their key and PIN), 5 s of polls after a cancel.
    fn default() -> Self {
        Self {
            max_response: 65_536,
            max_rounds: 1_024,
            max_status_wait_ms: 120_000,
            max_polls_after_cancel: 50,
        }
    }
}

/// What is being exchanged, which decides how status words are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A CTAP2 request: 9000 carries the response, 9100 a status update, anything else fails.
    Ctap,
    /// A command passed through: every final status word goes back to the caller.
    Apdu,
}

/// Where the exchange stands; the APDU it last asked for is in flight.
#[derive(Debug, Clone)]
enum Phase {
    /// A chain piece is in flight; `rest` are the pieces after it, the last one final.
    Chaining { rest: VecDeque<Vec<u8>> },
    /// The command (or a poll, or a GET RESPONSE) is in flight; `data` is the response so far.
    Answering { data: Vec<u8>, rounds: usize },
}

/// Status updates seen so far.
#[derive(Debug, Clone, Copy, Default)]
struct Waiting {
    /// When the first status update came.
    since_ms: Option<u64>,
    /// Status updates since the client asked to cancel, if it did.
    after_cancel: Option<u32>,
}

/// One request to a card, with an APDU in flight: feed its answer to [`Exchange::on_response`].
#[derive(Debug, Clone)]
pub struct Exchange {
    kind: Kind,
    encoding: Encoding,
    limits: Limits,
    phase: Phase,
    waiting: Waiting,
}

/// What to do after an answer.
#[derive(Debug)]
pub enum Next {
    /// Transmit this APDU and feed its answer to the exchange.
    Transmit(Exchange, Vec<u8>),
    /// The card is still working on a CTAP request: tell the user, wait about
    /// [`POLL_INTERVAL_MS`], then [`Polling::poll`] (or [`Polling::cancel`]).
    StatusUpdate(Polling, UpdateStatus),
    /// The response: for a CTAP request its status byte ‖ CBOR; for a passed-through APDU the
    /// whole response APDU, data ‖ SW1 ‖ SW2.
    Done(Vec<u8>),
    /// The exchange failed.
    Failed(NfcError),
}

/// A CTAP request the card said it is still working on; nothing is in flight.
#[derive(Debug, Clone)]
pub struct Polling {
    exchange: Exchange,
}

impl Polling {
    /// NFCCTAP_GETRESPONSE: asks how the request is getting on.
    pub fn poll(self) -> (Exchange, Vec<u8>) {
        self.send(0x00)
    }

    /// NFCCTAP_GETRESPONSE with P1 = 11: asks the card to cancel; it answers the request
    /// (typically with CTAP2_ERR_KEEPALIVE_CANCEL) or with more status updates, a bounded number.
    pub fn cancel(mut self) -> (Exchange, Vec<u8>) {
        if self.exchange.waiting.after_cancel.is_none() {
            self.exchange.waiting.after_cancel = Some(0);
        }
        self.send(P1_CANCEL)
    }

    /// Whether a cancel was already asked for.
    pub fn cancelling(&self) -> bool {
        self.exchange.waiting.after_cancel.is_some()
    }

    fn send(self, p1: u8) -> (Exchange, Vec<u8>) {
        let mut exchange = self.exchange;
        exchange.phase = Phase::Answering {
            data: Vec::new(),
            rounds: 0,
        };
        let apdu = CommandApdu {
            cla: CLA_CTAP,
            ins: INS_NFCCTAP_GETRESPONSE,
            p1,
            p2: 0,
            data: Vec::new(),
            ne: Some(max_ne(exchange.encoding)),
        };
        let bytes = encode_one(&apdu, exchange.encoding);
        (exchange, bytes)
    }
}

fn max_ne(encoding: Encoding) -> u32 {
    match encoding {
        Encoding::Short => 256,
        Encoding::Extended => 65_536,
    }
}

/// Encodes a command whose data fits the encoding (checked by the callers).
fn encode_one(apdu: &CommandApdu, encoding: Encoding) -> Vec<u8> {
    let encoded = match encoding {
        Encoding::Short => apdu.to_short_bytes(),
        Encoding::Extended => apdu.to_extended_bytes(),
    };
    // Callers only pass data within the encoding's maximum and Ne from `max_ne`.
    encoded.unwrap_or_default()
}

/// The APDUs that carry `apdu`: one, or with short encoding a command chain of 255-byte
/// pieces, every piece but the last with the chaining bit and no Le.
fn encode_command(apdu: &CommandApdu, encoding: Encoding) -> Result<Vec<Vec<u8>>, NfcError> {
    let too_long = NfcError::RequestTooLong {
        len: apdu.data.len(),
    };
    let mut last = CommandApdu {
        ne: Some(max_ne(encoding)),
        ..apdu.clone()
    };
    match encoding {
        Encoding::Extended if apdu.data.len() > MAX_EXTENDED_DATA => Err(too_long),
        Encoding::Extended => Ok(vec![encode_one(&last, encoding)]),
        Encoding::Short if apdu.data.len() > MAX_EXTENDED_DATA => Err(too_long),
        Encoding::Short => {
            let mut pieces: Vec<&[u8]> = apdu.data.chunks(MAX_SHORT_DATA).collect();
            let final_piece = pieces.pop().unwrap_or_default();
            let mut out: Vec<Vec<u8>> = pieces
                .into_iter()
                .map(|piece| {
                    encode_one(
                        &CommandApdu {
                            cla: apdu.cla | CLA_CHAINING,
                            data: piece.to_vec(),
                            ne: None,
                            ..apdu.clone()
                        },
                        encoding,
                    )
                })
                .collect();
            last.data = final_piece.to_vec();
            out.push(encode_one(&last, encoding));
            Ok(out)
        }
    }
}

impl Exchange {
    /// A CTAP2 request (command byte ‖ CBOR) in NFCCTAP_MSG, announcing status-update support;
    /// returns the exchange and the first APDU to transmit.
    pub fn ctap(
        request: &[u8],
        encoding: Encoding,
        limits: Limits,
    ) -> Result<(Self, Vec<u8>), NfcError> {
        let apdu = CommandApdu {
            cla: CLA_CTAP,
            ins: INS_NFCCTAP_MSG,
            p1: P1_GETRESPONSE_SUPPORTED,
            p2: 0,
            data: request.to_vec(),
            ne: None,
        };
        Self::start(Kind::Ctap, &apdu, encoding, limits)
    }

    /// An ISO 7816 command APDU (a U2F request, SELECT), re-encoded for `encoding` and passed
    /// through: its final status word, whatever it is, is the caller's to read.
    pub fn apdu(
        command: &CommandApdu,
        encoding: Encoding,
        limits: Limits,
    ) -> Result<(Self, Vec<u8>), NfcError> {
        Self::start(Kind::Apdu, command, encoding, limits)
    }

    fn start(
        kind: Kind,
        apdu: &CommandApdu,
        encoding: Encoding,
        limits: Limits,
    ) -> Result<(Self, Vec<u8>), NfcError> {
        let mut pieces: VecDeque<Vec<u8>> = encode_command(apdu, encoding)?.into();
        let first = pieces.pop_front().unwrap_or_default();
        let phase = if pieces.is_empty() {
            Phase::Answering {
                data: Vec::new(),
                rounds: 0,
            }
        } else {
            Phase::Chaining { rest: pieces }
        };
        let exchange = Self {
            kind,
            encoding,
            limits,
            phase,
            waiting: Waiting::default(),
        };
        Ok((exchange, first))
    }

    /// Feeds the card's answer to the APDU in flight; `now_ms` is any monotonic clock.
    pub fn on_response(self, now_ms: u64, answer: &[u8]) -> Next {
        let Some(response) = ResponseApdu::parse(answer) else {
            return Next::Failed(NfcError::Truncated { len: answer.len() });
        };
        let Self {
            kind,
            encoding,
            limits,
            phase,
            waiting,
        } = self;
        match phase {
            Phase::Chaining { mut rest } => {
                if response.status != StatusWord::NO_ERROR {
                    // The card refused a piece of the chain: that is its answer.
                    return match kind {
                        Kind::Apdu => Next::Done(response.to_bytes()),
                        Kind::Ctap => Next::Failed(NfcError::Status(response.status)),
                    };
                }
                let next = rest.pop_front().unwrap_or_default();
                let phase = if rest.is_empty() {
                    Phase::Answering {
                        data: Vec::new(),
                        rounds: 0,
                    }
                } else {
                    Phase::Chaining { rest }
                };
                let exchange = Self {
                    kind,
                    encoding,
                    limits,
                    phase,
                    waiting,
                };
                Next::Transmit(exchange, next)
            }
            Phase::Answering { mut data, rounds } => {
                if data.len().saturating_add(response.data.len()) > limits.max_response {
                    return Next::Failed(NfcError::ResponseTooLong {
                        limit: limits.max_response,
                    });
                }
                let first_piece = data.is_empty() && rounds == 0;
                data.extend_from_slice(&response.data);
                let status = response.status;
                if let Some(more) = status.more_data() {
                    if rounds >= limits.max_rounds {
                        return Next::Failed(NfcError::EndlessChain { rounds });
                    }
                    let get_response = CommandApdu {
                        cla: 0x00,
                        ins: INS_GET_RESPONSE,
                        p1: 0,
                        p2: 0,
                        data: Vec::new(),
                        // SW2 is the Le to ask with (ISO 7816-4 §5.1.3); 00 means 256.
                        ne: Some(u32::try_from(more).unwrap_or(256)),
                    };
                    let bytes = get_response.to_short_bytes().unwrap_or_default();
                    let exchange = Self {
                        kind,
                        encoding,
                        limits,
                        phase: Phase::Answering {
                            data,
                            rounds: rounds + 1,
                        },
                        waiting,
                    };
                    return Next::Transmit(exchange, bytes);
                }
                match (kind, status) {
                    (Kind::Ctap, StatusWord::NO_ERROR) => Next::Done(data),
                    (Kind::Ctap, StatusWord::CTAP_STATUS_UPDATE) => {
                        let exchange = Self {
                            kind,
                            encoding,
                            limits,
                            phase: Phase::Answering {
                                data: Vec::new(),
                                rounds: 0,
                            },
                            waiting,
                        };
                        exchange.status_update(now_ms, first_piece, &data)
                    }
                    (Kind::Ctap, other) => Next::Failed(NfcError::Status(other)),
                    (Kind::Apdu, status) => {
                        data.extend_from_slice(&status.to_bytes());
                        Next::Done(data)
                    }
                }
            }
        }
    }

    /// A 9100 answer: one status byte, within the time and cancel bounds.
    fn status_update(mut self, now_ms: u64, first_piece: bool, data: &[u8]) -> Next {
        let status = match data {
            [byte] if first_piece => UpdateStatus::from_byte(*byte),
            _ => None,
        };
        let Some(status) = status else {
            return Next::Failed(NfcError::BadStatusUpdate);
        };
        let since = *self.waiting.since_ms.get_or_insert(now_ms);
        let waited_ms = now_ms.saturating_sub(since);
        if waited_ms > self.limits.max_status_wait_ms {
            return Next::Failed(NfcError::StatusUpdatesTooLong { waited_ms });
        }
        if let Some(after) = self.waiting.after_cancel.as_mut() {
            *after += 1;
            if *after > self.limits.max_polls_after_cancel {
                return Next::Failed(NfcError::CancelIgnored);
            }
        }
        Next::StatusUpdate(Polling { exchange: self }, status)
    }
}

//! CTAP over NFC from the host's side: the blocking loop around the sans-I/O
//! [`latchkey_ctap::nfc::Exchange`], over any [`ApduLink`] (a PC/SC card, or a card in memory
//! in tests).
//!
//! One loop ([`NfcChannel::exchange`]): transmit the APDU the exchange asks for, feed back the
//! answer; on a status update tell the caller (keepalive), wait [`POLL_INTERVAL_MS`] (or until
//! the cancel flag rises), then poll, or ask the card to cancel. Each APDU's answer must come
//! within [`TransactOptions::timeout`]; every other bound (bytes, rounds, time spent on status
//! updates, polls after a cancel) is the exchange's.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use latchkey_ctap::iso7816::{CommandApdu, ResponseApdu, StatusWord};
use latchkey_ctap::nfc::{
    select_command, AppletVersion, Encoding, Exchange, Limits, Next, NfcError, POLL_INTERVAL_MS,
};

use crate::channel::TransactOptions;

/// How often a wait looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// Why a [`ApduLink`] transmission failed.
#[derive(Debug)]
pub enum LinkError {
    /// The card left the reader's field, or the reader (or the PC/SC service) went away.
    Removed(String),
    /// The card did not answer in time.
    Timeout,
    /// The cancel flag rose while waiting for the answer.
    Cancelled,
    /// The reader or the service failed otherwise.
    Failed(String),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Removed(why) => write!(f, "the card is gone: {why}"),
            Self::Timeout => f.write_str("the card did not answer in time"),
            Self::Cancelled => f.write_str("cancelled while waiting for the card"),
            Self::Failed(why) => write!(f, "the card reader failed: {why}"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Something that carries command APDUs to a card and its answers back.
pub trait ApduLink: Send {
    /// Transmits `apdu` and returns the card's answer (data ‖ SW1 ‖ SW2), waiting at most
    /// `timeout`, and giving up with [`LinkError::Cancelled`] once `cancel` rises.
    fn transmit(
        &mut self,
        apdu: &[u8],
        timeout: Duration,
        cancel: Option<&AtomicBool>,
    ) -> Result<Vec<u8>, LinkError>;
}

impl<L: ApduLink + ?Sized> ApduLink for Box<L> {
    fn transmit(
        &mut self,
        apdu: &[u8],
        timeout: Duration,
        cancel: Option<&AtomicBool>,
    ) -> Result<Vec<u8>, LinkError> {
        (**self).transmit(apdu, timeout, cancel)
    }
}

/// Why an exchange over NFC failed.
#[derive(Debug)]
pub enum NfcChannelError {
    /// The link failed (card gone, no answer in time, cancelled).
    Link(LinkError),
    /// The card's answers broke CTAP over NFC, or the request cannot be encoded.
    Protocol(NfcError),
    /// SELECT of the FIDO applet was refused: this card is not a FIDO authenticator.
    NotFido(StatusWord),
}

impl fmt::Display for NfcChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Link(e) => e.fmt(f),
            Self::Protocol(e) => e.fmt(f),
            Self::NotFido(sw) => write!(
                f,
                "the card has no FIDO applet (SELECT answered status word {sw})"
            ),
        }
    }
}

impl std::error::Error for NfcChannelError {}

impl From<LinkError> for NfcChannelError {
    fn from(e: LinkError) -> Self {
        Self::Link(e)
    }
}

/// A card whose FIDO applet is selected.
#[derive(Debug)]
pub struct NfcChannel<L> {
    link: L,
    version: AppletVersion,
    encoding: Encoding,
    limits: Limits,
}

impl<L: ApduLink> NfcChannel<L> {
    /// Selects the FIDO applet (CTAP 2.1 §11.3.3) with APDUs of `encoding`.
    pub fn open(link: L, encoding: Encoding) -> Result<Self, NfcChannelError> {
        let mut channel = Self {
            link,
            version: AppletVersion::U2f,
            encoding,
            limits: Limits::default(),
        };
        channel.select()?;
        Ok(channel)
    }

    /// Selects the FIDO applet again (after a reset, or a request abandoned mid-way).
    pub fn select(&mut self) -> Result<AppletVersion, NfcChannelError> {
        let answer = self.msg(&select_command(), TransactOptions::default())?;
        let response =
            ResponseApdu::parse(&answer).ok_or(NfcChannelError::Protocol(NfcError::Truncated {
                len: answer.len(),
            }))?;
        if response.status != StatusWord::NO_ERROR {
            return Err(NfcChannelError::NotFido(response.status));
        }
        let body = response.data.as_slice();
        self.version = AppletVersion::parse(body).map_err(NfcChannelError::Protocol)?;
        Ok(self.version)
    }

    /// What the applet said it speaks when selected.
    pub fn version(&self) -> AppletVersion {
        self.version
    }

    /// The link, for raw access.
    pub fn link(&mut self) -> &mut L {
        &mut self.link
    }

    /// A CTAP2 request (command byte ‖ CBOR) in NFCCTAP_MSG; the answer is status ‖ CBOR.
    pub fn cbor(
        &mut self,
        request: &[u8],
        options: TransactOptions<'_>,
    ) -> Result<Vec<u8>, NfcChannelError> {
        let start = Exchange::ctap(request, self.encoding, self.limits)
            .map_err(NfcChannelError::Protocol)?;
        self.exchange(start, options)
    }

    /// An ISO 7816 command (a U2F request): the answer is the response APDU, data ‖ SW.
    pub fn msg(
        &mut self,
        command: &CommandApdu,
        options: TransactOptions<'_>,
    ) -> Result<Vec<u8>, NfcChannelError> {
        let start = Exchange::apdu(command, self.encoding, self.limits)
            .map_err(NfcChannelError::Protocol)?;
        self.exchange(start, options)
    }

    /// The driver loop: transmits what the exchange asks for until it is done.
    pub fn exchange(
        &mut self,
        (mut exchange, mut apdu): (Exchange, Vec<u8>),
        mut options: TransactOptions<'_>,
    ) -> Result<Vec<u8>, NfcChannelError> {
        let started = Instant::now();
        let now_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut cancelling = false;
        loop {
            // Once the card was asked to cancel, its answer to that is awaited, not abandoned.
            let cancel = if cancelling { None } else { options.cancel };
            let answer = self.link.transmit(&apdu, options.timeout, cancel)?;
            (exchange, apdu) = match exchange.on_response(now_ms(), &answer) {
                Next::Transmit(next, bytes) => (next, bytes),
                Next::StatusUpdate(polling, status) => {
                    if let Some(cb) = options.on_keepalive.as_mut() {
                        cb(status);
                    }
                    let cancelled = || options.cancel.is_some_and(|c| c.load(Ordering::SeqCst));
                    let until = Instant::now() + Duration::from_millis(POLL_INTERVAL_MS);
                    while !cancelled() && Instant::now() < until {
                        std::thread::sleep(CANCEL_POLL);
                    }
                    if cancelled() {
                        cancelling = true;
                        polling.cancel()
                    } else {
                        polling.poll()
                    }
                }
                Next::Done(response) => return Ok(response),
                Next::Failed(e) => return Err(NfcChannelError::Protocol(e)),
            };
        }
    }
}

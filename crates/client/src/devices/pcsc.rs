//! NFC cards in the key list: the cards on PC/SC readers now ([`present_cards`]) and the ones
//! put on a reader later ([`CardWatcher`], [`watch_into`]), through pcscd. Without the `pcsc`
//! feature there are none, and following them fails.

use std::sync::mpsc;
use std::time::Duration;

use latchkey_transport::DeviceSpec;

use crate::device::{Device, DeviceError};

/// The cards on PC/SC readers now, as `pcsc:READER` specs; none without pcscd.
#[cfg(feature = "pcsc")]
pub fn present_cards() -> Vec<DeviceSpec> {
    match latchkey_transport::pcsc::readers() {
        Ok(readers) => readers
            .into_iter()
            .filter(|r| r.card_present)
            .map(|r| DeviceSpec::Pcsc(r.name))
            .collect(),
        Err(e) => {
            tracing::debug!(%e, "no PC/SC readers");
            Vec::new()
        }
    }
}

/// Without PC/SC support there are no cards.
#[cfg(not(feature = "pcsc"))]
pub fn present_cards() -> Vec<DeviceSpec> {
    Vec::new()
}

/// A card that was opened, with its spec.
pub type OpenedCard = (DeviceSpec, Box<dyn Device>);

/// Follows pcscd's readers: which card was put on which reader, from now on (cards present
/// when it starts are [`present_cards`]'s). Readers plugged in later are followed too.
///
/// [`Self::next_device`] opens each card that arrives. A card that refuses its first connection
/// (seen when one card replaces another on a reader: pcscd is still ending the old card's
/// transaction) is kept and opened again at each later call while it stays on its reader; no
/// reader event would come for it again.
#[derive(Debug)]
pub struct CardWatcher {
    #[cfg(feature = "pcsc")]
    inner: latchkey_transport::pcsc::ReaderWatcher,
    /// Readers whose card is there but could not be opened yet.
    retrying: Vec<String>,
}

impl CardWatcher {
    /// Starts following pcscd; `Err` if it cannot be reached (or without the `pcsc` feature).
    #[cfg(feature = "pcsc")]
    pub fn open() -> Result<Self, DeviceError> {
        let inner = latchkey_transport::pcsc::ReaderWatcher::open()
            .map_err(|e| crate::nfc::device_error(latchkey_transport::NfcChannelError::Link(e)))?;
        Ok(Self {
            inner,
            retrying: Vec::new(),
        })
    }

    /// Without PC/SC support nothing can be followed.
    #[cfg(not(feature = "pcsc"))]
    pub fn open() -> Result<Self, DeviceError> {
        Err(DeviceError::Unsupported(
            "NFC keys in this build (it was built without the `pcsc` feature)",
        ))
    }

    /// Takes a card that is on its reader but could not be opened (one of [`present_cards`]):
    /// [`Self::next_device`] tries it again while it stays there.
    pub fn retry(&mut self, spec: &DeviceSpec) {
        if let Some(reader) = spec.pcsc_reader() {
            if !self.retrying.iter().any(|r| r == reader) {
                self.retrying.push(reader.to_owned());
            }
        }
    }

    /// The next card put on a reader, as its spec, waiting at most `timeout`; `Err` when pcscd
    /// went away. Cards waiting for a retry are not opened: [`Self::next_device`] does that.
    #[cfg(feature = "pcsc")]
    pub fn next_card(&mut self, timeout: Duration) -> Result<Option<DeviceSpec>, DeviceError> {
        use latchkey_transport::pcsc::ReaderEvent;
        match self.inner.next_event(timeout) {
            Ok(Some(ReaderEvent::CardPresent(reader))) => {
                self.retrying.retain(|r| *r != reader);
                Ok(Some(DeviceSpec::Pcsc(reader)))
            }
            Ok(Some(ReaderEvent::CardGone(reader))) => {
                self.retrying.retain(|r| *r != reader);
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(e) => Err(crate::nfc::device_error(
                latchkey_transport::NfcChannelError::Link(e),
            )),
        }
    }

    /// Without PC/SC support no card comes.
    #[cfg(not(feature = "pcsc"))]
    pub fn next_card(&mut self, _timeout: Duration) -> Result<Option<DeviceSpec>, DeviceError> {
        Ok(None)
    }

    /// The next card put on a reader, opened (its FIDO applet selected), with its spec; or a card
    /// waiting for a retry that opens now. Waits at most `timeout` for reader events. A card
    /// that fails to open is kept for a retry at the next call (until it leaves its reader).
    /// `Err` when pcscd went away.
    pub fn next_device(&mut self, timeout: Duration) -> Result<Option<OpenedCard>, DeviceError> {
        if let Some(spec) = self.next_card(timeout)? {
            match crate::hid::open_spec(&spec, None) {
                Ok(device) => return Ok(Some((spec, device))),
                Err(e) => {
                    tracing::info!(key = %spec, error = %e, "cannot open an NFC card yet");
                    self.retry(&spec);
                }
            }
        }
        let opened = self.retrying.iter().enumerate().find_map(|(at, reader)| {
            let spec = DeviceSpec::Pcsc(reader.clone());
            crate::hid::open_spec(&spec, None)
                .ok()
                .map(|device| (at, spec, device))
        });
        Ok(opened.map(|(at, spec, device)| {
            self.retrying.remove(at);
            (spec, device)
        }))
    }
}

/// Follows pcscd on a thread and sends every card put on a reader from now on, opened (its FIDO
/// applet selected), to `tx`. Cards already present are not sent: [`present_cards`] lists
/// them. A card that fails to open is tried again while it stays on its reader
/// ([`CardWatcher::next_device`]). The thread ends when pcscd goes away, or at the first card
/// after the receiver was dropped. `Err` if pcscd cannot be reached now.
pub fn watch_into(tx: mpsc::Sender<Box<dyn Device>>) -> Result<(), DeviceError> {
    let mut watcher = CardWatcher::open()?;
    std::thread::spawn(move || loop {
        match watcher.next_device(super::WATCH_POLL) {
            Ok(Some((_, device))) => {
                if tx.send(device).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(%e, "stopped following PC/SC readers");
                return;
            }
        }
    });
    Ok(())
}

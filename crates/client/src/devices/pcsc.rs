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

/// Follows pcscd's readers: which card was put on which reader, from now on (cards present
/// when it starts are [`present_cards`]'s). Readers plugged in later are followed too.
#[derive(Debug)]
pub struct CardWatcher {
    #[cfg(feature = "pcsc")]
    inner: latchkey_transport::pcsc::ReaderWatcher,
}

impl CardWatcher {
    /// Starts following pcscd; `Err` if it cannot be reached (or without the `pcsc` feature).
    #[cfg(feature = "pcsc")]
    pub fn open() -> Result<Self, DeviceError> {
        let inner = latchkey_transport::pcsc::ReaderWatcher::open()
            .map_err(|e| crate::nfc::device_error(latchkey_transport::NfcChannelError::Link(e)))?;
        Ok(Self { inner })
    }

    /// Without PC/SC support nothing can be followed.
    #[cfg(not(feature = "pcsc"))]
    pub fn open() -> Result<Self, DeviceError> {
        Err(DeviceError::Unsupported(
            "NFC keys in this build (it was built without the `pcsc` feature)",
        ))
    }

    /// The next card put on a reader, as its spec, waiting at most `timeout`; `Err` when pcscd
    /// went away.
    #[cfg(feature = "pcsc")]
    pub fn next_card(&mut self, timeout: Duration) -> Result<Option<DeviceSpec>, DeviceError> {
        use latchkey_transport::pcsc::ReaderEvent;
        match self.inner.next_event(timeout) {
            Ok(Some(ReaderEvent::CardPresent(reader))) => Ok(Some(DeviceSpec::Pcsc(reader))),
            Ok(_) => Ok(None),
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
}

/// Follows pcscd on a thread and sends every card put on a reader from now on, opened (its FIDO
/// applet selected), to `tx`. Cards already present are not sent: [`present_cards`] lists
/// them. A card that fails to open is tried again while the failure may be its arrival not
/// being complete, then skipped (logged). The thread ends when pcscd goes away, or at the first
/// card after the receiver was dropped. `Err` if pcscd cannot be reached now.
pub fn watch_into(tx: mpsc::Sender<Box<dyn Device>>) -> Result<(), DeviceError> {
    let mut watcher = CardWatcher::open()?;
    std::thread::spawn(move || loop {
        match watcher.next_card(super::WATCH_POLL) {
            Ok(Some(spec)) => {
                let open = || crate::hid::open_spec(&spec, None);
                match super::open_with_retries(open, std::thread::sleep) {
                    Ok(device) => {
                        if tx.send(device).is_err() {
                            return;
                        }
                    }
                    Err((error, attempts)) => tracing::debug!(
                        %spec,
                        attempts,
                        %error,
                        "a card that appeared could not be opened; skipping it"
                    ),
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

//! NFC cards in the key list: the cards on PC/SC readers now ([`present_cards`]) and the ones
//! put on a reader later ([`watch_into`]), through pcscd. Without the `pcsc` feature there are
//! none, and following them fails.

use std::sync::mpsc;

use latchkey_transport::DeviceSpec;

use crate::device::Device;

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

/// Follows pcscd on a thread and sends every card put on a reader from now on, opened (its FIDO
/// applet selected), to `tx`. Cards already present are not sent: [`present_cards`] lists
/// them. A card that fails to open is tried again while the failure may be its arrival not
/// being complete, then skipped (logged). The thread ends when pcscd goes away, or at the first
/// card after the receiver was dropped. `Err` if pcscd cannot be reached now.
#[cfg(feature = "pcsc")]
pub fn watch_into(tx: mpsc::Sender<Box<dyn Device>>) -> Result<(), crate::DeviceError> {
    use latchkey_transport::pcsc::{ReaderEvent, ReaderWatcher};

    let mut watcher = ReaderWatcher::open()
        .map_err(|e| crate::nfc::device_error(latchkey_transport::NfcChannelError::Link(e)))?;
    std::thread::spawn(move || loop {
        match watcher.next_event(super::WATCH_POLL) {
            Ok(Some(ReaderEvent::CardPresent(reader))) => {
                let open = || crate::nfc::open_reader(&reader, None);
                match super::open_with_retries(open, std::thread::sleep) {
                    Ok(device) => {
                        if tx.send(device).is_err() {
                            return;
                        }
                    }
                    Err((error, attempts)) => tracing::debug!(
                        %reader,
                        attempts,
                        %error,
                        "a card that appeared could not be opened; skipping it"
                    ),
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(%e, "stopped following PC/SC readers");
                return;
            }
        }
    });
    Ok(())
}

/// Without PC/SC support no reader can be followed.
#[cfg(not(feature = "pcsc"))]
pub fn watch_into(_tx: mpsc::Sender<Box<dyn Device>>) -> Result<(), crate::DeviceError> {
    Err(crate::DeviceError::Unsupported(
        "NFC keys in this build (it was built without the `pcsc` feature)",
    ))
}

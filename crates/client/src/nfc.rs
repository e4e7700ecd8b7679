//! NFC security keys (CTAP 2.1 §11.3): a card on a PC/SC reader, driven through
//! `latchkey-transport`'s [`NfcChannel`] over any [`ApduLink`].
//!
//! Opening a card selects the FIDO applet; a card that answers `U2F_V2` is asked
//! authenticatorGetInfo to learn whether it speaks CTAP2 too (as python-fido2 and libfido2 do).
//! Requests use short APDUs with command chaining and GET RESPONSE, which every reader carries.

use latchkey_ctap::iso7816::CommandApdu;
use latchkey_ctap::nfc::{AppletVersion, Encoding, NfcError};
use latchkey_transport::channel::TransactOptions;
use latchkey_transport::{ApduLink, LinkError, NfcChannel, NfcChannelError};

use crate::device::{
    CancelHandle, Device, DeviceDescription, DeviceError, Gone, KeepaliveStatus, Malformed,
    Transport, TransportError,
};

/// How long one APDU may wait for its answer. Cards answer a request that waits for the user
/// with status updates within a few hundred milliseconds; one that does not (CTAP 2.0) still
/// answers an NFC request quickly, since holding the card to the reader is the user's presence.
pub const APDU_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A card whose FIDO applet is selected.
pub struct NfcDevice<L: ApduLink> {
    channel: NfcChannel<L>,
    cancel: CancelHandle,
    description: DeviceDescription,
}

impl<L: ApduLink> std::fmt::Debug for NfcDevice<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfcDevice")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// What a failed exchange means to a ceremony.
pub fn device_error(e: NfcChannelError) -> DeviceError {
    match e {
        NfcChannelError::Link(LinkError::Removed(why)) => DeviceError::Gone(Gone::Removed(why)),
        NfcChannelError::Link(LinkError::Timeout) => DeviceError::Timeout,
        NfcChannelError::Link(LinkError::Cancelled) => DeviceError::Cancelled,
        NfcChannelError::Link(LinkError::Failed(why)) => {
            DeviceError::Transport(TransportError::Reader(why))
        }
        NfcChannelError::Protocol(NfcError::CancelIgnored) => DeviceError::Cancelled,
        NfcChannelError::Protocol(e @ NfcError::Status(_)) => {
            DeviceError::Transport(TransportError::Nfc(e))
        }
        NfcChannelError::Protocol(e) => DeviceError::Garbage(Malformed::Nfc(e)),
        NfcChannelError::NotFido(sw) => DeviceError::Transport(TransportError::NotFido(sw)),
    }
}

fn options<'a>(
    cancel: &'a CancelHandle,
    status: Option<&'a mut dyn FnMut(KeepaliveStatus)>,
) -> TransactOptions<'a> {
    TransactOptions {
        on_keepalive: status,
        cancel: Some(cancel.flag()),
        timeout: APDU_TIMEOUT,
        ..TransactOptions::default()
    }
}

impl<L: ApduLink> NfcDevice<L> {
    /// Selects the FIDO applet on the card behind `link` and learns whether it speaks CTAP2.
    pub fn open(link: L, name: String, path: String) -> Result<Self, DeviceError> {
        let cancel = CancelHandle::new();
        let mut channel = NfcChannel::open(link, Encoding::Short).map_err(device_error)?;
        let cbor = match channel.version() {
            AppletVersion::Fido2 => true,
            AppletVersion::U2f => {
                // authenticatorGetInfo: a U2F-only card refuses NFCCTAP_MSG's INS.
                match channel.cbor(&[0x04], options(&cancel, None)) {
                    Ok(answer) => answer.first() == Some(&0),
                    Err(NfcChannelError::Protocol(NfcError::Status(_))) => {
                        channel.select().map_err(device_error)?;
                        false
                    }
                    Err(e) => return Err(device_error(e)),
                }
            }
        };
        Ok(Self {
            channel,
            cancel,
            description: DeviceDescription {
                name,
                path,
                transport: Transport::Nfc,
                cbor,
            },
        })
    }
}

impl<L: ApduLink> Device for NfcDevice<L> {
    fn info(&self) -> DeviceDescription {
        self.description.clone()
    }

    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if !self.description.cbor {
            return Err(DeviceError::Unsupported("CTAP2 (NFCCTAP_MSG)"));
        }
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        self.channel
            .cbor(request, options(&self.cancel, Some(status)))
            .map_err(device_error)
    }

    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        let command = CommandApdu::parse(apdu)
            .map_err(|e| DeviceError::Transport(TransportError::BadApdu(e)))?;
        self.channel
            .msg(&command, options(&self.cancel, None))
            .map_err(device_error)
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }
}

/// Opens the card on the PC/SC reader named `reader`.
#[cfg(feature = "pcsc")]
pub fn open_reader(reader: &str, name: Option<&str>) -> Result<Box<dyn Device>, DeviceError> {
    use latchkey_transport::pcsc::PcscLink;
    let link = PcscLink::connect(reader, APDU_TIMEOUT)
        .map_err(|e| device_error(NfcChannelError::Link(e)))?;
    let name = name.map_or_else(|| format!("NFC key on {reader}"), str::to_owned);
    Ok(Box::new(NfcDevice::open(
        link,
        name,
        format!("pcsc:{reader}"),
    )?))
}

/// Without PC/SC support, no reader can be opened.
#[cfg(not(feature = "pcsc"))]
pub fn open_reader(reader: &str, _name: Option<&str>) -> Result<Box<dyn Device>, DeviceError> {
    let _ = reader;
    Err(DeviceError::Unsupported(
        "NFC keys in this build (it was built without the `pcsc` feature)",
    ))
}

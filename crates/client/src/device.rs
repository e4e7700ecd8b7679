//! One trait for every CTAP authenticator the client can drive: the in-process platform
//! authenticator, a virtual key over a socket, a USB key, an NFC card (CTAP 2.1 §8, §11).
//!
//! A [`Device`] moves bytes only: `authenticatorXxx` requests (command byte + CBOR parameters,
//! CTAP 2.1 §8.1) and U2F APDUs (CTAP 2.1 §11.2.9.1.1). Interpreting the status byte is the job of
//! [`crate::ctap2`]; a [`DeviceError`] means the bytes never came back (the device is gone, talked
//! nonsense, took too long, or the request was cancelled).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use latchkey_ctap::hid::KeepaliveStatus;
use latchkey_webauthn::options::create::AuthenticatorAttachment;
use latchkey_webauthn::options::AuthenticatorTransport;

mod errors;

pub use errors::{
    DeviceError, DeviceErrorKind, Gone, Malformed, Server, TransportError, Unreachable,
};

/// How the client reaches an authenticator (WebAuthn L3 §5.8.4 `AuthenticatorTransport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// The platform authenticator, in this process.
    Internal,
    /// A USB HID security key.
    Usb,
    /// A virtual key over a Unix socket or UDP (CTAPHID framing, reported as `usb`).
    Virtual,
    /// A contactless card on a PC/SC reader (CTAP over NFC, CTAP 2.1 §11.3).
    Nfc,
}

impl Transport {
    /// The `AuthenticatorTransport` reported in responses.
    pub fn as_webauthn(self) -> AuthenticatorTransport {
        match self {
            Self::Internal => AuthenticatorTransport::Internal,
            Self::Usb | Self::Virtual => AuthenticatorTransport::Usb,
            Self::Nfc => AuthenticatorTransport::Nfc,
        }
    }

    /// The `authenticatorAttachment` this transport implies (WebAuthn L3 §5.4.5).
    pub fn attachment(self) -> AuthenticatorAttachment {
        match self {
            Self::Internal => AuthenticatorAttachment::Platform,
            Self::Usb | Self::Virtual | Self::Nfc => AuthenticatorAttachment::CrossPlatform,
        }
    }
}

/// What the user (and logs) are told about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDescription {
    /// A short human name ("Latchkey platform authenticator", "virtual key at /run/…").
    pub name: String,
    /// Where it is: a socket path, `host:port`, a hidraw path, a store directory.
    pub path: String,
    /// How it is reached.
    pub transport: Transport,
    /// Whether it speaks CTAP2 (CTAPHID_CBOR); `false` for a U2F-only key.
    pub cbor: bool,
}

/// A shared flag that cancels whatever a device is doing (CTAPHID_CANCEL for HID devices, a
/// refused presence check for the platform authenticator). Cloning shares the flag.
#[derive(Clone, Default)]
pub struct CancelHandle {
    inner: Arc<CancelInner>,
}

#[derive(Default)]
struct CancelInner {
    cancelled: AtomicBool,
    hooks: Mutex<Vec<Box<dyn Fn() + Send>>>,
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelHandle {
    /// A handle that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels: the running request fails with [`DeviceError::Cancelled`] (or the device's
    /// `CTAP2_ERR_KEEPALIVE_CANCEL`), and every later request fails until [`Self::reset`].
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        if let Ok(hooks) = self.inner.hooks.lock() {
            for hook in hooks.iter() {
                hook();
            }
        }
    }

    /// Whether [`Self::cancel`] was called since the last reset.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Clears the flag, for the next ceremony.
    pub fn reset(&self) {
        self.inner.cancelled.store(false, Ordering::SeqCst);
    }

    /// The flag itself, for transports that poll it (CTAPHID_CANCEL).
    pub fn flag(&self) -> &AtomicBool {
        &self.inner.cancelled
    }

    /// Runs `hook` on every later [`Self::cancel`] (a transport wakes its reader this way).
    pub fn on_cancel(&self, hook: impl Fn() + Send + 'static) {
        if let Ok(mut hooks) = self.inner.hooks.lock() {
            hooks.push(Box::new(hook));
        }
    }
}

/// Any CTAP authenticator, as bytes in and bytes out.
pub trait Device: Send {
    /// What this device is.
    fn info(&self) -> DeviceDescription;

    /// Sends one CTAP2 request — the command byte followed by its CBOR parameters — and returns
    /// the response: the status byte followed by CBOR (CTAP 2.1 §8.1). `status` is called for
    /// every keepalive while the device works or waits for a touch.
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError>;

    /// Sends one U2F APDU (CTAPHID_MSG) and returns the response APDU (data + SW1 SW2).
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError>;

    /// The handle that cancels this device's requests.
    fn cancel_handle(&self) -> CancelHandle;

    /// What the client may keep of this authenticator between ceremonies: only our own platform
    /// authenticator, which nothing but this device changes, returns one ([`crate::kept`]).
    fn kept(&mut self) -> Option<&mut crate::kept::Kept> {
        None
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn info(&self) -> DeviceDescription {
        (**self).info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        (**self).cbor(request, status)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        (**self).msg(apdu)
    }
    fn cancel_handle(&self) -> CancelHandle {
        (**self).cancel_handle()
    }
    fn kept(&mut self) -> Option<&mut crate::kept::Kept> {
        (**self).kept()
    }
}

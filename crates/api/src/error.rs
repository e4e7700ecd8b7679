//! The two error surfaces of the D-Bus API.
//!
//! * [`Error`] is the only error a *method call* returns (the typed D-Bus error enum): malformed
//!   D-Bus arguments, a handle that is taken, a caller the kernel cannot vouch for.
//! * [`latchkey_webauthn::WebAuthnError`] is a WebAuthn failure; it never fails a method call but
//!   travels in the `Response` signal's `error` (the DOMException name, WebAuthn L3 §5.1.3,
//!   §5.1.4.1) and `message`.

/// Errors returned by `dev.latchkey.Credentials1` methods (`dev.latchkey.Credentials1.Error.*`).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "dev.latchkey.Credentials1.Error")]
pub enum Error {
    /// A zbus transport error (never sent to peers as such).
    #[zbus(error)]
    ZBus(zbus::Error),
    /// An argument has the wrong D-Bus type or an invalid value (e.g. a `handle_token` that is not
    /// a valid object path element).
    InvalidArgument(String),
    /// The request handle the caller asked for is already in use.
    HandleInUse(String),
    /// The kernel could not vouch for the caller, or its credentials contradict each other.
    CallerRefused(String),
    /// The caller may not use this management method (e.g. a sandboxed app listing passkeys).
    AccessDenied(String),
    /// No such credential or request.
    NotFound(String),
    /// The authenticator back-end failed.
    Failed(String),
    /// The caller may not use this RP ID from its origin (WebAuthn `SecurityError`), e.g. a
    /// signal for an RP the caller does not belong to.
    Security(String),
    /// No authenticator supports this (WebAuthn `NotSupportedError`), e.g. a signal none applies.
    NotSupported(String),
    /// Too many management calls are running (for this caller, or waiting for the platform
    /// authenticator a ceremony holds); retry later.
    Busy(String),
    /// The moment for this has passed: a security key resets only within 10 seconds of being
    /// plugged in (CTAP 2.1 §6.6). Unplug it, plug it back in and try again at once.
    TooLate(String),
}

impl Error {
    /// The method error for a WebAuthn failure of a method that answers directly (the signals):
    /// `TypeError`/`EncodingError` → `InvalidArgument`, `SecurityError` → `Security`,
    /// `NotAllowedError` → `CallerRefused`, `NotSupportedError` → `NotSupported`, else `Failed`.
    /// [`crate::client::ClientError::webauthn_error`] maps them back.
    pub fn from_webauthn(e: &latchkey_webauthn::WebAuthnError) -> Self {
        use latchkey_webauthn::ErrorName;
        let message = e.message().to_owned();
        match e.kind() {
            ErrorName::Type | ErrorName::Encoding => Self::InvalidArgument(message),
            ErrorName::Security => Self::Security(message),
            ErrorName::NotAllowed => Self::CallerRefused(message),
            ErrorName::NotSupported => Self::NotSupported(message),
            _ => Self::Failed(format!("{}: {message}", e.name())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn dbus_error_names_are_namespaced() {
        use zbus::DBusError as _;
        let e = Error::HandleInUse("x".into());
        assert_eq!(
            e.name().as_str(),
            "dev.latchkey.Credentials1.Error.HandleInUse"
        );
        assert_eq!(e.description(), Some("x"));
    }

    #[test]
    fn webauthn_errors_round_trip_through_method_errors() {
        use crate::client::ClientError;
        use latchkey_webauthn::WebAuthnError;
        use zbus::DBusError as _;
        for e in [
            WebAuthnError::type_error("t"),
            WebAuthnError::security("s"),
            WebAuthnError::not_allowed("n"),
            WebAuthnError::not_supported("u"),
        ] {
            let m = Error::from_webauthn(&e);
            let back = ClientError::Method {
                name: m.name().to_string(),
                message: m.description().unwrap_or_default().to_owned(),
            }
            .webauthn_error();
            assert_eq!((back.name(), back.message()), (e.name(), e.message()));
        }
        assert_eq!(
            Error::from_webauthn(&WebAuthnError::encoding("e"))
                .name()
                .as_str(),
            "dev.latchkey.Credentials1.Error.InvalidArgument"
        );
    }
}

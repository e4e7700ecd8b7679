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
}

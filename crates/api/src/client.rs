//! The caller side of `dev.latchkey.Credentials1`, for the `latchkey` command, the native
//! messaging host and tests. Follows the portal convention: wait for `Response` on the
//! predicted handle (`/…/request/SENDER/TOKEN`), registered *before* calling, so no result can
//! be missed; one subscription per connection serves every request (`responses`).

mod responses;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;
use zbus::names::OwnedUniqueName;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::Connection;

use responses::{Responses, Waiter};

use crate::names::{INTERFACE, OBJECT_PATH, REQUEST_INTERFACE};
use crate::request::{handle_path, Kind};

/// Proxy for `dev.latchkey.Credentials1`.
#[zbus::proxy(
    interface = "dev.latchkey.Credentials1",
    default_service = "dev.latchkey.Credentials",
    default_path = "/dev/latchkey/Credentials",
    gen_blocking = false
)]
pub trait Credentials1 {
    /// See the interface XML.
    fn create_credential(
        &self,
        parent_window: &str,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<OwnedObjectPath>;
    /// See the interface XML.
    fn get_credential(
        &self,
        parent_window: &str,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<OwnedObjectPath>;
    /// See the interface XML.
    fn get_client_capabilities(&self) -> zbus::Result<HashMap<String, bool>>;
    /// See the interface XML.
    fn list_credentials(
        &self,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;
    /// See the interface XML.
    fn delete_credential(&self, credential_id: &str) -> zbus::Result<()>;
    /// See the interface XML.
    fn list_remembered_sites(
        &self,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;
    /// See the interface XML.
    fn revoke_remembered_site(&self, browser: &str, rp_id: &str) -> zbus::Result<()>;
    /// See the interface XML.
    fn change_platform_pin(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<()>;
    /// See the interface XML.
    fn list_security_keys(
        &self,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;
    /// See the interface XML.
    fn list_security_key_credentials(
        &self,
        key: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;
    /// See the interface XML.
    fn delete_security_key_credential(&self, key: &str, credential_id: &str) -> zbus::Result<()>;
    /// See the interface XML.
    fn change_security_key_pin(
        &self,
        key: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;
    /// See the interface XML.
    fn reset_security_key(&self, key: &str, options: HashMap<&str, Value<'_>>) -> zbus::Result<()>;
    /// See the interface XML.
    fn register_prompt(&self) -> zbus::Result<()>;
    /// See the interface XML.
    fn signal_unknown_credential(
        &self,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;
    /// See the interface XML.
    fn signal_all_accepted_credentials(
        &self,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;
    /// See the interface XML.
    fn signal_current_user_details(
        &self,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;
    /// See the interface XML.
    #[zbus(property)]
    fn version(&self) -> zbus::Result<u32>;
}

/// What the caller vouches for (privileged clients only) and the handle token to use.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// `origin`.
    pub origin: Option<String>,
    /// `top_origin`.
    pub top_origin: Option<String>,
    /// `handle_token` (generated when `None`).
    pub handle_token: Option<String>,
    /// `parent_window`: the caller's window the prompt is to be transient for (`x11:XID`,
    /// `wayland:HANDLE`); empty when `None`.
    pub parent_window: Option<String>,
}

/// The `Response` of a request.
#[derive(Debug)]
pub struct Outcome {
    /// 0 success, 1 refused by the user, 2 other error.
    pub code: u32,
    /// The results dictionary.
    pub results: HashMap<String, OwnedValue>,
}

impl Outcome {
    fn string(&self, key: &str) -> Option<String> {
        self.results.get(key).and_then(|v| match &**v {
            Value::Str(s) => Some(s.to_string()),
            _ => None,
        })
    }
    /// The DOMException name, on failure.
    pub fn error_name(&self) -> Option<String> {
        self.string("error")
    }
    /// The failure message.
    pub fn message(&self) -> Option<String> {
        self.string("message")
    }
    /// `registration_response_json` or `authentication_response_json`.
    pub fn response_json(&self) -> Option<String> {
        self.string("registration_response_json")
            .or_else(|| self.string("authentication_response_json"))
    }
}

/// A client-side failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The method call failed (a `dev.latchkey.Credentials1.Error.*` or bus error).
    #[error("{name}: {message}")]
    Method {
        /// The D-Bus error name.
        name: String,
        /// Its message.
        message: String,
    },
    /// Transport failure.
    #[error(transparent)]
    Bus(zbus::Error),
    /// The bus closed before a `Response` arrived.
    #[error("no Response arrived")]
    NoResponse,
}

impl From<zbus::Error> for ClientError {
    fn from(e: zbus::Error) -> Self {
        match e {
            zbus::Error::MethodError(name, message, _) => ClientError::Method {
                name: name.to_string(),
                message: message.unwrap_or_default(),
            },
            zbus::Error::FDO(fdo) => {
                use zbus::DBusError as _;
                ClientError::Method {
                    name: fdo.name().to_string(),
                    message: fdo.description().unwrap_or_default().to_owned(),
                }
            }
            other => ClientError::Bus(other),
        }
    }
}

impl From<zbus::fdo::Error> for ClientError {
    fn from(e: zbus::fdo::Error) -> Self {
        zbus::Error::FDO(Box::new(e)).into()
    }
}

impl ClientError {
    /// The D-Bus error name, if the method call was refused.
    pub fn dbus_name(&self) -> Option<&str> {
        match self {
            ClientError::Method { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The WebAuthn error a caller of latchkeyd reports for this failure: the one mapping of
    /// `dev.latchkey.Credentials1.Error.*` (see [`crate::error::Error`]) to DOMException names,
    /// shared by every client (the `latchkey` command, the native messaging host).
    pub fn webauthn_error(&self) -> latchkey_webauthn::WebAuthnError {
        use latchkey_webauthn::WebAuthnError;
        let ClientError::Method { name, message } = self else {
            return WebAuthnError::unknown(format!("latchkeyd: {self}"));
        };
        match name.strip_prefix("dev.latchkey.Credentials1.Error.") {
            Some("InvalidArgument") => WebAuthnError::type_error(message.clone()),
            Some("HandleInUse") => WebAuthnError::invalid_state(message.clone()),
            // Refusals, and credentials the caller may not know exist, look the same.
            Some("CallerRefused" | "AccessDenied" | "NotFound" | "TooLate") => {
                WebAuthnError::not_allowed(message.clone())
            }
            Some("Security") => WebAuthnError::security(message.clone()),
            Some("NotSupported") => WebAuthnError::not_supported(message.clone()),
            _ => WebAuthnError::unknown(format!("latchkeyd: {self}")),
        }
    }
}

/// A request in flight.
pub struct Pending {
    conn: Connection,
    owner: OwnedUniqueName,
    /// Its handle.
    pub handle: OwnedObjectPath,
    waiter: Waiter,
}

impl Pending {
    /// Waits for `Response`.
    pub async fn response(mut self) -> Result<Outcome, ClientError> {
        let msg = self.waiter.response().await?;
        let (code, results): (u32, HashMap<String, OwnedValue>) = msg.body().deserialize()?;
        Ok(Outcome { code, results })
    }

    /// Cancels it (`Close()`); no `Response` follows.
    pub async fn close(&self) -> Result<(), ClientError> {
        self.closer().close().await
    }

    /// What closes this request, kept apart from it so a caller can wait for the `Response`
    /// (which consumes the `Pending`) and still close the request when interrupted.
    pub fn closer(&self) -> Closer {
        Closer {
            conn: self.conn.clone(),
            owner: self.owner.clone(),
            handle: self.handle.clone(),
        }
    }
}

/// Closes one request (see [`Pending::closer`]).
#[derive(Clone)]
pub struct Closer {
    conn: Connection,
    /// The latchkeyd the request was made to.
    owner: OwnedUniqueName,
    handle: OwnedObjectPath,
}

impl Closer {
    /// Cancels the request (`Close()`); no `Response` follows.
    pub async fn close(&self) -> Result<(), ClientError> {
        self.conn
            .call_method(
                Some(self.owner.as_str()),
                self.handle.as_str(),
                Some(REQUEST_INTERFACE),
                "Close",
                &(),
            )
            .await?;
        Ok(())
    }
}

/// A fresh handle token: 128 random bits, so that no other peer can predict a request's handle.
fn random_token() -> Result<String, ClientError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        ClientError::Bus(zbus::Error::Failure(format!(
            "no randomness for a handle token: {e}"
        )))
    })?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("lk{hex}"))
}

/// Whether a failed call means its destination has left the bus.
fn destination_gone(e: &zbus::Error) -> bool {
    match e {
        zbus::Error::MethodError(name, _, _) => matches!(
            name.as_str(),
            "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner"
        ),
        zbus::Error::FDO(e) => matches!(
            **e,
            zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_)
        ),
        _ => false,
    }
}

/// A connection to latchkeyd. Requests go to the unique name of the `dev.latchkey.Credentials`
/// owner that [`crate::latchkeyd::verified_owner`] found to be latchkeyd, and only that name's
/// `Response` is taken; it is found again if that latchkeyd leaves the bus.
#[derive(Clone)]
pub struct CredentialsClient {
    conn: Connection,
    proxy: Credentials1Proxy<'static>,
    /// The verified latchkeyd, once a request needed it.
    owner: Arc<Mutex<Option<OwnedUniqueName>>>,
    /// The `Response` subscription, made by the first request.
    responses: Arc<OnceCell<Responses>>,
    /// A peer-to-peer connection straight to latchkeyd ([`Self::on_peer`]): no bus to find it on.
    peer: bool,
}

impl CredentialsClient {
    /// Connects to the bus at `address` (the session bus when `None`).
    pub async fn connect(address: Option<&str>) -> Result<Self, ClientError> {
        let conn = match address {
            Some(a) => zbus::connection::Builder::address(a)?.build().await?,
            None => Connection::session().await?,
        };
        Self::on(conn).await
    }

    /// Uses an existing connection.
    pub async fn on(conn: Connection) -> Result<Self, ClientError> {
        Self::over(conn, None).await
    }

    /// A client on `conn`: `latchkeyd` is the peer's name on a peer-to-peer connection (none on
    /// a bus, where it is learned from the bus).
    async fn over(
        conn: Connection,
        latchkeyd: Option<OwnedUniqueName>,
    ) -> Result<Self, ClientError> {
        let proxy = Credentials1Proxy::builder(&conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        let peer = latchkeyd.is_some();
        Ok(Self {
            conn,
            proxy,
            owner: Arc::new(Mutex::new(latchkeyd)),
            responses: Arc::default(),
            peer,
        })
    }

    /// Uses a peer-to-peer connection whose other end is latchkeyd (no bus in between): the peer
    /// is latchkeyd because this process connected to it, and its `Response`s are the ones sent as
    /// `latchkeyd`, the name latchkeyd's end of the connection goes by. The connection must have
    /// a unique name of its own, under which latchkeyd files its requests.
    pub async fn on_peer(
        conn: Connection,
        latchkeyd: OwnedUniqueName,
    ) -> Result<Self, ClientError> {
        Self::over(conn, Some(latchkeyd)).await
    }

    /// The latchkeyd this client sends requests to: the verified owner of `dev.latchkey.Credentials`
    /// (found, and latchkeyd started, on first use; found again when `again` is set).
    pub async fn latchkeyd(&self, again: bool) -> Result<OwnedUniqueName, ClientError> {
        if !again || self.peer {
            if let Some(o) = self.lock_owner().clone() {
                return Ok(o);
            }
        }
        let owner = crate::latchkeyd::verified_owner(&self.conn).await?;
        *self.lock_owner() = Some(owner.clone());
        Ok(owner)
    }

    fn lock_owner(&self) -> std::sync::MutexGuard<'_, Option<OwnedUniqueName>> {
        self.owner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The proxy, for the other methods. It calls the well-known name; the ceremonies' results,
    /// which arrive as signals, are taken only from the verified latchkeyd ([`Self::start`]).
    pub fn proxy(&self) -> &Credentials1Proxy<'static> {
        &self.proxy
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Starts a request and returns it in flight.
    pub async fn start(
        &self,
        kind: Kind,
        options_json: &str,
        opts: &CallOptions,
    ) -> Result<Pending, ClientError> {
        let token = match &opts.handle_token {
            Some(t) => t.clone(),
            None => random_token()?,
        };
        let me = self.conn.unique_name().ok_or(ClientError::NoResponse)?;
        let predicted = handle_path(me, &token).map_err(|e| ClientError::Method {
            name: "dev.latchkey.Credentials1.Error.InvalidArgument".into(),
            message: e.to_string(),
        })?;
        let mut owner = self.latchkeyd(false).await?;
        let responses = self
            .responses
            .get_or_try_init(|| async {
                let prefix = predicted
                    .as_str()
                    .rsplit_once('/')
                    .map_or(predicted.as_str(), |(prefix, _)| prefix);
                Responses::subscribe(&self.conn, prefix, Arc::clone(&self.owner)).await
            })
            .await?;
        let waiter = responses.expect(predicted)?;
        let mut dict: HashMap<&str, Value<'_>> = HashMap::new();
        dict.insert("handle_token", Value::from(token.as_str()));
        if let Some(o) = &opts.origin {
            dict.insert("origin", Value::from(o.as_str()));
        }
        if let Some(t) = &opts.top_origin {
            dict.insert("top_origin", Value::from(t.as_str()));
        }
        let member = match kind {
            Kind::Create => "CreateCredential",
            Kind::Get => "GetCredential",
        };
        let body = (
            opts.parent_window.as_deref().unwrap_or(""),
            options_json,
            &dict,
        );
        let call = |owner: OwnedUniqueName| {
            let conn = self.conn.clone();
            async move {
                conn.call_method(
                    Some(owner.as_str()),
                    OBJECT_PATH,
                    Some(INTERFACE),
                    member,
                    &body,
                )
                .await
            }
        };
        let reply = match call(owner.clone()).await {
            // latchkeyd restarted since it was found: find it again, once.
            Err(e) if destination_gone(&e) => {
                owner = self.latchkeyd(true).await?;
                call(owner.clone()).await?
            }
            other => other?,
        };
        let handle: OwnedObjectPath = reply.body().deserialize()?;
        Ok(Pending {
            conn: self.conn.clone(),
            owner,
            handle,
            waiter,
        })
    }

    /// Runs a request to its `Response`.
    pub async fn call(
        &self,
        kind: Kind,
        options_json: &str,
        opts: &CallOptions,
    ) -> Result<Outcome, ClientError> {
        self.start(kind, options_json, opts).await?.response().await
    }
}

#[cfg(test)]
mod webauthn_error_tests {
    use super::ClientError;

    fn method(name: &str) -> ClientError {
        ClientError::Method {
            name: name.into(),
            message: "why".into(),
        }
    }

    #[test]
    fn method_errors_map_to_domexception_names() {
        let cases = [
            (
                "dev.latchkey.Credentials1.Error.InvalidArgument",
                "TypeError",
            ),
            (
                "dev.latchkey.Credentials1.Error.HandleInUse",
                "InvalidStateError",
            ),
            (
                "dev.latchkey.Credentials1.Error.CallerRefused",
                "NotAllowedError",
            ),
            (
                "dev.latchkey.Credentials1.Error.AccessDenied",
                "NotAllowedError",
            ),
            (
                "dev.latchkey.Credentials1.Error.NotFound",
                "NotAllowedError",
            ),
            ("dev.latchkey.Credentials1.Error.Failed", "UnknownError"),
            ("dev.latchkey.Credentials1.Error.Security", "SecurityError"),
            (
                "dev.latchkey.Credentials1.Error.NotSupported",
                "NotSupportedError",
            ),
            ("org.freedesktop.DBus.Error.ServiceUnknown", "UnknownError"),
            // A look-alike outside our interface is not one of ours.
            ("com.example.Error.InvalidArgument", "UnknownError"),
        ];
        for (name, expected) in cases {
            assert_eq!(method(name).webauthn_error().name(), expected, "{name}");
        }
        assert_eq!(
            method("dev.latchkey.Credentials1.Error.InvalidArgument")
                .webauthn_error()
                .message(),
            "why"
        );
        assert_eq!(
            ClientError::NoResponse.webauthn_error().name(),
            "UnknownError"
        );
    }
}

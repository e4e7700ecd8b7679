//! `dev.latchkey.Credentials1` (data/dev.latchkey.Credentials1.xml), following xdg-desktop-portal
//! request conventions: `CreateCredential`/`GetCredential` return a request handle at once and the
//! result arrives later as `Response` on it (see [`crate::request`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use zbus::message::Header;
use zbus::object_server::ObjectServer;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::Connection;

use crate::authorize::{self, AuthorizeError, Grant, OriginClaims};
use crate::identity::CallerIdentity;
use crate::policy::CallerClass;
use crate::queue::caller_key;
use crate::request::{self, NewRequest};
use crate::signal::{SignalError, SignalKind, SignalRequest};
use crate::state::Shared;
use latchkey_api::Kind;
use latchkey_api::API_VERSION;
use latchkey_api::{handle_path, Error};

/// The interface object at `/dev/latchkey/Credentials`.
pub struct CredentialsService {
    shared: Arc<Shared>,
}

impl CredentialsService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn string_option(options: &HashMap<&str, Value<'_>>, key: &str) -> Result<Option<String>, Error> {
    match options.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_string())),
        Some(other) => Err(Error::InvalidArgument(format!(
            "option {key} must be a string (s), not {}",
            other.value_signature()
        ))),
    }
}

impl CredentialsService {
    #[allow(clippy::too_many_arguments)] // the D-Bus signature plus zbus's injected context
    async fn start(
        &self,
        kind: Kind,
        hdr: Header<'_>,
        conn: &Connection,
        server: &ObjectServer,
        (parent_window, options_json): (&str, String),
        options: HashMap<&str, Value<'_>>,
    ) -> Result<OwnedObjectPath, Error> {
        let parent_window = latchkey_prompt::ParentWindow::parse(parent_window)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let sender = self.shared.callers.sender(&hdr)?;
        let id = self.shared.next_request_id();
        let token = match string_option(&options, "handle_token")? {
            Some(t) => t,
            None => format!("latchkey{}", id.0),
        };
        let path = handle_path(&sender, &token)?;
        let origin = string_option(&options, "origin")?;
        let top_origin = string_option(&options, "top_origin")?;
        let started = std::time::Instant::now();
        let caller = self.shared.identify(conn, &sender).await?;
        tracing::debug!(request = %id, phase = "identify", us = crate::prompt::micros(started), "phase");
        request::spawn(
            self.shared.clone(),
            conn.clone(),
            server,
            NewRequest {
                id,
                kind,
                path: path.clone(),
                sender,
                caller,
                options_json,
                origin,
                top_origin,
                parent_window,
            },
        )
        .await?;
        Ok(path)
    }

    /// A signal (L3 §5.1.10): parsed, its RP ID checked against the caller's own origin (equal to
    /// its effective domain or a registrable suffix of it — never through Related Origin
    /// Requests, §5.11, which serve create/get only), then applied to the platform credentials
    /// without a prompt, within [`crate::limits::CallLimits`]. Answers nothing about what it
    /// found.
    async fn signal(
        &self,
        kind: SignalKind,
        hdr: &Header<'_>,
        conn: &Connection,
        options_json: &str,
        options: &HashMap<&str, Value<'_>>,
    ) -> Result<(), Error> {
        let sender = self.shared.callers.sender(hdr)?;
        let origin = string_option(options, "origin")?;
        let top_origin = string_option(options, "top_origin")?;
        let parsed =
            SignalRequest::parse(kind, options_json).map_err(|e| Error::from_webauthn(&e))?;
        let caller = self.shared.identify(conn, &sender).await?;
        let class = self.shared.settings.policy.classify(&caller);
        let claims = OriginClaims {
            origin: origin.as_deref(),
            top_origin: top_origin.as_deref(),
            rp_id: Some(parsed.rp_id.as_str()),
        };
        let grant = match authorize::authorize(&class, &caller, &claims) {
            Ok(g) => g,
            Err(AuthorizeError::WebAuthn(e)) => return Err(Error::from_webauthn(&e)),
            // An origin an RP's /.well-known/webauthn lists may act for it in ceremonies the
            // user consents to, not in silent signals that delete or rename its credentials.
            Err(AuthorizeError::TryRelatedOrigins { error, .. }) => {
                return Err(Error::Security(format!(
                    "{}; related origins (WebAuthn L3 §5.11) do not apply to signals",
                    error.message()
                )))
            }
        };
        let authorized = match grant {
            Grant::Allowed(a) => a.rp().clone(),
            // Only the user could vouch for an unknown caller, and signals never ask the user.
            Grant::NeedsApproval(..) => {
                return Err(Error::Security(
                    "an unverified caller may not send signals: they are silent, so the user \
                     cannot approve it"
                        .into(),
                ))
            }
        };
        let store = self.shared.settings.backends.store.clone();
        if !store.signal_support().supports(kind) {
            return Err(Error::NotSupported(format!(
                "no authenticator supports {}",
                kind.capability()
            )));
        }
        let shown = request::shown_caller(&class, &caller);
        let signal = parsed.authorized(authorized.rp_id().clone());
        let rp_id = signal.rp_id.to_string();
        let key = caller_key(&caller, self.shared.settings.uid);
        let applied = self
            .shared
            .calls
            .run(key, move || store.apply_signal(&signal))
            .await
            .map_err(|e| {
                tracing::info!(signal = kind.capability(), caller = %shown, rp_id, reason = %e, "signal refused");
                // NotAllowedError: the page may retry.
                Error::CallerRefused(e.to_string())
            })?
            .map_err(|e| Error::Failed(format!("the signal thread failed: {e}")))?;
        match applied {
            Ok(report) => {
                tracing::info!(
                    signal = kind.capability(),
                    caller = %shown,
                    rp_id,
                    removed = report.removed,
                    updated = report.updated,
                    "signal applied"
                );
                Ok(())
            }
            Err(e @ SignalError::NotSupported(_)) => Err(Error::NotSupported(e.to_string())),
            Err(SignalError::Store(e)) => {
                tracing::info!(signal = kind.capability(), caller = %shown, rp_id, "signal failed");
                let fault = crate::fault::manage_fault(e);
                fault.log(kind.capability());
                Err(fault.method_error())
            }
        }
    }

    async fn manager(&self, hdr: &Header<'_>, conn: &Connection) -> Result<CallerIdentity, Error> {
        let sender = self.shared.callers.sender(hdr)?;
        let caller = self.shared.identify(conn, &sender).await?;
        // Sandboxed includes any mount namespace but latchkeyd's own: a sandbox it does not
        // recognise (or one whose marks it could not verify) manages nothing.
        if caller.sandboxed()
            || !caller.same_mount_namespace
            || self.shared.settings.policy.classify(&caller) == CallerClass::Denied
        {
            return Err(Error::AccessDenied(
                "sandboxed or denied callers, and callers in a mount namespace other than latchkeyd's, may not manage credentials".into(),
            ));
        }
        Ok(caller)
    }
}

#[zbus::interface(name = "dev.latchkey.Credentials1")]
impl CredentialsService {
    /// `navigator.credentials.create()`: returns the request handle; the result comes as
    /// `Response` on it.
    #[zbus(out_args("handle"))]
    async fn create_credential(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        #[zbus(object_server)] server: &ObjectServer,
        parent_window: &str,
        options_json: String,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<OwnedObjectPath, Error> {
        self.start(
            Kind::Create,
            hdr,
            conn,
            server,
            (parent_window, options_json),
            options,
        )
        .await
    }

    /// `navigator.credentials.get()`.
    #[zbus(out_args("handle"))]
    async fn get_credential(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        #[zbus(object_server)] server: &ObjectServer,
        parent_window: &str,
        options_json: String,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<OwnedObjectPath, Error> {
        self.start(
            Kind::Get,
            hdr,
            conn,
            server,
            (parent_window, options_json),
            options,
        )
        .await
    }

    /// `PublicKeyCredential.getClientCapabilities()` (L3 §5.1.7).
    #[zbus(out_args("capabilities"))]
    async fn get_client_capabilities(&self) -> HashMap<String, bool> {
        let mut caps: BTreeMap<String, bool> = [
            "conditionalCreate",
            "conditionalGet",
            "hybridTransport",
            "passkeyPlatformAuthenticator",
            "userVerifyingPlatformAuthenticator",
            "relatedOrigins",
            "signalAllAcceptedCredentials",
            "signalCurrentUserDetails",
            "signalUnknownCredential",
        ]
        .into_iter()
        .map(|k| (k.to_owned(), false))
        .collect();
        caps.insert(
            "relatedOrigins".into(),
            self.shared.settings.related_origins.is_some(),
        );
        let backends = &self.shared.settings.backends;
        caps.extend(backends.ceremonies.capabilities());
        // Signals are reported from what the store applies, whatever else a back-end says.
        let signals = backends.store.signal_support();
        for kind in [
            SignalKind::UnknownCredential,
            SignalKind::AllAcceptedCredentials,
            SignalKind::CurrentUserDetails,
        ] {
            caps.insert(kind.capability().to_owned(), signals.supports(kind));
        }
        caps.into_iter().collect()
    }

    /// `PublicKeyCredential.signalUnknownCredential()` (L3 §5.1.10.1).
    async fn signal_unknown_credential(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<(), Error> {
        self.signal(
            SignalKind::UnknownCredential,
            &hdr,
            conn,
            options_json,
            &options,
        )
        .await
    }

    /// `PublicKeyCredential.signalAllAcceptedCredentials()` (L3 §5.1.10.2).
    async fn signal_all_accepted_credentials(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<(), Error> {
        self.signal(
            SignalKind::AllAcceptedCredentials,
            &hdr,
            conn,
            options_json,
            &options,
        )
        .await
    }

    /// `PublicKeyCredential.signalCurrentUserDetails()` (L3 §5.1.10.3).
    async fn signal_current_user_details(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        options_json: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<(), Error> {
        self.signal(
            SignalKind::CurrentUserDetails,
            &hdr,
            conn,
            options_json,
            &options,
        )
        .await
    }

    /// The platform authenticator's credentials (`options`: `rp_id`).
    #[zbus(out_args("credentials"))]
    async fn list_credentials(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
        let caller = self.manager(&hdr, conn).await?;
        let rp_id = string_option(&options, "rp_id")?;
        // The store may be busy with a ceremony (waiting for a PIN): wait off the bus threads,
        // and within the call limits.
        let store = self.shared.settings.backends.store.clone();
        let list = self
            .shared
            .calls
            .call(
                caller_key(&caller, self.shared.settings.uid),
                "listing",
                move || store.list(rp_id.as_deref()),
            )
            .await?
            .map_err(|e| {
                let fault = e.fault();
                fault.log("ListCredentials");
                fault.method_error()
            })?;
        Ok(list
            .into_iter()
            .map(crate::key_manage::credential_entry)
            .collect())
    }

    /// Deletes a platform credential by its base64url ID.
    async fn delete_credential(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        credential_id: &str,
    ) -> Result<(), Error> {
        let caller = self.manager(&hdr, conn).await?;
        let id = latchkey_webauthn::b64::decode("credential_id", credential_id)
            .map_err(|e| Error::InvalidArgument(e.message().to_owned()))?;
        let store = self.shared.settings.backends.store.clone();
        let found = self
            .shared
            .calls
            .call(
                caller_key(&caller, self.shared.settings.uid),
                "deleting",
                move || store.delete(&id),
            )
            .await?
            .map_err(|e| {
                let fault = e.fault();
                fault.log("DeleteCredential");
                fault.method_error()
            })?;
        if found {
            Ok(())
        } else {
            Err(Error::NotFound(
                "no platform credential with that ID".into(),
            ))
        }
    }

    /// The remembered site decisions ("Always allow BROWSER to use passkeys for RP_ID"), oldest
    /// first: `browser` (s), `rp_id` (s), `created` (t).
    #[zbus(out_args("decisions"))]
    async fn list_remembered_sites(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
        self.manager(&hdr, conn).await?;
        let _ = options;
        Ok(self
            .shared
            .remembered
            .list()
            .into_iter()
            .map(|d| {
                HashMap::from([
                    (
                        "browser".to_owned(),
                        OwnedValue::from(zbus::zvariant::Str::from(d.browser)),
                    ),
                    (
                        "rp_id".to_owned(),
                        OwnedValue::from(zbus::zvariant::Str::from(d.rp_id)),
                    ),
                    ("created".to_owned(), OwnedValue::from(d.created)),
                ])
            })
            .collect())
    }

    /// Forgets a remembered site decision: the next request from `browser` for `rp_id` asks for
    /// consent again.
    async fn revoke_remembered_site(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        browser: &str,
        rp_id: &str,
    ) -> Result<(), Error> {
        let caller = self.manager(&hdr, conn).await?;
        match self.shared.remembered.revoke(browser, rp_id) {
            Ok(true) => {
                tracing::info!(browser, rp_id, by = %caller.display_name(), "site decision revoked");
                Ok(())
            }
            Ok(false) => Err(Error::NotFound(
                "no remembered decision for that browser and site".into(),
            )),
            Err(e) => Err(Error::Failed(e.to_string())),
        }
    }

    /// Changes the platform authenticator's PIN, asking the trusted prompt for the current and
    /// the new one (through file descriptors); returns when the user is done.
    async fn change_platform_pin(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<(), Error> {
        let caller = self.manager(&hdr, conn).await?;
        let _ = options;
        crate::pin_change::change_platform_pin(&self.shared, conn, &caller).await
    }

    /// The security keys present: `handle`, `name`, `transport`, `aaguid`, `pin_set`,
    /// `pin_retries` (when known), `credential_management`, `min_pin_length`.
    #[zbus(out_args("keys"))]
    async fn list_security_keys(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
        let caller = self.manager(&hdr, conn).await?;
        let _ = options;
        crate::key_manage::list_keys(&self.shared, &caller).await
    }

    /// A security key's passkeys, after its PIN (asked in the trusted prompt).
    #[zbus(out_args("credentials"))]
    async fn list_security_key_credentials(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        key: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<Vec<HashMap<String, OwnedValue>>, Error> {
        let caller = self.manager(&hdr, conn).await?;
        let _ = options;
        crate::key_manage::list_credentials(&self.shared, conn, &caller, key).await
    }

    /// Deletes one of a security key's passkeys, after its PIN.
    async fn delete_security_key_credential(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        key: &str,
        credential_id: &str,
    ) -> Result<(), Error> {
        let caller = self.manager(&hdr, conn).await?;
        crate::key_manage::delete_credential(&self.shared, conn, &caller, key, credential_id).await
    }

    /// Changes (or sets) a security key's PIN, asking the trusted prompt.
    async fn change_security_key_pin(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        key: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<(), Error> {
        let caller = self.manager(&hdr, conn).await?;
        let _ = options;
        crate::key_manage::change_pin(&self.shared, conn, &caller, key).await
    }

    /// Erases a security key (CTAP 2.1 §6.6), after a touch; `TooLate` outside its 10 seconds.
    async fn reset_security_key(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        key: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> Result<(), Error> {
        let caller = self.manager(&hdr, conn).await?;
        let _ = options;
        crate::key_manage::reset(&self.shared, conn, &caller, key).await
    }

    /// Registers the caller as a caller-controlled prompt (a terminal prompt) for the requests of
    /// its parent process and itself, until it leaves the bus. See PROMPT-TRUST.md.
    async fn register_prompt(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), Error> {
        let sender = self.shared.callers.sender(&hdr)?;
        let agent = self.shared.identify(conn, &sender).await?;
        let mut serves = vec![(agent.pid, agent.start_time)];
        // Its parent, pinned while read and checked to be still its parent (the `latchkey`
        // command that started it, usually).
        if let Ok(parent) = crate::identity::identify_parent(&agent) {
            serves.push((parent.pid, parent.start_time));
        }
        let mut agents = self.shared.lock_agents();
        agents.retain(|a| a.name != *sender);
        agents.push(crate::state::Agent {
            name: sender.clone(),
            serves,
        });
        tracing::info!(agent = %sender, pid = agent.pid, serves = agent.ppid, "terminal prompt registered");
        Ok(())
    }

    /// Interface version.
    #[zbus(property)]
    fn version(&self) -> u32 {
        API_VERSION
    }
}

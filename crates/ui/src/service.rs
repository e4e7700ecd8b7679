//! `dev.latchkey.Prompt1` on the session bus (data/dev.latchkey.Prompt1.xml), served from a
//! tokio thread. Each call is checked, parsed, and handed to the GTK thread as a [`UiRequest`];
//! the call's reply waits for the user's answer on a oneshot channel.
//!
//! Only latchkeyd may ask: the sender of every call must be the unique name of the verified
//! latchkeyd ([`latchkey_api::latchkeyd::verified_owner`]: the owner of
//! `dev.latchkey.Credentials`, read from the kernel, running the latchkeyd executable, started by
//! the bus or `systemd --user`). Owning the name proves nothing (any process of the user may take
//! it while latchkeyd is not running), so another process of the user cannot make this trusted
//! prompt show a dialog of its choosing, nor receive the PIN typed into it. The verified name is
//! kept (unique names are never reused on a bus) and looked for again only when another sender
//! calls.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use tokio::sync::oneshot;
use zbus::fdo;
use zbus::message::Header;
use zbus::zvariant::{self, OwnedValue};

use crate::protocol::{
    response, Account, Choice, Consent, Dict, Kind, PinRequest, ProtocolError, Status, VERSION,
};

/// The bus name latchkeyd owns.
pub const CREDENTIALS_BUS_NAME: &str = "dev.latchkey.Credentials";
/// The bus name this prompt owns.
pub const PROMPT_BUS_NAME: &str = "dev.latchkey.Prompt";
/// Where it serves `dev.latchkey.Prompt1`.
pub const PROMPT_PATH: &str = "/dev/latchkey/Prompt";

/// The user's answer to `Consent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentAnswer {
    /// The response code.
    pub code: u32,
    /// "Always allow" was ticked (only when latchkeyd offered it).
    pub remember: bool,
}

/// Where a PIN goes.
#[derive(Debug)]
pub enum PinSinks {
    /// The PIN to verify (or a new PIN, when the request says so).
    One(OwnedFd),
    /// A PIN change: the current PIN, then the new one.
    Change {
        /// The current PIN.
        current: OwnedFd,
        /// The new PIN.
        new: OwnedFd,
    },
}

/// A request for the GTK thread. Each carries latchkeyd's request ID; a reply channel dropped
/// without an answer reads as "refused".
#[derive(Debug)]
pub enum UiRequest {
    /// Ask for consent.
    Consent {
        /// latchkeyd's request ID.
        id: String,
        /// What is asked.
        consent: Consent,
        /// The answer.
        reply: oneshot::Sender<ConsentAnswer>,
    },
    /// Ask for a PIN (verify, create or change).
    Pin {
        /// latchkeyd's request ID.
        id: String,
        /// Which PIN and why.
        request: PinRequest,
        /// Where it goes.
        sinks: PinSinks,
        /// The response code.
        reply: oneshot::Sender<u32>,
    },
    /// Choose an account.
    Accounts {
        /// latchkeyd's request ID.
        id: String,
        /// The accounts, in latchkeyd's order.
        accounts: Vec<Account>,
        /// The response code and the index in latchkeyd's order.
        reply: oneshot::Sender<(u32, u32)>,
    },
    /// Choose where the passkey is (version 2).
    Choose {
        /// latchkeyd's request ID.
        id: String,
        /// Create or get, if latchkeyd says.
        kind: Option<Kind>,
        /// The RP ID, if latchkeyd says.
        rp_id: Option<String>,
        /// The options.
        choices: Vec<Choice>,
        /// The response code and the chosen option's ID.
        reply: oneshot::Sender<(u32, String)>,
    },
    /// Show a state.
    Status {
        /// latchkeyd's request ID.
        id: String,
        /// The state.
        status: Status,
    },
    /// Take the request's window down.
    Dismiss {
        /// latchkeyd's request ID.
        id: String,
    },
}

/// The `dev.latchkey.Prompt1` object.
pub struct PromptService {
    to_ui: async_channel::Sender<UiRequest>,
    /// The latchkeyd verified last (module doc).
    latchkeyd: std::sync::Mutex<Option<zbus::names::OwnedUniqueName>>,
}

impl PromptService {
    /// A service handing its requests to `to_ui`.
    pub fn new(to_ui: async_channel::Sender<UiRequest>) -> Self {
        Self {
            to_ui,
            latchkeyd: std::sync::Mutex::default(),
        }
    }

    fn known_latchkeyd(&self) -> std::sync::MutexGuard<'_, Option<zbus::names::OwnedUniqueName>> {
        self.latchkeyd
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refuses any sender but the verified latchkeyd (module doc).
    async fn check_caller(&self, conn: &zbus::Connection, header: &Header<'_>) -> fdo::Result<()> {
        let denied = || fdo::Error::AccessDenied("only latchkeyd may use this prompt".into());
        let sender = header.sender().ok_or_else(denied)?;
        if self
            .known_latchkeyd()
            .as_ref()
            .is_some_and(|l| l.as_str() == sender.as_str())
        {
            return Ok(());
        }
        // Not the latchkeyd known so far (or none yet): who is latchkeyd now, by the kernel.
        match latchkey_api::latchkeyd::verified_owner(conn).await {
            Ok(owner) if owner.as_str() == sender.as_str() => {
                *self.known_latchkeyd() = Some(owner);
                Ok(())
            }
            Ok(owner) => {
                *self.known_latchkeyd() = Some(owner);
                tracing::warn!(sender = %sender, "refused a prompt call from a process that is not latchkeyd");
                Err(denied())
            }
            Err(e) => {
                tracing::warn!(sender = %sender, error = %e, "refused a prompt call: no verified latchkeyd owns dev.latchkey.Credentials");
                Err(denied())
            }
        }
    }

    async fn send(&self, request: UiRequest) -> fdo::Result<()> {
        self.to_ui
            .send(request)
            .await
            .map_err(|_| fdo::Error::Failed("the prompt is shutting down".into()))
    }
}

fn malformed(method: &str, e: &ProtocolError) {
    tracing::warn!(method, error = %e, "malformed prompt request");
}

fn fd(f: zvariant::OwnedFd) -> OwnedFd {
    f.into()
}

impl PromptService {
    /// What every asking method does: checks that latchkeyd is the caller, parses its request
    /// (a malformed one answers `failed` and shows nothing), hands it to the GTK thread and waits
    /// for the user's answer (`refused` if the window went without one).
    async fn ask<P, A>(
        &self,
        check: (&zbus::Connection, &Header<'_>),
        method: &str,
        parse: impl FnOnce() -> Result<P, ProtocolError>,
        request: impl FnOnce(P, oneshot::Sender<A>) -> UiRequest,
        (failed, refused): (A, A),
    ) -> fdo::Result<A> {
        self.check_caller(check.0, check.1).await?;
        let parsed = match parse() {
            Ok(p) => p,
            Err(e) => {
                malformed(method, &e);
                return Ok(failed);
            }
        };
        let (reply, answer) = oneshot::channel();
        self.send(request(parsed, reply)).await?;
        Ok(answer.await.unwrap_or(refused))
    }
}

#[zbus::interface(name = "dev.latchkey.Prompt1")]
impl PromptService {
    #[zbus(out_args("response", "results"))]
    async fn consent(
        &self,
        request_id: String,
        details: Dict,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<(u32, HashMap<String, OwnedValue>)> {
        let answer = self
            .ask(
                (conn, &header),
                "Consent",
                || Consent::parse(&details),
                |consent, reply| UiRequest::Consent {
                    id: request_id,
                    consent,
                    reply,
                },
                (
                    ConsentAnswer {
                        code: response::FAILED,
                        remember: false,
                    },
                    ConsentAnswer {
                        code: response::DENIED,
                        remember: false,
                    },
                ),
            )
            .await?;
        let mut results = HashMap::new();
        if answer.code == response::APPROVED && answer.remember {
            results.insert("remember".to_owned(), OwnedValue::from(true));
        }
        Ok((answer.code, results))
    }

    #[zbus(out_args("response"))]
    async fn request_pin(
        &self,
        request_id: String,
        details: Dict,
        pin_sink: zvariant::OwnedFd,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<u32> {
        self.ask(
            (conn, &header),
            "RequestPin",
            || PinRequest::parse(&details),
            |request, reply| UiRequest::Pin {
                id: request_id,
                request,
                sinks: PinSinks::One(fd(pin_sink)),
                reply,
            },
            (response::FAILED, response::DENIED),
        )
        .await
    }

    /// Version 2: change a PIN; the current PIN goes to `current_sink`, the new one (asked twice)
    /// to `new_sink`.
    #[zbus(out_args("response"))]
    async fn change_pin(
        &self,
        request_id: String,
        details: Dict,
        current_sink: zvariant::OwnedFd,
        new_sink: zvariant::OwnedFd,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<u32> {
        self.ask(
            (conn, &header),
            "ChangePin",
            || PinRequest::parse(&details),
            |request, reply| UiRequest::Pin {
                id: request_id,
                request,
                sinks: PinSinks::Change {
                    current: fd(current_sink),
                    new: fd(new_sink),
                },
                reply,
            },
            (response::FAILED, response::DENIED),
        )
        .await
    }

    #[zbus(out_args("response", "index"))]
    async fn choose_account(
        &self,
        request_id: String,
        accounts: Vec<Dict>,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<(u32, u32)> {
        self.ask(
            (conn, &header),
            "ChooseAccount",
            || match Account::parse_list(&accounts)? {
                a if a.is_empty() => Err(ProtocolError::Missing("accounts")),
                a => Ok(a),
            },
            |accounts, reply| UiRequest::Accounts {
                id: request_id,
                accounts,
                reply,
            },
            ((response::FAILED, 0), (response::DENIED, 0)),
        )
        .await
    }

    /// Version 2: choose where the passkey is created or found.
    #[zbus(out_args("response", "choice"))]
    async fn choose(
        &self,
        request_id: String,
        details: Dict,
        choices: Vec<Dict>,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<(u32, String)> {
        self.ask(
            (conn, &header),
            "Choose",
            || {
                let kind = match crate::protocol::opt_str(&details, "kind")?.as_deref() {
                    Some("create") => Some(Kind::Create),
                    Some("get") => Some(Kind::Get),
                    _ => None,
                };
                let rp_id = crate::protocol::opt_str(&details, "rp_id")?;
                Ok((Choice::parse_list(&choices)?, kind, rp_id))
            },
            |(choices, kind, rp_id), reply| UiRequest::Choose {
                id: request_id,
                kind,
                rp_id,
                choices,
                reply,
            },
            (
                (response::FAILED, String::new()),
                (response::DENIED, String::new()),
            ),
        )
        .await
    }

    /// Version 2: a security key's state, with a kind.
    async fn show_status(
        &self,
        request_id: String,
        status: Dict,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<()> {
        self.check_caller(conn, &header).await?;
        match Status::parse(&status) {
            Ok(status) => {
                self.send(UiRequest::Status {
                    id: request_id,
                    status,
                })
                .await
            }
            Err(e) => {
                malformed("ShowStatus", &e);
                Ok(())
            }
        }
    }

    async fn dismiss(
        &self,
        request_id: String,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<()> {
        self.check_caller(conn, &header).await?;
        self.send(UiRequest::Dismiss { id: request_id }).await
    }

    async fn notice(
        &self,
        request_id: String,
        text: String,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> fdo::Result<()> {
        self.check_caller(conn, &header).await?;
        let text: String = text.chars().take(crate::protocol::MAX_STRING).collect();
        let status = Status::from_notice(&text);
        self.send(UiRequest::Status {
            id: request_id,
            status,
        })
        .await
    }

    /// Version 2: the user cancelled request `request_id` while no call of latchkeyd's waited
    /// (a security key was waiting for a touch); latchkeyd cancels the ceremony.
    #[zbus(signal)]
    async fn cancelled(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        request_id: &str,
    ) -> zbus::Result<()>;

    #[zbus(property)]
    fn version(&self) -> u32 {
        VERSION
    }
}

/// Emits `Cancelled(request_id)`: the user closed a request's window while no call was waiting.
pub async fn emit_cancelled(conn: &zbus::Connection, request_id: &str) -> zbus::Result<()> {
    let emitter = zbus::object_server::SignalEmitter::new(conn, PROMPT_PATH)?;
    PromptService::cancelled(&emitter, request_id).await
}

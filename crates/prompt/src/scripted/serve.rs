//! The scripted prompt on the bus: version 2 ([`ScriptedPrompt`] itself, the committed contract)
//! or version 1 ([`ScriptedPromptV1`], the members of `INTERFACE_XML_V1` only), both answering
//! from the same script.

use std::collections::HashMap;

use serde_json::{json, Value as Json};
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedFd, OwnedValue};

use super::{dict_to_json, Queue, ScriptedPrompt, Step};
use crate::{pin, response};

/// Serves `prompt` at [`crate::PROMPT_PATH`] on `conn`, as the version its script asks for.
pub async fn serve(conn: &zbus::Connection, prompt: ScriptedPrompt) -> zbus::Result<bool> {
    let server = conn.object_server();
    if prompt.script_version() == 1 {
        server
            .at(crate::PROMPT_PATH, ScriptedPromptV1(prompt))
            .await
    } else {
        server.at(crate::PROMPT_PATH, prompt).await
    }
}

/// The scripted prompt serving version 1 of the interface: `Version` is 1, and `Choose`,
/// `ChangePin`, `ShowStatus` and `Cancelled` do not exist (a call gets `UnknownMethod`).
pub struct ScriptedPromptV1(pub ScriptedPrompt);

impl ScriptedPrompt {
    async fn answer_consent(
        &self,
        request_id: &str,
        details: &HashMap<String, OwnedValue>,
    ) -> (u32, HashMap<String, OwnedValue>) {
        self.record("Consent", request_id, dict_to_json(details));
        let step = self.take_step(Queue::Consent);
        match self.resolve(request_id, step).await {
            Some(Step::Approve) => (response::APPROVED, HashMap::new()),
            Some(Step::Remember) => (
                response::APPROVED,
                HashMap::from([("remember".to_owned(), OwnedValue::from(true))]),
            ),
            Some(Step::Deny) | None => (response::DENIED, HashMap::new()),
            Some(_) => (response::FAILED, HashMap::new()),
        }
    }

    async fn answer_pin(
        &self,
        request_id: &str,
        details: &HashMap<String, OwnedValue>,
        pin_sink: OwnedFd,
    ) -> u32 {
        self.record("RequestPin", request_id, dict_to_json(details));
        let step = self.take_step(Queue::Pin);
        match self.resolve(request_id, step).await {
            Some(Step::Pin(p)) => match pin::write_pin(pin_sink.into(), p.as_bytes()) {
                Ok(()) => response::APPROVED,
                Err(_) => response::FAILED,
            },
            Some(Step::PinDeny | Step::Deny) | None => response::DENIED,
            Some(_) => response::FAILED,
        }
    }

    async fn answer_accounts(
        &self,
        request_id: &str,
        accounts: &[HashMap<String, OwnedValue>],
    ) -> (u32, u32) {
        self.record(
            "ChooseAccount",
            request_id,
            Json::Array(accounts.iter().map(dict_to_json).collect()),
        );
        let step = self.take_step(Queue::Choose);
        match self.resolve(request_id, step).await {
            Some(Step::Choose(i)) => (response::APPROVED, i),
            Some(Step::ChooseDeny | Step::Deny) | None => (response::DENIED, 0),
            Some(_) => (response::FAILED, 0),
        }
    }

    async fn mark_dismissed(&self, request_id: String) {
        self.record("Dismiss", &request_id, Json::Null);
        self.dismissed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(request_id);
    }
}

fn first_id(choices: &[HashMap<String, OwnedValue>]) -> String {
    choices
        .first()
        .and_then(|c| c.get("id"))
        .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
        .unwrap_or_default()
}

#[zbus::interface(name = "dev.latchkey.Prompt1")]
impl ScriptedPrompt {
    #[zbus(out_args("response", "results"))]
    async fn consent(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
    ) -> (u32, HashMap<String, OwnedValue>) {
        self.answer_consent(&request_id, &details).await
    }

    #[zbus(out_args("response"))]
    async fn request_pin(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        pin_sink: OwnedFd,
    ) -> u32 {
        self.answer_pin(&request_id, &details, pin_sink).await
    }

    #[zbus(out_args("response"))]
    async fn change_pin(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        current_sink: OwnedFd,
        new_sink: OwnedFd,
    ) -> u32 {
        self.record("ChangePin", &request_id, dict_to_json(&details));
        let step = self.take_step(Queue::Change);
        match self.resolve(&request_id, step).await {
            Some(Step::Change(old, new)) => {
                let written = pin::write_pin(current_sink.into(), old.as_bytes())
                    .and_then(|()| pin::write_pin(new_sink.into(), new.as_bytes()));
                match written {
                    Ok(()) => response::APPROVED,
                    Err(_) => response::FAILED,
                }
            }
            Some(Step::ChangeDeny | Step::Deny) | None => response::DENIED,
            Some(_) => response::FAILED,
        }
    }

    #[zbus(out_args("response", "index"))]
    async fn choose_account(
        &self,
        request_id: String,
        accounts: Vec<HashMap<String, OwnedValue>>,
    ) -> (u32, u32) {
        self.answer_accounts(&request_id, &accounts).await
    }

    #[zbus(out_args("response", "choice"))]
    async fn choose(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        choices: Vec<HashMap<String, OwnedValue>>,
    ) -> (u32, String) {
        let shown = json!({
            "details": dict_to_json(&details),
            "choices": choices.iter().map(dict_to_json).collect::<Vec<_>>(),
        });
        self.record("Choose", &request_id, shown);
        if !self.has(Queue::Where) {
            // Nothing scripted: take the first choice, latchkeyd's own routing decision.
            return (response::APPROVED, first_id(&choices));
        }
        let step = self.take_step(Queue::Where);
        match self.resolve(&request_id, step).await {
            Some(Step::Where(id)) => (response::APPROVED, id),
            Some(Step::WhereDeny | Step::Deny) | None => (response::DENIED, String::new()),
            Some(_) => (response::FAILED, String::new()),
        }
    }

    async fn show_status(
        &self,
        request_id: String,
        status: HashMap<String, OwnedValue>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        let shown = dict_to_json(&status);
        let kind = shown["kind"].as_str().unwrap_or_default().to_owned();
        self.record("ShowStatus", &request_id, shown);
        if self.cancels_on(&kind) {
            self.record("Cancelled", &request_id, Json::String(kind));
            if let Err(e) = Self::cancelled(&emitter, &request_id).await {
                eprintln!("latchkey-test-prompt: emitting Cancelled failed: {e}");
            }
        }
    }

    async fn dismiss(&self, request_id: String) {
        self.mark_dismissed(request_id).await;
    }

    async fn notice(&self, request_id: String, text: String) {
        self.record("Notice", &request_id, Json::String(text));
    }

    #[zbus(signal)]
    async fn cancelled(emitter: &SignalEmitter<'_>, request_id: &str) -> zbus::Result<()>;

    #[zbus(property)]
    fn version(&self) -> u32 {
        crate::VERSION
    }
}

#[zbus::interface(name = "dev.latchkey.Prompt1")]
impl ScriptedPromptV1 {
    #[zbus(out_args("response", "results"))]
    async fn consent(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
    ) -> (u32, HashMap<String, OwnedValue>) {
        self.0.answer_consent(&request_id, &details).await
    }

    #[zbus(out_args("response"))]
    async fn request_pin(
        &self,
        request_id: String,
        details: HashMap<String, OwnedValue>,
        pin_sink: OwnedFd,
    ) -> u32 {
        self.0.answer_pin(&request_id, &details, pin_sink).await
    }

    #[zbus(out_args("response", "index"))]
    async fn choose_account(
        &self,
        request_id: String,
        accounts: Vec<HashMap<String, OwnedValue>>,
    ) -> (u32, u32) {
        self.0.answer_accounts(&request_id, &accounts).await
    }

    async fn dismiss(&self, request_id: String) {
        self.0.mark_dismissed(request_id).await;
    }

    async fn notice(&self, request_id: String, text: String) {
        self.0.record("Notice", &request_id, Json::String(text));
    }

    #[zbus(property)]
    fn version(&self) -> u32 {
        1
    }
}

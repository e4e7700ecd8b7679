//! The client crate's blocking [`CeremonyUi`], answered by latchkeyd's async [`PromptSession`]:
//! PIN requests become `RequestPin` (retries left, wrong PIN, new PIN, which kind of
//! authenticator), account choices become `ChooseAccount`, and the authenticator's status
//! (CTAPHID keepalives, CTAP 2.1 §11.2.9.2.2; a fingerprint; several keys to pick from) becomes a
//! `ShowStatus` kind (a `Notice` line for a version 1 prompt) — once per change, not once per
//! keepalive.
//!
//! It runs on the ceremony's blocking thread and waits on the runtime through a
//! [`tokio::runtime::Handle`]; it must never be called from a runtime thread. [`run_blocking`]
//! starts that thread: the security keys' back-end runs its ceremonies through it (a key asks
//! for a touch and shows keepalives while its blocking transport waits on the hardware). The
//! platform authenticator does not: its prompt answers are asked on the runtime
//! (`crate::platform`'s answers module). The mappings below serve both.

use std::sync::Arc;

use latchkey_client::ui::Cancelled;
use latchkey_client::{CeremonyUi, PinReason, Status};

use latchkey_prompt::{ChoiceKind, StatusKind};
use latchkey_webauthn::WebAuthnError;

use crate::ceremony::{Account, PinRequest, PromptSession};

pub use latchkey_prompt::v2::{INSERT_KEY, TOUCH_KEY};

/// A [`CeremonyUi`] over a [`PromptSession`].
pub struct UiBridge {
    ui: Arc<dyn PromptSession>,
    handle: tokio::runtime::Handle,
    last_status: Option<latchkey_prompt::Status>,
    /// Which kind of authenticator the ceremony drives, for `RequestPin`.
    kind: Option<ChoiceKind>,
    /// Several keys wait for the one the user touches: a touch request means "pick one".
    selecting: bool,
}

impl UiBridge {
    /// Bridges to `ui`, waiting on the runtime behind `handle`.
    pub fn new(ui: Arc<dyn PromptSession>, handle: tokio::runtime::Handle) -> Self {
        Self {
            ui,
            handle,
            last_status: None,
            kind: None,
            selecting: false,
        }
    }

    /// Says which kind of authenticator asks for PINs from now on.
    pub fn set_authenticator_kind(&mut self, kind: ChoiceKind) {
        self.kind = Some(kind);
    }

    /// Shows `text` (latchkeyd's own words) as the request's status line; [`INSERT_KEY`] is the
    /// state [`StatusKind::InsertKey`].
    pub fn notice(&mut self, text: &str) {
        if text == INSERT_KEY {
            return self.show(StatusKind::InsertKey);
        }
        self.last_status = None;
        self.handle.block_on(self.ui.notice(text));
    }

    /// Shows a state; [`StatusKind::SelectKey`] starts the choice among several keys (a touch
    /// request then means "touch the one you want"), any other state ends it.
    pub fn show(&mut self, kind: StatusKind) {
        self.selecting = kind == StatusKind::SelectKey;
        self.send(latchkey_prompt::Status::new(kind));
    }

    /// Sends `status` unless it is what the prompt already shows.
    fn send(&mut self, status: latchkey_prompt::Status) {
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        self.last_status = Some(status.clone());
        self.handle.block_on(self.ui.status(status));
    }
}

/// Runs `work` on a blocking thread with a [`UiBridge`] to `ui`, and waits for it.
pub async fn run_blocking<T: Send + 'static>(
    ui: Arc<dyn PromptSession>,
    work: impl FnOnce(&mut UiBridge) -> Result<T, WebAuthnError> + Send + 'static,
) -> Result<T, WebAuthnError> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || work(&mut UiBridge::new(ui, handle)))
        .await
        .map_err(|e| WebAuthnError::unknown(format!("the ceremony thread failed: {e}")))?
}

/// The prompt's PIN request for the client's.
pub fn pin_request(request: &latchkey_client::PinRequest) -> PinRequest {
    PinRequest {
        authenticator: request.device.clone(),
        retries: request.retries_left.and_then(|r| u32::try_from(r).ok()),
        wrong_pin: request.reason == PinReason::Retry,
        new_pin: request.reason == PinReason::New,
        min_length: u32::try_from(request.min_length).unwrap_or(u32::MAX),
        kind: None,
    }
}

/// The state for a client status.
pub fn status_kind(status: &Status) -> StatusKind {
    match status {
        Status::TouchNeeded => StatusKind::TouchKey,
        Status::Processing => StatusKind::Working,
        Status::PinSet => StatusKind::PinSet,
    }
}

/// The state when a key verifies the user with its built-in method (a fingerprint).
pub fn uv_status(request: &latchkey_client::UvRequest) -> latchkey_prompt::Status {
    let kind = match request.reason {
        latchkey_client::UvReason::Verify => StatusKind::Fingerprint,
        _ => StatusKind::FingerprintRetry,
    };
    latchkey_prompt::Status {
        authenticator: request.device.clone(),
        retries: request.retries_left.and_then(|r| u32::try_from(r).ok()),
        ..latchkey_prompt::Status::new(kind)
    }
}

impl CeremonyUi for UiBridge {
    fn pin(
        &mut self,
        request: &latchkey_client::PinRequest,
    ) -> Result<latchkey_client::Pin, Cancelled> {
        self.last_status = None;
        let mut asked = pin_request(request);
        asked.kind = self.kind;
        let pin = self
            .handle
            .block_on(self.ui.pin(asked))
            .map_err(|_| Cancelled)?;
        let text = std::str::from_utf8(pin.expose()).map_err(|_| Cancelled)?;
        Ok(latchkey_client::Pin::new(zeroize::Zeroizing::new(
            text.to_owned(),
        )))
    }

    fn choose_credential(
        &mut self,
        accounts: &[latchkey_client::Account],
    ) -> Result<usize, Cancelled> {
        self.last_status = None;
        let shown: Vec<Account> = accounts
            .iter()
            .map(|a| Account {
                name: a.name.clone().unwrap_or_default(),
                display_name: a.display_name.clone().unwrap_or_default(),
                created: None,
            })
            .collect();
        self.handle
            .block_on(self.ui.choose_account(&shown))
            .map_err(|_| Cancelled)
    }

    fn user_verification(&mut self, request: &latchkey_client::UvRequest) {
        self.selecting = false;
        self.send(uv_status(request));
    }

    fn status(&mut self, status: Status) {
        let kind = match status_kind(&status) {
            StatusKind::TouchKey if self.selecting => StatusKind::SelectKey,
            kind => {
                self.selecting = false;
                kind
            }
        };
        self.send(latchkey_prompt::Status::new(kind));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::ceremony::Pin;

    #[derive(Default)]
    struct Recorder {
        notices: Mutex<Vec<String>>,
        pins: Mutex<Vec<PinRequest>>,
    }

    #[async_trait]
    impl PromptSession for Recorder {
        async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError> {
            self.pins.lock().unwrap().push(request);
            Ok(Pin::new(zeroize::Zeroizing::new(b"1234".to_vec())))
        }
        async fn choose_account(&self, _: &[Account]) -> Result<usize, WebAuthnError> {
            Ok(0)
        }
        async fn notice(&self, text: &str) {
            self.notices.lock().unwrap().push(text.to_owned());
        }
    }

    #[test]
    fn keepalives_become_one_notice_per_change_and_pins_carry_retries() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let recorder = Arc::new(Recorder::default());
        let mut bridge = UiBridge::new(recorder.clone(), runtime.handle().clone());
        for _ in 0..5 {
            bridge.status(Status::TouchNeeded);
        }
        bridge.status(Status::Processing);
        bridge.status(Status::TouchNeeded);
        bridge.notice(INSERT_KEY);
        bridge.status(Status::TouchNeeded);
        // Several keys: a touch request means "touch the one you want", until one is chosen.
        bridge.show(StatusKind::SelectKey);
        bridge.status(Status::TouchNeeded);
        bridge.status(Status::Processing);
        bridge.status(Status::TouchNeeded);
        bridge.set_authenticator_kind(ChoiceKind::SecurityKey);
        let pin = bridge
            .pin(&latchkey_client::PinRequest {
                reason: PinReason::Retry,
                retries_left: Some(7),
                min_length: 4,
                device: "virtual key".into(),
            })
            .unwrap();
        assert_eq!(pin.as_bytes(), b"1234");
        assert_eq!(
            *recorder.notices.lock().unwrap(),
            [
                TOUCH_KEY,
                "Working…",
                TOUCH_KEY,
                INSERT_KEY,
                TOUCH_KEY,
                "Touch the security key you want to use",
                "Working…",
                TOUCH_KEY
            ]
        );
        assert_eq!(
            *recorder.pins.lock().unwrap(),
            [PinRequest {
                authenticator: "virtual key".into(),
                retries: Some(7),
                wrong_pin: true,
                new_pin: false,
                min_length: 4,
                kind: Some(ChoiceKind::SecurityKey),
            }]
        );
    }
}

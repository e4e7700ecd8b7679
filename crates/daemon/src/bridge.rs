//! The client crate's blocking [`CeremonyUi`], answered by latchkeyd's async [`PromptSession`]:
//! PIN requests become `RequestPin` (retries left, wrong PIN, new PIN), account choices become
//! `ChooseAccount`, and the authenticator's status (CTAPHID keepalives, CTAP 2.1 §11.2.9.2.2)
//! becomes a `Notice` line — once per change, not once per keepalive.
//!
//! It runs on the ceremony's blocking thread and waits on the runtime through a
//! [`tokio::runtime::Handle`]; it must never be called from a runtime thread. [`run_blocking`]
//! starts that thread: every back-end that drives a `latchkey_client::Device` runs its ceremony
//! through it.

use std::sync::Arc;

use latchkey_client::ui::Cancelled;
use latchkey_client::{CeremonyUi, PinReason, Status};

use latchkey_webauthn::WebAuthnError;

use crate::ceremony::{Account, PinRequest, PromptSession};

/// What the user is told while latchkeyd waits for a security key to be plugged in.
pub const INSERT_KEY: &str = "Insert your security key";
/// What the user is told while a key waits for a touch.
pub const TOUCH_KEY: &str = "Touch your security key";

/// A [`CeremonyUi`] over a [`PromptSession`].
pub struct UiBridge {
    ui: Arc<dyn PromptSession>,
    handle: tokio::runtime::Handle,
    last_status: Option<Status>,
}

impl UiBridge {
    /// Bridges to `ui`, waiting on the runtime behind `handle`.
    pub fn new(ui: Arc<dyn PromptSession>, handle: tokio::runtime::Handle) -> Self {
        Self {
            ui,
            handle,
            last_status: None,
        }
    }

    /// Shows `text` as the request's status line.
    pub fn notice(&mut self, text: &str) {
        self.last_status = None;
        self.handle.block_on(self.ui.notice(text));
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
    }
}

/// The status line for a client status.
pub fn status_text(status: &Status) -> &'static str {
    match status {
        Status::TouchNeeded => TOUCH_KEY,
        Status::Processing => "Working…",
        Status::PinSet => "Your new PIN is set",
    }
}

/// The status line when a key verifies the user with its built-in method (a fingerprint).
pub fn uv_text(request: &latchkey_client::UvRequest) -> String {
    let ask = format!("Verify yourself on {} (fingerprint)", request.device);
    match (request.reason, request.retries_left) {
        (latchkey_client::UvReason::Verify, _) => ask,
        (_, Some(n)) => format!("Not recognised ({n} tries left). {ask}"),
        (_, None) => format!("Not recognised. {ask}"),
    }
}

impl CeremonyUi for UiBridge {
    fn pin(
        &mut self,
        request: &latchkey_client::PinRequest,
    ) -> Result<latchkey_client::Pin, Cancelled> {
        self.last_status = None;
        let pin = self
            .handle
            .block_on(self.ui.pin(pin_request(request)))
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
            })
            .collect();
        self.handle
            .block_on(self.ui.choose_account(&shown))
            .map_err(|_| Cancelled)
    }

    fn user_verification(&mut self, request: &latchkey_client::UvRequest) {
        let text = uv_text(request);
        self.notice(&text);
    }

    fn status(&mut self, status: Status) {
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let text = status_text(&status);
        self.last_status = Some(status);
        self.handle.block_on(self.ui.notice(text));
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
            [TOUCH_KEY, "Working…", TOUCH_KEY, INSERT_KEY, TOUCH_KEY]
        );
        assert_eq!(
            *recorder.pins.lock().unwrap(),
            [PinRequest {
                authenticator: "virtual key".into(),
                retries: Some(7),
                wrong_pin: true,
                new_pin: false,
                min_length: 4,
            }]
        );
    }
}

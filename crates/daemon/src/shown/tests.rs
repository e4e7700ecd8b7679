use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use latchkey_webauthn::WebAuthnError;

use super::*;
use crate::ceremony::{Account as ShownAccount, Pin as PromptPin, PinRequest as PromptPinRequest};

#[derive(Default)]
struct Recorder {
    notices: Mutex<Vec<String>>,
}

#[async_trait]
impl PromptSession for Recorder {
    async fn pin(&self, _: PromptPinRequest) -> Result<PromptPin, WebAuthnError> {
        Err(WebAuthnError::not_allowed("no PIN here"))
    }
    async fn choose_account(&self, _: &[ShownAccount]) -> Result<usize, WebAuthnError> {
        Err(WebAuthnError::not_allowed("no accounts here"))
    }
    async fn notice(&self, text: &str) {
        self.notices.lock().unwrap().push(text.to_owned());
    }
}

#[tokio::test]
async fn keepalives_become_one_notice_per_change_shown_before_the_work_ends() {
    let recorder = Arc::new(Recorder::default());
    let mut line = StatusLine::default();
    let (tx, rx) = channel();
    let work = tokio::task::spawn_blocking(move || {
        let mut ui = tx.clone();
        for _ in 0..5 {
            ui.status(Status::TouchNeeded);
        }
        ui.status(Status::Processing);
        ui.status(Status::TouchNeeded);
        tx.state(StatusKind::InsertKey);
        ui.status(Status::TouchNeeded);
        // Several keys: a touch request means "touch the one you want", until one is chosen.
        tx.state(StatusKind::SelectKey);
        ui.status(Status::TouchNeeded);
        ui.status(Status::Processing);
        ui.status(Status::TouchNeeded);
        // Questions are refused: this end never waits for an answer.
        assert!(ui.choose_credential(&[]).is_err());
        7
    });
    let answer = showing(recorder.as_ref(), &mut line, rx, work)
        .await
        .unwrap();
    assert_eq!(answer, 7);
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
    // After a question the same state is shown again; without one it is not.
    assert_eq!(line.next(Shown::Status(Status::TouchNeeded)), None);
    line.reset();
    assert!(line.next(Shown::Status(Status::TouchNeeded)).is_some());
}

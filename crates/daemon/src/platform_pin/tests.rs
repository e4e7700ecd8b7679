use super::*;

/// A prompt that answers every PIN request with "1234" and counts them.
struct Counting {
    asked: std::sync::Mutex<Vec<PinRequest>>,
    caller_controlled: bool,
}

#[async_trait]
impl PromptSession for Counting {
    async fn pin(&self, request: PinRequest) -> Result<Pin, WebAuthnError> {
        self.asked.lock().unwrap().push(request);
        Ok(Pin::new(zeroize::Zeroizing::new(b"1234".to_vec())))
    }
    async fn choose_account(&self, _: &[Account]) -> Result<usize, WebAuthnError> {
        Ok(0)
    }
    async fn notice(&self, _: &str) {}
    fn caller_controlled(&self) -> bool {
        self.caller_controlled
    }
}

fn ask(retries: Option<u32>, wrong_pin: bool, new_pin: bool) -> PinRequest {
    PinRequest {
        authenticator: "Latchkey platform authenticator".into(),
        retries,
        wrong_pin,
        new_pin,
        min_length: 4,
        kind: Some(latchkey_prompt::ChoiceKind::Platform),
    }
}

#[tokio::test]
async fn a_caller_controlled_prompt_gets_one_answer_and_never_a_new_pin() {
    let strike = Arc::new(AtomicBool::new(false));
    let prompt = Arc::new(Counting {
        asked: Default::default(),
        caller_controlled: true,
    });
    let ui = PlatformPinGuard::wrap(prompt.clone(), &strike);
    assert!(ui.pin(ask(None, false, true)).await.is_err(), "new PIN");
    assert!(
        ui.pin(ask(Some(7), false, false)).await.is_err(),
        "wrong PIN pending"
    );
    assert!(ui.pin(ask(Some(8), false, false)).await.is_ok());
    assert_eq!(prompt.asked.lock().unwrap().len(), 1);
    let e = ui.pin(ask(Some(7), true, false)).await.unwrap_err();
    assert_eq!(e.name(), "NotAllowedError");
    // The strike holds for the next request too, whatever the counter says.
    assert!(ui.pin(ask(Some(8), false, false)).await.is_err());
    assert_eq!(prompt.asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_trusted_prompt_is_not_guarded() {
    let strike = Arc::new(AtomicBool::new(true));
    let prompt = Arc::new(Counting {
        asked: Default::default(),
        caller_controlled: false,
    });
    let ui = PlatformPinGuard::wrap(prompt.clone(), &strike);
    for r in [ask(None, false, true), ask(Some(5), true, false)] {
        assert!(ui.pin(r).await.is_ok());
    }
    assert_eq!(prompt.asked.lock().unwrap().len(), 2);
}

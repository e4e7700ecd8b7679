use super::*;

fn question(reason: PinReason, retries: u64) -> PinRequest {
    PinRequest {
        reason,
        retries_left: Some(retries),
        min_length: 4,
        device: "Latchkey platform authenticator".into(),
    }
}

fn account(id: u8) -> Account {
    Account {
        credential_id: vec![id; 16],
        user_id: vec![id],
        name: Some(format!("user {id}")),
        display_name: None,
    }
}

fn pin(text: &str) -> Option<Zeroizing<String>> {
    Some(Zeroizing::new(text.to_owned()))
}

#[test]
fn an_unanswered_question_is_recorded_once_and_ends_the_run() {
    let mut answers = Answers::default();
    let mut ui = AnsweredUi::new(&mut answers);
    let asked = question(PinReason::Verify, 8);
    assert_eq!(ui.pin(&asked).unwrap_err(), Cancelled);
    // Whatever the ceremony asks after that is refused without replacing the first question.
    assert_eq!(ui.choose_credential(&[account(1)]).unwrap_err(), Cancelled);
    assert_eq!(
        ui.pin(&question(PinReason::Retry, 7)).unwrap_err(),
        Cancelled
    );
    assert_eq!(ui.question, Some(Question::Pin(asked.clone())));
    assert_eq!(
        ui.pin_questions,
        [asked, question(PinReason::Retry, 7)],
        "every PIN question is listed"
    );
}

#[test]
fn a_pin_answers_only_the_question_it_was_given_for() {
    let mut answers = Answers::default();
    answers.pin(question(PinReason::Retry, 7), pin("2468"));
    let mut ui = AnsweredUi::new(&mut answers);
    // A new run asks plainly, with the retries the prompt was shown: the same question.
    assert_eq!(
        ui.pin(&question(PinReason::Verify, 7)).unwrap().as_bytes(),
        b"2468"
    );
    // Other retries, another purpose, another authenticator: not answered.
    for other in [
        question(PinReason::Verify, 6),
        question(PinReason::New, 7),
        PinRequest {
            device: "another key".into(),
            ..question(PinReason::Verify, 7)
        },
        PinRequest {
            min_length: 6,
            ..question(PinReason::Verify, 7)
        },
    ] {
        let mut ui = AnsweredUi::new(&mut answers);
        assert_eq!(ui.pin(&other).unwrap_err(), Cancelled);
        assert_eq!(ui.question, Some(Question::Pin(other)));
    }
}

#[test]
fn a_refusal_cancels_without_a_new_question() {
    let mut answers = Answers::default();
    answers.pin(question(PinReason::New, 8), None);
    answers.account(&[account(1), account(2)], None);
    let mut ui = AnsweredUi::new(&mut answers);
    assert_eq!(ui.pin(&question(PinReason::New, 8)).unwrap_err(), Cancelled);
    assert_eq!(
        ui.choose_credential(&[account(1), account(2)]).unwrap_err(),
        Cancelled
    );
    assert_eq!(ui.question, None);
    assert_eq!(answers.count(), 2);
}

#[test]
fn an_account_is_chosen_by_its_credential_id_among_the_same_accounts() {
    let mut answers = Answers::default();
    answers.account(&[account(1), account(2), account(3)], Some(vec![3; 16]));
    let mut ui = AnsweredUi::new(&mut answers);
    assert_eq!(
        ui.choose_credential(&[account(1), account(2), account(3)]),
        Ok(2)
    );
    assert_eq!(ui.question, None);
    // Another list is another question.
    let mut ui = AnsweredUi::new(&mut answers);
    assert_eq!(
        ui.choose_credential(&[account(1), account(3)]).unwrap_err(),
        Cancelled
    );
    assert_eq!(
        ui.question,
        Some(Question::Account(vec![account(1), account(3)]))
    );
}

#[test]
fn statuses_are_kept_in_order_for_the_driver() {
    let mut answers = Answers::default();
    assert_eq!(answers.count(), 0);
    let mut ui = AnsweredUi::new(&mut answers);
    ui.status(Status::PinSet);
    ui.status(Status::Processing);
    assert_eq!(ui.statuses, [Status::PinSet, Status::Processing]);
}

#[test]
fn a_pin_found_wrong_is_not_tried_again_in_the_next_run_even_without_retries() {
    let unknown = |reason| PinRequest {
        retries_left: None,
        ..question(reason, 0)
    };
    let mut answers = Answers::default();
    answers.pin(unknown(PinReason::Verify), pin("1111"));
    answers.pin(unknown(PinReason::Retry), pin("2222"));
    let mut ui = AnsweredUi::new(&mut answers);
    // The newest answer first; after it was found wrong, no older one is offered again.
    assert_eq!(
        ui.pin(&unknown(PinReason::Verify)).unwrap().as_bytes(),
        b"2222"
    );
    assert_eq!(ui.pin(&unknown(PinReason::Retry)).unwrap_err(), Cancelled);
    assert_eq!(ui.question, Some(Question::Pin(unknown(PinReason::Retry))));
}

#[test]
fn the_current_pin_of_a_forced_change_is_the_pin_the_prompt_gave_after_a_wrong_one() {
    let mut answers = Answers::default();
    answers.pin(question(PinReason::ChangeRequired, 8), pin("1111"));
    answers.pin(
        PinRequest {
            retries_left: None,
            ..question(PinReason::New, 0)
        },
        pin("5678"),
    );
    answers.pin(question(PinReason::Retry, 7), pin("1234"));
    let mut ui = AnsweredUi::new(&mut answers);
    assert_eq!(
        ui.pin(&question(PinReason::ChangeRequired, 7))
            .unwrap()
            .as_bytes(),
        b"1234"
    );
    // The new PIN the prompt gave before is still the new PIN: not asked again.
    let new = PinRequest {
        retries_left: None,
        ..question(PinReason::New, 0)
    };
    assert_eq!(ui.pin(&new).unwrap().as_bytes(), b"5678");
}

#[test]
fn how_built_in_uv_ended_is_kept_for_the_next_run() {
    let mut answers = Answers::default();
    let mut ui = AnsweredUi::new(&mut answers);
    assert_eq!(ui.earlier_built_in_uv_end(), None);
    ui.built_in_uv_ended(BuiltInUvEnd::Blocked);
    let mut ui = AnsweredUi::new(&mut answers);
    assert_eq!(ui.earlier_built_in_uv_end(), Some(BuiltInUvEnd::Blocked));
}

#[test]
fn the_prompt_is_asked_with_the_retries_the_reason_and_the_kind_of_authenticator() {
    let asked = pin_request(
        &PinRequest {
            reason: PinReason::Retry,
            retries_left: Some(7),
            min_length: 4,
            device: "virtual key".into(),
        },
        ChoiceKind::SecurityKey,
    );
    assert_eq!(
        asked,
        crate::ceremony::PinRequest {
            authenticator: "virtual key".into(),
            retries: Some(7),
            wrong_pin: true,
            new_pin: false,
            min_length: 4,
            kind: Some(ChoiceKind::SecurityKey),
        }
    );
    let new = pin_request(
        &PinRequest {
            reason: PinReason::New,
            retries_left: None,
            min_length: 6,
            device: "Latchkey platform authenticator".into(),
        },
        ChoiceKind::Platform,
    );
    assert!(new.new_pin && !new.wrong_pin);
    assert_eq!((new.retries, new.min_length), (None, 6));
}

use super::*;

#[test]
fn parses_steps() {
    let s = parse_script("# c\napprove\n\ndelay 5 pin 1234\nchoose 2\nhang\ndeny # x\n").unwrap();
    assert_eq!(s.len(), 5);
    assert_eq!(s[0], Step::Approve);
    assert_eq!(
        s[1],
        Step::Delay(
            Duration::from_millis(5),
            Box::new(Step::Pin(Zeroizing::new("1234".into())))
        )
    );
    assert_eq!(format!("{:?}", s[1]), "Delay(5ms, Pin(<redacted>))");
    assert_eq!(s[2], Step::Choose(2));
    assert_eq!(parse_script("bogus").unwrap_err().line, 1);
    let after = parse_script("after /tmp/go pin 1234\n").unwrap();
    assert_eq!(
        after[0],
        Step::After(
            "/tmp/go".into(),
            Box::new(Step::Pin(Zeroizing::new("1234".into())))
        )
    );
    assert_eq!(queue_of(&after[0]), Queue::Pin);
    assert_eq!(
        format!("{:?}", after[0]),
        "After(\"/tmp/go\", Pin(<redacted>))"
    );
    assert_eq!(parse_script("after /tmp/go\n").unwrap_err().line, 1);
    let p = ScriptedPrompt::new(
        parse_script("approve\npin 1\ndeny\npin deny\n").unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(
        p.take_step(Queue::Pin),
        Step::Pin(Zeroizing::new("1".into()))
    );
    assert_eq!(p.take_step(Queue::Consent), Step::Approve);
    assert_eq!(p.take_step(Queue::Consent), Step::Deny);
    assert_eq!(p.take_step(Queue::Consent), Step::Deny);
    assert_eq!(p.take_step(Queue::Pin), Step::PinDeny);
    assert_eq!(p.take_step(Queue::Choose), Step::Deny);
    assert!(parse_script("\n#\n").is_err());
}

#[test]
fn parses_version_2_steps_and_directives() {
    let s = parse_script(
        "remember\nwhere security-key\nwhere deny\nchange 1234 567890\ncancel on touch-key\nversion 1\n",
    )
    .unwrap();
    assert_eq!(s[0], Step::Remember);
    assert_eq!(s[1], Step::Where("security-key".into()));
    assert_eq!(s[2], Step::WhereDeny);
    assert_eq!(format!("{:?}", s[3]), "Change(<redacted>)");
    assert_eq!(s[4], Step::CancelOn(StatusKind::TouchKey));
    assert_eq!(s[5], Step::Version(1));
    assert_eq!(parse_script("cancel on wave").unwrap_err().line, 1);
    assert_eq!(parse_script("approve\nversion 3").unwrap_err().line, 2);
    let p = ScriptedPrompt::new(s, None).unwrap();
    assert_eq!(p.script_version(), 1);
    assert!(p.cancels_on("touch-key"));
    assert!(!p.cancels_on("insert-key"));
    assert_eq!(
        p.take_step(Queue::Where),
        Step::Where("security-key".into())
    );
    assert_eq!(p.take_step(Queue::Where), Step::WhereDeny);
    assert_eq!(p.take_step(Queue::Consent), Step::Remember);
    // Directives are never answers.
    assert!(!p.has(Queue::Choose));
    let p = ScriptedPrompt::new(parse_script("approve").unwrap(), None).unwrap();
    assert_eq!(p.script_version(), crate::VERSION);
    assert!(!p.has(Queue::Where));
}

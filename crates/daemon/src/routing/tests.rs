use super::*;

const CH: &str = "AAECAwQFBgcICQoLDA0ODw";

fn create(selection: &str, hints: &str) -> CreationOptions {
    let json = format!(
        r#"{{"rp":{{"id":"example.com","name":"Ex"}},"user":{{"id":"AQID","name":"a","displayName":"A"}},"challenge":"{CH}","pubKeyCredParams":[{{"type":"public-key","alg":-7}}],"authenticatorSelection":{{{selection}}},"hints":[{hints}]}}"#
    );
    CreationOptions::from_json(json.as_bytes()).unwrap()
}

fn get(allow: &str, hints: &str) -> RequestOptions {
    let json = format!(
        r#"{{"challenge":"{CH}","rpId":"example.com","allowCredentials":[{allow}],"hints":[{hints}]}}"#
    );
    RequestOptions::from_json(json.as_bytes()).unwrap()
}

/// A descriptor for credential ID `id` (one byte) with `transports`.
fn desc(id: u8, transports: &str) -> String {
    let id = latchkey_webauthn::b64::encode(&[id; 16]);
    format!(r#"{{"type":"public-key","id":"{id}","transports":[{transports}]}}"#)
}

fn holding(ids: &[u8]) -> PlatformHoldings {
    PlatformHoldings {
        credential_ids: ids.iter().map(|i| vec![*i; 16]).collect(),
    }
}

#[test]
fn create_follows_attachment_then_hints_then_defaults_to_the_platform() {
    use Destination::*;
    let to = |sel: &str, hints: &str| decide_create(&create(sel, hints)).to;
    assert_eq!(to(r#""authenticatorAttachment":"platform""#, ""), Platform);
    assert_eq!(
        to(r#""authenticatorAttachment":"cross-platform""#, ""),
        Keys
    );
    // The attachment wins over a contradicting hint.
    assert_eq!(
        to(
            r#""authenticatorAttachment":"platform""#,
            r#""security-key""#
        ),
        Platform
    );
    assert_eq!(to("", r#""security-key""#), Keys);
    assert_eq!(to("", r#""client-device","security-key""#), Platform);
    // "hybrid" is not offered: the next hint decides.
    assert_eq!(to("", r#""hybrid","security-key""#), Keys);
    assert_eq!(to("", r#""hybrid""#), Platform);
    assert_eq!(to("", ""), Platform);
    assert_eq!(
        decide_create(&create(r#""authenticatorAttachment":"cross-platform""#, "")).because,
        "attachment cross-platform"
    );
}

#[test]
fn get_with_an_allow_list_goes_where_the_credential_is() {
    use Destination::*;
    let platform = holding(&[1]);
    let to =
        |allow: &str, held: Option<&PlatformHoldings>| decide_get(&get(allow, ""), held, true).to;
    // Found in the platform store: the platform, whatever the transports say.
    assert_eq!(to(&desc(1, r#""usb""#), Some(&platform)), Platform);
    assert_eq!(
        to(&format!("{},{}", desc(2, ""), desc(1, "")), Some(&platform)),
        Platform
    );
    // Not found: keys, unless every descriptor says internal.
    assert_eq!(to(&desc(2, r#""usb""#), Some(&platform)), Keys);
    assert_eq!(to(&desc(2, r#""nfc","ble""#), Some(&platform)), Keys);
    assert_eq!(to(&desc(2, ""), Some(&platform)), Keys);
    assert_eq!(to(&desc(2, r#""internal""#), Some(&platform)), Platform);
    assert_eq!(
        to(
            &format!("{},{}", desc(2, r#""internal""#), desc(3, r#""usb""#)),
            Some(&platform)
        ),
        Keys
    );
    // The store could not be read: transports decide.
    assert_eq!(to(&desc(1, r#""usb""#), None), Keys);
    // Keys off: an allowList the platform does not know still goes to the platform.
    assert_eq!(
        decide_get(&get(&desc(2, r#""usb""#), ""), Some(&platform), false).to,
        Platform
    );
}

#[test]
fn discoverable_get_follows_hints_then_the_platform_store() {
    use Destination::*;
    let to = |hints: &str, held: &PlatformHoldings, keys: bool| {
        decide_get(&get("", hints), Some(held), keys).to
    };
    assert_eq!(to("", &holding(&[1]), true), Platform);
    assert_eq!(to("", &holding(&[]), true), Keys);
    assert_eq!(to("", &holding(&[]), false), Platform);
    assert_eq!(to(r#""security-key""#, &holding(&[1]), true), Keys);
    // An explicit hint asks for keys even when none is configured.
    assert_eq!(to(r#""security-key""#, &holding(&[1]), false), Keys);
    assert_eq!(to(r#""client-device""#, &holding(&[]), true), Platform);
    assert_eq!(decide_get(&get("", ""), None, true).to, Keys);
}

#[test]
fn the_user_is_offered_a_choice_only_when_the_options_leave_it_open() {
    use Destination::*;
    let r = |to| route(to, "test");
    // Open create, keys enabled: both, the rule's decision first.
    assert_eq!(
        offer(r(Platform), true, true, true, false),
        [Platform, Keys]
    );
    assert_eq!(offer(r(Keys), true, true, true, false), [Keys, Platform]);
    // Keys off, or the options decided: no question.
    assert_eq!(offer(r(Platform), true, true, false, false), [Platform]);
    assert_eq!(offer(r(Keys), false, true, true, false), [Keys]);
    // A get offers the platform only when it holds a passkey for the RP.
    assert_eq!(offer(r(Keys), true, false, true, false), [Keys]);
    assert_eq!(
        offer(r(Platform), true, false, true, true),
        [Platform, Keys]
    );

    let open = |o: CreationOptions| open_choice(&CheckedOptions::Create(Box::new(o)));
    assert!(open(create("", "")));
    assert!(open(create("", r#""hybrid""#)));
    assert!(!open(create(r#""authenticatorAttachment":"platform""#, "")));
    assert!(!open(create("", r#""security-key""#)));
    let open = |o: RequestOptions| open_choice(&CheckedOptions::Get(Box::new(o)));
    assert!(open(get("", "")));
    assert!(!open(get(&desc(1, r#""usb""#), "")));
    assert!(!open(get("", r#""client-device""#)));
    assert_eq!(Keys.choice().id, "security-key");
    assert_eq!(Platform.choice().kind, ChoiceKind::Platform);
}

/// Why the router does not look in the platform store when the security keys are off: for every
/// kind of get, what it holds (something, nothing, or unreadable) changes neither where the get
/// goes nor what the user is offered.
#[test]
fn with_keys_off_what_the_platform_holds_changes_no_get() {
    let allows = [
        String::new(),
        desc(1, ""),
        desc(2, ""),
        desc(1, r#""internal""#),
        desc(2, r#""usb""#),
        format!("{},{}", desc(2, r#""usb""#), desc(1, r#""internal""#)),
    ];
    let hints = ["", r#""security-key""#, r#""client-device""#, r#""hybrid""#];
    let held = [Some(holding(&[1])), Some(holding(&[])), None];
    for allow in &allows {
        for hint in hints {
            let o = get(allow, hint);
            let open = open_choice(&CheckedOptions::Get(Box::new(o.clone())));
            let outcome = |h: &Option<PlatformHoldings>| {
                let r = decide_get(&o, h.as_ref(), false);
                let holds = h.as_ref().is_some_and(|h| !h.credential_ids.is_empty());
                (r.to, offer(r, open, false, false, holds))
            };
            let unread = outcome(&None);
            for h in &held {
                assert_eq!(outcome(h), unread, "allow [{allow}], hints [{hint}], {h:?}");
            }
        }
    }
    let o = get(&desc(1, ""), "");
    assert_ne!(
        decide_get(&o, Some(&holding(&[1])), true).to,
        decide_get(&o, None, true).to,
        "with keys on, what the platform holds decides"
    );
}

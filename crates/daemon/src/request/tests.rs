use std::time::Duration;

use latchkey_webauthn::WebAuthnError;
use zbus::zvariant::Value;

use super::steps::{Admitted, Asked, Asking, Authorizing, Decision, Granted, Stop};
use crate::authorize::{self, OriginClaims};
use crate::ceremony::RequestId;
use crate::consent::{Consent, NoConsent};
use crate::identity::CallerIdentity;
use crate::options::{self, Kind};
use crate::policy::{CallerClass, Policy};
use crate::prompt::Trust;

const CH: &str = "AAECAwQFBgcICQoLDA0ODw";
const ID: RequestId = RequestId(7);

fn create_options(rp_id: &str) -> String {
    format!(
        r#"{{"rp":{{"id":"{rp_id}","name":"Ex"}},"user":{{"id":"AQID","name":"alice","displayName":"Alice"}},"challenge":"{CH}","pubKeyCredParams":[{{"type":"public-key","alg":-7}}]}}"#
    )
}

fn flatpak(app: &str) -> CallerIdentity {
    CallerIdentity {
        pid: 42,
        ppid: 1,
        start_time: 1,
        executable: Some("/app/bin/app".into()),
        executable_file: None,
        same_mount_namespace: false,
        flatpak_app_id: Some(app.to_owned()),
        snap_name: None,
        systemd_unit: None,
        cgroup_path: None,
    }
}

fn policy() -> Policy {
    Policy::from_toml(
        "[[privileged]]\nflatpak = \"org.example.Browser\"\n\
         [[deny]]\nflatpak = \"org.example.Denied\"\n\
         [[app]]\nflatpak = \"org.example.Chat\"\nrp_ids = [\"chat.example.com\"]\n",
    )
    .unwrap()
}

fn asked<'a>(caller: &'a CallerIdentity, origin: Option<&'a str>) -> Asked<'a> {
    Asked {
        id: ID,
        kind: Kind::Create,
        caller,
        origin,
        top_origin: None,
        parent_window: None,
    }
}

fn admit(asked: &Asked<'_>, rp_id: &str) -> Decision<Admitted> {
    Admitted::new(
        policy().classify(asked.caller),
        asked,
        options::check(Kind::Create, &create_options(rp_id)),
    )
}

fn granted(asked: &Asked<'_>, rp_id: &str) -> Granted {
    match admit(asked, rp_id)
        .unwrap()
        .authorize(asked, false)
        .unwrap()
    {
        Authorizing::Granted(g) => g,
        Authorizing::Related { origin, .. } => panic!("related origins for {origin}"),
    }
}

fn failed<T: std::fmt::Debug>(d: Decision<T>) -> WebAuthnError {
    match d {
        Err(Stop::Failed(f)) => f.webauthn(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn asking(g: Granted, trust: Trust) -> Asking {
    g.prompt(Some(trust), |t| *t).unwrap().0
}

fn text(v: Option<&Value<'_>>) -> String {
    match v {
        Some(Value::Str(s)) => s.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn malformed_options_stop_before_policy_with_the_parsers_error() {
    let browser = flatpak("org.example.Browser");
    let a = asked(&browser, Some("https://example.com"));
    let e = failed(Admitted::new(
        policy().classify(a.caller),
        &a,
        options::check(Kind::Create, r#"{"challenge":"!!!"}"#),
    ));
    assert_eq!(e.name(), "TypeError");
}

#[test]
fn a_denied_caller_stops_at_authorization() {
    let denied = flatpak("org.example.Denied");
    let a = asked(&denied, None);
    let e = failed(admit(&a, "example.com").unwrap().authorize(&a, true));
    assert_eq!(
        (e.name(), e.message()),
        ("NotAllowedError", "policy refuses this caller")
    );
}

/// Get options for `rp_id` with these `extensions` (a JSON object).
fn get_options(rp_id: &str, extensions: &str) -> String {
    format!(r#"{{"rpId":"{rp_id}","challenge":"{CH}","extensions":{extensions}}}"#)
}

/// Create options for `rp_id` with these `extensions` (a JSON object).
fn create_options_with(rp_id: &str, extensions: &str) -> String {
    let plain = create_options(rp_id);
    format!(
        "{},\"extensions\":{extensions}}}",
        plain.strip_suffix('}').unwrap()
    )
}

/// Authorizes `options` (of `kind`) for the caller of `asked`.
fn authorize_options(asked: &Asked<'_>, kind: Kind, options: &str) -> Decision<Authorizing> {
    Admitted::new(
        policy().classify(asked.caller),
        asked,
        options::check(kind, options),
    )?
    .authorize(asked, false)
}

/// `appid` and `appidExclude` name an RP ID of their own, which the authenticator is asked
/// under: the caller's origin must be authorized for it as for the RP ID, or nothing goes on.
#[test]
fn an_app_id_the_origin_may_not_claim_is_a_security_error() {
    let browser = flatpak("org.example.Browser");
    let a = asked(&browser, Some("https://login.example.com"));
    let refused = [
        (
            Kind::Get,
            get_options("example.com", r#"{"appid":"https://other.test/app.json"}"#),
        ),
        (
            Kind::Get,
            get_options("example.com", r#"{"appid":"other.test"}"#),
        ),
        (
            Kind::Get,
            get_options("example.com", r#"{"appid":"http://example.com"}"#),
        ),
        (
            Kind::Create,
            create_options_with("example.com", r#"{"appidExclude":"https://other.test"}"#),
        ),
    ];
    for (kind, options) in refused {
        let e = failed(authorize_options(&a, kind, &options));
        assert_eq!(e.name(), "SecurityError", "{options}: {}", e.message());
    }
    // The same site may claim its AppIDs.
    let allowed = [
        (
            Kind::Get,
            get_options("example.com", r#"{"appid":"https://example.com/app.json"}"#),
        ),
        // Empty: the caller's own origin.
        (Kind::Get, get_options("example.com", r#"{"appid":""}"#)),
        (
            Kind::Create,
            create_options_with(
                "example.com",
                r#"{"appidExclude":"https://www.example.com"}"#,
            ),
        ),
    ];
    for (kind, options) in allowed {
        assert!(
            matches!(
                authorize_options(&a, kind, &options),
                Ok(Authorizing::Granted(_))
            ),
            "{options}"
        );
    }
    // An app (no web origin) has no AppIDs at all.
    let chat = flatpak("org.example.Chat");
    let a = asked(&chat, None);
    let options = get_options(
        "chat.example.com",
        r#"{"appid":"https://chat.example.com"}"#,
    );
    assert!(matches!(
        authorize_options(&a, Kind::Get, &get_options("chat.example.com", "{}")),
        Ok(Authorizing::Granted(_))
    ));
    let e = failed(authorize_options(&a, Kind::Get, &options));
    assert_eq!(e.name(), "SecurityError", "{}", e.message());
}

#[test]
fn a_foreign_rp_id_goes_to_related_origins_only_when_enabled() {
    let browser = flatpak("org.example.Browser");
    let a = asked(&browser, Some("https://shop.example.org"));
    let e = failed(admit(&a, "example.com").unwrap().authorize(&a, false));
    assert_eq!(e.name(), "SecurityError");
    let Authorizing::Related {
        admitted,
        origin,
        fallback,
    } = admit(&a, "example.com")
        .unwrap()
        .authorize(&a, true)
        .unwrap()
    else {
        panic!("no related-origins step")
    };
    assert_eq!(origin, "https://shop.example.org");
    assert_eq!(admitted.claimed_rp_id(), Some("example.com"));
    // The fetch did not list the origin: its fallback is the caller's error.
    let e = failed(admitted.related(Err(fallback.clone())));
    assert_eq!(e, fallback);
    // It did: the request moves on with the grant the fetch made.
    let claims = OriginClaims {
        origin: Some("https://example.com"),
        top_origin: None,
        rp_id: Some("example.com"),
    };
    let grant = authorize::authorize(
        &CallerClass::Privileged {
            name: "b".into(),
            via_native_host: None,
        },
        &browser,
        &claims,
    )
    .unwrap();
    let admitted = admit(&a, "example.com").unwrap();
    assert_eq!(admitted.related(Ok(grant)).unwrap().rp_id(), "example.com");
}

#[test]
fn no_prompt_and_an_untrusted_prompt_for_an_unknown_caller_stop() {
    let unknown = flatpak("org.example.Unknown");
    let a = asked(&unknown, None);
    let e = failed(granted(&a, "example.com").prompt(None::<Trust>, |t| *t));
    assert_eq!(
        (e.name(), e.message()),
        ("NotAllowedError", "no prompt is available to ask the user")
    );
    let e = failed(
        granted(&a, "example.com")
            .prompt(Some(Trust::CallerControlled), |t| *t)
            .map(|(_, t)| t),
    );
    assert_eq!(
        (e.name(), e.message()),
        (
            "NotAllowedError",
            "an unverified caller can only be approved in the trusted prompt"
        )
    );
    let (asking, trust) = granted(&a, "example.com")
        .prompt(Some(Trust::Trusted), |t| *t)
        .unwrap();
    assert_eq!(trust, Trust::Trusted);
    let details = asking.details(&a);
    assert_eq!(text(details.get("caller_class")), "unknown");
    assert_eq!(details.get("caller_verified"), Some(&Value::from(false)));
    assert_eq!(text(details.get("origin")), "app:org.example.Unknown");
}

#[test]
fn consent_details_show_what_was_authorized() {
    let browser = flatpak("org.example.Browser");
    let mut a = asked(&browser, Some("https://login.example.com"));
    a.top_origin = Some("https://top.example.net");
    let details = asking(granted(&a, "example.com"), Trust::CallerControlled).details(&a);
    assert_eq!(text(details.get("kind")), "create");
    assert_eq!(text(details.get("rp_id")), "example.com");
    assert_eq!(text(details.get("origin")), "https://login.example.com");
    assert_eq!(text(details.get("top_origin")), "https://top.example.net");
    assert_eq!(text(details.get("caller_class")), "privileged");
    assert_eq!(text(details.get("user_name")), "alice");
    assert_eq!(text(details.get("app_id")), "org.example.Browser");
    assert_eq!(details.get("caller_verified"), Some(&Value::from(true)));
    assert!(!details.contains_key("native_host"));
    assert!(!details.contains_key("parent_window"));
}

#[test]
fn consent_details_carry_the_callers_window() {
    let browser = flatpak("org.example.Browser");
    let parent = latchkey_prompt::ParentWindow::parse("x11:1e00007")
        .unwrap()
        .unwrap();
    let mut a = asked(&browser, Some("https://login.example.com"));
    a.parent_window = Some(&parent);
    let details = asking(granted(&a, "example.com"), Trust::Trusted).details(&a);
    assert_eq!(text(details.get("parent_window")), "x11:1e00007");
}

#[test]
fn a_refusal_is_the_users_and_a_failed_prompt_is_not() {
    let chat = flatpak("org.example.Chat");
    let a = asked(&chat, None);
    let g = || asking(granted(&a, "chat.example.com"), Trust::CallerControlled);
    match g().consented(&a, Err(NoConsent::Refused)) {
        Err(Stop::Refused(f)) => {
            assert_eq!(f.blame(), crate::fault::Blame::User);
            let e = f.webauthn();
            assert_eq!(
                (e.name(), e.message()),
                ("NotAllowedError", "the user refused the request")
            )
        }
        other => panic!("{other:?}"),
    }
    let broke = WebAuthnError::not_allowed("the prompt failed: gone");
    assert_eq!(
        failed(g().consented(&a, Err(NoConsent::Failed(broke.clone())))),
        broke
    );
}

#[test]
fn consent_builds_the_ceremony_through_both_gates() {
    let chat = flatpak("org.example.Chat");
    let a = asked(&chat, None);
    let g = || asking(granted(&a, "chat.example.com"), Trust::CallerControlled);
    let ceremony = g()
        .consented(&a, Ok(Consent::for_tests(ID, false)))
        .unwrap();
    assert_eq!(ceremony.id(), ID);
    assert_eq!(ceremony.authorized().rp_id().as_str(), "chat.example.com");
    assert_eq!(
        String::from_utf8(ceremony.client_data_json().to_vec()).unwrap(),
        format!(
            r#"{{"type":"webauthn.create","challenge":"{CH}","origin":"app:org.example.Chat","crossOrigin":false}}"#
        )
    );
    // A consent given to another request opens no gate.
    let e = failed(g().consented(&a, Ok(Consent::for_tests(RequestId(8), false))));
    assert_eq!(
        (e.name(), e.message()),
        (
            "NotAllowedError",
            "the consent was given to another request"
        )
    );
    // An unknown caller approved in a caller-controlled prompt neither.
    let unknown = flatpak("org.example.Unknown");
    let u = asked(&unknown, None);
    let asking = asking(granted(&u, "example.com"), Trust::Trusted);
    let e = failed(asking.consented(&u, Ok(Consent::for_tests(ID, false))));
    assert_eq!(
        e.message(),
        "an unverified caller can only be approved in the trusted prompt"
    );
}

#[test]
fn always_allow_is_offered_only_to_a_top_level_browser_in_the_trusted_prompt() {
    let browser = flatpak("org.example.Browser");
    let a = asked(&browser, Some("https://login.example.com"));
    let offer = |trust| {
        asking(granted(&a, "example.com"), trust)
            .details(&a)
            .get("remember_offer")
            .cloned()
    };
    assert_eq!(offer(Trust::Trusted), Some(Value::from(true)));
    assert_eq!(offer(Trust::CallerControlled), Some(Value::from(false)));
    let mut framed = a.clone();
    framed.top_origin = Some("https://top.example.net");
    let details = asking(granted(&framed, "example.com"), Trust::Trusted).details(&framed);
    assert_eq!(details.get("remember_offer"), Some(&Value::from(false)));
    // A bound app is never offered it.
    let chat = flatpak("org.example.Chat");
    let c = asked(&chat, None);
    let details = asking(granted(&c, "chat.example.com"), Trust::Trusted).details(&c);
    assert_eq!(details.get("remember_offer"), Some(&Value::from(false)));
}

fn fault_of<T: std::fmt::Debug>(d: Decision<T>) -> crate::fault::Fault {
    match d {
        Err(Stop::Failed(f) | Stop::Refused(f)) => f,
        other => panic!("expected a stop, got {other:?}"),
    }
}

/// Each step's stop says whose fault it is, and that alone decides the name: malformed options
/// and a forbidden RP ID are the caller's, a missing prompt the system's, a refusal the user's.
#[test]
fn each_stop_says_whose_fault_it_is() {
    use crate::fault::{Blame, FaultKind};
    let chat = flatpak("org.example.Chat");
    let a = asked(&chat, None);
    let malformed = fault_of(Admitted::new(
        policy().classify(a.caller),
        &a,
        options::check(Kind::Create, "{\"rp\": 1}"),
    ));
    assert_eq!(
        (malformed.blame(), malformed.kind()),
        (Blame::Caller, FaultKind::Invalid)
    );
    assert_eq!(malformed.webauthn().name(), "TypeError");
    let browser = flatpak("org.example.Browser");
    let shop = asked(&browser, Some("https://shop.example.org"));
    let forbidden = fault_of(admit(&shop, "example.com").unwrap().authorize(&shop, false));
    assert_eq!(forbidden.blame(), Blame::Caller);
    assert_eq!(forbidden.webauthn().name(), "SecurityError");
    let no_prompt = fault_of(granted(&a, "chat.example.com").prompt(None::<Trust>, |t| *t));
    assert_eq!(
        (no_prompt.blame(), no_prompt.kind()),
        (Blame::System, FaultKind::Unavailable)
    );
    assert_eq!(no_prompt.webauthn().name(), "NotAllowedError");
    let g = asking(granted(&a, "chat.example.com"), Trust::CallerControlled);
    let refused = fault_of(g.consented(&a, Err(NoConsent::Refused)));
    assert_eq!(
        (refused.blame(), refused.kind()),
        (Blame::User, FaultKind::Refused)
    );
}

#[test]
fn a_timeout_is_named_in_seconds_when_whole_and_in_milliseconds_otherwise() {
    assert_eq!(super::seconds_or_ms(Duration::from_secs(5)), "5 s");
    assert_eq!(super::seconds_or_ms(Duration::from_millis(300)), "300 ms");
    assert_eq!(super::seconds_or_ms(Duration::from_millis(1500)), "1500 ms");
}

/// The caller leaving the bus while its request is being started (identified and queued, not
/// yet recorded for `Shared::sender_left` to cancel): `spawn` finds it departed.
mod starting {
    use std::sync::Arc;

    use latchkey_api::request::handle_path;
    use zbus::names::{OwnedUniqueName, UniqueName};
    use zbus::zvariant::OwnedObjectPath;
    use zbus::Connection;

    use super::super::{spawn, NewRequest, RequestObject};
    use crate::ceremony::RequestId;
    use crate::identity::port::BusCallers;
    use crate::options::{Kind, Timeouts};
    use crate::queue;
    use crate::state::{Backends, Settings, Shared};

    /// latchkeyd's end of a peer-to-peer connection (the caller's end is returned to be kept).
    async fn connected() -> (Connection, Connection) {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let tokio_stream = |s: std::os::unix::net::UnixStream| {
            s.set_nonblocking(true).unwrap();
            tokio::net::UnixStream::from_std(s).unwrap()
        };
        let server = zbus::connection::Builder::unix_stream(tokio_stream(ours))
            .server(zbus::Guid::generate())
            .unwrap()
            .p2p()
            .unique_name(":1.0")
            .unwrap()
            .build();
        let client = zbus::connection::Builder::unix_stream(tokio_stream(theirs))
            .p2p()
            .build();
        let (server, client) = tokio::join!(server, client);
        (server.unwrap(), client.unwrap())
    }

    fn shared() -> Arc<Shared> {
        let platform = Arc::new(crate::platform::PlatformBackend::new(Box::new(
            latchkey_testkit::platform::device(),
        )));
        let settings = Settings {
            policy: super::policy(),
            backends: Backends::single(platform),
            queue_capacity: 64,
            timeouts: Timeouts::default(),
            uid: 0,
            related_origins: None,
            state_dir: None,
        };
        Arc::new(Shared::new(settings, Arc::new(BusCallers)))
    }

    fn request(n: u64, sender: &str) -> NewRequest {
        let name = UniqueName::try_from(sender).unwrap();
        NewRequest {
            id: RequestId(n),
            kind: Kind::Get,
            path: handle_path(&name, "t1").unwrap(),
            sender: OwnedUniqueName::from(name),
            caller: super::flatpak("org.example.Browser"),
            options_json: super::get_options("example.com", "{}"),
            origin: Some("https://example.com".into()),
            top_origin: None,
            parent_window: None,
        }
    }

    async fn exported(conn: &Connection, path: &OwnedObjectPath) -> bool {
        conn.object_server()
            .interface::<_, RequestObject>(path)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_caller_that_left_while_its_request_was_started_gets_no_request_object() {
        let (conn, _caller) = connected().await;
        let shared = shared();
        // Someone else's ceremony holds the prompt, so a request that is started waits in the
        // queue (its task cannot end before the checks below).
        let ahead = shared
            .queue
            .enter(queue::caller_key(&super::flatpak("org.example.Other"), 0))
            .unwrap();
        let _turn = ahead.turn().await.unwrap();

        shared.sender_left(":1.5");
        let left = request(1, ":1.5");
        let left_path = left.path.clone();
        spawn(shared.clone(), conn.clone(), conn.object_server(), left)
            .await
            .unwrap();
        assert!(
            !exported(&conn, &left_path).await,
            "no object for a caller that left"
        );
        assert!(!shared.lock_requests().contains_key(&left_path));
        assert_eq!(
            shared.queue.len(),
            1,
            "its place in the queue is given back"
        );

        // Another caller's request on the same latchkeyd is started as usual.
        let staying = request(2, ":1.6");
        let staying_path = staying.path.clone();
        spawn(shared.clone(), conn.clone(), conn.object_server(), staying)
            .await
            .unwrap();
        assert!(exported(&conn, &staying_path).await);
        assert!(shared.lock_requests().contains_key(&staying_path));
        assert_eq!(shared.queue.len(), 2);

        // Leaving now cancels it: the task takes the object down and gives the place back.
        shared.sender_left(":1.6");
        let mut queued = shared.queue.watch_len();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            queued.wait_for(|n| *n == 1),
        )
        .await
        .expect("the cancelled request left the queue")
        .unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while exported(&conn, &staying_path).await {
            assert!(tokio::time::Instant::now() < deadline, "its object stayed");
            tokio::task::yield_now().await;
        }
        assert!(!shared.lock_requests().contains_key(&staying_path));
    }
}

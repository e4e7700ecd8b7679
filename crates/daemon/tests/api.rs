#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The D-Bus API: its contract and the prompts a bus serves on a private dbus-daemon; what needs
//! the API alone (the identity/policy table, a refusal, the PIN's descriptor, management) over a
//! socket pair (`latchkey_testkit::peer`).

mod common;

use common::*;
use latchkey_api::Kind;
use latchkey_api::{CallOptions, CredentialsClient};

fn web(origin: &str) -> CallOptions {
    CallOptions {
        origin: Some(origin.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_client_registers_and_signs_in() {
    // The API alone: over a socket pair, this process serving the prompt.
    let (d, prompt) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        FakeBackend::new(FakeMode::Answer),
        "approve\n",
    )
    .await;
    let client = &d.client;

    let out = client
        .call(
            Kind::Create,
            &create_options("example.com"),
            &web("https://login.example.com"),
        )
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?} {:?}", out.error_name(), out.message());
    assert_eq!(
        client_data(&out.response_json().unwrap()),
        r#"{"type":"webauthn.create","challenge":"AAECAwQFBgcICQoLDA0ODw","origin":"https://login.example.com","crossOrigin":false}"#
    );
    let out = client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://example.com"),
        )
        .await
        .unwrap();
    assert_eq!(out.code, 0);
    assert_eq!(
        client_data(&out.response_json().unwrap()),
        r#"{"type":"webauthn.get","challenge":"AAECAwQFBgcICQoLDA0ODw","origin":"https://example.com","crossOrigin":false}"#
    );
    let shown = prompt.consents();
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0]["details"]["rp_id"], "example.com");
    assert_eq!(shown[0]["details"]["origin"], "https://login.example.com");
    assert_eq!(shown[0]["details"]["caller_class"], "privileged");
    assert_eq!(shown[0]["details"]["caller_verified"], true);
    assert_eq!(shown[0]["details"]["user_name"], "alice");
    assert_eq!(shown[1]["details"]["kind"], "get");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_xml_is_the_contract() {
    let bus = TestBus::start();
    let _d = start_daemon(
        &bus,
        &policy_privileged_self(),
        FakeBackend::new(FakeMode::Hang),
    )
    .await;
    let _prompt = Prompt::spawn(&bus, "approve\n", false);
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    let contract = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/dev.latchkey.Credentials1.xml"
    ))
    .unwrap();
    let live = introspect(
        client.connection(),
        "dev.latchkey.Credentials",
        "/dev/latchkey/Credentials",
    )
    .await;
    let want = interface_shape(&contract, "dev.latchkey.Credentials1");
    assert_eq!(want.len(), 52, "{want:?}");
    assert_eq!(interface_shape(&live, "dev.latchkey.Credentials1"), want);

    // A request object, alive while the authenticator hangs.
    let pending = client
        .start(
            Kind::Create,
            &create_options("example.com"),
            &web("https://example.com"),
        )
        .await
        .unwrap();
    let live = introspect(
        client.connection(),
        "dev.latchkey.Credentials",
        pending.handle.as_str(),
    )
    .await;
    let want = interface_shape(&contract, "dev.latchkey.Request1");
    assert_eq!(want.len(), 4, "{want:?}");
    assert_eq!(interface_shape(&live, "dev.latchkey.Request1"), want);
    pending.close().await.unwrap();

    let prompt_contract = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/dev.latchkey.Prompt1.xml"
    ))
    .unwrap();
    let live = introspect(
        client.connection(),
        "dev.latchkey.Prompt",
        "/dev/latchkey/Prompt",
    )
    .await;
    let want = interface_shape(&prompt_contract, "dev.latchkey.Prompt1");
    assert!(want.len() > 15, "{want:?}");
    assert_eq!(interface_shape(&live, "dev.latchkey.Prompt1"), want);

    assert_eq!(client.proxy().version().await.unwrap(), 1);
    let caps = client.proxy().get_client_capabilities().await.unwrap();
    assert_eq!(caps.get("passkeyPlatformAuthenticator"), Some(&true));
    assert_eq!(caps.get("conditionalGet"), Some(&false));
    assert_eq!(caps.get("relatedOrigins"), Some(&false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_policy_table() {
    // The API alone: a latchkeyd over a socket pair per policy, this process serving the prompt.
    let exe_name = std::env::current_exe()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let create = |rp: &str| create_options(rp);

    // 1. Privileged: may vouch for https://example.com, not for a mismatching RP ID or http.
    {
        let d = peer::start_prompting(
            &policy::privileged_self_prompting(),
            FakeBackend::new(FakeMode::Answer),
            "approve\n",
        )
        .await;
        let client = &d.client;
        let ok = client
            .call(
                Kind::Create,
                &create("example.com"),
                &web("https://example.com"),
            )
            .await
            .unwrap();
        assert_eq!(ok.code, 0);
        let bad = client
            .call(
                Kind::Create,
                &create("example.org"),
                &web("https://example.com"),
            )
            .await
            .unwrap();
        assert_eq!(
            (bad.code, bad.error_name().as_deref()),
            (2, Some("SecurityError"))
        );
        let bad = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &web("http://example.com"),
            )
            .await
            .unwrap();
        assert_eq!(bad.error_name().as_deref(), Some("SecurityError"));
        let bad = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(bad.error_name().as_deref(), Some("SecurityError"));
    }
    // 2. Unprivileged (unknown): may not vouch for a web origin.
    {
        let (d, p) = peer::start_recorded(
            &policy::self_prompting(),
            FakeBackend::new(FakeMode::Answer),
            "approve\n",
        )
        .await;
        let client = &d.client;
        let bad = client
            .call(
                Kind::Create,
                &create("example.com"),
                &web("https://example.com"),
            )
            .await
            .unwrap();
        assert_eq!(
            (bad.code, bad.error_name().as_deref()),
            (2, Some("SecurityError"))
        );
        assert!(p.consents().is_empty(), "refused before any prompt");
        // Without an origin it reaches the prompt, shown as unverified, and gets app:<id>.
        let ok = client
            .call(
                Kind::Create,
                &create("example.com"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(ok.code, 0, "{:?}", ok.message());
        assert!(client_data(&ok.response_json().unwrap())
            .contains(&format!("\"origin\":\"app:{exe_name}\"")));
        let shown = p.consents();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0]["details"]["caller_verified"], false);
        assert_eq!(shown[0]["details"]["caller_class"], "unknown");
        assert_eq!(shown[0]["details"]["app_id"], exe_name.as_str());
        assert_eq!(shown[0]["details"]["origin"], format!("app:{exe_name}"));
    }
    // 3. Bound app: its RP IDs only, as app:<id> or as a web origin of that RP ID.
    {
        let policy = policy::bound_self_prompting(&["example.com"]);
        let (d, p) =
            peer::start_recorded(&policy, FakeBackend::new(FakeMode::Answer), "approve\n").await;
        let client = &d.client;
        let ok = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(ok.code, 0);
        let ok = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &web("https://example.com"),
            )
            .await
            .unwrap();
        assert_eq!(ok.code, 0);
        let bad = client
            .call(
                Kind::Get,
                &get_options("bank.example"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(bad.error_name().as_deref(), Some("SecurityError"));
        let bad = client
            .call(
                Kind::Get,
                &get_options("bank.example"),
                &web("https://bank.example"),
            )
            .await
            .unwrap();
        assert_eq!(bad.error_name().as_deref(), Some("SecurityError"));
        assert_eq!(p.consents().len(), 2);
        assert_eq!(p.consents()[0]["details"]["caller_class"], "bound");
    }
    // 4. Denied by policy.
    {
        let policy = format!("unknown_callers = \"deny\"\n{}", policy::self_prompting());
        let d =
            peer::start_prompting(&policy, FakeBackend::new(FakeMode::Answer), "approve\n").await;
        let client = &d.client;
        let bad = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(bad.error_name().as_deref(), Some("NotAllowedError"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_refusal_is_code_1() {
    // The API alone: over a socket pair, this process serving the prompt that refuses.
    let settings = latchkey_testkit::daemon::settings(
        &latchkey_testkit::policy::privileged_self_prompting(),
        FakeBackend::new(FakeMode::Answer),
    );
    let d = latchkey_testkit::peer::serve_prompting(settings, "deny\n").await;
    let out = d
        .client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://example.com"),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.code, out.error_name().as_deref()),
        (1, Some("NotAllowedError"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_controlled_prompt_cannot_approve_unverified_callers() {
    let bus = TestBus::start();
    let client = CredentialsClient::connect(Some(&bus.address))
        .await
        .unwrap();
    // The prompt binary is NOT trusted here; it registers as this test process's own prompt.
    {
        let _d = start_daemon(&bus, "", FakeBackend::new(FakeMode::Answer)).await;
        let p = Prompt::spawn(&bus, "approve\n", true);
        let out = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            (out.code, out.error_name().as_deref()),
            (2, Some("NotAllowedError"))
        );
        assert!(
            out.message().unwrap().contains("trusted prompt"),
            "{:?}",
            out.message()
        );
        assert!(
            p.consents().is_empty(),
            "the untrusted prompt was never asked"
        );
    }
    // For a request policy already allows (privileged client), it may relay consent.
    {
        let policy = format!(
            "[[privileged]]\nexecutable = \"{}\"\n",
            std::env::current_exe().unwrap().display()
        );
        let _d = start_daemon(&bus, &policy, FakeBackend::new(FakeMode::Answer)).await;
        let p = Prompt::spawn(&bus, "approve\n", true);
        let out = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &web("https://example.com"),
            )
            .await
            .unwrap();
        assert_eq!(out.code, 0, "{:?}", out.message());
        assert_eq!(p.consents().len(), 1);
    }
    // A squatter owning dev.latchkey.Prompt without being the trusted prompt is ignored.
    {
        let _d = start_daemon(&bus, "", FakeBackend::new(FakeMode::Answer)).await;
        let p = Prompt::spawn(&bus, "approve\n", false);
        let out = client
            .call(
                Kind::Get,
                &get_options("example.com"),
                &CallOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(out.error_name().as_deref(), Some("NotAllowedError"));
        assert!(p.consents().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_travels_as_a_file_descriptor() {
    // Over a socket pair: the PIN crosses it as a descriptor, as it crosses a bus.
    let (d, p) = peer::start_recorded(
        &policy::privileged_self_prompting(),
        FakeBackend::new(FakeMode::AskPin),
        "approve\npin 314159\n",
    )
    .await;
    let out = d
        .client
        .call(
            Kind::Get,
            &get_options("example.com"),
            &web("https://example.com"),
        )
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{:?}", out.message());
    let v: serde_json::Value = serde_json::from_str(&out.response_json().unwrap()).unwrap();
    assert_eq!(v["pinLength"], 6);
    let shown = p.shown();
    assert_eq!(shown[1]["method"], "RequestPin");
    assert!(!std::fs::read_to_string(p.path())
        .unwrap()
        .contains("314159"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_methods() {
    // The API alone: over a socket pair, no bus.
    let d =
        latchkey_testkit::peer::start(&trusted_prompt(), FakeBackend::new(FakeMode::Answer)).await;
    let client = &d.client;
    let list = client
        .proxy()
        .list_credentials(Default::default())
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["credential_id"],
        zbus::zvariant::OwnedValue::from(zbus::zvariant::Str::from("AQID"))
    );
    client.proxy().delete_credential("AQID").await.unwrap();
    let e = latchkey_api::ClientError::from(
        client.proxy().delete_credential("BBBB").await.unwrap_err(),
    );
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.NotFound")
    );
    let e =
        latchkey_api::ClientError::from(client.proxy().delete_credential("+/").await.unwrap_err());
    assert_eq!(
        e.dbus_name(),
        Some("dev.latchkey.Credentials1.Error.InvalidArgument")
    );
}

use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::store::CredentialStore;
use latchkey_testkit::platform::seed;

use latchkey_client::platform::{self, PlatformDevice, Presence};

use super::*;

fn signal(kind: SignalKind, json: &str) -> Signal {
    let r = SignalRequest::parse(kind, json).unwrap();
    let rp = RpId::parse(&r.rp_id).unwrap();
    r.authorized(rp)
}

fn ids(store: &mut MemoryStore, rp: &str) -> Vec<Vec<u8>> {
    store.by_rp(rp).unwrap().into_iter().map(|c| c.id).collect()
}

// base64url: AQID = [1,2,3], BAUG = [4,5,6], BwgJ = [7,8,9], dXNlcg = "user", b3RoZXI = "other"

#[test]
fn parses_the_three_option_dictionaries() {
    let r = SignalRequest::parse(
        SignalKind::UnknownCredential,
        r#"{"rpId":"example.com","credentialId":"AQID","extra":1}"#,
    )
    .unwrap();
    assert_eq!(r.rp_id, "example.com");
    assert_eq!(r.body.kind(), SignalKind::UnknownCredential);
    let r = SignalRequest::parse(
        SignalKind::AllAcceptedCredentials,
        r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["AQID","BAUG"]}"#,
    )
    .unwrap();
    let SignalBody::AllAcceptedCredentials { user_id, accepted } = r.body else {
        panic!("wrong body")
    };
    assert_eq!(user_id.as_bytes(), b"user");
    assert_eq!(accepted.len(), 2);
    let r = SignalRequest::parse(
        SignalKind::CurrentUserDetails,
        r#"{"rpId":"example.com","userId":"dXNlcg","name":"a@example.com","displayName":"A"}"#,
    )
    .unwrap();
    assert_eq!(
        r.body,
        SignalBody::CurrentUserDetails {
            user_id: latchkey_webauthn::ids::UserHandle::new(b"user".to_vec()).unwrap(),
            name: "a@example.com".into(),
            display_name: "A".into()
        }
    );
}

#[test]
fn malformed_options_are_type_errors() {
    let cases = [
        (SignalKind::UnknownCredential, "{"),
        (SignalKind::UnknownCredential, r#"{"rpId":"example.com"}"#),
        (
            SignalKind::UnknownCredential,
            r#"{"rpId":"example.com","credentialId":"a+b/"}"#,
        ),
        (
            SignalKind::UnknownCredential,
            r#"{"rpId":"example.com","credentialId":""}"#,
        ),
        (
            SignalKind::UnknownCredential,
            r#"{"rpId":7,"credentialId":"AQID"}"#,
        ),
        (
            SignalKind::AllAcceptedCredentials,
            r#"{"rpId":"example.com","userId":"!!","allAcceptedCredentialIds":[]}"#,
        ),
        (
            SignalKind::AllAcceptedCredentials,
            r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["AQID","%%"]}"#,
        ),
        (
            SignalKind::AllAcceptedCredentials,
            r#"{"rpId":"example.com","userId":"","allAcceptedCredentialIds":[]}"#,
        ),
        (
            SignalKind::CurrentUserDetails,
            r#"{"rpId":"example.com","userId":"dXNlcg","name":"a"}"#,
        ),
    ];
    for (kind, json) in cases {
        let e = SignalRequest::parse(kind, json).unwrap_err();
        assert_eq!(e.name(), "TypeError", "{json}: {}", e.message());
    }
    let big = format!(
        r#"{{"rpId":"example.com","credentialId":"AQID","pad":"{}"}}"#,
        " ".repeat(MAX_OPTIONS_JSON)
    );
    assert_eq!(
        SignalRequest::parse(SignalKind::UnknownCredential, &big)
            .unwrap_err()
            .name(),
        "TypeError"
    );
}

fn stored(id: &[u8], user: &[u8], name: Option<&str>, display: Option<&str>) -> CredentialInfo {
    CredentialInfo {
        credential_id: id.to_vec(),
        rp_id: "example.com".into(),
        user_id: user.to_vec(),
        user_name: name.map(Into::into),
        user_display_name: display.map(Into::into),
        discoverable: true,
        cred_protect: 1,
        sign_count: None,
    }
}

/// The platform authenticator over `store`, as signals reach it.
fn device(store: MemoryStore) -> PlatformDevice<MemoryStore> {
    let cancel = latchkey_client::CancelHandle::new();
    PlatformDevice::with_store(
        platform::config(),
        store,
        Presence::granted(cancel.clone()),
        cancel,
        "memory".into(),
    )
}

#[test]
fn plan_follows_the_authenticator_actions() {
    let stored = vec![
        stored(&[1, 2, 3], b"user", Some("a"), Some("A")),
        stored(&[4, 5, 6], b"user", Some("old"), Some("Old")),
        stored(&[7, 8, 9], b"other", None, None),
    ];
    let unknown = signal(
        SignalKind::UnknownCredential,
        r#"{"rpId":"example.com","credentialId":"BAUG"}"#,
    );
    assert_eq!(plan(&unknown, &stored), vec![Action::Remove(vec![4, 5, 6])]);
    let none = signal(
        SignalKind::UnknownCredential,
        r#"{"rpId":"example.com","credentialId":"CgsM"}"#,
    );
    assert!(plan(&none, &stored).is_empty());
    let accepted = signal(
        SignalKind::AllAcceptedCredentials,
        r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["AQID","BwgJ"]}"#,
    );
    // [7,8,9] is another user's: listing it for this user neither keeps nor removes it.
    assert_eq!(
        plan(&accepted, &stored),
        vec![Action::Remove(vec![4, 5, 6])]
    );
    let details = signal(
        SignalKind::CurrentUserDetails,
        r#"{"rpId":"example.com","userId":"dXNlcg","name":"a","displayName":"A"}"#,
    );
    assert_eq!(
        plan(&details, &stored),
        vec![Action::UpdateUser {
            id: vec![4, 5, 6],
            name: "a".into(),
            display_name: "A".into()
        }]
    );
}

#[test]
fn applied_to_a_store() {
    let mut store = MemoryStore::default();
    seed(
        &mut store,
        &[1, 2, 3],
        "example.com",
        b"user",
        "alice",
        false,
    );
    seed(
        &mut store,
        &[4, 5, 6],
        "example.com",
        b"user",
        "alice",
        true,
    );
    seed(&mut store, &[7, 8, 9], "example.com", b"other", "bob", true);
    seed(
        &mut store,
        &[10, 11, 12],
        "other.example",
        b"user",
        "alice",
        true,
    );
    let mut device = device(store);

    let report = apply(
        &mut device,
        &signal(
            SignalKind::UnknownCredential,
            r#"{"rpId":"example.com","credentialId":"CgsM"}"#,
        ),
    )
    .unwrap();
    assert_eq!(report, SignalReport::default(), "another RP's credential");
    assert_eq!(ids(device.core_mut().store_mut(), "other.example").len(), 1);

    let report = apply(
        &mut device,
        &signal(
            SignalKind::CurrentUserDetails,
            r#"{"rpId":"example.com","userId":"dXNlcg","name":"alice@new","displayName":"Alice New"}"#,
        ),
    )
    .unwrap();
    assert_eq!(report.updated, 2);
    let users: Vec<_> = device
        .core_mut()
        .store_mut()
        .by_rp("example.com")
        .unwrap()
        .into_iter()
        .map(|c| (c.user.name, c.user.display_name))
        .collect();
    assert_eq!(
        users,
        vec![
            (Some("alice@new".into()), Some("Alice New".into())),
            (Some("alice@new".into()), Some("Alice New".into())),
            (Some("bob".into()), Some("BOB".into())),
        ]
    );
    // The other RP's credential for the same user handle keeps its names.
    let other = device
        .core_mut()
        .store_mut()
        .by_rp("other.example")
        .unwrap();
    assert_eq!(other[0].user.name.as_deref(), Some("alice"));

    let report = apply(
        &mut device,
        &signal(
            SignalKind::AllAcceptedCredentials,
            r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["BAUG"]}"#,
        ),
    )
    .unwrap();
    assert_eq!(report.removed, 1);
    assert_eq!(
        ids(device.core_mut().store_mut(), "example.com"),
        vec![vec![4, 5, 6], vec![7, 8, 9]]
    );
    let report = apply(
        &mut device,
        &signal(
            SignalKind::UnknownCredential,
            r#"{"rpId":"example.com","credentialId":"BwgJ"}"#,
        ),
    )
    .unwrap();
    assert_eq!(report.removed, 1);
    assert_eq!(
        ids(device.core_mut().store_mut(), "example.com"),
        vec![vec![4, 5, 6]]
    );
}

#[test]
fn applied_to_a_routed_device_removes_and_updates() {
    let mut store = MemoryStore::default();
    seed(
        &mut store,
        &[1, 2, 3],
        "example.com",
        b"user",
        "alice",
        false,
    );
    seed(
        &mut store,
        &[4, 5, 6],
        "example.com",
        b"user",
        "alice",
        true,
    );
    seed(&mut store, &[7, 8, 9], "example.com", b"other", "bob", true);
    seed(
        &mut store,
        &[10, 11, 12],
        "other.example",
        b"user",
        "alice",
        true,
    );
    let mut device = device(store);
    let report = apply(
        &mut device,
        &signal(
            SignalKind::AllAcceptedCredentials,
            r#"{"rpId":"example.com","userId":"dXNlcg","allAcceptedCredentialIds":["AQID"]}"#,
        ),
    )
    .unwrap();
    assert_eq!(report.removed, 1);
    let left: Vec<Vec<u8>> = device
        .core_mut()
        .store_mut()
        .by_rp("example.com")
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, vec![vec![1, 2, 3], vec![7, 8, 9]]);

    // A name over the store's limit is cut on a character boundary.
    let long = "é".repeat(MAX_USER_FIELD);
    let json =
        format!(r#"{{"rpId":"example.com","userId":"dXNlcg","name":"{long}","displayName":"A"}}"#);
    let details = signal(SignalKind::CurrentUserDetails, &json);
    let report = apply(&mut device, &details).unwrap();
    assert_eq!(report.updated, 1);
    let names = |device: &mut PlatformDevice<MemoryStore>, rp: &str| -> Vec<_> {
        device
            .core_mut()
            .store_mut()
            .by_rp(rp)
            .unwrap()
            .into_iter()
            .map(|c| (c.id, c.user.name, c.user.display_name))
            .collect()
    };
    assert_eq!(
        names(&mut device, "example.com"),
        vec![
            (
                vec![1, 2, 3],
                Some("é".repeat(MAX_USER_FIELD / 2)),
                Some("A".into())
            ),
            (vec![7, 8, 9], Some("bob".into()), Some("BOB".into())),
        ]
    );
    assert_eq!(
        names(&mut device, "other.example"),
        vec![(vec![10, 11, 12], Some("alice".into()), Some("ALICE".into()))]
    );
    // Again: nothing differs, nothing is written.
    assert_eq!(
        apply(&mut device, &details).unwrap(),
        SignalReport::default()
    );
}

/// A routed device that lists and deletes but cannot rename.
struct NoRename(latchkey_client::platform::PlatformDevice<MemoryStore>);

impl latchkey_client::Device for NoRename {
    fn info(&self) -> latchkey_client::DeviceDescription {
        self.0.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(latchkey_client::device::KeepaliveStatus),
    ) -> Result<Vec<u8>, latchkey_client::DeviceError> {
        self.0.cbor(request, status)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, latchkey_client::DeviceError> {
        self.0.msg(apdu)
    }
    fn cancel_handle(&self) -> latchkey_client::CancelHandle {
        self.0.cancel_handle()
    }
}

impl ManagedDevice for NoRename {
    fn list(
        &mut self,
        rp_id: Option<&str>,
    ) -> Option<Result<Vec<latchkey_client::manage::CredentialInfo>, latchkey_worker::ManageError>>
    {
        self.0.list(rp_id)
    }
    fn delete(&mut self, id: &[u8]) -> Option<Result<bool, latchkey_worker::ManageError>> {
        self.0.delete(id)
    }
}

#[test]
fn a_device_that_cannot_rename_refuses_current_user_details() {
    let mut store = MemoryStore::default();
    seed(
        &mut store,
        &[1, 2, 3],
        "example.com",
        b"user",
        "alice",
        true,
    );
    let mut device = NoRename(device(store));
    let e = apply(
        &mut device,
        &signal(
            SignalKind::CurrentUserDetails,
            r#"{"rpId":"example.com","userId":"dXNlcg","name":"a","displayName":"A"}"#,
        ),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        SignalError::NotSupported("signalCurrentUserDetails")
    ));
    let stored = device
        .0
        .core_mut()
        .store_mut()
        .by_rp("example.com")
        .unwrap();
    assert_eq!(stored[0].user.name.as_deref(), Some("alice"));
}

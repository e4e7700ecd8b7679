#![allow(clippy::unwrap_used)]

use latchkey_client::manage::CredentialInfo;

use super::*;

#[test]
fn a_key_keeps_its_handle_where_it_is_plugged_in_and_unknown_handles_name_nothing() {
    let state = KeyManageState::default();
    assert_eq!(state.handle("/dev/hidraw3"), "key1");
    assert_eq!(state.handle("unix:/run/key.sock"), "key2");
    assert_eq!(state.handle("/dev/hidraw3"), "key1");
    assert_eq!(state.place("key2").as_deref(), Some("unix:/run/key.sock"));
    for unknown in ["key0", "key3", "key", "1", "keyx", "key-1", ""] {
        assert_eq!(state.place(unknown), None, "{unknown:?}");
    }
}

#[test]
fn aaguids_read_as_uuids() {
    assert_eq!(
        aaguid_text(b"latchkey-testkey"),
        "6c617463-686b-6579-2d74-6573746b6579"
    );
}

#[test]
fn credentials_are_listed_with_base64url_ids_and_empty_missing_names() {
    let entry = credential_entry(CredentialInfo {
        credential_id: vec![0xfb, 0xff],
        rp_id: "example.com".into(),
        user_id: vec![1],
        user_name: None,
        user_display_name: Some("Alice".into()),
        discoverable: true,
        cred_protect: 1,
        sign_count: None,
    });
    let text = |k: &str| String::try_from(entry[k].try_clone().unwrap()).unwrap();
    assert_eq!(text("credential_id"), "-_8");
    assert_eq!(text("rp_id"), "example.com");
    assert_eq!(text("user_name"), "");
    assert_eq!(text("user_display_name"), "Alice");
}

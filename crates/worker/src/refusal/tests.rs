use std::error::Error as _;

use latchkey_authenticator::store::StoreErrorKind;
use latchkey_client::platform::StoreOpenError;

use super::Refusal;
use crate::protocol::{Malformed, PROTOCOL_VERSION};
use crate::WorkerError;

#[test]
fn each_refusal_reads_as_before_behind_the_worker_error() {
    let cases = [
        (
            Refusal::NoStore(StoreOpenError::NoHome),
            "the platform authenticator could not start: cannot find the credential store: \
             neither XDG_DATA_HOME nor HOME is set"
                .to_owned(),
        ),
        (
            Refusal::Said {
                store: Some(StoreErrorKind::Io),
                message: "cannot create /x/store".into(),
            },
            "the platform authenticator could not start: cannot create /x/store".to_owned(),
        ),
        (
            Refusal::PlatformExited,
            "the platform authenticator could not start: the worker exited before opening the \
             store"
                .to_owned(),
        ),
        (
            Refusal::KeysExited,
            "the platform authenticator could not start: the security key worker exited before \
             it was ready"
                .to_owned(),
        ),
        (
            Refusal::NotReadyFirst,
            "the platform authenticator could not start: the security key worker did not say \
             Ready first"
                .to_owned(),
        ),
        (
            Refusal::Version(PROTOCOL_VERSION + 1),
            format!(
                "the platform authenticator could not start: the security key worker speaks \
                 protocol version {}, latchkeyd version {PROTOCOL_VERSION}: restart latchkeyd",
                PROTOCOL_VERSION + 1
            ),
        ),
    ];
    for (refusal, text) in cases {
        assert_eq!(WorkerError::Refused(refusal).to_string(), text);
    }
}

#[test]
fn the_cause_is_kept_as_the_source() {
    let e = WorkerError::Refused(Refusal::NoStore(StoreOpenError::NoHome));
    let refusal = e.source().and_then(|s| s.downcast_ref::<Refusal>());
    assert!(matches!(refusal, Some(Refusal::NoStore(_))), "{e:?}");
    let store = refusal
        .and_then(|r| r.source())
        .and_then(|s| s.downcast_ref::<StoreOpenError>());
    assert!(matches!(store, Some(StoreOpenError::NoHome)), "{e:?}");

    let malformed = Refusal::Malformed(Malformed::too_large());
    assert!(malformed
        .to_string()
        .starts_with("the security key worker sent a malformed message: "));
    let inner = malformed
        .source()
        .and_then(|s| s.downcast_ref::<Malformed>());
    assert_eq!(inner, Some(&Malformed::too_large()));

    let said = Refusal::Said {
        store: None,
        message: "the sandbox cannot be applied".into(),
    };
    assert!(said.source().is_none());
}

use super::*;

#[test]
fn statuses_map_to_the_dom_exceptions_webauthn_names() {
    let name = |s: StatusCode| status_to_webauthn(Step::MakeCredential, s).name();
    assert_eq!(name(StatusCode::CredentialExcluded), "InvalidStateError");
    assert_eq!(name(StatusCode::NoCredentials), "NotAllowedError");
    assert_eq!(name(StatusCode::PinBlocked), "NotAllowedError");
    assert_eq!(name(StatusCode::OperationDenied), "NotAllowedError");
    assert_eq!(name(StatusCode::KeepaliveCancel), "AbortError");
    assert_eq!(name(StatusCode::UnsupportedAlgorithm), "NotSupportedError");
    assert_eq!(name(StatusCode::KeyStoreFull), "ConstraintError");
    assert_eq!(name(StatusCode::from(0xF3)), "NotAllowedError");
}

#[test]
fn messages_say_what_failed() {
    let e = status_to_webauthn(Step::GetAssertion, StatusCode::InvalidCbor);
    assert_eq!(
        e.message(),
        "the authenticator answered CTAP2_ERR_INVALID_CBOR (0x12) while signing in"
    );
    let e = to_webauthn(Step::Pin, &CtapError::Device(DeviceError::Timeout));
    assert_eq!(e.name(), "NotAllowedError");
    assert!(e
        .message()
        .contains("did not answer in time while verifying the PIN"));
    let e = to_webauthn(Step::Info, &CtapError::Device(DeviceError::Cancelled));
    assert_eq!(e.name(), "AbortError");
    let e = status_to_webauthn(Step::Pin, StatusCode::PinAuthBlocked);
    assert!(
        e.message().contains("remove and reinsert"),
        "{}",
        e.message()
    );
}

#[test]
fn every_status_keeps_itself_and_its_step_as_the_typed_cause() {
    for byte in 0..=u8::MAX {
        let status = StatusCode::from(byte);
        let e = status_to_webauthn(Step::Pin, status);
        assert_eq!(
            failure(&e),
            Some(Failure::Status {
                step: Step::Pin,
                status
            }),
            "{byte:#04x}"
        );
        let through = to_webauthn(Step::Pin, &CtapError::Status(status));
        assert_eq!(failure(&through), failure(&e), "{byte:#04x}");
        assert_eq!(through, e, "the same name and message either way");
    }
}

#[test]
fn device_failures_and_malformed_answers_keep_their_kind() {
    let e = to_webauthn(
        Step::GetAssertion,
        &CtapError::Device(DeviceError::Gone(crate::device::Gone::Removed(
            "unplugged".into(),
        ))),
    );
    assert_eq!(
        failure(&e),
        Some(Failure::Device {
            step: Step::GetAssertion,
            kind: DeviceErrorKind::Gone
        })
    );
    let e = to_webauthn(Step::Info, &CtapError::Device(DeviceError::Cancelled));
    assert_eq!(
        failure(&e),
        Some(Failure::Device {
            step: Step::Info,
            kind: DeviceErrorKind::Cancelled
        })
    );
    let malformed = latchkey_ctap::error::Error::EmptyMessage;
    let e = to_webauthn(Step::MakeCredential, &CtapError::Malformed(malformed));
    assert_eq!(e.name(), "NotAllowedError");
    assert_eq!(failure(&e), Some(Failure::Malformed(Step::MakeCredential)));
}

#[test]
fn a_worker_that_stopped_is_an_unknown_error_not_a_refusal() {
    use crate::device::{Gone, Server};
    for server in [Server::DeviceWorker, Server::PlatformWorker] {
        let e = to_webauthn(
            Step::MakeCredential,
            &CtapError::Device(DeviceError::Gone(Gone::Stopped(server))),
        );
        assert_eq!(e.name(), "UnknownError", "{server:?}");
        assert!(e.message().contains(server.stopped()), "{}", e.message());
        assert_eq!(
            failure(&e),
            Some(Failure::Device {
                step: Step::MakeCredential,
                kind: DeviceErrorKind::ServerStopped
            })
        );
    }
    // A key that went away is still the authenticator's failure, refused as before.
    let e = to_webauthn(
        Step::MakeCredential,
        &CtapError::Device(DeviceError::Gone(crate::device::Gone::Removed(
            "unplugged".into(),
        ))),
    );
    assert_eq!(e.name(), "NotAllowedError");
}

#[test]
fn the_user_declining_at_the_client_is_typed_and_a_request_error_has_no_cause() {
    let e = declined(Declined::Pin, "the user did not enter the PIN");
    assert_eq!(e.name(), "NotAllowedError");
    assert_eq!(failure(&e), Some(Failure::Declined(Declined::Pin)));
    assert_eq!(
        failure(&WebAuthnError::not_supported("no usable algorithm")),
        None
    );
}

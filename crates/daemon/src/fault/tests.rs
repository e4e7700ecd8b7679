use super::*;

const ALL: [Blame; 5] = [
    Blame::Caller,
    Blame::User,
    Blame::Authenticator,
    Blame::Store,
    Blame::System,
];

#[test]
fn each_blame_picks_its_webauthn_name() {
    let name = |b, k| Fault::name_for(b, k).as_str();
    assert_eq!(name(Blame::Caller, FaultKind::Invalid), "TypeError");
    assert_eq!(name(Blame::Caller, FaultKind::Forbidden), "SecurityError");
    assert_eq!(
        name(Blame::Caller, FaultKind::Unsupported),
        "NotSupportedError"
    );
    assert_eq!(name(Blame::Caller, FaultKind::Missing), "NotAllowedError");
    assert_eq!(name(Blame::User, FaultKind::Refused), "NotAllowedError");
    assert_eq!(name(Blame::User, FaultKind::TimedOut), "NotAllowedError");
    assert_eq!(name(Blame::User, FaultKind::Cancelled), "AbortError");
    assert_eq!(
        name(Blame::Authenticator, FaultKind::Excluded),
        "InvalidStateError"
    );
    assert_eq!(
        name(Blame::Authenticator, FaultKind::Unsupported),
        "NotSupportedError"
    );
    assert_eq!(
        name(Blame::Authenticator, FaultKind::Failed),
        "NotAllowedError"
    );
    assert_eq!(name(Blame::System, FaultKind::Busy), "NotAllowedError");
    for kind in [FaultKind::Failed, FaultKind::Invalid, FaultKind::TimedOut] {
        assert_eq!(name(Blame::Store, kind), "UnknownError");
        assert_eq!(name(Blame::System, kind), "UnknownError");
    }
    // Only the caller's faults are TypeError or SecurityError: nobody else's failure tells a
    // page that its input was wrong.
    for blame in ALL.into_iter().filter(|b| *b != Blame::Caller) {
        for kind in [FaultKind::Invalid, FaultKind::Forbidden] {
            assert!(!matches!(
                Fault::name_for(blame, kind),
                ErrorName::Type | ErrorName::Security
            ));
        }
    }
}

#[test]
fn each_blame_picks_its_method_error() {
    use zbus::DBusError as _;
    let name = |b, k| {
        Fault::new(b, k, "m")
            .method_error()
            .name()
            .as_str()
            .trim_start_matches("dev.latchkey.Credentials1.Error.")
            .to_owned()
    };
    assert_eq!(name(Blame::Caller, FaultKind::Invalid), "InvalidArgument");
    assert_eq!(name(Blame::Caller, FaultKind::Forbidden), "Security");
    assert_eq!(name(Blame::Caller, FaultKind::Missing), "NotFound");
    assert_eq!(
        name(Blame::Authenticator, FaultKind::Unsupported),
        "NotSupported"
    );
    assert_eq!(name(Blame::User, FaultKind::Refused), "CallerRefused");
    assert_eq!(name(Blame::System, FaultKind::Busy), "Busy");
    assert_eq!(name(Blame::Store, FaultKind::Failed), "Failed");
    assert_eq!(name(Blame::System, FaultKind::Failed), "Failed");
    assert_eq!(name(Blame::Authenticator, FaultKind::Failed), "Failed");
}

#[test]
fn a_store_failure_in_the_worker_is_the_stores_with_its_chain_kept() {
    // What the worker's session makes of an Error reply with code Store: typed to here, the
    // kind of store failure with it.
    let worker = WorkerError::Failed {
        code: ErrorCode::Store,
        message: "storage failed: write /store/index: Read-only file system (os error 30)".into(),
        store: Some(StoreErrorKind::ReadOnly),
    };
    let fault = manage_fault(ManageError::Worker(worker));
    assert_eq!(fault.blame(), Blame::Store);
    assert_eq!(fault.webauthn().name(), "UnknownError");
    assert_eq!(
        fault.webauthn().message(),
        "the credential store failed: the credential store is on a read-only file system",
        "the caller gets the kind, no path"
    );
    assert_eq!(
        fault.chain(),
        "the credential store failed: the credential store is on a read-only file system: the \
         platform authenticator worker failed: the platform authenticator failed: storage \
         failed: write /store/index: Read-only file system (os error 30)"
    );
    use zbus::DBusError as _;
    assert_eq!(
        fault.method_error().name().as_str(),
        "dev.latchkey.Credentials1.Error.Failed"
    );
}

#[test]
fn the_kind_of_a_store_failure_in_the_worker_decides_its_blame() {
    let fault = |store| {
        manage_fault(ManageError::Worker(WorkerError::Failed {
            code: ErrorCode::Store,
            message: String::new(),
            store,
        }))
    };
    let locked = fault(Some(StoreErrorKind::Locked));
    assert_eq!(
        (locked.blame(), locked.kind()),
        (Blame::User, FaultKind::Refused)
    );
    assert_eq!(locked.webauthn().name(), "NotAllowedError");
    let unsupported = fault(Some(StoreErrorKind::Unsupported));
    assert_eq!(unsupported.blame(), Blame::Authenticator);
    assert_eq!(unsupported.webauthn().name(), "NotSupportedError");
    for kind in [
        StoreErrorKind::Corrupt,
        StoreErrorKind::NoSpace,
        StoreErrorKind::InUse,
        StoreErrorKind::Tpm,
    ] {
        let f = fault(Some(kind));
        assert_eq!(f.blame(), Blame::Store, "{kind:?}");
        assert_eq!(f.webauthn().name(), "UnknownError", "{kind:?}");
        assert!(f.webauthn().message().ends_with(kind.describe()));
    }
    // An older worker's reply without a kind is still the store's.
    assert_eq!(fault(None).blame(), Blame::Store);
}

#[test]
fn a_store_failure_in_process_keeps_its_source() {
    let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "disk on fire");
    let fault = manage_fault(ManageError::Store(StoreError::file(
        "writing",
        "/store/index",
        io,
    )));
    assert_eq!(
        (fault.blame(), fault.kind()),
        (Blame::Store, FaultKind::Failed)
    );
    assert_eq!(
        fault.chain(),
        "the credential store failed: the credential store's file system is full: the \
         credential store failed: storage failed: writing /store/index: disk on fire"
    );
    assert!(std::error::Error::source(&fault).is_some());
    let locked = manage_fault(ManageError::Store(StoreError::Locked));
    assert_eq!(locked.blame(), Blame::User);
}

#[test]
fn worker_codes_say_whose_fault_it_was() {
    let blame = |code| {
        worker_blame(&WorkerError::Failed {
            code,
            message: String::new(),
            store: None,
        })
    };
    assert_eq!(blame(ErrorCode::Store), (Blame::Store, FaultKind::Failed));
    assert_eq!(
        blame(ErrorCode::Unavailable),
        (Blame::Store, FaultKind::Failed)
    );
    assert_eq!(
        blame(ErrorCode::Cancelled),
        (Blame::User, FaultKind::Cancelled)
    );
    assert_eq!(blame(ErrorCode::Busy), (Blame::System, FaultKind::Busy));
    assert_eq!(
        blame(ErrorCode::Malformed),
        (Blame::System, FaultKind::Failed)
    );
    assert_eq!(
        blame(ErrorCode::TooLarge),
        (Blame::System, FaultKind::Failed)
    );
    assert_eq!(
        worker_blame(&WorkerError::Stopped),
        (Blame::System, FaultKind::Failed)
    );
    assert_eq!(
        worker_blame(&WorkerError::Cancelled),
        (Blame::User, FaultKind::Cancelled)
    );
}

#[test]
fn a_webauthn_name_under_its_blame_maps_back_to_itself() {
    // What each check raises, under the blame the pipeline gives it: the name the caller saw
    // before faults carried blame is the name it sees now.
    let caller = [
        ErrorName::Type,
        ErrorName::Encoding,
        ErrorName::Syntax,
        ErrorName::Security,
        ErrorName::NotSupported,
        ErrorName::Constraint,
        ErrorName::NotAllowed,
    ];
    for name in caller {
        let e = WebAuthnError::new(name, "m");
        let f = Fault::from_webauthn(Blame::Caller, &e);
        assert_eq!(f.webauthn(), e, "{name}");
    }
    // Every name a back-end gives comes back unchanged, with the blame its name implies.
    for name in ErrorName::ALL {
        let e = WebAuthnError::new(name, "m");
        let f = Fault::from_backend(&e);
        assert_eq!(f.webauthn(), e, "{name}");
    }
    let blame = |name| Fault::from_backend(&WebAuthnError::new(name, "m")).blame();
    assert_eq!(blame(ErrorName::Abort), Blame::User);
    assert_eq!(blame(ErrorName::InvalidState), Blame::Authenticator);
    assert_eq!(blame(ErrorName::NotAllowed), Blame::Authenticator);
    assert_eq!(blame(ErrorName::Type), Blame::Caller);
    assert_eq!(blame(ErrorName::Unknown), Blame::System);
    // Nobody is left without a prompt silently: the system's unavailability is NotAllowed.
    assert_eq!(
        Fault::name_for(Blame::System, FaultKind::Unavailable),
        ErrorName::NotAllowed
    );
}

/// Every CTAP status a key can answer keeps the name the client gave it at the edge, and the
/// ones a person causes are the user's.
#[test]
fn a_ctap_status_is_blamed_by_its_type_and_keeps_its_name() {
    use latchkey_client::error::StatusCode;
    use latchkey_client::error::{status_to_webauthn, Step};
    for byte in 0..=u8::MAX {
        let e = status_to_webauthn(Step::GetAssertion, StatusCode::from(byte));
        let f = Fault::from_ceremony(&e);
        assert_eq!(f.webauthn(), e, "{byte:#04x}");
        assert_ne!(f.blame(), Blame::Store, "{byte:#04x}");
        assert_ne!(f.blame(), Blame::System, "{byte:#04x}");
    }
    let blame = |s| Fault::from_ceremony(&status_to_webauthn(Step::Pin, s)).blame();
    for user in [
        StatusCode::PinInvalid,
        StatusCode::PinBlocked,
        StatusCode::PinAuthBlocked,
        StatusCode::UvBlocked,
        StatusCode::OperationDenied,
        StatusCode::UserActionTimeout,
        StatusCode::KeepaliveCancel,
    ] {
        assert_eq!(blame(user), Blame::User, "{user}");
    }
    for key in [
        StatusCode::CredentialExcluded,
        StatusCode::NoCredentials,
        StatusCode::UnsupportedAlgorithm,
        StatusCode::KeyStoreFull,
        StatusCode::InvalidCbor,
        StatusCode::Other,
        StatusCode::from(0xF3),
    ] {
        assert_eq!(blame(key), Blame::Authenticator, "{key}");
    }
    let wrong = Fault::from_ceremony(&status_to_webauthn(Step::Pin, StatusCode::PinInvalid));
    assert_eq!(wrong.kind(), FaultKind::Refused);
    assert!(
        wrong.chain().contains("CTAP2_ERR_PIN_INVALID"),
        "the log names the status: {}",
        wrong.chain()
    );
}

/// The user declining at the client, a cancelled or silent device and a malformed answer are told
/// apart by type; an error without a typed cause falls back to its name.
#[test]
fn device_failures_and_declines_are_blamed_by_their_type() {
    use latchkey_client::ctap2::CtapError;
    use latchkey_client::error::{declined, to_webauthn, Declined, Step};
    use latchkey_client::DeviceError;
    let fault = |e: CtapError| Fault::from_ceremony(&to_webauthn(Step::MakeCredential, &e));
    let cancelled = fault(CtapError::Device(DeviceError::Cancelled));
    assert_eq!(
        (cancelled.blame(), cancelled.webauthn().name()),
        (Blame::User, "AbortError")
    );
    let silent = fault(CtapError::Device(DeviceError::Timeout));
    assert_eq!(
        (silent.blame(), silent.kind(), silent.webauthn().name()),
        (Blame::Authenticator, FaultKind::TimedOut, "NotAllowedError")
    );
    let gone = fault(CtapError::Device(DeviceError::Gone(
        latchkey_client::device::Gone::Removed("unplugged".into()),
    )));
    assert_eq!(
        (gone.blame(), gone.webauthn().name()),
        (Blame::Authenticator, "NotAllowedError")
    );
    let garbled = failure_blame(latchkey_client::error::Failure::Malformed(Step::Info));
    assert_eq!(garbled, (Blame::Authenticator, FaultKind::Failed));
    let no_pin = Fault::from_ceremony(&declined(Declined::Pin, "the user did not enter the PIN"));
    assert_eq!(
        (no_pin.blame(), no_pin.webauthn().name()),
        (Blame::User, "NotAllowedError")
    );
    assert_eq!(no_pin.message(), "the user did not enter the PIN");
    // Without a typed cause: by name, as before.
    let untyped = Fault::from(WebAuthnError::not_supported("no usable algorithm"));
    assert_eq!(
        (untyped.blame(), untyped.webauthn().name()),
        (Blame::Authenticator, "NotSupportedError")
    );
    let thread = Fault::from(WebAuthnError::unknown("the ceremony thread failed"));
    assert_eq!(
        (thread.blame(), thread.webauthn().name()),
        (Blame::System, "UnknownError")
    );
}

/// A platform worker that stopped is the system's fault: `UnknownError`, not a refusal.
#[test]
fn a_stopped_worker_is_the_systems_fault() {
    let f = manage_fault(ManageError::Worker(WorkerError::Stopped));
    assert_eq!(f.blame(), Blame::System);
    assert_eq!(f.webauthn().name(), "UnknownError");
    assert_eq!(f.message(), "the platform authenticator failed");
    assert!(f.chain().contains("stopped"), "{}", f.chain());
}

/// The security key worker that stopped under a ceremony is the system's fault too, decided by
/// the client's typed cause: the same name as the platform worker's, not the key's refusal.
#[test]
fn a_stopped_security_key_worker_is_the_systems_fault() {
    use latchkey_client::ctap2::CtapError;
    use latchkey_client::device::{Gone, Server};
    use latchkey_client::error::{to_webauthn, Step};
    use latchkey_client::DeviceError;
    let f = Fault::from_ceremony(&to_webauthn(
        Step::GetAssertion,
        &CtapError::Device(DeviceError::Gone(Gone::Stopped(Server::DeviceWorker))),
    ));
    assert_eq!(
        (f.blame(), f.kind(), f.webauthn().name()),
        (Blame::System, FaultKind::Failed, "UnknownError")
    );
    assert!(
        f.message().contains("the security key worker stopped"),
        "{}",
        f.message()
    );
}

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
    // What the worker's session makes of an Error reply with code Store: typed to here.
    let worker = WorkerError::Failed {
        code: ErrorCode::Store,
        message: "storage failed: write /store/index: Read-only file system (os error 30)".into(),
    };
    let fault = manage_fault(ManageError::Worker(worker));
    assert_eq!(fault.blame(), Blame::Store);
    assert_eq!(fault.webauthn().name(), "UnknownError");
    assert_eq!(
        fault.webauthn().message(),
        "the credential store failed",
        "the caller gets no path"
    );
    assert_eq!(
        fault.chain(),
        "the credential store failed: the platform authenticator worker failed: the platform \
         authenticator failed: storage failed: write /store/index: Read-only file system (os \
         error 30)"
    );
    use zbus::DBusError as _;
    assert_eq!(
        fault.method_error().name().as_str(),
        "dev.latchkey.Credentials1.Error.Failed"
    );
}

#[test]
fn a_store_failure_in_process_keeps_its_source() {
    let fault = manage_fault(ManageError::Store(StoreError::Io("disk on fire".into())));
    assert_eq!(
        (fault.blame(), fault.kind()),
        (Blame::Store, FaultKind::Failed)
    );
    assert_eq!(
        fault.chain(),
        "the credential store failed: the credential store failed: storage failed: disk on fire"
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

use std::error::Error as _;

use super::*;

#[test]
fn each_cause_keeps_its_type_and_reads_as_before() {
    let gone = DeviceError::Gone(Gone::Os(Unreachable::new(
        "/dev/hidraw7",
        io::Error::from_raw_os_error(2),
    )));
    assert_eq!(
        gone.to_string(),
        "the authenticator is gone: /dev/hidraw7: No such file or directory (os error 2)"
    );
    assert_eq!(gone.kind(), DeviceErrorKind::Gone);
    let DeviceError::Gone(Gone::Os(unreachable)) = &gone else {
        panic!("{gone:?}");
    };
    let source = unreachable
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>());
    assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::NotFound));

    let refused = DeviceError::NotReady(Unreachable::new("", io::Error::from_raw_os_error(111)));
    assert_eq!(
        refused.to_string(),
        "the authenticator is not ready yet: Connection refused (os error 111)"
    );

    let code = DeviceError::Transport(TransportError::Ctaphid(ErrorCode::INVALID_LEN));
    assert_eq!(
        code.to_string(),
        format!(
            "the authenticator's transport reported an error: {}",
            ErrorCode::INVALID_LEN
        )
    );
    assert!(matches!(
        code,
        DeviceError::Transport(TransportError::Ctaphid(ErrorCode::INVALID_LEN))
    ));

    let short = DeviceError::Garbage(Malformed::ShortU2f);
    assert_eq!(
        short.to_string(),
        "the authenticator sent a malformed answer: a U2F response shorter than its status word"
    );
    let frame = DeviceError::Garbage(Malformed::Ctaphid(HostError::BadInitResponse));
    assert_eq!(
        frame.to_string(),
        "the authenticator sent a malformed answer: CTAPHID_INIT response too short"
    );
}

#[test]
fn a_worker_that_stopped_is_told_from_a_device_that_is_gone() {
    let platform = DeviceError::Gone(Gone::Stopped(Server::PlatformWorker));
    assert_eq!(
        platform.to_string(),
        "the authenticator is gone: the platform authenticator stopped"
    );
    assert_eq!(platform.kind(), DeviceErrorKind::ServerStopped);
    let keys = DeviceError::Gone(Gone::Stopped(Server::DeviceWorker));
    assert_eq!(
        keys.to_string(),
        "the authenticator is gone: the security key worker stopped"
    );
    assert_eq!(keys.kind(), DeviceErrorKind::ServerStopped);
    let failed = DeviceError::Gone(Gone::Failed {
        server: Server::PlatformWorker,
        why: "the credential store is full",
    });
    assert_eq!(
        failed.to_string(),
        "the authenticator is gone: the platform authenticator failed: the credential store is full"
    );
    assert_eq!(failed.kind(), DeviceErrorKind::ServerStopped);
    assert_eq!(
        DeviceError::Gone(Gone::NoAddress("key.invalid:9".into())).to_string(),
        "the authenticator is gone: key.invalid:9: no address"
    );
    assert_eq!(
        DeviceError::Gone(Gone::Removed("unplugged".into())).kind(),
        DeviceErrorKind::Gone
    );
}

#[test]
fn the_typed_cause_is_the_source() {
    let gone = DeviceError::Gone(Gone::Os(Unreachable::new(
        "/dev/hidraw7",
        io::Error::from_raw_os_error(19),
    )));
    let cause = gone.source().and_then(|s| s.downcast_ref::<Gone>());
    assert!(matches!(cause, Some(Gone::Os(_))), "{gone:?}");
    let os = cause
        .and_then(|c| c.source())
        .and_then(|s| s.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error);
    assert_eq!(os, Some(19));

    let code = DeviceError::Transport(TransportError::Ctaphid(ErrorCode::CHANNEL_BUSY));
    let cause = code
        .source()
        .and_then(|s| s.downcast_ref::<TransportError>());
    assert!(
        matches!(
            cause,
            Some(TransportError::Ctaphid(ErrorCode::CHANNEL_BUSY))
        ),
        "{code:?}"
    );

    let not_ready = DeviceError::NotReady(Unreachable::new(
        "/dev/hidraw7",
        io::Error::from_raw_os_error(13),
    ));
    assert_eq!(
        not_ready.to_string(),
        "the authenticator is not ready yet: /dev/hidraw7: Permission denied (os error 13)"
    );
    let os = not_ready
        .source()
        .and_then(|s| s.downcast_ref::<Unreachable>())
        .and_then(|u| u.source())
        .and_then(|s| s.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    assert_eq!(os, Some(io::ErrorKind::PermissionDenied));

    let empty = DeviceError::Garbage(Malformed::Empty);
    let cause = empty.source().and_then(|s| s.downcast_ref::<Malformed>());
    assert!(matches!(cause, Some(Malformed::Empty)), "{empty:?}");
    assert_eq!(
        empty.to_string(),
        "the authenticator sent a malformed answer: an empty answer from the key"
    );
    let reported = DeviceError::Gone(Gone::Reported("no key 3".into()));
    assert_eq!(reported.to_string(), "the authenticator is gone: no key 3");
}

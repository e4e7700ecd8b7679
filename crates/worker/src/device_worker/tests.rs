use latchkey_client::device::{Gone, Malformed, TransportError, Unreachable};
use latchkey_client::DeviceError;
use latchkey_ctap::hid::ErrorCode;

use super::client::device_error;
use super::serve::failed;
use crate::protocol::device::DeviceReply;

/// The worker sends a failure's detail without its kind's words, and latchkeyd's side reads
/// it back as the same kind saying the same once.
#[test]
fn a_failure_crosses_the_worker_of_its_kind_and_in_the_same_words() {
    let errors = [
        DeviceError::Gone(Gone::Removed("the card left the field".into())),
        DeviceError::Gone(Gone::Os(Unreachable::new(
            "/dev/hidraw7",
            std::io::Error::from_raw_os_error(19),
        ))),
        DeviceError::NotReady(Unreachable::new(
            "/dev/hidraw7",
            std::io::Error::from_raw_os_error(13),
        )),
        DeviceError::Garbage(Malformed::Empty),
        DeviceError::Transport(TransportError::Ctaphid(ErrorCode::CHANNEL_BUSY)),
    ];
    for error in errors {
        let DeviceReply::Failed { code, message } = failed(&error) else {
            panic!("{error:?}");
        };
        assert!(
            !message.starts_with("the authenticator"),
            "{error:?} sent {message:?}"
        );
        let back = device_error(code, message);
        assert_eq!(back.kind(), error.kind(), "{error:?}");
        assert_eq!(back.to_string(), error.to_string(), "{error:?}");
    }
    // Without a detail, the kind alone crosses.
    for error in [DeviceError::Timeout, DeviceError::Cancelled] {
        let DeviceReply::Failed { code, message } = failed(&error) else {
            panic!("{error:?}");
        };
        let back = device_error(code, message);
        assert_eq!(back.kind(), error.kind(), "{error:?}");
        assert_eq!(back.to_string(), error.to_string(), "{error:?}");
    }
    let DeviceReply::Failed { message, .. } =
        failed(&DeviceError::Gone(Gone::Reported("no key 3".into())))
    else {
        panic!("not a failure");
    };
    assert_eq!(message, "no key 3");
    assert_eq!(
        device_error(crate::protocol::device::failure::GONE, message).to_string(),
        "the authenticator is gone: no key 3"
    );
}

use latchkey_ctap::cbor::{encode, MapBuilder};
use latchkey_ctap::command::Request;
use latchkey_ctap::pin::PinUvAuthProtocol;

use super::*;

fn client_pin(sub: u64) -> Vec<u8> {
    let mut bytes = vec![CLIENT_PIN];
    bytes.extend(encode(
        &MapBuilder::new().insert(1, 2).insert(2, sub).build(),
    ));
    bytes
}

#[test]
fn only_reads_and_token_requests_by_pin_leave_get_info_as_it_was() {
    assert!(leaves_info_unchanged(&Request::GetInfo.encode()));
    assert!(leaves_info_unchanged(&Request::GetNextAssertion.encode()));
    assert!(leaves_info_unchanged(&[GET_ASSERTION, 0xa0]));
    for sub in [0x01, 0x02, 0x05, 0x07, 0x09] {
        assert!(leaves_info_unchanged(&client_pin(sub)), "subcommand {sub}");
    }
    // setPIN, changePIN, the token by built-in UV (uvCountSinceLastPinEntry), unknown ones.
    for sub in [0x03, 0x04, 0x06, 0x08, 0x0a, 0x100] {
        assert!(!leaves_info_unchanged(&client_pin(sub)), "subcommand {sub}");
    }
    // makeCredential, reset, selection, config, credential management, large blobs.
    for command in [0x01, 0x07, 0x0b, 0x0d, 0x0a, 0x41, 0x0c] {
        assert!(
            !leaves_info_unchanged(&[command, 0xa0]),
            "command {command:#x}"
        );
    }
    // No command, a clientPIN that does not decode, or one without a subcommand.
    assert!(!leaves_info_unchanged(&[]));
    assert!(!leaves_info_unchanged(&[CLIENT_PIN, 0xff, 0x00]));
    assert!(!leaves_info_unchanged(&[CLIENT_PIN, 0xa0]));
}

#[test]
fn observing_a_change_forgets_info_but_keeps_the_checked_agreement() {
    let mut kept = Kept::new();
    kept.keep_info(&GetInfoResponse::default());
    kept.observe(&client_pin(0x02));
    assert!(kept.info().is_some());
    kept.observe(&[0x01, 0xa0]);
    assert!(kept.info().is_none());
    assert!(format!("{kept:?}").contains("info: false"));
    kept.keep_info(&GetInfoResponse::default());
    kept.forget();
    assert!(kept.info().is_none() && !kept.has_session());
    assert!(kept
        .session(
            PinUvAuthProtocol::Two,
            &P256Point {
                x: [1; 32],
                y: [2; 32]
            }
        )
        .is_none());
}

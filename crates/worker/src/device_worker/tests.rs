use latchkey_client::device::{Gone, Malformed, TransportError, Unreachable};
use latchkey_client::DeviceError;
use latchkey_ctap::hid::ErrorCode;

use super::client::device_error;
use super::serve::{drive, failed, Job, Shared};
use crate::link::{Link, Received};
use crate::protocol::device::{failure, DeviceReply};
use crate::protocol::{Message, MAX_CTAP_MESSAGE};

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

/// A key that answers every request with `answer`'s bytes, or panics when it has none.
struct Answers(Option<usize>);

impl latchkey_client::Device for Answers {
    fn info(&self) -> latchkey_client::device::DeviceDescription {
        latchkey_client::device::DeviceDescription {
            name: "test key".into(),
            path: "test".into(),
            transport: latchkey_client::Transport::Usb,
            cbor: true,
        }
    }
    fn cbor(
        &mut self,
        _request: &[u8],
        _status: &mut dyn FnMut(latchkey_client::device::KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        match self.0 {
            Some(len) => Ok(vec![0; len]),
            None => panic!("the key's thread fails"),
        }
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.cbor(apdu, &mut |_| {})
    }
    fn cancel_handle(&self) -> latchkey_client::CancelHandle {
        latchkey_client::CancelHandle::new()
    }
}

/// Runs `jobs` on a key thread over a link pair; what latchkeyd's end receives.
fn replies(device: Answers, jobs: Vec<Job>) -> Vec<Message<DeviceReply>> {
    let (ours, theirs) = Link::pair().unwrap();
    let theirs = Link::from_fd(theirs).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for job in jobs {
        tx.send(job).unwrap();
    }
    drop(tx);
    drive(&Shared::new(theirs), Box::new(device), &rx);
    ours.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let mut out = Vec::new();
    while let Ok(Received::Message(bytes)) = ours.recv() {
        out.push(Message::<DeviceReply>::decode(&bytes).unwrap());
    }
    out
}

/// An answer longer than the protocol carries (a card's 65,536 data bytes and its status word)
/// is answered as a failure of the key, not dropped: latchkeyd waits for an answer.
#[test]
fn an_answer_too_long_for_the_protocol_fails_the_request_instead_of_vanishing() {
    let got = replies(
        Answers(Some(MAX_CTAP_MESSAGE + 2)),
        vec![Job::Msg(7, vec![0]), Job::Cbor(8, vec![4])],
    );
    assert_eq!(got.len(), 2, "{got:?}");
    for (reply, seq) in got.iter().zip([7, 8]) {
        assert_eq!(reply.seq, seq);
        assert!(
            matches!(&reply.body, DeviceReply::Failed { code, .. } if *code == failure::GARBAGE),
            "{reply:?}"
        );
    }
    // One that fits goes through.
    let got = replies(Answers(Some(MAX_CTAP_MESSAGE)), vec![Job::Msg(9, vec![0])]);
    assert!(
        matches!(&got[..], [Message { seq: 9, body: DeviceReply::Answer { response } }] if response.len() == MAX_CTAP_MESSAGE),
        "{got:?}"
    );
}

/// A panic on a key's thread fails its request (the key is gone), and every request queued
/// after it too, until latchkeyd lets the key go.
#[test]
fn a_key_thread_that_panics_answers_its_request_and_the_queued_ones() {
    let got = replies(
        Answers(None),
        vec![
            Job::Cbor(3, vec![4]),
            Job::Cbor(4, vec![4]),
            Job::Msg(5, vec![0]),
        ],
    );
    assert_eq!(got.len(), 3, "{got:?}");
    for (reply, seq) in got.iter().zip([3, 4, 5]) {
        assert_eq!(reply.seq, seq);
        assert!(
            matches!(&reply.body, DeviceReply::Failed { code, .. } if *code == failure::GONE),
            "{reply:?}"
        );
    }
}

/// A key the worker opened for an acquisition latchkeyd no longer follows is closed at once.
#[test]
fn a_key_opened_for_no_one_is_closed() {
    use crate::protocol::device::DeviceRequest;
    let (ours, theirs) = Link::pair().unwrap();
    let worker_end = Link::from_fd(theirs).unwrap();
    let waiters = std::sync::Arc::default();
    let alive = std::sync::atomic::AtomicBool::new(true);
    let opened = Message {
        seq: 41,
        body: DeviceReply::Opened {
            key: 3,
            name: "late key".into(),
            path: "unix:/late".into(),
            transport: 1,
            cbor: true,
        },
    }
    .encode()
    .unwrap();
    let reader = std::thread::spawn(move || {
        super::client::read_replies(&ours, &waiters, &alive);
    });
    worker_end.send(&opened).unwrap();
    worker_end
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let Received::Message(bytes) = worker_end.recv().unwrap() else {
        panic!("no Close sent");
    };
    drop(worker_end);
    reader.join().unwrap();
    let close = Message::<DeviceRequest>::decode(&bytes).unwrap();
    assert!(
        matches!(close.body, DeviceRequest::Close { key: 3 }),
        "{close:?}"
    );
}

//! The client and server in memory: every message goes through its bytes, as on the socket.

use latchkey_client::manage::CredentialInfo;
use latchkey_ctap::cbor::{self, Value};

use super::client::Client;
use super::server::{Action, Server};
use super::{Outcome, Ready, SessionError, MAX_LIST_ITEMS, MAX_QUEUED};
use crate::protocol::{ErrorCode, Message, ProtocolError, Reply, Request, PROTOCOL_VERSION};

fn credential(i: u32) -> CredentialInfo {
    CredentialInfo {
        credential_id: i.to_be_bytes().repeat(8),
        rp_id: "example.com".into(),
        user_id: vec![7; 16],
        user_name: Some(format!("user{i}")),
        user_display_name: None,
        discoverable: true,
        cred_protect: 2,
        sign_count: Some(i),
    }
}

fn getinfo() -> Request {
    Request::Ctap {
        command: vec![0x04],
    }
}

/// A client that has read the server's `Ready`.
fn pair() -> (Client, Server) {
    let mut client = Client::new();
    let ready = client.ready(&Server::ready("file", "/s")).unwrap();
    assert_eq!(
        ready,
        Ready {
            store: "file".into(),
            path: "/s".into()
        }
    );
    (client, Server::new())
}

fn cancelled() -> Reply {
    Reply::error(ErrorCode::Cancelled, "the request was cancelled")
}

/// `Ready` with another body, as another build would send it.
fn ready_with(body: Value) -> Vec<u8> {
    cbor::encode(&Value::Map(vec![
        (Value::from(1u64), Value::from(0u64)),
        (Value::from(2u64), Value::from(1u64)),
        (Value::from(3u64), body),
    ]))
}

#[test]
fn a_worker_of_another_protocol_version_is_refused() {
    // A newer worker, whose Ready may carry fields this build does not know: its version is
    // read before anything else.
    let newer = ready_with(Value::Map(vec![
        (Value::from(1u64), Value::from(PROTOCOL_VERSION + 1)),
        (Value::from(9u64), Value::Text("new".into())),
    ]));
    let err = Client::new().ready(&newer).unwrap_err();
    assert_eq!(
        err,
        SessionError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: Some(PROTOCOL_VERSION + 1)
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the worker speaks protocol version {}, latchkeyd version {PROTOCOL_VERSION}",
            PROTOCOL_VERSION + 1
        )
    );
    // A worker from before versions: its Ready's body was {1: store, 2: path}.
    let older = ready_with(Value::Map(vec![
        (Value::from(1u64), Value::Text("file".into())),
        (Value::from(2u64), Value::Text("/s".into())),
    ]));
    assert_eq!(
        Client::new().ready(&older),
        Err(SessionError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: None
        })
    );
    // The worker's refusal to start comes through in its words.
    assert_eq!(
        Client::new().ready(&Server::unavailable("no store")),
        Err(SessionError::Failed {
            code: ErrorCode::Unavailable,
            message: "no store".into(),
            store: None,
        })
    );
    // Anything else first, or a second Ready, breaks the protocol.
    let deleted = Message {
        seq: 0,
        body: Reply::Deleted { deleted: true },
    }
    .encode()
    .unwrap();
    assert_eq!(
        Client::new().ready(&deleted),
        Err(SessionError::Unexpected {
            expected: "Ready",
            got: 4
        })
    );
    let (mut client, _) = pair();
    assert!(matches!(
        client.ready(&Server::ready("file", "/s")),
        Err(SessionError::Unexpected { .. })
    ));
}

#[test]
fn a_request_and_its_reply() {
    let (mut client, mut server) = pair();
    let bytes = client.start(&getinfo()).unwrap();
    assert_eq!(client.pending_seq(), Some(1));
    assert_eq!(server.receive(&bytes), Action::Run(1, getinfo()));
    assert_eq!(server.start(1), Ok(()));
    let replies = server.finish(1, Ok(Outcome::Ctap(vec![0, 0xa0])));
    assert_eq!(replies.len(), 1);
    assert_eq!(
        client.receive(&replies[0]),
        Ok(Some(Outcome::Ctap(vec![0, 0xa0])))
    );
    assert!(!client.waiting());
    // The next one is numbered 2; the worker's failure comes back typed.
    let bytes = client.start(&Request::List { rp_id: None }).unwrap();
    assert!(matches!(server.receive(&bytes), Action::Run(2, _)));
    server.start(2).unwrap();
    let replies = server.finish(2, Err(Reply::error(ErrorCode::Store, "disk")));
    assert_eq!(
        client.receive(&replies[0]),
        Err(SessionError::Failed {
            code: ErrorCode::Store,
            message: "disk".into(),
            store: None,
        })
    );
    // A store's failure carries its kind, and its words with their causes.
    let bytes = client.start(&Request::List { rp_id: None }).unwrap();
    assert!(matches!(server.receive(&bytes), Action::Run(3, _)));
    server.start(3).unwrap();
    let read_only = std::io::Error::from_raw_os_error(30);
    let failure = latchkey_authenticator::store::StoreError::file("writing", "/s/x", read_only);
    let replies = server.finish(3, Err(Reply::store_error(&failure)));
    assert_eq!(
        client.receive(&replies[0]),
        Err(SessionError::Failed {
            code: ErrorCode::Store,
            message: "storage failed: writing /s/x: Read-only file system (os error 30)".into(),
            store: Some(latchkey_authenticator::store::StoreErrorKind::ReadOnly),
        })
    );
}

#[test]
fn one_request_at_a_time_from_the_client() {
    let (mut client, _) = pair();
    client.start(&getinfo()).unwrap();
    assert_eq!(client.start(&getinfo()), Err(SessionError::Busy));
    // A Cancel is no request of its own.
    assert!(matches!(
        pair().0.start(&Request::Cancel {}),
        Err(SessionError::Unexpected { got: 4, .. })
    ));
    // A request the worker would refuse is not sent, and takes no number.
    let mut client = pair().0;
    assert!(matches!(
        client.start(&Request::Delete {
            credential_id: Vec::new()
        }),
        Err(SessionError::Unsendable(ProtocolError::OutOfBounds { .. }))
    ));
    assert_eq!(client.pending_seq(), None);
    client.start(&getinfo()).unwrap();
    assert_eq!(client.pending_seq(), Some(1));
}

#[test]
fn a_cancel_while_the_request_runs_trips_it_and_its_reply_is_dropped() {
    let (mut client, mut server) = pair();
    let bytes = client.start(&getinfo()).unwrap();
    server.receive(&bytes);
    server.start(1).unwrap();
    let cancel = client.cancel().unwrap();
    assert!(!client.waiting());
    assert_eq!(server.receive(&cancel), Action::CancelRunning);
    let replies = server.finish(1, Err(cancelled()));
    assert_eq!(client.receive(&replies[0]), Ok(None));
    // A reply that won the race (the request finished before the cancel arrived) is dropped
    // the same way, and the next request goes on.
    let bytes = client.start(&getinfo()).unwrap();
    server.receive(&bytes);
    server.start(2).unwrap();
    let cancel = client.cancel().unwrap();
    let replies = server.finish(2, Ok(Outcome::Ctap(vec![0])));
    assert_eq!(server.receive(&cancel), Action::Nothing);
    assert_eq!(client.receive(&replies[0]), Ok(None));
    let bytes = client.start(&getinfo()).unwrap();
    assert!(matches!(server.receive(&bytes), Action::Run(3, _)));
    server.start(3).unwrap();
    let replies = server.finish(3, Ok(Outcome::Ctap(vec![0, 1])));
    assert_eq!(
        client.receive(&replies[0]),
        Ok(Some(Outcome::Ctap(vec![0, 1])))
    );
}

#[test]
fn a_cancel_before_the_request_runs_answers_it_cancelled() {
    let (mut client, mut server) = pair();
    let bytes = client.start(&getinfo()).unwrap();
    let cancel = client.cancel().unwrap();
    // Queued, then cancelled before the executor reaches it.
    assert!(matches!(server.receive(&bytes), Action::Run(1, _)));
    assert_eq!(server.receive(&cancel), Action::Nothing);
    let reply = server.start(1).unwrap_err();
    assert_eq!(
        Message::<Reply>::decode(&reply).unwrap(),
        Message {
            seq: 1,
            body: cancelled()
        }
    );
    assert_eq!(client.receive(&reply), Ok(None));
}

#[test]
fn a_cancel_that_overtakes_its_request_is_remembered() {
    let (mut client, mut server) = pair();
    let bytes = client.start(&getinfo()).unwrap();
    let cancel = client.cancel().unwrap();
    assert_eq!(server.receive(&cancel), Action::Nothing);
    assert!(matches!(server.receive(&bytes), Action::Run(1, _)));
    assert!(server.start(1).is_err());
    // A cancel of a request long answered, or never to come, is nothing.
    let stale = Message {
        seq: 1,
        body: Request::Cancel {},
    }
    .encode()
    .unwrap();
    assert_eq!(server.receive(&stale), Action::Nothing);
    let far = Message {
        seq: 50,
        body: Request::Cancel {},
    }
    .encode()
    .unwrap();
    assert_eq!(server.receive(&far), Action::Nothing);
    // The request after is not touched by either.
    let bytes = client.start(&getinfo()).unwrap();
    assert!(matches!(server.receive(&bytes), Action::Run(2, _)));
    assert_eq!(server.start(2), Ok(()));
}

#[test]
fn ending_the_store_session_is_a_request_with_its_own_reply() {
    let (mut client, mut server) = pair();
    let bytes = client.start(&Request::EndSession {}).unwrap();
    assert_eq!(
        server.receive(&bytes),
        Action::Run(1, Request::EndSession {})
    );
    server.start(1).unwrap();
    let replies = server.finish(1, Ok(Outcome::SessionEnded(true)));
    assert_eq!(
        client.receive(&replies[0]),
        Ok(Some(Outcome::SessionEnded(true)))
    );
    // It is no part of a ceremony: a ceremony's cancel leaves it alone.
    client.start(&Request::EndSession {}).unwrap();
    assert_eq!(client.cancel(), None);
    // Any other reply type is the worker breaking the protocol.
    let wrong = Message {
        seq: 2,
        body: Reply::Updated { updated: true },
    }
    .encode()
    .unwrap();
    assert_eq!(
        client.receive(&wrong),
        Err(SessionError::Unexpected {
            expected: "SessionEnded",
            got: 6
        })
    );
}

#[test]
fn only_ceremonies_are_cancelled() {
    let (mut client, _) = pair();
    client.start(&Request::List { rp_id: None }).unwrap();
    assert_eq!(client.cancel(), None);
    assert!(client.waiting());
}

fn error_reply(bytes: &[u8]) -> Message<Reply> {
    Message::<Reply>::decode(bytes).unwrap()
}

#[test]
fn the_server_refuses_requests_out_of_order_malformed_or_too_many() {
    let mut server = Server::new();
    let request = |seq| {
        Message {
            seq,
            body: getinfo(),
        }
        .encode()
        .unwrap()
    };
    assert!(matches!(server.receive(&request(5)), Action::Run(5, _)));
    // Not increasing: refused with an error naming it.
    for seq in [5, 3] {
        let Action::Send(bytes) = server.receive(&request(seq)) else {
            panic!()
        };
        let reply = error_reply(&bytes);
        assert_eq!(reply.seq, seq);
        assert!(matches!(
            reply.body,
            Reply::Error {
                code: ErrorCode::Malformed,
                ..
            }
        ));
    }
    // Malformed: answered under its seq when that much was read, else 0.
    let Action::Send(bytes) = server.receive(&[0xa3, 0x01, 0x09, 0x02, 0x18, 0x63, 0x03, 0xa0])
    else {
        panic!()
    };
    let reply = error_reply(&bytes);
    assert_eq!(reply.seq, 9);
    let Reply::Error { code, message, .. } = reply.body else {
        panic!()
    };
    assert_eq!(code, ErrorCode::Malformed);
    assert_eq!(message, "malformed worker message: unknown message type 99");
    let Action::Send(bytes) = server.receive(&[0xff]) else {
        panic!()
    };
    assert_eq!(error_reply(&bytes).seq, 0);
    // Non-canonical: seq 10 in two bytes.
    let wide = [
        0xa3, 0x01, 0x18, 0x0a, 0x02, 0x01, 0x03, 0xa1, 0x01, 0x41, 0x04,
    ];
    let Action::Send(bytes) = server.receive(&wide) else {
        panic!()
    };
    let reply = error_reply(&bytes);
    assert_eq!(reply.seq, 0);
    assert!(matches!(
        reply.body,
        Reply::Error {
            code: ErrorCode::Malformed,
            ..
        }
    ));
    // Too many at once: MAX_QUEUED are held (5 is one), the next is answered Busy.
    for seq in 6..6 + MAX_QUEUED as u64 - 1 {
        assert!(matches!(server.receive(&request(seq)), Action::Run(..)));
    }
    let busy = 6 + MAX_QUEUED as u64 - 1;
    let Action::Send(bytes) = server.receive(&request(busy)) else {
        panic!()
    };
    assert!(matches!(
        error_reply(&bytes),
        Message {
            seq,
            body: Reply::Error {
                code: ErrorCode::Busy,
                ..
            }
        } if seq == busy
    ));
    // Too large, as the link reports it.
    assert!(matches!(
        error_reply(&server.too_large()).body,
        Reply::Error {
            code: ErrorCode::TooLarge,
            ..
        }
    ));
}

#[test]
fn the_client_refuses_replies_that_answer_nothing_or_the_wrong_thing() {
    let (mut client, _) = pair();
    let reply = |seq, body| Message { seq, body }.encode().unwrap();
    // Before any request: a reply to request 1, never sent.
    assert_eq!(
        client.receive(&reply(1, Reply::Deleted { deleted: true })),
        Err(SessionError::UnknownSequence { seq: 1, last: 0 })
    );
    client.start(&getinfo()).unwrap();
    assert_eq!(
        client.receive(&reply(2, Reply::Ctap { response: vec![0] })),
        Err(SessionError::UnknownSequence { seq: 2, last: 1 })
    );
    // The wrong type for a CTAP request.
    assert_eq!(
        client.receive(&reply(1, Reply::Deleted { deleted: true })),
        Err(SessionError::Unexpected {
            expected: "Ctap",
            got: 4
        })
    );
    // A second Ready in the middle of a session.
    assert!(matches!(
        client.receive(&Server::ready("file", "/s")),
        Err(SessionError::Unexpected { .. })
    ));
    // Malformed bytes.
    assert!(matches!(
        client.receive(&[0xa0]),
        Err(SessionError::Malformed(_))
    ));
    // An error about a request the worker could not read (seq 0) ends the one under way.
    assert_eq!(
        client.receive(&reply(0, Reply::error(ErrorCode::Malformed, "bad"))),
        Err(SessionError::Failed {
            code: ErrorCode::Malformed,
            message: "bad".into(),
            store: None,
        })
    );
    assert!(!client.waiting());
}

#[test]
fn a_listing_in_parts_is_put_together_and_bounded() {
    let (mut client, mut server) = pair();
    let all: Vec<CredentialInfo> = (0..1000).map(credential).collect();
    let bytes = client.start(&Request::List { rp_id: None }).unwrap();
    server.receive(&bytes);
    server.start(1).unwrap();
    let parts = server.finish(1, Ok(Outcome::Credentials(all.clone())));
    assert!(parts.len() >= 4, "{} parts", parts.len());
    let (last, first) = parts.split_last().unwrap();
    for part in first {
        assert_eq!(client.receive(part), Ok(None));
    }
    assert_eq!(client.receive(last), Ok(Some(Outcome::Credentials(all))));
    // A worker that never stops sending parts is cut off at MAX_LIST_ITEMS.
    client.start(&Request::List { rp_id: None }).unwrap();
    let part = Message {
        seq: 2,
        body: Reply::Credentials {
            items: (0..200).map(credential).collect(),
            more: true,
        },
    }
    .encode()
    .unwrap();
    let mut result = Ok(None);
    let mut sent = 0;
    while result == Ok(None) {
        result = client.receive(&part);
        sent += 200;
    }
    assert_eq!(sent, MAX_LIST_ITEMS + 200);
    assert!(matches!(result, Err(SessionError::ListTooLong { items, .. }) if items == sent));
    assert!(!client.waiting());
}

/// The longest valid RP ID (a 253-byte domain and its trailing dot) goes over the wire; a
/// credential with a field beyond the protocol's bounds is left out of a listing instead of
/// failing all of it.
#[test]
fn a_listing_carries_the_longest_rp_id_and_leaves_out_what_cannot_go() {
    let domain = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61),
    ]
    .join(".");
    let longest = latchkey_webauthn::origin::RpId::parse(&format!("{domain}."))
        .unwrap()
        .as_str()
        .to_owned();
    assert_eq!(longest.len(), 254);
    let long = CredentialInfo {
        rp_id: longest.clone(),
        ..credential(1)
    };
    let too_long = CredentialInfo {
        rp_id: "e".repeat(1024),
        ..credential(2)
    };
    let (mut client, mut server) = pair();
    let bytes = client
        .start(&Request::List {
            rp_id: Some(longest),
        })
        .unwrap();
    server.receive(&bytes);
    server.start(1).unwrap();
    let parts = server.finish(
        1,
        Ok(Outcome::Credentials(vec![
            long.clone(),
            too_long,
            credential(3),
        ])),
    );
    assert_eq!(parts.len(), 1);
    assert_eq!(
        client.receive(&parts[0]),
        Ok(Some(Outcome::Credentials(vec![long, credential(3)])))
    );
}

/// A cancel naming the request after the largest sequence number is no overflow.
#[test]
fn a_cancel_after_the_last_sequence_number_is_nothing() {
    let mut server = Server::new();
    let request = Message {
        seq: u64::MAX,
        body: getinfo(),
    }
    .encode()
    .unwrap();
    assert!(matches!(server.receive(&request), Action::Run(u64::MAX, _)));
    let cancel = Message {
        seq: 5,
        body: Request::Cancel {},
    }
    .encode()
    .unwrap();
    assert!(matches!(server.receive(&cancel), Action::Nothing));
}

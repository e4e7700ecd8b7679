use latchkey_client::manage::CredentialInfo;

use super::protocol::*;

fn credential(n: u8) -> CredentialInfo {
    CredentialInfo {
        credential_id: vec![n; 32],
        rp_id: "example.com".into(),
        user_id: vec![n; 16],
        user_name: Some(format!("user{n}")),
        user_display_name: (n % 2 == 0).then(|| format!("User {n}")),
        discoverable: n % 3 != 0,
        cred_protect: 1 + n % 3,
        sign_count: (n % 2 == 1).then_some(u32::from(n) * 7),
    }
}

#[test]
fn requests_round_trip() {
    for request in [
        Request::Ctap(vec![0x04]),
        Request::Ctap(vec![0x01, 0xa1, 0x01, 0x02]),
        Request::List { rp_id: None },
        Request::List {
            rp_id: Some("example.com".into()),
        },
        Request::Delete {
            credential_id: vec![1, 2, 3],
        },
        Request::Cancel { target: 7 },
        Request::UpdateUser {
            credential_id: vec![4, 5, 6],
            name: "alice@example.com".into(),
            display_name: "Älice".into(),
        },
        Request::UpdateUser {
            credential_id: vec![9; MAX_CREDENTIAL_ID],
            name: "n".repeat(MAX_USER_FIELD),
            display_name: String::new(),
        },
    ] {
        let bytes = request.encode(42);
        assert_eq!(
            Request::decode(&bytes).unwrap(),
            Message {
                seq: 42,
                body: request
            }
        );
    }
}

#[test]
fn the_wire_form_is_an_integer_keyed_map() {
    // {1: 5, 2: 1, 3: h'04'}
    assert_eq!(
        Request::Ctap(vec![0x04]).encode(5),
        [0xa3, 0x01, 0x05, 0x02, 0x01, 0x03, 0x41, 0x04]
    );
    // {1: 0, 2: 4, 3: true}: Deleted(true) answering seq 0.
    assert_eq!(
        Reply::Deleted(true).encode(0),
        [0xa3, 0x01, 0x00, 0x02, 0x04, 0x03, 0xf5]
    );
    // {1: 2, 2: 5, 3: {1: h'07', 2: "a", 3: "B"}}
    assert_eq!(
        Request::UpdateUser {
            credential_id: vec![7],
            name: "a".into(),
            display_name: "B".into()
        }
        .encode(2),
        [
            0xa3, 0x01, 0x02, 0x02, 0x05, 0x03, 0xa3, 0x01, 0x41, 0x07, 0x02, 0x61, b'a', 0x03,
            0x61, b'B'
        ]
    );
    // {1: 3, 2: 6, 3: false}: Updated(false).
    assert_eq!(
        Reply::Updated(false).encode(3),
        [0xa3, 0x01, 0x03, 0x02, 0x06, 0x03, 0xf4]
    );
}

#[test]
fn replies_round_trip() {
    for reply in [
        Reply::Ready(Ready {
            kind: "file".into(),
            path: "/home/u/.local/share/latchkey".into(),
        }),
        Reply::Ctap(vec![0x00, 0xa0]),
        Reply::Credentials {
            items: (0..5).map(credential).collect(),
            more: true,
        },
        Reply::Credentials {
            items: Vec::new(),
            more: false,
        },
        Reply::Deleted(false),
        Reply::Updated(true),
        Reply::Updated(false),
        Reply::Error(ErrorReply::new(ErrorCode::Store, "disk full")),
    ] {
        let bytes = reply.encode(9);
        assert_eq!(
            Reply::decode(&bytes).unwrap(),
            Message {
                seq: 9,
                body: reply
            }
        );
    }
}

fn reason(bytes: &[u8]) -> Malformed {
    Request::decode(bytes).unwrap_err()
}

#[test]
fn malformed_requests_are_refused_with_their_reason() {
    assert!(matches!(reason(&[]).reason, Reason::Cbor(_)));
    assert!(matches!(reason(&[0xff]).reason, Reason::Cbor(_)));
    // A byte string claiming 2^62 bytes: refused without allocating it.
    let huge = [0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(reason(&huge).reason, Reason::Cbor(_)));
    // Not a map.
    assert_eq!(
        reason(&[0x01]).reason,
        Reason::Invalid {
            field: "message",
            expected: "a map"
        }
    );
    // Trailing bytes.
    let mut bytes = Request::Ctap(vec![4]).encode(1);
    bytes.push(0);
    assert_eq!(reason(&bytes).reason, Reason::Trailing);
    // seq 0.
    let m = reason(&Request::Ctap(vec![4]).encode(0));
    assert_eq!(m.seq, Some(0));
    // An unknown type keeps its seq for the error reply: {1: 3, 2: 9, 3: null}.
    let m = reason(&[0xa3, 0x01, 0x03, 0x02, 0x09, 0x03, 0xf6]);
    assert_eq!(
        m,
        Malformed {
            seq: Some(3),
            reason: Reason::UnknownType(9)
        }
    );
    // Missing body: {1: 3, 2: 1}.
    assert_eq!(
        reason(&[0xa2, 0x01, 0x03, 0x02, 0x01]).reason,
        Reason::Missing("body")
    );
    // Duplicate keys: {1: 3, 1: 4, 2: 1, 3: h''}.
    assert!(matches!(
        reason(&[0xa4, 0x01, 0x03, 0x01, 0x04, 0x02, 0x01, 0x03, 0x40]).reason,
        Reason::Invalid {
            field: "message",
            ..
        }
    ));
    // A CTAP request over the limit.
    let m = reason(&Request::Ctap(vec![0; MAX_CTAP_REQUEST + 1]).encode(2));
    assert_eq!(
        m.reason,
        Reason::TooLong {
            field: "ctap",
            len: MAX_CTAP_REQUEST + 1,
            max: MAX_CTAP_REQUEST
        }
    );
    // An empty credential ID.
    assert!(matches!(
        reason(
            &Request::Delete {
                credential_id: vec![]
            }
            .encode(2)
        )
        .reason,
        Reason::Invalid {
            field: "credentialId",
            ..
        }
    ));
    // UpdateUser: an empty credential ID, a name over the limit, a missing displayName, a body
    // that is not a map.
    let update = |credential_id: Vec<u8>, name: String| Request::UpdateUser {
        credential_id,
        name,
        display_name: "D".into(),
    };
    assert!(matches!(
        reason(&update(vec![], "a".into()).encode(2)).reason,
        Reason::Invalid {
            field: "credentialId",
            ..
        }
    ));
    assert_eq!(
        reason(&update(vec![1], "x".repeat(MAX_USER_FIELD + 1)).encode(2)).reason,
        Reason::TooLong {
            field: "name",
            len: MAX_USER_FIELD + 1,
            max: MAX_USER_FIELD
        }
    );
    // {1: 4, 2: 5, 3: {1: h'01', 2: "a"}}
    let m = reason(&[
        0xa3, 0x01, 0x04, 0x02, 0x05, 0x03, 0xa2, 0x01, 0x41, 0x01, 0x02, 0x61, b'a',
    ]);
    assert_eq!(
        m,
        Malformed {
            seq: Some(4),
            reason: Reason::Missing("displayName")
        }
    );
    // {1: 4, 2: 5, 3: h'01'}
    assert!(matches!(
        reason(&[0xa3, 0x01, 0x04, 0x02, 0x05, 0x03, 0x41, 0x01]).reason,
        Reason::Invalid {
            field: "updateUser",
            ..
        }
    ));
    // Too deep: 20 nested arrays as the body.
    let mut deep = vec![0xa3, 0x01, 0x01, 0x02, 0x02, 0x03];
    deep.extend([0x81; 20]);
    deep.push(0x00);
    assert!(matches!(reason(&deep).reason, Reason::Cbor(_)));
    // Over the message limit.
    assert_eq!(
        reason(&vec![0; MAX_MESSAGE + 1]).reason,
        Reason::TooLarge(MAX_MESSAGE + 1)
    );
}

#[test]
fn every_prefix_and_bit_flip_of_a_request_is_handled() {
    let bytes = Request::List {
        rp_id: Some("example.com".into()),
    }
    .encode(77);
    for n in 0..bytes.len() {
        assert!(Request::decode(&bytes[..n]).is_err(), "prefix {n}");
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            // Either a valid request or an error: never a panic.
            let _ = Request::decode(&b);
        }
    }
}

#[test]
fn error_messages_are_cut_on_a_character_boundary() {
    let e = ErrorReply::new(ErrorCode::Store, "é".repeat(MAX_ERROR_MESSAGE));
    assert!(e.message.len() <= MAX_ERROR_MESSAGE);
    assert_eq!(e.message.len(), MAX_ERROR_MESSAGE);
    assert!(e.message.chars().all(|c| c == 'é'));
}

#[test]
fn long_lists_are_split_into_bounded_replies() {
    use latchkey_authenticator::memory::MemoryStore;
    use latchkey_client::platform::{config, PlatformDevice, Presence};
    use latchkey_client::CancelHandle;

    // `execute` over an in-memory authenticator: an empty list, a deletion of nothing, getInfo.
    let cancel = CancelHandle::new();
    let mut device = PlatformDevice::with_store(
        config(),
        MemoryStore::default(),
        Presence::granted(cancel.clone()),
        cancel,
        "memory".into(),
    );
    let replies = super::serve::execute(&mut device, Request::List { rp_id: None });
    assert_eq!(
        replies,
        vec![Reply::Credentials {
            items: Vec::new(),
            more: false
        }]
    );
    let deleted = super::serve::execute(
        &mut device,
        Request::Delete {
            credential_id: vec![1; 16],
        },
    );
    assert_eq!(deleted, vec![Reply::Deleted(false)]);
    let updated = super::serve::execute(
        &mut device,
        Request::UpdateUser {
            credential_id: vec![1; 16],
            name: "a".into(),
            display_name: "A".into(),
        },
    );
    assert_eq!(updated, vec![Reply::Updated(false)]);
    // getInfo over CTAP answers status 0 and a CBOR map.
    let info = super::serve::execute(&mut device, Request::Ctap(vec![0x04]));
    let [Reply::Ctap(bytes)] = info.as_slice() else {
        panic!("{info:?}")
    };
    assert_eq!(bytes[0], 0x00);
    assert_eq!(bytes[1] & 0xe0, 0xa0);

    let big: Vec<CredentialInfo> = (0..2000u32)
        .map(|i| CredentialInfo {
            credential_id: i.to_be_bytes().repeat(16),
            ..credential(1)
        })
        .collect();
    let parts = super::serve::chunk(big.clone());
    assert!(parts.len() > 1);
    let mut joined = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let bytes = part.encode(5);
        assert!(
            bytes.len() <= MAX_MESSAGE,
            "part {i}: {} bytes",
            bytes.len()
        );
        let Reply::Credentials { items, more } = Reply::decode(&bytes).unwrap().body else {
            panic!("part {i}")
        };
        assert_eq!(more, i + 1 < parts.len());
        joined.extend(items);
    }
    assert_eq!(joined, big);
}

#[test]
fn reply_summaries_say_kind_and_size_only() {
    let secret = "alice@example.com";
    let listed = Reply::Credentials {
        items: vec![credential(1), credential(2)],
        more: true,
    };
    assert_eq!(
        listed.summary().to_string(),
        "Credentials (2 items, more: true)"
    );
    assert_eq!(
        Reply::Ctap(vec![0, 0xa1, 1, 2]).summary().to_string(),
        "Ctap (4 bytes)"
    );
    assert_eq!(Reply::Deleted(true).summary().to_string(), "Deleted (true)");
    let error = Reply::Error(ErrorReply::new(ErrorCode::Store, secret));
    let text = error.summary().to_string();
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("17 bytes"), "{text}");
    assert!(!listed.summary().to_string().contains("user1"));
}

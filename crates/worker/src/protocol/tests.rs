use latchkey_client::manage::CredentialInfo;
use latchkey_ctap::error::CborError;

use super::platform::*;
use super::wire::bound;
use super::*;

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

fn encode<T: wire::MessageSet>(seq: u64, body: T) -> Vec<u8> {
    Message { seq, body }.encode().unwrap()
}

/// Encodes without the sender's checks, as a peer that ignores them would.
fn encode_unchecked(seq: u64, kind: u64, body: Value) -> Vec<u8> {
    latchkey_ctap::cbor::encode(&Value::Map(vec![
        (Value::from(1u64), Value::from(seq)),
        (Value::from(2u64), Value::from(kind)),
        (Value::from(3u64), body),
    ]))
}

use latchkey_ctap::cbor::Value;

fn ctap(command: &[u8]) -> Request {
    Request::Ctap {
        command: command.to_vec(),
    }
}

#[test]
fn requests_round_trip() {
    for request in [
        ctap(&[0x04]),
        ctap(&[0x01, 0xa1, 0x01, 0x02]),
        Request::List { rp_id: None },
        Request::List {
            rp_id: Some("example.com".into()),
        },
        Request::Delete {
            credential_id: vec![1, 2, 3],
        },
        Request::Cancel {},
        Request::EndSession {},
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
        let bytes = encode(42, request.clone());
        assert_eq!(
            Message::<Request>::decode(&bytes).unwrap(),
            Message {
                seq: 42,
                body: request
            }
        );
    }
}

#[test]
fn the_wire_form_is_an_integer_keyed_map() {
    // {1: 5, 2: 1, 3: {1: h'04'}}
    assert_eq!(
        encode(5, ctap(&[0x04])),
        [0xa3, 0x01, 0x05, 0x02, 0x01, 0x03, 0xa1, 0x01, 0x41, 0x04]
    );
    // {1: 0, 2: 4, 3: {1: true}}: Deleted(true) answering seq 0.
    assert_eq!(
        encode(0, Reply::Deleted { deleted: true }),
        [0xa3, 0x01, 0x00, 0x02, 0x04, 0x03, 0xa1, 0x01, 0xf5]
    );
    // {1: 2, 2: 5, 3: {1: h'07', 2: "a", 3: "B"}}
    assert_eq!(
        encode(
            2,
            Request::UpdateUser {
                credential_id: vec![7],
                name: "a".into(),
                display_name: "B".into()
            }
        ),
        [
            0xa3, 0x01, 0x02, 0x02, 0x05, 0x03, 0xa3, 0x01, 0x41, 0x07, 0x02, 0x61, b'a', 0x03,
            0x61, b'B'
        ]
    );
    // {1: 4, 2: 6, 3: {}}: EndSession, request 4; {1: 4, 2: 7, 3: {1: false}}: its reply.
    assert_eq!(
        encode(4, Request::EndSession {}),
        [0xa3, 0x01, 0x04, 0x02, 0x06, 0x03, 0xa0]
    );
    assert_eq!(
        encode(4, Reply::SessionEnded { ended: false }),
        [0xa3, 0x01, 0x04, 0x02, 0x07, 0x03, 0xa1, 0x01, 0xf4]
    );
    // {1: 3, 2: 4, 3: {}}: Cancel of request 3.
    assert_eq!(
        encode(3, Request::Cancel {}),
        [0xa3, 0x01, 0x03, 0x02, 0x04, 0x03, 0xa0]
    );
    // {1: 0, 2: 1, 3: {1: 3, 2: "tpm", 3: ""}}: Ready, version (3) first.
    assert_eq!(
        encode(
            0,
            Reply::Ready {
                version: PROTOCOL_VERSION,
                store: "tpm".into(),
                path: String::new()
            }
        ),
        [
            0xa3, 0x01, 0x00, 0x02, 0x01, 0x03, 0xa3, 0x01, 0x03, 0x02, 0x63, b't', b'p', b'm',
            0x03, 0x60
        ]
    );
    // {1: 5, 2: 5, 3: {1: 3, 2: "", 3: 6}}: a store's Error, its kind (6: read-only) last;
    // without a kind the field is absent.
    assert_eq!(
        encode(
            5,
            Reply::Error {
                code: ErrorCode::Store,
                message: String::new(),
                store: Some(latchkey_authenticator::store::StoreErrorKind::ReadOnly),
            }
        ),
        [0xa3, 0x01, 0x05, 0x02, 0x05, 0x03, 0xa3, 0x01, 0x03, 0x02, 0x60, 0x03, 0x06]
    );
    assert_eq!(
        encode(5, Reply::error(ErrorCode::Busy, "")),
        [0xa3, 0x01, 0x05, 0x02, 0x05, 0x03, 0xa2, 0x01, 0x06, 0x02, 0x60]
    );
}

#[test]
fn replies_round_trip() {
    for reply in [
        Reply::Ready {
            version: PROTOCOL_VERSION,
            store: "file".into(),
            path: "/home/u/.local/share/latchkey".into(),
        },
        Reply::Ctap {
            response: vec![0x00, 0xa0],
        },
        Reply::Credentials {
            items: (0..5).map(credential).collect(),
            more: true,
        },
        Reply::Credentials {
            items: Vec::new(),
            more: false,
        },
        Reply::Deleted { deleted: false },
        Reply::Updated { updated: true },
        Reply::Updated { updated: false },
        Reply::SessionEnded { ended: true },
        Reply::SessionEnded { ended: false },
        Reply::error(ErrorCode::Store, "disk full"),
    ] {
        let bytes = encode(9, reply.clone());
        assert_eq!(
            Message::<Reply>::decode(&bytes).unwrap(),
            Message {
                seq: 9,
                body: reply
            }
        );
    }
}

fn refused(bytes: &[u8]) -> Malformed {
    Message::<Request>::decode(bytes).unwrap_err()
}

fn reason(bytes: &[u8]) -> ProtocolError {
    refused(bytes).error
}

#[test]
fn malformed_requests_are_refused_with_their_reason() {
    assert_eq!(reason(&[]), ProtocolError::Cbor(CborError::Truncated));
    assert!(matches!(reason(&[0xff]), ProtocolError::Cbor(_)));
    // A byte string claiming 2^62 bytes: refused without allocating it.
    let huge = [0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(reason(&huge), ProtocolError::Cbor(_)));
    // Not a map.
    assert_eq!(
        reason(&[0x01]),
        ProtocolError::WrongType {
            field: "message",
            expected: latchkey_ctap::cbor::Kind::Map,
            got: latchkey_ctap::cbor::Kind::Int
        }
    );
    // Trailing bytes.
    let mut bytes = encode(1, ctap(&[4]));
    bytes.push(0);
    assert_eq!(
        reason(&bytes),
        ProtocolError::Cbor(CborError::TrailingBytes(1))
    );
    // An unknown type keeps its seq for the error reply: {1: 3, 2: 9, 3: {}}.
    assert_eq!(
        refused(&[0xa3, 0x01, 0x03, 0x02, 0x09, 0x03, 0xa0]),
        Malformed {
            seq: Some(3),
            error: ProtocolError::UnknownMessage(9)
        }
    );
    // Missing body: {1: 3, 2: 1}.
    assert_eq!(
        refused(&[0xa2, 0x01, 0x03, 0x02, 0x01]),
        Malformed {
            seq: Some(3),
            error: ProtocolError::Missing("body")
        }
    );
    // An envelope key no message has: {1: 3, 2: 4, 3: {}, 4: 0}.
    assert_eq!(
        reason(&[0xa4, 0x01, 0x03, 0x02, 0x04, 0x03, 0xa0, 0x04, 0x00]),
        ProtocolError::UnknownField { within: "message" }
    );
    // Duplicate keys: {1: 3, 1: 4, 2: 1, 3: {}}.
    assert_eq!(
        reason(&[0xa4, 0x01, 0x03, 0x01, 0x04, 0x02, 0x01, 0x03, 0xa0]),
        ProtocolError::Cbor(CborError::DuplicateMapKey)
    );
    // A CTAP request over the limit (sent by a peer that skips the checks).
    let long = encode_unchecked(
        2,
        1,
        Value::Map(vec![(
            Value::from(1u64),
            Value::Bytes(vec![0; MAX_CTAP_REQUEST + 1]),
        )]),
    );
    assert_eq!(
        reason(&long),
        ProtocolError::OutOfBounds {
            field: "command",
            value: bound(MAX_CTAP_REQUEST + 1),
            min: 1,
            max: bound(MAX_CTAP_REQUEST)
        }
    );
    // ... which the sender refuses to send in the first place.
    assert_eq!(
        Message {
            seq: 2,
            body: ctap(&vec![0; MAX_CTAP_REQUEST + 1])
        }
        .encode(),
        Err(ProtocolError::OutOfBounds {
            field: "command",
            value: bound(MAX_CTAP_REQUEST + 1),
            min: 1,
            max: bound(MAX_CTAP_REQUEST)
        })
    );
    // An empty credential ID: {1: 2, 2: 3, 3: {1: h''}}.
    assert_eq!(
        reason(&[0xa3, 0x01, 0x02, 0x02, 0x03, 0x03, 0xa1, 0x01, 0x40]),
        ProtocolError::OutOfBounds {
            field: "credential_id",
            value: 0,
            min: 1,
            max: bound(MAX_CREDENTIAL_ID)
        }
    );
    // UpdateUser: a name over the limit, a missing display name, a body that is not a map.
    let update = encode_unchecked(
        2,
        5,
        Value::Map(vec![
            (Value::from(1u64), Value::Bytes(vec![1])),
            (
                Value::from(2u64),
                Value::Text("x".repeat(MAX_USER_FIELD + 1)),
            ),
            (Value::from(3u64), Value::Text("D".into())),
        ]),
    );
    assert_eq!(
        reason(&update),
        ProtocolError::OutOfBounds {
            field: "name",
            value: bound(MAX_USER_FIELD + 1),
            min: 0,
            max: bound(MAX_USER_FIELD)
        }
    );
    // {1: 4, 2: 5, 3: {1: h'01', 2: "a"}}
    assert_eq!(
        refused(&[0xa3, 0x01, 0x04, 0x02, 0x05, 0x03, 0xa2, 0x01, 0x41, 0x01, 0x02, 0x61, b'a']),
        Malformed {
            seq: Some(4),
            error: ProtocolError::Missing("display_name")
        }
    );
    // {1: 4, 2: 5, 3: h'01'}
    assert_eq!(
        reason(&[0xa3, 0x01, 0x04, 0x02, 0x05, 0x03, 0x41, 0x01]),
        ProtocolError::WrongType {
            field: "UpdateUser",
            expected: latchkey_ctap::cbor::Kind::Map,
            got: latchkey_ctap::cbor::Kind::Bytes
        }
    );
    // A body key the message does not define: {1: 4, 2: 4, 3: {1: 0}}.
    assert_eq!(
        reason(&[0xa3, 0x01, 0x04, 0x02, 0x04, 0x03, 0xa1, 0x01, 0x00]),
        ProtocolError::UnknownField { within: "Cancel" }
    );
    // Too deep: 20 nested arrays as the body.
    let mut deep = vec![0xa3, 0x01, 0x01, 0x02, 0x02, 0x03];
    deep.extend([0x81; 20]);
    deep.push(0x00);
    assert_eq!(reason(&deep), ProtocolError::Cbor(CborError::TooDeep));
    // Over the message limit.
    assert_eq!(
        reason(&vec![0; MAX_MESSAGE + 1]),
        ProtocolError::TooLarge {
            len: MAX_MESSAGE + 1,
            max: MAX_MESSAGE
        }
    );
}

#[test]
fn non_canonical_messages_are_refused() {
    let canonical = encode(5, ctap(&[0x04]));
    assert!(Message::<Request>::decode(&canonical).is_ok());
    // seq 5 written in two bytes (0x18 0x05) instead of one.
    let wide = [
        0xa3, 0x01, 0x18, 0x05, 0x02, 0x01, 0x03, 0xa1, 0x01, 0x41, 0x04,
    ];
    assert_eq!(
        reason(&wide),
        ProtocolError::Cbor(CborError::NonCanonicalInteger)
    );
    // The envelope's keys out of order: {2: 1, 1: 5, 3: {1: h'04'}}.
    let unsorted = [0xa3, 0x02, 0x01, 0x01, 0x05, 0x03, 0xa1, 0x01, 0x41, 0x04];
    assert_eq!(
        reason(&unsorted),
        ProtocolError::Cbor(CborError::UnsortedMapKeys)
    );
    // An indefinite-length byte string for the command.
    let indefinite = [
        0xa3, 0x01, 0x05, 0x02, 0x01, 0x03, 0xa1, 0x01, 0x5f, 0x41, 0x04, 0xff,
    ];
    assert!(matches!(reason(&indefinite), ProtocolError::Cbor(_)));
    // A tag around the command.
    let tagged = [
        0xa3, 0x01, 0x05, 0x02, 0x01, 0x03, 0xa1, 0x01, 0xd8, 0x40, 0x41, 0x04,
    ];
    assert_eq!(reason(&tagged), ProtocolError::Cbor(CborError::Tag));
    // A reply is read as strictly: a `Deleted` whose seq is non-shortest.
    let reply = [0xa3, 0x01, 0x18, 0x02, 0x02, 0x04, 0x03, 0xa1, 0x01, 0xf5];
    assert_eq!(
        Message::<Reply>::decode(&reply).unwrap_err().error,
        ProtocolError::Cbor(CborError::NonCanonicalInteger)
    );
}

#[test]
fn oversized_messages_and_fields_are_refused() {
    // A message one byte over the limit, whatever it holds.
    let mut big = encode_unchecked(1, 2, Value::Map(vec![]));
    big.resize(MAX_MESSAGE + 1, 0);
    assert_eq!(
        Message::<Reply>::decode(&big).unwrap_err().error,
        ProtocolError::TooLarge {
            len: MAX_MESSAGE + 1,
            max: MAX_MESSAGE
        }
    );
    // A string longer than any field may be, refused by the reader before it is copied.
    let long = encode_unchecked(
        1,
        2,
        Value::Map(vec![(
            Value::from(1u64),
            Value::Bytes(vec![0; MAX_CTAP_MESSAGE + 1]),
        )]),
    );
    assert_eq!(
        Message::<Reply>::decode(&long).unwrap_err().error,
        ProtocolError::Cbor(CborError::StringTooLong {
            len: MAX_CTAP_MESSAGE + 1,
            max: MAX_CTAP_MESSAGE
        })
    );
    // More items than any message has: 8,200 integers in an array.
    let many = encode_unchecked(
        1,
        3,
        Value::Map(vec![(
            Value::from(1u64),
            Value::Array(vec![Value::from(0u64); 8200]),
        )]),
    );
    assert!(many.len() <= MAX_MESSAGE);
    assert_eq!(
        Message::<Reply>::decode(&many).unwrap_err().error,
        ProtocolError::Cbor(CborError::TooManyItems {
            max: LIMITS.max_items
        })
    );
    // A listing part with more credentials than a part may carry.
    let items: Vec<CredentialInfo> = (0..=CHUNK_ITEMS).map(|i| credential(i as u8)).collect();
    assert!(matches!(
        Message {
            seq: 1,
            body: Reply::Credentials { items, more: false }
        }
        .encode(),
        Err(ProtocolError::OutOfBounds { field: "items", .. })
    ));
    // A credProtect level that does not exist.
    let mut bad = credential(1);
    bad.cred_protect = 4;
    assert!(matches!(
        Message {
            seq: 1,
            body: Reply::Credentials {
                items: vec![bad],
                more: false
            }
        }
        .encode(),
        Err(ProtocolError::OutOfBounds {
            field: "cred_protect",
            value: 4,
            ..
        })
    ));
    // An error code that names nothing: {1: 1, 2: 5, 3: {1: 99, 2: ""}}.
    assert_eq!(
        Message::<Reply>::decode(&[
            0xa3, 0x01, 0x01, 0x02, 0x05, 0x03, 0xa2, 0x01, 0x18, 0x63, 0x02, 0x60
        ])
        .unwrap_err()
        .error,
        ProtocolError::UnknownValue {
            field: "code",
            value: 99
        }
    );
}

#[test]
fn every_prefix_and_bit_flip_of_a_request_is_handled() {
    let bytes = encode(
        77,
        Request::List {
            rp_id: Some("example.com".into()),
        },
    );
    for n in 0..bytes.len() {
        assert!(
            Message::<Request>::decode(&bytes[..n]).is_err(),
            "prefix {n}"
        );
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            // Either an error or a message whose encoding is these very bytes (one encoding
            // per message).
            if let Ok(m) = Message::<Request>::decode(&b) {
                assert_eq!(m.encode().unwrap(), b, "byte {i} bit {bit}");
            }
        }
    }
}

#[test]
fn error_messages_are_cut_on_a_character_boundary() {
    let Reply::Error { message, .. } =
        Reply::error(ErrorCode::Store, "é".repeat(MAX_ERROR_MESSAGE))
    else {
        panic!()
    };
    assert_eq!(message.len(), MAX_ERROR_MESSAGE);
    assert!(message.chars().all(|c| c == 'é'));
}

#[test]
fn long_lists_are_split_into_bounded_replies() {
    use crate::session::server::chunk;
    use crate::session::Outcome;
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
    let execute = crate::serve::execute;
    assert_eq!(
        execute(&mut device, Request::List { rp_id: None }),
        Ok(Outcome::Credentials(Vec::new()))
    );
    assert_eq!(
        execute(
            &mut device,
            Request::Delete {
                credential_id: vec![1; 16],
            }
        ),
        Ok(Outcome::Deleted(false))
    );
    assert_eq!(
        execute(
            &mut device,
            Request::UpdateUser {
                credential_id: vec![1; 16],
                name: "a".into(),
                display_name: "A".into(),
            }
        ),
        Ok(Outcome::Updated(false))
    );
    // getInfo over CTAP answers status 0 and a CBOR map.
    let Ok(Outcome::Ctap(bytes)) = execute(&mut device, ctap(&[0x04])) else {
        panic!()
    };
    assert_eq!(bytes[0], 0x00);
    assert_eq!(bytes[1] & 0xe0, 0xa0);

    let big: Vec<CredentialInfo> = (0..2000u32)
        .map(|i| CredentialInfo {
            credential_id: i.to_be_bytes().repeat(16),
            ..credential(1)
        })
        .collect();
    let parts = chunk(big.clone());
    assert!(parts.len() > 1);
    let mut joined = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let bytes = encode(5, part.clone());
        assert!(
            bytes.len() <= MAX_MESSAGE,
            "part {i}: {} bytes",
            bytes.len()
        );
        let Reply::Credentials { items, more } = Message::<Reply>::decode(&bytes).unwrap().body
        else {
            panic!("part {i}")
        };
        assert!(items.len() <= CHUNK_ITEMS);
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
        Reply::Ctap {
            response: vec![0, 0xa1, 1, 2]
        }
        .summary()
        .to_string(),
        "Ctap (4 bytes)"
    );
    assert_eq!(
        Reply::Deleted { deleted: true }.summary().to_string(),
        "Deleted (true)"
    );
    let error = Reply::error(ErrorCode::Store, secret);
    let text = error.summary().to_string();
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("17 bytes"), "{text}");
    assert!(!listed.summary().to_string().contains("user1"));
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

//! Deterministic fuzzing without cargo-fuzz: a few hundred thousand random and mutated valid
//! requests through the top-level parser. Properties checked on every input:
//!
//! - the parser never panics (a panic fails the test);
//! - the CBOR reader accepts only canonical input: `encode(decode(b)) == b`, and the lenient
//!   reader agrees with it on canonical input;
//! - a request that parses re-encodes to bytes that parse to the same request.

use latchkey_ctap::cbor::{self, Value};
use latchkey_ctap::command::{
    ClientDataHash, ClientPinRequest, ConfigRequest, ConfigSubcommand, CredentialManagementRequest,
    CredentialManagementSubcommand, GetAssertionOptions, GetAssertionRequest, LargeBlobsRequest,
    MakeCredentialOptions, MakeCredentialRequest, Request,
};
use latchkey_ctap::cose::P256Point;
use latchkey_ctap::entity::{
    CoseAlgorithm, CredentialDescriptor, CredentialParameters, RpEntity, UserEntity, UserId,
};
use latchkey_ctap::extensions::{
    CredProtect, GetAssertionExtensions, HmacSecretInput, MakeCredentialExtensions,
};
use latchkey_ctap::pin::{Permissions, PinUvAuthProtocol};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let point = P256Point {
        x: [0x11; 32],
        y: [0x22; 32],
    };
    let mc = MakeCredentialRequest {
        client_data_hash: ClientDataHash([0xcd; 32]),
        rp: RpEntity {
            id: "example.com".into(),
            name: Some("Example".into()),
        },
        user: UserEntity {
            id: UserId::new(vec![1, 2, 3]).unwrap(),
            name: Some("alice".into()),
            display_name: None,
        },
        pub_key_cred_params: vec![
            CredentialParameters {
                alg: CoseAlgorithm::ES256,
            },
            CredentialParameters {
                alg: CoseAlgorithm::EDDSA,
            },
        ],
        exclude_list: Some(vec![CredentialDescriptor {
            transports: Some(vec!["usb".into()]),
            ..CredentialDescriptor::public_key(vec![9; 16])
        }]),
        extensions: Some(MakeCredentialExtensions {
            cred_protect: Some(CredProtect::UserVerificationOptionalWithCredentialIdList),
            hmac_secret: Some(true),
            ..MakeCredentialExtensions::default()
        }),
        options: MakeCredentialOptions {
            rk: Some(true),
            up: None,
            uv: None,
        },
        pin_uv_auth_param: Some(vec![0xaa; 16]),
        pin_uv_auth_protocol: Some(PinUvAuthProtocol::One),
        enterprise_attestation: None,
        attestation_formats_preference: None,
    };
    let ga = GetAssertionRequest {
        rp_id: "example.com".into(),
        client_data_hash: ClientDataHash([1; 32]),
        allow_list: Some(vec![CredentialDescriptor::public_key(vec![2; 32])]),
        extensions: Some(GetAssertionExtensions {
            hmac_secret: Some(HmacSecretInput {
                key_agreement: point,
                salt_enc: vec![3; 32],
                salt_auth: vec![4; 16],
                pin_uv_auth_protocol: None,
            }),
            ..GetAssertionExtensions::default()
        }),
        options: GetAssertionOptions {
            rk: None,
            up: Some(true),
            uv: None,
        },
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    };
    let mut cm =
        CredentialManagementRequest::new(CredentialManagementSubcommand::DeleteCredential {
            credential_id: CredentialDescriptor::public_key(vec![5; 16]),
        });
    cm.pin_uv_auth_protocol = Some(PinUvAuthProtocol::Two);
    cm.pin_uv_auth_param = Some(vec![6; 32]);
    let requests = [
        Request::MakeCredential(mc),
        Request::GetAssertion(ga),
        Request::GetInfo,
        Request::ClientPin(ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions {
            protocol: PinUvAuthProtocol::Two,
            key_agreement: point,
            pin_hash_enc: vec![7; 32],
            permissions: Permissions::MAKE_CREDENTIAL | Permissions::GET_ASSERTION,
            rp_id: Some("example.com".into()),
        }),
        Request::ClientPin(ClientPinRequest::ChangePin {
            protocol: PinUvAuthProtocol::One,
            key_agreement: point,
            pin_hash_enc: vec![1; 16],
            new_pin_enc: vec![2; 64],
            pin_uv_auth_param: vec![3; 16],
        }),
        Request::CredentialManagement(cm),
        Request::LargeBlobs(LargeBlobsRequest::Set {
            offset: 0,
            set: vec![0x80; 17],
            length: Some(17),
            pin_uv_auth_param: Some(vec![1; 32]),
            pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
        }),
        Request::Config(ConfigRequest::new(ConfigSubcommand::SetMinPinLength {
            new_min_pin_length: Some(8),
            min_pin_length_rp_ids: Some(vec!["a.example".into()]),
            force_change_pin: Some(false),
        })),
    ];
    requests.iter().map(Request::encode).collect()
}

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len().max(1);
        match rng.below(8) {
            0 => {
                let i = rng.below(len);
                if let Some(b) = out.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(len);
                if let Some(b) = out.get_mut(i) {
                    // Interesting CBOR heads: lengths, indefinite, break, tags, floats.
                    *b = [
                        0x00, 0x17, 0x18, 0x19, 0x1b, 0x1f, 0x5f, 0x9f, 0xbf, 0xff, 0xc0, 0xf9,
                        0xf7, 0xa0, 0x80,
                    ][rng.below(15)];
                }
            }
            2 => {
                let i = rng.below(len + 1).min(out.len());
                out.insert(i, rng.next() as u8);
            }
            3 => {
                if !out.is_empty() {
                    let i = rng.below(out.len());
                    out.remove(i);
                }
            }
            4 => {
                let cut = rng.below(len + 1).min(out.len());
                out.truncate(cut);
            }
            5 => {
                if out.len() > 2 {
                    let a = rng.below(out.len());
                    let b = (a + 1 + rng.below(16)).min(out.len());
                    let chunk = out[a..b].to_vec();
                    let at = rng.below(out.len());
                    out.splice(at..at, chunk);
                }
            }
            6 => {
                if let Some(b) = out.first_mut() {
                    *b = rng.next() as u8;
                }
            }
            _ => {
                let i = rng.below(len);
                if let Some(b) = out.get_mut(i) {
                    *b = b.wrapping_add(1);
                }
            }
        }
    }
    out
}

fn check(input: &[u8]) -> bool {
    if let Some(body) = input.get(1..) {
        let lenient = cbor::decode_lenient(body);
        if let Ok(value) = cbor::decode(body) {
            assert_eq!(
                cbor::encode(&value),
                body,
                "accepted non-canonical CBOR {body:02x?}"
            );
            assert_eq!(lenient.as_ref(), Ok(&value), "lenient and strict disagree");
        } else if let Ok(value) = lenient {
            // Leniently read values re-encode canonically and then pass the strict reader.
            assert_eq!(cbor::decode(&cbor::encode(&value)), Ok(value));
        }
    }
    match Request::decode(input) {
        Ok(request) => {
            let again = Request::decode(&request.encode()).expect("re-encoded request parses");
            assert_eq!(again, request);
            true
        }
        Err(e) => {
            // Every error maps to a non-OK status.
            assert!(!e.status().is_ok());
            false
        }
    }
}

#[test]
fn mutated_valid_requests_never_panic() {
    let corpus = corpus();
    for seed in &corpus {
        assert!(check(seed), "corpus entry parses");
    }
    let mut rng = XorShift(0x1a7c_4e11_d00d_5eed);
    let mut accepted = 0usize;
    let rounds = 250_000;
    for _ in 0..rounds {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base);
        if check(&input) {
            accepted += 1;
        }
    }
    // The mutations must exercise both paths.
    assert!(accepted > 1_000, "only {accepted} mutants parsed");
    assert!(
        accepted < rounds / 2,
        "{accepted} mutants parsed: mutations too weak"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x0bad_cafe_f00d_0001);
    for _ in 0..100_000 {
        let len = rng.below(64);
        let mut input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(b) = input.first_mut() {
            // Mostly valid command bytes, so the CBOR parsers get exercised.
            *b = [0x01, 0x02, 0x04, 0x06, 0x0a, 0x0b, 0x0c, 0x0d, 0x41, *b][rng.below(10)];
        }
        if let Some(b) = input.get_mut(1) {
            *b = 0xa0 | (*b & 0x07);
        }
        check(&input);
    }
    // Values straight from random bytes also round trip when they decode.
    let mut decoded = 0;
    for _ in 0..50_000 {
        let len = 1 + rng.below(16);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Ok(v) = cbor::decode(&bytes) {
            decoded += 1;
            assert_eq!(cbor::encode(&v), bytes);
            let _: &Value = &v;
        }
    }
    assert!(decoded > 100, "{decoded}");
}

/// Writes the valid requests as seed inputs for the cargo-fuzz target `cbor_request`:
/// `LATCHKEY_FUZZ_SEEDS=fuzz/seeds/cbor_request cargo test -p latchkey-ctap --test
/// request_mutation -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand to refresh fuzz seeds"]
fn write_fuzz_seeds() {
    let dir = std::env::var("LATCHKEY_FUZZ_SEEDS").expect("LATCHKEY_FUZZ_SEEDS names a directory");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, seed) in corpus().iter().enumerate() {
        std::fs::write(format!("{dir}/request-{i:02}"), seed).unwrap();
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Deterministic mutation runs over every parser a peer can reach: no input may panic, and
//! mutated signed data must never verify. (A seeded xorshift stands in for a fuzzer's corpus
//! so the run is reproducible in CI.)

mod common;

use latchkey_webauthn::clientdata::ParsedClientData;
use latchkey_webauthn::ids::CoseAlgorithm;
use latchkey_webauthn::options::{CreationOptions, RequestOptions};
use latchkey_webauthn::origin::{authorize, Origin, RpId};
use latchkey_webauthn::related::RelatedOrigins;
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use latchkey_webauthn::rp::{verify_registration, ExpectedOrigins, ExpectedRegistration};

struct Rng(u64);

impl Rng {
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

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"\"\"",
    b"\xff",
    b"\x00",
    b"=",
    b"+",
    b"/",
    b"\xc3\xbc",
    b"4294967296",
    b"{}",
    b"[]",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = if v.is_empty() { 0 } else { rng.below(v.len()) };
        match rng.below(4) {
            0 if !v.is_empty() => v[at] = rng.next() as u8,
            1 if !v.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(v.len());
                v.drain(at..end);
            }
            2 => {
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, ins.iter().copied());
            }
            _ => {
                if !v.is_empty() {
                    let b = v[rng.below(v.len())];
                    v.insert(at, b);
                }
            }
        }
    }
    v
}

const CREATE: &str = r#"{"rp":{"name":"E","id":"example.com"},"user":{"id":"dXNlcg","name":"a","displayName":"A"},"challenge":"AAECAwQ","pubKeyCredParams":[{"type":"public-key","alg":-7}],"excludeCredentials":[{"type":"public-key","id":"AQID","transports":["usb"]}],"authenticatorSelection":{"residentKey":"preferred"},"hints":["hybrid"],"extensions":{"credProps":true,"prf":{"eval":{"first":"AQ"}},"largeBlob":{"support":"required"},"credBlob":"AAE"}}"#;
const GET: &str = r#"{"challenge":"AAECAwQ","rpId":"example.com","allowCredentials":[{"type":"public-key","id":"AQID"}],"extensions":{"prf":{"eval":{"first":"AQ"},"evalByCredential":{"AQID":{"first":"Ag"}}},"largeBlob":{"write":"AQ"},"appid":"https://example.com"}}"#;
const RESPONSE: &str = r#"{"id":"AQID","rawId":"AQID","type":"public-key","clientExtensionResults":{"prf":{"results":{"first":"AA"}}},"response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"AQ","attestationObject":"oA","transports":["usb"],"publicKeyAlgorithm":-7}}"#;
const WELL_KNOWN: &str =
    r#"{"origins":["https://a.example.com","https://b.example.co.uk","https://c.github.io"]}"#;

#[test]
fn json_parsers_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..4000 {
        let _ = CreationOptions::from_json(&mutate(&mut rng, CREATE.as_bytes()));
        let _ = RequestOptions::from_json(&mutate(&mut rng, GET.as_bytes()));
        let r = mutate(&mut rng, RESPONSE.as_bytes());
        let _ = RegistrationResponseJSON::from_json(&r);
        let _ = AuthenticationResponseJSON::from_json(&r);
        let _ = RelatedOrigins::parse(&mutate(&mut rng, WELL_KNOWN.as_bytes()));
        let _ = ParsedClientData::parse(&mutate(
            &mut rng,
            br#"{"type":"webauthn.get","challenge":"AA","origin":"https://x"}"#,
        ));
    }
}

#[test]
fn origin_and_rp_id_parsers_never_panic() {
    let mut rng = Rng(0x0dd_ba11);
    for _ in 0..4000 {
        let o = String::from_utf8_lossy(&mutate(
            &mut rng,
            "https://shop.bücher.example:8443".as_bytes(),
        ))
        .into_owned();
        let r = String::from_utf8_lossy(&mutate(&mut rng, b"b\xc3\xbccher.example")).into_owned();
        let _ = Origin::parse(&o);
        let _ = RpId::parse(&r);
        let _ = authorize(&o, Some(&r));
    }
}

#[test]
fn mutated_packed_attestation_objects_never_verify() {
    let mut rng = Rng(0xfeed_face);
    let rp_id = RpId::parse("example.org").unwrap();
    let mut rejected = 0;
    for v in common::w3c_vectors::VECTORS.iter().take(2) {
        let att = hex::decode(v.attestation_object).unwrap();
        let challenge = hex::decode(v.reg_challenge).unwrap();
        for _ in 0..1500 {
            let m = mutate(&mut rng, &att);
            let id = latchkey_webauthn::b64::encode(&hex::decode(v.credential_id).unwrap());
            let json = serde_json::json!({
                "id": id, "rawId": id, "type": "public-key", "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": latchkey_webauthn::b64::encode(&hex::decode(v.reg_client_data_json).unwrap()),
                    "attestationObject": latchkey_webauthn::b64::encode(&m),
                    "authenticatorData": "", "transports": [], "publicKeyAlgorithm": -7
                }
            });
            let resp = RegistrationResponseJSON::from_json(json.to_string().as_bytes()).unwrap();
            let expected = ExpectedRegistration {
                challenge: &challenge,
                origins: ExpectedOrigins {
                    origins: &["https://example.org"],
                    top_origins: &[],
                },
                rp_id: &rp_id,
                require_user_verification: false,
                algorithms: &[CoseAlgorithm::ES256],
            };
            match verify_registration(&resp, &expected) {
                // `none` signs nothing, so e.g. a mutated AAGUID still registers; a mutated
                // `packed` object must not.
                Ok(_) => assert!(
                    v.anchor.ends_with("-none-es256") || m == att,
                    "{}: a mutated packed attestation object verified",
                    v.anchor
                ),
                Err(_) => rejected += 1,
            }
        }
    }
    assert!(
        rejected > 1500,
        "only {rejected} of 3000 mutations rejected"
    );
}

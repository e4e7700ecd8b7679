//! Round trips between the platform and authenticator sides, and known answers computed
//! independently with Python `cryptography` (ECDH P-256, SHA-256, HKDF, AES-CBC, HMAC).

use super::*;
use crate::cose::P256Point;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn point(x: &str, y: &str) -> P256Point {
    P256Point {
        x: h(x).try_into().unwrap(),
        y: h(y).try_into().unwrap(),
    }
}

/// An RNG that repeats one byte.
fn fixed(byte: u8) -> impl FnMut(&mut [u8]) {
    move |d: &mut [u8]| d.fill(byte)
}

/// A deterministic xorshift RNG for round-trip tests.
fn seeded(mut state: u64) -> impl FnMut(&mut [u8]) {
    move |d: &mut [u8]| {
        for b in d {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
    }
}

const A_X: &str = "0217e617f0b6443928278f96999e69a23a4f2c152bdf6d6cdf66e5b80282d4ed";
const A_Y: &str = "194a7debcb97712d2dda3ca85aa8765a56f45fc758599652f2897c65306e5794";
const B_X: &str = "d65a93977caa3d1b081852ff57a79e465f1660577304baead505dd3a48589cf3";
const B_Y: &str = "50185e895372df6221ea3a137557e473fddb6755f05bd507c3c533fce9c91285";
const S1: &str = "98f5bf15dbc72627acd9a8ab61ce21349ea3496d79136adf08ad381cc9c0fa25";
const S2: &str = "abc3809533cb07b6ae481ea05b28ac708ffed9777147a09aabc8ab58e167ba0e\
                  aecad75245932defecf4cd0d93420fcd05d99403d09a49655fed76fa64c2cf82";

#[test]
fn key_agreement_known_answers_both_protocols() {
    // Authenticator private key 0x11…11, platform private key 0x22…22.
    let auth = KeyAgreementKey::generate(&mut fixed(0x11)).unwrap();
    assert_eq!(auth.public_key(), point(A_X, A_Y));
    for (protocol, expected) in [(PinUvAuthProtocol::One, S1), (PinUvAuthProtocol::Two, S2)] {
        let (platform_pub, platform_secret) =
            encapsulate(protocol, &auth.public_key(), &mut fixed(0x22)).unwrap();
        assert_eq!(platform_pub, point(B_X, B_Y));
        assert_eq!(
            hex::encode(platform_secret.expose()),
            expected.replace(' ', "")
        );
        let auth_secret = auth.decapsulate(protocol, &platform_pub).unwrap();
        assert_eq!(auth_secret, platform_secret);
    }
}

#[test]
fn encrypt_and_authenticate_known_answers() {
    let plaintext: Vec<u8> = (0..32).collect();
    let s1 = SharedSecret::from_bytes(PinUvAuthProtocol::One, &h(S1)).unwrap();
    assert_eq!(
        hex::encode(s1.encrypt(&mut fixed(0x99), &plaintext).unwrap()),
        "3a6fce1f2c0517ade8dc3b3f9f6dbb4b735732c052d19aafbcf85f336946cd07"
    );
    assert_eq!(
        hex::encode(s1.authenticate(b"message")),
        "6d75b5bba87dd047f9c7897424f3be6a"
    );
    let s2 = SharedSecret::from_bytes(PinUvAuthProtocol::Two, &h(&S2.replace(' ', ""))).unwrap();
    let ct = s2.encrypt(&mut fixed(0x33), &plaintext).unwrap();
    assert_eq!(
        hex::encode(&ct),
        "33333333333333333333333333333333\
         be29218dbeb9b03d6fd060dd9fc47f5c96831ef6f66695d9fecb56aae6ea37a2"
    );
    assert_eq!(s2.decrypt(&ct).unwrap().as_slice(), plaintext.as_slice());
    assert_eq!(
        hex::encode(s2.authenticate(b"message")),
        "400ed27245666d9da974c13d1dbb898613ac4e39f2e8749fad2ff591c2fd455c"
    );
}

#[test]
fn round_trip_between_platform_and_authenticator() {
    for protocol in [PinUvAuthProtocol::One, PinUvAuthProtocol::Two] {
        let mut rng = seeded(0x5eed ^ protocol.id() as u64);
        let auth = KeyAgreementKey::generate(&mut rng).unwrap();
        let (platform_key, platform) = encapsulate(protocol, &auth.public_key(), &mut rng).unwrap();
        let authenticator = auth.decapsulate(protocol, &platform_key).unwrap();

        // setPIN: the platform pads and encrypts, the authenticator verifies and recovers.
        let padded = pad_pin(b"1234").unwrap();
        let new_pin_enc = platform.encrypt(&mut rng, padded.as_slice()).unwrap();
        let param = platform.authenticate(&new_pin_enc);
        assert_eq!(
            param.len(),
            if protocol == PinUvAuthProtocol::One {
                16
            } else {
                32
            }
        );
        authenticator.verify(&new_pin_enc, &param).unwrap();
        let pin = unpad_pin(&authenticator.decrypt(&new_pin_enc).unwrap()).unwrap();
        assert_eq!(pin.as_slice(), b"1234");

        // A flipped bit fails verification with PIN_AUTH_INVALID.
        let mut bad = param.clone();
        bad[0] ^= 1;
        let err = authenticator.verify(&new_pin_enc, &bad).unwrap_err();
        assert_eq!(err.status(), crate::StatusCode::PinAuthInvalid);
        // A protocol 2 tag truncated to protocol 1's length does not verify.
        if protocol == PinUvAuthProtocol::Two {
            assert_eq!(
                authenticator
                    .verify(&new_pin_enc, &param[..16])
                    .unwrap_err(),
                PinError::BadAuthentication
            );
        }

        // The authenticator encrypts a token; the platform decrypts it and uses it.
        let token = [0xabu8; 32];
        let token_enc = authenticator.encrypt(&mut rng, &token).unwrap();
        let got = platform.decrypt(&token_enc).unwrap();
        assert_eq!(got.as_slice(), &token);
        let cdh = [7u8; 32];
        let mc_param = authenticate(protocol, &got, &cdh);
        verify(protocol, &token, &cdh, &mc_param).unwrap();
    }
}

#[test]
fn protocol_two_randomises_the_iv() {
    let s2 = SharedSecret::from_bytes(PinUvAuthProtocol::Two, &[5u8; 64]).unwrap();
    let mut rng = seeded(1);
    let a = s2.encrypt(&mut rng, &[0u8; 16]).unwrap();
    let b = s2.encrypt(&mut rng, &[0u8; 16]).unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn malformed_ciphertexts_and_keys_are_rejected() {
    let s1 = SharedSecret::from_bytes(PinUvAuthProtocol::One, &[1u8; 32]).unwrap();
    let s2 = SharedSecret::from_bytes(PinUvAuthProtocol::Two, &[1u8; 64]).unwrap();
    assert_eq!(
        s1.decrypt(&[0u8; 15]).unwrap_err(),
        PinError::InvalidCiphertextLength
    );
    assert_eq!(
        s1.decrypt(&[]).unwrap_err(),
        PinError::InvalidCiphertextLength
    );
    assert_eq!(
        s2.decrypt(&[0u8; 16]).unwrap_err(),
        PinError::InvalidCiphertextLength
    );
    assert_eq!(
        s2.decrypt(&[0u8; 40]).unwrap_err(),
        PinError::InvalidCiphertextLength
    );
    assert_eq!(
        s1.encrypt(&mut fixed(0), &[0u8; 17]).unwrap_err(),
        PinError::InvalidPlaintextLength
    );
    assert!(SharedSecret::from_bytes(PinUvAuthProtocol::Two, &[0u8; 32]).is_none());
    let auth = KeyAgreementKey::generate(&mut seeded(9)).unwrap();
    let off_curve = P256Point {
        x: [1; 32],
        y: [2; 32],
    };
    let err = auth
        .decapsulate(PinUvAuthProtocol::Two, &off_curve)
        .unwrap_err();
    assert_eq!(err, PinError::InvalidPeerKey);
    assert_eq!(err.status(), crate::StatusCode::InvalidParameter);
    // An RNG that only yields zeros never gives a valid scalar.
    assert_eq!(
        KeyAgreementKey::generate(&mut fixed(0)).unwrap_err(),
        PinError::BadRandomness
    );
}

#[test]
fn secrets_are_redacted_in_debug() {
    let s = SharedSecret::from_bytes(PinUvAuthProtocol::One, &[0x42u8; 32]).unwrap();
    let shown = format!("{s:?}");
    assert!(shown.contains("redacted"));
    assert!(!shown.contains("42"));
    let k = KeyAgreementKey::generate(&mut fixed(0x11)).unwrap();
    assert!(format!("{k:?}").contains("<redacted>"));
}

#[test]
fn pin_padding_rules() {
    assert_eq!(pad_pin(b"").unwrap_err(), PinError::InvalidPin);
    assert_eq!(pad_pin(&[b'1'; 64]).unwrap_err(), PinError::InvalidPin);
    let p = pad_pin(&[b'1'; 63]).unwrap();
    assert_eq!(unpad_pin(p.as_slice()).unwrap().len(), 63);
    assert_eq!(unpad_pin(&[b'1'; 64]).unwrap_err(), PinError::InvalidPin);
    assert_eq!(unpad_pin(&[0u8; 64]).unwrap_err(), PinError::InvalidPin);
    let mut gap = [0u8; 64];
    gap[0] = b'1';
    gap[5] = b'2';
    assert_eq!(unpad_pin(&gap).unwrap_err(), PinError::InvalidPin);
    assert_eq!(unpad_pin(&[b'1'; 32]).unwrap_err(), PinError::InvalidPin);
    // LEFT(SHA-256("1234"), 16).
    assert_eq!(
        hex::encode(pin_hash(b"1234")),
        "03ac674216f3e15c761ee1a5e255f067"
    );
}

#[test]
fn auth_messages_have_the_spec_layout() {
    let lb = large_blobs_message(0x01020304, b"");
    assert_eq!(&lb[..32], &[0xff; 32]);
    assert_eq!(&lb[32..38], &[0x0c, 0x00, 0x04, 0x03, 0x02, 0x01]);
    assert_eq!(
        hex::encode(&lb[38..]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let cfg = config_message(0x03, &[0xa1, 0x01, 0x06]);
    assert_eq!(&cfg[32..], &[0x0d, 0x03, 0xa1, 0x01, 0x06]);
    assert_eq!(cred_mgmt_message(0x04, &[0xa0]), vec![0x04, 0xa0]);
    assert_eq!(change_pin_message(&[1, 2], &[3]), vec![1, 2, 3]);
}

/// A known answer computed independently (Python `cryptography`: HKDF-SHA256 with a
/// 32-byte zero salt, then AES-128-CBC), so the derivation is pinned, not just round-tripped.
#[test]
fn persistent_token_info_members_known_answer() {
    let token = [0x11u8; 32];
    let value = *b"identifier-12345";
    let mut iv_rng = |b: &mut [u8]| b.fill(0x22);
    let enc = encrypt_info_member(&token, InfoMember::Identifier, &value, &mut iv_rng).unwrap();
    assert_eq!(enc.len(), 32);
    assert_eq!(&enc[..16], &[0x22; 16]);
    assert_eq!(hex::encode(&enc[16..]), KNOWN_IDENTIFIER_CIPHERTEXT);
    assert_eq!(
        decrypt_info_member(&token, InfoMember::Identifier, &enc).unwrap(),
        value
    );
    // The other member's key gives another value; so does another token.
    assert_ne!(
        decrypt_info_member(&token, InfoMember::CredStoreState, &enc).unwrap(),
        value
    );
    assert_ne!(
        decrypt_info_member(&[0x12; 32], InfoMember::Identifier, &enc).unwrap(),
        value
    );
    for len in [0, 16, 31, 33, 48] {
        assert_eq!(
            decrypt_info_member(&token, InfoMember::Identifier, &vec![0; len]),
            Err(PinError::InvalidCiphertextLength)
        );
    }
}

const KNOWN_IDENTIFIER_CIPHERTEXT: &str = "432bedc89993ff7dd0d747fd701e4d5a";

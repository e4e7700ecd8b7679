#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The W3C WebAuthn L3 §16 test vectors: our clientDataJSON serialization reproduces theirs, and
//! our RP-side verification accepts their registrations and assertions.

mod common;

use common::w3c_vectors::{Vector, VECTORS};
use latchkey_webauthn::clientdata::{limited_verify, Ancestry, CeremonyType, CollectedClientData};
use latchkey_webauthn::ids::{Challenge, CoseAlgorithm, CredentialId, UserHandle};
use latchkey_webauthn::origin::RpId;
use latchkey_webauthn::response::{AuthenticationResponseJSON, RegistrationResponseJSON};
use latchkey_webauthn::rp::{
    verify_authentication, verify_registration, AttestationType, ExpectedAuthentication,
    ExpectedOrigins, ExpectedRegistration, ExpectedUser, VerifyError,
};

/// Serializations in §16 that carry no generated `extraData` member (15 of the 30).
const EXACT_MATCHES: usize = 15;
const ORIGIN: &str = "https://example.org";
const TOP: &str = "https://example.com";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn ancestry(v: &Vector) -> Ancestry {
    if v.anchor.ends_with("-topOrigin") {
        Ancestry::CrossOrigin {
            top_origin: Some(TOP.into()),
        }
    } else if v.anchor.ends_with("-crossOrigin") {
        Ancestry::CrossOrigin { top_origin: None }
    } else {
        Ancestry::SameOrigin
    }
}

/// Our serialization equals theirs, or (when theirs carries an `extraData` member that the
/// generator appended) is theirs with that member removed.
fn assert_serialization(v: &Vector, ceremony: CeremonyType, challenge: &str, theirs: &str) {
    let theirs = h(theirs);
    let ours =
        CollectedClientData::new(ceremony, &Challenge::new(h(challenge)), ORIGIN, ancestry(v))
            .to_json_bytes();
    if ours != theirs {
        let prefix = &ours[..ours.len() - 1];
        assert!(
            theirs.starts_with(prefix),
            "{}: {}",
            v.anchor,
            String::from_utf8_lossy(&theirs)
        );
        assert!(
            theirs[prefix.len()..].starts_with(b",\"extraData\":"),
            "{}",
            v.anchor
        );
    }
    let c = h(challenge);
    match ancestry(v) {
        Ancestry::SameOrigin => {
            assert!(
                limited_verify(&theirs, ceremony, &c, ORIGIN, None, false),
                "{}",
                v.anchor
            );
            assert!(
                !limited_verify(&theirs, ceremony, &c, ORIGIN, Some(TOP), false),
                "{}",
                v.anchor
            );
        }
        Ancestry::CrossOrigin {
            top_origin: Some(_),
        } => {
            assert!(
                limited_verify(&theirs, ceremony, &c, ORIGIN, Some(TOP), true),
                "{}",
                v.anchor
            );
            assert!(
                !limited_verify(&theirs, ceremony, &c, ORIGIN, None, false),
                "{}",
                v.anchor
            );
        }
        Ancestry::CrossOrigin { top_origin: None } => {
            // A Level 2 style serialization: accepted only when topOrigin is not required.
            assert!(
                limited_verify(&theirs, ceremony, &c, ORIGIN, Some(TOP), false),
                "{}",
                v.anchor
            );
            assert!(
                !limited_verify(&theirs, ceremony, &c, ORIGIN, Some(TOP), true),
                "{}",
                v.anchor
            );
        }
    }
    assert!(!limited_verify(
        &theirs,
        ceremony,
        &c,
        "https://example.net",
        None,
        false
    ));
}

#[test]
fn client_data_json_matches_every_vector() {
    assert_eq!(VECTORS.len(), 15);
    let mut exact = 0;
    for v in VECTORS {
        assert_serialization(
            v,
            CeremonyType::Create,
            v.reg_challenge,
            v.reg_client_data_json,
        );
        assert_serialization(
            v,
            CeremonyType::Get,
            v.auth_challenge,
            v.auth_client_data_json,
        );
        for (c, j) in [
            (CeremonyType::Create, v.reg_challenge),
            (CeremonyType::Get, v.auth_challenge),
        ] {
            let ours = CollectedClientData::new(c, &Challenge::new(h(j)), ORIGIN, ancestry(v))
                .to_json_bytes();
            if ours
                == h(if c == CeremonyType::Create {
                    v.reg_client_data_json
                } else {
                    v.auth_client_data_json
                })
            {
                exact += 1;
            }
        }
    }
    // Vectors without generated extraData match byte for byte.
    assert_eq!(exact, EXACT_MATCHES, "exact matches");
}

fn registration_json(v: &Vector) -> RegistrationResponseJSON {
    let id = latchkey_webauthn::b64::encode(&h(v.credential_id));
    let json = serde_json::json!({
        "id": id, "rawId": id, "type": "public-key", "clientExtensionResults": {},
        "response": {
            "clientDataJSON": latchkey_webauthn::b64::encode(&h(v.reg_client_data_json)),
            "attestationObject": latchkey_webauthn::b64::encode(&h(v.attestation_object)),
            "authenticatorData": "", "transports": ["usb"], "publicKeyAlgorithm": -7
        }
    });
    RegistrationResponseJSON::from_json(json.to_string().as_bytes()).unwrap()
}

const ALGS: &[CoseAlgorithm] = &[
    CoseAlgorithm::ES256,
    CoseAlgorithm::EDDSA,
    CoseAlgorithm::RS256,
    CoseAlgorithm::ES384,
];

fn origins(v: &Vector) -> ExpectedOrigins<'static> {
    let cross = v.anchor.ends_with("-topOrigin") || v.anchor.ends_with("-crossOrigin");
    ExpectedOrigins {
        origins: &[ORIGIN],
        top_origins: if cross { &[TOP] } else { &[] },
    }
}

#[test]
fn rp_verifies_registrations_and_assertions() {
    let rp_id = RpId::parse("example.org").unwrap();
    let mut verified_assertions = Vec::new();
    for v in VECTORS {
        let reg = registration_json(v);
        let expected = ExpectedRegistration {
            challenge: &h(v.reg_challenge),
            origins: origins(v),
            rp_id: &rp_id,
            require_user_verification: false,
            algorithms: ALGS,
        };
        let (record, att) = match verify_registration(&reg, &expected) {
            Ok(ok) => ok,
            Err(VerifyError::UnsupportedAttestation(fmt)) => {
                assert!(
                    ["tpm", "android-key", "apple", "fido-u2f"].contains(&fmt.as_str()),
                    "{fmt}"
                );
                continue;
            }
            Err(VerifyError::AlgorithmNotAllowed(alg)) => {
                // ES384/ES512/Ed448 credential keys: no COSE support for them here.
                assert!([-35, -36, -53, -8].contains(&alg), "{}: {alg}", v.anchor);
                continue;
            }
            Err(e) => panic!("{}: {e}", v.anchor),
        };
        match v.anchor {
            "sctn-test-vectors-packed-self-es256" => {
                assert_eq!(att, AttestationType::SelfAttestation)
            }
            a if a.contains("-none-") => assert_eq!(att, AttestationType::None),
            a => assert!(matches!(att, AttestationType::Basic { .. }), "{a}: {att:?}"),
        }
        assert_eq!(record.id.as_bytes(), h(v.credential_id).as_slice());

        let id = latchkey_webauthn::b64::encode(&h(v.credential_id));
        let auth = AuthenticationResponseJSON::from_json(
            serde_json::json!({
                "id": id, "rawId": id, "type": "public-key", "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": latchkey_webauthn::b64::encode(&h(v.auth_client_data_json)),
                    "authenticatorData": latchkey_webauthn::b64::encode(&h(v.authenticator_data)),
                    "signature": latchkey_webauthn::b64::encode(&h(v.signature)),
                }
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let user = UserHandle::new(vec![1]).unwrap();
        let cred = CredentialId::new("id", h(v.credential_id)).unwrap();
        let expected = ExpectedAuthentication {
            challenge: &h(v.auth_challenge),
            origins: origins(v),
            rp_id: &rp_id,
            require_user_verification: false,
            allow_credentials: std::slice::from_ref(&cred),
            user: ExpectedUser::Identified(&user),
        };
        verify_authentication(&auth, &expected, &record)
            .unwrap_or_else(|e| panic!("{}: {e}", v.anchor));

        // Tampering: another challenge, or a flipped signature bit, fails.
        let other = [0u8; 32];
        let bad = ExpectedAuthentication {
            challenge: &other,
            ..expected.clone()
        };
        assert_eq!(
            verify_authentication(&auth, &bad, &record),
            Err(VerifyError::ChallengeMismatch)
        );
        let mut forged = auth.clone();
        let mut sig = h(v.signature);
        let last = sig.len() - 1;
        sig[last] ^= 1;
        forged.response.signature = latchkey_webauthn::b64::encode(&sig);
        assert_eq!(
            verify_authentication(&forged, &expected, &record),
            Err(VerifyError::BadSignature)
        );
        verified_assertions.push(v.anchor);
    }
    for must in [
        "sctn-test-vectors-none-es256",
        "sctn-test-vectors-packed-self-es256",
        "sctn-test-vectors-none-es256-crossOrigin",
        "sctn-test-vectors-none-es256-topOrigin",
        "sctn-test-vectors-none-es256-long-credential-id",
        "sctn-test-vectors-packed-es256",
    ] {
        assert!(
            verified_assertions.contains(&must),
            "{must} not verified: {verified_assertions:?}"
        );
    }
    eprintln!("verified: {verified_assertions:?}");
}

#[test]
fn registration_checks_fail_loudly() {
    let rp_id = RpId::parse("example.org").unwrap();
    let v = &VECTORS[0];
    let reg = registration_json(v);
    let ok = ExpectedRegistration {
        challenge: &h(v.reg_challenge),
        origins: ExpectedOrigins {
            origins: &[ORIGIN],
            top_origins: &[],
        },
        rp_id: &rp_id,
        require_user_verification: false,
        algorithms: ALGS,
    };
    assert!(verify_registration(&reg, &ok).is_ok());
    let other_rp = RpId::parse("example.com").unwrap();
    assert_eq!(
        verify_registration(
            &reg,
            &ExpectedRegistration {
                rp_id: &other_rp,
                ..ok.clone()
            }
        )
        .unwrap_err(),
        VerifyError::RpIdHashMismatch
    );
    assert_eq!(
        verify_registration(
            &reg,
            &ExpectedRegistration {
                origins: ExpectedOrigins {
                    origins: &["https://example.net"],
                    top_origins: &[]
                },
                ..ok.clone()
            }
        )
        .unwrap_err(),
        VerifyError::OriginMismatch(ORIGIN.into())
    );
    // none.ES256's registration flags lack UV.
    assert_eq!(
        verify_registration(
            &reg,
            &ExpectedRegistration {
                require_user_verification: true,
                ..ok.clone()
            }
        )
        .unwrap_err(),
        VerifyError::UserNotVerified
    );
    assert_eq!(
        verify_registration(
            &reg,
            &ExpectedRegistration {
                algorithms: &[CoseAlgorithm::RS256],
                ..ok.clone()
            }
        )
        .unwrap_err(),
        VerifyError::AlgorithmNotAllowed(-7)
    );
    // The crossOrigin vector is refused when the RP does not expect embedding.
    let x = VECTORS
        .iter()
        .find(|v| v.anchor.ends_with("-topOrigin"))
        .unwrap();
    let e = verify_registration(
        &registration_json(x),
        &ExpectedRegistration {
            challenge: &h(x.reg_challenge),
            ..ok.clone()
        },
    )
    .unwrap_err();
    assert_eq!(e, VerifyError::CrossOriginNotExpected(Some(TOP.into())));
}

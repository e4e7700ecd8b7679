//! The peer authenticators, driven at their own in-process APIs with the same ceremony as
//! Latchkey's row: ES256, user verified, discoverable where the peer can.
//!
//! - 1Password's `passkey-authenticator` 0.6: typed CTAP 2 requests (no CBOR decoding), async,
//!   run with `futures_lite::future::block_on` (it never waits). User verification is whatever
//!   its `UserValidationMethod` says: here, verified at once (it has no PIN protocol). Measured on
//!   its default RustCrypto backend and on aws-lc-rs, Latchkey's crypto.
//! - kanidm's `webauthn-authenticator-rs` 0.6 `SoftPasskey`: WebAuthn options in, a response
//!   out, client data hash given. It cannot make discoverable credentials and has no real UV
//!   (`falsify_uv` sets the flag), so its get names the credential in allowCredentials.

use futures_lite::future::block_on;
use latchkey_bench::stats::{self, Side};
use latchkey_bench::{BenchError, Budget, Samples};
use passkey_authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey_crypto::aws_lc_rs::AwsLcRsBackend;
use passkey_crypto::rust_crypto::RustCryptoBackend;
use passkey_crypto::{iana, CryptoBackend};
use passkey_types::ctap2::{get_assertion, make_credential, Aaguid, Ctap2Error};
use passkey_types::{webauthn, Passkey};
use serde_json::json;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_rs_proto::{PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions};

/// A user who is present and verified at once.
pub struct Verified;

#[async_trait::async_trait]
impl UserValidationMethod for Verified {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    let _ = aws_lc_rs::rand::fill(&mut v);
    v
}

/// A failure of passkey-authenticator.
pub fn peer(e: impl std::fmt::Debug) -> BenchError {
    BenchError::Peer {
        peer: "passkey-authenticator",
        detail: format!("{e:?}"),
    }
}

/// The `n`th makeCredential of the row: ES256, discoverable, UV, a new user each time.
pub fn mc_request(n: u64) -> make_credential::Request {
    make_credential::Request {
        client_data_hash: random(32).into(),
        rp: make_credential::PublicKeyCredentialRpEntity {
            id: "example.com".into(),
            name: Some("Example".into()),
        },
        user: webauthn::PublicKeyCredentialUserEntity {
            id: format!("user-{n}").into_bytes().into(),
            display_name: format!("User {n}"),
            name: format!("user{n}@example.com"),
        },
        pub_key_cred_params: vec![webauthn::PublicKeyCredentialParameters {
            ty: webauthn::PublicKeyCredentialType::PublicKey,
            alg: iana::Algorithm::ES256,
        }],
        exclude_list: None,
        extensions: None,
        options: make_credential::Options {
            rk: true,
            up: true,
            uv: true,
        },
        pin_auth: None,
        pin_protocol: None,
    }
}

fn ga_request() -> get_assertion::Request {
    get_assertion::Request {
        rp_id: "example.com".into(),
        client_data_hash: random(32).into(),
        allow_list: None,
        extensions: None,
        pin_auth: None,
        pin_protocol: None,
        options: get_assertion::Options { up: true, uv: true },
    }
}

/// The peer's in-memory store that keeps every credential it is given (its `MemoryStore`, a map
/// by credential ID), as Latchkey's memory store in the row does. Its other built-in store,
/// `Option<Passkey>`, keeps only the last credential made.
pub type KeepingStore = passkey_authenticator::MemoryStore;

/// passkey-authenticator making row 1's credentials on the crypto backend `C`, kept in its map
/// store ([`KeepingStore`]), as one [`Side`] of a measurement: the `n`th request for a new user
/// is built untimed, the call is timed.
pub struct PeerMaker<C: CryptoBackend> {
    auth: Authenticator<KeepingStore, Verified, C>,
    n: u64,
    checked: bool,
}

impl<C: CryptoBackend> PeerMaker<C> {
    /// An authenticator with an empty store.
    pub fn new(crypto: C) -> Self {
        PeerMaker {
            auth: Authenticator::new(Aaguid::new_empty(), KeepingStore::new(), Verified, crypto),
            n: 0,
            checked: false,
        }
    }

    /// makeCredential at the peer's typed API (no CBOR either way).
    pub fn typed(&mut self) -> Side<'_> {
        stats::timed_after(
            self,
            |p| {
                p.n += 1;
                Ok(mc_request(p.n))
            },
            |p, request| {
                let r = block_on(p.auth.make_credential(request)).map_err(peer)?;
                if r.auth_data.attested_credential_data.is_some() {
                    Ok(())
                } else {
                    Err(peer("no attested credential"))
                }
            },
        )
    }

    /// makeCredential through the peer's own CTAP 2 CBOR types, as Latchkey's row goes through
    /// `handle_cbor`: the command byte and the request map in (encoded untimed by passkey-types'
    /// serde with ciborium), decoded with ciborium into its typed request, the typed call, and
    /// the response encoded behind a success status byte. The first answer is read back with
    /// Latchkey's strict decoder, so the bytes are a real makeCredential response.
    pub fn cbor(&mut self) -> Side<'_> {
        stats::timed_after(
            self,
            |p| {
                p.n += 1;
                let mut message = vec![MAKE_CREDENTIAL];
                ciborium::ser::into_writer(&mc_request(p.n), &mut message).map_err(peer)?;
                Ok(message)
            },
            |p, message| {
                let body = match message.split_first() {
                    Some((&MAKE_CREDENTIAL, body)) => body,
                    _ => return Err(peer("not a makeCredential message")),
                };
                let request: make_credential::Request =
                    ciborium::de::from_reader(body).map_err(peer)?;
                let response = block_on(p.auth.make_credential(request)).map_err(peer)?;
                let mut out = vec![0u8];
                ciborium::ser::into_writer(&response, &mut out).map_err(peer)?;
                if !p.checked {
                    let r: latchkey_ctap::command::MakeCredentialResponse =
                        latchkey_ctap::command::decode_response(&out).map_err(peer)?;
                    latchkey_bench::core::credential_id(&r.auth_data)?;
                    p.checked = true;
                }
                Ok(())
            },
        )
    }
}

/// passkey-authenticator's getAssertion (discoverable, empty allowList) on the crypto backend
/// `C`, on the `Option<Passkey>` store, the one that can answer a discoverable request (the map
/// store only finds credentials named in an allowList), holding one credential.
pub fn passkey_rs_ga<C: CryptoBackend>(crypto: C, budget: Budget) -> Result<Samples, BenchError> {
    let mut auth = Authenticator::new(Aaguid::new_empty(), None::<Passkey>, Verified, crypto);
    block_on(auth.make_credential(mc_request(0))).map_err(peer)?;
    stats::measure_with_setup(
        budget,
        &mut auth,
        |_| Ok(ga_request()),
        |auth, request| {
            let r = block_on(auth.get_assertion(request)).map_err(peer)?;
            if r.signature.is_empty() {
                Err(peer("empty signature"))
            } else {
                Ok(())
            }
        },
    )
}

/// The CTAP 2 command byte of authenticatorMakeCredential (CTAP 2.1 §6.1).
pub const MAKE_CREDENTIAL: u8 = 0x01;

/// The AWS-LC backend.
pub fn aws_lc() -> AwsLcRsBackend {
    AwsLcRsBackend
}

/// The RustCrypto backend (the crate's default).
pub fn rust_crypto() -> RustCryptoBackend {
    RustCryptoBackend
}

fn kanidm(e: impl std::fmt::Debug) -> BenchError {
    BenchError::Peer {
        peer: "SoftPasskey",
        detail: format!("{e:?}"),
    }
}

fn b64(bytes: &[u8]) -> String {
    latchkey_webauthn::b64::encode(bytes)
}

/// kanidm's SoftPasskey: register (UV "required", falsified) and authenticate with the
/// credential in allowCredentials.
pub fn soft_passkey(budget: Budget) -> (Result<Samples, BenchError>, Result<Samples, BenchError>) {
    let mut token = SoftPasskey::new(true);
    let creation = |n: u64| -> Result<PublicKeyCredentialCreationOptions, BenchError> {
        serde_json::from_value(json!({
            "rp": {"id": "example.com", "name": "Example"},
            "user": {"id": b64(format!("user-{n}").as_bytes()), "name": format!("user{n}@example.com"), "displayName": format!("User {n}")},
            "challenge": b64(&random(32)),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "authenticatorSelection": {"requireResidentKey": false, "userVerification": "required"},
            "attestation": "none",
        }))
        .map_err(kanidm)
    };
    let mut n = 0u64;
    let mut last_id = Vec::new();
    let mc = stats::measure_with_setup(
        budget,
        &mut (),
        |_| {
            n += 1;
            Ok((creation(n)?, random(32)))
        },
        |_, (options, hash)| {
            let r = token
                .perform_register(hash, options, 60_000)
                .map_err(kanidm)?;
            last_id = r.raw_id.to_vec();
            Ok(())
        },
    );
    let request = json!({
        "challenge": b64(&random(32)),
        "rpId": "example.com",
        "allowCredentials": [{"type": "public-key", "id": b64(&last_id)}],
        "userVerification": "required",
    });
    let ga = stats::measure_with_setup(
        budget,
        &mut (),
        |_| {
            let options: PublicKeyCredentialRequestOptions =
                serde_json::from_value(request.clone()).map_err(kanidm)?;
            Ok((options, random(32)))
        },
        |_, (options, hash)| {
            let r = token.perform_auth(hash, options, 60_000).map_err(kanidm)?;
            if r.response.signature.is_empty() {
                Err(kanidm("empty signature"))
            } else {
                Ok(())
            }
        },
    );
    (mc, ga)
}

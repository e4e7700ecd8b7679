//! Row 1: the authenticator core in process, and the crypto floor.
//!
//! [`CtapClient`] speaks to an [`Authenticator`] only through `handle_cbor`, with encoded CTAP
//! requests, as a platform would: for each ceremony it gets a pinUvAuthToken with the PIN
//! (protocol two: getKeyAgreement, then getPinUvAuthTokenUsingPinWithPermissions) and computes
//! the pinUvAuthParam once for that token. The token is consumed by the ceremony (CTAP 2.1
//! §6.5.2.1), so the next one needs a fresh token.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use latchkey_authenticator::env::{PresenceDenied, PresencePurpose, UserPresence};
use latchkey_authenticator::request;
use latchkey_authenticator::store::{self, CredentialStore};
use latchkey_authenticator::{Authenticator, Config};
use latchkey_client::platform::{SystemClock, SystemRng};
use latchkey_ctap::cbor::FromValue;
use latchkey_ctap::command::{
    self as cmd, ClientDataHash, GetAssertionRequest, MakeCredentialRequest, Request,
};
use latchkey_ctap::entity::{
    CoseAlgorithm, CredentialDescriptor, CredentialParameters, RpEntity, UserEntity, UserId,
};
use latchkey_ctap::pin::{self, Permissions, PinUvAuthProtocol};
use latchkey_ctap::{ResponseError, StatusCode};
use zeroize::Zeroizing;

use crate::stats::{self, Side};
use crate::BenchError;

/// The PIN every benchmark store is set up with.
pub const PIN: &[u8] = b"1234";

/// A user who is always present.
#[derive(Debug, Clone, Copy, Default)]
pub struct Present;

impl UserPresence for Present {
    fn request_presence(&mut self, _purpose: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        Ok(())
    }
}

/// The operating system's RNG for the client side of the PIN protocol.
fn os_fill(dest: &mut [u8]) {
    if aws_lc_rs::rand::fill(dest).is_err() {
        std::process::abort();
    }
}

/// SHA-256 of `data`, as a clientDataHash.
pub fn client_data_hash(data: &[u8]) -> ClientDataHash {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    ClientDataHash(out)
}

/// An authenticator core over `S` with a client that talks CBOR to it.
pub struct CtapClient<S: CredentialStore> {
    /// The authenticator under test.
    pub auth: Authenticator<S, Present, SystemClock, SystemRng>,
    counter: u64,
}

fn decode<T: FromValue>(command: &'static str, out: &[u8]) -> Result<T, BenchError> {
    cmd::decode_response(out).map_err(|e| match e {
        ResponseError::Status(status) => BenchError::Status { command, status },
        other => BenchError::Response {
            command,
            detail: other.to_string(),
        },
    })
}

/// Checks a response's status byte without decoding the body.
pub fn check_ok(command: &'static str, out: &[u8]) -> Result<(), BenchError> {
    match out.first() {
        Some(0) => Ok(()),
        Some(&s) => Err(BenchError::Status {
            command,
            status: StatusCode::from(s),
        }),
        None => Err(BenchError::Response {
            command,
            detail: "empty response".into(),
        }),
    }
}

impl<S: CredentialStore> CtapClient<S> {
    /// The platform authenticator's configuration (alwaysUv, `none` attestation) over `store`.
    pub fn platform(store: S) -> Self {
        Self::with_config(latchkey_client::platform::config(), store)
    }

    /// An authenticator with `config` over `store`.
    pub fn with_config(config: Config, store: S) -> Self {
        CtapClient {
            auth: Authenticator::new(config, store, Present, SystemClock::default(), SystemRng),
            counter: 0,
        }
    }

    /// Sends `request`, decodes the answer.
    pub fn call<T: FromValue>(
        &mut self,
        command: &'static str,
        request: &Request,
    ) -> Result<T, BenchError> {
        let out = self.auth.handle_cbor(&request.encode());
        decode(command, &out)
    }

    /// Sets the PIN through clientPIN setPin (protocol two).
    pub fn set_pin(&mut self) -> Result<(), BenchError> {
        let (key_agreement, shared) = self.shared_secret()?;
        let mut padded = Zeroizing::new([0u8; 64]);
        padded[..PIN.len()].copy_from_slice(PIN);
        let new_pin_enc = shared
            .encrypt(&mut os_fill, &padded[..])
            .map_err(|e| BenchError::Pin(e.to_string()))?;
        let pin_uv_auth_param = shared.authenticate(&new_pin_enc);
        let request = Request::ClientPin(cmd::ClientPinRequest::SetPin {
            protocol: PinUvAuthProtocol::Two,
            key_agreement,
            new_pin_enc,
            pin_uv_auth_param,
        });
        check_ok("setPin", &self.auth.handle_cbor(&request.encode()))
    }

    fn shared_secret(
        &mut self,
    ) -> Result<(latchkey_ctap::cose::P256Point, pin::SharedSecret), BenchError> {
        let r: cmd::ClientPinResponse = self.call(
            "getKeyAgreement",
            &Request::ClientPin(cmd::ClientPinRequest::GetKeyAgreement {
                protocol: PinUvAuthProtocol::Two,
            }),
        )?;
        let peer = r.key_agreement.ok_or(BenchError::Response {
            command: "getKeyAgreement",
            detail: "no keyAgreement".into(),
        })?;
        pin::encapsulate(PinUvAuthProtocol::Two, &peer, &mut os_fill)
            .map_err(|e| BenchError::Pin(e.to_string()))
    }

    /// A pinUvAuthToken for `permissions` on `rp_id`, as the client holds it.
    pub fn token(
        &mut self,
        permissions: Permissions,
        rp_id: &str,
    ) -> Result<Zeroizing<Vec<u8>>, BenchError> {
        let (key_agreement, shared) = self.shared_secret()?;
        let pin_hash_enc = shared
            .encrypt(&mut os_fill, &pin::pin_hash(PIN))
            .map_err(|e| BenchError::Pin(e.to_string()))?;
        let r: cmd::ClientPinResponse = self.call(
            "getPinUvAuthTokenUsingPinWithPermissions",
            &Request::ClientPin(
                cmd::ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions {
                    protocol: PinUvAuthProtocol::Two,
                    key_agreement,
                    pin_hash_enc,
                    permissions,
                    rp_id: Some(rp_id.to_owned()),
                },
            ),
        )?;
        let enc = r.pin_uv_auth_token.ok_or(BenchError::Response {
            command: "getPinUvAuthTokenUsingPinWithPermissions",
            detail: "no token".into(),
        })?;
        shared
            .decrypt(&enc)
            .map_err(|e| BenchError::Pin(e.to_string()))
    }

    fn next_hash(&mut self, tag: &str) -> ClientDataHash {
        self.counter += 1;
        client_data_hash(format!("{tag} {}", self.counter).as_bytes())
    }

    /// An encoded makeCredential (ES256, discoverable) for a new user of `rp_id`, authorised by
    /// `token`.
    pub fn make_credential_request(
        &mut self,
        rp_id: &str,
        token: &[u8],
    ) -> Result<Vec<u8>, BenchError> {
        self.make_credential_request_with(rp_id, token, CoseAlgorithm::ES256)
    }

    /// [`CtapClient::make_credential_request`] for a key of `alg`.
    pub fn make_credential_request_with(
        &mut self,
        rp_id: &str,
        token: &[u8],
        alg: CoseAlgorithm,
    ) -> Result<Vec<u8>, BenchError> {
        let client_data_hash = self.next_hash("create");
        let n = self.counter;
        let mut r = MakeCredentialRequest {
            client_data_hash,
            rp: RpEntity {
                id: rp_id.to_owned(),
                name: Some("Example".to_owned()),
            },
            user: user(n)?,
            pub_key_cred_params: vec![CredentialParameters { alg }],
            exclude_list: None,
            extensions: None,
            options: cmd::MakeCredentialOptions {
                rk: Some(true),
                up: None,
                uv: None,
            },
            pin_uv_auth_param: None,
            pin_uv_auth_protocol: None,
            enterprise_attestation: None,
            attestation_formats_preference: None,
        };
        r.pin_uv_auth_param = Some(pin::authenticate(
            PinUvAuthProtocol::Two,
            token,
            &r.client_data_hash.0,
        ));
        r.pin_uv_auth_protocol = Some(PinUvAuthProtocol::Two);
        Ok(Request::MakeCredential(r).encode())
    }

    /// The same makeCredential as [`CtapClient::make_credential_request`] as the authenticator's
    /// typed request (what `handle_cbor` decodes it to), for timing the command without its CBOR.
    pub fn make_credential_typed(
        &mut self,
        rp_id: &str,
        token: &[u8],
    ) -> Result<request::MakeCredentialRequest, BenchError> {
        let client_data_hash = self.next_hash("create");
        let n = self.counter;
        let user = user(n)?;
        Ok(request::MakeCredentialRequest {
            client_data_hash: client_data_hash.0.to_vec(),
            rp: store::RpEntity {
                id: rp_id.to_owned(),
                name: Some("Example".to_owned()),
            },
            user: store::UserEntity {
                id: user.id.as_bytes().to_vec(),
                name: user.name,
                display_name: user.display_name,
            },
            algorithms: vec![CoseAlgorithm::ES256.0],
            exclude_list: Vec::new(),
            extensions: request::MakeCredentialExtensions::default(),
            rk: true,
            up: None,
            uv: false,
            pin_uv_auth_param: Some(pin::authenticate(
                PinUvAuthProtocol::Two,
                token,
                &client_data_hash.0,
            )),
            pin_uv_auth_protocol: Some(u64::from(PinUvAuthProtocol::Two.id())),
            enterprise_attestation: None,
            attestation_formats_preference: None,
        })
    }

    /// Row 1's makeCredential through `handle_cbor` as one [`Side`] of a measurement: a fresh
    /// pinUvAuthToken (getKeyAgreement and getPinUvAuthTokenUsingPinWithPermissions, as a client
    /// gets one before each ceremony) and the encoded request for a new user untimed; the
    /// command, with its pinUvAuthParam check, timed.
    pub fn make_credential_side(&mut self, rp_id: &'static str) -> Side<'_> {
        stats::timed_after(
            self,
            move |c| {
                let token = c.token(Permissions::MAKE_CREDENTIAL, rp_id)?;
                c.make_credential_request(rp_id, &token)
            },
            |c, request| check_ok("makeCredential", &c.auth.handle_cbor(&request)),
        )
    }

    /// [`CtapClient::make_credential_side`] with the typed request (what `handle_cbor` decodes
    /// the encoded one to) and the typed response: no CBOR either way.
    pub fn make_credential_typed_side(&mut self, rp_id: &'static str) -> Side<'_> {
        stats::timed_after(
            self,
            move |c| {
                let token = c.token(Permissions::MAKE_CREDENTIAL, rp_id)?;
                c.make_credential_typed(rp_id, &token)
            },
            |c, request| c.send_make_credential_typed(request),
        )
    }

    /// One typed makeCredential (what the typed row times), its response dropped.
    pub fn send_make_credential_typed(
        &mut self,
        request: request::MakeCredentialRequest,
    ) -> Result<(), BenchError> {
        self.auth
            .make_credential(request)
            .map(drop)
            .map_err(|status| BenchError::Status {
                command: "makeCredential",
                status,
            })
    }

    /// An encoded getAssertion for `rp_id` (empty allowList: discoverable) authorised by `token`.
    pub fn get_assertion_request(
        &mut self,
        rp_id: &str,
        allow: &[Vec<u8>],
        token: &[u8],
    ) -> Vec<u8> {
        let client_data_hash = self.next_hash("get");
        let mut r = GetAssertionRequest {
            rp_id: rp_id.to_owned(),
            client_data_hash,
            allow_list: if allow.is_empty() {
                None
            } else {
                Some(
                    allow
                        .iter()
                        .map(|id| CredentialDescriptor::public_key(id.clone()))
                        .collect(),
                )
            },
            extensions: None,
            options: cmd::GetAssertionOptions::default(),
            pin_uv_auth_param: None,
            pin_uv_auth_protocol: None,
        };
        r.pin_uv_auth_param = Some(pin::authenticate(
            PinUvAuthProtocol::Two,
            token,
            &r.client_data_hash.0,
        ));
        r.pin_uv_auth_protocol = Some(PinUvAuthProtocol::Two);
        Request::GetAssertion(r).encode()
    }

    /// One creation ceremony: a token, then makeCredential. Returns the credential ID.
    pub fn create(&mut self, rp_id: &str) -> Result<Vec<u8>, BenchError> {
        self.create_with(rp_id, CoseAlgorithm::ES256)
    }

    /// [`CtapClient::create`] for a key of `alg`.
    pub fn create_with(&mut self, rp_id: &str, alg: CoseAlgorithm) -> Result<Vec<u8>, BenchError> {
        let token = self.token(Permissions::MAKE_CREDENTIAL, rp_id)?;
        let request = self.make_credential_request_with(rp_id, &token, alg)?;
        let r: cmd::MakeCredentialResponse =
            decode("makeCredential", &self.auth.handle_cbor(&request))?;
        credential_id(&r.auth_data)
    }

    /// One assertion ceremony: a token, then getAssertion; checks the answer.
    pub fn get(&mut self, rp_id: &str, allow: &[Vec<u8>]) -> Result<(), BenchError> {
        let token = self.token(Permissions::GET_ASSERTION, rp_id)?;
        let request = self.get_assertion_request(rp_id, allow, &token);
        check_ok("getAssertion", &self.auth.handle_cbor(&request))
    }
}

/// The credential ID in a makeCredential response's authData.
pub fn credential_id(auth_data: &[u8]) -> Result<Vec<u8>, BenchError> {
    latchkey_ctap::authdata::AuthenticatorData::parse(auth_data)
        .ok()
        .and_then(|ad| ad.attested_credential_data)
        .map(|a| a.credential_id)
        .ok_or(BenchError::Response {
            command: "makeCredential",
            detail: "authData without a credential".into(),
        })
}

/// The `n`th benchmark user.
pub fn user(n: u64) -> Result<UserEntity, BenchError> {
    let mut id = b"user-".to_vec();
    id.extend_from_slice(&n.to_be_bytes());
    Ok(UserEntity {
        id: UserId::new(id).map_err(|e| BenchError::setup("user ID", e))?,
        name: Some(format!("user{n}@example.com")),
        display_name: Some(format!("User {n}")),
    })
}

/// The floor: one P-256 key generation and one signature (what a makeCredential must do).
pub fn floor_generate_and_sign(message: &[u8]) -> Result<(), BenchError> {
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|e| BenchError::setup("P-256 key generation", e))?;
    key.sign(&rng, message)
        .map_err(|e| BenchError::setup("P-256 signature", e))?;
    Ok(())
}

/// A P-256 key for the one-signature floor (what a getAssertion must do).
pub struct FloorKey {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl FloorKey {
    /// A fresh key.
    pub fn new() -> Result<Self, BenchError> {
        Ok(FloorKey {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map_err(|e| BenchError::setup("P-256 key generation", e))?,
            rng: SystemRandom::new(),
        })
    }

    /// One signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<(), BenchError> {
        self.key
            .sign(&self.rng, message)
            .map(|_| ())
            .map_err(|e| BenchError::setup("P-256 signature", e))
    }
}

#[cfg(test)]
mod tests {
    use latchkey_authenticator::memory::MemoryStore;

    use super::*;

    #[test]
    fn the_client_creates_and_asserts_with_a_fresh_token_each_time() {
        let mut c = CtapClient::platform(MemoryStore::default());
        c.set_pin().unwrap();
        let id = c.create("example.com").unwrap();
        assert_eq!(id.len(), 32);
        c.get("example.com", &[]).unwrap();
        c.get("example.com", std::slice::from_ref(&id)).unwrap();
        // A token is spent by one ceremony: reusing it is refused.
        let token = c.token(Permissions::GET_ASSERTION, "example.com").unwrap();
        let first = c.get_assertion_request("example.com", &[], &token);
        check_ok("getAssertion", &c.auth.handle_cbor(&first)).unwrap();
        let again = c.get_assertion_request("example.com", &[], &token);
        let out = c.auth.handle_cbor(&again);
        assert_ne!(out.first(), Some(&0), "a spent token must not sign again");
        // Without any credential for the RP: NO_CREDENTIALS.
        let e = c.get("other.example", &[]).unwrap_err();
        assert!(
            matches!(
                e,
                BenchError::Status {
                    status: StatusCode::NoCredentials,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn the_typed_request_makes_the_credential_the_encoded_one_does() {
        let mut c = CtapClient::platform(MemoryStore::default());
        c.set_pin().unwrap();
        let token = c
            .token(Permissions::MAKE_CREDENTIAL, "example.com")
            .unwrap();
        let typed = c.make_credential_typed("example.com", &token).unwrap();
        let made = c.auth.make_credential(typed).unwrap();
        assert_eq!(made.credential_id.len(), 32);
        assert_eq!(credential_id(&made.auth_data).unwrap(), made.credential_id);
        // The token was spent: the same request again is refused as the encoded one would be.
        let again = c.make_credential_typed("example.com", &token).unwrap();
        assert_eq!(
            c.auth.make_credential(again).unwrap_err(),
            StatusCode::PinAuthInvalid
        );
        // And with a fresh token, the encoded form of the same kind of request is taken too.
        let token = c
            .token(Permissions::MAKE_CREDENTIAL, "example.com")
            .unwrap();
        let encoded = c.make_credential_request("example.com", &token).unwrap();
        check_ok("makeCredential", &c.auth.handle_cbor(&encoded)).unwrap();
    }

    #[test]
    fn floor_operations_sign() {
        floor_generate_and_sign(b"x").unwrap();
        FloorKey::new().unwrap().sign(b"y").unwrap();
    }
}

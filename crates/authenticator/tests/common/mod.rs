//! A deterministic harness: a test clock, a seeded RNG, a scripted user, and a small CTAP2
//! client that speaks to the authenticator through `handle_cbor` with the `ctap` crate's types.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use aws_lc_rs::digest;
use latchkey_authenticator::env::{
    Clock, PresenceDenied, PresencePurpose, Rng, UserPresence, UvMatch,
};
use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::{Authenticator, Config};
use latchkey_ctap::cbor::{self, FromValue, Value};
use latchkey_ctap::command::{
    self as cmd, ClientDataHash, CredentialManagementRequest,
    CredentialManagementSubcommand as Sub, Request,
};
use latchkey_ctap::cose::P256Point;
use latchkey_ctap::entity::{
    CoseAlgorithm, CredentialDescriptor, CredentialParameters, RpEntity, UserEntity, UserId,
};
use latchkey_ctap::pin::{self, PinUvAuthProtocol, SharedSecret};
use latchkey_ctap::StatusCode;

/// A clock the test moves by hand.
#[derive(Clone, Default)]
pub struct TestClock(pub Rc<Cell<u64>>);

impl TestClock {
    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
    fn unix_time(&self) -> u64 {
        1_700_000_000 + self.0.get() / 1000
    }
}

/// SHA-256 in counter mode over a seed: reproducible and well distributed.
pub struct SeededRng {
    seed: u64,
    counter: u64,
}

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng { seed, counter: 0 }
    }
}

impl Rng for SeededRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let mut input = self.seed.to_le_bytes().to_vec();
            input.extend_from_slice(&self.counter.to_le_bytes());
            self.counter += 1;
            let d = digest::digest(&digest::SHA256, &input);
            chunk.copy_from_slice(&d.as_ref()[..chunk.len()]);
        }
    }
}

impl pin::Rng for SeededRng {
    fn fill(&mut self, dest: &mut [u8]) {
        Rng::fill(self, dest);
    }
}

/// A user who answers prompts from a script (default: yes), and counts them.
#[derive(Clone, Default)]
pub struct ScriptedUser {
    pub answers: Rc<RefCell<VecDeque<Result<(), PresenceDenied>>>>,
    pub prompts: Rc<Cell<usize>>,
    /// The fingers put on the built-in reader, in order (then: no match).
    pub fingers: Rc<RefCell<VecDeque<Result<UvMatch, PresenceDenied>>>>,
    /// Built-in UV attempts made.
    pub uv_prompts: Rc<Cell<usize>>,
}

impl ScriptedUser {
    pub fn deny_next(&self, why: PresenceDenied) {
        self.answers.borrow_mut().push_back(Err(why));
    }
    pub fn prompts(&self) -> usize {
        self.prompts.get()
    }
    pub fn fingers(&self, outcomes: &[Result<UvMatch, PresenceDenied>]) {
        self.fingers.borrow_mut().extend(outcomes.iter().copied());
    }
    pub fn uv_prompts(&self) -> usize {
        self.uv_prompts.get()
    }
}

impl UserPresence for ScriptedUser {
    fn request_presence(&mut self, _purpose: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        self.prompts.set(self.prompts.get() + 1);
        self.answers.borrow_mut().pop_front().unwrap_or(Ok(()))
    }

    fn verify_user(&mut self, _purpose: PresencePurpose<'_>) -> Result<UvMatch, PresenceDenied> {
        self.uv_prompts.set(self.uv_prompts.get() + 1);
        self.fingers
            .borrow_mut()
            .pop_front()
            .unwrap_or(Ok(UvMatch::NoMatch))
    }
}

pub type Auth = Authenticator<MemoryStore, ScriptedUser, TestClock, SeededRng>;

pub struct Harness {
    pub auth: Auth,
    pub clock: TestClock,
    pub user: ScriptedUser,
    pub rng: SeededRng,
}

pub const PIN: &[u8] = b"1234";

impl Harness {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        let clock = TestClock::default();
        let user = ScriptedUser::default();
        let auth = Authenticator::new(
            config,
            MemoryStore::default(),
            user.clone(),
            clock.clone(),
            SeededRng::new(7),
        );
        Harness {
            auth,
            clock,
            user,
            rng: SeededRng::new(99),
        }
    }

    /// Sends a request; returns the status and the CBOR body.
    pub fn send(&mut self, request: &Request) -> (StatusCode, Vec<u8>) {
        self.raw(&request.encode())
    }

    pub fn raw(&mut self, bytes: &[u8]) -> (StatusCode, Vec<u8>) {
        let out = self.auth.handle_cbor(bytes);
        assert!(!out.is_empty(), "empty response");
        (StatusCode::from(out[0]), out[1..].to_vec())
    }

    /// Sends a request expecting success; decodes the response.
    pub fn ok<T: FromValue>(&mut self, request: &Request) -> T {
        let out = self.auth.handle_cbor(&request.encode());
        cmd::decode_response(&out).unwrap_or_else(|e| panic!("{request:?} failed: {e}"))
    }

    pub fn status(&mut self, request: &Request) -> StatusCode {
        self.send(request).0
    }

    /// getKeyAgreement, then encapsulate.
    pub fn shared_secret(&mut self, protocol: PinUvAuthProtocol) -> (P256Point, SharedSecret) {
        let r: cmd::ClientPinResponse = self.ok(&Request::ClientPin(
            cmd::ClientPinRequest::GetKeyAgreement { protocol },
        ));
        let peer = r.key_agreement.unwrap();
        pin::encapsulate(protocol, &peer, &mut self.rng).unwrap()
    }

    pub fn set_pin_request(&mut self, protocol: PinUvAuthProtocol, pin_bytes: &[u8]) -> Request {
        let (key_agreement, shared) = self.shared_secret(protocol);
        let mut padded = [0u8; 64];
        padded[..pin_bytes.len()].copy_from_slice(pin_bytes);
        let new_pin_enc = shared.encrypt(&mut self.rng, &padded).unwrap();
        let pin_uv_auth_param = shared.authenticate(&new_pin_enc);
        Request::ClientPin(cmd::ClientPinRequest::SetPin {
            protocol,
            key_agreement,
            new_pin_enc,
            pin_uv_auth_param,
        })
    }

    pub fn set_pin(&mut self, pin_bytes: &[u8]) {
        let req = self.set_pin_request(PinUvAuthProtocol::Two, pin_bytes);
        assert_eq!(self.status(&req), StatusCode::Ok);
    }

    /// getPinUvAuthTokenUsingPinWithPermissions; returns the status and the decrypted token.
    pub fn token_with(
        &mut self,
        protocol: PinUvAuthProtocol,
        pin_bytes: &[u8],
        permissions: u64,
        rp_id: Option<&str>,
    ) -> Result<Vec<u8>, StatusCode> {
        let (key_agreement, shared) = self.shared_secret(protocol);
        let pin_hash_enc = shared
            .encrypt(&mut self.rng, &pin::pin_hash(pin_bytes))
            .unwrap();
        let req = Request::ClientPin(
            cmd::ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions {
                protocol,
                key_agreement,
                pin_hash_enc,
                permissions: pin::Permissions(permissions),
                rp_id: rp_id.map(str::to_owned),
            },
        );
        let out = self.auth.handle_cbor(&req.encode());
        match cmd::decode_response::<cmd::ClientPinResponse>(&out) {
            Ok(r) => Ok(shared
                .decrypt(&r.pin_uv_auth_token.unwrap())
                .unwrap()
                .to_vec()),
            Err(latchkey_ctap::ResponseError::Status(s)) => Err(s),
            Err(e) => panic!("{e}"),
        }
    }

    /// getPinToken (0x05, superseded by 0x09); returns the status and the decrypted token.
    pub fn legacy_token(
        &mut self,
        protocol: PinUvAuthProtocol,
        pin_bytes: &[u8],
    ) -> Result<Vec<u8>, StatusCode> {
        let (key_agreement, shared) = self.shared_secret(protocol);
        let pin_hash_enc = shared
            .encrypt(&mut self.rng, &pin::pin_hash(pin_bytes))
            .unwrap();
        let req = Request::ClientPin(cmd::ClientPinRequest::GetPinToken {
            protocol,
            key_agreement,
            pin_hash_enc,
        });
        let out = self.auth.handle_cbor(&req.encode());
        match cmd::decode_response::<cmd::ClientPinResponse>(&out) {
            Ok(r) => Ok(shared
                .decrypt(&r.pin_uv_auth_token.unwrap())
                .unwrap()
                .to_vec()),
            Err(latchkey_ctap::ResponseError::Status(s)) => Err(s),
            Err(e) => panic!("{e}"),
        }
    }

    /// getPINRetries: the status, and (retries, powerCycleState) when it succeeded.
    pub fn pin_retries_status(&mut self) -> Result<(u64, bool), StatusCode> {
        let req = Request::ClientPin(cmd::ClientPinRequest::GetPinRetries { protocol: None });
        match cmd::decode_response::<cmd::ClientPinResponse>(&self.auth.handle_cbor(&req.encode()))
        {
            Ok(r) => Ok((r.pin_retries.unwrap(), r.power_cycle_state.unwrap_or(false))),
            Err(latchkey_ctap::ResponseError::Status(s)) => Err(s),
            Err(e) => panic!("{e}"),
        }
    }

    pub fn token(&mut self, permissions: u64, rp_id: Option<&str>) -> Vec<u8> {
        self.token_with(PinUvAuthProtocol::Two, PIN, permissions, rp_id)
            .unwrap()
    }

    pub fn pin_retries(&mut self) -> (u64, bool) {
        let r: cmd::ClientPinResponse =
            self.ok(&Request::ClientPin(cmd::ClientPinRequest::GetPinRetries {
                protocol: None,
            }));
        (r.pin_retries.unwrap(), r.power_cycle_state.unwrap_or(false))
    }

    pub fn info(&mut self) -> cmd::GetInfoResponse {
        self.ok(&Request::GetInfo)
    }
}

pub fn cdh(tag: &str) -> ClientDataHash {
    let d = digest::digest(&digest::SHA256, tag.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    ClientDataHash(out)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn user(id: u8, name: &str) -> UserEntity {
    UserEntity {
        id: UserId::new(vec![id; 8]).unwrap(),
        name: Some(name.to_owned()),
        display_name: Some(format!("{name} display")),
    }
}

pub fn mc(rp: &str, user_id: u8, rk: bool) -> cmd::MakeCredentialRequest {
    cmd::MakeCredentialRequest {
        client_data_hash: cdh("mc"),
        rp: RpEntity {
            id: rp.to_owned(),
            name: Some("RP".to_owned()),
        },
        user: user(user_id, &format!("user{user_id}")),
        pub_key_cred_params: vec![CredentialParameters {
            alg: CoseAlgorithm::ES256,
        }],
        exclude_list: None,
        extensions: None,
        options: cmd::MakeCredentialOptions {
            rk: Some(rk),
            up: None,
            uv: None,
        },
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
        enterprise_attestation: None,
        attestation_formats_preference: None,
    }
}

pub fn ga(rp: &str, allow: &[&[u8]]) -> cmd::GetAssertionRequest {
    cmd::GetAssertionRequest {
        rp_id: rp.to_owned(),
        client_data_hash: cdh("ga"),
        allow_list: if allow.is_empty() {
            None
        } else {
            Some(
                allow
                    .iter()
                    .map(|id| CredentialDescriptor::public_key(id.to_vec()))
                    .collect(),
            )
        },
        extensions: None,
        options: cmd::GetAssertionOptions::default(),
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
    }
}

/// Signs a makeCredential/getAssertion with a token (protocol 2).
pub fn with_token_mc(
    mut r: cmd::MakeCredentialRequest,
    token: &[u8],
) -> cmd::MakeCredentialRequest {
    r.pin_uv_auth_param = Some(pin::authenticate(
        PinUvAuthProtocol::Two,
        token,
        &r.client_data_hash.0,
    ));
    r.pin_uv_auth_protocol = Some(PinUvAuthProtocol::Two);
    r
}

pub fn with_token_ga(mut r: cmd::GetAssertionRequest, token: &[u8]) -> cmd::GetAssertionRequest {
    r.pin_uv_auth_param = Some(pin::authenticate(
        PinUvAuthProtocol::Two,
        token,
        &r.client_data_hash.0,
    ));
    r.pin_uv_auth_protocol = Some(PinUvAuthProtocol::Two);
    r
}

/// Creates a credential and returns its ID (parsed from authData).
pub fn make(h: &mut Harness, r: cmd::MakeCredentialRequest) -> Vec<u8> {
    let resp: cmd::MakeCredentialResponse = h.ok(&Request::MakeCredential(r));
    let ad = latchkey_ctap::authdata::AuthenticatorData::parse(&resp.auth_data).unwrap();
    ad.attested_credential_data.unwrap().credential_id
}

/// An authenticatorCredentialManagement request (0x41 if `preview`), its pinUvAuthParam made
/// with `token` (protocol 2) over `sub ‖ params`.
pub fn cm(
    token: Option<&[u8]>,
    sub: u8,
    subcommand: Sub,
    params: Option<Value>,
    preview: bool,
) -> Request {
    let received = params.as_ref().map(cbor::encode);
    let param = token.map(|t| {
        pin::authenticate(
            PinUvAuthProtocol::Two,
            t,
            &pin::cred_mgmt_message(sub, received.as_deref().unwrap_or_default()),
        )
    });
    let r = CredentialManagementRequest {
        subcommand,
        pin_uv_auth_protocol: token.map(|_| PinUvAuthProtocol::Two),
        pin_uv_auth_param: param,
        received_params: received,
    };
    if preview {
        Request::CredentialManagementPreview(r)
    } else {
        Request::CredentialManagement(r)
    }
}

pub const MC: u64 = 0x01;
pub const GA: u64 = 0x02;
pub const CM: u64 = 0x04;
pub const LBW: u64 = 0x10;
pub const ACFG: u64 = 0x20;
pub const PCMR: u64 = 0x40;

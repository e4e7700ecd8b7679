#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The platform authenticator end to end: the CTAP 2.1 core over `FileStore(Pin)` (and, with the
//! `tpm` feature, `TpmStore` on swtpm), driven with CTAP2 CBOR, across a restart.

mod common;
#[cfg(feature = "tpm")]
#[path = "common/swtpm.rs"]
mod swtpm;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use latchkey_authenticator::env::{Clock, PresenceDenied, PresencePurpose, Rng, UserPresence};
use latchkey_authenticator::store::CredentialStore;
use latchkey_authenticator::{Authenticator, Config};
use latchkey_ctap::authdata::AuthenticatorData;
use latchkey_ctap::command::{self as cmd, ClientDataHash, Request};
use latchkey_ctap::cose::CoseKey;
use latchkey_ctap::entity::{CoseAlgorithm, CredentialParameters, RpEntity, UserEntity, UserId};
use latchkey_ctap::pin::{self, PinUvAuthProtocol};
use latchkey_ctap::StatusCode;
use latchkey_keystore::{FileStore, Protection};

struct Yes;
impl UserPresence for Yes {
    fn request_presence(&mut self, _: PresencePurpose<'_>) -> Result<(), PresenceDenied> {
        Ok(())
    }
}

struct Frozen;
impl Clock for Frozen {
    fn now_ms(&self) -> u64 {
        1000
    }
    fn unix_time(&self) -> u64 {
        1_700_000_000
    }
}

struct Sys;
impl Rng for Sys {
    fn fill(&mut self, buf: &mut [u8]) {
        aws_lc_rs::rand::fill(buf).unwrap();
    }
}
impl pin::Rng for Sys {
    fn fill(&mut self, dest: &mut [u8]) {
        aws_lc_rs::rand::fill(dest).unwrap();
    }
}

type Platform<S> = Authenticator<S, Yes, Frozen, Sys>;

fn platform<S: CredentialStore>(store: S) -> Platform<S> {
    Authenticator::new(Config::default(), store, Yes, Frozen, Sys)
}

/// `FileStore(Pin)` in `dir`, with the test kit's cheap Argon2id.
fn file_store(dir: &std::path::Path) -> FileStore {
    FileStore::open_with(dir, Protection::Pin, common::fast_options()).unwrap()
}

/// The PIN the file-store tests set.
const PIN: &[u8] = b"24681357";

/// The platform authenticator over a new `FileStore(Pin)` in `dir`, with [`PIN`] set.
fn with_pin(dir: &std::path::Path) -> Platform<FileStore> {
    let mut a = platform(file_store(dir));
    set_pin(&mut a, PIN);
    a
}

fn send<T: latchkey_ctap::cbor::FromValue, S: CredentialStore>(
    a: &mut Platform<S>,
    r: &Request,
) -> Result<T, StatusCode> {
    match cmd::decode_response::<T>(&a.handle_cbor(&r.encode())) {
        Ok(v) => Ok(v),
        Err(latchkey_ctap::ResponseError::Status(s)) => Err(s),
        Err(e) => panic!("{r:?}: {e}"),
    }
}

fn shared<S: CredentialStore>(
    a: &mut Platform<S>,
) -> (latchkey_ctap::cose::P256Point, pin::SharedSecret) {
    let r: cmd::ClientPinResponse = send(
        a,
        &Request::ClientPin(cmd::ClientPinRequest::GetKeyAgreement {
            protocol: PinUvAuthProtocol::Two,
        }),
    )
    .unwrap();
    pin::encapsulate(PinUvAuthProtocol::Two, &r.key_agreement.unwrap(), &mut Sys).unwrap()
}

fn set_pin<S: CredentialStore>(a: &mut Platform<S>, pin_bytes: &[u8]) {
    let (key_agreement, s) = shared(a);
    let mut padded = [0u8; 64];
    padded[..pin_bytes.len()].copy_from_slice(pin_bytes);
    let new_pin_enc = s.encrypt(&mut Sys, &padded).unwrap();
    let pin_uv_auth_param = s.authenticate(&new_pin_enc);
    let req = Request::ClientPin(cmd::ClientPinRequest::SetPin {
        protocol: PinUvAuthProtocol::Two,
        key_agreement,
        new_pin_enc,
        pin_uv_auth_param,
    });
    send::<cmd::ClientPinResponse, S>(a, &req).unwrap();
}

/// getPinUvAuthTokenUsingPinWithPermissions (mc | ga) for `rp`.
fn token<S: CredentialStore>(
    a: &mut Platform<S>,
    pin_bytes: &[u8],
    rp: &str,
) -> Result<Vec<u8>, StatusCode> {
    let (key_agreement, s) = shared(a);
    let pin_hash_enc = s.encrypt(&mut Sys, &pin::pin_hash(pin_bytes)).unwrap();
    let req = Request::ClientPin(
        cmd::ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions {
            protocol: PinUvAuthProtocol::Two,
            key_agreement,
            pin_hash_enc,
            permissions: pin::Permissions(0x03),
            rp_id: Some(rp.to_owned()),
        },
    );
    let r: cmd::ClientPinResponse = send(a, &req)?;
    Ok(s.decrypt(&r.pin_uv_auth_token.unwrap()).unwrap().to_vec())
}

/// changePIN from `old` to `new`.
#[cfg(feature = "tpm")]
fn change_pin<S: CredentialStore>(
    a: &mut Platform<S>,
    old: &[u8],
    new: &[u8],
) -> Result<(), StatusCode> {
    let (key_agreement, s) = shared(a);
    let mut padded = [0u8; 64];
    padded[..new.len()].copy_from_slice(new);
    let new_pin_enc = s.encrypt(&mut Sys, &padded).unwrap();
    let pin_hash_enc = s.encrypt(&mut Sys, &pin::pin_hash(old)).unwrap();
    let pin_uv_auth_param = s.authenticate(&pin::change_pin_message(&new_pin_enc, &pin_hash_enc));
    let req = Request::ClientPin(cmd::ClientPinRequest::ChangePin {
        protocol: PinUvAuthProtocol::Two,
        key_agreement,
        pin_hash_enc,
        new_pin_enc,
        pin_uv_auth_param,
    });
    send::<cmd::ClientPinResponse, S>(a, &req).map(drop)
}

fn cdh(tag: &str) -> ClientDataHash {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, tag.as_bytes());
    ClientDataHash(d.as_ref().try_into().unwrap())
}

fn make_credential<S: CredentialStore>(
    a: &mut Platform<S>,
    tok: Option<&[u8]>,
) -> Result<(Vec<u8>, Vec<u8>), StatusCode> {
    let client_data_hash = cdh("register");
    let req = cmd::MakeCredentialRequest {
        pin_uv_auth_param: tok
            .map(|t| pin::authenticate(PinUvAuthProtocol::Two, t, &client_data_hash.0)),
        pin_uv_auth_protocol: tok.map(|_| PinUvAuthProtocol::Two),
        client_data_hash,
        rp: RpEntity {
            id: "bank.example".into(),
            name: Some("Bank".into()),
        },
        user: UserEntity {
            id: UserId::new(vec![7; 8]).unwrap(),
            name: Some("alice".into()),
            display_name: Some("Alice".into()),
        },
        pub_key_cred_params: vec![CredentialParameters {
            alg: CoseAlgorithm::ES256,
        }],
        exclude_list: None,
        extensions: None,
        options: cmd::MakeCredentialOptions {
            rk: Some(true),
            up: None,
            uv: None,
        },
        enterprise_attestation: None,
        attestation_formats_preference: None,
    };
    let r: cmd::MakeCredentialResponse = send(a, &Request::MakeCredential(req))?;
    let ad = AuthenticatorData::parse(&r.auth_data).unwrap();
    let acd = ad.attested_credential_data.unwrap();
    let CoseKey::Es256(p) = acd.public_key else {
        panic!("not ES256")
    };
    let mut point = vec![4];
    point.extend_from_slice(&p.x);
    point.extend_from_slice(&p.y);
    Ok((acd.credential_id, point))
}

fn get_assertion<S: CredentialStore>(
    a: &mut Platform<S>,
    tok: Option<&[u8]>,
    public: &[u8],
) -> Result<u32, StatusCode> {
    let client_data_hash = cdh("sign in");
    let req = cmd::GetAssertionRequest {
        rp_id: "bank.example".into(),
        pin_uv_auth_param: tok
            .map(|t| pin::authenticate(PinUvAuthProtocol::Two, t, &client_data_hash.0)),
        pin_uv_auth_protocol: tok.map(|_| PinUvAuthProtocol::Two),
        client_data_hash,
        allow_list: None,
        extensions: None,
        options: cmd::GetAssertionOptions::default(),
    };
    let r: cmd::GetAssertionResponse = send(a, &Request::GetAssertion(req))?;
    let mut signed = r.auth_data.clone();
    signed.extend_from_slice(&client_data_hash.0);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public)
        .verify(&signed, &r.signature)
        .expect("assertion signature verifies against the registered key");
    Ok(AuthenticatorData::parse(&r.auth_data).unwrap().sign_count)
}

/// Registers and signs in; `open` opens the store over the same directory each time.
fn register_and_sign_in<S: CredentialStore>(open: impl Fn() -> S) {
    let mut a = platform(open());
    // No PIN, no key: the store refuses to make an unprotected key.
    assert_eq!(make_credential(&mut a, None), Err(StatusCode::PuatRequired));
    set_pin(&mut a, PIN);
    assert_eq!(
        token(&mut a, b"00000000", "bank.example"),
        Err(StatusCode::PinInvalid)
    );
    let t = token(&mut a, PIN, "bank.example").unwrap();
    let (id, public) = make_credential(&mut a, Some(&t)).unwrap();
    assert_eq!(id.len(), 32);
    let t = token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(get_assertion(&mut a, Some(&t), &public), Ok(1));
    drop(a);

    // A restart: the credential is there, but no signature without the PIN.
    let mut a = platform(open());
    assert_eq!(
        get_assertion(&mut a, None, &public),
        Err(StatusCode::PuatRequired)
    );
    let t = token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(
        get_assertion(&mut a, Some(&t), &public),
        Ok(2),
        "the counter survived"
    );
}

/// Signature counters through the authenticator: strictly increasing within a run, exact across
/// a clean restart, and above every value handed out across a crash.
#[test]
fn file_store_counters_never_go_back() {
    let tmp = tempfile::tempdir().unwrap();
    let open = || file_store(tmp.path());
    let mut a = with_pin(tmp.path());
    let t = token(&mut a, PIN, "bank.example").unwrap();
    let (_, public) = make_credential(&mut a, Some(&t)).unwrap();
    let mut counts = Vec::new();
    for _ in 0..5 {
        let t = token(&mut a, PIN, "bank.example").unwrap();
        counts.push(get_assertion(&mut a, Some(&t), &public).unwrap());
    }
    assert_eq!(counts, [1, 2, 3, 4, 5]);
    drop(a);
    let mut a = platform(open());
    let t = token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(
        get_assertion(&mut a, Some(&t), &public),
        Ok(6),
        "clean restart"
    );
    let t = token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(get_assertion(&mut a, Some(&t), &public), Ok(7));
    // A crash: the authenticator and its store are never dropped; its files are what it leaves.
    std::mem::forget(a);
    let crashed = tempfile::tempdir().unwrap();
    common::copy_store(tmp.path(), crashed.path());
    let mut a = platform(file_store(crashed.path()));
    let t = token(&mut a, PIN, "bank.example").unwrap();
    let after = get_assertion(&mut a, Some(&t), &public).unwrap();
    assert_eq!(after, 6 + 1024 + 1, "resumes past the ceiling written at 6");
}

#[test]
fn file_store_platform_authenticator() {
    let tmp = tempfile::tempdir().unwrap();
    register_and_sign_in(|| file_store(tmp.path()));
}

#[cfg(feature = "tpm")]
#[test]
fn tpm_store_platform_authenticator() {
    let tpm = swtpm::Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    register_and_sign_in(|| {
        let opts = latchkey_keystore::TpmStoreOptions {
            tcti: Some(tpm.tcti()),
            ..Default::default()
        };
        latchkey_keystore::TpmStore::open(tmp.path(), opts).unwrap()
    });
}

/// The platform authenticator over a new `TpmStore` in `dir` on `tpm`, with [`PIN`] set.
#[cfg(feature = "tpm")]
fn tpm_with_pin(
    tpm: &swtpm::Swtpm,
    dir: &std::path::Path,
) -> Platform<latchkey_keystore::TpmStore> {
    let opts = latchkey_keystore::TpmStoreOptions {
        tcti: Some(tpm.tcti()),
        ..Default::default()
    };
    let mut a = platform(latchkey_keystore::TpmStore::open(dir, opts).unwrap());
    set_pin(&mut a, PIN);
    a
}

/// A forced PIN change compares the new PIN with the current one without asking the TPM: a
/// `TPM2_Unseal` with the new PIN would count as a failed authorization against the TPM's
/// dictionary-attack lockout, at every forced change.
#[cfg(feature = "tpm")]
#[test]
fn a_forced_pin_change_costs_the_tpm_no_failed_unseal() {
    let tpm = swtpm::Swtpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut a = tpm_with_pin(&tpm, tmp.path());
    let mut state = a.store_mut().load_state().unwrap();
    state.force_pin_change = true;
    a.store_mut().save_state(&state).unwrap();
    let before = a.store_mut().lockout_counter().unwrap();
    assert_eq!(
        change_pin(&mut a, PIN, PIN),
        Err(StatusCode::PinPolicyViolation),
        "a forced change must change the PIN"
    );
    assert_eq!(a.store_mut().lockout_counter().unwrap(), before);
    change_pin(&mut a, PIN, b"13572468").unwrap();
    assert_eq!(a.store_mut().lockout_counter().unwrap(), before);
    assert!(!a.store_mut().load_state().unwrap().force_pin_change);
    token(&mut a, b"13572468", "bank.example").unwrap();
    assert_eq!(retries(&mut a), 8);
}

/// In the TPM's dictionary-attack lockout (here from wrong unseals outside the core, as another
/// user of the TPM or earlier guesses leave it) the TPM refuses before it looks at the PIN, so a
/// PIN entered then costs no try: nine attempts with the right PIN leave all eight retries.
#[cfg(feature = "tpm")]
#[test]
fn a_pin_entered_in_tpm_lockout_costs_no_try() {
    use latchkey_authenticator::store::PinHash;
    let tpm = swtpm::Swtpm::start_with(3);
    let tmp = tempfile::tempdir().unwrap();
    let mut a = tpm_with_pin(&tpm, tmp.path());
    for guess in [b"00000000", b"11111111", b"22222222"] {
        let wrong = PinHash(pin::pin_hash(guess));
        assert!(!a.store_mut().verify_pin(&wrong).unwrap());
    }
    for attempt in 1..=9 {
        assert_eq!(
            token(&mut a, PIN, "bank.example"),
            Err(StatusCode::Other),
            "attempt {attempt}"
        );
        assert_eq!(retries(&mut a), 8, "attempt {attempt}");
    }
    assert!(!a.store().is_unlocked());
}

fn retries<S: CredentialStore>(a: &mut Platform<S>) -> u64 {
    let r: cmd::ClientPinResponse = send(
        a,
        &Request::ClientPin(cmd::ClientPinRequest::GetPinRetries {
            protocol: Some(PinUvAuthProtocol::Two),
        }),
    )
    .unwrap();
    r.pin_retries.unwrap()
}

/// A session (one Argon2id, then the PIN checked against an in-memory verifier) changes nothing
/// in the PIN retry rules: each wrong PIN costs a retry, the third in a power cycle blocks PIN
/// use until the next, the eighth blocks the PIN for good, and a right PIN restores the count.
#[test]
fn pin_retries_and_lockout_are_exact_inside_a_session() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = with_pin(tmp.path());
    token(&mut a, PIN, "bank.example").unwrap();
    assert!(a.store().session_is_live());
    assert_eq!(retries(&mut a), 8);
    assert_eq!(
        token(&mut a, b"00000000", "bank.example"),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(retries(&mut a), 7);
    // The wrong PIN ended the session; the right one starts another and restores the count.
    assert!(!a.store().session_is_live());
    token(&mut a, PIN, "bank.example").unwrap();
    assert!(a.store().session_is_live());
    assert_eq!(retries(&mut a), 8);
    for left in [7, 6] {
        assert_eq!(
            token(&mut a, b"00000000", "bank.example"),
            Err(StatusCode::PinInvalid)
        );
        assert_eq!(retries(&mut a), left);
    }
    assert_eq!(
        token(&mut a, b"00000000", "bank.example"),
        Err(StatusCode::PinAuthBlocked)
    );
    assert_eq!(retries(&mut a), 5);
    // Blocked for this power cycle: even the right PIN is refused, without a retry.
    assert_eq!(
        token(&mut a, PIN, "bank.example"),
        Err(StatusCode::PinAuthBlocked)
    );
    assert_eq!(retries(&mut a), 5);
    a.power_cycle();
    token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(retries(&mut a), 8);
    // Eight wrong PINs in a row (power cycles between) block the PIN, the right one included.
    for n in 1..=8u64 {
        let got = token(&mut a, b"00000000", "bank.example");
        let expected = match n {
            8 => StatusCode::PinBlocked,
            3 | 6 => StatusCode::PinAuthBlocked,
            _ => StatusCode::PinInvalid,
        };
        assert_eq!(got, Err(expected), "wrong PIN {n}");
        assert_eq!(retries(&mut a), 8 - n);
        if n % 3 == 0 {
            a.power_cycle();
        }
    }
    assert_eq!(
        token(&mut a, PIN, "bank.example"),
        Err(StatusCode::PinBlocked)
    );
    assert!(!a.store().is_unlocked());
}

/// The `state` file's identity and bytes: every write of it is a new file renamed over the old,
/// so an unchanged inode means it was not written.
fn state_file(dir: &std::path::Path) -> (u64, Vec<u8>) {
    use std::os::unix::fs::MetadataExt as _;
    let path = dir.join("state");
    (
        std::fs::metadata(&path).unwrap().ino(),
        std::fs::read(&path).unwrap(),
    )
}

/// What a kill leaves: a copy of the files of a store that is still open, opened on its own.
fn as_a_kill_leaves_it(dir: &std::path::Path) -> (tempfile::TempDir, Platform<FileStore>) {
    let copy = tempfile::tempdir().unwrap();
    common::copy_store(dir, copy.path());
    let store = file_store(copy.path());
    (copy, platform(store))
}

/// Each PIN check saves the lowered retry count before it compares, and a right PIN raises it
/// back (CTAP 2.1 §6.5.5.5): once the file holds the lowered count, sign-ins with the right PIN
/// write `state` no more (keystore SECURITY.md, "Durability and layout").
#[test]
fn a_right_pin_writes_state_only_after_a_wrong_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = with_pin(tmp.path());
    let after_set = state_file(tmp.path());
    token(&mut a, PIN, "bank.example").unwrap();
    let steady = state_file(tmp.path());
    assert_ne!(
        steady, after_set,
        "the first check lowers the count on disk"
    );
    for _ in 0..5 {
        token(&mut a, PIN, "bank.example").unwrap();
        assert_eq!(retries(&mut a), 8);
        assert_eq!(state_file(tmp.path()), steady, "a right PIN wrote state");
    }
    // The first wrong PIN finds its lowering on disk already; the second writes its own.
    assert_eq!(
        token(&mut a, b"00000000", "bank.example"),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(retries(&mut a), 7);
    assert_eq!(state_file(tmp.path()), steady);
    assert_eq!(
        token(&mut a, b"00000000", "bank.example"),
        Err(StatusCode::PinInvalid)
    );
    assert_eq!(retries(&mut a), 6);
    let after_wrong = state_file(tmp.path());
    assert_ne!(after_wrong, steady);
    // A right PIN after wrong ones writes the full count (a raise by more than one), and the next
    // check lowers it on disk again; then sign-ins are quiet once more.
    token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(retries(&mut a), 8);
    let restored = state_file(tmp.path());
    assert_ne!(restored, after_wrong);
    token(&mut a, PIN, "bank.example").unwrap();
    let steady_again = state_file(tmp.path());
    assert_ne!(steady_again, restored);
    assert_eq!(steady_again.1, steady.1, "the same lowered count as before");
    token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(state_file(tmp.path()), steady_again);
}

/// A kill right after a wrong PIN leaves that guess counted on disk, in the steady state (where
/// the check wrote nothing: the file already held the lowered count) and after it.
#[test]
fn a_wrong_pin_is_on_disk_as_a_kill_would_leave_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = with_pin(tmp.path());
    for _ in 0..3 {
        token(&mut a, PIN, "bank.example").unwrap();
    }
    for left in [7, 6] {
        assert_eq!(
            token(&mut a, b"00000000", "bank.example"),
            Err(StatusCode::PinInvalid)
        );
        assert_eq!(retries(&mut a), left);
        let (_copy, mut killed) = as_a_kill_leaves_it(tmp.path());
        assert_eq!(retries(&mut killed), left, "the guess survives the kill");
    }
}

/// A kill after a right PIN costs one try until the next right PIN; closing the store writes
/// the full count back.
#[test]
fn a_kill_after_a_right_pin_costs_one_try_and_closing_writes_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = with_pin(tmp.path());
    token(&mut a, PIN, "bank.example").unwrap();
    assert_eq!(retries(&mut a), 8);
    {
        let (_copy, mut killed) = as_a_kill_leaves_it(tmp.path());
        assert_eq!(retries(&mut killed), 7, "one try short after a kill");
        token(&mut killed, PIN, "bank.example").unwrap();
        assert_eq!(retries(&mut killed), 8, "the next right PIN restores it");
    }
    drop(a);
    let mut a = platform(file_store(tmp.path()));
    assert_eq!(retries(&mut a), 8, "a clean close wrote the full count");
    let closed = state_file(tmp.path());
    token(&mut a, PIN, "bank.example").unwrap();
    assert_ne!(
        state_file(tmp.path()),
        closed,
        "the next check lowers it on disk first"
    );
}

/// Only the raise back to the full count after a right PIN may wait in memory
/// (`CredentialStore::save_state`): any other raise of the count is written before the save
/// returns.
#[test]
fn only_the_raise_to_the_full_count_waits_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = file_store(tmp.path());
    let mut state = s.load_state().unwrap();
    let mut on_disk = Vec::new();
    for count in [5, 6, 7] {
        state.pin_retries = count;
        s.save_state(&state).unwrap();
        let file = state_file(tmp.path());
        assert!(
            !on_disk.contains(&file),
            "the raise to {count} was not written"
        );
        on_disk.push(file);
    }
    state.pin_retries = 8;
    s.save_state(&state).unwrap();
    assert_eq!(Some(&state_file(tmp.path())), on_disk.last());
    assert_eq!(s.load_state().unwrap().pin_retries, 8);
    drop(s);
    assert_eq!(file_store(tmp.path()).load_state().unwrap().pin_retries, 8);
}

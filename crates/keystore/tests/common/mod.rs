//! Helpers shared by the integration tests; each test binary uses a different subset.
#![allow(dead_code)] // each test binary uses a subset of these helpers

pub mod algorithms;
pub mod contract;

use aws_lc_rs::signature::{
    UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ED25519, ML_DSA_44,
    ML_DSA_65,
};
use latchkey_authenticator::env::Rng;
use latchkey_authenticator::store::{
    Algorithm, CredProtect, CredRandom, Credential, CredentialKind, CredentialStore, KeyBlob,
    PinHash, PublicKey, RpEntity, UserEntity,
};
use latchkey_keystore::{FileStoreOptions, KdfParams};
use zeroize::Zeroizing;

/// The operating system's RNG.
pub struct SysRng;
impl Rng for SysRng {
    fn fill(&mut self, buf: &mut [u8]) {
        aws_lc_rs::rand::fill(buf).unwrap();
    }
}

/// An RNG that remembers what it produced (to look for key bytes on disk).
pub struct RecordingRng(pub Vec<Vec<u8>>);
impl Rng for RecordingRng {
    fn fill(&mut self, buf: &mut [u8]) {
        aws_lc_rs::rand::fill(buf).unwrap();
        self.0.push(buf.to_vec());
    }
}

/// LEFT(SHA-256(pin), 16), as CTAP clientPIN computes it.
pub fn pin_hash(pin: &str) -> PinHash {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pin.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.as_ref()[..16]);
    PinHash(out)
}

/// Cheap Argon2id so the suites run quickly; production parameters are measured separately.
pub fn fast_options() -> FileStoreOptions {
    FileStoreOptions {
        kdf: KdfParams::INSECURE_TEST,
        ..FileStoreOptions::default()
    }
}

pub fn random_id(len: usize) -> Vec<u8> {
    let mut id = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut id).unwrap();
    id
}

/// A credential with every field set, around a key the store generated.
pub fn credential(
    rp: &str,
    user: &[u8],
    discoverable: bool,
    public_key: PublicKey,
    key: KeyBlob,
) -> Credential {
    let mut with_uv = [0u8; 32];
    let mut without_uv = [0u8; 32];
    aws_lc_rs::rand::fill(&mut with_uv).unwrap();
    aws_lc_rs::rand::fill(&mut without_uv).unwrap();
    let mut lbk = [0u8; 32];
    aws_lc_rs::rand::fill(&mut lbk).unwrap();
    Credential {
        id: random_id(32),
        rp: RpEntity {
            id: rp.to_string(),
            name: Some(format!("{rp} Inc.")),
        },
        user: UserEntity {
            id: user.to_vec(),
            name: Some(format!("{}@{rp}", String::from_utf8_lossy(user))),
            display_name: Some("Alice Ä".into()),
        },
        discoverable,
        public_key,
        key,
        cred_protect: CredProtect::UvOptionalWithCredentialIdList,
        cred_random: Some(CredRandom {
            with_uv,
            without_uv,
        }),
        cred_blob: Some(b"blob".to_vec()),
        large_blob_key: Some(Zeroizing::new(lbk)),
        sign_count: 0,
        created_at: 1_700_000_000,
        kind: CredentialKind::Ctap2,
        third_party_payment: false,
    }
}

/// Generates a key in `store` and builds a credential around it.
pub fn new_credential<S: CredentialStore + ?Sized>(
    store: &mut S,
    rp: &str,
    user: &[u8],
    discoverable: bool,
) -> Credential {
    let (pk, key) = store.generate_key(Algorithm::Es256, &mut SysRng).unwrap();
    credential(rp, user, discoverable, pk, key)
}

/// Checks an ES256/ES384 (DER), EdDSA or ML-DSA signature with aws-lc-rs.
pub fn verify(pk: &PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    let alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match pk.alg {
        Algorithm::Es256 => &ECDSA_P256_SHA256_ASN1,
        Algorithm::Es384 => &ECDSA_P384_SHA384_ASN1,
        Algorithm::EdDsa => &ED25519,
        Algorithm::MlDsa44 => &ML_DSA_44,
        Algorithm::MlDsa65 => &ML_DSA_65,
    };
    UnparsedPublicKey::new(alg, &pk.bytes)
        .verify(msg, sig)
        .is_ok()
}

/// Copies the store directory `from` to `to` (created): what a crash leaves on disk, for a test
/// that simulates the crash by leaking a store in this process, whose lock a dead process would
/// no longer hold.
pub fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_store(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, and every directory (with `None`), by relative path.
pub fn snapshot(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<std::path::PathBuf, Option<Vec<u8>>> {
    fn walk(
        root: &std::path::Path,
        dir: &std::path::Path,
        out: &mut std::collections::BTreeMap<std::path::PathBuf, Option<Vec<u8>>>,
    ) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_owned();
            if p.is_dir() {
                out.insert(rel, None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

//! The parts of the store contract that CTAP 2.2 and the algorithms beyond ES256 add: every
//! algorithm a store says it supports is made, stored, reopened and used; the others are refused
//! with `UnsupportedAlgorithm`; the count of changes to discoverable credentials moves with
//! exactly those changes.

use latchkey_authenticator::store::{Algorithm, CredentialStore, StoreError};

use super::contract::{unlock, Flavour, Opener};
use super::{credential, verify, SysRng};

pub fn every_supported_algorithm<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    let mut made = Vec::new();
    for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
        if !s.supports(alg) {
            assert!(
                matches!(
                    s.generate_key(alg, &mut SysRng),
                    Err(StoreError::UnsupportedAlgorithm(a)) if a == alg
                ),
                "{alg:?} is not supported, so it is refused"
            );
            continue;
        }
        let (pk, key) = s.generate_key(alg, &mut SysRng).unwrap();
        assert_eq!(pk.alg, alg);
        let mut c = credential("algs.example", &[i as u8; 4], true, pk, key);
        c.third_party_payment = i % 2 == 0;
        s.insert(c.clone()).unwrap();
        let sig = s.sign(&c.key, alg, b"authData clientDataHash").unwrap();
        assert!(
            verify(&c.public_key, b"authData clientDataHash", &sig),
            "{alg:?}"
        );
        made.push(c);
    }
    assert!(made.iter().any(|c| c.public_key.alg == Algorithm::Es256));
    assert!(
        made.iter().any(|c| c.public_key.alg == Algorithm::MlDsa65),
        "ML-DSA is kept by every store (in software under the master key where no TPM holds it)"
    );
    // Reopened (a new process): every credential as it was, every key still signing.
    drop(s);
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    for c in &made {
        assert_eq!(s.get(&c.id).unwrap().as_ref(), Some(c));
        let sig = s.sign(&c.key, c.public_key.alg, b"again").unwrap();
        assert!(
            verify(&c.public_key, b"again", &sig),
            "{:?}",
            c.public_key.alg
        );
        // A key used as another algorithm is refused, not misused.
        let other = if c.public_key.alg == Algorithm::MlDsa44 {
            Algorithm::MlDsa65
        } else {
            Algorithm::MlDsa44
        };
        assert!(s.sign(&c.key, other, b"x").is_err());
    }
}

pub fn discoverable_generation<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    let g = |s: &S| s.discoverable_generation().unwrap();
    let start = g(&s);
    let (pk, key) = s.generate_key(Algorithm::Es256, &mut SysRng).unwrap();
    let mut c = credential("gen.example", b"u", true, pk, key);
    s.insert(c.clone()).unwrap();
    let after_insert = g(&s);
    assert!(after_insert > start);
    // A signature counter is not what a credential list shows.
    c.sign_count += 1;
    s.update(&c).unwrap();
    assert_eq!(g(&s), after_insert);
    c.user.name = Some("renamed".into());
    s.update(&c).unwrap();
    let after_rename = g(&s);
    assert!(after_rename > after_insert);
    let (pk, key) = s.generate_key(Algorithm::Es256, &mut SysRng).unwrap();
    s.insert(credential("gen.example", b"nd", false, pk, key))
        .unwrap();
    assert_eq!(g(&s), after_rename, "not discoverable");
    assert!(s.delete(&c.id).unwrap());
    let after_delete = g(&s);
    assert!(after_delete > after_rename);
    s.wipe().unwrap();
    assert!(g(&s) > after_delete);
}

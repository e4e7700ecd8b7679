//! The `CredentialStore` contract: one suite run against every store.
//!
//! Each function takes a way to open a store over a directory (with a discoverable-credential
//! capacity) and what kind of store it is, creates its own directory, and fails loudly.

use std::path::Path;

use latchkey_authenticator::store::{
    Algorithm, CredentialStore, KeyBlob, PersistentState, StoreError,
};

use super::{new_credential, pin_hash, verify, SysRng};

/// What differs between stores in ways the contract allows.
#[derive(Debug, Clone, Copy)]
pub struct Flavour {
    /// Keys are unusable until `verify_pin` (Protection::Pin, TPM); `false` for test stores.
    pub locks_keys: bool,
}

pub type Opener<'a, S> = &'a dyn Fn(&Path, usize) -> S;

pub const PIN: &str = "1234";

/// Sets the PIN if needed and verifies it, so keys can be made and used.
pub fn unlock<S: CredentialStore>(s: &mut S) {
    if !s.pin_is_set().unwrap() {
        s.set_pin(&pin_hash(PIN), &mut SysRng).unwrap();
    }
    assert!(s.verify_pin(&pin_hash(PIN)).unwrap());
}

pub fn insert_get_sign<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    let got = s.get(&c.id).unwrap().unwrap();
    assert_eq!(got, c);
    let sig = s.sign(&got.key, Algorithm::Es256, b"to be signed").unwrap();
    assert!(verify(&c.public_key, b"to be signed", &sig));
    assert!(!verify(&c.public_key, b"to be signeD", &sig));
    assert_eq!(s.get(b"no such id").unwrap(), None);
    // A key blob that this store did not make is refused, not signed with or panicked on.
    let err = s
        .sign(&KeyBlob::new(vec![1, 2, 3]), Algorithm::Es256, b"x")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt(_) | StoreError::Crypto { .. }),
        "{err:?}"
    );
    // Reopened (a new process): same credential, secrets included once unlocked.
    drop(s);
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    assert_eq!(s.get(&c.id).unwrap().unwrap(), c);
    let sig = s.sign(&c.key, Algorithm::Es256, b"again").unwrap();
    assert!(verify(&c.public_key, b"again", &sig));
}

pub fn replace_by_rp_and_user<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    let a = new_credential(&mut s, "rp.example", b"u1", true);
    let b = new_credential(&mut s, "rp.example", b"u2", true);
    let nd = new_credential(&mut s, "rp.example", b"u1", false);
    let c = new_credential(&mut s, "rp.example", b"u1", true);
    for x in [&a, &b, &nd, &c] {
        s.insert(x.clone()).unwrap();
    }
    assert_eq!(s.get(&a.id).unwrap(), None, "same RP and user: replaced");
    let ids: Vec<_> = s
        .by_rp("rp.example")
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        ids,
        vec![b.id.clone(), nd.id.clone(), c.id.clone()],
        "oldest first"
    );
    assert_eq!(s.discoverable_count().unwrap(), (2, 98));
    drop(s);
    let mut s = open(tmp.path(), 100);
    let ids: Vec<_> = s
        .by_rp("rp.example")
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![b.id, nd.id, c.id], "order survives a reopen");
    assert_eq!(s.discoverable_count().unwrap(), (2, 98));
}

pub fn by_rp_and_rps<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    let mut made = Vec::new();
    for (rp, user, disc) in [
        ("a.example", "1", true),
        ("b.example", "1", false),
        ("a.example", "2", true),
        ("c.example", "1", true),
        ("a.example", "3", false),
    ] {
        let c = new_credential(&mut s, rp, user.as_bytes(), disc);
        s.insert(c.clone()).unwrap();
        made.push(c);
    }
    let a: Vec<_> = s.by_rp("a.example").unwrap();
    assert_eq!(a, vec![made[0].clone(), made[2].clone(), made[4].clone()]);
    assert_eq!(s.by_rp("b.example").unwrap(), vec![made[1].clone()]);
    assert!(
        s.by_rp("A.EXAMPLE").unwrap().is_empty(),
        "RP IDs are compared exactly"
    );
    assert!(s.by_rp("none.example").unwrap().is_empty());
    let mut rps: Vec<_> = s
        .rps()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    rps.sort();
    assert_eq!(
        rps,
        vec![
            ("a.example".to_string(), Some("a.example Inc.".to_string())),
            ("c.example".to_string(), Some("c.example Inc.".to_string())),
        ],
        "only RPs with a discoverable credential"
    );
}

pub fn update_and_delete<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    let mut changed = c.clone();
    changed.user.name = Some("alice.new@example.com".into());
    changed.user.display_name = None;
    changed.sign_count = 41;
    s.update(&changed).unwrap();
    assert_eq!(s.get(&c.id).unwrap().unwrap(), changed);
    s.lock();
    changed.sign_count = 42;
    s.update(&changed)
        .unwrap_or_else(|e| panic!("a counter update needs no unlock: {e}"));
    drop(s);
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    assert_eq!(s.get(&c.id).unwrap().unwrap(), changed, "update is durable");
    let mut stranger = changed.clone();
    stranger.id = vec![9; 16];
    assert!(
        s.update(&stranger).is_err(),
        "update of an unknown credential"
    );
    assert!(s.delete(&c.id).unwrap());
    assert!(!s.delete(&c.id).unwrap());
    assert_eq!(s.get(&c.id).unwrap(), None);
    assert!(s.by_rp("example.com").unwrap().is_empty());
    assert_eq!(s.discoverable_count().unwrap(), (0, 100));
    drop(s);
    let mut s = open(tmp.path(), 100);
    assert_eq!(s.get(&c.id).unwrap(), None, "delete is durable");
}

pub fn capacity<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 2);
    unlock(&mut s);
    let a = new_credential(&mut s, "x.example", b"1", true);
    let b = new_credential(&mut s, "x.example", b"2", true);
    s.insert(a.clone()).unwrap();
    s.insert(b.clone()).unwrap();
    assert_eq!(s.discoverable_count().unwrap(), (2, 0));
    let c = new_credential(&mut s, "x.example", b"3", true);
    assert!(matches!(s.insert(c), Err(StoreError::Full)));
    // Replacing one still fits; a non-discoverable credential is not counted.
    let a2 = new_credential(&mut s, "x.example", b"1", true);
    s.insert(a2).unwrap();
    let nd = new_credential(&mut s, "x.example", b"4", false);
    s.insert(nd).unwrap();
    assert_eq!(s.discoverable_count().unwrap(), (2, 0));
}

pub fn persistent_state<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    assert_eq!(s.load_state().unwrap(), PersistentState::default());
    let st = PersistentState {
        pin_retries: 5,
        min_pin_length: 6,
        force_pin_change: true,
        min_pin_length_rp_ids: vec!["rp.example".into()],
        always_uv: true,
        large_blob_array: vec![0x81, 1, 2, 3],
        u2f_attestation: None,
        persistent_token: Some(latchkey_authenticator::store::PersistentToken([0x42; 32])),
        identifier: Some([0x17; 16]),
    };
    s.save_state(&st).unwrap();
    assert_eq!(s.load_state().unwrap(), st);
    drop(s);
    let mut s = open(tmp.path(), 100);
    assert_eq!(s.load_state().unwrap(), st, "state is durable");
}

pub fn pin_lock_and_change<S: CredentialStore>(open: Opener<'_, S>, f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    assert!(!s.pin_is_set().unwrap());
    assert!(
        !s.verify_pin(&pin_hash(PIN)).unwrap(),
        "no PIN set: nothing verifies"
    );
    if f.locks_keys {
        assert!(
            matches!(
                s.generate_key(Algorithm::Es256, &mut SysRng),
                Err(StoreError::Locked)
            ),
            "no key is made before a PIN protects it"
        );
    }
    s.set_pin(&pin_hash(PIN), &mut SysRng).unwrap();
    assert!(s.pin_is_set().unwrap());
    assert!(!s.verify_pin(&pin_hash("9999")).unwrap());
    assert!(s.verify_pin(&pin_hash(PIN)).unwrap());
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();

    s.lock();
    let locked_view = s.get(&c.id).unwrap().unwrap();
    assert_eq!(
        locked_view.public_key, c.public_key,
        "public data stays visible"
    );
    assert_eq!(locked_view.user, c.user);
    if f.locks_keys {
        assert!(matches!(
            s.sign(&c.key, Algorithm::Es256, b"m"),
            Err(StoreError::Locked)
        ));
        assert_eq!(
            locked_view.cred_random, None,
            "secrets stay sealed while locked"
        );
        assert_eq!(locked_view.large_blob_key, None);
        assert_eq!(locked_view.cred_blob, None);
        assert!(matches!(
            s.generate_key(Algorithm::Es256, &mut SysRng),
            Err(StoreError::Locked)
        ));
        assert!(matches!(
            s.set_pin(&pin_hash("5678"), &mut SysRng),
            Err(StoreError::Locked)
        ));
        assert_eq!(
            s.by_rp("example.com").unwrap().len(),
            1,
            "discovery works locked"
        );
    } else {
        assert!(s.sign(&c.key, Algorithm::Es256, b"m").is_ok());
        assert_eq!(locked_view, c);
    }
    assert!(!s.verify_pin(&pin_hash("0000")).unwrap());
    if f.locks_keys {
        assert!(matches!(
            s.sign(&c.key, Algorithm::Es256, b"m"),
            Err(StoreError::Locked)
        ));
    }

    // Change the PIN: the old one stops working, keys made before keep working.
    assert!(s.verify_pin(&pin_hash(PIN)).unwrap());
    s.set_pin(&pin_hash("5678"), &mut SysRng).unwrap();
    assert!(!s.verify_pin(&pin_hash(PIN)).unwrap());
    assert!(s.verify_pin(&pin_hash("5678")).unwrap());
    let sig = s.sign(&c.key, Algorithm::Es256, b"m").unwrap();
    assert!(verify(&c.public_key, b"m", &sig));
    assert_eq!(s.get(&c.id).unwrap().unwrap(), c);
    drop(s);
    let mut s = open(tmp.path(), 100);
    assert!(s.pin_is_set().unwrap());
    if f.locks_keys {
        assert!(matches!(
            s.sign(&c.key, Algorithm::Es256, b"m"),
            Err(StoreError::Locked)
        ));
    }
    assert!(!s.verify_pin(&pin_hash(PIN)).unwrap());
    assert!(s.verify_pin(&pin_hash("5678")).unwrap());
    assert!(verify(
        &c.public_key,
        b"m2",
        &s.sign(&c.key, Algorithm::Es256, b"m2").unwrap()
    ));
}

pub fn wipe<S: CredentialStore>(open: Opener<'_, S>, _f: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 100);
    unlock(&mut s);
    let c = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(c.clone()).unwrap();
    s.save_state(&PersistentState {
        pin_retries: 3,
        ..PersistentState::default()
    })
    .unwrap();
    s.wipe().unwrap();
    assert_eq!(s.get(&c.id).unwrap(), None);
    assert!(s.rps().unwrap().is_empty());
    assert!(!s.pin_is_set().unwrap());
    assert!(!s.verify_pin(&pin_hash(PIN)).unwrap());
    assert_eq!(s.load_state().unwrap(), PersistentState::default());
    assert_eq!(s.discoverable_count().unwrap(), (0, 100));
    drop(s);
    let mut s = open(tmp.path(), 100);
    assert_eq!(s.get(&c.id).unwrap(), None);
    assert!(!s.pin_is_set().unwrap());
    assert_eq!(s.load_state().unwrap(), PersistentState::default());
    // Usable again after a new PIN; the old key is gone for good.
    unlock(&mut s);
    let d = new_credential(&mut s, "example.com", b"alice", true);
    s.insert(d).unwrap();
    assert!(
        s.sign(&c.key, Algorithm::Es256, b"m").is_err(),
        "a wiped key must not sign"
    );
}

/// Declares one `#[test]` per contract function for a store: `$setup` makes a fixture (e.g. a
/// TPM simulator) that lives for the test, `$open(&fixture, dir, max_discoverable)` opens a store.
#[macro_export]
macro_rules! contract_suite {
    ($setup:expr, $open:expr, $flavour:expr) => {
        #[test]
        fn contract_insert_get_sign() {
            let fixture = $setup;
            $crate::common::contract::insert_get_sign(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_replace_by_rp_and_user() {
            let fixture = $setup;
            $crate::common::contract::replace_by_rp_and_user(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_by_rp_and_rps() {
            let fixture = $setup;
            $crate::common::contract::by_rp_and_rps(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_update_and_delete() {
            let fixture = $setup;
            $crate::common::contract::update_and_delete(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_capacity() {
            let fixture = $setup;
            $crate::common::contract::capacity(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_persistent_state() {
            let fixture = $setup;
            $crate::common::contract::persistent_state(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_pin_lock_and_change() {
            let fixture = $setup;
            $crate::common::contract::pin_lock_and_change(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_wipe() {
            let fixture = $setup;
            $crate::common::contract::wipe(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_every_supported_algorithm() {
            let fixture = $setup;
            $crate::common::algorithms::every_supported_algorithm(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
        #[test]
        fn contract_discoverable_generation() {
            let fixture = $setup;
            $crate::common::algorithms::discoverable_generation(
                &|d: &std::path::Path, m: usize| $open(&fixture, d, m),
                $flavour,
            )
        }
    };
}

use super::*;
use latchkey_authenticator::store::{CredRandom, UserEntity};

fn cred(id: u8, cred_protect: CredProtect) -> Credential {
    Credential {
        id: vec![id; 16],
        rp: RpEntity {
            id: "example.com".into(),
            name: None,
        },
        user: UserEntity {
            id: vec![0xaa; 8],
            name: Some("alice".into()),
            display_name: None,
        },
        discoverable: true,
        public_key: PublicKey {
            alg: Algorithm::Es256,
            bytes: vec![4; 65],
        },
        key: KeyBlob::new(vec![0x55; 40]),
        cred_protect,
        cred_random: Some(CredRandom {
            with_uv: [1; 32],
            without_uv: [2; 32],
        }),
        cred_blob: Some(vec![3; 5]),
        large_blob_key: Some(Zeroizing::new([9; 32])),
        sign_count: 7,
        created_at: 99,
        kind: CredentialKind::Ctap2,
        third_party_payment: false,
    }
}

#[test]
fn round_trip_with_and_without_key() {
    let mk = MasterKey::generate().unwrap();
    let c = cred(1, CredProtect::UvRequired);
    let bytes = Record::seal(5, &c, &mk).unwrap().encode();
    let r = Record::decode(&bytes).unwrap();
    assert_eq!(r.seq, 5);
    assert_eq!(r.credential(Some(&mk)).unwrap(), c);
    let public = r.credential(None).unwrap();
    assert_eq!(public.cred_random, None);
    assert_eq!(public.large_blob_key, None);
    assert_eq!(public.cred_blob, None);
    assert_eq!(public.user, c.user);
    // No secret in the file.
    for secret in [&[1u8; 32][..], &[2; 32], &[9; 32]] {
        assert!(!bytes.windows(32).any(|w| w == secret));
    }
}

#[test]
fn edited_bound_fields_fail_authentication() {
    let mk = MasterKey::generate().unwrap();
    let c = cred(1, CredProtect::UvRequired);
    let bytes = Record::seal(5, &c, &mk).unwrap().encode();
    // Downgrade credProtect 3 -> 1 in place (find the byte after the discoverable/kind bytes).
    let downgraded = Record::seal(5, &cred(1, CredProtect::UvOptional), &mk)
        .unwrap()
        .encode();
    let pos = bytes
        .iter()
        .zip(&downgraded)
        .position(|(a, b)| a != b)
        .unwrap();
    let mut edited = bytes.clone();
    edited[pos] = downgraded[pos];
    let r = Record::decode(&edited).unwrap();
    assert_eq!(r.cred_protect, CredProtect::UvOptional);
    assert!(matches!(
        r.credential(Some(&mk)),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn swapped_sealed_parts_fail_authentication() {
    let mk = MasterKey::generate().unwrap();
    let a = Record::seal(1, &cred(1, CredProtect::UvOptional), &mk).unwrap();
    let b = Record::seal(2, &cred(2, CredProtect::UvOptional), &mk).unwrap();
    let mut franken = a.clone();
    franken.sealed = b.sealed.clone();
    let r = Record::decode(&franken.encode()).unwrap();
    assert!(matches!(
        r.credential(Some(&mk)),
        Err(StoreError::Corrupt(_))
    ));
    let other = MasterKey::generate().unwrap();
    assert!(matches!(
        a.credential(Some(&other)),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn damaged_files_are_corrupt_not_panics() {
    let mk = MasterKey::generate().unwrap();
    let bytes = Record::seal(1, &cred(1, CredProtect::UvOptional), &mk)
        .unwrap()
        .encode();
    for cut in [0, 3, 5, 9, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(Record::decode(&bytes[..cut]), Err(StoreError::Corrupt(_))),
            "cut {cut}"
        );
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(matches!(
        Record::decode(&extra),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn oversized_fields_are_refused_at_insert() {
    let mk = MasterKey::generate().unwrap();
    let mut c = cred(1, CredProtect::UvOptional);
    c.id = vec![1; MAX_ID + 1];
    assert!(Record::seal(1, &c, &mk).is_err());
    let mut c = cred(1, CredProtect::UvOptional);
    c.id.clear();
    assert!(Record::seal(1, &c, &mk).is_err());
    let mut c = cred(1, CredProtect::UvOptional);
    c.cred_blob = Some(vec![0; MAX_CRED_BLOB + 1]);
    assert!(Record::seal(1, &c, &mk).is_err());
}

#[test]
fn update_changes_only_mutable_fields() {
    let mk = MasterKey::generate().unwrap();
    let c = cred(1, CredProtect::UvOptional);
    let mut r = Record::seal(1, &c, &mk).unwrap();
    let mut changed = c.clone();
    changed.user.name = None;
    changed.user.display_name = Some("Al".into());
    changed.sign_count = 1000;
    changed.rp.id = "evil.example".into();
    assert_eq!(r.apply_update(&changed).unwrap(), UpdateWrite::Durable);
    let back = Record::decode(&r.encode())
        .unwrap()
        .credential(Some(&mk))
        .unwrap();
    // The file holds the new ceiling, a reserve above the counter.
    assert_eq!(back.sign_count, 1000 + COUNTER_RESERVE);
    assert_eq!(back.user.display_name.as_deref(), Some("Al"));
    assert_eq!(back.user.name, None);
    assert_eq!(
        back.rp.id, "example.com",
        "the RP is not changed by an update"
    );
}

#[test]
fn file_names_round_trip_and_reject_others() {
    let tag = rp_tag("example.com");
    let hash = id_hash(b"credential");
    let name = file_name(&tag, true, &hash);
    assert_eq!(name.len(), 16 + 1 + 64 + 5);
    assert_eq!(&name[16..17], "d");
    assert_eq!(parse_file_name(&name), Some((tag, true, hash)));
    let nd = file_name(&tag, false, &hash);
    assert_eq!(parse_file_name(&nd), Some((tag, false, hash)));
    for bad in [
        "keystore",
        ".tmp-0011",
        &name[..name.len() - 1],
        &name.replace(".cred", ".crex"),
        &name.replacen('d', "x", 1),
        &format!("{}zz.cred", &name[..name.len() - 7]),
    ] {
        assert_eq!(parse_file_name(bad), None, "{bad}");
    }
    // The record knows its own name.
    let mk = MasterKey::generate().unwrap();
    let r = Record::seal(1, &cred(1, CredProtect::UvOptional), &mk).unwrap();
    assert_eq!(
        parse_file_name(&r.file_name()),
        Some((tag, true, id_hash(&[1; 16])))
    );
}

/// The last four bytes of an encoded record: the counter ceiling, big-endian.
fn ceiling_on_disk(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes[bytes.len() - 4..].try_into().unwrap())
}

#[test]
fn counter_updates_under_the_ceiling_need_no_write() {
    let mk = MasterKey::generate().unwrap();
    let mut c = cred(1, CredProtect::UvOptional);
    c.sign_count = 0;
    let mut r = Record::seal(1, &c, &mk).unwrap();
    assert_eq!(ceiling_on_disk(&r.encode()), 0);
    // The first counter above the ceiling raises it by the reserve.
    c.sign_count = 1;
    assert_eq!(r.apply_update(&c).unwrap(), UpdateWrite::Durable);
    let written = r.encode();
    assert_eq!(ceiling_on_disk(&written), 1 + COUNTER_RESERVE);
    // Every counter up to the ceiling is kept in memory: nothing to write, and the bytes a
    // write would produce are the ones already on disk.
    for n in 2..=1 + COUNTER_RESERVE {
        c.sign_count = n;
        assert_eq!(r.apply_update(&c).unwrap(), UpdateWrite::None, "{n}");
        assert_eq!(r.credential(None).unwrap().sign_count, n);
    }
    assert_eq!(r.encode(), written);
    assert!(!r.counter_unsettled(), "the counter reached the ceiling");
    // One past it writes again.
    c.sign_count = 2 + COUNTER_RESERVE;
    assert_eq!(r.apply_update(&c).unwrap(), UpdateWrite::Durable);
    assert_eq!(ceiling_on_disk(&r.encode()), 2 + 2 * COUNTER_RESERVE);
    // A user-string change is written whatever the counter does.
    c.user.display_name = Some("Alice".into());
    assert_eq!(r.apply_update(&c).unwrap(), UpdateWrite::Durable);
    // So is nothing for an unchanged credential (a counter that is always zero).
    assert_eq!(r.apply_update(&c).unwrap(), UpdateWrite::None);
    // Settling writes the counter itself: a reopened store resumes exactly there.
    assert!(r.counter_unsettled());
    r.settle_counter();
    let settled = Record::decode(&r.encode()).unwrap();
    assert_eq!(settled.sign_count, 2 + COUNTER_RESERVE);
    assert!(!settled.counter_unsettled());
}

#[test]
fn the_ceiling_saturates_at_the_counter_limit() {
    let mk = MasterKey::generate().unwrap();
    let mut c = cred(1, CredProtect::UvOptional);
    let mut r = Record::seal(1, &c, &mk).unwrap();
    c.sign_count = u32::MAX - 3;
    assert_eq!(r.apply_update(&c).unwrap(), UpdateWrite::Durable);
    assert_eq!(ceiling_on_disk(&r.encode()), u32::MAX);
}

/// thirdPartyPayment is kept in the authenticated part: a record with the flag flipped on disk
/// does not open.
#[test]
fn third_party_payment_is_bound_to_the_record() {
    let mk = MasterKey::generate().unwrap();
    let c = Credential {
        third_party_payment: true,
        ..cred(1, CredProtect::UvOptional)
    };
    let bytes = Record::seal(5, &c, &mk).unwrap().encode();
    assert_eq!(&bytes[..5], b"LKCR\x02");
    let r = Record::decode(&bytes).unwrap();
    assert_eq!(r.credential(Some(&mk)).unwrap(), c);
    assert!(r.credential(None).unwrap().third_party_payment);
    let off = Record::seal(5, &cred(1, CredProtect::UvOptional), &mk)
        .unwrap()
        .encode();
    let pos = bytes.iter().zip(&off).position(|(a, b)| a != b).unwrap();
    let mut edited = bytes.clone();
    edited[pos] = off[pos];
    let r = Record::decode(&edited).unwrap();
    assert!(!r.third_party_payment);
    assert!(matches!(
        r.credential(Some(&mk)),
        Err(StoreError::Corrupt(_))
    ));
    // A flag this version does not know is corruption, not a silent drop.
    let mut unknown = bytes.clone();
    unknown[pos] = 0x03;
    assert!(matches!(
        Record::decode(&unknown),
        Err(StoreError::Corrupt(_))
    ));
}

/// A version 1 record (no flags byte, sealed over the version 1 `bound`) still opens, and a
/// rewrite (a user name change) keeps it version 1 so its seal still verifies.
#[test]
fn version_1_records_still_open_and_rewrite_as_version_1() {
    let mk = MasterKey::generate().unwrap();
    let c = cred(1, CredProtect::UvRequired);
    let v2 = Record::seal(5, &c, &mk).unwrap();
    // The same record in version 1: bound without the trailing flags byte, sealed over it.
    let bound_v1 = v2.bound[..v2.bound.len() - 1].to_vec();
    let secrets = mk.open(&aad(&v2.bound), &v2.sealed).unwrap();
    let sealed_v1 = mk.seal(&aad(&bound_v1), &secrets).unwrap();
    let mut w = crate::codec::Writer::new();
    w.raw(b"LKCR\x01")
        .bytes(&bound_v1)
        .bytes(&sealed_v1)
        .opt_str(Some("alice"))
        .opt_str(None)
        .u32(7);
    let r = Record::decode(&w.into_vec()).unwrap();
    assert_eq!(r.credential(Some(&mk)).unwrap(), c);
    let mut renamed = r.clone();
    let mut c2 = c.clone();
    c2.user.name = Some("alice2".into());
    assert_eq!(renamed.apply_update(&c2).unwrap(), UpdateWrite::Durable);
    let again = Record::decode(&renamed.encode()).unwrap();
    assert_eq!(&renamed.encode()[..5], b"LKCR\x01");
    assert_eq!(again.credential(Some(&mk)).unwrap(), c2);
}

/// ML-DSA-65 credentials (a 1952-byte public key, a key blob of seed and public key) fit the
/// record limits; public keys beyond ML-DSA-87's size do not.
#[test]
fn ml_dsa_records_fit() {
    let mk = MasterKey::generate().unwrap();
    for (alg, len) in [(Algorithm::MlDsa44, 1312), (Algorithm::MlDsa65, 1952)] {
        let c = Credential {
            public_key: PublicKey {
                alg,
                bytes: vec![7; len],
            },
            key: KeyBlob::new(vec![8; 2 + 32 + len + 28]),
            ..cred(2, CredProtect::UvOptional)
        };
        let bytes = Record::seal(1, &c, &mk).unwrap().encode();
        assert!(bytes.len() < MAX_FILE);
        assert_eq!(
            Record::decode(&bytes)
                .unwrap()
                .credential(Some(&mk))
                .unwrap(),
            c
        );
    }
    let too_big = Credential {
        public_key: PublicKey {
            alg: Algorithm::MlDsa65,
            bytes: vec![7; MAX_PUBLIC + 1],
        },
        ..cred(3, CredProtect::UvOptional)
    };
    assert!(matches!(
        Record::seal(1, &too_big, &mk),
        Err(StoreError::Corrupt(_))
    ));
    for (alg, tag) in [
        (Algorithm::Es256, 1),
        (Algorithm::EdDsa, 2),
        (Algorithm::Es384, 3),
        (Algorithm::MlDsa44, 4),
        (Algorithm::MlDsa65, 5),
    ] {
        assert_eq!(alg_byte(alg), tag);
        assert_eq!(alg_from_byte(tag).unwrap(), alg);
    }
    assert!(alg_from_byte(6).is_err());
}

use super::*;

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
    r.apply_update(&changed).unwrap();
    let back = Record::decode(&r.encode())
        .unwrap()
        .credential(Some(&mk))
        .unwrap();
    assert_eq!(back.sign_count, 1000);
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

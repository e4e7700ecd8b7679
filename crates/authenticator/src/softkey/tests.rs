use super::*;
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};

struct Counter(u8);
impl Rng for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

#[test]
fn es256_keys_are_reproducible_and_verify() {
    let (pk1, blob1) = generate(Algorithm::Es256, &mut Counter(0)).unwrap();
    let (pk2, _) = generate(Algorithm::Es256, &mut Counter(0)).unwrap();
    assert_eq!(pk1, pk2);
    assert_eq!(pk1.bytes.len(), 65);
    assert_eq!(pk1.bytes[0], 0x04);
    let sig = sign(Algorithm::Es256, &blob1, b"hello").unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk1.bytes)
        .verify(b"hello", &sig)
        .unwrap();
    assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk1.bytes)
        .verify(b"hellO", &sig)
        .is_err());
}

/// Known answers pin the scalar-to-point step: 1·G is the generator (SEC 2 §2.4.2), and the
/// scalars outside [1, n-1] are refused.
#[test]
fn es256_from_secret_known_answers() {
    let mut one = [0u8; 32];
    one[31] = 1;
    let (pk, blob) = from_secret(Algorithm::Es256, &one).unwrap();
    let g = "04\
        6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
        4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    let hex: String = pk.bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, g);
    assert_eq!(&blob.as_bytes()[..32], &one);
    assert_eq!(&blob.as_bytes()[32..], pk.bytes.as_slice());
    assert!(from_secret(Algorithm::Es256, &[0u8; 32]).is_err());
    assert!(from_secret(Algorithm::Es256, &p256::ORDER).is_err());
    assert!(from_secret(Algorithm::Es256, &[0xff; 32]).is_err());
    assert!(from_secret(Algorithm::Es256, &one[1..]).is_err());
}

/// The PKCS#8 document a key is loaded from is byte for byte what aws-lc itself writes for
/// that key, and the loaded key is the generated one.
#[test]
fn es256_pkcs8_matches_aws_lc_and_loads_the_same_key() {
    let (pk, blob, generated) = generate_loaded(Algorithm::Es256, &mut Counter(3)).unwrap();
    let (secret, public) = blob.as_bytes().split_at(32);
    assert_eq!(public, pk.bytes.as_slice());
    let doc = p256::pkcs8(secret, Some(public));
    assert_eq!(doc.len(), 138);
    let SigningKey::Es256(pair) = SigningKey::load(Algorithm::Es256, &blob).unwrap() else {
        panic!("an ES256 blob loads as ES256");
    };
    assert_eq!(pair.to_pkcs8v1().unwrap().as_ref(), doc.as_slice());
    assert_eq!(pair.public_key().as_ref(), pk.bytes.as_slice());
    assert_eq!(p256::pkcs8(secret, None).len(), 67);
    // The key that came out of generation signs for the same public key.
    let sig = generated.sign(b"m").unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk.bytes)
        .verify(b"m", &sig)
        .unwrap();
    assert_eq!(format!("{generated:?}"), "SigningKey::Es256(<redacted>)");
}

#[test]
fn eddsa_keys_verify() {
    let (pk, blob) = generate(Algorithm::EdDsa, &mut Counter(7)).unwrap();
    assert_eq!(pk.bytes.len(), 32);
    let sig = sign(Algorithm::EdDsa, &blob, b"msg").unwrap();
    assert_eq!(sig.len(), 64);
    UnparsedPublicKey::new(&ED25519, &pk.bytes)
        .verify(b"msg", &sig)
        .unwrap();
}

#[test]
fn malformed_blobs_are_corrupt_not_panics() {
    for len in [0usize, 31, 96, 98] {
        let blob = KeyBlob::new(vec![1; len]);
        assert!(matches!(
            sign(Algorithm::Es256, &blob, b"x"),
            Err(StoreError::Corrupt(_))
        ));
    }
    // Right length, but the public key does not match the scalar.
    let (_, blob) = generate(Algorithm::Es256, &mut Counter(0)).unwrap();
    let (pk_other, _) = generate(Algorithm::Es256, &mut Counter(50)).unwrap();
    let mut bytes = blob.as_bytes()[..32].to_vec();
    bytes.extend_from_slice(&pk_other.bytes);
    assert!(sign(Algorithm::Es256, &KeyBlob::new(bytes), b"x").is_err());
}

/// 1·G on P-384 is the curve's generator (SEC 2 §2.5.1); scalars outside [1, n-1] are refused;
/// signatures verify with aws-lc's ES384 verifier over SHA-384.
#[test]
fn es384_known_answer_and_signatures() {
    use aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1;
    let mut one = [0u8; 48];
    one[47] = 1;
    let (pk, blob) = from_secret(Algorithm::Es384, &one).unwrap();
    let g = "04\
        aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7\
        3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f";
    assert_eq!(hex::encode(&pk.bytes), g);
    assert_eq!(blob.as_bytes().len(), 48 + 97);
    assert!(from_secret(Algorithm::Es384, &[0u8; 48]).is_err());
    assert!(from_secret(Algorithm::Es384, &p384::ORDER).is_err());
    assert!(from_secret(Algorithm::Es384, &[0xff; 48]).is_err());
    assert!(from_secret(Algorithm::Es384, &one[1..]).is_err());

    let (pk, blob, generated) = generate_loaded(Algorithm::Es384, &mut Counter(9)).unwrap();
    assert_eq!(pk.bytes.len(), 97);
    for key in [
        generated,
        SigningKey::load(Algorithm::Es384, &blob).unwrap(),
    ] {
        let sig = key.sign(b"message").unwrap();
        UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, &pk.bytes)
            .verify(b"message", &sig)
            .unwrap();
        assert!(UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, &pk.bytes)
            .verify(b"messagE", &sig)
            .is_err());
    }
    // The other key's point with this scalar: corrupt, not a panic.
    let (other, _) = generate(Algorithm::Es384, &mut Counter(77)).unwrap();
    let mut bytes = blob.as_bytes()[..48].to_vec();
    bytes.extend_from_slice(&other.bytes);
    assert!(matches!(
        SigningKey::load(Algorithm::Es384, &KeyBlob::new(bytes)),
        Err(StoreError::Corrupt(_))
    ));
}

/// A seed gives the same ML-DSA key every time (FIPS 204 key generation is deterministic in ξ);
/// signatures have the parameter set's length and verify with aws-lc's verifier; a blob whose
/// public half is not its seed's is corrupt.
#[test]
fn ml_dsa_keys_from_seeds_sign_and_verify() {
    use aws_lc_rs::signature::{ML_DSA_44, ML_DSA_65};
    for (alg, verifier, pk_len, sig_len) in [
        (Algorithm::MlDsa44, &ML_DSA_44, 1312, 2420),
        (Algorithm::MlDsa65, &ML_DSA_65, 1952, 3309),
    ] {
        let (pk1, blob1) = generate(alg, &mut Counter(0)).unwrap();
        let (pk2, blob2) = from_secret(alg, &(1..=32).collect::<Vec<u8>>()).unwrap();
        assert_eq!(pk1, pk2);
        assert_eq!(blob1, blob2);
        assert_eq!(pk1.bytes.len(), pk_len);
        assert_eq!(blob1.as_bytes().len(), 32 + pk_len);
        let key = SigningKey::load(alg, &blob1).unwrap();
        assert!(format!("{key:?}").contains("<redacted>"));
        let sig = key.sign(b"authData || clientDataHash").unwrap();
        assert_eq!(sig.len(), sig_len);
        UnparsedPublicKey::new(verifier, &pk1.bytes)
            .verify(b"authData || clientDataHash", &sig)
            .unwrap();
        assert!(UnparsedPublicKey::new(verifier, &pk1.bytes)
            .verify(b"authData || clientDataHasH", &sig)
            .is_err());

        let (other, _) = generate(alg, &mut Counter(100)).unwrap();
        let mut bytes = blob1.as_bytes()[..32].to_vec();
        bytes.extend_from_slice(&other.bytes);
        for bad in [bytes, blob1.as_bytes()[..40].to_vec(), vec![]] {
            assert!(matches!(
                SigningKey::load(alg, &KeyBlob::new(bad)),
                Err(StoreError::Corrupt(_))
            ));
        }
        assert!(from_secret(alg, &[1; 31]).is_err());
    }
    // An ML-DSA-44 blob is not an ML-DSA-65 key.
    let (_, blob44) = generate(Algorithm::MlDsa44, &mut Counter(0)).unwrap();
    assert!(SigningKey::load(Algorithm::MlDsa65, &blob44).is_err());
}

#[test]
fn algorithms_have_cose_identifiers_and_names() {
    for (alg, cose, name) in [
        (Algorithm::Es256, -7, "ES256"),
        (Algorithm::EdDsa, -8, "EdDSA"),
        (Algorithm::Es384, -35, "ES384"),
        (Algorithm::MlDsa44, -48, "ML-DSA-44"),
        (Algorithm::MlDsa65, -49, "ML-DSA-65"),
    ] {
        assert_eq!(alg.cose(), cose);
        assert_eq!(Algorithm::from_cose(cose), Some(alg));
        assert_eq!(alg.name(), name);
        assert_eq!(Algorithm::from_name(&name.to_lowercase()), Some(alg));
        assert_eq!(alg.is_post_quantum(), name.starts_with("ML-DSA"));
    }
    assert_eq!(Algorithm::from_cose(-50), None);
    assert_eq!(Algorithm::from_name("ML-DSA-87"), None);
}

/// The operating system's generator, as far as key generation can tell: it says so, and is
/// never drawn from for an ECDSA key (aws-lc's own key generation is).
struct System;
impl Rng for System {
    fn fill(&mut self, _buf: &mut [u8]) {
        panic!("an ECDSA key was drawn from the injected generator");
    }
    fn is_system(&self) -> bool {
        true
    }
}

#[test]
fn system_keys_come_from_aws_lc_and_keep_the_blob_layout() {
    for (alg, scalar_len, point_len) in [(Algorithm::Es256, 32, 65), (Algorithm::Es384, 48, 97)] {
        let (pk, blob, loaded) = generate_loaded(alg, &mut System).unwrap();
        let (pk2, _) = generate(alg, &mut System).unwrap();
        assert_ne!(pk, pk2, "{alg:?}: two keys alike");
        assert_eq!(pk.bytes.len(), point_len);
        assert_eq!(pk.bytes[0], 0x04);
        let bytes = blob.as_bytes();
        assert_eq!(bytes.len(), scalar_len + point_len);
        assert_eq!(&bytes[scalar_len..], pk.bytes.as_slice());
        // The scalar read out of aws-lc is the key's: it gives the same public key.
        let (again, _) = from_secret(alg, &bytes[..scalar_len]).unwrap();
        assert_eq!(again, pk, "{alg:?}");
        // Signatures by the loaded pair and by the blob both verify.
        let verify_alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
            Algorithm::Es256 => &ECDSA_P256_SHA256_ASN1,
            _ => &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
        };
        for sig in [
            loaded.sign(b"msg").unwrap(),
            sign(alg, &blob, b"msg").unwrap(),
        ] {
            UnparsedPublicKey::new(verify_alg, &pk.bytes)
                .verify(b"msg", &sig)
                .unwrap();
        }
    }
}

/// The loaded-key cache finds a key by its blob, forgets the oldest past its capacity and on
/// `remove`, and files keys under digests: no blob (a private key in the clear for the in-memory
/// store) is copied into it.
#[test]
fn loaded_keys_are_found_by_blob_evicted_oldest_first_and_filed_under_digests() {
    let keys: Vec<_> = (0..3)
        .map(|i| generate(Algorithm::Es256, &mut Counter(i * 40)).unwrap())
        .collect();
    let load = |blob: &KeyBlob| SigningKey::load(Algorithm::Es256, blob).unwrap();
    let mut cache = LoadedKeys::new(2);
    for (_, blob) in &keys[..2] {
        cache.put(blob.as_bytes(), load(blob));
    }
    assert_eq!(cache.len(), 2);
    let signed = cache.get(keys[0].1.as_bytes()).unwrap().sign(b"m").unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &keys[0].0.bytes)
        .verify(b"m", &signed)
        .unwrap();
    assert_eq!(cache.order[0], blob_id(keys[0].1.as_bytes()));
    assert!(cache.keys.keys().all(|id| keys
        .iter()
        .all(|(_, blob)| id.as_slice() != blob.as_bytes())));

    cache.put(keys[2].1.as_bytes(), load(&keys[2].1));
    assert_eq!(cache.len(), 2);
    assert!(
        cache.get(keys[0].1.as_bytes()).is_none(),
        "the oldest goes first"
    );
    assert!(cache.get(keys[1].1.as_bytes()).is_some());
    assert!(cache.get(keys[2].1.as_bytes()).is_some());

    cache.remove(keys[1].1.as_bytes());
    assert!(cache.get(keys[1].1.as_bytes()).is_none());
    assert_eq!(cache.order.len(), 1);
    assert!(LoadedKeys::new(0).is_empty());
}

/// A key just generated waits in its own slot: a run of them replaces only each other and never
/// the keys loaded to sign, the newest still signs without a load, and it joins the loaded keys
/// (pushing the oldest out) when it does. A cache of no keys keeps no new key either.
#[test]
fn generated_keys_wait_apart_until_they_sign() {
    let made = |i: usize| generate_loaded(Algorithm::Es256, &mut Counter(i as u8 * 40)).unwrap();
    let keys: Vec<_> = (0..5).map(made).collect();
    let blob = |i: usize| keys[i].1.as_bytes();
    let load = |i: usize| SigningKey::load(Algorithm::Es256, &keys[i].1).unwrap();
    let mut cache = LoadedKeys::new(2);
    cache.put(blob(0), load(0));
    cache.put(blob(1), load(1));
    for i in 2..5 {
        cache.put_new(blob(i), made(i).2);
        assert_eq!(
            cache.len(),
            3,
            "two loaded keys and the newest generated one"
        );
    }
    // The run of new keys evicted no loaded key, and only the newest of them is kept.
    assert!(cache.get(blob(0)).is_some());
    assert!(cache.get(blob(1)).is_some());
    assert!(cache.get(blob(2)).is_none());
    assert!(cache.get(blob(3)).is_none());
    assert_eq!(cache.len(), 3);
    // The newest signs (with its own key) and so joins the loaded keys, in place of the oldest.
    let signed = cache.get(blob(4)).unwrap().sign(b"m").unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &keys[4].0.bytes)
        .verify(b"m", &signed)
        .unwrap();
    assert_eq!(cache.len(), 2);
    assert!(cache.fresh.is_none());
    assert_eq!(
        cache.order.iter().copied().collect::<Vec<_>>(),
        [blob_id(blob(1)), blob_id(blob(4))]
    );
    assert!(cache.get(blob(0)).is_none());
    // Removing or clearing forgets the waiting key too.
    cache.put_new(blob(2), made(2).2);
    cache.remove(blob(2));
    assert!(cache.fresh.is_none());
    cache.put_new(blob(3), made(3).2);
    cache.clear();
    assert!(cache.is_empty());
    let mut none = LoadedKeys::new(0);
    none.put_new(blob(4), load(4));
    assert!(none.is_empty());
}

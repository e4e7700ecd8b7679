use super::*;

struct Seq(u8);
impl Rng for Seq {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(13);
            *b = self.0;
        }
    }
}

struct Zero;
impl Rng for Zero {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

#[test]
fn both_sides_derive_the_same_secret_and_round_trip() {
    let a = KeyAgreementKey::generate(&mut Seq(1));
    let b = KeyAgreementKey::generate(&mut Seq(2));
    for protocol in [Protocol::One, Protocol::Two] {
        let sa = a.shared_secret(protocol, &b.public().unwrap()).unwrap();
        let sb = b.shared_secret(protocol, &a.public().unwrap()).unwrap();
        let ct = sa.encrypt(&mut Seq(3), &[5u8; 64]).unwrap();
        assert_eq!(ct.len(), if protocol == Protocol::One { 64 } else { 80 });
        assert_eq!(sb.decrypt(&ct).unwrap().as_slice(), &[5u8; 64]);
        let tag = sa.authenticate(b"msg");
        assert!(sb.verify(b"msg", &tag));
        assert!(!sb.verify(b"msh", &tag));
    }
}

#[test]
fn bad_points_and_a_broken_rng_are_errors_not_panics() {
    let a = KeyAgreementKey::generate(&mut Seq(1));
    let bad = PlatformKey {
        x: [1; 32],
        y: [2; 32],
    };
    assert_eq!(
        a.shared_secret(Protocol::Two, &bad).unwrap_err(),
        Status::InvalidParameter
    );
    let none = KeyAgreementKey::generate(&mut Zero);
    assert_eq!(none.public().unwrap_err(), Status::Other);
}

#[test]
fn protocol_parse() {
    assert_eq!(parse_protocol(None), Err(Status::MissingParameter));
    assert_eq!(parse_protocol(Some(3)), Err(Status::InvalidParameter));
    assert_eq!(parse_protocol(Some(2)), Ok(Protocol::Two));
}

#[test]
fn the_prepared_token_key_checks_what_authenticate_makes_and_nothing_else() {
    let token = [0x5a; 32];
    let mac = TokenMac::new(&token);
    for protocol in [Protocol::One, Protocol::Two] {
        let param = pin::authenticate(protocol, &token, b"clientDataHash");
        assert_eq!(param.len(), if protocol == Protocol::One { 16 } else { 32 });
        assert!(mac.verify(protocol, b"clientDataHash", &param));
        assert!(verify_token(protocol, &token, b"clientDataHash", &param));
        // Another message, a flipped bit, a truncated or extended param, another token.
        assert!(!mac.verify(protocol, b"clientDataHasi", &param));
        let mut flipped = param.clone();
        flipped[0] ^= 1;
        assert!(!mac.verify(protocol, b"clientDataHash", &flipped));
        assert!(!mac.verify(protocol, b"clientDataHash", &param[..param.len() - 1]));
        let mut longer = param.clone();
        longer.push(0);
        assert!(!mac.verify(protocol, b"clientDataHash", &longer));
        assert!(!mac.verify(protocol, b"clientDataHash", &[]));
        let other = pin::authenticate(protocol, &[0x5b; 32], b"clientDataHash");
        assert!(!mac.verify(protocol, b"clientDataHash", &other));
    }
    // Protocol one's 16 bytes are not protocol two's param, nor the reverse.
    let one = pin::authenticate(Protocol::One, &token, b"m");
    let two = pin::authenticate(Protocol::Two, &token, b"m");
    assert_eq!(&two[..16], one.as_slice());
    assert!(!mac.verify(Protocol::Two, b"m", &one));
    assert!(!mac.verify(Protocol::One, b"m", &two));
    assert_eq!(format!("{mac:?}"), "TokenMac(<redacted>)");
}

#[test]
fn the_same_platform_key_gets_the_kept_secret_and_a_new_key_starts_empty() {
    let a = KeyAgreementKey::generate(&mut Seq(1));
    let b = KeyAgreementKey::generate(&mut Seq(2));
    let c = KeyAgreementKey::generate(&mut Seq(3));
    assert!(!a.keeps_a_secret());
    let first = a
        .shared_secret(Protocol::Two, &b.public().unwrap())
        .unwrap();
    assert!(a.keeps_a_secret());
    // Kept: the same bytes as a fresh agreement (b's side) gives.
    let again = a
        .shared_secret(Protocol::Two, &b.public().unwrap())
        .unwrap();
    let fresh = b
        .shared_secret(Protocol::Two, &a.public().unwrap())
        .unwrap();
    let ct = again.encrypt(&mut Seq(4), &[7u8; 32]).unwrap();
    assert_eq!(fresh.decrypt(&ct).unwrap().as_slice(), &[7u8; 32]);
    assert_eq!(first.authenticate(b"m"), fresh.authenticate(b"m"));
    // Another protocol or another platform key is agreed afresh, not served the kept one.
    let one = a
        .shared_secret(Protocol::One, &b.public().unwrap())
        .unwrap();
    assert_ne!(one.authenticate(b"m"), first.authenticate(b"m"));
    let other = a
        .shared_secret(Protocol::Two, &c.public().unwrap())
        .unwrap();
    assert_ne!(other.authenticate(b"m"), first.authenticate(b"m"));
    assert_eq!(
        other.authenticate(b"m"),
        c.shared_secret(Protocol::Two, &a.public().unwrap())
            .unwrap()
            .authenticate(b"m")
    );
    // A regenerated key (what a PIN mismatch, reset or power cycle does) keeps nothing.
    let regenerated = KeyAgreementKey::generate(&mut Seq(9));
    assert!(!regenerated.keeps_a_secret());
}

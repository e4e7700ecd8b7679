use std::cell::Cell;

use super::*;

thread_local! {
    // Per test thread, so tests running in parallel do not move each other's clock.
    static NOW: Cell<Duration> = const { Cell::new(Duration::from_secs(1)) };
}

fn test_clock() -> Duration {
    NOW.with(Cell::get)
}

fn advance(d: Duration) {
    NOW.with(|n| n.set(n.get() + d));
}

fn sessions(idle: Option<Duration>) -> Sessions {
    let mut s = Sessions::new(idle);
    s.clock = test_clock;
    s
}

#[test]
fn the_verifier_binds_key_pin_and_label() {
    let k = MasterKey::from_bytes(&[7; 32]).unwrap();
    let other = MasterKey::from_bytes(&[8; 32]).unwrap();
    let pin = PinHash([1; 16]);
    let v = verifier(&k, &pin);
    // HMAC-SHA-256(key, label ‖ PinHash), computed independently.
    let mac_key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
    let mut msg = b"latchkey-keystore/session-pin/v1".to_vec();
    msg.extend_from_slice(&[1; 16]);
    assert_eq!(v.as_slice(), hmac::sign(&mac_key, &msg).as_ref());
    assert_ne!(*v, *verifier(&other, &pin));
    assert_ne!(*v, *verifier(&k, &PinHash([2; 16])));
}

#[test]
fn a_session_answers_the_right_pin_and_ends_at_a_wrong_one() {
    let mut s = sessions(Some(Duration::from_secs(60)));
    let k = MasterKey::from_bytes(&[7; 32]).unwrap();
    assert!(matches!(s.check(&PinHash([1; 16])), Check::NoSession));
    s.start(&k, &PinHash([1; 16]));
    assert!(s.is_live());
    match s.check(&PinHash([1; 16])) {
        Check::Right(got) => assert!(got.ct_eq(&k)),
        _ => panic!("the session's PIN was not recognised"),
    }
    assert!(matches!(s.check(&PinHash([2; 16])), Check::Wrong));
    assert!(!s.is_live());
    // Once ended, even the right PIN goes back to the slow path.
    assert!(matches!(s.check(&PinHash([1; 16])), Check::NoSession));
}

#[test]
fn a_session_expires_after_idle_and_each_right_pin_renews_it() {
    let idle = Duration::from_secs(60);
    let mut s = sessions(Some(idle));
    let k = MasterKey::from_bytes(&[7; 32]).unwrap();
    let pin = PinHash([1; 16]);
    s.start(&k, &pin);
    advance(idle - Duration::from_secs(1));
    assert!(!s.expire());
    assert!(matches!(s.check(&pin), Check::Right(_)));
    // Renewed at that check: another almost-idle period keeps it.
    advance(idle - Duration::from_secs(1));
    assert!(!s.expire());
    assert!(s.is_live());
    advance(Duration::from_secs(1));
    assert!(s.expire());
    assert!(!s.is_live());
    assert!(!s.expire());
    assert!(matches!(s.check(&pin), Check::NoSession));
}

#[test]
fn the_time_left_counts_down_to_the_expiry_a_timer_waits_for() {
    let idle = Duration::from_secs(60);
    let mut s = sessions(Some(idle));
    assert_eq!(s.remaining(), None);
    let k = MasterKey::from_bytes(&[7; 32]).unwrap();
    let pin = PinHash([1; 16]);
    s.start(&k, &pin);
    assert_eq!(s.remaining(), Some(idle));
    advance(Duration::from_secs(45));
    assert_eq!(s.remaining(), Some(Duration::from_secs(15)));
    // A right PIN renews the session: the full idle time again.
    assert!(matches!(s.check(&pin), Check::Right(_)));
    assert_eq!(s.remaining(), Some(idle));
    advance(idle + Duration::from_secs(3));
    assert_eq!(s.remaining(), Some(Duration::ZERO));
    assert!(s.expire());
    assert_eq!(s.remaining(), None);
    assert_eq!(sessions(None).remaining(), None);
}

#[test]
fn without_an_idle_time_there_are_no_sessions() {
    let mut s = sessions(None);
    let k = MasterKey::from_bytes(&[7; 32]).unwrap();
    s.start(&k, &PinHash([1; 16]));
    assert!(!s.is_live());
    assert!(matches!(s.check(&PinHash([1; 16])), Check::NoSession));
}

#[test]
fn ending_a_session_forgets_it() {
    let mut s = sessions(Some(Duration::from_secs(60)));
    let k = MasterKey::from_bytes(&[7; 32]).unwrap();
    s.start(&k, &PinHash([1; 16]));
    s.end();
    assert!(!s.is_live());
    assert!(matches!(s.check(&PinHash([1; 16])), Check::NoSession));
}

#[test]
fn the_boot_clock_moves_forward() {
    let a = boot_clock();
    let b = boot_clock();
    assert!(a > Duration::ZERO);
    assert!(b >= a);
}

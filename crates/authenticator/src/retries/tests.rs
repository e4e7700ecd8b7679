use super::*;

/// The full sequence from 8 retries: two mismatches then PIN_AUTH_BLOCKED, per power cycle,
/// until the counter reaches 0 and the PIN is blocked for good.
#[test]
fn lockout_sequence_is_exact() {
    let mut retries = MAX_PIN_RETRIES;
    let mut gate = RetryGate::default();
    let mut seen = Vec::new();
    for _attempt in 0..8 {
        if gate.check(retries) == Err(Status::PinAuthBlocked) {
            gate = RetryGate::default(); // power cycle
        }
        assert_eq!(gate.check(retries), Ok(()));
        retries -= 1;
        seen.push((gate.mismatch(retries), retries));
    }
    assert_eq!(
        seen,
        vec![
            (Status::PinInvalid, 7),
            (Status::PinInvalid, 6),
            (Status::PinAuthBlocked, 5),
            (Status::PinInvalid, 4),
            (Status::PinInvalid, 3),
            (Status::PinAuthBlocked, 2),
            (Status::PinInvalid, 1),
            (Status::PinBlocked, 0),
        ]
    );
    assert_eq!(gate.check(0), Err(Status::PinBlocked));
}

#[test]
fn a_match_clears_the_per_boot_counter() {
    let mut gate = RetryGate::default();
    assert_eq!(gate.mismatch(7), Status::PinInvalid);
    assert_eq!(gate.mismatch(6), Status::PinInvalid);
    gate.matched();
    assert_eq!(gate.mismatch(7), Status::PinInvalid);
    assert!(!gate.power_cycle_needed());
    assert_eq!(gate.mismatch(6), Status::PinInvalid);
    assert_eq!(gate.mismatch(5), Status::PinAuthBlocked);
    assert!(gate.power_cycle_needed());
    assert_eq!(gate.check(5), Err(Status::PinAuthBlocked));
}

use super::*;

fn fresh(perms: u8, rp: Option<&str>) -> TokenState {
    let mut t = TokenState::new([7; 32]);
    t.begin_using(false, 1_000);
    t.set_permissions(perms, rp.map(str::to_owned));
    t
}

#[test]
fn unused_token_expires_after_the_initial_usage_limit() {
    let mut t = fresh(Permissions::MAKE_CREDENTIAL, None);
    assert!(!t.observe(1_000 + INITIAL_USAGE_TIME_LIMIT_MS - 1));
    assert!(t.in_use());
    assert!(t.observe(1_000 + INITIAL_USAGE_TIME_LIMIT_MS));
    assert!(!t.in_use());
    assert_eq!(t.permissions(), Permissions(0));
    assert_eq!(
        t.authorize(Permissions::MAKE_CREDENTIAL, Some("a.example"), true),
        Err(TokenDenied::NotInUse)
    );
}

#[test]
fn used_token_lives_until_the_max_usage_period() {
    let mut t = fresh(Permissions::GET_ASSERTION, None);
    t.observe(2_000);
    t.authorize(Permissions::GET_ASSERTION, Some("a.example"), true)
        .unwrap();
    assert!(!t.observe(1_000 + 5 * 60_000));
    assert!(t.in_use());
    assert!(!t.user_present());
    assert!(t.observe(1_000 + MAX_USAGE_TIME_PERIOD_MS));
    assert!(!t.in_use());
}

#[test]
fn first_use_binds_the_rp_id() {
    let mut t = fresh(
        Permissions::MAKE_CREDENTIAL | Permissions::GET_ASSERTION,
        None,
    );
    t.authorize(Permissions::GET_ASSERTION, Some("a.example"), true)
        .unwrap();
    assert_eq!(t.rp_id(), Some("a.example"));
    assert_eq!(
        t.authorize(Permissions::GET_ASSERTION, Some("b.example"), true),
        Err(TokenDenied::Permission)
    );
    t.authorize(Permissions::MAKE_CREDENTIAL, Some("a.example"), true)
        .unwrap();
}

#[test]
fn permissions_are_checked_and_lbw_survives_clearing() {
    let mut t = fresh(
        Permissions::GET_ASSERTION | Permissions::LARGE_BLOB_WRITE,
        Some("a.example"),
    );
    assert_eq!(
        t.authorize(Permissions::CREDENTIAL_MANAGEMENT, None, false),
        Err(TokenDenied::Permission)
    );
    t.clear_permissions_except_lbw();
    assert_eq!(t.permissions(), Permissions(Permissions::LARGE_BLOB_WRITE));
    t.authorize(Permissions::LARGE_BLOB_WRITE, None, false)
        .unwrap();
}

#[test]
fn user_present_flag_is_cleared_by_time_and_by_use() {
    let mut t = TokenState::new([1; 32]);
    t.begin_using(true, 0);
    assert!(t.user_present());
    t.clear_user_present();
    assert!(!t.user_present());
    t.begin_using(true, 0);
    t.observe(USER_PRESENT_TIME_LIMIT_MS);
    assert!(!t.user_present());
    assert!(format!("{t:?}").contains("<redacted>"));
}

//! The call limits on tokio's paused clock: the waits are minutes of virtual time, no sleeps.

use std::sync::mpsc;

use super::*;

fn limiter(total: usize, per_caller: usize, wait: Duration) -> CallLimiter {
    CallLimiter::new(CallLimits {
        total,
        per_caller,
        wait,
    })
}

/// Work that holds its place until `release` is sent (or dropped).
fn held(release: mpsc::Receiver<()>) -> impl FnOnce() -> u8 + Send + 'static {
    move || {
        let _ = release.recv();
        7
    }
}

/// Lets the call `caller` started take its place.
async fn placed(limits: &CallLimiter, caller: &str) {
    let key = CallerKey::new(caller);
    while limits.by_caller.lock().unwrap().get(&key).is_none() {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_caller_beyond_its_share_is_refused_at_once_and_others_are_not() {
    let limits = Arc::new(limiter(4, 1, Duration::from_secs(600)));
    let (release, rx) = mpsc::channel();
    let first = {
        let limits = limits.clone();
        tokio::spawn(async move { limits.run(CallerKey::new("a"), held(rx)).await })
    };
    placed(&limits, "a").await;
    let refused = limits.run(CallerKey::new("a"), || 1).await;
    assert_eq!(refused.unwrap_err(), Busy::CallerShare(1));
    let other = limits.run(CallerKey::new("b"), || 2).await;
    assert_eq!(other.unwrap().unwrap(), 2);
    release.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap().unwrap(), 7);
    // Its place is free again.
    assert_eq!(
        limits
            .run(CallerKey::new("a"), || 3)
            .await
            .unwrap()
            .unwrap(),
        3
    );
}

/// Runs a call in its own task and moves the paused clock past the wait bound. (A running
/// blocking thread keeps tokio from advancing a paused clock on its own.)
async fn past_the_bound<T: Send + 'static>(
    limits: &Arc<CallLimiter>,
    caller: &str,
    work: impl FnOnce() -> T + Send + 'static,
    wait: Duration,
) -> Result<Result<T, tokio::task::JoinError>, Busy> {
    let call = {
        let (limits, caller) = (limits.clone(), CallerKey::new(caller));
        tokio::spawn(async move { limits.run(caller, work).await })
    };
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::advance(wait + Duration::from_millis(1)).await;
    call.await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_call_waiting_past_the_bound_fails_as_busy_and_keeps_its_place_until_done() {
    let wait = Duration::from_secs(300);
    let limits = Arc::new(limiter(1, 2, wait));
    let (release, rx) = mpsc::channel();
    // The work outlasts the wait: five virtual minutes pass at once.
    let timed_out = past_the_bound(&limits, "a", held(rx), wait).await;
    assert_eq!(timed_out.unwrap_err(), Busy::Timeout(wait));
    // Its thread still runs, so it still holds the one slot: the next call waits out its bound.
    let queued = past_the_bound(&limits, "b", || 1, wait).await;
    assert_eq!(queued.unwrap_err(), Busy::Timeout(wait));
    release.send(()).unwrap();
    // Once the first thread is done the slot is free.
    loop {
        match limits.run(CallerKey::new("b"), || 2).await {
            Ok(r) => {
                assert_eq!(r.unwrap(), 2);
                break;
            }
            Err(Busy::Timeout(_)) => continue,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn limits_below_one_are_raised_to_one() {
    let limits = limiter(4, 2, Duration::from_secs(5));
    limits.set(CallLimits {
        total: 0,
        per_caller: 0,
        wait: Duration::from_secs(1),
    });
    let (set, slots) = limits.state.lock().unwrap().clone();
    assert_eq!((set.total, set.per_caller), (1, 1));
    assert_eq!(slots.available_permits(), 1);
}

/// A method's view of a call: its result, `…Error.Busy` when it did not run, `…Error.Failed`
/// naming the thread when its work panicked.
#[tokio::test(start_paused = true)]
async fn a_method_call_maps_refusal_to_busy_and_a_panic_to_failed() {
    let limits = Arc::new(limiter(4, 1, Duration::from_secs(600)));
    assert!(matches!(
        limits.call(CallerKey::new("a"), "listing", || 5).await,
        Ok(5)
    ));
    let (release, rx) = mpsc::channel();
    let first = {
        let limits = limits.clone();
        tokio::spawn(async move { limits.call(CallerKey::new("a"), "listing", held(rx)).await })
    };
    placed(&limits, "a").await;
    match limits.call(CallerKey::new("a"), "listing", || 1).await {
        Err(Error::Busy(m)) => assert_eq!(m, Busy::CallerShare(1).to_string()),
        other => panic!("expected Busy, got {other:?}"),
    }
    release.send(()).unwrap();
    assert!(matches!(first.await.unwrap(), Ok(7)));
    let panicked = limits
        .call(CallerKey::new("b"), "deleting", || -> u8 { panic!("boom") })
        .await;
    match panicked {
        Err(Error::Failed(m)) => assert!(m.starts_with("the deleting thread failed: "), "{m}"),
        other => panic!("expected Failed, got {other:?}"),
    }
}

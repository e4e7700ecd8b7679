use super::*;

#[test]
fn cancelling_reaches_linked_handles_only_while_linked() {
    let token = CancelToken::new();
    let held = CancelHandle::new();
    let later = CancelHandle::new();
    let link = token.link(&held);
    drop(token.link(&later));
    assert!(!held.is_cancelled());
    token.cancel();
    assert!(token.is_cancelled());
    assert!(held.is_cancelled(), "the linked device is cancelled");
    assert!(!later.is_cancelled(), "an ended link is not");
    drop(link);

    // A handle linked after the cancel is cancelled at once.
    let late = CancelHandle::new();
    let _link = token.link(&late);
    assert!(late.is_cancelled());
}

#[test]
fn a_device_reused_by_the_next_request_is_not_cancelled_by_the_previous_one() {
    let device = CancelHandle::new();
    let first = CancelToken::new();
    drop(first.link(&device));
    let second = CancelToken::new();
    let _link = second.link(&device);
    first.cancel();
    assert!(!device.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn awaiting_ends_with_the_cancel() {
    let token = CancelToken::new();
    let waiter = {
        let token = token.clone();
        tokio::spawn(async move { token.cancelled().await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    token.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
        .await
        .unwrap()
        .unwrap();
    // Already cancelled: returns at once.
    token.cancelled().await;
}

#[test]
fn hooks_run_once_at_the_cancel_or_at_once_after_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let token = CancelToken::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    token.on_cancel(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    token.cancel();
    token.cancel();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let r = runs.clone();
    token.on_cancel(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

//! A security key held by a request's task between its runs on blocking threads.
//!
//! Letting go of a key can block: a key opened in the device worker holds the worker
//! (`latchkey_worker::device_worker::RemoteKey`), and the last key of a worker that was replaced
//! (its reach changed, [`super::KeyAccess`]) stops that worker, waiting up to two seconds for it
//! to exit. A task that let go of such a key on a runtime thread would stall every other task
//! queued there. The task holds its key in a [`Held`] instead, and the key is dropped on a
//! blocking thread: where the ceremony ends, the task waits for that ([`Held::let_go`]), so the
//! key is closed before the ceremony counts as over and another may open it; where the task's
//! future is dropped while the prompt is asked for a PIN or an account (the request was closed or
//! timed out), nothing can wait, and the key goes on its own. Runs on the key go through
//! [`Held::run_on`], which sends the key to the run's thread and back inside a `Held`, so the key
//! is never bare on the runtime's side: a run the call limiter refuses, or a finished run whose
//! result is dropped with the request, lets go of it the same way.

/// A value dropped on a blocking thread when this is dropped inside a tokio runtime, and in
/// place outside one (module doc).
pub(crate) struct Held<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> Default for Held<T> {
    /// Holds nothing yet.
    fn default() -> Self {
        Self(None)
    }
}

impl<T: Send + 'static> Held<T> {
    /// Holds `value`.
    pub(crate) fn new(value: T) -> Self {
        Self(Some(value))
    }

    /// The value held, to work on.
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        self.0.as_mut()
    }

    /// The value held, or the one `open` gives, held from now on.
    pub(crate) fn get_or_try_insert<E>(
        &mut self,
        open: impl FnOnce() -> Result<T, E>,
    ) -> Result<&mut T, E> {
        let value = match self.0.take() {
            Some(value) => value,
            None => open()?,
        };
        Ok(self.0.insert(value))
    }

    /// Runs `work` on a blocking thread that `start` provides (tokio's `spawn_blocking`, the
    /// call limiter's `run`), lending it what is held: the value goes there inside a `Held` and
    /// comes back in one. So wherever the job or its result is dropped without coming back — a
    /// run the limiter refuses, a result left in a `JoinHandle` whose future was dropped — the
    /// value is let go as [`Drop`] does, off the runtime's thread. `work` may also open one there
    /// ([`Self::get_or_try_insert`]: a key not open yet). Given back, it is held here again;
    /// after an `Err`, nothing is.
    pub(crate) async fn run_on<R, E, S, F>(
        &mut self,
        start: S,
        work: impl FnOnce(&mut Held<T>) -> R + Send + 'static,
    ) -> Result<R, E>
    where
        R: Send + 'static,
        S: FnOnce(Job<T, R>) -> F,
        F: std::future::Future<Output = Result<(Held<T>, R), E>>,
    {
        let mut lent = Held(self.0.take());
        let job: Job<T, R> = Box::new(move || {
            let out = work(&mut lent);
            (lent, out)
        });
        let (back, out) = start(job).await?;
        self.0 = back.into_inner();
        Ok(out)
    }

    /// The value, no longer held.
    fn into_inner(mut self) -> Option<T> {
        self.0.take()
    }

    /// Lets go of the value on a blocking thread and waits until it is gone: where a request
    /// ends normally, so that its key is closed before the ceremony counts as over (and another
    /// may open the key). [`Drop`] does not wait: a future dropped cannot.
    pub(crate) async fn let_go(mut self) {
        let Some(value) = self.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = tokio::task::spawn_blocking(move || drop(value)).await;
        } else {
            drop(value);
        }
    }
}

/// A run of [`Held::run_on`], for the blocking thread: the lent value comes back with the result.
pub(crate) type Job<T, R> = Box<dyn FnOnce() -> (Held<T>, R) + Send>;

impl<T: Send + 'static> Drop for Held<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            // A runtime shutting down drops the closure, and with it the value, right here.
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(value))),
            Err(_) => drop(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Held;
    use std::sync::mpsc;
    use std::thread::ThreadId;
    use std::time::Duration;

    /// Says on which thread it was dropped.
    struct Probe(mpsc::Sender<ThreadId>);

    impl Drop for Probe {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().id());
        }
    }

    /// A runtime whose tasks all run on its one worker thread.
    fn one_worker() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap()
    }

    fn dropped_on(rx: &mpsc::Receiver<ThreadId>) -> ThreadId {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the held value was never dropped")
    }

    /// Runs `task` with a probe as a task on a one-worker runtime; asserts the probe was
    /// dropped on another thread than the task's.
    fn dropped_off_the_task_thread<F>(task: impl FnOnce(Probe) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let runtime = one_worker();
        let (tx, rx) = mpsc::channel();
        let task = task(Probe(tx));
        let task_thread = runtime.block_on(async move {
            tokio::spawn(async move {
                task.await;
                std::thread::current().id()
            })
            .await
            .unwrap()
        });
        assert_ne!(dropped_on(&rx), task_thread);
    }

    #[test]
    fn a_value_let_go_on_a_runtime_thread_is_dropped_on_another() {
        dropped_off_the_task_thread(|probe| async move { drop(Held::new(probe)) });
    }

    #[test]
    fn a_task_dropped_while_it_waits_lets_go_of_its_value_off_the_runtime_thread() {
        // As a request closed while the prompt is asked: the ceremony's future is dropped with
        // the key it holds.
        let runtime = one_worker();
        let (tx, rx) = mpsc::channel();
        let (started_tx, started_rx) = mpsc::channel();
        runtime.block_on(async move {
            let task = tokio::spawn(async move {
                let _held = Held::new(Probe(tx));
                let _ = started_tx.send(std::thread::current().id());
                std::future::pending::<()>().await;
            });
            let task_thread = tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
                .await
                .unwrap();
            task.abort();
            let _ = task.await;
            let dropped = tokio::task::spawn_blocking(move || dropped_on(&rx))
                .await
                .unwrap();
            assert_ne!(dropped, task_thread);
        });
    }

    #[test]
    fn let_go_waits_until_the_value_is_gone_on_another_thread() {
        let runtime = one_worker();
        let (tx, rx) = mpsc::channel();
        let (task_thread, dropped) = runtime.block_on(async move {
            tokio::spawn(async move {
                Held::new(Probe(tx)).let_go().await;
                // Gone already, not merely on its way.
                (std::thread::current().id(), rx.try_recv().expect("dropped"))
            })
            .await
            .unwrap()
        });
        assert_ne!(dropped, task_thread);
    }

    #[test]
    fn outside_a_runtime_the_value_is_dropped_in_place() {
        let (tx, rx) = mpsc::channel();
        drop(Held::new(Probe(tx)));
        assert_eq!(
            rx.try_recv().expect("dropped at once"),
            std::thread::current().id()
        );
    }

    #[test]
    fn a_value_is_opened_only_when_none_is_held_and_a_failed_open_holds_nothing() {
        let (tx, rx) = mpsc::channel();
        let mut held: Held<Probe> = Held::default();
        assert!(held.get_mut().is_none(), "nothing held yet");
        assert!(matches!(
            held.get_or_try_insert(|| Err("gone")),
            Err("gone")
        ));
        assert!(held.get_mut().is_none());
        assert!(held.get_or_try_insert(|| Ok::<_, ()>(Probe(tx))).is_ok());
        assert!(held.get_mut().is_some());
        let mut opened_again = false;
        let again = held.get_or_try_insert(|| {
            opened_again = true;
            Err(())
        });
        assert!(again.is_ok() && !opened_again, "the held value is used");
        assert!(rx.try_recv().is_err(), "nothing dropped yet");
        drop(held);
        assert_eq!(dropped_on(&rx), std::thread::current().id());
    }

    #[test]
    fn a_run_borrows_the_value_on_a_blocking_thread_and_gives_it_back() {
        let runtime = one_worker();
        let (tx, rx) = mpsc::channel();
        runtime.block_on(async move {
            tokio::spawn(async move {
                let mut held = Held::new(Probe(tx));
                let task_thread = std::thread::current().id();
                let ran_on = held
                    .run_on(tokio::task::spawn_blocking, |lent| {
                        assert!(lent.get_mut().is_some(), "the value is lent");
                        std::thread::current().id()
                    })
                    .await
                    .unwrap();
                assert_ne!(ran_on, task_thread);
                assert!(held.get_mut().is_some(), "given back");
                assert!(rx.try_recv().is_err(), "and not dropped");
                // A run may put a value where none was.
                let mut empty: Held<u8> = Held::default();
                let put = empty
                    .run_on(tokio::task::spawn_blocking, |lent| {
                        lent.get_or_try_insert(|| Ok::<_, ()>(7)).is_ok()
                    })
                    .await;
                assert!(put.unwrap());
                assert_eq!(empty.get_mut(), Some(&mut 7));
            })
            .await
            .unwrap();
        });
    }

    #[test]
    fn a_run_refused_before_it_starts_lets_go_of_the_value_off_the_runtime_thread() {
        dropped_off_the_task_thread(|probe| async move {
            let mut held = Held::new(probe);
            // As the call limiter refusing: the job is dropped here, unrun.
            let refused = held
                .run_on(
                    |job| async move {
                        drop(job);
                        Err::<(Held<Probe>, ()), _>("refused")
                    },
                    |_| (),
                )
                .await;
            assert_eq!(refused.unwrap_err(), "refused");
            assert!(held.get_mut().is_none());
        });
    }

    #[test]
    fn a_run_the_call_limiter_refuses_lets_go_of_the_value_off_the_runtime_thread() {
        use crate::limits::{Busy, CallLimiter, CallLimits};
        use crate::queue::CallerKey;
        let runtime = one_worker();
        let (tx, rx) = mpsc::channel();
        let task_thread = runtime.block_on(async move {
            let limiter = std::sync::Arc::new(CallLimiter::new(CallLimits {
                total: 4,
                per_caller: 1,
                wait: Duration::from_secs(60),
            }));
            // The caller's one place is taken by a call that waits to be released.
            let (started_tx, started_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let first = {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter
                        .run(CallerKey::new("a"), move || {
                            let _ = started_tx.send(());
                            let _ = release_rx.recv();
                        })
                        .await
                })
            };
            tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
                .await
                .unwrap();
            let task_thread = tokio::spawn({
                let limiter = limiter.clone();
                async move {
                    let mut held = Held::new(Probe(tx));
                    let refused = held
                        .run_on(
                            |job| async {
                                match limiter.run(CallerKey::new("a"), job).await {
                                    Ok(Ok(back)) => Ok(back),
                                    Ok(Err(_)) => Err(None),
                                    Err(busy) => Err(Some(busy)),
                                }
                            },
                            |_| (),
                        )
                        .await;
                    assert_eq!(refused.unwrap_err(), Some(Busy::CallerShare(1)));
                    assert!(held.get_mut().is_none());
                    std::thread::current().id()
                }
            })
            .await
            .unwrap();
            release_tx.send(()).unwrap();
            first.await.unwrap().unwrap().unwrap();
            task_thread
        });
        assert_ne!(dropped_on(&rx), task_thread);
    }

    #[test]
    fn a_finished_run_whose_result_is_dropped_with_its_task_lets_go_off_the_runtime_thread() {
        // As a request closed at the instant its run ended: the key is back in the run's
        // result, which the task's future drops.
        let runtime = one_worker();
        let (tx, rx) = mpsc::channel();
        let (finished_tx, finished_rx) = mpsc::channel();
        let (thread_tx, thread_rx) = mpsc::channel();
        runtime.block_on(async move {
            let task = tokio::spawn(async move {
                let _ = thread_tx.send(std::thread::current().id());
                let mut held = Held::new(Probe(tx));
                let _ = held
                    .run_on(
                        |job| {
                            let handle = tokio::task::spawn_blocking(job);
                            async move {
                                // The run finished, its result (and the value) in its handle;
                                // the task is dropped before it takes them.
                                while !handle.is_finished() {
                                    tokio::task::yield_now().await;
                                }
                                let _ = finished_tx.send(());
                                std::future::pending::<()>().await;
                                handle.await
                            }
                        },
                        |_| (),
                    )
                    .await;
            });
            tokio::task::spawn_blocking(move || finished_rx.recv().unwrap())
                .await
                .unwrap();
            task.abort();
            let _ = task.await;
        });
        let task_thread = thread_rx.recv().unwrap();
        assert_ne!(dropped_on(&rx), task_thread);
    }
}

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
//! timed out), nothing can wait, and the key goes on its own.

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

    /// The value, for a run on a blocking thread (which gives it back with [`Self::put`]);
    /// `None` when nothing was put yet or a run did not give it back.
    pub(crate) fn take(&mut self) -> Option<T> {
        self.0.take()
    }

    /// Holds `value` again; one held already is let go as [`Drop`] does.
    pub(crate) fn put(&mut self, value: T) {
        let _before = std::mem::replace(self, Self::new(value));
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
            .build()
            .unwrap()
    }

    fn dropped_on(rx: &mpsc::Receiver<ThreadId>) -> ThreadId {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the held value was never dropped")
    }

    #[test]
    fn a_value_let_go_on_a_runtime_thread_is_dropped_on_another() {
        let runtime = one_worker();
        let (tx, rx) = mpsc::channel();
        let task_thread = runtime.block_on(async move {
            tokio::spawn(async move {
                let held = Held::new(Probe(tx));
                drop(held);
                std::thread::current().id()
            })
            .await
            .unwrap()
        });
        assert_ne!(dropped_on(&rx), task_thread);
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
    fn taken_values_are_the_takers_and_put_back_ones_are_held_again() {
        let (tx, rx) = mpsc::channel();
        let mut held = Held::default();
        assert!(held.take().is_none(), "nothing held yet");
        held.put(Probe(tx));
        let probe = held.take().expect("held");
        assert!(held.take().is_none());
        held.put(probe);
        assert!(rx.try_recv().is_err(), "nothing dropped yet");
        drop(held);
        assert_eq!(dropped_on(&rx), std::thread::current().id());
    }
}

//! How long latchkeyd waited on the prompt, per request: the `Consent` and `RequestPin` calls,
//! which latchkeyd times and logs at `debug` (`phase="consent"`/`"pin"`, `us=…`).
//!
//! A prompt answers at human speed; the scripted prompt answers at once, so in row 3 its round
//! trips sit in the measured time. This subscriber adds up just those two phases so row 3 can
//! also report latchkeyd's own cost without them. It formats nothing and is interested in no
//! other event, so installing it costs the measured path next to nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// Microseconds latchkeyd spent waiting on the prompt since the last [`take`].
static WAITED_US: AtomicU64 = AtomicU64::new(0);

/// Every phase latchkeyd timed since the last [`take_phases`]: its name, how often, the sum of
/// its microseconds.
static PHASES: std::sync::Mutex<Vec<(String, u64, u64)>> = std::sync::Mutex::new(Vec::new());

/// The phases recorded since the last call (name, count, total µs), in first-seen order, and
/// resets them: where a request's time went.
pub fn take_phases() -> Vec<(String, u64, u64)> {
    std::mem::take(
        &mut *PHASES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Installs the subscriber for the process; `false` if another one was installed first (then
/// [`take`] stays at zero and the rows that need it say so).
pub fn install() -> bool {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(PromptTime).is_ok())
}

/// The prompt wait recorded since the last call, and resets it.
pub fn take() -> std::time::Duration {
    std::time::Duration::from_micros(WAITED_US.swap(0, Ordering::SeqCst))
}

struct PromptTime;

fn is_phase(meta: &Metadata<'_>) -> bool {
    meta.is_event()
        && meta.target().starts_with("latchkey_daemon")
        && meta.fields().field("phase").is_some()
        && meta.fields().field("us").is_some()
}

#[derive(Default)]
struct Phase {
    name: String,
    prompt: bool,
    us: u64,
}

impl Visit for Phase {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "phase" {
            self.prompt = matches!(value, "consent" | "pin");
            value.clone_into(&mut self.name);
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "us" {
            self.us = value;
        }
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl Subscriber for PromptTime {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_phase(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        is_phase(meta)
    }
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _span: &Id, _values: &Record<'_>) {}
    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut phase = Phase::default();
        event.record(&mut phase);
        if phase.prompt {
            WAITED_US.fetch_add(phase.us, Ordering::SeqCst);
        }
        let mut phases = PHASES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match phases.iter_mut().find(|(n, _, _)| *n == phase.name) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += phase.us;
            }
            None => phases.push((phase.name, 1, phase.us)),
        }
    }
    fn enter(&self, _span: &Id) {}
    fn exit(&self, _span: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_consent_and_pin_phases_count() {
        let dispatch = tracing::Dispatch::new(PromptTime);
        take();
        tracing::dispatcher::with_default(&dispatch, || {
            // Targets are this module's; is_phase only accepts latchkey_daemon's events.
            tracing::debug!(target: "latchkey_daemon::request", phase = "consent", us = 200_u64, "phase");
            tracing::debug!(target: "latchkey_daemon::prompt", phase = "pin", us = 50_u64, "phase");
            tracing::debug!(target: "latchkey_daemon::request", phase = "ceremony", us = 900_u64, "phase");
            tracing::debug!(target: "other", phase = "pin", us = 7_u64, "phase");
        });
        assert_eq!(take(), std::time::Duration::from_micros(250));
        assert_eq!(take(), std::time::Duration::ZERO);
        assert_eq!(
            take_phases(),
            [
                ("consent".to_owned(), 1, 200),
                ("pin".to_owned(), 1, 50),
                ("ceremony".to_owned(), 1, 900)
            ]
        );
        assert!(take_phases().is_empty());
    }
}

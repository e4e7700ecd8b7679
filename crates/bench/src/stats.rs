//! Timing loops and order statistics.

use std::time::{Duration, Instant};

use crate::BenchError;

/// How long to measure one row.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Untimed runs first (caches, lazy initialisation, allocator).
    pub warmup: usize,
    /// Timed runs wanted.
    pub iterations: usize,
    /// Stop early once this much time is spent in timed runs (at least `min_iterations` run).
    pub max_time: Duration,
    /// Timed runs made whatever `max_time` says.
    pub min_iterations: usize,
}

impl Budget {
    /// The full run: enough iterations for a stable p99 of a sub-millisecond operation.
    pub fn full(iterations: usize) -> Self {
        Budget {
            warmup: (iterations / 20).max(3),
            iterations,
            max_time: Duration::from_secs(20),
            min_iterations: iterations.min(200),
        }
    }

    /// The smoke test: a handful of iterations on the same code path.
    pub fn quick() -> Self {
        Budget {
            warmup: 1,
            iterations: 5,
            max_time: Duration::from_secs(2),
            min_iterations: 3,
        }
    }

    /// This budget with `iterations` scaled by `num / den` (for rows much slower than the rest).
    pub fn scaled(self, num: usize, den: usize) -> Self {
        let scale = |n: usize| (n * num / den.max(1)).max(1);
        Budget {
            warmup: scale(self.warmup),
            iterations: scale(self.iterations),
            max_time: self.max_time,
            min_iterations: scale(self.min_iterations).min(scale(self.iterations)),
        }
    }
}

/// Timed runs of one operation, sorted.
#[derive(Debug, Clone)]
pub struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    /// Samples from raw durations.
    pub fn from_durations(mut d: Vec<Duration>) -> Option<Self> {
        if d.is_empty() {
            return None;
        }
        d.sort_unstable();
        Some(Samples { sorted: d })
    }

    /// How many timed runs.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Never true: samples hold at least one run.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `q`-quantile by nearest rank (q in 0..=1).
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.sorted.len();
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }

    /// The median (nearest rank).
    pub fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The 99th percentile (nearest rank).
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// Operations per second at the median.
    pub fn per_second(&self) -> f64 {
        let m = self.median().as_secs_f64();
        if m > 0.0 {
            1.0 / m
        } else {
            f64::INFINITY
        }
    }
}

/// Times `op` under `budget`; each call is one timed run. `op` may do untimed setup before it
/// starts the clock by returning a closure: use [`measure_with_setup`] for that.
pub fn measure(
    budget: Budget,
    mut op: impl FnMut() -> Result<(), BenchError>,
) -> Result<Samples, BenchError> {
    measure_with_setup(budget, &mut (), |_| Ok(()), |_, ()| op())
}

/// Times `op(state, setup(state))` under `budget`; `setup` is not timed.
pub fn measure_with_setup<S, T>(
    budget: Budget,
    state: &mut S,
    mut setup: impl FnMut(&mut S) -> Result<T, BenchError>,
    mut op: impl FnMut(&mut S, T) -> Result<(), BenchError>,
) -> Result<Samples, BenchError> {
    for _ in 0..budget.warmup {
        let input = setup(state)?;
        op(state, input)?;
    }
    let mut times = Vec::with_capacity(budget.iterations);
    let mut spent = Duration::ZERO;
    while times.len() < budget.iterations
        && (spent < budget.max_time || times.len() < budget.min_iterations)
    {
        let input = setup(state)?;
        let start = Instant::now();
        op(state, input)?;
        let t = start.elapsed();
        spent += t;
        times.push(t);
    }
    Samples::from_durations(times).ok_or(BenchError::Setup {
        what: "timing",
        detail: "no iteration ran".into(),
    })
}

/// Times `op` under `budget` like [`measure`], where each run also reports a part of its time
/// spent waiting on something else (e.g. a prompt): returns the whole times and the times less
/// that part, per run (so the second median is the median of differences).
pub fn measure_excluding(
    budget: Budget,
    mut op: impl FnMut() -> Result<Duration, BenchError>,
) -> Result<(Samples, Samples), BenchError> {
    for _ in 0..budget.warmup {
        op()?;
    }
    let mut whole = Vec::with_capacity(budget.iterations);
    let mut net = Vec::with_capacity(budget.iterations);
    let mut spent = Duration::ZERO;
    while whole.len() < budget.iterations
        && (spent < budget.max_time || whole.len() < budget.min_iterations)
    {
        let start = Instant::now();
        let excluded = op()?;
        let t = start.elapsed();
        spent += t;
        whole.push(t);
        net.push(t.saturating_sub(excluded));
    }
    let none = || BenchError::Setup {
        what: "timing",
        detail: "no iteration ran".into(),
    };
    Ok((
        Samples::from_durations(whole).ok_or_else(none)?,
        Samples::from_durations(net).ok_or_else(none)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Samples {
        Samples::from_durations(v.iter().map(|&m| Duration::from_millis(m)).collect()).unwrap()
    }

    #[test]
    fn excluding_subtracts_per_run() {
        let mut n = 0u64;
        let (whole, net) = measure_excluding(Budget::quick(), || {
            n += 1;
            std::thread::sleep(Duration::from_millis(2));
            Ok(Duration::from_millis(if n % 2 == 0 { 1 } else { 100 }))
        })
        .unwrap();
        assert!(whole.median() >= Duration::from_millis(2));
        // A run can't go below zero, and the 1 ms exclusions leave at least 1 ms.
        assert_eq!(net.quantile(0.0), Duration::ZERO);
        assert!(net.quantile(1.0) >= Duration::from_millis(1));
        assert!(net.quantile(1.0) < whole.quantile(1.0));
    }

    #[test]
    fn median_and_p99_are_nearest_rank() {
        let s = ms(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(s.median(), Duration::from_millis(50));
        assert_eq!(s.p99(), Duration::from_millis(99));
        assert_eq!(s.quantile(1.0), Duration::from_millis(100));
        assert_eq!(s.quantile(0.0), Duration::from_millis(1));
        let one = ms(&[7]);
        assert_eq!(one.median(), Duration::from_millis(7));
        assert_eq!(one.p99(), Duration::from_millis(7));
        assert!((ms(&[2, 2, 2]).per_second() - 500.0).abs() < 1e-6);
    }

    #[test]
    fn no_samples_is_none() {
        assert!(Samples::from_durations(Vec::new()).is_none());
    }

    #[test]
    fn measure_runs_warmup_then_the_budget_and_stops_on_error() {
        let mut calls = 0;
        let b = Budget {
            warmup: 2,
            iterations: 10,
            max_time: Duration::from_secs(10),
            min_iterations: 1,
        };
        let s = measure(b, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((s.len(), calls), (10, 12));
        let mut left = 3;
        let e = measure(b, || {
            left -= 1;
            if left == 0 {
                Err(BenchError::Ceremony("boom".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "ceremony: boom");
    }

    #[test]
    fn max_time_caps_slow_rows_but_min_iterations_still_run() {
        let b = Budget {
            warmup: 0,
            iterations: 1000,
            max_time: Duration::from_millis(1),
            min_iterations: 4,
        };
        let s = measure(b, || {
            std::thread::sleep(Duration::from_millis(2));
            Ok(())
        })
        .unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(Budget::quick().scaled(1, 5).iterations, 1);
    }
}

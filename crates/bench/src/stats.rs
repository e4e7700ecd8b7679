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
        nearest_rank(&self.sorted, q)
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

/// The `q`-quantile (q in 0..=1) of `sorted` by nearest rank: of [`Samples`] and of [`Ratios`],
/// which both hold at least one value.
fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> T {
    let n = sorted.len();
    let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
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
    setup: impl FnMut(&mut S) -> Result<T, BenchError>,
    op: impl FnMut(&mut S, T) -> Result<(), BenchError>,
) -> Result<Samples, BenchError> {
    measure_side(budget, timed_after(state, setup, op))
}

/// One side of an [interleaved](measure_interleaved) measurement: each call sets up untimed,
/// times one run, and returns that run's time. [`timed_after`] builds one from a set-up and an
/// operation.
pub type Side<'a> = Box<dyn FnMut() -> Result<Duration, BenchError> + 'a>;

/// A [`Side`] that runs `setup(state)` untimed, then times `op(state, what setup returned)`, as
/// [`measure_with_setup`] does (`op` takes its input, so dropping it is timed too).
pub fn timed_after<'a, S, T>(
    state: &'a mut S,
    mut setup: impl FnMut(&mut S) -> Result<T, BenchError> + 'a,
    mut op: impl FnMut(&mut S, T) -> Result<(), BenchError> + 'a,
) -> Side<'a> {
    Box::new(move || {
        let input = setup(state)?;
        let start = Instant::now();
        op(state, input)?;
        Ok(start.elapsed())
    })
}

/// Times `side` alone under `budget`.
pub fn measure_side(budget: Budget, mut side: Side<'_>) -> Result<Samples, BenchError> {
    for _ in 0..budget.warmup {
        side()?;
    }
    let mut times = Vec::with_capacity(budget.iterations);
    let mut spent = Duration::ZERO;
    while times.len() < budget.iterations
        && (spent < budget.max_time || times.len() < budget.min_iterations)
    {
        let t = side()?;
        spent += t;
        times.push(t);
    }
    Samples::from_durations(times).ok_or_else(no_run)
}

fn no_run() -> BenchError {
    BenchError::Setup {
        what: "timing",
        detail: "no iteration ran".into(),
    }
}

/// Ratios of paired runs, sorted.
#[derive(Debug, Clone)]
pub struct Ratios {
    sorted: Vec<f64>,
}

impl Ratios {
    /// How many pairs.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Never true: ratios hold at least one pair.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `q`-quantile by nearest rank (q in 0..=1).
    pub fn quantile(&self, q: f64) -> f64 {
        nearest_rank(&self.sorted, q)
    }

    /// The median (nearest rank).
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

/// Two operations timed in one loop, their runs alternating (A, B, A, B, …) so that whatever
/// else the machine does drifts over both alike: each side's samples, and the ratio A ÷ B of
/// each pair (the `i`th run of A over the `i`th of B, taken one after the other).
#[derive(Debug, Clone)]
pub struct Interleaved {
    /// A's runs.
    pub a: Samples,
    /// B's runs.
    pub b: Samples,
    /// A ÷ B, pair by pair.
    pub ratios: Ratios,
}

/// Times `a` and `b` alternately under `budget` (warm-up runs alternate too; `max_time` counts
/// both sides' timed runs). Each side's set-up stays untimed, as in [`measure_with_setup`].
pub fn measure_interleaved(
    budget: Budget,
    mut a: Side<'_>,
    mut b: Side<'_>,
) -> Result<Interleaved, BenchError> {
    for _ in 0..budget.warmup {
        a()?;
        b()?;
    }
    let mut times_a = Vec::with_capacity(budget.iterations);
    let mut times_b = Vec::with_capacity(budget.iterations);
    let mut ratios = Vec::with_capacity(budget.iterations);
    let mut spent = Duration::ZERO;
    while times_a.len() < budget.iterations
        && (spent < budget.max_time || times_a.len() < budget.min_iterations)
    {
        let ta = a()?;
        let tb = b()?;
        spent += ta + tb;
        times_a.push(ta);
        times_b.push(tb);
        // A run too short for the clock to see counts as one nanosecond.
        ratios.push(ta.as_secs_f64() / tb.as_secs_f64().max(1e-9));
    }
    ratios.sort_unstable_by(f64::total_cmp);
    Ok(Interleaved {
        a: Samples::from_durations(times_a).ok_or_else(no_run)?,
        b: Samples::from_durations(times_b).ok_or_else(no_run)?,
        ratios: Ratios { sorted: ratios },
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

/// What [`measure_excluding_beside`] measured: the floor's runs beside the operation's and in
/// stretches of their own, the operation's whole and net runs, and net ÷ floor pair by pair.
#[derive(Debug, Clone)]
pub struct Beside {
    /// The floor's runs, each beside a run of the operation.
    pub floor: Samples,
    /// The floor's runs back to back, in stretches of [`STRETCH`] spread between the pairs.
    pub alone: Samples,
    /// The operation's whole runs.
    pub whole: Samples,
    /// The operation's runs less the part each reported.
    pub net: Samples,
    /// Each net run over the floor's run beside it.
    pub ratios: Ratios,
}

/// How many pairs come between two stretches of the floor's runs of their own, and how many runs
/// a stretch holds (so the floor alone has as many runs as the operation).
pub const STRETCH: usize = 50;

/// Times `op` as [`measure_excluding`] does, alternating with timed runs of `floor` as
/// [`measure_interleaved`] does (`op` first), so that a ratio of the net time to the floor is
/// of runs taken side by side, under whatever the machine did then. Before every [`STRETCH`]th
/// timed run of `op` (the first included), `floor` also runs [`STRETCH`] times back to back:
/// the floor's speed in a loop of its own, sampled over the same minutes as the pairs rather
/// than before or after them, when the machine may have been faster or slower.
pub fn measure_excluding_beside(
    budget: Budget,
    floor: impl FnMut() -> Result<(), BenchError>,
    mut op: impl FnMut() -> Result<Duration, BenchError>,
) -> Result<Beside, BenchError> {
    let floor = std::cell::RefCell::new(floor);
    let time_floor = || {
        let start = Instant::now();
        (floor.borrow_mut())()?;
        Ok::<_, BenchError>(start.elapsed())
    };
    let wholes = std::cell::RefCell::new(Vec::with_capacity(budget.warmup + budget.iterations));
    let alone = std::cell::RefCell::new(Vec::with_capacity(budget.iterations + STRETCH));
    let mut runs = 0usize;
    let net: Side<'_> = Box::new(|| {
        // The stretch is untimed for this side: its runs are the floor's, kept apart.
        if let Some(timed) = runs.checked_sub(budget.warmup) {
            if timed % STRETCH == 0 {
                for _ in 0..STRETCH {
                    let t = time_floor()?;
                    alone.borrow_mut().push(t);
                }
            }
        }
        runs += 1;
        let start = Instant::now();
        let excluded = op()?;
        let t = start.elapsed();
        wholes.borrow_mut().push(t);
        Ok(t.saturating_sub(excluded))
    });
    let pair = measure_interleaved(budget, net, Box::new(time_floor))?;
    let mut whole = wholes.into_inner();
    // The warm-up runs come first; only the timed runs are the operation's samples.
    whole.drain(..budget.warmup.min(whole.len()));
    Ok(Beside {
        floor: pair.b,
        alone: Samples::from_durations(alone.into_inner()).ok_or_else(no_run)?,
        whole: Samples::from_durations(whole).ok_or_else(no_run)?,
        net: pair.a,
        ratios: pair.ratios,
    })
}

#[cfg(test)]
mod tests;

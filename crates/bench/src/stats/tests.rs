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
fn interleaved_runs_alternate_and_pair_their_ratios() {
    use std::cell::RefCell;
    let order = RefCell::new(Vec::new());
    let b = Budget {
        warmup: 1,
        iterations: 5,
        max_time: Duration::from_secs(10),
        min_iterations: 1,
    };
    // Each side reports its run's time itself, so the pairing is checked exactly, whatever the
    // machine's load: A's n-th run takes n ms and B's n-th 2n ms, so every pair is exactly 0.5,
    // and pairing A's run with any other run of B's would give another ratio.
    let (mut na, mut nb) = (0u64, 0u64);
    let r = measure_interleaved(
        b,
        Box::new(|| {
            order.borrow_mut().push('a');
            na += 1;
            Ok(Duration::from_millis(na))
        }),
        Box::new(|| {
            order.borrow_mut().push('b');
            nb += 1;
            Ok(Duration::from_millis(2 * nb))
        }),
    )
    .unwrap();
    assert_eq!(order.borrow().iter().collect::<String>(), "abababababab");
    assert_eq!((r.a.len(), r.b.len(), r.ratios.len()), (5, 5, 5));
    // The warm-up pair (1 ms, 2 ms) is in no sample.
    assert_eq!(r.a.quantile(0.0), Duration::from_millis(2));
    assert_eq!(r.a.quantile(1.0), Duration::from_millis(6));
    assert_eq!(r.b.quantile(1.0), Duration::from_millis(12));
    assert_eq!((r.ratios.quantile(0.0), r.ratios.quantile(1.0)), (0.5, 0.5));
}

#[test]
fn timed_after_leaves_the_set_up_out() {
    let mut runs = 0;
    let mut side = timed_after(
        &mut runs,
        |_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(7)
        },
        |runs, input| {
            assert_eq!(input, 7, "the set-up's output goes to the operation");
            *runs += 1;
            Ok(())
        },
    );
    let t = side().unwrap();
    drop(side);
    assert_eq!(runs, 1);
    // The operation does next to nothing: only a set-up that was timed could take 100 ms.
    assert!(t < Duration::from_millis(100), "{t:?}");
}

#[test]
fn interleaved_stops_on_either_sides_error() {
    let mut left = 3;
    let e = measure_interleaved(
        Budget::quick(),
        Box::new(|| Ok(Duration::from_micros(1))),
        Box::new(|| {
            left -= 1;
            if left == 0 {
                Err(BenchError::Ceremony("boom".into()))
            } else {
                Ok(Duration::from_micros(2))
            }
        }),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "ceremony: boom");
}

#[test]
fn ratios_quantiles_are_nearest_rank() {
    let r = Ratios {
        sorted: vec![0.5, 0.9, 1.0, 1.1, 2.0],
    };
    assert_eq!(r.median(), 1.0);
    assert_eq!(r.quantile(0.0), 0.5);
    assert_eq!(r.quantile(1.0), 2.0);
    assert_eq!(r.len(), 5);
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

/// Runs [`measure_excluding_beside`] with `warmup` and `iterations`, on a floor that records an
/// `f` and an operation that records an `o`, sleeps `sleep` and reports `waited` as excluded:
/// the order of their runs, and what was measured.
fn beside_in_order(
    warmup: usize,
    iterations: usize,
    sleep: Duration,
    waited: Duration,
) -> (String, Beside) {
    use std::cell::RefCell;
    let order = RefCell::new(String::new());
    let b = Budget {
        warmup,
        iterations,
        max_time: Duration::from_secs(10),
        min_iterations: 1,
    };
    let r = measure_excluding_beside(
        b,
        || {
            order.borrow_mut().push('f');
            Ok(())
        },
        || {
            order.borrow_mut().push('o');
            std::thread::sleep(sleep);
            Ok(waited)
        },
    )
    .unwrap();
    (order.into_inner(), r)
}

#[test]
fn beside_alternates_with_the_floor_and_pairs_net_over_floor() {
    // 1 ms of each run was spent waiting on something else.
    let (order, r) = beside_in_order(2, 4, Duration::from_millis(50), Duration::from_millis(1));
    // Two warm-up pairs, a stretch of the floor alone before the first timed run, four pairs.
    let stretch = "f".repeat(STRETCH);
    assert_eq!(order, format!("ofof{stretch}ofofofof"));
    // Warm-up runs are in none of the samples.
    assert_eq!(
        (
            r.floor.len(),
            r.alone.len(),
            r.whole.len(),
            r.net.len(),
            r.ratios.len()
        ),
        (4, STRETCH, 4, 4, 4)
    );
    assert!(r.whole.quantile(0.0) >= Duration::from_millis(50));
    // Net is whole less 1 ms, run by run.
    assert_eq!(
        r.net.quantile(1.0),
        r.whole.quantile(1.0) - Duration::from_millis(1)
    );
    // Each ratio is a net run (at least 49 ms) over the floor's run beside it (a push onto a
    // string: only a floor run held up for 49 ms could make a ratio of 1).
    assert!(r.ratios.quantile(0.0) > 1.0, "{:?}", r.ratios);
}

#[test]
fn beside_spreads_the_floors_stretches_between_the_pairs() {
    let timed = 2 * STRETCH + 3;
    let (order, r) = beside_in_order(1, timed, Duration::ZERO, Duration::ZERO);
    // A stretch before timed runs 0, STRETCH and 2 × STRETCH: three, spread over the pairs.
    let stretch = "f".repeat(STRETCH);
    let pairs = |n: usize| "of".repeat(n);
    let expected = format!(
        "{}{stretch}{}{stretch}{}{stretch}{}",
        pairs(1),
        pairs(STRETCH),
        pairs(STRETCH),
        pairs(3)
    );
    assert_eq!(order, expected);
    assert_eq!(
        (r.alone.len(), r.floor.len(), r.net.len()),
        (3 * STRETCH, timed, timed)
    );
}

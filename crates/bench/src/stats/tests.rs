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
    let r = measure_interleaved(
        b,
        timed_after(
            &mut (),
            |_| {
                // Set-up is not timed: this sleep must not show in A's runs.
                std::thread::sleep(Duration::from_millis(20));
                Ok(())
            },
            |_, ()| {
                order.borrow_mut().push('a');
                std::thread::sleep(Duration::from_millis(2));
                Ok(())
            },
        ),
        timed_after(
            &mut (),
            |_| Ok(()),
            |_, ()| {
                order.borrow_mut().push('b');
                std::thread::sleep(Duration::from_millis(4));
                Ok(())
            },
        ),
    )
    .unwrap();
    assert_eq!(order.borrow().iter().collect::<String>(), "abababababab");
    assert_eq!((r.a.len(), r.b.len(), r.ratios.len()), (5, 5, 5));
    assert!(r.a.quantile(1.0) < Duration::from_millis(20), "{:?}", r.a);
    assert!(r.b.median() >= Duration::from_millis(4));
    // Each ratio is a run of A over the run of B beside it: 2 ms over at least 4 ms.
    assert!(r.ratios.quantile(1.0) < 1.0, "{:?}", r.ratios);
    assert!(r.ratios.quantile(0.0) > 0.0);
    assert!(!r.ratios.is_empty());
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

#[test]
fn beside_alternates_with_the_floor_and_pairs_net_over_floor() {
    use std::cell::RefCell;
    let order = RefCell::new(String::new());
    let b = Budget {
        warmup: 2,
        iterations: 4,
        max_time: Duration::from_secs(10),
        min_iterations: 1,
    };
    let r = measure_excluding_beside(
        b,
        || {
            order.borrow_mut().push('f');
            std::thread::sleep(Duration::from_millis(1));
            Ok(())
        },
        || {
            order.borrow_mut().push('o');
            std::thread::sleep(Duration::from_millis(10));
            // 1 ms of each run was spent waiting on something else.
            Ok(Duration::from_millis(1))
        },
    )
    .unwrap();
    assert_eq!(order.into_inner(), "ofofofofofof");
    // Warm-up runs are in none of the samples.
    assert_eq!(
        (r.floor.len(), r.whole.len(), r.net.len(), r.ratios.len()),
        (4, 4, 4, 4)
    );
    assert!(r.floor.quantile(0.0) >= Duration::from_millis(1));
    assert!(r.whole.quantile(0.0) >= Duration::from_millis(10));
    // Net is whole less 1 ms, run by run.
    assert_eq!(
        r.net.quantile(1.0),
        r.whole.quantile(1.0) - Duration::from_millis(1)
    );
    // Each ratio is a net run (at least 9 ms) over the floor's run beside it (1 ms asleep).
    assert!(r.ratios.quantile(0.0) > 1.0, "{:?}", r.ratios);
}

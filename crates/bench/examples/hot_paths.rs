//! The in-process hot paths, timed in one run so that their ratios mean something:
//! `cargo run --release -p latchkey-bench --example hot_paths [--big]`.
//!
//! Prints medians (and p99s) of row 1's makeCredential and getAssertion, the bare aws-lc-rs
//! floor, and row 4's file store: a discoverable getAssertion at 10 and 1,000 credentials (and
//! 10,000 plus the store load with `--big`, which takes a few seconds to fill).

use std::process::ExitCode;

use latchkey_authenticator::memory::MemoryStore;
use latchkey_bench::core::{check_ok, floor_generate_and_sign, CtapClient, FloorKey};
use latchkey_bench::scale::ScaleStore;
use latchkey_bench::{stats, BenchError, Budget, Samples};
use latchkey_ctap::pin::Permissions;

const RP: &str = "example.com";

fn show(what: &str, s: &Samples) {
    println!(
        "{what:<44} median {:>9.1} µs   p99 {:>9.1} µs   (n={})",
        s.median().as_secs_f64() * 1e6,
        s.p99().as_secs_f64() * 1e6,
        s.len()
    );
}

fn make_credential(budget: Budget) -> Result<Samples, BenchError> {
    let mut c = CtapClient::platform(MemoryStore::with_capacity(1_000_000));
    c.set_pin()?;
    stats::measure_with_setup(
        budget,
        &mut c,
        |c| {
            let token = c.token(Permissions::MAKE_CREDENTIAL, RP)?;
            c.make_credential_request(RP, &token)
        },
        |c, request| check_ok("makeCredential", &c.auth.handle_cbor(&request)),
    )
}

fn get_assertion(budget: Budget) -> Result<Samples, BenchError> {
    let mut c = CtapClient::platform(MemoryStore::default());
    c.set_pin()?;
    c.create(RP)?;
    stats::measure_with_setup(
        budget,
        &mut c,
        |c| {
            let token = c.token(Permissions::GET_ASSERTION, RP)?;
            Ok(c.get_assertion_request(RP, &[], &token))
        },
        |c, request| check_ok("getAssertion", &c.auth.handle_cbor(&request)),
    )
}

fn run(big: bool) -> Result<(), BenchError> {
    let fast = Budget::full(2_000);
    show(
        "floor: P-256 keygen + sign",
        &stats::measure(fast, || {
            floor_generate_and_sign(b"authData||clientDataHash")
        })?,
    );
    let key = FloorKey::new()?;
    show(
        "floor: P-256 sign",
        &stats::measure(fast, || key.sign(b"authData||clientDataHash"))?,
    );
    show("row 1: makeCredential", &make_credential(fast)?);
    show("row 1: getAssertion", &get_assertion(fast)?);
    let sizes: &[usize] = if big {
        &[10, 1_000, 10_000]
    } else {
        &[10, 1_000]
    };
    for &n in sizes {
        let store = ScaleStore::build(n)?;
        if n == 10_000 {
            show(
                &format!("row 4: load, {n} credentials"),
                &store.measure_load(Budget::full(30))?,
            );
        }
        show(
            &format!("row 4: discoverable get, {n} credentials"),
            &store.measure_discoverable_get(fast)?,
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let big = std::env::args().any(|a| a == "--big");
    match run(big) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hot_paths: {e}");
            ExitCode::FAILURE
        }
    }
}

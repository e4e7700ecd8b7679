//! Gets through latchkeyd in process, in a loop, for a profiler (row 3's set-up: a private bus,
//! the memory platform authenticator, the scripted prompt as its own process):
//! `cargo build --release -p latchkey-bench --examples` then
//! `perf record -g target/release/examples/daemon_get 2000` (or `create` as a second argument).
//! Prints the median per ceremony, the same less latchkeyd's waits on the prompt, the empty
//! round trip next to it, and latchkeyd's mean µs per phase.

use std::process::ExitCode;
use std::time::Duration;

use latchkey_api::Kind;
use latchkey_bench::daemon::{binaries, InProcess};
use latchkey_bench::{prompt_time, stats, Budget};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let kind = match args.next().as_deref() {
        Some("create") => Kind::Create,
        _ => Kind::Get,
    };
    let budget = Budget {
        warmup: 20,
        iterations: n,
        min_iterations: n,
        max_time: Duration::from_secs(3600),
    };
    let run = (|| {
        let timed = prompt_time::install();
        let lk = InProcess::start(&binaries()?)?;
        prompt_time::take_phases();
        // Each ceremony beside an empty round trip, as row 3 times them.
        let beside = stats::measure_excluding_beside(
            budget,
            || lk.ping(),
            || {
                prompt_time::take();
                lk.ceremony(kind)?;
                Ok(prompt_time::take())
            },
        )?;
        let (ping, alone, whole, own) = (&beside.floor, &beside.alone, &beside.whole, &beside.net);
        let phases = prompt_time::take_phases();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{n} ceremonies: median {:.1} µs, less the prompt waits {:.1} µs{}; empty round trip beside each {:.1} µs (ratio {:.2}× of the medians, {:.2}× run by run), in loops of their own {:.1} µs ({:.2}×)",
            us(whole.median()),
            us(own.median()),
            if timed { "" } else { " (not measured)" },
            us(ping.median()),
            us(own.median()) / us(ping.median()).max(f64::MIN_POSITIVE),
            beside.ratios.median(),
            us(alone.median()),
            us(own.median()) / us(alone.median()).max(f64::MIN_POSITIVE),
        );
        let shown: Vec<String> = phases
            .iter()
            .map(|(name, count, total)| {
                format!("{name} {:.0}", *total as f64 / (*count).max(1) as f64)
            })
            .collect();
        println!("phases (mean µs): {}", shown.join(", "));
        Ok::<(), latchkey_bench::BenchError>(())
    })();
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

//! Gets through latchkeyd in process, in a loop, for a profiler (row 3's set-up: a private bus,
//! the memory platform authenticator, the scripted prompt as its own process):
//! `cargo build --release -p latchkey-bench --examples` then
//! `perf record -g target/release/examples/daemon_get 2000` (or `create` as a second argument).
//! Prints the mean time per ceremony.

use std::process::ExitCode;
use std::time::Instant;

use latchkey_api::Kind;
use latchkey_bench::daemon::{binaries, InProcess};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let kind = match args.next().as_deref() {
        Some("create") => Kind::Create,
        _ => Kind::Get,
    };
    let run = (|| {
        let lk = InProcess::start(&binaries()?)?;
        let started = Instant::now();
        for _ in 0..n {
            lk.ceremony(kind)?;
        }
        let mean = started.elapsed() / n.max(1);
        println!("{n} ceremonies, mean {:.1} µs", mean.as_secs_f64() * 1e6);
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

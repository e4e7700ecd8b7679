//! Row 3's load test: many distinct callers making gets at once through the shipped latchkeyd.
//!
//! Each caller is a process of its own (this benchmark's executable run again, [`serve_if_asked`]
//! in its `main`), a browser by policy asking for a page of its own origin, so that latchkeyd
//! sees distinct callers with their own queue shares. Each makes its gets one after the other,
//! each bounded, and prints one line per get: when it was sent and answered on the system's
//! monotonic clock (the same for every process), and how. The ceremonies are serialised by the
//! one prompt, so the run is a single-server queue: sorted by answer, a request's *service
//! time* is from when the server could take it (its sending, or the previous answer if later)
//! to its answer, and its *queue wait* is the rest of its latency.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_api::{CallOptions, CredentialsClient, Kind};

use crate::{BenchError, Samples};

const BUS_ENV: &str = "LATCHKEY_BENCH_CALLER_BUS";
const INDEX_ENV: &str = "LATCHKEY_BENCH_CALLER_INDEX";
const GETS_ENV: &str = "LATCHKEY_BENCH_CALLER_GETS";
const PREFIX: &str = "LATCHKEY-BENCH-GET ";

/// How long one get may take before it counts as hung.
pub const GET_LIMIT: Duration = Duration::from_secs(60);

fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

/// The origin caller `i` asks for (a page of its own; the RP ID is `example.com`).
pub fn origin(i: usize) -> String {
    format!("https://caller{i}.example.com")
}

/// In a caller process (the environment names the bus): makes its gets, prints a line for each
/// and returns `true`; otherwise `false` at once.
pub fn serve_if_asked(get_options: impl Fn() -> String) -> bool {
    let (Ok(bus), Ok(index), Ok(gets)) = (
        std::env::var(BUS_ENV),
        std::env::var(INDEX_ENV),
        std::env::var(GETS_ENV),
    ) else {
        return false;
    };
    let index: usize = index.parse().unwrap_or(0);
    let gets: usize = gets.parse().unwrap_or(0);
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        println!("{PREFIX}0 0 lost no runtime");
        return true;
    };
    rt.block_on(async {
        let client = match CredentialsClient::connect(Some(&bus)).await {
            Ok(c) => c,
            Err(e) => {
                for _ in 0..gets {
                    println!("{PREFIX}0 0 lost {e}");
                }
                return;
            }
        };
        let opts = CallOptions {
            origin: Some(origin(index)),
            ..CallOptions::default()
        };
        for _ in 0..gets {
            let options = get_options();
            let sent = now_ns();
            let out =
                tokio::time::timeout(GET_LIMIT, client.call(Kind::Get, &options, &opts)).await;
            let answered = now_ns();
            let how = match out {
                Err(_) => "hung".to_owned(),
                Ok(Err(e)) => format!("lost {e}"),
                Ok(Ok(r)) if r.code == 0 => "ok".to_owned(),
                Ok(Ok(r)) => format!("refused {}", r.error_name().unwrap_or_default()),
            };
            println!("{PREFIX}{sent} {answered} {how}");
        }
    });
    true
}

/// One get as a caller saw it.
#[derive(Debug, Clone)]
struct Get {
    sent: u64,
    answered: u64,
}

/// What the load test found.
#[derive(Debug)]
pub struct LoadReport {
    /// Callers × gets each.
    pub callers: usize,
    /// Gets per caller.
    pub gets: usize,
    /// Gets answered with a credential.
    pub answered: usize,
    /// Gets answered with an error (counted by error name, e.g. `NotAllowedError`).
    pub refused: Vec<String>,
    /// Gets whose call failed without an answer, or whose caller printed nothing for them.
    pub lost: usize,
    /// Gets not answered within [`GET_LIMIT`], or whose caller was still running at the end.
    pub hung: usize,
    /// Per answered get: from its sending to its answer.
    pub latency: Option<Samples>,
    /// Per answered get: the server's time on it (module doc).
    pub service: Option<Samples>,
    /// Per answered get: its wait in the queue.
    pub wait: Option<Samples>,
    /// Answered gets per second, first sending to last answer.
    pub throughput: f64,
}

fn spawn(exe: &Path, bus: &str, i: usize, gets: usize) -> Result<Child, BenchError> {
    Command::new(exe)
        .env(BUS_ENV, bus)
        .env(INDEX_ENV, i.to_string())
        .env(GETS_ENV, gets.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| BenchError::setup("caller process", e))
}

/// Runs `callers` caller processes of `exe` making `gets` gets each on `bus`, all at once.
pub fn run(exe: &Path, bus: &str, callers: usize, gets: usize) -> Result<LoadReport, BenchError> {
    let mut children = Vec::with_capacity(callers);
    for i in 0..callers {
        children.push(spawn(exe, bus, i, gets)?);
    }
    // Each caller's lines are read on a thread of its own, so that none blocks on a full pipe.
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let out = c.stdout.take();
            std::thread::spawn(move || {
                let mut lines = Vec::new();
                if let Some(out) = out {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        if let Some(rest) = line.find(PREFIX).map(|at| &line[at + PREFIX.len()..]) {
                            lines.push(rest.to_owned());
                        }
                    }
                }
                lines
            })
        })
        .collect();
    let deadline = Instant::now() + GET_LIMIT * u32::try_from(gets.max(1)).unwrap_or(u32::MAX);
    let mut still_running = vec![false; callers];
    for (i, child) in children.iter_mut().enumerate() {
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    still_running[i] = true;
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
    let mut report = LoadReport {
        callers,
        gets,
        answered: 0,
        refused: Vec::new(),
        lost: 0,
        hung: 0,
        latency: None,
        service: None,
        wait: None,
        throughput: 0.0,
    };
    let mut done = Vec::new();
    for (i, reader) in readers.into_iter().enumerate() {
        let lines = reader.join().unwrap_or_default();
        let missing = gets.saturating_sub(lines.len());
        if still_running[i] {
            report.hung += missing;
        } else {
            report.lost += missing;
        }
        for line in lines {
            let mut parts = line.splitn(3, ' ');
            let sent = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let answered = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let how = parts.next().unwrap_or("lost");
            match how.split(' ').next() {
                Some("ok") => {
                    report.answered += 1;
                    done.push(Get { sent, answered });
                }
                Some("hung") => report.hung += 1,
                Some("refused") => report
                    .refused
                    .push(how.trim_start_matches("refused ").to_owned()),
                _ => report.lost += 1,
            }
        }
    }
    split_times(&mut report, done);
    Ok(report)
}

/// Service time and queue wait per answered get (module doc), and the throughput.
fn split_times(report: &mut LoadReport, mut done: Vec<Get>) {
    done.sort_by_key(|g| g.answered);
    let (mut latency, mut service, mut wait) = (Vec::new(), Vec::new(), Vec::new());
    let mut free_at = 0u64;
    for g in &done {
        let start = g.sent.max(free_at);
        let total = g.answered.saturating_sub(g.sent);
        let served = g.answered.saturating_sub(start);
        latency.push(Duration::from_nanos(total));
        service.push(Duration::from_nanos(served));
        wait.push(Duration::from_nanos(total.saturating_sub(served)));
        free_at = g.answered;
    }
    let first = done.iter().map(|g| g.sent).min().unwrap_or(0);
    let last = done.iter().map(|g| g.answered).max().unwrap_or(0);
    let span = Duration::from_nanos(last.saturating_sub(first)).as_secs_f64();
    report.throughput = if span > 0.0 {
        done.len() as f64 / span
    } else {
        0.0
    };
    report.latency = Samples::from_durations(latency);
    report.service = Samples::from_durations(service);
    report.wait = Samples::from_durations(wait);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> u64 {
        n * 1_000_000
    }

    #[test]
    fn a_single_server_queue_splits_into_service_and_wait() {
        let mut report = LoadReport {
            callers: 2,
            gets: 2,
            answered: 3,
            refused: Vec::new(),
            lost: 0,
            hung: 0,
            latency: None,
            service: None,
            wait: None,
            throughput: 0.0,
        };
        // Sent at 0, 0 and 10 ms; answered at 2, 5 and 12 ms: the second waited 2 ms for the
        // first, the third found the server free.
        let done = vec![
            Get {
                sent: ms(0),
                answered: ms(5),
            },
            Get {
                sent: ms(0),
                answered: ms(2),
            },
            Get {
                sent: ms(10),
                answered: ms(12),
            },
        ];
        split_times(&mut report, done);
        let service = report.service.unwrap();
        let wait = report.wait.unwrap();
        assert_eq!(service.quantile(0.0), Duration::from_millis(2));
        assert_eq!(service.quantile(1.0), Duration::from_millis(3));
        assert_eq!(wait.quantile(0.0), Duration::ZERO);
        assert_eq!(wait.quantile(1.0), Duration::from_millis(2));
        assert_eq!(
            report.latency.unwrap().quantile(1.0),
            Duration::from_millis(5)
        );
        assert!((report.throughput - 3.0 / 0.012).abs() < 1e-6);
    }
}

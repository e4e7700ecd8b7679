//! getAssertion in process, in a loop, for an instruction profiler:
//! `cargo build --release -p latchkey-bench --example get_assertion` then
//! `valgrind --tool=callgrind target/release/examples/get_assertion 200`.
//!
//! One discoverable credential is made first; each iteration gets a PIN token (untimed in the
//! benchmark, counted here too: compare with a run of `0` iterations) and sends one
//! getAssertion with an empty allowList through `handle_cbor`.

use std::process::ExitCode;

use latchkey_authenticator::memory::MemoryStore;
use latchkey_bench::core::{check_ok, CtapClient};
use latchkey_ctap::pin::Permissions;

fn main() -> ExitCode {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let mut c = CtapClient::platform(MemoryStore::with_capacity(1_000));
    let run = (|| {
        c.set_pin()?;
        c.create("example.com")?;
        for _ in 0..n {
            let token = c.token(Permissions::GET_ASSERTION, "example.com")?;
            let request = c.get_assertion_request("example.com", &[], &token);
            check_ok("getAssertion", &c.auth.handle_cbor(&request))?;
        }
        Ok::<(), latchkey_bench::BenchError>(())
    })();
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("get_assertion: {e}");
            ExitCode::FAILURE
        }
    }
}

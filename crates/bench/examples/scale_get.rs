//! Row 4's discoverable getAssertion on the file store, in a loop, for a profiler:
//! `cargo build --release -p latchkey-bench --example scale_get` then
//! `valgrind --tool=callgrind target/release/examples/scale_get 10 200` (credentials, gets).
//!
//! The store is built and opened first (counted too: compare with a run of `0` gets); each
//! iteration gets a PIN token and sends one getAssertion with an empty allowList.

use std::process::ExitCode;

use latchkey_bench::core::{check_ok, CtapClient};
use latchkey_bench::scale::ScaleStore;
use latchkey_ctap::pin::Permissions;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().ok());
    let n = args.next().flatten().unwrap_or(10);
    let gets = args.next().flatten().unwrap_or(200);
    let run = (|| {
        let store = ScaleStore::build(n)?;
        let mut c = CtapClient::platform(store.open()?);
        for _ in 0..gets {
            let token = c.token(Permissions::GET_ASSERTION, &store.rp_id)?;
            let request = c.get_assertion_request(&store.rp_id, &[], &token);
            check_ok("getAssertion", &c.auth.handle_cbor(&request))?;
        }
        Ok::<(), latchkey_bench::BenchError>(())
    })();
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale_get: {e}");
            ExitCode::FAILURE
        }
    }
}

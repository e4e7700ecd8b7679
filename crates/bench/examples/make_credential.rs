//! makeCredential in process, in a loop, for an instruction profiler:
//! `cargo build --release -p latchkey-bench --example make_credential` then
//! `valgrind --tool=callgrind target/release/examples/make_credential 200`.
//!
//! Each iteration gets a PIN token (untimed in the benchmark, here counted too: compare with a
//! run of `0` iterations) and sends one makeCredential through `handle_cbor`. To count the
//! makeCredential alone, as the benchmark times it, collect inside [`send`] only:
//! `valgrind --tool=callgrind --toggle-collect='make_credential::send' …`.

use std::process::ExitCode;

use latchkey_authenticator::memory::MemoryStore;
use latchkey_bench::core::{check_ok, CtapClient};
use latchkey_bench::BenchError;
use latchkey_ctap::pin::Permissions;

/// One encoded makeCredential through `handle_cbor`: what row 1 times.
#[inline(never)]
fn send(c: &mut CtapClient<MemoryStore>, request: &[u8]) -> Result<(), BenchError> {
    check_ok("makeCredential", &c.auth.handle_cbor(request))
}

fn main() -> ExitCode {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let mut c = CtapClient::platform(MemoryStore::with_capacity(1_000_000));
    let run = (|| {
        c.set_pin()?;
        for _ in 0..n {
            let token = c.token(Permissions::MAKE_CREDENTIAL, "example.com")?;
            let request = c.make_credential_request("example.com", &token)?;
            send(&mut c, &request)?;
        }
        Ok::<(), BenchError>(())
    })();
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("make_credential: {e}");
            ExitCode::FAILURE
        }
    }
}

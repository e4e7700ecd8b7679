//! makeCredential in process, in a loop, for an instruction profiler:
//! `cargo build --release -p latchkey-bench --example make_credential` then
//! `valgrind --tool=callgrind target/release/examples/make_credential 200 [typed]`.
//!
//! Each iteration gets a PIN token (untimed in the benchmark, here counted too: compare with a
//! run of `0` iterations) and sends one makeCredential through `handle_cbor`, or with `typed`
//! the typed request to `make_credential` (row 1's "typed request" row). To count the
//! makeCredential alone, as the benchmark times it, collect inside the send functions only:
//! `valgrind --tool=callgrind --toggle-collect='make_credential::send*' …`; the peer's loop is
//! the `peer_make_credential` example.

use std::process::ExitCode;

use latchkey_authenticator::memory::MemoryStore;
use latchkey_authenticator::request::MakeCredentialRequest;
use latchkey_bench::core::{check_ok, CtapClient};
use latchkey_bench::BenchError;
use latchkey_ctap::pin::Permissions;

/// One encoded makeCredential through `handle_cbor`: what row 1 times.
#[inline(never)]
fn send(c: &mut CtapClient<MemoryStore>, request: &[u8]) -> Result<(), BenchError> {
    check_ok("makeCredential", &c.auth.handle_cbor(request))
}

/// One typed makeCredential: what row 1's "typed request" row times.
#[inline(never)]
fn send_typed(
    c: &mut CtapClient<MemoryStore>,
    request: MakeCredentialRequest,
) -> Result<(), BenchError> {
    c.send_make_credential_typed(request)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let typed = args.next().as_deref() == Some("typed");
    let mut c = CtapClient::platform(MemoryStore::with_capacity(1_000_000));
    let run = (|| {
        c.set_pin()?;
        for _ in 0..n {
            let token = c.token(Permissions::MAKE_CREDENTIAL, "example.com")?;
            if typed {
                let request = c.make_credential_typed("example.com", &token)?;
                send_typed(&mut c, request)?;
            } else {
                let request = c.make_credential_request("example.com", &token)?;
                send(&mut c, &request)?;
            }
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

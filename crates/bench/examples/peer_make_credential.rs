//! passkey-authenticator 0.6's makeCredential (aws-lc-rs backend) in a loop, for the same
//! instruction profile as the `make_credential` example:
//! `cargo build --release -p latchkey-bench --example peer_make_credential` then
//! `valgrind --tool=callgrind --toggle-collect='peer_make_credential::send*' \
//!  target/release/examples/peer_make_credential 200 [cbor]`.
//!
//! Each iteration builds row 1's request for a new user (uncounted with the toggle) and makes
//! the credential, kept in the peer's map store as in row 1, at the peer's typed API, or with `cbor` through its own CTAP 2 CBOR types as
//! row 1's "CBOR in and out" row does (request decoded, response encoded).

#[allow(dead_code)]
#[path = "../benches/ceremony/peers.rs"]
mod peers;

use std::process::ExitCode;

use futures_lite::future::block_on;
use latchkey_bench::BenchError;
use passkey_authenticator::Authenticator;
use passkey_crypto::aws_lc_rs::AwsLcRsBackend;
use passkey_types::ctap2::{make_credential, Aaguid};

type Peer = Authenticator<peers::KeepingStore, peers::Verified, AwsLcRsBackend>;

/// One typed makeCredential: what row 1's "typed request" peer row times.
#[inline(never)]
fn send_typed(auth: &mut Peer, request: make_credential::Request) -> Result<(), BenchError> {
    let r = block_on(auth.make_credential(request)).map_err(peers::peer)?;
    match r.auth_data.attested_credential_data {
        Some(_) => Ok(()),
        None => Err(peers::peer("no attested credential")),
    }
}

/// One makeCredential through the peer's CTAP 2 CBOR types: what the "CBOR in and out" row times.
#[inline(never)]
fn send_cbor(auth: &mut Peer, message: &[u8]) -> Result<(), BenchError> {
    let body = match message.split_first() {
        Some((&peers::MAKE_CREDENTIAL, body)) => body,
        _ => return Err(peers::peer("not a makeCredential message")),
    };
    let request: make_credential::Request = ciborium::de::from_reader(body).map_err(peers::peer)?;
    let response = block_on(auth.make_credential(request)).map_err(peers::peer)?;
    let mut out = vec![0u8];
    ciborium::ser::into_writer(&response, &mut out).map_err(peers::peer)?;
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let cbor = args.next().as_deref() == Some("cbor");
    let mut auth: Peer = Authenticator::new(
        Aaguid::new_empty(),
        peers::KeepingStore::new(),
        peers::Verified,
        AwsLcRsBackend,
    );
    let run = (|| {
        for i in 1..=n {
            let request = peers::mc_request(i);
            if cbor {
                let mut message = vec![peers::MAKE_CREDENTIAL];
                ciborium::ser::into_writer(&request, &mut message).map_err(peers::peer)?;
                send_cbor(&mut auth, &message)?;
            } else {
                send_typed(&mut auth, request)?;
            }
        }
        Ok::<(), BenchError>(())
    })();
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer_make_credential: {e}");
            ExitCode::FAILURE
        }
    }
}

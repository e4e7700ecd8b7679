//! Row 6: the credential algorithms side by side, in process through `handle_cbor` as row 1
//! (platform configuration with post-quantum credentials enabled, memory store, PIN token got
//! untimed): makeCredential (key generation; `none` attestation) and a discoverable
//! getAssertion (one signature) for ES256, ES384, ML-DSA-44 and ML-DSA-65, with aws-lc-rs's bare
//! signature as each one's floor.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, PqdsaKeyPair};
use latchkey_authenticator::memory::MemoryStore;
use latchkey_bench::core::{check_ok, CtapClient};
use latchkey_bench::{stats, BenchError, Budget, Samples, Table};
use latchkey_ctap::entity::CoseAlgorithm;
use latchkey_ctap::pin::Permissions;

/// One algorithm measured: its name, COSE identifier, and the table keys of its rows.
struct Alg {
    name: &'static str,
    cose: i64,
    mc: &'static str,
    ga: &'static str,
    floor: &'static str,
}

const ALGORITHMS: [Alg; 4] = [
    Alg {
        name: "ES256",
        cose: -7,
        mc: "alg_es256_mc",
        ga: "alg_es256_ga",
        floor: "alg_es256_floor",
    },
    Alg {
        name: "ES384",
        cose: -35,
        mc: "alg_es384_mc",
        ga: "alg_es384_ga",
        floor: "alg_es384_floor",
    },
    Alg {
        name: "ML-DSA-44",
        cose: -48,
        mc: "alg_mldsa44_mc",
        ga: "alg_mldsa44_ga",
        floor: "alg_mldsa44_floor",
    },
    Alg {
        name: "ML-DSA-65",
        cose: -49,
        mc: "alg_mldsa65_mc",
        ga: "alg_mldsa65_ga",
        floor: "alg_mldsa65_floor",
    },
];

fn client() -> Result<CtapClient<MemoryStore>, BenchError> {
    let config = latchkey_client::platform::config().with_post_quantum();
    let mut c = CtapClient::with_config(config, MemoryStore::with_capacity(1_000_000));
    c.set_pin()?;
    Ok(c)
}

fn make_credential(budget: Budget, alg: i64) -> Result<Samples, BenchError> {
    let mut c = client()?;
    let rp = format!("mc{}.example", -alg);
    stats::measure_with_setup(
        budget,
        &mut c,
        |c| {
            let token = c.token(Permissions::MAKE_CREDENTIAL, &rp)?;
            c.make_credential_request_with(&rp, &token, CoseAlgorithm(alg))
        },
        |c, request| check_ok("makeCredential", &c.auth.handle_cbor(&request)),
    )
}

fn get_assertion(budget: Budget, alg: i64) -> Result<Samples, BenchError> {
    let mut c = client()?;
    let rp = format!("ga{}.example", -alg);
    c.create_with(&rp, CoseAlgorithm(alg))?;
    stats::measure_with_setup(
        budget,
        &mut c,
        |c| {
            let token = c.token(Permissions::GET_ASSERTION, &rp)?;
            Ok(c.get_assertion_request(&rp, &[], &token))
        },
        |c, request| check_ok("getAssertion", &c.auth.handle_cbor(&request)),
    )
}

/// aws-lc-rs's own signature for `alg`, over a message of an assertion's size.
fn floor_sign(budget: Budget, alg: i64) -> Result<Samples, BenchError> {
    let message = [0x5a; 69];
    let rng = SystemRandom::new();
    let ecdsa = |a: &'static signature::EcdsaSigningAlgorithm| {
        EcdsaKeyPair::generate(a).map_err(|e| BenchError::setup("ECDSA key generation", e))
    };
    let pqdsa = |a: &'static signature::PqdsaSigningAlgorithm| {
        PqdsaKeyPair::generate(a).map_err(|e| BenchError::setup("ML-DSA key generation", e))
    };
    match alg {
        -7 | -35 => {
            let key = ecdsa(if alg == -7 {
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING
            })?;
            stats::measure(budget, || {
                key.sign(&rng, &message)
                    .map(drop)
                    .map_err(|e| BenchError::setup("ECDSA signature", e))
            })
        }
        _ => {
            let key = pqdsa(if alg == -48 {
                &signature::ML_DSA_44_SIGNING
            } else {
                &signature::ML_DSA_65_SIGNING
            })?;
            let mut sig = vec![0u8; key.algorithm().signature_len()];
            stats::measure(budget, || {
                key.sign(&message, &mut sig)
                    .map(drop)
                    .map_err(|e| BenchError::setup("ML-DSA signature", e))
            })
        }
    }
}

/// Row 6 (see the module docs).
pub fn row6(budget: Budget, t: &mut Table) {
    t.heading("6. Credential algorithms, authenticator core in process (discoverable, UV)");
    for a in &ALGORITHMS {
        t.timed(
            a.mc,
            format!("Latchkey makeCredential {} (PIN token ready)", a.name),
            make_credential(budget, a.cose),
        );
        t.timed(
            a.ga,
            format!("Latchkey getAssertion {} (PIN token ready)", a.name),
            get_assertion(budget, a.cose),
        );
        t.timed(
            a.floor,
            format!("floor: aws-lc-rs {} sign", a.name),
            floor_sign(budget, a.cose),
        );
    }
    let es256 = &ALGORITHMS[0];
    for a in &ALGORITHMS[1..] {
        t.ratio(
            format!("ratio makeCredential: {} ÷ ES256", a.name),
            a.mc,
            es256.mc,
        );
        t.ratio(
            format!("ratio getAssertion: {} ÷ ES256", a.name),
            a.ga,
            es256.ga,
        );
    }
    for a in &ALGORITHMS {
        t.ratio(
            format!("ratio getAssertion {}: Latchkey ÷ floor (sign)", a.name),
            a.ga,
            a.floor,
        );
    }
}

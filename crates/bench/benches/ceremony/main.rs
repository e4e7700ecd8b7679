//! `cargo bench -p latchkey-bench [-- --quick]`: how fast a ceremony is, against peers and
//! against the physical floor, as one table (see the crate docs and the README's Performance
//! section). Without `--bench` on the command line (that is, under `cargo test`) it runs the
//! quick mode: the same code paths with a few iterations, failing if any Latchkey row fails.

mod algorithms;
mod peers;

use std::process::ExitCode;
use std::time::Instant;

use latchkey_authenticator::memory::MemoryStore;
use latchkey_bench::core::{check_ok, floor_generate_and_sign, CtapClient, FloorKey};
use latchkey_bench::scale::{self, ScaleStore};
use latchkey_bench::stats::{Interleaved, Ratios};
use latchkey_bench::{daemon, hid, stats, tpm, BenchError, Budget, Samples, Table};
use latchkey_ctap::pin::Permissions;

/// How hard to run each kind of row.
struct Plan {
    quick: bool,
    /// In-process operations of well under a millisecond.
    fast: Budget,
    /// Operations over a socket or a bus.
    io: Budget,
    /// Operations of several milliseconds (store loads, listing 10,000).
    slow: Budget,
    /// Argon2id at production cost.
    kdf: Budget,
    /// Store sizes for row 4.
    sizes: &'static [usize],
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                fast: Budget::quick(),
                io: Budget::quick(),
                slow: Budget::quick().scaled(3, 5),
                kdf: Budget::quick().scaled(1, 5),
                sizes: &[10, 1_000],
            }
        } else {
            Plan {
                quick,
                fast: Budget::full(2_000),
                io: Budget::full(1_000),
                slow: Budget::full(30),
                kdf: Budget::full(5).scaled(1, 1),
                sizes: &[10, 1_000, 10_000],
            }
        }
    }
}

fn rp() -> &'static str {
    "example.com"
}

/// Row 1's makeCredential pairs: Latchkey against passkey-authenticator (aws-lc-rs), timed in one
/// loop each, their runs alternating (`stats::measure_interleaved`), so that drift on a busy
/// machine hits both alike. Both make a discoverable ES256 credential for a new user and keep it
/// in memory; Latchkey's request carries a pinUvAuthParam it checks (its PIN token is got
/// untimed before each run), the peer's user check is a callback that says "verified".
struct McPairs {
    /// Both through CBOR: Latchkey's `handle_cbor` against the peer's ctap2 serde types.
    cbor: Result<Interleaved, BenchError>,
    /// Both typed: Latchkey's `make_credential` against the peer's typed call.
    typed: Result<Interleaved, BenchError>,
}

fn make_credential_pairs(plan: &Plan) -> McPairs {
    let pair = |typed: bool| {
        let mut c = CtapClient::platform(MemoryStore::with_capacity(1_000_000));
        c.set_pin()?;
        let mut peer = peers::PeerMaker::new(peers::aws_lc());
        if typed {
            stats::measure_interleaved(plan.fast, c.make_credential_typed_side(rp()), peer.typed())
        } else {
            stats::measure_interleaved(plan.fast, c.make_credential_side(rp()), peer.cbor())
        }
    };
    McPairs {
        cbor: pair(false),
        typed: pair(true),
    }
}

/// One side's samples of an interleaved pair (`a` or `b`), or why the pair was not measured.
fn side(pair: &Result<Interleaved, BenchError>, a: bool) -> Result<Samples, BenchError> {
    match pair {
        Ok(p) => Ok(if a { p.a.clone() } else { p.b.clone() }),
        Err(e) => Err(BenchError::Ceremony(e.to_string())),
    }
}

/// The paired ratios of an interleaved pair, or why it was not measured.
fn paired(pair: &Result<Interleaved, BenchError>) -> Result<Ratios, BenchError> {
    match pair {
        Ok(p) => Ok(p.ratios.clone()),
        Err(e) => Err(BenchError::Ceremony(e.to_string())),
    }
}

/// Row 1, Latchkey: makeCredential (from the interleaved pairs) and getAssertion through
/// `handle_cbor` (token got untimed), and the whole getAssertion ceremony including the PIN token.
fn latchkey_core(plan: &Plan, pairs: &McPairs, t: &mut Table) {
    t.timed(
        "lk_mc",
        "Latchkey makeCredential (CBOR via handle_cbor, PIN token ready)",
        side(&pairs.cbor, true),
    );
    t.timed(
        "lk_mc_typed",
        "Latchkey makeCredential (typed request, no CBOR either way, PIN token ready)",
        side(&pairs.typed, true),
    );
    let mut c = CtapClient::platform(MemoryStore::default());
    let ready = c.set_pin().and_then(|()| c.create(rp()).map(drop));
    let ga = ready.and_then(|()| {
        stats::measure_with_setup(
            plan.fast,
            &mut c,
            |c| {
                let token = c.token(Permissions::GET_ASSERTION, rp())?;
                Ok(c.get_assertion_request(rp(), &[], &token))
            },
            |c, request| check_ok("getAssertion", &c.auth.handle_cbor(&request)),
        )
    });
    t.timed(
        "lk_ga",
        "Latchkey getAssertion (discoverable, CBOR via handle_cbor, PIN token ready)",
        ga,
    );
    let ceremony = stats::measure(plan.fast, || c.get(rp(), &[]));
    t.timed(
        "lk_ga_ceremony",
        "Latchkey getAssertion ceremony incl. PIN token (getKeyAgreement + token + getAssertion)",
        ceremony,
    );
}

fn floor(plan: &Plan, t: &mut Table) {
    t.timed(
        "floor_gen_sign",
        "floor: aws-lc-rs P-256 key generation + sign",
        stats::measure(plan.fast, || {
            floor_generate_and_sign(b"authData||clientDataHash")
        }),
    );
    let sign = FloorKey::new()
        .and_then(|k| stats::measure(plan.fast, || k.sign(b"authData||clientDataHash")));
    t.timed("floor_sign", "floor: aws-lc-rs P-256 sign", sign);
}

fn row1(plan: &Plan, t: &mut Table) {
    t.heading("1. Authenticator core, in process (ES256, discoverable, UV)");
    let pairs = make_credential_pairs(plan);
    latchkey_core(plan, &pairs, t);
    t.timed(
        "pk_aws_mc",
        "passkey-authenticator 0.6 makeCredential (typed request, aws-lc-rs backend, kept in its map store)",
        side(&pairs.typed, false),
    );
    t.timed(
        "pk_aws_mc_cbor",
        "passkey-authenticator 0.6 makeCredential (CBOR in and out via its ctap2 serde types, aws-lc-rs backend, kept in its map store)",
        side(&pairs.cbor, false),
    );
    t.timed(
        "pk_aws_ga",
        "passkey-authenticator 0.6 getAssertion (aws-lc-rs backend)",
        peers::passkey_rs_ga(peers::aws_lc(), plan.fast),
    );
    let mut rust_crypto = peers::PeerMaker::new(peers::rust_crypto());
    t.timed(
        "pk_rc_mc",
        "passkey-authenticator 0.6 makeCredential (default RustCrypto backend)",
        stats::measure_side(plan.fast, rust_crypto.typed()),
    );
    t.timed(
        "pk_rc_ga",
        "passkey-authenticator 0.6 getAssertion (default RustCrypto backend)",
        peers::passkey_rs_ga(peers::rust_crypto(), plan.fast),
    );
    let (mc, ga) = peers::soft_passkey(plan.fast);
    t.timed(
        "kn_mc",
        "webauthn-authenticator-rs 0.6 SoftPasskey register (non-discoverable, OpenSSL)",
        mc,
    );
    t.timed(
        "kn_ga",
        "webauthn-authenticator-rs 0.6 SoftPasskey authenticate (allowCredentials)",
        ga,
    );
    floor(plan, t);
    t.ratio(
        "ratio makeCredential, both through CBOR: Latchkey ÷ passkey-authenticator (aws-lc-rs)",
        "lk_mc",
        "pk_aws_mc_cbor",
    );
    t.paired_ratios(
        "paired_mc",
        "ratio makeCredential, both through CBOR, run by run: median (p99) of Latchkey's run ÷ the peer's run beside it",
        paired(&pairs.cbor),
    );
    t.ratio(
        "ratio makeCredential, both typed: Latchkey ÷ passkey-authenticator (aws-lc-rs)",
        "lk_mc_typed",
        "pk_aws_mc",
    );
    t.paired_ratios(
        "paired_mc_typed",
        "ratio makeCredential, both typed, run by run: median (p99) of Latchkey's run ÷ the peer's run beside it",
        paired(&pairs.typed),
    );
    t.ratio(
        "ratio makeCredential, Latchkey through CBOR ÷ passkey-authenticator typed (aws-lc-rs; not like for like)",
        "lk_mc",
        "pk_aws_mc",
    );
    t.ratio(
        "ratio makeCredential: Latchkey ÷ passkey-authenticator (RustCrypto)",
        "lk_mc",
        "pk_rc_mc",
    );
    t.ratio(
        "ratio makeCredential: Latchkey ÷ SoftPasskey",
        "lk_mc",
        "kn_mc",
    );
    t.ratio(
        "ratio makeCredential: Latchkey ÷ floor (keygen + sign)",
        "lk_mc",
        "floor_gen_sign",
    );
    t.ratio(
        "ratio getAssertion: Latchkey ÷ passkey-authenticator (aws-lc-rs)",
        "lk_ga",
        "pk_aws_ga",
    );
    t.ratio(
        "ratio getAssertion: Latchkey ÷ passkey-authenticator (RustCrypto)",
        "lk_ga",
        "pk_rc_ga",
    );
    t.ratio(
        "ratio getAssertion: Latchkey ÷ SoftPasskey",
        "lk_ga",
        "kn_ga",
    );
    t.ratio(
        "ratio getAssertion: Latchkey ÷ floor (sign)",
        "lk_ga",
        "floor_sign",
    );
    t.ratio(
        "ratio getAssertion ceremony incl. PIN token: Latchkey ÷ floor (sign)",
        "lk_ga_ceremony",
        "floor_sign",
    );
}

fn row2(plan: &Plan, t: &mut Table) {
    t.heading("2. CTAPHID path (client crate, UP only, allowCredentials)");
    let mut local = hid::in_process();
    t.timed(
        "hid_local",
        "client authenticate() → authenticator in process",
        hid::measure_get(plan.io, local.as_mut()),
    );
    let remote = hid::VirtualKeyServer::start().and_then(|server| {
        let mut device = server.open()?;
        let r = hid::measure_get(plan.io, device.as_mut());
        drop(device);
        drop(server);
        r
    });
    t.timed(
        "hid_unix",
        "client authenticate() → CTAPHID → virtual key on a Unix socket",
        remote,
    );
    t.ratio(
        "ratio CTAPHID over Unix socket ÷ in process",
        "hid_unix",
        "hid_local",
    );
}

fn row3(plan: &Plan, t: &mut Table) {
    t.heading("3. Through latchkeyd (D-Bus, platform authenticator, scripted prompt)");
    match daemon::unavailable() {
        Some(why) => t.not_measured("latchkeyd create / get / activation / RSS", why),
        None => daemon::measure(plan.io, plan.quick, t),
    }
}

fn row8(plan: &Plan, t: &mut Table) {
    t.heading(
        "8. Through latchkeyd on a security key (virtual key over CTAPHID, PIN, scripted prompt)",
    );
    latchkey_bench::keys::measure(plan.io, t);
}

fn row7(plan: &Plan, t: &mut Table) {
    t.heading("7. The graphical prompt (latchkey-ui under Xvfb)");
    let (running, activated) = if plan.quick { (3, 1) } else { (50, 10) };
    latchkey_bench::ui::measure(running, activated, t);
}

fn row4(plan: &Plan, t: &mut Table) {
    t.heading("4. Scale: platform FileStore (PIN-protected), credentials over 100 RPs");
    for &n in plan.sizes {
        let started = Instant::now();
        let store = match ScaleStore::build(n) {
            Ok(s) => s,
            Err(e) => {
                t.not_measured(format!("{n} credentials"), e.to_string());
                continue;
            }
        };
        let fill = started.elapsed();
        t.value(
            format!("{n} credentials: filled through the store API (tmpfs, then copied to disk)"),
            latchkey_bench::table::format_duration(fill),
        );
        let key = |k: &'static str| k;
        let (load, get, allow, list) = match n {
            10 => (
                key("load_10"),
                key("get_10"),
                key("allow_10"),
                key("list_10"),
            ),
            1_000 => (
                key("load_1k"),
                key("get_1k"),
                key("allow_1k"),
                key("list_1k"),
            ),
            _ => (
                key("load_10k"),
                key("get_10k"),
                key("allow_10k"),
                key("list_10k"),
            ),
        };
        t.timed(
            load,
            format!("{n}: store load (open)"),
            store.measure_load(plan.slow),
        );
        t.timed(
            get,
            format!(
                "{n}: discoverable getAssertion, one RP of {} credentials (token ready)",
                store.ids_of_rp.len()
            ),
            store.measure_discoverable_get(plan.fast),
        );
        t.timed(
            allow,
            format!("{n}: get ceremony, 64-entry allowList (client pre-flight + PIN token + getAssertion)"),
            store.measure_allow_list_get(plan.io),
        );
        t.timed(
            list,
            format!("{n}: list every credential"),
            store.measure_list(plan.slow),
        );
    }
    t.timed(
        "pin_unlock",
        "fresh user verification: PIN → Argon2id (128 MiB, t=4) unwraps the store key (first in a session)",
        scale::measure_pin_unlock(plan.kdf, false),
    );
    t.timed(
        "pin_session",
        "user verification in a session: PIN checked against the in-memory verifier",
        scale::measure_pin_unlock(plan.fast, true),
    );
}

fn row5(plan: &Plan, t: &mut Table) -> Option<f64> {
    t.heading("5. TPM (swtpm, TPM-bound platform store)");
    if let Some(why) = tpm::unavailable() {
        t.not_measured("TPM getAssertion", why);
        return None;
    }
    match tpm::measure(plan.io.scaled(1, 5)) {
        Ok(r) => {
            let per_get = r.commands_per_get;
            t.value(
                "TPM commands per getAssertion (warm key)",
                format!("{per_get:.2}"),
            );
            t.value(
                "TPM commands per PIN token (clientPIN getPinUvAuthTokenUsingPinWithPermissions)",
                format!("{:.2}", r.commands_per_token),
            );
            t.timed("tpm_ga", "TPM getAssertion (token ready)", Ok(r.get));
            Some(per_get)
        }
        Err(e) => {
            t.not_measured("TPM getAssertion", e.to_string());
            None
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn median_ms(t: &Table, key: &str) -> Option<f64> {
    t.samples(key)
        .map(|s: &Samples| s.median().as_secs_f64() * 1e3)
}

fn ratio(t: &Table, a: &str, b: &str) -> Option<f64> {
    Some(t.samples(a)?.median().as_secs_f64() / t.samples(b)?.median().as_secs_f64())
}

fn targets(t: &Table, tpm_per_get: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    let check = |what: &str, value: Option<f64>, ok: fn(f64) -> bool, unit: &str| match value {
        Some(v) => format!("- {what}: {v:.2}{unit} — {}", verdict(ok(v))),
        None => format!("- {what}: not measured"),
    };
    for (peer, key) in [
        ("passkey-authenticator (aws-lc-rs)", "pk_aws_ga"),
        ("passkey-authenticator (RustCrypto)", "pk_rc_ga"),
        ("SoftPasskey", "kn_ga"),
    ] {
        out.push(check(
            &format!("getAssertion at least as fast as {peer} (time ratio ≤ 1)"),
            ratio(t, "lk_ga", key),
            |v| v <= 1.0,
            "×",
        ));
    }
    out.push(check(
        "getAssertion within 1.5× of a bare sign",
        ratio(t, "lk_ga", "floor_sign"),
        |v| v <= 1.5,
        "×",
    ));
    // Met only if both estimates of the interleaved runs are: the ratio of the medians and the
    // median of the run-by-run ratios.
    for (level, ours, theirs, pairs) in [
        ("both through CBOR", "lk_mc", "pk_aws_mc_cbor", "paired_mc"),
        ("both typed", "lk_mc_typed", "pk_aws_mc", "paired_mc_typed"),
    ] {
        let what = format!(
            "makeCredential no slower than passkey-authenticator (aws-lc-rs), {level} (time ratio ≤ 1: of the medians / median run by run)"
        );
        out.push(
            match (ratio(t, ours, theirs), t.paired(pairs).map(|r| r.median())) {
                (Some(medians), Some(run_by_run)) => format!(
                    "- {what}: {medians:.2}× / {run_by_run:.2}× — {}",
                    verdict(medians <= 1.0 && run_by_run <= 1.0)
                ),
                _ => format!("- {what}: not measured"),
            },
        );
    }
    out.push(check(
        "latchkeyd get median ≤ 0.5 ms, less the waits on the prompt (human interaction)",
        median_ms(t, "dbus_get_own"),
        |v| v <= 0.5,
        " ms",
    ));
    // The gets alternate with the round trips: met only if the ratio of the medians and the
    // median of the run-by-run ratios are, and the ratio to the round trips timed back to back in
    // stretches spread between the gets (the faster floor) too.
    let what = "latchkeyd get, less the waits on the prompt, ≤ 3× the empty D-Bus round trip (of the medians / median run by run / to the round trips in loops of their own)";
    out.push(
        match (
            ratio(t, "dbus_get_own", "dbus_ping"),
            t.paired(latchkey_bench::daemon::PAIRED_GET_PING)
                .map(|r| r.median()),
            ratio(t, "dbus_get_own", "dbus_ping_alone"),
        ) {
            (Some(medians), Some(run_by_run), Some(alone)) => format!(
                "- {what}: {medians:.2}× / {run_by_run:.2}× / {alone:.2}× — {}",
                verdict(medians <= 3.0 && run_by_run <= 3.0 && alone <= 3.0)
            ),
            _ => format!("- {what}: not measured"),
        },
    );
    out.push(check(
        "latchkeyd create median ≤ 0.7 ms, less the waits on the prompt (human interaction)",
        median_ms(t, "dbus_create_own"),
        |v| v <= 0.7,
        " ms",
    ));
    out.push(check(
        "the wait after the PIN ≤ 250 ms: a get in a session through the binary",
        median_ms(t, "dbus_bin_get"),
        |v| v <= 250.0,
        " ms",
    ));
    if let Some(first) = median_ms(t, "dbus_bin_get_first") {
        out.push(format!(
            "  (the first get of a session pays Argon2id, once per session, keystore SECURITY.md: {first:.0} ms)"
        ));
    }
    out.push(check(
        "load test: every get answered, none lost or hung (fraction answered)",
        t.load.map(|(a, n)| a as f64 / n.max(1) as f64),
        |v| v >= 1.0,
        "",
    ));

    if let Some(whole) = median_ms(t, "dbus_get") {
        out.push(format!(
            "  (for reference: that get with the scripted prompt's round trips: {whole:.2} ms)"
        ));
    }
    out.push(check(
        "10,000 credentials: discoverable get < 5 ms",
        median_ms(t, "get_10k"),
        |v| v < 5.0,
        " ms",
    ));
    out.push(check(
        "10,000 credentials: load < 100 ms",
        median_ms(t, "load_10k"),
        |v| v < 100.0,
        " ms",
    ));
    out.push(check(
        "latchkeyd RSS < 30 MB after the request run",
        t.rss_kib.map(|k| k as f64 / 1024.0),
        |v| v < 30.0,
        " MiB",
    ));
    out.push(check(
        "one TPM command (sign) per assertion",
        tpm_per_get,
        |v| (v - 1.0).abs() < 1e-9,
        "",
    ));
    out
}

/// The rows named by `--rows 1,3` (or `--rows=1,3`); every row when absent.
fn rows_wanted(args: &[String]) -> Result<Vec<u8>, String> {
    let value = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--rows=")
            .map(str::to_owned)
            .or_else(|| (a == "--rows").then(|| args.get(i + 1).cloned().unwrap_or_default()))
    });
    let Some(value) = value else {
        return Ok(vec![1, 2, 3, 4, 5, 6, 7, 8]);
    };
    value
        .split(',')
        .map(|r| match r.trim().parse::<u8>() {
            Ok(n @ 1..=8) => Ok(n),
            _ => Err(format!(
                "--rows takes row numbers 1 to 8, separated by commas, not {r:?}"
            )),
        })
        .collect()
}

fn main() -> ExitCode {
    // Run again as one of the load test's callers (`latchkey_bench::load`).
    if latchkey_bench::load::serve_if_asked(daemon::get_options) {
        return ExitCode::SUCCESS;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let rows = match rows_wanted(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let plan = Plan::new(quick);
    let started = Instant::now();
    let mut t = Table::new();
    if rows.contains(&1) {
        row1(&plan, &mut t);
    }
    if rows.contains(&2) {
        row2(&plan, &mut t);
    }
    if rows.contains(&4) {
        row4(&plan, &mut t);
    }
    let tpm_per_get = if rows.contains(&5) {
        row5(&plan, &mut t)
    } else {
        None
    };
    if rows.contains(&3) {
        row3(&plan, &mut t);
    }
    if rows.contains(&8) {
        row8(&plan, &mut t);
    }
    if rows.contains(&6) {
        algorithms::row6(plan.fast, &mut t);
    }
    if rows.contains(&7) {
        row7(&plan, &mut t);
    }
    println!("{}", t.render());
    println!("Targets:");
    for line in targets(&t, tpm_per_get)
        .into_iter()
        .chain(latchkey_bench::ui::targets(&t))
    {
        println!("{line}");
    }
    let (measured, not) = t.counts();
    println!(
        "\n{} mode, {:.1} s; {measured} rows measured, {not} not measured",
        if quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    // Rows that only an absent tool or an unfinished component may skip.
    let allowed = |why: &str| {
        why.contains("swtpm is not installed")
            || why.contains("without the `tpm` feature")
            || why.contains("latchkeyd")
            || why.contains("dbus-daemon")
            || why.contains("a row it divides was not measured")
            || why.starts_with(latchkey_bench::ui::SKIPPED)
    };
    let failures: Vec<_> = t
        .not_measured_rows()
        .into_iter()
        .filter(|(_, why)| !allowed(why))
        .collect();
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for (row, why) in failures {
            eprintln!("failed: {row}: {why}");
        }
        ExitCode::FAILURE
    }
}

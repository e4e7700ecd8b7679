#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Crash safety: a writer process is SIGKILLed at random points; every credential it reported
//! as stored survives, and nothing half-written does.
//!
//! The writer is this test binary run again with `LATCHKEY_KEYSTORE_CRASH_CHILD=<dir>`, which
//! makes `crash_writer_child` loop: insert (sometimes replacing an earlier credential), update
//! the counter, print `done <new ID> <replaced ID or -> <RP ID> <user handle>`.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{contract::unlock, fast_options, new_credential, verify};
use latchkey_authenticator::store::{Algorithm, CredentialStore};
use latchkey_keystore::{FileStore, Protection};

const CHILD_ENV: &str = "LATCHKEY_KEYSTORE_CRASH_CHILD";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn open(dir: &Path) -> FileStore {
    FileStore::open_with(dir, Protection::Pin, fast_options()).unwrap()
}

/// The writer. Does nothing unless started by `writer_killed_at_random_points`.
#[test]
#[ignore = "the writer process of writer_killed_at_random_points"]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut s = open(Path::new(&dir));
    unlock(&mut s);
    let mut out = std::io::stdout().lock();
    let mut last: Option<(Vec<u8>, String, Vec<u8>)> = None;
    for n in 0u64.. {
        let rp = format!("rp{}.example", n % 7);
        let user = common::random_id(8);
        // Every fifth credential replaces the previous one (same RP and user).
        let (rp, user, replaced) = match (&last, n % 5 == 4) {
            (Some((id, rp, user)), true) => (rp.clone(), user.clone(), Some(id.clone())),
            _ => (rp, user, None),
        };
        let mut c = new_credential(&mut s, &rp, &user, true);
        s.insert(c.clone()).unwrap();
        c.sign_count = 1;
        s.update(&c).unwrap();
        let replaced = replaced.map_or("-".to_string(), |id| hex(&id));
        writeln!(out, "done {} {replaced} {rp} {}", hex(&c.id), hex(&user)).unwrap();
        out.flush().unwrap();
        last = Some((c.id, rp, user));
    }
}

/// xorshift64*, seeded: the kill points are reproducible.
struct Prng(u64);
impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[test]
fn writer_killed_at_random_points() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let seed = 0x1a7c_4e55_0000_0001;
    let mut prng = Prng(seed);
    let mut expected: HashSet<Vec<u8>> = HashSet::new();
    // Credential ID -> (RP ID, user handle), for every reported credential.
    let mut owners: HashMap<Vec<u8>, (String, Vec<u8>)> = HashMap::new();
    let mut total_done = 0;
    let exe = std::env::current_exe().unwrap();
    for round in 0..20 {
        let target = prng.range(15, 35);
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_writer_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        let mut last_reported: Option<Vec<u8>> = None;
        let mut record = |line: &str, expected: &mut HashSet<Vec<u8>>| {
            // libtest prints "test crash_writer_child ... " without a newline before the output.
            let Some(at) = line.find("done ") else {
                return false;
            };
            let mut parts = line[at..].split(' ').skip(1);
            let new = unhex(parts.next().unwrap());
            if let Some(old) = parts.next().filter(|o| *o != "-") {
                expected.remove(&unhex(old));
            }
            let rp = parts.next().unwrap().to_string();
            let user = unhex(parts.next().unwrap());
            owners.insert(new.clone(), (rp, user));
            last_reported = Some(new.clone());
            expected.insert(new);
            true
        };
        for line in lines.by_ref() {
            let line = line.unwrap();
            if record(&line, &mut expected) {
                seen += 1;
                if seen == target {
                    break;
                }
            }
        }
        assert_eq!(seen, target, "round {round}: the writer stopped early");
        // Let it run on a little, so the kill lands anywhere inside a write.
        std::thread::sleep(Duration::from_micros(prng.range(0, 3000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Lines it printed before dying were reported done too.
        for line in lines {
            let line = line.unwrap();
            if record(&line, &mut expected) {
                seen += 1;
            }
        }
        total_done += seen;

        let mut s = open(&dir);
        unlock(&mut s);
        let mut stored: HashMap<Vec<u8>, (String, Vec<u8>)> = HashMap::new();
        for rp in 0..7 {
            for c in s.by_rp(&format!("rp{rp}.example")).unwrap() {
                assert!(c.cred_random.is_some(), "secrets open: the record is whole");
                stored.insert(c.id.clone(), (c.rp.id.clone(), c.user.id.clone()));
            }
        }
        // At most the one insert in flight at the kill may be there without its report.
        let unreported: Vec<Vec<u8>> = stored
            .keys()
            .filter(|id| !expected.contains(*id))
            .cloned()
            .collect();
        assert!(
            unreported.len() <= 1,
            "round {round}: {} unreported",
            unreported.len()
        );
        for u in &unreported {
            assert!(
                !owners.contains_key(u),
                "round {round}: replaced credential {} is back",
                hex(u)
            );
        }
        for id in &expected {
            let Some(c) = s.get(id).unwrap() else {
                // Only a replacement in flight (written, not reported) may have taken the place
                // of the last reported credential.
                let replaced_by_unreported = unreported.iter().any(|u| stored[u] == owners[id]);
                assert!(
                    Some(id) == last_reported.as_ref() && replaced_by_unreported,
                    "round {round}: reported credential {} lost",
                    hex(id)
                );
                continue;
            };
            let sig = s
                .sign(&c.key, Algorithm::Es256, b"after the crash")
                .unwrap();
            assert!(verify(&c.public_key, b"after the crash", &sig));
        }
        expected = stored.keys().cloned().collect();
        owners.extend(stored);
        let leftovers: Vec<_> = std::fs::read_dir(dir.join("credentials"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.ends_with(".cred"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    assert!(total_done >= 300, "{total_done} creations");
    eprintln!(
        "crash test: seed {seed:#x}, 20 kills, {total_done} creations reported, {} credentials, {:?}",
        expected.len(),
        started.elapsed()
    );
}

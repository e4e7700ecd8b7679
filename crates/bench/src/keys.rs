//! Row 8: ceremonies on a security key through latchkeyd. latchkeyd is served in this process on
//! a private bus, as in row 3, with its ceremonies on a virtual security key served in this
//! process too (`latchkey_testkit::keys::TestKey`: the software CTAP 2.1 authenticator over
//! CTAPHID on a Unix socket, touched at once, with a PIN), the keys opened in process
//! (`KeyAccess::InProcess`), and the scripted prompt answering consent and PIN at once. Each
//! ceremony asks the PIN, as a key with a PIN and `userVerification: "required"` does. The
//! prompt's answers (a person's time) are taken out as in row 3; what remains is latchkeyd's and
//! the key's own work: opening the key, the hand-offs to blocking threads, the CTAPHID exchanges
//! (getInfo, getPinRetries, the key agreement and PIN token, the ceremony itself).

use std::sync::Arc;

use latchkey_api::Kind;
use latchkey_daemon::keys::{KeyBackend, KeySources};
use latchkey_daemon::server::Timeouts;
use latchkey_daemon::state::Backends;
use latchkey_testkit::keys::{Presence, TestKey};
use latchkey_testkit::platform;
use latchkey_transport::DeviceSpec;

use crate::daemon::{binaries, prompt_pin, split_rows, InProcess};
use crate::{prompt_time, stats, BenchError, Budget, Table};

/// Measures row 8 into `table`.
pub fn measure(budget: Budget, t: &mut Table) {
    if let Some(why) = crate::daemon::unavailable() {
        t.not_measured("latchkeyd on a security key", why);
        return;
    }
    if let Err(e) = ceremonies(budget, t) {
        t.not_measured("latchkeyd on a security key", e.to_string());
    }
}

fn ceremonies(budget: Budget, t: &mut Table) -> Result<(), BenchError> {
    let bins = binaries()?;
    let prompt_timed = prompt_time::install();
    let dir = tempfile::tempdir().map_err(|e| BenchError::setup("temporary directory", e))?;
    let key = TestKey::start(&dir.path().join("key.sock"), Presence::Touch);
    key.set_pin(prompt_pin());
    let spec: DeviceSpec = key
        .spec()
        .parse()
        .map_err(|e| BenchError::setup("the key's name", e))?;
    let keys = Arc::new(KeyBackend::new(
        KeySources {
            devices: vec![spec],
            ..KeySources::default()
        },
        Timeouts::default(),
    ));
    let backends = Backends {
        ceremonies: keys.clone(),
        store: platform::memory_platform(),
        keys: Some(keys),
    };
    // The first create makes the discoverable credential the gets sign with.
    let lk = InProcess::start_with(&bins, backends)?;
    let split = |kind: Kind| {
        if !prompt_timed {
            return Err(BenchError::setup(
                "prompt timing",
                "another tracing subscriber was installed first",
            ));
        }
        stats::measure_excluding(budget, || {
            prompt_time::take();
            lk.ceremony(kind)?;
            Ok(prompt_time::take())
        })
    };
    let (create, create_own) = split_rows(split(Kind::Create));
    let (get, get_own) = split_rows(split(Kind::Get));
    t.timed(
        "key_create",
        "latchkeyd create on a security key (virtual key over CTAPHID, in process; consent + PIN)",
        create,
    );
    t.timed(
        "key_create_own",
        "latchkeyd create on a security key, less its waits on the prompt",
        create_own,
    );
    t.timed(
        "key_get",
        "latchkeyd get on a security key (virtual key over CTAPHID, in process; consent + PIN)",
        get,
    );
    t.timed(
        "key_get_own",
        "latchkeyd get on a security key, less its waits on the prompt",
        get_own,
    );
    drop(lk);
    drop(key);
    Ok(())
}

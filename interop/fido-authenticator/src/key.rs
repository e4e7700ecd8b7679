//! `fido-authenticator` on trussed's virtual platform, on a thread of its own.
//!
//! `trussed::virt` lends its platform and client only inside closures
//! (`with_platform` → `run_client_with_backends`), so the authenticator lives on a dedicated
//! thread inside them and takes jobs from a channel: CTAPHID_CBOR payloads (command byte ‖ CBOR)
//! and CTAPHID_MSG payloads (U2F APDUs), fed to its `ctaphid-app` interface exactly as a CTAPHID
//! dispatcher would (CTAP 2.1 §11.2.9.1.1, §11.2.9.1.2). The internal flash is a file, so a
//! "power cycle" (the thread stops, a new one mounts the same file) keeps credentials, the PIN and
//! its retry counter, and forgets what CTAP keeps in RAM.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use ctaphid_app::{App, Command};
use fido_authenticator::{Authenticator, Config, Conforming, LargeBlobsConfig};
use littlefs2_core::{path, DynFilesystem, Path};
use rand_core::RngCore;
use trussed::backend::BackendId;
use trussed::platform::{Platform as _, UserInterface};
use trussed::store::Store as _;
use trussed::types::ui::Status;
use trussed::virt::{self, StorageConfig, StoreConfig};
use trussed_core::types::consent::Level;
use trussed_core::types::reboot::To;
use trussed_core::types::Location;
use trussed_staging::virt::{BackendIds, Dispatcher};

use crate::attestation::Attestation;

/// The largest CTAPHID message: 64 − 7 + 128 × (64 − 5) bytes (CTAP 2.1 §11.2.4).
pub const MAX_MESSAGE: usize = 7609;

/// The Trussed client ID the app runs as; its files live under this directory.
const CLIENT_ID: &str = "fido";

static BACKENDS: [BackendId<BackendIds>; 2] = [
    BackendId::Custom(BackendIds::StagingBackend),
    BackendId::Core,
];

/// What the authenticator thread is asked to do.
pub(crate) enum Job {
    /// A CTAPHID_CBOR payload.
    Cbor(Vec<u8>),
    /// A CTAPHID_MSG payload.
    Msg(Vec<u8>),
}

/// What the authenticator thread answers.
pub(crate) enum Event {
    /// The authenticator waits for a touch (Trussed's `WaitingForUserPresence` status).
    UpNeeded,
    /// The answer to the job.
    Done(Vec<u8>),
    /// The app refused the job at the transport level (an empty payload: CTAPHID's
    /// ERR_INVALID_LEN).
    Refused(&'static str),
}

/// The person at the virtual key: touches when asked (or not), counted.
#[derive(Debug, Clone, Default)]
pub struct Person {
    touches: Arc<AtomicUsize>,
    refuses: Arc<AtomicBool>,
}

impl Person {
    /// How many times the authenticator asked for a touch.
    pub fn touches(&self) -> usize {
        self.touches.load(Ordering::SeqCst)
    }

    /// Whether the person touches the key when asked (the default) or lets the request time out.
    pub fn set_touching(&self, touching: bool) {
        self.refuses.store(!touching, Ordering::SeqCst);
    }
}

/// trussed's `UserInterface` for the virtual platform, backed by a [`Person`].
struct Ui {
    person: Person,
    events: Sender<Event>,
}

impl UserInterface for Ui {
    fn check_user_presence(&mut self) -> Level {
        if self.person.refuses.load(Ordering::SeqCst) {
            // Polled until the request times out; do not spin a core meanwhile.
            std::thread::sleep(Duration::from_millis(5));
            Level::None
        } else {
            Level::Normal
        }
    }

    fn set_status(&mut self, status: Status) {
        if status == Status::WaitingForUserPresence {
            self.person.touches.fetch_add(1, Ordering::SeqCst);
            // The host may be gone; the authenticator goes on either way.
            let _ = self.events.send(Event::UpNeeded);
        }
    }

    fn refresh(&mut self) {}

    fn uptime(&mut self) -> Duration {
        // The virtual platform's own UserInterface answers uptime; this one is never asked.
        Duration::ZERO
    }

    fn reboot(&mut self, _to: To) -> ! {
        // fido-authenticator never reboots the device; should it, the key simply stops
        // answering and the host sees a timeout.
        loop {
            std::thread::park();
        }
    }

    fn wink(&mut self, _duration: Duration) {}
}

/// How to run the authenticator.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The internal flash image (created and formatted if missing).
    pub flash: PathBuf,
    /// How long a CTAP2 request waits for a touch, in milliseconds.
    pub up_timeout_ms: u32,
    /// Whether to enable the largeBlobKey extension and authenticatorLargeBlobs.
    pub large_blobs: bool,
    /// The most discoverable credentials it keeps.
    pub max_resident_credentials: Option<u32>,
}

fn config(settings: &Settings) -> Config {
    let mut config = Config::new(MAX_MESSAGE);
    config.fido2_up_timeout = Some(settings.up_timeout_ms);
    config.max_resident_credential_count = settings.max_resident_credentials;
    config.large_blobs = settings.large_blobs.then_some(LargeBlobsConfig {
        location: Location::Internal,
    });
    config.long_touch_for_reset = false;
    config
}

fn provision(ifs: &dyn DynFilesystem, attestation: &Attestation) -> Result<(), String> {
    let files: [(&Path, &Path, &[u8]); 2] = [
        (
            path!("fido/sec"),
            path!("fido/sec/00"),
            attestation.key_file(),
        ),
        (
            path!("fido/x5c"),
            path!("fido/x5c/00"),
            &attestation.certificate,
        ),
    ];
    for (dir, file, content) in files {
        ifs.create_dir_all(dir)
            .map_err(|e| format!("creating {dir}: {e:?}"))?;
        ifs.write(file, content)
            .map_err(|e| format!("writing {file}: {e:?}"))?;
    }
    Ok(())
}

/// Runs the authenticator until `jobs` closes. `attestation` is written into a freshly formatted
/// flash only.
pub(crate) fn serve(
    settings: Settings,
    attestation: Option<Attestation>,
    person: Person,
    jobs: Receiver<Job>,
    events: Sender<Event>,
) -> Result<(), String> {
    let fresh = !settings.flash.exists();
    let store = StoreConfig {
        internal: StorageConfig::filesystem(settings.flash.clone()),
        external: StorageConfig::ram(),
        volatile: StorageConfig::ram(),
    };
    virt::with_platform(store, |mut platform| {
        let ui = Ui {
            person,
            events: events.clone(),
        };
        platform.user_interface().set_inner(Box::new(ui));
        // The virtual platform seeds its RNG with a constant; Trussed mixes the first draw into
        // its own seed, so a random skip makes each key (and each boot) draw differently.
        let mut skip = [0u8; 2];
        aws_lc_rs::rand::fill(&mut skip).map_err(|_| "no system randomness".to_owned())?;
        for _ in 0..u16::from_le_bytes(skip) {
            platform.rng().next_u32();
        }
        if fresh {
            if let Some(attestation) = &attestation {
                provision(platform.store().ifs(), attestation)?;
            }
        }
        platform.run_client_with_backends(CLIENT_ID, Dispatcher::default(), &BACKENDS, |client| {
            let mut authenticator = Authenticator::new(client, Conforming {}, config(&settings));
            let mut response = heapless_bytes::Bytes::<MAX_MESSAGE>::new();
            for job in jobs {
                response.clear();
                let (command, request) = match &job {
                    Job::Cbor(r) => (Command::Cbor, r),
                    Job::Msg(r) => (Command::Msg, r),
                };
                let event = match authenticator.call(command, request, response.as_mut_view()) {
                    Ok(()) => Event::Done(response.to_vec()),
                    Err(ctaphid_app::Error::InvalidLength) => Event::Refused("ERR_INVALID_LEN"),
                    Err(ctaphid_app::Error::InvalidCommand) => Event::Refused("ERR_INVALID_CMD"),
                    Err(ctaphid_app::Error::NoResponse) => Event::Refused("no response"),
                };
                if events.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(())
    })
}

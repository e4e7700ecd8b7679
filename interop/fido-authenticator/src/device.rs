//! [`FidoKey`]: `fido-authenticator` behind the client's [`Device`] trait, as a USB key would be
//! behind CTAPHID: CTAP2 requests go in as CTAPHID_CBOR payloads, U2F APDUs as CTAPHID_MSG
//! payloads, and the answers come back as the app wrote them (status ‖ CBOR, data ‖ SW1 SW2).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use latchkey_client::device::{Gone, KeepaliveStatus, TransportError};
use latchkey_client::{CancelHandle, Device, DeviceDescription, DeviceError, Transport};

use crate::attestation::{Attestation, AttestationError};
use crate::key::{self, Event, Job, Person, Settings};

/// How long the host waits for an answer before giving up (longer than any touch timeout).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// How the virtual key is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a CTAP2 request waits for a touch, in milliseconds (the app's default is 30 s).
    pub up_timeout_ms: u32,
    /// Enable largeBlobKey and authenticatorLargeBlobs (1024-byte array, no chunking).
    pub large_blobs: bool,
    /// The most discoverable credentials the key keeps (`None`: as many as the flash holds).
    pub max_resident_credentials: Option<u32>,
    /// Provision a U2F attestation key and certificate (without them U2F_REGISTER fails).
    pub attestation: bool,
    /// Present the key as U2F-only: the description says `cbor: false` and CTAPHID_CBOR is
    /// refused, as on a key that lacks the CBOR capability (CTAP 2.1 §11.2.9.1.3).
    pub u2f_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            up_timeout_ms: 2_000,
            large_blobs: true,
            max_resident_credentials: None,
            attestation: true,
            u2f_only: false,
        }
    }
}

/// Why the virtual key did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The flash image's directory could not be made.
    #[error("the flash image directory could not be made: {0}")]
    Io(#[from] std::io::Error),
    /// The attestation could not be made.
    #[error(transparent)]
    Attestation(#[from] AttestationError),
}

struct Running {
    jobs: Sender<Job>,
    events: Receiver<Event>,
    thread: JoinHandle<Result<(), String>>,
}

impl Running {
    fn start(
        settings: Settings,
        attestation: Option<Attestation>,
        person: Person,
    ) -> std::io::Result<Self> {
        let (jobs, job_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fido-authenticator".into())
            .stack_size(8 << 20)
            .spawn(move || key::serve(settings, attestation, person, job_rx, event_tx))?;
        Ok(Self {
            jobs,
            events,
            thread,
        })
    }

    /// Stops the thread; its error, if it failed.
    fn stop(self) -> Option<String> {
        drop(self.jobs);
        match self.thread.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("the authenticator panicked".to_owned()),
        }
    }
}

/// Nitrokey's `fido-authenticator` on trussed's virtual platform, in process, as a [`Device`].
pub struct FidoKey {
    settings: Settings,
    options: Options,
    person: Person,
    cancel: CancelHandle,
    running: Option<Running>,
    attestation_key: Option<Vec<u8>>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for FidoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FidoKey")
            .field("options", &self.options)
            .field("touches", &self.person.touches())
            .finish_non_exhaustive()
    }
}

impl FidoKey {
    /// A new key with a blank flash.
    pub fn start(options: Options) -> Result<Self, StartError> {
        let dir = tempfile::tempdir()?;
        let settings = Settings {
            flash: dir.path().join("internal.littlefs"),
            up_timeout_ms: options.up_timeout_ms,
            large_blobs: options.large_blobs,
            max_resident_credentials: options.max_resident_credentials,
        };
        let attestation = if options.attestation {
            Some(Attestation::generate()?)
        } else {
            None
        };
        let attestation_key = attestation.as_ref().map(|a| a.public_key.clone());
        let person = Person::default();
        let running = Running::start(settings.clone(), attestation, person.clone())?;
        Ok(Self {
            settings,
            options,
            person,
            cancel: CancelHandle::new(),
            running: Some(running),
            attestation_key,
            _dir: dir,
        })
    }

    /// The person at the key: touch count, and whether they touch.
    pub fn person(&self) -> &Person {
        &self.person
    }

    /// The attestation public key (uncompressed P-256 point), if one was provisioned.
    pub fn attestation_public_key(&self) -> Option<&[u8]> {
        self.attestation_key.as_deref()
    }

    /// Unplugs and replugs the key: what CTAP keeps in RAM (PIN attempts since boot, the
    /// key-agreement key, pending getNextAssertion state) is lost; the flash stays.
    pub fn power_cycle(&mut self) -> Result<(), DeviceError> {
        if let Some(running) = self.running.take() {
            if let Some(e) = running.stop() {
                return Err(DeviceError::Gone(Gone::Reported(e)));
            }
        }
        let running = Running::start(self.settings.clone(), None, self.person.clone())?;
        self.running = Some(running);
        Ok(())
    }

    fn exchange(
        &mut self,
        job: Job,
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if self.cancel.is_cancelled() {
            return Err(DeviceError::Cancelled);
        }
        let running = self
            .running
            .as_ref()
            .ok_or_else(|| DeviceError::Gone(Gone::Reported("the key is stopped".into())))?;
        if running.jobs.send(job).is_err() {
            return Err(self.gone());
        }
        loop {
            match running.events.recv_timeout(ANSWER_TIMEOUT) {
                Ok(Event::UpNeeded) => status(KeepaliveStatus::UpNeeded),
                Ok(Event::Done(answer)) => return Ok(answer),
                Ok(Event::Refused(why)) => {
                    return Err(DeviceError::Transport(TransportError::Reported(why.into())))
                }
                Err(RecvTimeoutError::Timeout) => return Err(DeviceError::Timeout),
                Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
            }
        }
    }

    fn gone(&mut self) -> DeviceError {
        let why = self
            .running
            .take()
            .and_then(Running::stop)
            .unwrap_or_else(|| "the authenticator stopped".to_owned());
        DeviceError::Gone(Gone::Reported(why))
    }
}

impl Drop for FidoKey {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop();
        }
    }
}

impl Device for FidoKey {
    fn info(&self) -> DeviceDescription {
        DeviceDescription {
            name: "Nitrokey fido-authenticator (trussed virt)".into(),
            path: self.settings.flash.display().to_string(),
            transport: Transport::Usb,
            cbor: !self.options.u2f_only,
        }
    }

    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        if self.options.u2f_only {
            return Err(DeviceError::Unsupported("CTAPHID_CBOR"));
        }
        self.exchange(Job::Cbor(request.to_vec()), status)
    }

    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.exchange(Job::Msg(apdu.to_vec()), &mut |_| {})
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }
}

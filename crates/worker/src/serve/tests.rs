//! The executor's session timer, on a device whose session runs out while no request comes.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_client::device::KeepaliveStatus;
use latchkey_client::manage::CredentialInfo;
use latchkey_client::{CancelHandle, Device, DeviceDescription, DeviceError, Transport};

use super::*;
use crate::managed::ManageError;

/// A store whose session has `left` checks to go before it is due; records what happened.
struct Expiring {
    left: u32,
    events: Arc<Mutex<Vec<&'static str>>>,
    cancel: CancelHandle,
}

impl Device for Expiring {
    fn info(&self) -> DeviceDescription {
        DeviceDescription {
            name: "expiring".into(),
            path: String::new(),
            transport: Transport::Internal,
            cbor: true,
        }
    }
    fn cbor(
        &mut self,
        _request: &[u8],
        _status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        Ok(vec![0])
    }
    fn msg(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported("U2F"))
    }
    fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }
}

impl ManagedDevice for Expiring {
    fn list(&mut self, _: Option<&str>) -> Option<Result<Vec<CredentialInfo>, ManageError>> {
        None
    }
    fn delete(&mut self, _: &[u8]) -> Option<Result<bool, ManageError>> {
        None
    }
    fn expire_session(&mut self) -> Option<Duration> {
        match self.left {
            0 => None,
            1 => {
                self.left = 0;
                self.events.lock().unwrap().push("expired");
                None
            }
            n => {
                self.left = n - 1;
                Some(Duration::from_millis(1))
            }
        }
    }
}

#[test]
fn a_session_that_runs_out_between_requests_is_ended_before_the_next_one() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut device = Expiring {
        left: 3,
        events: events.clone(),
        cancel: CancelHandle::new(),
    };
    let (tx, rx) = mpsc::channel();
    let sender_events = events.clone();
    let sender = std::thread::spawn(move || {
        // The request comes only once the session has ended, however long that takes.
        while !sender_events.lock().unwrap().contains(&"expired") {
            std::thread::sleep(Duration::from_millis(1));
        }
        sender_events.lock().unwrap().push("sent");
        tx.send((1, Request::EndSession {})).unwrap();
        tx
    });
    let mut live = true;
    let next = next_request(&mut device, &rx, &mut live);
    assert_eq!(next, Some((1, Request::EndSession {})));
    assert!(!live);
    assert_eq!(*events.lock().unwrap(), ["expired", "sent"]);
    // With no session, the executor waits for requests alone; a closed link ends it.
    drop(sender.join().unwrap());
    assert_eq!(next_request(&mut device, &rx, &mut live), None);
}

/// A CTAP command that fails on the store is answered with the store's error and its kind, not
/// the bare CTAP1_ERR_OTHER the authenticator gives a CTAP peer: latchkeyd decides whose fault
/// it is from the kind, and logs the words.
#[test]
fn a_ctap_command_failing_on_the_store_is_answered_with_the_stores_kind() {
    use latchkey_authenticator::memory::MemoryStore;
    use latchkey_authenticator::store::{StoreError, StoreErrorKind};
    use latchkey_client::platform::{PlatformDevice, Presence};
    use latchkey_ctap::command::{self as cmd, ClientDataHash};
    use latchkey_ctap::entity::{
        CoseAlgorithm, CredentialParameters, RpEntity, UserEntity, UserId,
    };

    let cancel = CancelHandle::new();
    let mut store = MemoryStore::default();
    let read_only = std::io::Error::from_raw_os_error(30);
    store.fail_writes(Some(StoreError::file("writing", "/s/x.cred", read_only)));
    let mut device = PlatformDevice::with_store(
        latchkey_authenticator::Config::default(),
        store,
        Presence::granted(cancel.clone()),
        cancel,
        String::new(),
    );
    let command = cmd::Request::MakeCredential(cmd::MakeCredentialRequest {
        client_data_hash: ClientDataHash([7; 32]),
        rp: RpEntity {
            id: "example.com".into(),
            name: None,
        },
        user: UserEntity {
            id: UserId::new(vec![1; 8]).unwrap(),
            name: Some("alice".into()),
            display_name: None,
        },
        pub_key_cred_params: vec![CredentialParameters {
            alg: CoseAlgorithm::ES256,
        }],
        exclude_list: None,
        extensions: None,
        options: cmd::MakeCredentialOptions {
            rk: Some(true),
            up: None,
            uv: None,
        },
        pin_uv_auth_param: None,
        pin_uv_auth_protocol: None,
        enterprise_attestation: None,
        attestation_formats_preference: None,
    })
    .encode();
    match execute(&mut device, Request::Ctap { command }) {
        Err(Reply::Error {
            code: ErrorCode::Store,
            message,
            store: Some(StoreErrorKind::ReadOnly),
        }) => assert_eq!(
            message,
            "storage failed: writing /s/x.cred: Read-only file system (os error 30)"
        ),
        other => panic!("not the store's error with its kind: {other:?}"),
    }
}

/// What the client crate (and so a WebAuthn message) sees of a worker's store failure is its
/// kind, never the worker's words, which name files.
#[test]
fn a_store_failure_reaches_the_client_without_the_workers_words() {
    use latchkey_authenticator::store::StoreErrorKind;
    let e = crate::process::WorkerError::Failed {
        code: ErrorCode::Store,
        message: "storage failed: writing /home/u/.local/share/latchkey/x.cred".into(),
        store: Some(StoreErrorKind::ReadOnly),
    };
    let seen = e.to_device_error().to_string();
    assert_eq!(
        seen,
        "the authenticator is gone: the platform authenticator failed: the credential store is \
         on a read-only file system"
    );
    let e = crate::process::WorkerError::Failed {
        code: ErrorCode::Busy,
        message: "/secret/path".into(),
        store: None,
    };
    assert!(!e.to_device_error().to_string().contains("/secret"));
}

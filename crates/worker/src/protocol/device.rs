//! The device worker's messages (`latchkey-device-worker`): latchkeyd asks it to find and open
//! security keys and relays CTAP requests to them; the CTAP client (PIN, selection, extensions)
//! stays in latchkeyd, so the worker never sees a PIN, only the bytes a key is sent.
//!
//! | type | request (latchkeyd → worker), body | reply (worker → latchkeyd), body |
//! |---|---|---|
//! | 1 | `Acquire` `{1: [spec…], 2: usb, 3: pcsc}`: open the keys present, then follow new ones | `Ready` `{1: version}` once the sandbox is on |
//! | 2 | `Cbor` `{1: key, 2: request}`: a CTAP2 request (CTAP 2.1 §8.1) | `Opened` `{1: key, 2: name, 3: path, 4: transport, 5: cbor}`: a key found for the `Acquire` with this `seq` (more may follow) |
//! | 3 | `Msg` `{1: key, 2: apdu}`: a U2F APDU (CTAP 2.1 §11.2.9.1.1) | `Listed` `{}`: the keys present at `Acquire` were all sent; later `Opened` are keys that appeared |
//! | 4 | `Stop` `{}`: stop following new keys for the `Acquire` with this `seq` (no reply) | `Keepalive` `{1: status}` (CTAPHID_KEEPALIVE, CTAP 2.1 §11.2.9.2.1) for the `Cbor` with this `seq` |
//! | 5 | `Cancel` `{1: key}`: cancel what the key does, and all it is asked later (CTAPHID_CANCEL; no reply) | `Answer` `{1: response}`: the key's answer (status byte and CBOR, or an APDU) |
//! | 6 | `Close` `{1: key}`: let the key go (no reply) | `Failed` `{1: code, 2: message}` |
//!
//! `key` numbers are the worker's, unique for its lifetime. A `spec` is what `--device` takes
//! (`unix:PATH`, `udp:HOST:PORT`, `hidraw:N`/a path, `pcsc:READER`); `transport` is 1 USB,
//! 2 virtual, 3 NFC.

use super::platform::MAX_ERROR_MESSAGE;
use super::wire::{wire_messages, Value, Wire};
use super::{ProtocolError, MAX_CTAP_MESSAGE};

/// The longest CTAP request or APDU sent to a key (CTAPHID carries at most 7609 bytes, CTAP 2.1
/// §11.2.4; an extended APDU is at most 65,544 bytes, and U2F requests are far shorter).
pub const MAX_KEY_REQUEST: usize = 7609;
/// How many keys one `Acquire` may name.
pub const MAX_SPECS: usize = 64;
/// The longest key spec or path (`PATH_MAX` and a prefix).
pub const MAX_SPEC: usize = 4200;
/// The longest key name shown to the user.
pub const MAX_NAME: usize = 512;

/// A spec, as an array element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec(pub String);

impl Wire for Spec {
    fn to_value(&self) -> Result<Value, ProtocolError> {
        self.0.check("spec", 1, super::wire::bound(MAX_SPEC))?;
        Ok(Value::Text(self.0.clone()))
    }
    fn from_value(value: Value, field: &'static str) -> Result<Self, ProtocolError> {
        let s = String::from_value(value, field)?;
        s.check(field, 1, super::wire::bound(MAX_SPEC))?;
        Ok(Self(s))
    }
}

impl super::wire::Record for Spec {}

wire_messages! {
    /// What latchkeyd asks of the device worker.
    pub enum DeviceRequest {
        /// Open the keys present (the named ones, and with `usb`/`pcsc` the FIDO hidraw nodes
        /// and the cards on PC/SC readers), then follow keys that appear, until `Stop`.
        1 => Acquire {
            /// Keys named by `--device` and `devices.toml`.
            1 => specs: Vec<Spec> [0 ..= MAX_SPECS],
            /// Whether hidraw nodes are found and followed.
            2 => usb: bool,
            /// Whether cards on PC/SC readers are used.
            3 => pcsc: bool,
        },
        /// A CTAP2 request to key `key`.
        2 => Cbor {
            /// The key.
            1 => key: u32,
            /// Command byte and CBOR parameters.
            2 => request: Vec<u8> [1 ..= MAX_KEY_REQUEST],
        },
        /// A U2F APDU to key `key`.
        3 => Msg {
            /// The key.
            1 => key: u32,
            /// The APDU.
            2 => apdu: Vec<u8> [1 ..= MAX_KEY_REQUEST],
        },
        /// Stop following new keys for the `Acquire` with this `seq`.
        4 => Stop {},
        /// Cancel the key's request under way and every later one (CTAPHID_CANCEL).
        5 => Cancel {
            /// The key.
            1 => key: u32,
        },
        /// Close the key.
        6 => Close {
            /// The key.
            1 => key: u32,
        },
    }
}

wire_messages! {
    /// What the device worker answers.
    pub enum DeviceReply {
        /// The sandbox is on; requests may follow.
        1 => Ready {
            /// [`super::PROTOCOL_VERSION`] of the worker's build.
            1 => version: u64,
        },
        /// A key was opened for the `Acquire` with this `seq`.
        2 => Opened {
            /// Its number, for `Cbor`, `Msg`, `Cancel` and `Close`.
            1 => key: u32,
            /// Its name, for the user.
            2 => name: String [0 ..= MAX_NAME],
            /// Where it is (its spec).
            3 => path: String [0 ..= MAX_SPEC],
            /// 1 USB, 2 virtual, 3 NFC.
            4 => transport: u8 [1 ..= 3],
            /// Whether it speaks CTAP2.
            5 => cbor: bool,
        },
        /// The keys present at `Acquire` were all sent.
        3 => Listed {},
        /// The key is working or waiting for the user.
        4 => Keepalive {
            /// CTAPHID_KEEPALIVE's status byte.
            1 => status: u8,
        },
        /// The key's answer.
        5 => Answer {
            /// Status byte and CBOR, or a response APDU.
            1 => response: Vec<u8> [1 ..= MAX_CTAP_MESSAGE],
        },
        /// The request failed.
        6 => Failed {
            /// What kind of failure (a `latchkey_client::DeviceError` variant).
            1 => code: u8 [1 ..= 8],
            /// What happened, for logs.
            2 => message: String [0 ..= MAX_ERROR_MESSAGE],
        },
    }
}

/// What a [`DeviceReply::Failed`] code means, as a `latchkey_client::DeviceError`.
pub mod failure {
    /// The key is gone.
    pub const GONE: u8 = 1;
    /// The key is not ready yet.
    pub const NOT_READY: u8 = 2;
    /// An I/O error.
    pub const IO: u8 = 3;
    /// A malformed answer from the key.
    pub const GARBAGE: u8 = 4;
    /// The key's transport reported an error.
    pub const TRANSPORT: u8 = 5;
    /// No answer in time.
    pub const TIMEOUT: u8 = 6;
    /// Cancelled.
    pub const CANCELLED: u8 = 7;
    /// Not supported by the key, or the request was malformed.
    pub const UNSUPPORTED: u8 = 8;
}

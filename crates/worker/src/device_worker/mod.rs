//! The device worker (DESIGN.md "Processes": the device worker holds `/dev/hidraw*` and PC/SC
//! and may not read the credential store): `latchkey-device-worker` finds and opens security
//! keys — hidraw nodes with hot-plug, the `unix:`/`udp:` virtual keys, cards on PC/SC readers —
//! inside its own sandbox ([`sandbox`]) and carries bytes between them and latchkeyd
//! ([`serve`]; messages in `crate::protocol::device`). latchkeyd keeps the CTAP client: routing,
//! selection, PINs and extensions run there on [`client::RemoteKey`]s, so the worker never
//! holds a PIN or a PIN token in the clear (only the encrypted exchanges a key is sent), and a
//! hostile key's bytes are parsed first by the worker's CTAPHID and APDU layers.

pub mod broker;
pub mod client;
pub mod namespace;
pub mod profile;
pub mod sandbox;
pub mod serve;

pub use client::{
    pcscd_socket, DeviceWorker, DeviceWorkerConfig, Reach, RemoteKey, DEVICE_WORKER_PROGRAM,
    KEYS_STOPPED,
};

#[cfg(test)]
mod tests;

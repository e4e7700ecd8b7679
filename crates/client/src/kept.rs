//! What the platform keeps of its own platform authenticator between ceremonies: the getInfo
//! answer and the PIN/UV key agreement (ARCHITECTURE.md, "getInfo and key agreement kept").
//!
//! CTAP 2.1 has a platform ask getInfo and agree a fresh PIN/UV shared secret (§6.5.4) in every
//! ceremony, because a security key can change hands or be reset by another host in between.
//! Our platform authenticator cannot: one process drives it (latchkeyd's worker, or the
//! in-process core), so only the commands sent through this very device change it. A device
//! that returns a [`Kept`] from [`crate::Device::kept`] lets the client
//!
//! - answer getInfo from the last answer while every command since is one that leaves getInfo
//!   as it was ([`leaves_info_unchanged`]: getAssertion, and clientPIN's retries, key agreement
//!   and token subcommands); anything else (makeCredential, setPIN, changePIN, reset,
//!   authenticatorConfig, credential management, …) forgets it, and so does the device when it
//!   changes the authenticator another way (store management, a new worker);
//! - reuse its platform key-agreement key and shared secret while the authenticator's key
//!   agreement key stays the same. getKeyAgreement is still asked every time and the kept secret
//!   is used only when the authenticator's public key is the one it was agreed with: the
//!   authenticator replaces that key after a wrong PIN, on reset and on power-up, and then the
//!   client agrees afresh, so a kept secret is never used with a key it was not agreed with (a
//!   stale secret would turn a right PIN into a mismatch and cost a retry).
//!
//! Security keys keep the per-ceremony behaviour: their devices return no [`Kept`].

use latchkey_ctap::cbor::{decode, Value};
use latchkey_ctap::command::GetInfoResponse;
use latchkey_ctap::cose::P256Point;

use crate::pinuv::Session;

/// CTAP 2.1 command bytes (§6) of the commands that leave getInfo as it was.
const GET_ASSERTION: u8 = 0x02;
const GET_INFO: u8 = 0x04;
const CLIENT_PIN: u8 = 0x06;
const GET_NEXT_ASSERTION: u8 = 0x08;

/// clientPIN subcommands (§6.5.5.1) that leave getInfo as it was: getPINRetries,
/// getKeyAgreement, getPinToken, getUVRetries, getPinUvAuthTokenUsingPinWithPermissions.
/// (getPinUvAuthTokenUsingUvWithPermissions changes `uvCountSinceLastPinEntry`, and
/// setPIN / changePIN the `clientPin` option, `forcePINChange` and `minPINLength`.)
const READ_ONLY_PIN_SUBCOMMANDS: [u64; 5] = [0x01, 0x02, 0x05, 0x07, 0x09];

/// Whether `request` (command byte and CBOR parameters) leaves the authenticator's getInfo
/// answer as it was. Unknown or undecodable requests do not.
pub fn leaves_info_unchanged(request: &[u8]) -> bool {
    match request.split_first() {
        Some((&(GET_INFO | GET_ASSERTION | GET_NEXT_ASSERTION), _)) => true,
        Some((&CLIENT_PIN, params)) => {
            let Ok(Value::Map(entries)) = decode(params) else {
                return false;
            };
            entries.iter().any(|(k, v)| {
                k.as_int().and_then(|k| k.as_u64()) == Some(2)
                    && v.as_int()
                        .and_then(|v| v.as_u64())
                        .is_some_and(|sub| READ_ONLY_PIN_SUBCOMMANDS.contains(&sub))
            })
        }
        _ => false,
    }
}

/// The kept key agreement: the authenticator's public key it was agreed with, and the session.
struct Agreement {
    peer: P256Point,
    session: Session,
}

/// What a platform authenticator's device keeps between ceremonies (see the module docs).
/// The shared secret is zeroised when it is dropped or replaced.
#[derive(Default)]
pub struct Kept {
    info: Option<GetInfoResponse>,
    agreement: Option<Agreement>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("info", &self.info.is_some())
            .field("agreement", &self.agreement.is_some())
            .finish()
    }
}

impl Kept {
    /// Nothing kept.
    pub fn new() -> Self {
        Self::default()
    }

    /// Called by the device with every request before it is sent: forgets getInfo unless the
    /// request leaves it as it was.
    pub fn observe(&mut self, request: &[u8]) {
        if !leaves_info_unchanged(request) {
            self.info = None;
        }
    }

    /// Forgets everything (the authenticator changed outside CTAP, or is a new one).
    pub fn forget(&mut self) {
        self.info = None;
        self.agreement = None;
    }

    /// The kept getInfo answer.
    pub fn info(&self) -> Option<&GetInfoResponse> {
        self.info.as_ref()
    }

    /// Keeps a getInfo answer.
    pub fn keep_info(&mut self, info: &GetInfoResponse) {
        self.info = Some(info.clone());
    }

    /// The session agreed with `peer` under `protocol`, if one is kept.
    pub fn session(
        &self,
        protocol: latchkey_ctap::pin::PinUvAuthProtocol,
        peer: &P256Point,
    ) -> Option<Session> {
        self.agreement
            .as_ref()
            .filter(|a| a.peer == *peer && a.session.protocol == protocol)
            .map(|a| a.session.clone())
    }

    /// Keeps `session`, agreed with the authenticator's `peer` key.
    pub fn keep_session(&mut self, peer: P256Point, session: &Session) {
        self.agreement = Some(Agreement {
            peer,
            session: session.clone(),
        });
    }

    /// Whether a key agreement is kept.
    pub fn has_session(&self) -> bool {
        self.agreement.is_some()
    }
}

#[cfg(test)]
mod tests;

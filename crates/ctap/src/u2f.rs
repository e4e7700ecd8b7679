//! U2F/CTAP1 raw messages carried in ISO 7816-4 APDUs.
//!
//! Both directions are covered: a client encodes [`Request`]s and parses [`RegisterResponse`] /
//! [`AuthenticateResponse`]; an authenticator parses [`Request`]s and builds the responses.
//!
//! Specs: FIDO U2F Raw Message Formats v1.2
//! (<https://fidoalliance.org/specs/fido-u2f-v1.2-ps-20170411/fido-u2f-raw-message-formats-v1.2-ps-20170411.html>)
//! and CTAP 2.1 §11.2.9.1.1 / §8 "Interoperating with CTAP1/U2F authenticators"
//! (<https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#u2f-interoperability>).

/// The ISO 7816-4 APDUs U2F messages travel in (they live in [`crate::iso7816`]).
pub use crate::iso7816 as apdu;
mod request;
mod response;

pub use apdu::{ApduError, CommandApdu, ResponseApdu, StatusWord};
pub use request::{
    AuthenticateControl, AuthenticateRequest, KeyHandle, KeyHandleError, RegisterRequest, Request,
    RequestError,
};
pub use response::{
    authenticate_signed_data, register_signed_data, AuthenticateResponse, RegisterResponse,
    ResponseError, USER_PRESENCE_FLAG,
};

/// Instruction byte of U2F_REGISTER (raw message formats §4.1).
pub const INS_REGISTER: u8 = 0x01;
/// Instruction byte of U2F_AUTHENTICATE (raw message formats §5.1).
pub const INS_AUTHENTICATE: u8 = 0x02;
/// Instruction byte of U2F_VERSION (raw message formats §6).
pub const INS_VERSION: u8 = 0x03;
/// The only class byte U2F uses.
pub const CLA: u8 = 0x00;
/// The U2F_VERSION response body.
pub const VERSION: &[u8] = b"U2F_V2";
/// Reserved byte that starts a registration response (raw message formats §4.3).
pub const REGISTER_RESERVED: u8 = 0x05;

#[cfg(test)]
mod tests;

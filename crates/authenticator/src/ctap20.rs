//! The CTAP 2.0 face of the authenticator ([`crate::Config::ctap20`]): what a client sees of a
//! key that predates CTAP 2.1, so that clients can be tested against one.
//!
//! Only the announced surface changes, which is what a client decides on: getInfo keeps the
//! CTAP 2.0 members (versions, extensions, aaguid, options, maxMsgSize, pinProtocols) with
//! `FIDO_2_0` as the newest version, `hmac-secret` as the only extension, no
//! `pinUvAuthToken`/`credMgmt`/`authnrCfg`/… options and PIN protocol 1 only
//! (CTAP 2.0 §5.4); the commands CTAP 2.1 added are `CTAP1_ERR_INVALID_COMMAND`, the clientPIN
//! subcommands it added (0x06, 0x07, 0x09) `CTAP2_ERR_INVALID_SUBCOMMAND`, and protocol 2
//! `CTAP1_ERR_INVALID_PARAMETER`. A token from getPinToken then follows the CTAP 2.1 rules
//! (its mc/ga permissions are spent by one ceremony), which a CTAP 2.0 client that gets a token
//! per ceremony does not notice.

use latchkey_ctap::command::{ClientPinRequest, GetInfoResponse, Request};
use latchkey_ctap::pin::PinUvAuthProtocol;

use crate::status::Status;

/// The getInfo options a CTAP 2.0 key can announce (CTAP 2.0 §5.4).
const OPTIONS: [&str; 5] = ["plat", "rk", "up", "uv", "clientPin"];

/// Whether a CTAP 2.0 key knows `request`; the status it answers with otherwise.
pub(crate) fn admit(request: &Request) -> Result<(), Status> {
    let protocol_one = |p: Option<PinUvAuthProtocol>| match p {
        None | Some(PinUvAuthProtocol::One) => Ok(()),
        Some(_) => Err(Status::InvalidParameter),
    };
    match request {
        Request::MakeCredential(r) => protocol_one(r.pin_uv_auth_protocol),
        Request::GetAssertion(r) => protocol_one(r.pin_uv_auth_protocol),
        Request::GetInfo | Request::Reset | Request::GetNextAssertion => Ok(()),
        Request::ClientPin(r) => match r {
            ClientPinRequest::GetPinRetries { protocol } => protocol_one(*protocol),
            ClientPinRequest::GetKeyAgreement { protocol }
            | ClientPinRequest::SetPin { protocol, .. }
            | ClientPinRequest::ChangePin { protocol, .. }
            | ClientPinRequest::GetPinToken { protocol, .. } => protocol_one(Some(*protocol)),
            ClientPinRequest::GetPinUvAuthTokenUsingUvWithPermissions { .. }
            | ClientPinRequest::GetUvRetries
            | ClientPinRequest::GetPinUvAuthTokenUsingPinWithPermissions { .. } => {
                Err(Status::InvalidSubcommand)
            }
        },
        Request::CredentialManagement(_)
        | Request::CredentialManagementPreview(_)
        | Request::Selection
        | Request::LargeBlobs(_)
        | Request::Config(_) => Err(Status::InvalidCommand),
    }
}

/// The CTAP 2.0 members of `info`.
pub(crate) fn info(info: GetInfoResponse) -> GetInfoResponse {
    GetInfoResponse {
        versions: info
            .versions
            .into_iter()
            .filter(|v| v == "U2F_V2" || v == "FIDO_2_0")
            .collect(),
        extensions: Some(vec!["hmac-secret".to_owned()]),
        aaguid: info.aaguid,
        options: info.options.map(|options| {
            options
                .into_iter()
                .filter(|(name, _)| OPTIONS.contains(&name.as_str()))
                .collect()
        }),
        max_msg_size: info.max_msg_size,
        pin_uv_auth_protocols: Some(vec![1]),
        ..GetInfoResponse::default()
    }
}

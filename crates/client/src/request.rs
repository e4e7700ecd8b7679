//! A ceremony's checked inputs: the parsed options, the authorized RP ID and the exact
//! `clientDataJSON` (WebAuthn L3 §5.1.3 steps 1–13, §5.1.4 steps 1–11).
//!
//! latchkeyd builds these itself (it owns caller identity and clientData); the `latchkey` command
//! and tests use [`CreateRequest::new`] / [`GetRequest::new`], which check the RP ID against a
//! web origin the command line vouches for.

use latchkey_webauthn::clientdata::{Ancestry, CeremonyType, CollectedClientData};
use latchkey_webauthn::ids::ClientDataHash;
use latchkey_webauthn::options::{CreationOptions, RequestOptions};
use latchkey_webauthn::origin::{AuthorizedRpId, Origin};
use latchkey_webauthn::WebAuthnError;

/// `navigator.credentials.create()` inputs, checked.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The parsed creation options.
    pub options: CreationOptions,
    /// The RP ID, authorized for the caller's origin.
    pub rp_id: String,
    /// The exact `clientDataJSON` bytes.
    pub client_data_json: Vec<u8>,
}

/// `navigator.credentials.get()` inputs, checked.
#[derive(Debug, Clone)]
pub struct GetRequest {
    /// The parsed request options.
    pub options: RequestOptions,
    /// The RP ID, authorized for the caller's origin.
    pub rp_id: String,
    /// The exact `clientDataJSON` bytes.
    pub client_data_json: Vec<u8>,
}

fn ancestry(top_origin: Option<&str>, origin: &Origin) -> Result<Ancestry, WebAuthnError> {
    match top_origin {
        None => Ok(Ancestry::SameOrigin),
        Some(top) => {
            let top = Origin::parse(top)?;
            if top.serialize() == origin.serialize() {
                Ok(Ancestry::SameOrigin)
            } else {
                Ok(Ancestry::CrossOrigin {
                    top_origin: Some(top.serialize()),
                })
            }
        }
    }
}

/// Checks `rp_id`, and the FIDO AppID of `appid`/`appidExclude` (an RP ID of its own to the
/// authenticator, L3 §10.1.1/§10.1.2), against `origin`; the AppID becomes the one the check
/// settled on (an empty one is the origin itself, FIDO AppID and Facet §3.1.2 step 2).
fn authorize(
    origin: &str,
    rp_id: Option<&str>,
    app_id: &mut Option<String>,
) -> Result<(Origin, AuthorizedRpId), WebAuthnError> {
    let origin = Origin::parse(origin)?;
    let authorized = AuthorizedRpId::check_origin(&origin, rp_id)?;
    if let Some(id) = app_id.as_mut() {
        *id = latchkey_webauthn::extensions::appid::authorize_appid(&origin, id)?
            .as_str()
            .to_owned();
    }
    Ok((origin, authorized))
}

impl CreateRequest {
    /// Parses `options_json` and checks its `rp.id` against `origin` (a web origin the caller
    /// vouches for); `top_origin` makes the request cross-origin when it differs.
    pub fn new(
        options_json: &[u8],
        origin: &str,
        top_origin: Option<&str>,
    ) -> Result<Self, WebAuthnError> {
        let mut options = CreationOptions::from_json(options_json)?;
        let (origin, authorized) = authorize(
            origin,
            options.rp_id.as_deref(),
            &mut options.extensions.appid_exclude,
        )?;
        let client_data = CollectedClientData::new(
            CeremonyType::Create,
            &options.challenge,
            &origin.serialize(),
            ancestry(top_origin, &origin)?,
        );
        Ok(Self {
            rp_id: authorized.rp_id().as_str().to_owned(),
            client_data_json: client_data.to_json_bytes(),
            options,
        })
    }

    /// From parts a gateway already checked: the options JSON, the RP ID it authorized for the
    /// caller, and the `clientDataJSON` it built.
    pub fn from_parts(
        options_json: &[u8],
        rp_id: &str,
        client_data_json: Vec<u8>,
    ) -> Result<Self, WebAuthnError> {
        Ok(Self {
            options: CreationOptions::from_json(options_json)?,
            rp_id: rp_id.to_owned(),
            client_data_json,
        })
    }

    /// SHA-256 of `clientDataJSON`.
    pub fn client_data_hash(&self) -> [u8; 32] {
        *ClientDataHash::of(&self.client_data_json).as_bytes()
    }
}

impl GetRequest {
    /// From parts a gateway already checked (see [`CreateRequest::from_parts`]).
    pub fn from_parts(
        options_json: &[u8],
        rp_id: &str,
        client_data_json: Vec<u8>,
    ) -> Result<Self, WebAuthnError> {
        Ok(Self {
            options: RequestOptions::from_json(options_json)?,
            rp_id: rp_id.to_owned(),
            client_data_json,
        })
    }

    /// Parses `options_json` and checks its `rpId` against `origin`.
    pub fn new(
        options_json: &[u8],
        origin: &str,
        top_origin: Option<&str>,
    ) -> Result<Self, WebAuthnError> {
        let mut options = RequestOptions::from_json(options_json)?;
        let (origin, authorized) = authorize(
            origin,
            options.rp_id.as_deref(),
            &mut options.extensions.appid,
        )?;
        let client_data = CollectedClientData::new(
            CeremonyType::Get,
            &options.challenge,
            &origin.serialize(),
            ancestry(top_origin, &origin)?,
        );
        Ok(Self {
            rp_id: authorized.rp_id().as_str().to_owned(),
            client_data_json: client_data.to_json_bytes(),
            options,
        })
    }

    /// SHA-256 of `clientDataJSON`.
    pub fn client_data_hash(&self) -> [u8; 32] {
        *ClientDataHash::of(&self.client_data_json).as_bytes()
    }
}

//! The CTAP2 wire (CTAP 2.1 §6, §8): `handle_cbor` decodes a request with the `ctap` crate's
//! command types, converts it to this crate's [`crate::request`] types, runs the command and
//! encodes the response with `ctap`'s canonical CBOR. Also builds what the authenticator signs:
//! authenticatorData (WebAuthn L3 §6.1) and attestation objects (§6.5.4), through `ctap`'s
//! builders.

use latchkey_ctap::authdata::{
    AttestationObject, AttestationStatement as WireAttStmt, AttestedCredentialData,
    AuthenticatorData, Flags,
};
use latchkey_ctap::command::{self as cmd, Aaguid, CredentialManagementSubcommand, Response};
use latchkey_ctap::cose::{CoseKey, MlDsa, P256Point, P384Point};
use latchkey_ctap::entity::CoseAlgorithm;
use latchkey_ctap::extensions::{CredBlobOutput, ExtensionOutputs, HmacSecretOutput};

mod convert;

use crate::authenticator::Authenticator;
use crate::env::{Clock, Rng, UserPresence};
use crate::proof::{AttestedFlags, UserFlags};
use crate::request::{self as req, AttestationStatement};
use crate::status::Status;
use crate::store::{Algorithm, CredentialStore, PublicKey};
use convert::*;

/// The credential public key as a COSE_Key (RFC 9053 §7).
pub fn cose_key(key: &PublicKey) -> Result<CoseKey, Status> {
    match key.alg {
        Algorithm::Es256 => P256Point::from_sec1(&key.bytes)
            .map(CoseKey::Es256)
            .ok_or(Status::Other),
        Algorithm::Es384 => P384Point::from_sec1(&key.bytes)
            .map(CoseKey::Es384)
            .ok_or(Status::Other),
        Algorithm::EdDsa => <[u8; 32]>::try_from(key.bytes.as_slice())
            .map(CoseKey::Ed25519)
            .map_err(|_| Status::Other),
        Algorithm::MlDsa44 | Algorithm::MlDsa65 => {
            let set = if key.alg == Algorithm::MlDsa44 {
                MlDsa::Ml44
            } else {
                MlDsa::Ml65
            };
            if key.bytes.len() != set.public_key_len() {
                return Err(Status::Other);
            }
            Ok(CoseKey::MlDsa {
                set,
                public: key.bytes.clone(),
            })
        }
    }
}

/// makeCredential extension outputs as `ctap` extension outputs.
pub fn make_credential_extensions(o: &req::MakeCredentialExtensionOutputs) -> ExtensionOutputs {
    ExtensionOutputs {
        cred_protect: o.cred_protect.map(cred_protect_out),
        hmac_secret: o.hmac_secret.map(HmacSecretOutput::Created),
        hmac_secret_mc: o.hmac_secret_mc.clone(),
        cred_blob: o.cred_blob.map(CredBlobOutput::Stored),
        min_pin_length: o.min_pin_length.map(u64::from),
        third_party_payment: o.third_party_payment,
        ..ExtensionOutputs::default()
    }
}

/// getAssertion extension outputs as `ctap` extension outputs.
pub fn get_assertion_extensions(o: &req::GetAssertionExtensionOutputs) -> ExtensionOutputs {
    ExtensionOutputs {
        hmac_secret: o.hmac_secret.clone().map(HmacSecretOutput::Output),
        cred_blob: o.cred_blob.clone().map(CredBlobOutput::Blob),
        third_party_payment: o.third_party_payment,
        ..ExtensionOutputs::default()
    }
}

/// authenticatorData without attested credential data: UP/UV from the proofs in `user`, BE/BS
/// from `backup` (any other bit of it is ignored), ED from `ext`.
pub fn auth_data(
    rp_id_hash: &[u8; 32],
    user: &UserFlags,
    backup: u8,
    counter: u32,
    ext: Option<ExtensionOutputs>,
) -> Vec<u8> {
    AuthenticatorData {
        rp_id_hash: *rp_id_hash,
        flags: Flags(user.bits() | backup_bits(backup)),
        sign_count: counter,
        attested_credential_data: None,
        extensions: ext,
    }
    .to_bytes()
}

/// BE and BS of `backup`: the only bits that do not speak for the user.
fn backup_bits(backup: u8) -> u8 {
    backup & (Flags::BE | Flags::BS)
}

/// authenticatorData with attested credential data (AAGUID ‖ L ‖ credentialId ‖ COSE key): UP and
/// UV from the proofs in `user`, BE/BS from `backup`, AT, and ED from `ext`.
#[allow(clippy::too_many_arguments)] // reason: one per member of authenticatorData (L3 §6.1)
pub fn attested_auth_data(
    rp_id_hash: &[u8; 32],
    user: &AttestedFlags,
    backup: u8,
    counter: u32,
    aaguid: &[u8; 16],
    credential_id: &[u8],
    public_key: &PublicKey,
    ext: Option<ExtensionOutputs>,
) -> Result<Vec<u8>, Status> {
    Ok(AuthenticatorData {
        rp_id_hash: *rp_id_hash,
        flags: Flags(user.bits() | backup_bits(backup)),
        sign_count: counter,
        attested_credential_data: Some(AttestedCredentialData {
            aaguid: Aaguid(*aaguid),
            credential_id: credential_id.to_vec(),
            public_key: cose_key(public_key)?,
        }),
        extensions: ext,
    }
    .to_bytes())
}

fn att_stmt_out(s: &AttestationStatement) -> WireAttStmt {
    match s {
        AttestationStatement::None => WireAttStmt::None,
        AttestationStatement::PackedSelf { alg, sig } => WireAttStmt::Packed {
            alg: CoseAlgorithm(*alg),
            sig: sig.clone(),
            x5c: None,
        },
    }
}

/// The attestation object (WebAuthn L3 §6.5.4) of a makeCredential response.
pub fn attestation_object(r: &req::MakeCredentialResponse) -> Vec<u8> {
    AttestationObject {
        auth_data: r.auth_data.clone(),
        att_stmt: att_stmt_out(&r.att_stmt),
    }
    .to_bytes()
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// Handles one CTAP2 message (command byte ‖ CBOR parameters) and returns status byte ‖
    /// CBOR response. Every failure is a status byte alone; no input makes it panic.
    pub fn handle_cbor(&mut self, request: &[u8]) -> Vec<u8> {
        // A failure from before this command is not its cause.
        let _ = self.store.take_failure();
        match self.dispatch(request) {
            Ok(response) => response.encode(),
            Err(status) => cmd::encode_error(status),
        }
    }

    fn dispatch(&mut self, request: &[u8]) -> Result<Response, Status> {
        if request.len() > self.config.max_msg_size {
            return Err(Status::InvalidLength);
        }
        let decoded = cmd::Request::decode(request).map_err(|e| e.status());
        if self.config.ctap20 {
            if let Ok(r) = &decoded {
                crate::ctap20::admit(r)?;
            }
        }
        // Any command other than getNextAssertion ends a getAssertion's enumeration (§6.3), and
        // anything but credential management's next-steps ends its enumeration (§6.8).
        let command = request.first().copied();
        if command != Some(cmd::Command::GetNextAssertion as u8) {
            self.next_assertion = None;
        }
        let keeps_enumeration = matches!(&decoded, Ok(cmd::Request::CredentialManagement(r))
            | Ok(cmd::Request::CredentialManagementPreview(r))
            if matches!(r.subcommand,
                CredentialManagementSubcommand::EnumerateRpsGetNextRp
                | CredentialManagementSubcommand::EnumerateCredentialsGetNextCredential));
        if !keeps_enumeration {
            self.enumeration = None;
        }
        self.observe_token();
        match decoded? {
            cmd::Request::MakeCredential(r) => self
                .make_credential(make_credential_in(r))
                .map(|r| Response::MakeCredential(make_credential_out(r))),
            cmd::Request::GetAssertion(r) => {
                let out = self.get_assertion(&get_assertion_in(&r))?;
                Ok(Response::GetAssertion(get_assertion_out(out)?))
            }
            cmd::Request::GetNextAssertion => {
                let out = self.get_next_assertion()?;
                Ok(Response::GetAssertion(get_assertion_out(out)?))
            }
            cmd::Request::GetInfo => self.get_info().map(|i| {
                let info = info_out(i);
                Response::GetInfo(if self.config.ctap20 {
                    crate::ctap20::info(info)
                } else {
                    info
                })
            }),
            cmd::Request::ClientPin(r) => self
                .client_pin(&client_pin_in(&r))
                .map(|r| Response::ClientPin(client_pin_out(r))),
            cmd::Request::Reset => self.reset().map(|()| Response::Empty),
            cmd::Request::Selection => self.selection().map(|()| Response::Empty),
            cmd::Request::CredentialManagement(r)
            | cmd::Request::CredentialManagementPreview(r) => {
                let out = self.credential_management(&cred_mgmt_in(&r))?;
                Ok(Response::CredentialManagement(cred_mgmt_out(out)?))
            }
            cmd::Request::LargeBlobs(r) => self
                .large_blobs(&large_blobs_in(&r))
                .map(|config| Response::LargeBlobs(cmd::LargeBlobsResponse { config })),
            cmd::Request::Config(r) => self
                .authenticator_config(&config_in(&r))
                .map(|()| Response::Empty),
        }
    }
}

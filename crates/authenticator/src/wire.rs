//! The CTAP2 wire (CTAP 2.1 §6, §8): `handle_cbor` decodes a request with the `ctap` crate's
//! command types, converts it to this crate's [`crate::request`] types, runs the command and
//! encodes the response with `ctap`'s canonical CBOR. Also builds what the authenticator signs:
//! authenticatorData (WebAuthn L3 §6.1) and attestation objects (§6.5.4), through `ctap`'s
//! builders.

use latchkey_ctap::authdata::{
    AttestationObject, AttestationStatement as WireAttStmt, AttestedCredentialData,
    AuthenticatorData, Flags,
};
use latchkey_ctap::command::{
    self as cmd, Aaguid, ClientDataHash, ConfigSubcommand, CredentialManagementSubcommand, Response,
};
use latchkey_ctap::cose::{CoseKey, P256Point};
use latchkey_ctap::entity::{self, CoseAlgorithm, CredentialDescriptor, CredentialParameters};
use latchkey_ctap::extensions::{self as ext, CredBlobOutput, ExtensionOutputs, HmacSecretOutput};
use latchkey_ctap::pin::PinUvAuthProtocol;

use crate::authenticator::Authenticator;
use crate::env::{Clock, Rng, UserPresence};
use crate::request::{self as req, AttestationStatement, PlatformKey};
use crate::status::Status;
use crate::store::{Algorithm, CredProtect, CredentialStore, PublicKey, RpEntity, UserEntity};

fn protocol_id(p: Option<PinUvAuthProtocol>) -> Option<u64> {
    p.map(|p| u64::from(p.id()))
}

fn platform_key(p: &P256Point) -> PlatformKey {
    PlatformKey { x: p.x, y: p.y }
}

fn point(p: &PlatformKey) -> P256Point {
    P256Point { x: p.x, y: p.y }
}

fn cred_protect_in(c: ext::CredProtect) -> u64 {
    c as u64
}

fn cred_protect_out(c: CredProtect) -> ext::CredProtect {
    match c {
        CredProtect::UvOptional => ext::CredProtect::UserVerificationOptional,
        CredProtect::UvOptionalWithCredentialIdList => {
            ext::CredProtect::UserVerificationOptionalWithCredentialIdList
        }
        CredProtect::UvRequired => ext::CredProtect::UserVerificationRequired,
    }
}

fn hmac_input(i: &ext::HmacSecretInput) -> req::HmacSecretInput {
    req::HmacSecretInput {
        key_agreement: platform_key(&i.key_agreement),
        salt_enc: i.salt_enc.clone(),
        salt_auth: i.salt_auth.clone(),
        protocol: protocol_id(i.pin_uv_auth_protocol),
    }
}

fn user_in(u: &entity::UserEntity) -> UserEntity {
    UserEntity {
        id: u.id.as_bytes().to_vec(),
        name: u.name.clone(),
        display_name: u.display_name.clone(),
    }
}

fn user_out(u: &UserEntity) -> Result<entity::UserEntity, Status> {
    Ok(entity::UserEntity {
        id: entity::UserId::new(u.id.clone()).map_err(|_| Status::Other)?,
        name: u.name.clone(),
        display_name: u.display_name.clone(),
    })
}

fn public_ids(list: &Option<Vec<CredentialDescriptor>>) -> Vec<Vec<u8>> {
    list.iter()
        .flatten()
        .filter(|d| d.cred_type.as_str() == "public-key")
        .map(|d| d.id.clone())
        .collect()
}

/// The credential public key as a COSE_Key (RFC 9053 §7).
pub fn cose_key(key: &PublicKey) -> Result<CoseKey, Status> {
    match key.alg {
        Algorithm::Es256 => P256Point::from_sec1(&key.bytes)
            .map(CoseKey::Es256)
            .ok_or(Status::Other),
        Algorithm::EdDsa => <[u8; 32]>::try_from(key.bytes.as_slice())
            .map(CoseKey::Ed25519)
            .map_err(|_| Status::Other),
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
        ..ExtensionOutputs::default()
    }
}

/// getAssertion extension outputs as `ctap` extension outputs.
pub fn get_assertion_extensions(o: &req::GetAssertionExtensionOutputs) -> ExtensionOutputs {
    ExtensionOutputs {
        hmac_secret: o.hmac_secret.clone().map(HmacSecretOutput::Output),
        cred_blob: o.cred_blob.clone().map(CredBlobOutput::Blob),
        ..ExtensionOutputs::default()
    }
}

/// authenticatorData without attested credential data. `flags` carries UP/UV/BE/BS; ED is set
/// from `ext`.
pub fn auth_data(
    rp_id_hash: &[u8; 32],
    flags: u8,
    counter: u32,
    ext: Option<ExtensionOutputs>,
) -> Vec<u8> {
    AuthenticatorData {
        rp_id_hash: *rp_id_hash,
        flags: Flags(flags),
        sign_count: counter,
        attested_credential_data: None,
        extensions: ext,
    }
    .to_bytes()
}

/// authenticatorData with attested credential data (AAGUID ‖ L ‖ credentialId ‖ COSE key).
pub fn attested_auth_data(
    rp_id_hash: &[u8; 32],
    flags: u8,
    counter: u32,
    aaguid: &[u8; 16],
    credential_id: &[u8],
    public_key: &PublicKey,
    ext: Option<ExtensionOutputs>,
) -> Result<Vec<u8>, Status> {
    Ok(AuthenticatorData {
        rp_id_hash: *rp_id_hash,
        flags: Flags(flags),
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

fn make_credential_in(r: &cmd::MakeCredentialRequest) -> req::MakeCredentialRequest {
    let e = r.extensions.clone().unwrap_or_default();
    req::MakeCredentialRequest {
        client_data_hash: r.client_data_hash.0.to_vec(),
        rp: RpEntity {
            id: r.rp.id.clone(),
            name: r.rp.name.clone(),
        },
        user: user_in(&r.user),
        algorithms: r.pub_key_cred_params.iter().map(|p| p.alg.0).collect(),
        exclude_list: public_ids(&r.exclude_list),
        extensions: req::MakeCredentialExtensions {
            cred_protect: e.cred_protect.map(cred_protect_in),
            hmac_secret: e.hmac_secret == Some(true),
            hmac_secret_mc: e.hmac_secret_mc.as_ref().map(hmac_input),
            cred_blob: e.cred_blob.clone(),
            large_blob_key: e.large_blob_key,
            min_pin_length: e.min_pin_length == Some(true),
        },
        rk: r.options.rk == Some(true),
        up: r.options.up,
        uv: r.options.uv == Some(true),
        pin_uv_auth_param: r.pin_uv_auth_param.clone(),
        pin_uv_auth_protocol: protocol_id(r.pin_uv_auth_protocol),
        enterprise_attestation: r.enterprise_attestation,
    }
}

fn make_credential_out(r: req::MakeCredentialResponse) -> cmd::MakeCredentialResponse {
    cmd::MakeCredentialResponse {
        att_stmt: att_stmt_out(&r.att_stmt),
        auth_data: r.auth_data,
        ep_att: None,
        large_blob_key: r.large_blob_key.map(|k| k.to_vec()),
        unsigned_extension_outputs: None,
    }
}

fn get_assertion_in(r: &cmd::GetAssertionRequest) -> req::GetAssertionRequest {
    let e = r.extensions.clone().unwrap_or_default();
    req::GetAssertionRequest {
        rp_id: r.rp_id.clone(),
        client_data_hash: r.client_data_hash.0.to_vec(),
        allow_list: public_ids(&r.allow_list),
        extensions: req::GetAssertionExtensions {
            hmac_secret: e.hmac_secret.as_ref().map(hmac_input),
            cred_blob: e.cred_blob == Some(true),
            large_blob_key: e.large_blob_key,
        },
        up: r.options.up != Some(false),
        uv: r.options.uv == Some(true),
        rk_present: r.options.rk.is_some(),
        pin_uv_auth_param: r.pin_uv_auth_param.clone(),
        pin_uv_auth_protocol: protocol_id(r.pin_uv_auth_protocol),
    }
}

fn get_assertion_out(r: req::GetAssertionResponse) -> Result<cmd::GetAssertionResponse, Status> {
    Ok(cmd::GetAssertionResponse {
        credential: Some(CredentialDescriptor::public_key(r.credential_id)),
        auth_data: r.auth_data,
        signature: r.signature,
        user: r.user.as_ref().map(user_out).transpose()?,
        number_of_credentials: r.number_of_credentials,
        user_selected: None,
        large_blob_key: r.large_blob_key.map(|k| k.to_vec()),
        unsigned_extension_outputs: None,
    })
}

fn client_pin_in(r: &cmd::ClientPinRequest) -> req::ClientPinRequest {
    use crate::client_pin::sub;
    use cmd::ClientPinRequest as C;
    let base = req::ClientPinRequest::default();
    match r {
        C::GetPinRetries { protocol } => req::ClientPinRequest {
            protocol: protocol_id(*protocol),
            sub_command: sub::GET_PIN_RETRIES,
            ..base
        },
        C::GetKeyAgreement { protocol } => req::ClientPinRequest {
            protocol: protocol_id(Some(*protocol)),
            sub_command: sub::GET_KEY_AGREEMENT,
            ..base
        },
        C::SetPin {
            protocol,
            key_agreement,
            new_pin_enc,
            pin_uv_auth_param,
        } => req::ClientPinRequest {
            protocol: protocol_id(Some(*protocol)),
            sub_command: sub::SET_PIN,
            key_agreement: Some(platform_key(key_agreement)),
            new_pin_enc: Some(new_pin_enc.clone()),
            pin_uv_auth_param: Some(pin_uv_auth_param.clone()),
            ..base
        },
        C::ChangePin {
            protocol,
            key_agreement,
            pin_hash_enc,
            new_pin_enc,
            pin_uv_auth_param,
        } => req::ClientPinRequest {
            protocol: protocol_id(Some(*protocol)),
            sub_command: sub::CHANGE_PIN,
            key_agreement: Some(platform_key(key_agreement)),
            pin_hash_enc: Some(pin_hash_enc.clone()),
            new_pin_enc: Some(new_pin_enc.clone()),
            pin_uv_auth_param: Some(pin_uv_auth_param.clone()),
            ..base
        },
        C::GetPinToken {
            protocol,
            key_agreement,
            pin_hash_enc,
        } => req::ClientPinRequest {
            protocol: protocol_id(Some(*protocol)),
            sub_command: sub::GET_PIN_TOKEN,
            key_agreement: Some(platform_key(key_agreement)),
            pin_hash_enc: Some(pin_hash_enc.clone()),
            ..base
        },
        C::GetPinUvAuthTokenUsingUvWithPermissions { protocol, .. } => req::ClientPinRequest {
            protocol: protocol_id(Some(*protocol)),
            sub_command: sub::GET_TOKEN_USING_UV,
            ..base
        },
        C::GetUvRetries => req::ClientPinRequest {
            sub_command: sub::GET_UV_RETRIES,
            ..base
        },
        C::GetPinUvAuthTokenUsingPinWithPermissions {
            protocol,
            key_agreement,
            pin_hash_enc,
            permissions,
            rp_id,
        } => req::ClientPinRequest {
            protocol: protocol_id(Some(*protocol)),
            sub_command: sub::GET_TOKEN_USING_PIN,
            key_agreement: Some(platform_key(key_agreement)),
            pin_hash_enc: Some(pin_hash_enc.clone()),
            permissions: Some(permissions.0),
            rp_id: rp_id.clone(),
            ..base
        },
    }
}

fn client_pin_out(r: req::ClientPinResponse) -> cmd::ClientPinResponse {
    cmd::ClientPinResponse {
        key_agreement: r.key_agreement.as_ref().map(point),
        pin_uv_auth_token: r.pin_uv_auth_token,
        pin_retries: r.retries,
        power_cycle_state: r.power_cycle_state,
        uv_retries: None,
    }
}

fn cred_mgmt_in(r: &cmd::CredentialManagementRequest) -> req::CredMgmtRequest {
    use crate::cred_mgmt::sub;
    use CredentialManagementSubcommand as S;
    let mut out = req::CredMgmtRequest {
        params_cbor: r.received_params.clone(),
        protocol: protocol_id(r.pin_uv_auth_protocol),
        pin_uv_auth_param: r.pin_uv_auth_param.clone(),
        ..req::CredMgmtRequest::default()
    };
    out.sub_command = match &r.subcommand {
        S::GetCredsMetadata => sub::GET_CREDS_METADATA,
        S::EnumerateRpsBegin => sub::ENUMERATE_RPS_BEGIN,
        S::EnumerateRpsGetNextRp => sub::ENUMERATE_RPS_NEXT,
        S::EnumerateCredentialsBegin { rp_id_hash } => {
            out.rp_id_hash = Some(rp_id_hash.to_vec());
            sub::ENUMERATE_CREDENTIALS_BEGIN
        }
        S::EnumerateCredentialsGetNextCredential => sub::ENUMERATE_CREDENTIALS_NEXT,
        S::DeleteCredential { credential_id } => {
            out.credential_id = Some(credential_id.id.clone());
            sub::DELETE_CREDENTIAL
        }
        S::UpdateUserInformation {
            credential_id,
            user,
        } => {
            out.credential_id = Some(credential_id.id.clone());
            out.user = Some(user_in(user));
            sub::UPDATE_USER_INFORMATION
        }
    };
    out
}

fn cred_mgmt_out(r: req::CredMgmtResponse) -> Result<cmd::CredentialManagementResponse, Status> {
    Ok(cmd::CredentialManagementResponse {
        existing_resident_credentials_count: r.existing_count,
        max_possible_remaining_resident_credentials_count: r.max_remaining,
        rp: r.rp.map(|rp| entity::RpEntity {
            id: rp.id,
            name: rp.name,
        }),
        rp_id_hash: r.rp_id_hash,
        total_rps: r.total_rps,
        user: r.user.as_ref().map(user_out).transpose()?,
        credential_id: r.credential_id.map(CredentialDescriptor::public_key),
        public_key: r.public_key.as_ref().map(cose_key).transpose()?,
        total_credentials: r.total_credentials,
        cred_protect: r.cred_protect.map(cred_protect_out),
        large_blob_key: r.large_blob_key.map(|k| k.to_vec()),
        third_party_payment: None,
    })
}

fn large_blobs_in(r: &cmd::LargeBlobsRequest) -> req::LargeBlobsRequest {
    match r {
        cmd::LargeBlobsRequest::Get { offset, get } => req::LargeBlobsRequest {
            get: Some(*get),
            offset: Some(*offset),
            ..req::LargeBlobsRequest::default()
        },
        cmd::LargeBlobsRequest::Set {
            offset,
            set,
            length,
            pin_uv_auth_param,
            pin_uv_auth_protocol,
        } => req::LargeBlobsRequest {
            set: Some(set.clone()),
            offset: Some(*offset),
            length: *length,
            pin_uv_auth_param: pin_uv_auth_param.clone(),
            protocol: protocol_id(*pin_uv_auth_protocol),
            ..req::LargeBlobsRequest::default()
        },
    }
}

fn config_in(r: &cmd::ConfigRequest) -> req::ConfigRequest {
    use crate::authn_config::sub;
    let mut out = req::ConfigRequest {
        params_cbor: r.received_params.clone(),
        protocol: protocol_id(r.pin_uv_auth_protocol),
        pin_uv_auth_param: r.pin_uv_auth_param.clone(),
        ..req::ConfigRequest::default()
    };
    out.sub_command = match &r.subcommand {
        ConfigSubcommand::EnableEnterpriseAttestation => sub::ENABLE_ENTERPRISE_ATTESTATION,
        ConfigSubcommand::ToggleAlwaysUv => sub::TOGGLE_ALWAYS_UV,
        ConfigSubcommand::SetMinPinLength {
            new_min_pin_length,
            min_pin_length_rp_ids,
            force_change_pin,
        } => {
            out.new_min_pin_length = *new_min_pin_length;
            out.min_pin_length_rp_ids = min_pin_length_rp_ids.clone();
            out.force_change_pin = *force_change_pin;
            sub::SET_MIN_PIN_LENGTH
        }
        ConfigSubcommand::VendorPrototype { .. } => 0xff,
    };
    out
}

fn info_out(i: req::Info) -> cmd::GetInfoResponse {
    cmd::GetInfoResponse {
        versions: i.versions.iter().map(|s| (*s).to_owned()).collect(),
        extensions: Some(i.extensions.iter().map(|s| (*s).to_owned()).collect()),
        aaguid: Aaguid(i.aaguid),
        options: Some(
            i.options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
        ),
        max_msg_size: Some(i.max_msg_size),
        pin_uv_auth_protocols: Some(i.pin_uv_auth_protocols),
        max_credential_count_in_list: Some(i.max_credential_count_in_list),
        max_credential_id_length: Some(i.max_credential_id_length),
        transports: Some(i.transports),
        algorithms: Some(
            i.algorithms
                .iter()
                .map(|&a| CredentialParameters {
                    alg: CoseAlgorithm(a),
                })
                .collect(),
        ),
        max_serialized_large_blob_array: Some(i.max_serialized_large_blob_array),
        force_pin_change: Some(i.force_pin_change),
        min_pin_length: Some(i.min_pin_length),
        firmware_version: Some(i.firmware_version),
        max_cred_blob_length: Some(i.max_cred_blob_length),
        max_rp_ids_for_set_min_pin_length: Some(i.max_rp_ids_for_set_min_pin_length),
        preferred_platform_uv_attempts: None,
        uv_modality: None,
        certifications: None,
        remaining_discoverable_credentials: Some(i.remaining_discoverable_credentials),
        vendor_prototype_config_commands: None,
        attestation_formats: None,
        uv_count_since_last_pin_entry: None,
        long_touch_for_reset: None,
        enc_identifier: None,
        transports_for_reset: None,
        pin_complexity_policy: None,
        pin_complexity_policy_url: None,
        max_pin_length: None,
    }
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// Handles one CTAP2 message (command byte ‖ CBOR parameters) and returns status byte ‖
    /// CBOR response. Every failure is a status byte alone; no input makes it panic.
    pub fn handle_cbor(&mut self, request: &[u8]) -> Vec<u8> {
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
                .make_credential(&make_credential_in(&r))
                .map(|r| Response::MakeCredential(make_credential_out(r))),
            cmd::Request::GetAssertion(r) => {
                let out = self.get_assertion(&get_assertion_in(&r))?;
                Ok(Response::GetAssertion(get_assertion_out(out)?))
            }
            cmd::Request::GetNextAssertion => {
                let out = self.get_next_assertion()?;
                Ok(Response::GetAssertion(get_assertion_out(out)?))
            }
            cmd::Request::GetInfo => self.get_info().map(|i| Response::GetInfo(info_out(i))),
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

/// The client data hash type of the wire, for callers building requests.
pub type WireClientDataHash = ClientDataHash;

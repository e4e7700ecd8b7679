//! Conversions between the `ctap` crate's wire types (CTAP 2.1 §6) and this crate's
//! [`crate::request`] types.

use latchkey_ctap::command::Aaguid;
use latchkey_ctap::command::{self as cmd, ConfigSubcommand, CredentialManagementSubcommand};
use latchkey_ctap::cose::P256Point;
use latchkey_ctap::entity::{self, CoseAlgorithm, CredentialDescriptor, CredentialParameters};
use latchkey_ctap::extensions as ext;
use latchkey_ctap::pin::PinUvAuthProtocol;

use super::{att_stmt_out, cose_key};
use crate::request::{self as req, PlatformKey};
use crate::status::Status;
use crate::store::{CredProtect, RpEntity, UserEntity};

pub(super) fn protocol_id(p: Option<PinUvAuthProtocol>) -> Option<u64> {
    p.map(|p| u64::from(p.id()))
}

pub(super) fn platform_key(p: &P256Point) -> PlatformKey {
    PlatformKey { x: p.x, y: p.y }
}

pub(super) fn point(p: &PlatformKey) -> P256Point {
    P256Point { x: p.x, y: p.y }
}

pub(super) fn cred_protect_in(c: ext::CredProtect) -> u64 {
    c as u64
}

pub(super) fn cred_protect_out(c: CredProtect) -> ext::CredProtect {
    match c {
        CredProtect::UvOptional => ext::CredProtect::UserVerificationOptional,
        CredProtect::UvOptionalWithCredentialIdList => {
            ext::CredProtect::UserVerificationOptionalWithCredentialIdList
        }
        CredProtect::UvRequired => ext::CredProtect::UserVerificationRequired,
    }
}

pub(super) fn hmac_input(i: &ext::HmacSecretInput) -> req::HmacSecretInput {
    req::HmacSecretInput {
        key_agreement: platform_key(&i.key_agreement),
        salt_enc: i.salt_enc.clone(),
        salt_auth: i.salt_auth.clone(),
        protocol: protocol_id(i.pin_uv_auth_protocol),
    }
}

pub(super) fn user_in(u: &entity::UserEntity) -> UserEntity {
    UserEntity {
        id: u.id.as_bytes().to_vec(),
        name: u.name.clone(),
        display_name: u.display_name.clone(),
    }
}

pub(super) fn user_out(u: &UserEntity) -> Result<entity::UserEntity, Status> {
    Ok(entity::UserEntity {
        id: entity::UserId::new(u.id.clone()).map_err(|_| Status::Other)?,
        name: u.name.clone(),
        display_name: u.display_name.clone(),
    })
}

pub(super) fn public_ids(list: &Option<Vec<CredentialDescriptor>>) -> Vec<Vec<u8>> {
    list.iter()
        .flatten()
        .filter(|d| d.cred_type.as_str() == "public-key")
        .map(|d| d.id.clone())
        .collect()
}

/// The decoded request as the command takes it, its fields moved rather than copied.
pub(super) fn make_credential_in(r: cmd::MakeCredentialRequest) -> req::MakeCredentialRequest {
    let e = r.extensions.unwrap_or_default();
    req::MakeCredentialRequest {
        client_data_hash: r.client_data_hash.0.to_vec(),
        rp: RpEntity {
            id: r.rp.id,
            name: r.rp.name,
        },
        user: UserEntity {
            id: r.user.id.into(),
            name: r.user.name,
            display_name: r.user.display_name,
        },
        algorithms: r.pub_key_cred_params.iter().map(|p| p.alg.0).collect(),
        exclude_list: r
            .exclude_list
            .into_iter()
            .flatten()
            .filter(|d| d.cred_type.as_str() == "public-key")
            .map(|d| d.id)
            .collect(),
        extensions: req::MakeCredentialExtensions {
            cred_protect: e.cred_protect.map(cred_protect_in),
            hmac_secret: e.hmac_secret == Some(true),
            hmac_secret_mc: e.hmac_secret_mc.as_ref().map(hmac_input),
            cred_blob: e.cred_blob,
            large_blob_key: e.large_blob_key,
            min_pin_length: e.min_pin_length == Some(true),
            third_party_payment: e.third_party_payment == Some(true),
        },
        rk: r.options.rk == Some(true),
        up: r.options.up,
        uv: r.options.uv == Some(true),
        pin_uv_auth_param: r.pin_uv_auth_param,
        pin_uv_auth_protocol: protocol_id(r.pin_uv_auth_protocol),
        enterprise_attestation: r.enterprise_attestation,
        attestation_formats_preference: r.attestation_formats_preference,
    }
}

pub(super) fn make_credential_out(r: req::MakeCredentialResponse) -> cmd::MakeCredentialResponse {
    cmd::MakeCredentialResponse {
        att_stmt: att_stmt_out(&r.att_stmt),
        auth_data: r.auth_data,
        ep_att: None,
        large_blob_key: r.large_blob_key.map(|k| k.to_vec()),
        unsigned_extension_outputs: None,
    }
}

pub(super) fn get_assertion_in(r: &cmd::GetAssertionRequest) -> req::GetAssertionRequest {
    let e = r.extensions.clone().unwrap_or_default();
    req::GetAssertionRequest {
        rp_id: r.rp_id.clone(),
        client_data_hash: r.client_data_hash.0.to_vec(),
        allow_list: public_ids(&r.allow_list),
        extensions: req::GetAssertionExtensions {
            hmac_secret: e.hmac_secret.as_ref().map(hmac_input),
            cred_blob: e.cred_blob == Some(true),
            large_blob_key: e.large_blob_key,
            third_party_payment: e.third_party_payment == Some(true),
        },
        up: r.options.up != Some(false),
        uv: r.options.uv == Some(true),
        rk_present: r.options.rk.is_some(),
        pin_uv_auth_param: r.pin_uv_auth_param.clone(),
        pin_uv_auth_protocol: protocol_id(r.pin_uv_auth_protocol),
    }
}

pub(super) fn get_assertion_out(
    r: req::GetAssertionResponse,
) -> Result<cmd::GetAssertionResponse, Status> {
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

pub(super) fn client_pin_in(r: &cmd::ClientPinRequest) -> req::ClientPinRequest {
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
        C::GetPinUvAuthTokenUsingUvWithPermissions {
            protocol,
            key_agreement,
            permissions,
            rp_id,
        } => req::ClientPinRequest {
            protocol: protocol_id(Some(*protocol)),
            sub_command: sub::GET_TOKEN_USING_UV,
            key_agreement: Some(platform_key(key_agreement)),
            permissions: Some(permissions.0),
            rp_id: rp_id.clone(),
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

pub(super) fn client_pin_out(r: req::ClientPinResponse) -> cmd::ClientPinResponse {
    cmd::ClientPinResponse {
        key_agreement: r.key_agreement.as_ref().map(point),
        pin_uv_auth_token: r.pin_uv_auth_token,
        pin_retries: r.retries,
        power_cycle_state: r.power_cycle_state,
        uv_retries: r.uv_retries,
    }
}

pub(super) fn cred_mgmt_in(r: &cmd::CredentialManagementRequest) -> req::CredMgmtRequest {
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

pub(super) fn cred_mgmt_out(
    r: req::CredMgmtResponse,
) -> Result<cmd::CredentialManagementResponse, Status> {
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
        third_party_payment: r.third_party_payment,
    })
}

pub(super) fn large_blobs_in(r: &cmd::LargeBlobsRequest) -> req::LargeBlobsRequest {
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

pub(super) fn config_in(r: &cmd::ConfigRequest) -> req::ConfigRequest {
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

pub(super) fn info_out(i: req::Info) -> cmd::GetInfoResponse {
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
        preferred_platform_uv_attempts: i.preferred_platform_uv_attempts,
        uv_modality: i.uv_modality,
        certifications: None,
        remaining_discoverable_credentials: Some(i.remaining_discoverable_credentials),
        vendor_prototype_config_commands: None,
        attestation_formats: Some(
            i.attestation_formats
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        ),
        uv_count_since_last_pin_entry: i.uv_count_since_last_pin_entry,
        long_touch_for_reset: None,
        enc_identifier: i.enc_identifier,
        transports_for_reset: None,
        pin_complexity_policy: Some(i.pin_complexity_policy),
        pin_complexity_policy_url: None,
        max_pin_length: Some(i.max_pin_length),
        enc_cred_store_state: i.enc_cred_store_state,
        authenticator_config_commands: None,
    }
}

//! The authenticator's view of each command: parsed, typed requests and responses.
//!
//! The wire forms (integer-keyed CBOR, CTAP 2.1 §6) are the `ctap` crate's; [`crate::wire`]
//! converts between them and these. Keeping the command logic on these types lets it be tested
//! without encoding anything.

use zeroize::Zeroizing;

use crate::store::{CredProtect, PublicKey, RpEntity, UserEntity};

/// A platform's P-256 key agreement public key (the x and y coordinates of its COSE_Key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformKey {
    /// x coordinate, big-endian.
    pub x: [u8; 32],
    /// y coordinate, big-endian.
    pub y: [u8; 32],
}

/// hmac-secret / hmac-secret-mc input (CTAP 2.1 §12.5, CTAP 2.2 §12.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacSecretInput {
    /// keyAgreement (0x01).
    pub key_agreement: PlatformKey,
    /// saltEnc (0x02).
    pub salt_enc: Vec<u8>,
    /// saltAuth (0x03).
    pub salt_auth: Vec<u8>,
    /// pinUvAuthProtocol (0x04); 1 when absent.
    pub protocol: Option<u64>,
}

/// makeCredential extension inputs we act on (CTAP 2.1 §12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MakeCredentialExtensions {
    /// credProtect: the requested level's wire value.
    pub cred_protect: Option<u64>,
    /// hmac-secret: true.
    pub hmac_secret: bool,
    /// hmac-secret-mc (CTAP 2.2).
    pub hmac_secret_mc: Option<HmacSecretInput>,
    /// credBlob.
    pub cred_blob: Option<Vec<u8>>,
    /// largeBlobKey.
    pub large_blob_key: Option<bool>,
    /// minPinLength: true.
    pub min_pin_length: bool,
    /// thirdPartyPayment: true (CTAP 2.2 §12.9).
    pub third_party_payment: bool,
}

/// authenticatorMakeCredential (CTAP 2.1 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeCredentialRequest {
    /// clientDataHash (0x01).
    pub client_data_hash: Vec<u8>,
    /// rp (0x02).
    pub rp: RpEntity,
    /// user (0x03).
    pub user: UserEntity,
    /// pubKeyCredParams (0x04): the algorithms of the `public-key` entries, in order.
    pub algorithms: Vec<i64>,
    /// excludeList (0x05): credential IDs.
    pub exclude_list: Vec<Vec<u8>>,
    /// extensions (0x06).
    pub extensions: MakeCredentialExtensions,
    /// options.rk.
    pub rk: bool,
    /// options.up, if present.
    pub up: Option<bool>,
    /// options.uv.
    pub uv: bool,
    /// pinUvAuthParam (0x08).
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// pinUvAuthProtocol (0x09).
    pub pin_uv_auth_protocol: Option<u64>,
    /// enterpriseAttestation (0x0A).
    pub enterprise_attestation: Option<u64>,
    /// attestationFormatsPreference (0x0B, CTAP 2.2 §6.1): the formats the platform would
    /// like, most wanted first.
    pub attestation_formats_preference: Option<Vec<String>>,
}

/// makeCredential extension outputs, in authenticatorData (CTAP 2.1 §12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MakeCredentialExtensionOutputs {
    /// credBlob: whether it was stored.
    pub cred_blob: Option<bool>,
    /// credProtect: the level.
    pub cred_protect: Option<CredProtect>,
    /// hmac-secret: true.
    pub hmac_secret: Option<bool>,
    /// minPinLength: the current minimum PIN length.
    pub min_pin_length: Option<u8>,
    /// hmac-secret-mc: the encrypted outputs.
    pub hmac_secret_mc: Option<Vec<u8>>,
    /// thirdPartyPayment: true when the credential was enabled for it.
    pub third_party_payment: Option<bool>,
}

impl MakeCredentialExtensionOutputs {
    /// Whether there is anything to encode (and so whether the ED flag is set).
    pub fn is_empty(&self) -> bool {
        self.cred_blob.is_none()
            && self.cred_protect.is_none()
            && self.hmac_secret.is_none()
            && self.min_pin_length.is_none()
            && self.hmac_secret_mc.is_none()
            && self.third_party_payment.is_none()
    }
}

/// The attestation statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationStatement {
    /// `none`.
    None,
    /// `packed` self attestation: `{alg, sig}`.
    PackedSelf {
        /// COSE algorithm of the credential key.
        alg: i64,
        /// Signature over authData ‖ clientDataHash.
        sig: Vec<u8>,
    },
}

/// The makeCredential response (CTAP 2.1 §6.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeCredentialResponse {
    /// authData (0x02), encoded.
    pub auth_data: Vec<u8>,
    /// fmt (0x01) and attStmt (0x03).
    pub att_stmt: AttestationStatement,
    /// largeBlobKey (0x05).
    pub large_blob_key: Option<Zeroizing<[u8; 32]>>,
    /// The new credential's ID (also inside authData).
    pub credential_id: Vec<u8>,
    /// The new credential's public key (also inside authData).
    pub public_key: PublicKey,
}

/// getAssertion extension inputs (CTAP 2.1 §12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetAssertionExtensions {
    /// hmac-secret.
    pub hmac_secret: Option<HmacSecretInput>,
    /// credBlob: true.
    pub cred_blob: bool,
    /// largeBlobKey.
    pub large_blob_key: Option<bool>,
    /// thirdPartyPayment: true (CTAP 2.2 §12.9).
    pub third_party_payment: bool,
}

/// getAssertion extension outputs, in authenticatorData.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetAssertionExtensionOutputs {
    /// credBlob: the stored blob (empty if none).
    pub cred_blob: Option<Vec<u8>>,
    /// hmac-secret: the encrypted outputs.
    pub hmac_secret: Option<Vec<u8>>,
    /// thirdPartyPayment: whether the credential is enabled for it.
    pub third_party_payment: Option<bool>,
}

impl GetAssertionExtensionOutputs {
    /// Whether there is anything to encode.
    pub fn is_empty(&self) -> bool {
        self.cred_blob.is_none() && self.hmac_secret.is_none() && self.third_party_payment.is_none()
    }
}

/// authenticatorGetAssertion (CTAP 2.1 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAssertionRequest {
    /// rpId (0x01).
    pub rp_id: String,
    /// clientDataHash (0x02).
    pub client_data_hash: Vec<u8>,
    /// allowList (0x03): credential IDs.
    pub allow_list: Vec<Vec<u8>>,
    /// extensions (0x04).
    pub extensions: GetAssertionExtensions,
    /// options.up (default true).
    pub up: bool,
    /// options.uv.
    pub uv: bool,
    /// options.rk was present (an error for getAssertion).
    pub rk_present: bool,
    /// pinUvAuthParam (0x06).
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// pinUvAuthProtocol (0x07).
    pub pin_uv_auth_protocol: Option<u64>,
}

/// A getAssertion / getNextAssertion response (CTAP 2.1 §6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAssertionResponse {
    /// credential (0x01): the credential ID.
    pub credential_id: Vec<u8>,
    /// authData (0x02), encoded.
    pub auth_data: Vec<u8>,
    /// signature (0x03).
    pub signature: Vec<u8>,
    /// user (0x04).
    pub user: Option<UserEntity>,
    /// numberOfCredentials (0x05).
    pub number_of_credentials: Option<u64>,
    /// largeBlobKey (0x07).
    pub large_blob_key: Option<Zeroizing<[u8; 32]>>,
}

/// authenticatorClientPIN (CTAP 2.1 §6.5.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPinRequest {
    /// pinUvAuthProtocol (0x01).
    pub protocol: Option<u64>,
    /// subCommand (0x02).
    pub sub_command: u64,
    /// keyAgreement (0x03).
    pub key_agreement: Option<PlatformKey>,
    /// pinUvAuthParam (0x04).
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// newPinEnc (0x05).
    pub new_pin_enc: Option<Vec<u8>>,
    /// pinHashEnc (0x06).
    pub pin_hash_enc: Option<Vec<u8>>,
    /// permissions (0x09).
    pub permissions: Option<u64>,
    /// rpId (0x0A).
    pub rp_id: Option<String>,
}

/// The clientPIN response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPinResponse {
    /// keyAgreement (0x01): our public key.
    pub key_agreement: Option<PlatformKey>,
    /// pinUvAuthToken (0x02), encrypted.
    pub pin_uv_auth_token: Option<Vec<u8>>,
    /// pinRetries (0x03).
    pub retries: Option<u64>,
    /// powerCycleState (0x04).
    pub power_cycle_state: Option<bool>,
    /// uvRetries (0x05).
    pub uv_retries: Option<u64>,
}

/// authenticatorCredentialManagement (CTAP 2.1 §6.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredMgmtRequest {
    /// subCommand (0x01).
    pub sub_command: u64,
    /// subCommandParams (0x02) as received, canonical CBOR (part of the authenticated message).
    pub params_cbor: Option<Vec<u8>>,
    /// subCommandParams.rpIDHash (0x01).
    pub rp_id_hash: Option<Vec<u8>>,
    /// subCommandParams.credentialID (0x02): the credential ID.
    pub credential_id: Option<Vec<u8>>,
    /// subCommandParams.user (0x03).
    pub user: Option<UserEntity>,
    /// pinUvAuthProtocol (0x03).
    pub protocol: Option<u64>,
    /// pinUvAuthParam (0x04).
    pub pin_uv_auth_param: Option<Vec<u8>>,
}

/// The credentialManagement response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredMgmtResponse {
    /// existingResidentCredentialsCount (0x01).
    pub existing_count: Option<u64>,
    /// maxPossibleRemainingResidentCredentialsCount (0x02).
    pub max_remaining: Option<u64>,
    /// rp (0x03).
    pub rp: Option<RpEntity>,
    /// rpIDHash (0x04).
    pub rp_id_hash: Option<[u8; 32]>,
    /// totalRPs (0x05).
    pub total_rps: Option<u64>,
    /// user (0x06).
    pub user: Option<UserEntity>,
    /// credentialID (0x07).
    pub credential_id: Option<Vec<u8>>,
    /// publicKey (0x08).
    pub public_key: Option<PublicKey>,
    /// totalCredentials (0x09).
    pub total_credentials: Option<u64>,
    /// credProtect (0x0A).
    pub cred_protect: Option<CredProtect>,
    /// largeBlobKey (0x0B).
    pub large_blob_key: Option<Zeroizing<[u8; 32]>>,
    /// thirdPartyPayment (0x0C, CTAP 2.2).
    pub third_party_payment: Option<bool>,
}

/// authenticatorLargeBlobs (CTAP 2.1 §6.10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LargeBlobsRequest {
    /// get (0x01): bytes to read.
    pub get: Option<u64>,
    /// set (0x02): a fragment to write.
    pub set: Option<Vec<u8>>,
    /// offset (0x03).
    pub offset: Option<u64>,
    /// length (0x04): total length, on the first write.
    pub length: Option<u64>,
    /// pinUvAuthParam (0x05).
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// pinUvAuthProtocol (0x06).
    pub protocol: Option<u64>,
}

/// authenticatorConfig (CTAP 2.1 §6.11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigRequest {
    /// subCommand (0x01).
    pub sub_command: u64,
    /// subCommandParams (0x02) as received, canonical CBOR.
    pub params_cbor: Option<Vec<u8>>,
    /// setMinPINLength newMinPINLength (0x01).
    pub new_min_pin_length: Option<u64>,
    /// setMinPINLength minPinLengthRPIDs (0x02).
    pub min_pin_length_rp_ids: Option<Vec<String>>,
    /// setMinPINLength forceChangePin (0x03).
    pub force_change_pin: Option<bool>,
    /// pinUvAuthProtocol (0x03).
    pub protocol: Option<u64>,
    /// pinUvAuthParam (0x04).
    pub pin_uv_auth_param: Option<Vec<u8>>,
}

/// authenticatorGetInfo (CTAP 2.1 §6.4), as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// versions (0x01).
    pub versions: Vec<&'static str>,
    /// extensions (0x02).
    pub extensions: Vec<&'static str>,
    /// aaguid (0x03).
    pub aaguid: [u8; 16],
    /// options (0x04), in canonical key order.
    pub options: Vec<(&'static str, bool)>,
    /// maxMsgSize (0x05).
    pub max_msg_size: u64,
    /// pinUvAuthProtocols (0x06).
    pub pin_uv_auth_protocols: Vec<u64>,
    /// maxCredentialCountInList (0x07).
    pub max_credential_count_in_list: u64,
    /// maxCredentialIdLength (0x08).
    pub max_credential_id_length: u64,
    /// transports (0x09).
    pub transports: Vec<String>,
    /// algorithms (0x0A): COSE identifiers of `public-key` credentials.
    pub algorithms: Vec<i64>,
    /// maxSerializedLargeBlobArray (0x0B).
    pub max_serialized_large_blob_array: u64,
    /// forcePINChange (0x0C).
    pub force_pin_change: bool,
    /// minPINLength (0x0D).
    pub min_pin_length: u64,
    /// firmwareVersion (0x0E).
    pub firmware_version: u64,
    /// maxCredBlobLength (0x0F).
    pub max_cred_blob_length: u64,
    /// maxRPIDsForSetMinPINLength (0x10).
    pub max_rp_ids_for_set_min_pin_length: u64,
    /// preferredPlatformUvAttempts (0x11), with a built-in UV method.
    pub preferred_platform_uv_attempts: Option<u64>,
    /// uvModality (0x12), with a built-in UV method.
    pub uv_modality: Option<u64>,
    /// remainingDiscoverableCredentials (0x14).
    pub remaining_discoverable_credentials: u64,
    /// attestationFormats (0x16, CTAP 2.2), the default first.
    pub attestation_formats: Vec<&'static str>,
    /// uvCountSinceLastPinEntry (0x17, CTAP 2.2), with a built-in UV method.
    pub uv_count_since_last_pin_entry: Option<u64>,
    /// encIdentifier (0x19, CTAP 2.2), once a persistent pinUvAuthToken exists.
    pub enc_identifier: Option<Vec<u8>>,
    /// pinComplexityPolicy (0x1B, CTAP 2.2).
    pub pin_complexity_policy: bool,
    /// maxPINLength (0x1D, CTAP 2.2).
    pub max_pin_length: u64,
    /// encCredStoreState (0x1E, CTAP 2.2), once a persistent pinUvAuthToken exists and if the
    /// store tracks its changes.
    pub enc_cred_store_state: Option<Vec<u8>>,
}

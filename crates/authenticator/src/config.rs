//! What an authenticator instance is: its identity, its limits and its policy.

use crate::store::Algorithm;

/// Which attestation statement makeCredential returns (WebAuthn L3 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationMode {
    /// `none`: an empty statement.
    None,
    /// `packed` self attestation: signed with the credential's own key (WebAuthn L3 §8.2).
    PackedSelf,
}

/// How signature counters behave (WebAuthn L3 §6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignCountMode {
    /// A per-credential counter, incremented by every assertion.
    PerCredential,
    /// Always 0: the authenticator does not implement a counter (what synced passkeys and the
    /// W3C test vectors do).
    AlwaysZero,
}

/// A built-in user verification method, such as a fingerprint reader (CTAP 2.1 §6.4 option
/// `uv`, §6.5.5.7.3). Whether a finger matches is asked of [`crate::env::UserPresence::verify_user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuiltInUv {
    /// None: getInfo has no `uv` option and `uv: true` is `CTAP2_ERR_INVALID_OPTION`.
    #[default]
    Absent,
    /// Present but nothing enrolled (`uv: false`): getPinUvAuthTokenUsingUvWithPermissions is
    /// `CTAP2_ERR_NOT_ALLOWED`, and `uv: true` in a ceremony `CTAP2_ERR_INVALID_OPTION`.
    NotConfigured,
    /// Present and enrolled (`uv: true`).
    Configured,
}

/// The authenticator's identity, limits and policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The AAGUID in attested credential data and getInfo.
    pub aaguid: [u8; 16],
    /// getInfo firmwareVersion.
    pub firmware_version: u64,
    /// Which attestation statement makeCredential returns.
    pub attestation: AttestationMode,
    /// getInfo maxCredentialCountInList: longer allow/exclude lists fail with LIMIT_EXCEEDED.
    pub max_credential_count_in_list: usize,
    /// getInfo maxCredentialIdLength: longer IDs in allow/exclude lists are ignored.
    pub max_credential_id_length: usize,
    /// Length of the random credential IDs this authenticator makes (16..=max_credential_id_length).
    pub credential_id_length: usize,
    /// getInfo maxCredBlobLength (at least 32).
    pub max_cred_blob_length: usize,
    /// getInfo maxSerializedLargeBlobArray (at least 1024).
    pub max_serialized_large_blob_array: usize,
    /// getInfo maxMsgSize.
    pub max_msg_size: usize,
    /// getInfo transports, e.g. `["usb"]` for the virtual key or `["internal"]` for the platform
    /// authenticator.
    pub transports: Vec<String>,
    /// alwaysUv before anyone toggles it (persisted after the first toggle or reset).
    pub always_uv_default: bool,
    /// getInfo `plat`: a platform authenticator (not removable).
    pub platform: bool,
    /// Credential algorithms, in order of preference for getInfo.
    pub algorithms: Vec<Algorithm>,
    /// How signature counters behave.
    pub sign_count: SignCountMode,
    /// The BE flag in authenticatorData. Off for device-bound credentials (the default).
    pub backup_eligible: bool,
    /// The BS flag (only meaningful with `backup_eligible`).
    pub backup_state: bool,
    /// Milliseconds after power-up during which authenticatorReset is allowed (CTAP 2.1 §6.6).
    pub reset_window_ms: u64,
    /// The built-in user verification method, if any.
    pub built_in_uv: BuiltInUv,
    /// maxUvRetries: built-in UV attempts before it blocks (CTAP 2.1 §6.5.2.2: 1 to 25).
    pub max_uv_retries: u8,
    /// getInfo preferredPlatformUvAttempts (0x11): how often the platform should call
    /// getPinUvAuthTokenUsingUvWithPermissions before falling back to the PIN. Above 1, each
    /// call is one attempt (no internal retry, §6.5.5.7.3 step 6).
    pub preferred_platform_uv_attempts: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            aaguid: [0; 16],
            firmware_version: 1,
            attestation: AttestationMode::None,
            max_credential_count_in_list: 8,
            max_credential_id_length: 128,
            credential_id_length: 32,
            max_cred_blob_length: 32,
            max_serialized_large_blob_array: 4096,
            max_msg_size: 7609,
            transports: vec!["usb".to_owned()],
            always_uv_default: false,
            platform: false,
            algorithms: vec![Algorithm::Es256, Algorithm::EdDsa],
            sign_count: SignCountMode::PerCredential,
            backup_eligible: false,
            backup_state: false,
            reset_window_ms: 10_000,
            built_in_uv: BuiltInUv::Absent,
            max_uv_retries: 5,
            preferred_platform_uv_attempts: 3,
        }
    }
}

impl Config {
    /// maxFragmentLength for authenticatorLargeBlobs (CTAP 2.1 §6.10.2): maxMsgSize − 64.
    pub fn max_fragment_length(&self) -> usize {
        self.max_msg_size.saturating_sub(64)
    }
}

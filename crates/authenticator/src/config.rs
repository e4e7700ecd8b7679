//! What an authenticator instance is: its identity, its limits and its policy.

use crate::store::Algorithm;

/// Which attestation statement makeCredential returns when the platform states no preference
/// (WebAuthn L3 §8; CTAP 2.2 §6.1 `attestationFormatsPreference` picks among both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationMode {
    /// `none`: an empty statement.
    None,
    /// `packed` self attestation: signed with the credential's own key (WebAuthn L3 §8.2).
    PackedSelf,
}

impl AttestationMode {
    /// The attestation statement format's identifier (WebAuthn L3 §8).
    pub fn format(self) -> &'static str {
        match self {
            AttestationMode::None => "none",
            AttestationMode::PackedSelf => "packed",
        }
    }

    /// The mode for a format identifier, if this authenticator makes that format.
    pub fn from_format(format: &str) -> Option<Self> {
        match format {
            "none" => Some(AttestationMode::None),
            "packed" => Some(AttestationMode::PackedSelf),
            _ => None,
        }
    }
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
    /// Credential algorithms, in order of preference for getInfo (only those the store supports
    /// are offered). ML-DSA is off unless added here.
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
    /// getInfo option `noMcGaPermissionsWithClientPin` (CTAP 2.1 §6.4): tokens with the mc and
    /// ga permissions come from built-in UV only. A PIN token asked for them is
    /// `CTAP2_ERR_UNAUTHORIZED_PERMISSION` (§6.5.5.7.2 step 4), getPinToken issues a token
    /// without them (§6.5.5.7.1 step 14), and a makeCredential/getAssertion that lacks UV is
    /// `CTAP2_ERR_OPERATION_DENIED` where it would be `CTAP2_ERR_PUAT_REQUIRED` (§6.1.2 steps
    /// 6–8, §6.2.2 step 5). What biometric keys announce.
    pub no_mc_ga_permissions_with_client_pin: bool,
    /// getInfo option `makeCredUvNotRqd` (CTAP 2.1 §6.4; reported false while alwaysUv is on).
    /// Off: a key protected by some form of UV wants it for every makeCredential, not only for
    /// discoverable credentials (§6.1.2 step 8).
    pub make_cred_uv_not_rqd: bool,
    /// Answer as a CTAP 2.0 key: getInfo says `FIDO_2_0` (and `U2F_V2`) with the CTAP 2.0
    /// members and options only, PIN/UV auth protocol 1 only, clientPIN subcommands 1–5, and
    /// the commands CTAP 2.1 added are unknown (`CTAP1_ERR_INVALID_COMMAND`). Tokens come from
    /// getPinToken and otherwise follow the CTAP 2.1 rules (module `ctap20`).
    pub ctap20: bool,
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
            algorithms: vec![Algorithm::Es256, Algorithm::EdDsa, Algorithm::Es384],
            sign_count: SignCountMode::PerCredential,
            backup_eligible: false,
            backup_state: false,
            reset_window_ms: 10_000,
            built_in_uv: BuiltInUv::Absent,
            max_uv_retries: 5,
            preferred_platform_uv_attempts: 3,
            no_mc_ga_permissions_with_client_pin: false,
            make_cred_uv_not_rqd: true,
            ctap20: false,
        }
    }
}

impl Config {
    /// maxFragmentLength for authenticatorLargeBlobs (CTAP 2.1 §6.10.2): maxMsgSize − 64.
    pub fn max_fragment_length(&self) -> usize {
        self.max_msg_size.saturating_sub(64)
    }

    /// getInfo attestationFormats (CTAP 2.2 §6.4): both formats this authenticator makes, the
    /// default ([`Config::attestation`]) first.
    pub fn attestation_formats(&self) -> Vec<&'static str> {
        match self.attestation {
            AttestationMode::None => vec!["none", "packed"],
            AttestationMode::PackedSelf => vec!["packed", "none"],
        }
    }

    /// Adds the post-quantum algorithms ML-DSA-65 and ML-DSA-44 after the configured ones (the
    /// opt-in of `latchkey virtual-key --post-quantum` and the platform configuration).
    pub fn with_post_quantum(mut self) -> Self {
        for alg in [Algorithm::MlDsa65, Algorithm::MlDsa44] {
            if !self.algorithms.contains(&alg) {
                self.algorithms.push(alg);
            }
        }
        self
    }
}

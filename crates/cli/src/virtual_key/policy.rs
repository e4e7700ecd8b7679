//! `latchkey virtual-key` flags for what the key announces and how it behaves: its attestation,
//! its credential algorithms, its CTAP version, and the getInfo policies a client must honour (CTAP 2.1 §6.4), so that
//! clients can be shown against a key that announces each of them.

use latchkey_authenticator::{AttestationMode, Config};

/// The key's announced policies (flattened into `latchkey virtual-key`'s options).
#[derive(Debug, clap::Args)]
pub struct Policy {
    /// The attestation statement of new credentials: `packed` self attestation (signed with the
    /// credential's own key, what shipped keys without a certificate return) or `none`.
    #[arg(long, value_enum, default_value_t = Attestation::Packed)]
    attestation: Attestation,
    /// Also offer post-quantum credentials, ML-DSA-65 and ML-DSA-44 (FIPS 204; COSE -49, -48),
    /// after ES256, EdDSA and ES384 in getInfo `algorithms`. An RP gets one only if it asks.
    #[arg(long)]
    post_quantum: bool,
    /// The CTAP version to speak: `2.1`, or `2.0` (getInfo FIDO_2_0 without the CTAP 2.1
    /// members, PIN/UV auth protocol 1, tokens from getPinToken only), as older keys do.
    #[arg(long, value_enum, default_value_t = CtapVersion::V2_1)]
    ctap: CtapVersion,
    /// getInfo `alwaysUv` on: every request needs user verification (until toggled off with
    /// authenticatorConfig).
    #[arg(long)]
    always_uv: bool,
    /// getInfo `makeCredUvNotRqd`: `false` makes a key with a PIN (or an enrolled finger) want
    /// user verification for every credential, not only discoverable ones.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    make_cred_uv_not_rqd: bool,
    /// getInfo `noMcGaPermissionsWithClientPin`: registrations and sign-ins are verified by the
    /// built-in method (`--uv`) only, never by the PIN.
    #[arg(long)]
    no_mc_ga_permissions_with_client_pin: bool,
    /// getInfo `maxMsgSize`: the longest request the key takes, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 7609,
          value_parser = clap::value_parser!(u16).range(512..=7609))]
    max_msg_size: u16,
    /// getInfo `maxCredentialCountInList`: the most credential IDs in one allow or exclude list.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    max_credential_count_in_list: u16,
    /// getInfo `maxCredentialIdLength`: longer IDs in a list are not this key's; its own IDs are
    /// at most this long (and at most 32 bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 128,
          value_parser = clap::value_parser!(u16).range(16..=1023))]
    max_credential_id_length: u16,
}

/// `--attestation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Attestation {
    /// `packed` self attestation.
    Packed,
    /// `none`.
    None,
}

/// `--ctap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CtapVersion {
    /// CTAP 2.0.
    #[value(name = "2.0")]
    V2_0,
    /// CTAP 2.1.
    #[value(name = "2.1")]
    V2_1,
}

impl Policy {
    /// Writes the flags into the authenticator's configuration.
    pub fn apply(&self, config: &mut Config) {
        config.attestation = match self.attestation {
            Attestation::Packed => AttestationMode::PackedSelf,
            Attestation::None => AttestationMode::None,
        };
        if self.post_quantum {
            *config = config.clone().with_post_quantum();
        }
        config.ctap20 = self.ctap == CtapVersion::V2_0;
        config.always_uv_default = self.always_uv;
        config.make_cred_uv_not_rqd = self.make_cred_uv_not_rqd;
        config.no_mc_ga_permissions_with_client_pin = self.no_mc_ga_permissions_with_client_pin;
        config.max_msg_size = usize::from(self.max_msg_size);
        config.max_credential_count_in_list = usize::from(self.max_credential_count_in_list);
        config.max_credential_id_length = usize::from(self.max_credential_id_length);
        config.credential_id_length = config
            .credential_id_length
            .min(config.max_credential_id_length);
    }
}

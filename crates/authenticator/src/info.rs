//! authenticatorGetInfo (CTAP 2.1 §6.4, with the CTAP 2.2 §6.4 members), authenticatorReset
//! (§6.6) and authenticatorSelection (§6.9).
//!
//! CTAP 2.2 getInfo members deliberately absent: `longTouchForReset` (0x18: a software
//! authenticator has no button to hold; reset asks for the user's presence like any touch),
//! `transportsForReset` (0x1A: absent means reset works over every transport the authenticator
//! has, which is true here) and `pinComplexityPolicyURL` (0x1C: no complexity policy).

use crate::authenticator::Authenticator;
use crate::authn_config::MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH;
use crate::config::BuiltInUv;
use crate::env::{Clock, PresencePurpose, Rng, UserPresence};
use crate::request::Info;
use crate::status::Status;
use crate::store::CredentialStore;

/// uvModality of a built-in fingerprint reader: USER_VERIFY_FINGERPRINT_INTERNAL (0x02).
pub const UV_MODALITY_FINGERPRINT_INTERNAL: u64 = 0x02;

/// The extensions this authenticator implements (getInfo sends them in
/// [`canonical_order`]).
pub const EXTENSIONS: [&str; 7] = [
    "credBlob",
    "credProtect",
    "hmac-secret",
    "hmac-secret-mc",
    "largeBlobKey",
    "minPinLength",
    "thirdPartyPayment",
];

/// Sorts text strings in CTAP2 canonical order (CTAP 2.1 §8: shorter first, then bytewise).
/// getInfo's `extensions` list goes out in this order, as shipped keys send it and conformance
/// suites check it (they hold arrays of strings to the map-key order).
pub fn canonical_order(list: &mut [&str]) {
    list.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
}

/// getInfo maxPINLength (CTAP 2.2 §6.4): 63, the most the 64-byte padded PIN block holds
/// (§6.5.1). The block counts UTF-8 bytes, so a PIN of characters beyond ASCII holds fewer.
pub const MAX_PIN_LENGTH: u64 = 63;

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// authenticatorGetInfo: what this authenticator is and does, reflecting current state.
    pub fn get_info(&mut self) -> Result<Info, Status> {
        let state = self.state()?;
        let pin_set = self.pin_is_set()?;
        let (_, remaining) = self.store.discoverable_count()?;
        let mut options = vec![
            ("plat", self.config.platform),
            ("rk", true),
            ("up", true),
            ("clientPin", pin_set),
            ("credMgmt", true),
            ("alwaysUv", state.always_uv),
            ("authnrCfg", true),
            ("largeBlobs", true),
            ("pinUvAuthToken", true),
            ("setMinPINLength", true),
            (
                "makeCredUvNotRqd",
                self.config.make_cred_uv_not_rqd && !state.always_uv,
            ),
            ("credentialMgmtPreview", true),
            ("perCredMgmtRO", true),
        ];
        if self.config.no_mc_ga_permissions_with_client_pin {
            options.push(("noMcGaPermissionsWithClientPin", true));
        }
        // uv: a built-in method, enrolled or not (§6.4). No bioEnroll / uvBioEnroll / uvAcfg:
        // enrolment is not offered, so tokens from UV never carry be or acfg (§6.5.5.7.3).
        let built_in = self.config.built_in_uv != BuiltInUv::Absent;
        if built_in {
            options.push(("uv", self.config.built_in_uv == BuiltInUv::Configured));
        }
        let sealed = self.sealed_info_members(&state)?;
        Ok(Info {
            // With alwaysUv, U2F (which cannot verify the user) is off (CTAP 2.1 §6.11.2).
            versions: if state.always_uv {
                vec!["FIDO_2_0", "FIDO_2_1", "FIDO_2_2"]
            } else {
                vec!["U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_2"]
            },
            extensions: {
                let mut list = EXTENSIONS.to_vec();
                canonical_order(&mut list);
                list
            },
            aaguid: self.config.aaguid,
            options,
            max_msg_size: self.config.max_msg_size as u64,
            pin_uv_auth_protocols: vec![2, 1],
            max_credential_count_in_list: self.config.max_credential_count_in_list as u64,
            max_credential_id_length: self.config.max_credential_id_length as u64,
            transports: self.config.transports.clone(),
            algorithms: self.algorithms().iter().map(|a| a.cose()).collect(),
            max_serialized_large_blob_array: self.config.max_serialized_large_blob_array as u64,
            force_pin_change: state.force_pin_change,
            min_pin_length: u64::from(state.min_pin_length),
            firmware_version: self.config.firmware_version,
            max_cred_blob_length: self.config.max_cred_blob_length as u64,
            max_rp_ids_for_set_min_pin_length: MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH as u64,
            preferred_platform_uv_attempts: built_in
                .then(|| u64::from(self.config.preferred_platform_uv_attempts.max(1))),
            // USER_VERIFY_FINGERPRINT_INTERNAL (FIDO Registry §3.1).
            uv_modality: built_in.then_some(UV_MODALITY_FINGERPRINT_INTERNAL),
            remaining_discoverable_credentials: remaining as u64,
            attestation_formats: self.config.attestation_formats(),
            uv_count_since_last_pin_entry: built_in.then_some(self.uv_count_since_pin),
            enc_identifier: sealed.identifier,
            // No complexity rule beyond minPINLength is enforced.
            pin_complexity_policy: false,
            max_pin_length: MAX_PIN_LENGTH,
            enc_cred_store_state: sealed.store_state,
        })
    }

    /// The credential algorithms offered: the configured ones the store can make keys for, in
    /// the configured order.
    pub(crate) fn algorithms(&self) -> Vec<crate::store::Algorithm> {
        self.config
            .algorithms
            .iter()
            .copied()
            .filter(|&a| self.store.supports(a))
            .collect()
    }

    /// authenticatorReset: only within the reset window after power-up, and only with the
    /// user's presence; wipes every credential, the PIN and the persistent state.
    pub fn reset(&mut self) -> Result<(), Status> {
        let elapsed = self.now().saturating_sub(self.power_up_ms);
        if elapsed > self.config.reset_window_ms {
            return Err(Status::NotAllowed);
        }
        self.ask_presence(PresencePurpose::Reset)?;
        self.store.wipe()?;
        let window_start = self.power_up_ms;
        self.power_cycle();
        self.uv_retries = self.max_uv_retries();
        self.power_up_ms = window_start;
        self.apply_default_always_uv();
        Ok(())
    }

    /// authenticatorSelection: the user touches the authenticator they want.
    pub fn selection(&mut self) -> Result<(), Status> {
        self.ask_presence(PresencePurpose::Selection)
    }
}

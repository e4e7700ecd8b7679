//! authenticatorConfig (CTAP 2.1 §6.11): toggleAlwaysUv and setMinPINLength. Enterprise
//! attestation is not supported.

use crate::authenticator::Authenticator;
use crate::env::{Clock, Rng, UserPresence};
use crate::request::ConfigRequest;
use crate::status::Status;
use crate::store::CredentialStore;
use crate::token::Permissions;

/// authenticatorConfig subcommands (CTAP 2.1 §6.11).
pub mod sub {
    /// enableEnterpriseAttestation (not supported).
    pub const ENABLE_ENTERPRISE_ATTESTATION: u64 = 0x01;
    /// toggleAlwaysUv.
    pub const TOGGLE_ALWAYS_UV: u64 = 0x02;
    /// setMinPINLength.
    pub const SET_MIN_PIN_LENGTH: u64 = 0x03;
}

/// getInfo maxRPIDsForSetMinPINLength.
pub const MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH: usize = 8;

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// authenticatorConfig on a parsed request.
    pub fn authenticator_config(&mut self, req: &ConfigRequest) -> Result<(), Status> {
        let sub_byte = match req.sub_command {
            sub::TOGGLE_ALWAYS_UV | sub::SET_MIN_PIN_LENGTH => req.sub_command as u8,
            _ => return Err(Status::InvalidSubcommand),
        };
        let mut state = self.state()?;
        let pin_set = self.pin_is_set()?;
        if pin_set || state.always_uv {
            let param = req.pin_uv_auth_param.as_ref().ok_or(Status::PuatRequired)?;
            let params = req.params_cbor.as_deref().unwrap_or_default();
            let message = latchkey_ctap::pin::config_message(sub_byte, params);
            self.check_token(
                req.protocol,
                param,
                &message,
                Permissions::AUTHENTICATOR_CONFIG,
                None,
                false,
            )?;
        }
        match req.sub_command {
            sub::TOGGLE_ALWAYS_UV => {
                state.always_uv = !state.always_uv;
            }
            _ => {
                let current = state.min_pin_length;
                let new = match req.new_min_pin_length {
                    None => current,
                    Some(n) => u8::try_from(n)
                        .ok()
                        .filter(|&n| usize::from(n) <= crate::client_pin::MAX_PIN_BYTES)
                        .ok_or(Status::PinPolicyViolation)?,
                };
                if new < current {
                    return Err(Status::PinPolicyViolation);
                }
                let force = req.force_change_pin.unwrap_or(false);
                if force && !pin_set {
                    return Err(Status::PinNotSet);
                }
                if let Some(rps) = &req.min_pin_length_rp_ids {
                    if rps.len() > MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH {
                        return Err(Status::PinPolicyViolation);
                    }
                    state.min_pin_length_rp_ids = rps.clone();
                }
                // The PIN must change if asked, or if it is now too short; a store that does
                // not know the PIN's length forces a change whenever the minimum rises.
                let too_short = match self.store.pin_code_points()? {
                    Some(len) => len < new,
                    None => new > current,
                };
                if pin_set && (force || too_short) {
                    state.force_pin_change = true;
                    // A PIN change to come ends the persistent token too (CTAP 2.2 §6.11.4).
                    crate::persistent::forget_persistent_token(&mut state);
                }
                state.min_pin_length = new;
            }
        }
        self.save_state(&state)
    }
}

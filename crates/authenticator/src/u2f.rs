//! U2F (CTAP1) register, authenticate and version over raw APDUs (CTAP 2.1 §11.2.9.1.1 and
//! FIDO U2F Raw Message Formats), on the same credential store as CTAP2.
//!
//! U2F credentials are stored non-discoverable with `CredentialKind::U2f` and the hex of the
//! application parameter as their RP ID, so a CTAP2 getAssertion whose rpId hashes to that
//! application parameter can use them (CTAP 2.1 §10.3).

use latchkey_ctap::u2f::{
    authenticate_signed_data, register_signed_data, AuthenticateControl, AuthenticateResponse,
    KeyHandle, RegisterResponse, Request, ResponseApdu, StatusWord, VERSION,
};

use crate::authenticator::{sha256, Authenticator};
use crate::env::{Clock, Rng, UserPresence};
use crate::get_assertion::hex_lower;
use crate::proof::u2f_presence_byte;
use crate::status::Status;
use crate::store::{
    Algorithm, CredProtect, Credential, CredentialKind, CredentialStore, KeyBlob, RpEntity,
    UserEntity,
};

/// U2F key handles are at most 255 bytes; ours are this long.
const KEY_HANDLE_LEN: usize = 64;

enum U2fError {
    Sw(StatusWord),
}

impl From<Status> for U2fError {
    fn from(_: Status) -> Self {
        // Internal failures have no better status word than "conditions not satisfied".
        U2fError::Sw(StatusWord::CONDITIONS_NOT_SATISFIED)
    }
}

impl From<crate::store::StoreError> for U2fError {
    fn from(_: crate::store::StoreError) -> Self {
        U2fError::Sw(StatusWord::CONDITIONS_NOT_SATISFIED)
    }
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// Handles one U2F APDU; returns the response APDU (data ‖ SW1 SW2). Never panics.
    pub fn handle_u2f(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.next_assertion = None;
        let request = match Request::parse(apdu) {
            Ok(r) => r,
            Err(e) => return e.to_response().to_bytes(),
        };
        // With alwaysUv, U2F cannot meet the policy: register and authenticate are refused.
        let always_uv = self.state().map(|s| s.always_uv).unwrap_or(true);
        let result = match request {
            Request::Version => Ok(VERSION.to_vec()),
            Request::Register(_) | Request::Authenticate(_) if always_uv => {
                Err(U2fError::Sw(StatusWord::CONDITIONS_NOT_SATISFIED))
            }
            Request::Register(r) => self.u2f_register(&r.application, &r.challenge),
            Request::Authenticate(a) => {
                self.u2f_authenticate(a.control, &a.application, &a.challenge, &a.key_handle)
            }
        };
        match result {
            Ok(data) => ResponseApdu::ok(data).to_bytes(),
            Err(U2fError::Sw(sw)) => ResponseApdu::status(sw).to_bytes(),
        }
    }

    /// The U2F attestation certificate and key, made on first use.
    fn u2f_attestation(&mut self) -> Result<(Vec<u8>, KeyBlob), Status> {
        let mut state = self.state()?;
        if let Some(existing) = &state.u2f_attestation {
            return Ok(existing.clone());
        }
        let (public, key) = self.store.generate_key(Algorithm::Es256, &mut self.rng)?;
        let mut serial = [0u8; 16];
        self.rng.fill(&mut serial);
        let tbs = crate::u2f_cert::tbs_certificate(&public.bytes, &serial)?;
        let sig = self.store.sign(&key, Algorithm::Es256, &tbs)?;
        let cert = crate::u2f_cert::certificate(&tbs, &sig);
        state.u2f_attestation = Some((cert.clone(), key.clone()));
        self.save_state(&state)?;
        Ok((cert, key))
    }

    fn u2f_register(
        &mut self,
        application: &[u8; 32],
        challenge: &[u8; 32],
    ) -> Result<Vec<u8>, U2fError> {
        let _present = self
            .u2f_presence()
            .ok_or(U2fError::Sw(StatusWord::CONDITIONS_NOT_SATISFIED))?;
        let (cert, att_key) = self.u2f_attestation()?;
        let (public, key) = self.store.generate_key(Algorithm::Es256, &mut self.rng)?;
        let mut handle = vec![0u8; KEY_HANDLE_LEN];
        self.rng.fill(&mut handle);
        let key_handle =
            KeyHandle::new(handle.clone()).map_err(|_| U2fError::Sw(StatusWord::WRONG_DATA))?;
        let mut point = [0u8; 65];
        if public.bytes.len() != 65 {
            return Err(U2fError::Sw(StatusWord::CONDITIONS_NOT_SATISFIED));
        }
        point.copy_from_slice(&public.bytes);
        let signed = register_signed_data(application, challenge, &key_handle, &point);
        let signature = self.store.sign(&att_key, Algorithm::Es256, &signed)?;
        self.store.insert(Credential {
            created_at: self.clock.unix_time(),
            kind: CredentialKind::U2f,
            ..Credential::new(
                handle,
                RpEntity {
                    id: hex_lower(application),
                    name: None,
                },
                UserEntity {
                    id: Vec::new(),
                    name: None,
                    display_name: None,
                },
                false,
                public,
                key,
            )
        })?;
        Ok(RegisterResponse {
            public_key: point,
            key_handle,
            certificate: cert,
            signature,
        }
        .to_bytes())
    }

    /// A credential usable through U2F for `application`: a U2F one, or a CTAP2 ES256 one whose
    /// RP ID hashes to it and that does not demand UV.
    fn u2f_credential(
        &mut self,
        application: &[u8; 32],
        key_handle: &KeyHandle,
    ) -> Result<Option<Credential>, U2fError> {
        let Some(cred) = self.store.get(key_handle.as_bytes())? else {
            return Ok(None);
        };
        let ok = match cred.kind {
            CredentialKind::U2f => cred.rp.id == hex_lower(application),
            CredentialKind::Ctap2 => {
                cred.public_key.alg == Algorithm::Es256
                    && sha256(cred.rp.id.as_bytes()) == *application
                    && cred.cred_protect != CredProtect::UvRequired
            }
        };
        Ok(ok.then_some(cred))
    }

    fn u2f_authenticate(
        &mut self,
        control: AuthenticateControl,
        application: &[u8; 32],
        challenge: &[u8; 32],
        key_handle: &KeyHandle,
    ) -> Result<Vec<u8>, U2fError> {
        let Some(mut cred) = self.u2f_credential(application, key_handle)? else {
            return Err(U2fError::Sw(StatusWord::WRONG_DATA));
        };
        let present = match control {
            AuthenticateControl::CheckOnly => {
                return Err(U2fError::Sw(StatusWord::CONDITIONS_NOT_SATISFIED))
            }
            AuthenticateControl::EnforceUserPresenceAndSign => Some(
                self.u2f_presence()
                    .ok_or(U2fError::Sw(StatusWord::CONDITIONS_NOT_SATISFIED))?,
            ),
            AuthenticateControl::DontEnforceUserPresenceAndSign => None,
        };
        let user_presence = u2f_presence_byte(present.as_ref());
        cred.sign_count = self.next_sign_count(cred.sign_count);
        let signed =
            authenticate_signed_data(application, user_presence, cred.sign_count, challenge);
        let signature = self.store.sign(&cred.key, Algorithm::Es256, &signed)?;
        self.store.update(&cred)?;
        Ok(AuthenticateResponse {
            user_presence,
            counter: cred.sign_count,
            signature,
        }
        .to_bytes())
    }
}

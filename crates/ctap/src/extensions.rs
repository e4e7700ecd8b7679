//! Typed CTAP extension inputs and outputs (CTAP 2.1 §12; CTAP 2.2 §12.7 `hmac-secret-mc` and
//! §12.9 `thirdPartyPayment`).
//!
//! Extensions this crate does not know are kept as raw values in `unknown`, so an
//! authenticator can ignore them and a client can pass them through.

use crate::cbor::{FromValue, IntMap, MapBuilder, TextMap, ToValue, Value};
use crate::cose::{CoseKey, P256Point};
use crate::error::Error;
use crate::pin::PinUvAuthProtocol;

/// Extension identifier `credProtect` (CTAP 2.1 §12.1).
pub const CRED_PROTECT: &str = "credProtect";
/// Extension identifier `credBlob` (CTAP 2.1 §12.2).
pub const CRED_BLOB: &str = "credBlob";
/// Extension identifier `largeBlobKey` (CTAP 2.1 §12.3).
pub const LARGE_BLOB_KEY: &str = "largeBlobKey";
/// Extension identifier `minPinLength` (CTAP 2.1 §12.4).
pub const MIN_PIN_LENGTH: &str = "minPinLength";
/// Extension identifier `hmac-secret` (CTAP 2.1 §12.5).
pub const HMAC_SECRET: &str = "hmac-secret";
/// Extension identifier `hmac-secret-mc` (CTAP 2.2 §12.7).
pub const HMAC_SECRET_MC: &str = "hmac-secret-mc";
/// Extension identifier `thirdPartyPayment` (CTAP 2.2 §12.9).
pub const THIRD_PARTY_PAYMENT: &str = "thirdPartyPayment";

/// `credProtect` levels (CTAP 2.1 §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CredProtect {
    /// 0x01 `userVerificationOptional`.
    UserVerificationOptional = 1,
    /// 0x02 `userVerificationOptionalWithCredentialIDList`.
    UserVerificationOptionalWithCredentialIdList = 2,
    /// 0x03 `userVerificationRequired`.
    UserVerificationRequired = 3,
}

impl FromValue for CredProtect {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        match u64::from_value(value, field)? {
            1 => Ok(Self::UserVerificationOptional),
            2 => Ok(Self::UserVerificationOptionalWithCredentialIdList),
            3 => Ok(Self::UserVerificationRequired),
            _ => Err(Error::invalid(field, "credProtect level not 1, 2 or 3")),
        }
    }
}

impl From<CredProtect> for Value {
    fn from(level: CredProtect) -> Self {
        Value::from(level as u8)
    }
}

/// The `hmac-secret` getAssertion input (and `hmac-secret-mc` input), CTAP 2.1 §12.5:
/// `{1: keyAgreement, 2: saltEnc, 3: saltAuth, 4: pinUvAuthProtocol}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacSecretInput {
    /// The platform's key-agreement public key.
    pub key_agreement: P256Point,
    /// One or two 32-byte salts, encrypted with the shared secret.
    pub salt_enc: Vec<u8>,
    /// `authenticate(sharedSecret, saltEnc)`.
    pub salt_auth: Vec<u8>,
    /// The PIN/UV auth protocol; absent means protocol 1.
    pub pin_uv_auth_protocol: Option<PinUvAuthProtocol>,
}

impl FromValue for HmacSecretInput {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = IntMap::parse(value, field)?;
        let key_agreement = map
            .take(1)
            .ok_or(Error::missing("hmac-secret.keyAgreement"))?;
        Ok(Self {
            key_agreement: CoseKey::key_agreement(key_agreement, "hmac-secret.keyAgreement")?,
            salt_enc: map.required(2, "hmac-secret.saltEnc")?,
            salt_auth: map.required(3, "hmac-secret.saltAuth")?,
            pin_uv_auth_protocol: map.optional(4, "hmac-secret.pinUvAuthProtocol")?,
        })
    }
}

impl ToValue for HmacSecretInput {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert(1, CoseKey::EcdhEsHkdf256(self.key_agreement).to_value())
            .insert(2, self.salt_enc.as_slice())
            .insert(3, self.salt_auth.as_slice())
            .insert_opt(4, self.pin_uv_auth_protocol.map(Value::from))
            .build()
    }
}

/// authenticatorMakeCredential extension inputs (CTAP 2.1 §6.1 `extensions`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MakeCredentialExtensions {
    /// `credProtect`.
    pub cred_protect: Option<CredProtect>,
    /// `hmac-secret`: `true` asks for a credential with an HMAC secret.
    pub hmac_secret: Option<bool>,
    /// `hmac-secret-mc` (CTAP 2.2): evaluate the HMAC secret at creation.
    pub hmac_secret_mc: Option<HmacSecretInput>,
    /// `credBlob`: a blob to store with the credential.
    pub cred_blob: Option<Vec<u8>>,
    /// `largeBlobKey`: `true` asks for a large-blob key.
    pub large_blob_key: Option<bool>,
    /// `minPinLength`: `true` asks for the minimum PIN length in the output.
    pub min_pin_length: Option<bool>,
    /// `thirdPartyPayment` (CTAP 2.2 §12.9): `true` enables the credential for payments
    /// initiated by a party other than its RP.
    pub third_party_payment: Option<bool>,
    /// Extensions this crate does not know, in canonical order.
    pub unknown: Vec<(String, Value)>,
}

impl FromValue for MakeCredentialExtensions {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        Ok(Self {
            cred_protect: map.optional(CRED_PROTECT, "extensions.credProtect")?,
            hmac_secret: map.optional(HMAC_SECRET, "extensions.hmac-secret")?,
            hmac_secret_mc: map.optional(HMAC_SECRET_MC, "extensions.hmac-secret-mc")?,
            cred_blob: map.optional(CRED_BLOB, "extensions.credBlob")?,
            large_blob_key: map.optional(LARGE_BLOB_KEY, "extensions.largeBlobKey")?,
            min_pin_length: map.optional(MIN_PIN_LENGTH, "extensions.minPinLength")?,
            third_party_payment: map
                .optional(THIRD_PARTY_PAYMENT, "extensions.thirdPartyPayment")?,
            unknown: map.into_rest(),
        })
    }
}

impl ToValue for MakeCredentialExtensions {
    fn to_value(&self) -> Value {
        let mut b = MapBuilder::new()
            .insert_opt(CRED_PROTECT, self.cred_protect)
            .insert_opt(HMAC_SECRET, self.hmac_secret)
            .insert_opt(
                HMAC_SECRET_MC,
                self.hmac_secret_mc.as_ref().map(ToValue::to_value),
            )
            .insert_opt(CRED_BLOB, self.cred_blob.as_deref())
            .insert_opt(LARGE_BLOB_KEY, self.large_blob_key)
            .insert_opt(MIN_PIN_LENGTH, self.min_pin_length)
            .insert_opt(THIRD_PARTY_PAYMENT, self.third_party_payment);
        for (k, v) in &self.unknown {
            b = b.insert(k.as_str(), v.clone());
        }
        b.build()
    }
}

/// authenticatorGetAssertion extension inputs (CTAP 2.1 §6.2 `extensions`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetAssertionExtensions {
    /// `hmac-secret`: the salts to evaluate.
    pub hmac_secret: Option<HmacSecretInput>,
    /// `credBlob`: `true` asks for the stored blob.
    pub cred_blob: Option<bool>,
    /// `largeBlobKey`: `true` asks for the large-blob key.
    pub large_blob_key: Option<bool>,
    /// `thirdPartyPayment` (CTAP 2.2 §12.9): `true` asks whether the credential is enabled for
    /// third-party payments.
    pub third_party_payment: Option<bool>,
    /// Extensions this crate does not know, in canonical order.
    pub unknown: Vec<(String, Value)>,
}

impl FromValue for GetAssertionExtensions {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        Ok(Self {
            hmac_secret: map.optional(HMAC_SECRET, "extensions.hmac-secret")?,
            cred_blob: map.optional(CRED_BLOB, "extensions.credBlob")?,
            large_blob_key: map.optional(LARGE_BLOB_KEY, "extensions.largeBlobKey")?,
            third_party_payment: map
                .optional(THIRD_PARTY_PAYMENT, "extensions.thirdPartyPayment")?,
            unknown: map.into_rest(),
        })
    }
}

impl ToValue for GetAssertionExtensions {
    fn to_value(&self) -> Value {
        let mut b = MapBuilder::new()
            .insert_opt(
                HMAC_SECRET,
                self.hmac_secret.as_ref().map(ToValue::to_value),
            )
            .insert_opt(CRED_BLOB, self.cred_blob)
            .insert_opt(LARGE_BLOB_KEY, self.large_blob_key)
            .insert_opt(THIRD_PARTY_PAYMENT, self.third_party_payment);
        for (k, v) in &self.unknown {
            b = b.insert(k.as_str(), v.clone());
        }
        b.build()
    }
}

/// The `hmac-secret` output: a boolean at creation, the encrypted outputs at assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HmacSecretOutput {
    /// makeCredential: whether the credential got an HMAC secret.
    Created(bool),
    /// getAssertion: `output1 ‖ output2`, encrypted with the shared secret.
    Output(Vec<u8>),
}

/// The `credBlob` output: a boolean at creation, the blob at assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredBlobOutput {
    /// makeCredential: whether the blob was stored.
    Stored(bool),
    /// getAssertion: the stored blob (empty if none).
    Blob(Vec<u8>),
}

/// Authenticator extension outputs: the CBOR map in authenticator data when the ED flag is set
/// (WebAuthn L3 §6.1, CTAP 2.1 §12).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionOutputs {
    /// `credProtect`: the level the credential got.
    pub cred_protect: Option<CredProtect>,
    /// `hmac-secret`.
    pub hmac_secret: Option<HmacSecretOutput>,
    /// `hmac-secret-mc` (CTAP 2.2): the encrypted outputs at creation.
    pub hmac_secret_mc: Option<Vec<u8>>,
    /// `credBlob`.
    pub cred_blob: Option<CredBlobOutput>,
    /// `minPinLength`: the current minimum PIN length.
    pub min_pin_length: Option<u64>,
    /// `thirdPartyPayment` (CTAP 2.2).
    pub third_party_payment: Option<bool>,
    /// Outputs this crate does not know, in canonical order.
    pub unknown: Vec<(String, Value)>,
}

impl ExtensionOutputs {
    /// Whether no output is present (then the ED flag must be clear).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl FromValue for ExtensionOutputs {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        let hmac_secret = match map.take(HMAC_SECRET) {
            None => None,
            Some(Value::Bool(b)) => Some(HmacSecretOutput::Created(b)),
            Some(Value::Bytes(b)) => Some(HmacSecretOutput::Output(b)),
            Some(_) => return Err(Error::unexpected("hmac-secret", "boolean or byte string")),
        };
        let cred_blob = match map.take(CRED_BLOB) {
            None => None,
            Some(Value::Bool(b)) => Some(CredBlobOutput::Stored(b)),
            Some(Value::Bytes(b)) => Some(CredBlobOutput::Blob(b)),
            Some(_) => return Err(Error::unexpected("credBlob", "boolean or byte string")),
        };
        Ok(Self {
            cred_protect: map.optional(CRED_PROTECT, "credProtect")?,
            hmac_secret,
            hmac_secret_mc: map.optional(HMAC_SECRET_MC, "hmac-secret-mc")?,
            cred_blob,
            min_pin_length: map.optional(MIN_PIN_LENGTH, "minPinLength")?,
            third_party_payment: map.optional(THIRD_PARTY_PAYMENT, "thirdPartyPayment")?,
            unknown: map.into_rest(),
        })
    }
}

impl ToValue for ExtensionOutputs {
    fn to_value(&self) -> Value {
        let mut b = MapBuilder::new()
            .insert_opt(CRED_PROTECT, self.cred_protect)
            .insert_opt(
                HMAC_SECRET,
                self.hmac_secret.as_ref().map(|o| match o {
                    HmacSecretOutput::Created(b) => Value::Bool(*b),
                    HmacSecretOutput::Output(b) => Value::Bytes(b.clone()),
                }),
            )
            .insert_opt(HMAC_SECRET_MC, self.hmac_secret_mc.as_deref())
            .insert_opt(
                CRED_BLOB,
                self.cred_blob.as_ref().map(|o| match o {
                    CredBlobOutput::Stored(b) => Value::Bool(*b),
                    CredBlobOutput::Blob(b) => Value::Bytes(b.clone()),
                }),
            )
            .insert_opt(MIN_PIN_LENGTH, self.min_pin_length)
            .insert_opt(THIRD_PARTY_PAYMENT, self.third_party_payment);
        for (k, v) in &self.unknown {
            b = b.insert(k.as_str(), v.clone());
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor;
    use crate::status::StatusCode;

    fn point() -> P256Point {
        P256Point {
            x: [1; 32],
            y: [2; 32],
        }
    }

    #[test]
    fn make_credential_inputs_round_trip_with_unknown_extensions() {
        let ext = MakeCredentialExtensions {
            cred_protect: Some(CredProtect::UserVerificationOptional),
            hmac_secret: Some(true),
            hmac_secret_mc: Some(HmacSecretInput {
                key_agreement: point(),
                salt_enc: vec![1; 64],
                salt_auth: vec![2; 32],
                pin_uv_auth_protocol: Some(PinUvAuthProtocol::Two),
            }),
            cred_blob: Some(vec![9; 8]),
            large_blob_key: Some(true),
            min_pin_length: Some(true),
            third_party_payment: Some(true),
            unknown: vec![("zz-vendor".into(), Value::Array(vec![Value::Null]))],
        };
        let bytes = cbor::encode(&ext.to_value());
        let back =
            MakeCredentialExtensions::from_value(cbor::decode(&bytes).unwrap(), "e").unwrap();
        assert_eq!(back, ext);
    }

    #[test]
    fn third_party_payment_inputs_round_trip_and_are_booleans() {
        let ga = GetAssertionExtensions {
            third_party_payment: Some(true),
            ..GetAssertionExtensions::default()
        };
        let bytes = cbor::encode(&ga.to_value());
        // {"thirdPartyPayment": true}
        let mut expected = vec![0xa1, 0x71];
        expected.extend_from_slice(b"thirdPartyPayment");
        expected.push(0xf5);
        assert_eq!(bytes, expected);
        let back = GetAssertionExtensions::from_value(cbor::decode(&bytes).unwrap(), "e").unwrap();
        assert_eq!(back, ga);
        let wrong = crate::cbor::MapBuilder::new()
            .insert(THIRD_PARTY_PAYMENT, 1)
            .build();
        for status in [
            GetAssertionExtensions::from_value(wrong.clone(), "e").unwrap_err(),
            MakeCredentialExtensions::from_value(wrong, "e").unwrap_err(),
        ] {
            assert_eq!(status.status(), StatusCode::CborUnexpectedType);
        }
    }

    #[test]
    fn hmac_secret_input_is_strict() {
        let input = HmacSecretInput {
            key_agreement: point(),
            salt_enc: vec![1; 32],
            salt_auth: vec![2; 16],
            pin_uv_auth_protocol: None,
        };
        let v = input.to_value();
        // {1: COSE key, 2: saltEnc, 3: saltAuth}
        let map = v.as_map().unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map[0].0, Value::from(1));
        assert_eq!(HmacSecretInput::from_value(v, "h").unwrap(), input);
        let missing = crate::cbor::MapBuilder::new()
            .insert(2, vec![0u8; 32])
            .build();
        assert_eq!(
            HmacSecretInput::from_value(missing, "h")
                .unwrap_err()
                .status(),
            StatusCode::MissingParameter
        );
    }

    #[test]
    fn outputs_distinguish_creation_and_assertion_forms() {
        let created = ExtensionOutputs {
            hmac_secret: Some(HmacSecretOutput::Created(true)),
            cred_blob: Some(CredBlobOutput::Stored(false)),
            min_pin_length: Some(6),
            ..ExtensionOutputs::default()
        };
        let asserted = ExtensionOutputs {
            hmac_secret: Some(HmacSecretOutput::Output(vec![3; 48])),
            cred_blob: Some(CredBlobOutput::Blob(vec![4; 5])),
            hmac_secret_mc: Some(vec![5; 32]),
            third_party_payment: Some(true),
            unknown: vec![("other".into(), Value::from(1))],
            ..ExtensionOutputs::default()
        };
        for out in [created, asserted] {
            let back = ExtensionOutputs::from_value(out.to_value(), "x").unwrap();
            assert_eq!(back, out);
        }
        assert!(ExtensionOutputs::default().is_empty());
        let wrong = crate::cbor::MapBuilder::new()
            .insert(HMAC_SECRET, 1)
            .build();
        assert_eq!(
            ExtensionOutputs::from_value(wrong, "x")
                .unwrap_err()
                .status(),
            StatusCode::CborUnexpectedType
        );
    }
}

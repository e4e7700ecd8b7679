//! The TPM objects the store makes: templates and their stored form.

use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::StoreError;
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::structures::{
    Digest, EccPoint, EccScheme, HashScheme, KeyedHashScheme, Private, Public, PublicBuilder,
    PublicEccParametersBuilder, PublicKeyedHashParameters, SymmetricDefinitionObject,
};
use tss_esapi::traits::UnMarshall;

use super::tpm_err;
use crate::codec::{Reader, Writer};

/// Largest public area or private blob accepted from a file.
const MAX_TPM_BLOB: usize = 1024;

pub(super) fn primary_template() -> Result<Public, StoreError> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_decrypt(true)
        .with_restricted(true)
        .build()
        .map_err(|e| tpm_err("primary template", e))?;
    let params = PublicEccParametersBuilder::new_restricted_decryption_key(
        SymmetricDefinitionObject::AES_128_CFB,
        EccCurve::NistP256,
    )
    .build()
    .map_err(|e| tpm_err("primary template", e))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_ecc_parameters(params)
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
        .map_err(|e| tpm_err("primary template", e))
}

/// An ECDSA signing key on `curve`, hashing with `hash` (P-256 with SHA-256 for ES256, P-384
/// with SHA-384 for ES384).
pub(super) fn signing_template(
    curve: EccCurve,
    hash: HashingAlgorithm,
) -> Result<Public, StoreError> {
    // Not noDA: a wrong authValue counts towards lockout like a wrong PIN does.
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_sign_encrypt(true)
        .build()
        .map_err(|e| tpm_err("key template", e))?;
    let params = PublicEccParametersBuilder::new_unrestricted_signing_key(
        EccScheme::EcDsa(HashScheme::new(hash)),
        curve,
    )
    .build()
    .map_err(|e| tpm_err("key template", e))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_ecc_parameters(params)
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
        .map_err(|e| tpm_err("key template", e))
}

pub(super) fn sealed_template() -> Result<Public, StoreError> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .build()
        .map_err(|e| tpm_err("PIN object template", e))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
        .map_err(|e| tpm_err("PIN object template", e))
}

/// A TPM object as stored: marshalled TPM2B_PUBLIC contents and the TPM-wrapped private blob.
pub(super) struct Blobs {
    pub(super) public: Vec<u8>,
    pub(super) private: Vec<u8>,
}

impl Blobs {
    pub(super) fn write(&self, w: &mut Writer) {
        w.bytes(&self.public).bytes(&self.private);
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, StoreError> {
        Ok(Blobs {
            public: r.bytes(MAX_TPM_BLOB)?.to_vec(),
            private: r.bytes(MAX_TPM_BLOB)?.to_vec(),
        })
    }

    pub(super) fn parse(&self) -> Result<(Public, Private), StoreError> {
        let public = Public::unmarshall(&self.public)
            .map_err(|_| StoreError::corrupt("TPM key blob", Damage::Invalid("its public area")))?;
        let private = Private::try_from(self.private.clone()).map_err(|_| {
            StoreError::corrupt("TPM key blob", Damage::TooLong("its private part"))
        })?;
        Ok((public, private))
    }
}

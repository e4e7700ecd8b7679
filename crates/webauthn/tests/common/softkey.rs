//! A test authenticator: aws-lc keys, authenticator data and attestation objects encoded with
//! `latchkey_ctap::authdata`.
#![allow(dead_code)] // each test file uses a subset

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use latchkey_ctap::authdata::{
    AttestationObject, AttestationStatement, AttestedCredentialData, AuthenticatorData, Flags,
};
use latchkey_ctap::command::Aaguid;
use latchkey_ctap::cose::{CoseKey, P256Point};
use latchkey_ctap::entity::CoseAlgorithm as CtapAlg;
use latchkey_webauthn::ids::ClientDataHash;

/// A credential key pair.
pub enum Key {
    P256(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Key {
    pub fn p256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        Key::P256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap(),
        )
    }

    pub fn ed25519() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Key::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    pub fn public(&self) -> Vec<u8> {
        match self {
            Key::P256(k) => k.public_key().as_ref().to_vec(),
            Key::Ed(k) => k.public_key().as_ref().to_vec(),
        }
    }

    pub fn cose(&self) -> CoseKey {
        match self {
            Key::P256(k) => CoseKey::Es256(P256Point::from_sec1(k.public_key().as_ref()).unwrap()),
            Key::Ed(k) => CoseKey::Ed25519(k.public_key().as_ref().try_into().unwrap()),
        }
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Key::P256(k) => k.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec(),
            Key::Ed(k) => k.sign(msg).as_ref().to_vec(),
        }
    }

    /// An attestation object for a new credential: `packed` self attestation or `none`.
    pub fn attest(
        &self,
        rp_id_hash: [u8; 32],
        flags: u8,
        credential_id: &[u8],
        hash: &ClientDataHash,
        packed_self: bool,
    ) -> Vec<u8> {
        let auth_data = AuthenticatorData {
            rp_id_hash,
            flags: Flags(flags),
            sign_count: 1,
            attested_credential_data: Some(AttestedCredentialData {
                aaguid: Aaguid([7; 16]),
                credential_id: credential_id.to_vec(),
                public_key: self.cose(),
            }),
            extensions: None,
        }
        .to_bytes();
        let att_stmt = if packed_self {
            let mut signed = auth_data.clone();
            signed.extend_from_slice(hash.as_bytes());
            AttestationStatement::Packed {
                alg: CtapAlg(self.cose().alg().0),
                sig: self.sign(&signed),
                x5c: None,
            }
        } else {
            AttestationStatement::None
        };
        AttestationObject {
            auth_data,
            att_stmt,
        }
        .to_bytes()
    }

    /// Authenticator data and signature for an assertion.
    pub fn assert(
        &self,
        rp_id_hash: [u8; 32],
        flags: u8,
        counter: u32,
        hash: &ClientDataHash,
    ) -> (Vec<u8>, Vec<u8>) {
        let auth_data = AuthenticatorData {
            rp_id_hash,
            flags: Flags(flags),
            sign_count: counter,
            attested_credential_data: None,
            extensions: None,
        }
        .to_bytes();
        let mut signed = auth_data.clone();
        signed.extend_from_slice(hash.as_bytes());
        let sig = self.sign(&signed);
        (auth_data, sig)
    }
}

//! Byte-string newtypes checked once at the boundary (L3 §5.4.3 user handle, §5.1 credential
//! ID, §5.4 challenge, §5.8.5 COSEAlgorithmIdentifier, §5.8.1 hash of the serialized client data).

use crate::b64;
use crate::error::WebAuthnError;
use std::fmt;

/// A relying party's challenge (L3 §5.4 `challenge`, §13.4.3). Any length is accepted, as the
/// client algorithm sets no minimum; RPs SHOULD use at least 16 random bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Challenge(Vec<u8>);

impl Challenge {
    /// Wrap challenge bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The base64url form used in `clientDataJSON`.
    pub fn to_base64url(&self) -> String {
        b64::encode(&self.0)
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Challenge({})", self.to_base64url())
    }
}

/// A user handle: 1 to 64 opaque bytes (L3 §5.4.3 `id`, §4 "User Handle").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserHandle(Vec<u8>);

impl UserHandle {
    /// The largest user handle, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Check the length; a violation is a `TypeError` as in §5.1.3 step 5.
    pub fn new(bytes: Vec<u8>) -> Result<Self, WebAuthnError> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(WebAuthnError::type_error(format!(
                "user.id is {} bytes; it must be between 1 and {} bytes",
                bytes.len(),
                Self::MAX_LEN
            )));
        }
        Ok(Self(bytes))
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for UserHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserHandle({})", b64::encode(&self.0))
    }
}

/// A credential ID: 1 to 1023 opaque bytes (L3 §5.1 `[[identifier]]`, §6.5.1 `credentialIdLength`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    /// The largest credential ID the spec allows, in bytes.
    pub const MAX_LEN: usize = 1023;

    /// Check the length; `what` names the member for the `TypeError` message.
    pub fn new(what: &str, bytes: Vec<u8>) -> Result<Self, WebAuthnError> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(WebAuthnError::type_error(format!(
                "{what} is {} bytes; a credential ID is 1 to {} bytes",
                bytes.len(),
                Self::MAX_LEN
            )));
        }
        Ok(Self(bytes))
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The base64url form (`PublicKeyCredential.id`).
    pub fn to_base64url(&self) -> String {
        b64::encode(&self.0)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", self.to_base64url())
    }
}

/// A COSE algorithm identifier (L3 §5.8.5, IANA "COSE Algorithms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CoseAlgorithm(pub i32);

impl CoseAlgorithm {
    /// ECDSA w/ SHA-256 on P-256.
    pub const ES256: Self = Self(-7);
    /// EdDSA (Ed25519 in WebAuthn).
    pub const EDDSA: Self = Self(-8);
    /// ECDSA w/ SHA-384 on P-384.
    pub const ES384: Self = Self(-35);
    /// ECDSA w/ SHA-512 on P-521.
    pub const ES512: Self = Self(-36);
    /// RSASSA-PKCS1-v1_5 w/ SHA-256.
    pub const RS256: Self = Self(-257);
    /// Ed25519 (fully specified, RFC 9864).
    pub const ED25519: Self = Self(-19);
    /// ECDSA P-256 w/ SHA-256 (fully specified, RFC 9864).
    pub const ESP256: Self = Self(-9);
    /// ML-DSA-44 (FIPS 204; draft-ietf-cose-dilithium).
    pub const ML_DSA_44: Self = Self(-48);
    /// ML-DSA-65 (FIPS 204; draft-ietf-cose-dilithium).
    pub const ML_DSA_65: Self = Self(-49);
    /// ML-DSA-87 (FIPS 204; draft-ietf-cose-dilithium).
    pub const ML_DSA_87: Self = Self(-50);
}

/// SHA-256 of `clientDataJSON` (L3 §5.8.1 "hash of the serialized client data").
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientDataHash([u8; 32]);

impl ClientDataHash {
    /// Hash serialized client data.
    pub fn of(client_data_json: &[u8]) -> Self {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, client_data_json);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }
    /// Wrap a hash received from elsewhere (e.g. a browser that built clientDataJSON itself).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The 32 hash bytes (`clientDataHash` in authenticatorMakeCredential/GetAssertion).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ClientDataHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientDataHash({})", b64::encode(&self.0))
    }
}

/// SHA-256 helper shared by the modules that hash RP IDs and PRF salts.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;

    #[test]
    fn user_handle_bounds() {
        assert!(UserHandle::new(vec![1]).is_ok());
        assert!(UserHandle::new(vec![1; 64]).is_ok());
        assert_eq!(UserHandle::new(vec![]).unwrap_err().kind(), ErrorName::Type);
        let e = UserHandle::new(vec![1; 65]).unwrap_err();
        assert_eq!(e.kind(), ErrorName::Type);
        assert_eq!(
            e.message(),
            "user.id is 65 bytes; it must be between 1 and 64 bytes"
        );
    }

    #[test]
    fn credential_id_bounds() {
        assert!(CredentialId::new("id", vec![0; 1023]).is_ok());
        assert_eq!(
            CredentialId::new("id", vec![0; 1024]).unwrap_err().kind(),
            ErrorName::Type
        );
        assert_eq!(
            CredentialId::new("id", vec![]).unwrap_err().kind(),
            ErrorName::Type
        );
    }

    #[test]
    fn client_data_hash_is_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hex::encode(ClientDataHash::of(b"abc").as_bytes()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

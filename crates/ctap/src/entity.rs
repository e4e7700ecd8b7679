//! WebAuthn entities as CTAP carries them (CTAP 2.1 §6.1 and W3C WebAuthn L3 §5.4).
//!
//! Unknown members are ignored on decode, as CTAP 2.1 §6.1 requires of authenticators. The
//! deprecated `icon` members (WebAuthn L1 §5.4.1) are not kept, but their type is still checked:
//! a non-text `icon` is `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`, as shipped keys answer and the
//! conformance suites expect.

use crate::cbor::{FromValue, MapBuilder, TextMap, ToValue, Value};
use crate::error::Error;

/// The maximum length of a user handle (WebAuthn L3 §5.4.3 `user.id`: at most 64 bytes).
pub const MAX_USER_ID_LEN: usize = 64;

/// The COSE algorithm identifier of a credential (IANA "COSE Algorithms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoseAlgorithm(pub i64);

impl CoseAlgorithm {
    /// ECDSA w/ SHA-256 on P-256.
    pub const ES256: Self = Self(-7);
    /// EdDSA (Ed25519).
    pub const EDDSA: Self = Self(-8);
    /// ECDH-ES + HKDF-256: the ClientPIN key-agreement key (CTAP 2.1 §6.5.6).
    pub const ECDH_ES_HKDF_256: Self = Self(-25);
    /// ECDSA w/ SHA-384.
    pub const ES384: Self = Self(-35);
    /// ML-DSA-44 (FIPS 204; draft-ietf-cose-dilithium).
    pub const ML_DSA_44: Self = Self(-48);
    /// ML-DSA-65 (FIPS 204; draft-ietf-cose-dilithium).
    pub const ML_DSA_65: Self = Self(-49);
    /// ML-DSA-87 (FIPS 204; draft-ietf-cose-dilithium).
    pub const ML_DSA_87: Self = Self(-50);
    /// RSASSA-PKCS1-v1_5 w/ SHA-256.
    pub const RS256: Self = Self(-257);
}

/// `PublicKeyCredentialType`: only `"public-key"` is defined; others are kept so lists
/// containing them can be filtered rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialType {
    /// `"public-key"`.
    PublicKey,
    /// Any other type string.
    Other(String),
}

impl CredentialType {
    /// The type string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::PublicKey => "public-key",
            Self::Other(s) => s,
        }
    }
}

impl From<String> for CredentialType {
    fn from(s: String) -> Self {
        if s == "public-key" {
            Self::PublicKey
        } else {
            Self::Other(s)
        }
    }
}

/// `PublicKeyCredentialRpEntity` (WebAuthn L3 §5.4.2; CTAP 2.1 §6.1 `rp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpEntity {
    /// The RP ID.
    pub id: String,
    /// A human-palatable name.
    pub name: Option<String>,
}

impl FromValue for RpEntity {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        let _icon: Option<String> = map.optional("icon", "rp.icon")?;
        Ok(Self {
            id: map.required("id", "rp.id")?,
            name: map.optional("name", "rp.name")?,
        })
    }
}

impl ToValue for RpEntity {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert("id", self.id.as_str())
            .insert_opt("name", self.name.as_deref())
            .build()
    }
}

/// A user handle: at most [`MAX_USER_ID_LEN`] bytes (WebAuthn L3 §5.4.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(Vec<u8>);

impl UserId {
    /// Checks the length: at most 64 bytes (`CTAP1_ERR_INVALID_LENGTH` otherwise).
    pub fn new(bytes: Vec<u8>) -> Result<Self, Error> {
        if bytes.len() > MAX_USER_ID_LEN {
            return Err(Error::InvalidLength {
                field: "user.id",
                len: bytes.len(),
                allowed: "at most 64 bytes",
            });
        }
        Ok(Self(bytes))
    }

    /// The handle bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<UserId> for Vec<u8> {
    fn from(id: UserId) -> Self {
        id.0
    }
}

/// `PublicKeyCredentialUserEntity` (WebAuthn L3 §5.4.3; CTAP 2.1 §6.1 `user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntity {
    /// The user handle.
    pub id: UserId,
    /// The account name.
    pub name: Option<String>,
    /// The display name.
    pub display_name: Option<String>,
}

impl FromValue for UserEntity {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        let _icon: Option<String> = map.optional("icon", "user.icon")?;
        Ok(Self {
            id: UserId::new(map.required("id", "user.id")?)?,
            name: map.optional("name", "user.name")?,
            display_name: map.optional("displayName", "user.displayName")?,
        })
    }
}

impl ToValue for UserEntity {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert("id", self.id.as_bytes())
            .insert_opt("name", self.name.as_deref())
            .insert_opt("displayName", self.display_name.as_deref())
            .build()
    }
}

/// `PublicKeyCredentialDescriptor` (WebAuthn L3 §5.8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialDescriptor {
    /// The credential type; authenticators skip entries that are not `"public-key"`.
    pub cred_type: CredentialType,
    /// The credential ID.
    pub id: Vec<u8>,
    /// Transport hints (`"usb"`, `"nfc"`, `"ble"`, `"internal"`, `"hybrid"`, ...).
    pub transports: Option<Vec<String>>,
}

impl CredentialDescriptor {
    /// A `"public-key"` descriptor without transports.
    pub fn public_key(id: impl Into<Vec<u8>>) -> Self {
        Self {
            cred_type: CredentialType::PublicKey,
            id: id.into(),
            transports: None,
        }
    }
}

impl FromValue for CredentialDescriptor {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        let cred_type = CredentialType::from(map.required::<String>("type", "type")?);
        let id = map.required("id", "id")?;
        let transports = match map.take("transports") {
            Some(v) => Some(crate::cbor::array_of(v, "transports")?),
            None => None,
        };
        Ok(Self {
            cred_type,
            id,
            transports,
        })
    }
}

impl ToValue for CredentialDescriptor {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert("type", self.cred_type.as_str())
            .insert("id", self.id.as_slice())
            .insert_opt(
                "transports",
                self.transports
                    .as_ref()
                    .map(|t| Value::Array(t.iter().map(|s| Value::text(s.as_str())).collect())),
            )
            .build()
    }
}

/// `PublicKeyCredentialParameters` (WebAuthn L3 §5.3) of type `"public-key"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialParameters {
    /// The requested algorithm.
    pub alg: CoseAlgorithm,
}

impl ToValue for CredentialParameters {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert("alg", self.alg.0)
            .insert("type", "public-key")
            .build()
    }
}

impl CredentialParameters {
    /// Decodes a `pubKeyCredParams` list: every entry must be a map with a text `type` and an
    /// integer `alg`; entries whose type is not `"public-key"` are skipped (CTAP 2.1 §6.1.2
    /// step 3), unknown algorithms are kept for the authenticator to pass over.
    pub fn decode_list(value: Value, field: &'static str) -> Result<Vec<Self>, Error> {
        let Value::Array(items) = value else {
            return Err(Error::unexpected(field, "array"));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let mut map = TextMap::parse(item, field)?;
            let cred_type: String = map.required("type", "pubKeyCredParams.type")?;
            let alg: i64 = map.required("alg", "pubKeyCredParams.alg")?;
            if cred_type == "public-key" {
                out.push(Self {
                    alg: CoseAlgorithm(alg),
                });
            }
        }
        Ok(out)
    }
}

impl FromValue for CredentialParameters {
    /// One entry of type `"public-key"` (GetInfo `algorithms`); another type is invalid here.
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut map = TextMap::parse(value, field)?;
        let cred_type: String = map.required("type", field)?;
        let alg: i64 = map.required("alg", field)?;
        if cred_type != "public-key" {
            return Err(Error::invalid(field, "type is not public-key"));
        }
        Ok(Self {
            alg: CoseAlgorithm(alg),
        })
    }
}

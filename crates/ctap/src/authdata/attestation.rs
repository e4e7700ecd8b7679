//! Attestation statements (WebAuthn L3 §8) and the attestation object (§6.5.4).

use crate::cbor::{self, array_of, FromValue, MapBuilder, TextMap, ToValue, Value};
use crate::entity::CoseAlgorithm;
use crate::error::Error;

/// An attestation statement with its format (WebAuthn L3 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationStatement {
    /// `"none"` (§8.7): `{}`.
    None,
    /// `"packed"` (§8.2): `{alg, sig}` for self attestation, `{alg, sig, x5c}` otherwise.
    Packed {
        /// The signature algorithm.
        alg: CoseAlgorithm,
        /// The signature over `authData ‖ clientDataHash`.
        sig: Vec<u8>,
        /// The attestation certificate chain, leaf first (absent for self attestation).
        x5c: Option<Vec<Vec<u8>>>,
    },
    /// `"fido-u2f"` (§8.6): `{sig, x5c: [cert]}`.
    FidoU2f {
        /// The signature.
        sig: Vec<u8>,
        /// The attestation certificate (DER).
        x5c: Vec<u8>,
    },
    /// Another format, kept as its name and statement map.
    Other {
        /// The format identifier.
        fmt: String,
        /// The statement, a map.
        stmt: Value,
    },
}

impl AttestationStatement {
    /// The attestation statement format identifier (`fmt`).
    pub fn format(&self) -> &str {
        match self {
            Self::None => "none",
            Self::Packed { .. } => "packed",
            Self::FidoU2f { .. } => "fido-u2f",
            Self::Other { fmt, .. } => fmt,
        }
    }

    /// Decodes the statement `stmt` of format `fmt`.
    pub fn decode(fmt: &str, stmt: Value) -> Result<Self, Error> {
        const FIELD: &str = "attStmt";
        let mut m = TextMap::parse(stmt.clone(), FIELD)?;
        match fmt {
            "none" => {
                if !m.into_rest().is_empty() {
                    return Err(Error::invalid(FIELD, "none statement must be empty"));
                }
                Ok(Self::None)
            }
            "packed" => {
                let alg = CoseAlgorithm(m.required("alg", "attStmt.alg")?);
                let sig = m.required("sig", "attStmt.sig")?;
                let x5c = m
                    .take("x5c")
                    .map(|v| array_of::<Vec<u8>>(v, "attStmt.x5c"))
                    .transpose()?;
                if x5c.as_ref().is_some_and(Vec::is_empty) {
                    return Err(Error::invalid("attStmt.x5c", "empty certificate chain"));
                }
                Ok(Self::Packed { alg, sig, x5c })
            }
            "fido-u2f" => {
                let sig = m.required("sig", "attStmt.sig")?;
                let mut x5c: Vec<Vec<u8>> = m
                    .take("x5c")
                    .map(|v| array_of(v, "attStmt.x5c"))
                    .transpose()?
                    .ok_or(Error::missing("attStmt.x5c"))?;
                if x5c.len() != 1 {
                    return Err(Error::invalid(
                        "attStmt.x5c",
                        "fido-u2f needs one certificate",
                    ));
                }
                let cert = x5c.pop().unwrap_or_default();
                Ok(Self::FidoU2f { sig, x5c: cert })
            }
            _ => Ok(Self::Other {
                fmt: fmt.to_owned(),
                stmt,
            }),
        }
    }
}

impl ToValue for AttestationStatement {
    fn to_value(&self) -> Value {
        let certs =
            |c: &[Vec<u8>]| Value::Array(c.iter().map(|d| Value::bytes(d.clone())).collect());
        match self {
            Self::None => Value::Map(Vec::new()),
            Self::Packed { alg, sig, x5c } => MapBuilder::new()
                .insert("alg", alg.0)
                .insert("sig", sig.as_slice())
                .insert_opt("x5c", x5c.as_deref().map(certs))
                .build(),
            Self::FidoU2f { sig, x5c } => MapBuilder::new()
                .insert("sig", sig.as_slice())
                .insert("x5c", certs(std::slice::from_ref(x5c)))
                .build(),
            Self::Other { stmt, .. } => stmt.clone(),
        }
    }
}

/// The attestation object (WebAuthn L3 §6.5.4): `{"fmt", "attStmt", "authData"}` with text
/// keys, in canonical order `fmt`, `attStmt`, `authData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationObject {
    /// The authenticator data bytes.
    pub auth_data: Vec<u8>,
    /// The statement and its format.
    pub att_stmt: AttestationStatement,
}

impl AttestationObject {
    /// The canonical CBOR encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::encode(&self.to_value())
    }

    /// Decodes a complete attestation object (no trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_value(cbor::decode(bytes)?, "attestationObject")
    }
}

impl From<crate::command::MakeCredentialResponse> for AttestationObject {
    fn from(r: crate::command::MakeCredentialResponse) -> Self {
        Self {
            auth_data: r.auth_data,
            att_stmt: r.att_stmt,
        }
    }
}

impl FromValue for AttestationObject {
    fn from_value(value: Value, field: &'static str) -> Result<Self, Error> {
        let mut m = TextMap::parse(value, field)?;
        let fmt: String = m.required("fmt", "fmt")?;
        let stmt = m.take("attStmt").ok_or(Error::missing("attStmt"))?;
        Ok(Self {
            auth_data: m.required("authData", "authData")?,
            att_stmt: AttestationStatement::decode(&fmt, stmt)?,
        })
    }
}

impl ToValue for AttestationObject {
    fn to_value(&self) -> Value {
        MapBuilder::new()
            .insert("fmt", self.att_stmt.format())
            .insert("attStmt", self.att_stmt.to_value())
            .insert("authData", self.auth_data.as_slice())
            .build()
    }
}

//! The credential algorithms this authenticator makes keys for.

/// COSE algorithm of a credential key ([RFC 9053], IANA COSE Algorithms registry).
///
/// [RFC 9053]: https://www.rfc-editor.org/rfc/rfc9053
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA over P-256 with SHA-256, COSE -7.
    Es256,
    /// Ed25519, COSE -8.
    EdDsa,
    /// ECDSA over P-384 with SHA-384, COSE -35.
    Es384,
    /// ML-DSA-44 (FIPS 204), COSE -48: post-quantum, opt-in.
    MlDsa44,
    /// ML-DSA-65 (FIPS 204), COSE -49: post-quantum, opt-in.
    MlDsa65,
}

impl Algorithm {
    /// Every algorithm this crate can make keys for.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Es256,
        Algorithm::EdDsa,
        Algorithm::Es384,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
    ];

    /// The COSE algorithm identifier.
    pub fn cose(self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::EdDsa => -8,
            Algorithm::Es384 => -35,
            Algorithm::MlDsa44 => -48,
            Algorithm::MlDsa65 => -49,
        }
    }

    /// The algorithm for a COSE identifier, if we support it.
    pub fn from_cose(alg: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.cose() == alg)
    }

    /// Whether this is a post-quantum algorithm (announced only where enabled).
    pub fn is_post_quantum(self) -> bool {
        matches!(self, Algorithm::MlDsa44 | Algorithm::MlDsa65)
    }

    /// The name used in configuration and on the command line: `ES256`, `EdDSA`, `ES384`,
    /// `ML-DSA-44`, `ML-DSA-65` (the IANA COSE algorithm names).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Es384 => "ES384",
            Algorithm::MlDsa44 => "ML-DSA-44",
            Algorithm::MlDsa65 => "ML-DSA-65",
        }
    }

    /// The algorithm with this [`Algorithm::name`] (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

//! base64url (RFC 4648 §5) as WebAuthn's JSON types use it (L3 §3 "base64url encoding",
//! §5.1.8 `Base64URLString`).
//!
//! Encoding never pads. Decoding accepts the URL-safe alphabet with or without canonical
//! padding, as browsers' `parseCreationOptionsFromJSON()` does; the standard alphabet (`+`, `/`),
//! whitespace and non-canonical trailing bits are rejected with `EncodingError`.

use crate::error::WebAuthnError;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

const ENCODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false),
);

const DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    ENCODER.encode(bytes)
}

/// Decode base64url; `what` names the member for the error message (e.g. `"user.id"`).
pub fn decode(what: &str, s: &str) -> Result<Vec<u8>, WebAuthnError> {
    if let Some(c) = s.chars().find(|c| matches!(c, '+' | '/')) {
        return Err(WebAuthnError::encoding(format!(
            "{what}: {c:?} is from the standard base64 alphabet; base64url uses '-' and '_'"
        )));
    }
    let unpadded = s.trim_end_matches('=');
    let pad = s.len() - unpadded.len();
    if pad > 0 && (s.len() % 4 != 0 || pad > 2) {
        return Err(WebAuthnError::encoding(format!(
            "{what}: base64url padding is not canonical"
        )));
    }
    DECODER
        .decode(unpadded)
        .map_err(|e| WebAuthnError::encoding(format!("{what}: not valid base64url: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;

    #[test]
    fn encodes_unpadded_url_alphabet() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg");
    }

    #[test]
    fn decodes_with_and_without_padding() {
        assert_eq!(decode("x", "Zg").unwrap(), b"f");
        assert_eq!(decode("x", "Zg==").unwrap(), b"f");
        assert_eq!(decode("x", "-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn rejects_standard_alphabet_whitespace_and_bad_bits() {
        for bad in ["+/8", "Zg =", "Z", "Zh", "Zg=", "!!"] {
            let e = decode("challenge", bad).unwrap_err();
            assert_eq!(e.kind(), ErrorName::Encoding, "{bad}");
            assert!(e.message().starts_with("challenge: "), "{}", e.message());
        }
    }
}

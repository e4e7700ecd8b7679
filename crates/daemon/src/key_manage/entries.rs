//! The dictionaries `ListSecurityKeys`, `ListSecurityKeyCredentials` and `ListCredentials` answer
//! with (data/dev.latchkey.Credentials1.xml).

use std::collections::HashMap;

use latchkey_client::manage::{CredentialInfo, KeyReport};
use latchkey_client::Transport;
use zbus::zvariant::{OwnedValue, Str};

/// A credential as `ListCredentials` and `ListSecurityKeyCredentials` report it:
/// `credential_id` (base64url), `rp_id`, `user_name`, `user_display_name`.
pub fn credential_entry(c: CredentialInfo) -> HashMap<String, OwnedValue> {
    let text = |s: String| OwnedValue::from(Str::from(s));
    HashMap::from([
        (
            "credential_id".to_owned(),
            text(latchkey_webauthn::b64::encode(&c.credential_id)),
        ),
        ("rp_id".to_owned(), text(c.rp_id)),
        (
            "user_name".to_owned(),
            text(c.user_name.unwrap_or_default()),
        ),
        (
            "user_display_name".to_owned(),
            text(c.user_display_name.unwrap_or_default()),
        ),
    ])
}

/// How a key is reached, as `ListSecurityKeys` says it.
fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Internal => "internal",
        Transport::Usb => "usb",
        Transport::Virtual => "virtual",
        Transport::Nfc => "nfc",
    }
}

/// An AAGUID in the UUID form metadata services use (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
pub fn aaguid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One key as `ListSecurityKeys` reports it.
pub(super) fn key_entry(handle: String, r: &KeyReport) -> HashMap<String, OwnedValue> {
    let text = |s: &str| OwnedValue::from(Str::from(s.to_owned()));
    let info = &r.info;
    let mut entry = HashMap::from([
        ("handle".to_owned(), OwnedValue::from(Str::from(handle))),
        ("name".to_owned(), text(&r.description.name)),
        (
            "transport".to_owned(),
            text(transport_name(r.description.transport)),
        ),
        ("aaguid".to_owned(), text(&aaguid_text(&info.aaguid.0))),
        (
            "pin_set".to_owned(),
            OwnedValue::from(info.option("clientPin") == Some(true)),
        ),
        (
            "credential_management".to_owned(),
            OwnedValue::from(
                info.option("credMgmt") == Some(true)
                    || info.option("credentialMgmtPreview") == Some(true),
            ),
        ),
        (
            "min_pin_length".to_owned(),
            OwnedValue::from(u32::try_from(info.min_pin_length.unwrap_or(4)).unwrap_or(u32::MAX)),
        ),
    ]);
    if let Some(retries) = r.pin_retries {
        entry.insert(
            "pin_retries".to_owned(),
            OwnedValue::from(u32::try_from(retries).unwrap_or(u32::MAX)),
        );
    }
    entry
}

//! Arbitrary bytes as what a caller or a website hands latchkeyd: the options JSON of
//! `CreateCredential`/`GetCredential`, the origin and RP ID it claims, and an RP's
//! `/.well-known/webauthn` document fetched from the network (Related Origin Requests).
//!
//! The first byte chooses; the rest is the input, split at its first NUL into two strings
//! where two are needed. Properties: no panic; no allocation beyond what the input bounds;
//! an RP ID that parses is canonical (it parses to itself); an RP ID authorised for an origin
//! through its effective domain is that domain or a registrable suffix of it; an authorisation
//! through a related-origins document names an origin the document lists; clientDataJSON built
//! from any origin, top-level origin and challenge reads back, through a full JSON parser, as
//! exactly those strings (no injection through a hostile origin).
#![no_main]

use latchkey_webauthn::clientdata::{
    Ancestry, CeremonyType, CollectedClientData, ParsedClientData,
};
use latchkey_webauthn::ids::Challenge;
use latchkey_webauthn::options::{CreationOptions, RequestOptions};
use latchkey_webauthn::origin::{
    authorize, is_registrable_suffix_or_equal, Authorization, Origin, RpId,
};
use latchkey_webauthn::related::RelatedOrigins;
use libfuzzer_sys::fuzz_target;

/// The input as two strings, split at the first NUL (the second empty without one).
fn two(rest: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(rest).ok()?;
    Some(text.split_once('\0').unwrap_or((text, "")))
}

fn origin_and_rp_id(origin: &str, rp_id: &str) {
    if let Ok(id) = RpId::parse(rp_id) {
        assert_eq!(RpId::parse(id.as_str()).as_ref(), Ok(&id), "an RP ID is canonical");
    }
    let requested = (!rp_id.is_empty()).then_some(rp_id);
    let Ok(granted) = authorize(origin, requested) else {
        return;
    };
    if let (Origin::Web(web), Authorization::EffectiveDomain) = (granted.origin(), granted.via()) {
        assert!(
            is_registrable_suffix_or_equal(granted.rp_id(), web.effective_domain()),
            "{:?} granted to {}",
            granted.rp_id(),
            web.as_str()
        );
    }
}

fn related(document: &[u8], caller: &str, rp_id: &str) {
    let Ok(doc) = RelatedOrigins::parse(document) else {
        return;
    };
    let (Ok(Origin::Web(web)), Ok(id)) = (Origin::parse(caller), RpId::parse(rp_id)) else {
        return;
    };
    if let Ok(granted) = doc.authorize(&web, &id, 5) {
        assert_eq!(granted.rp_id(), &id);
        assert!(
            doc.origins()
                .iter()
                .any(|listed| url::Url::parse(listed)
                    .is_ok_and(|u| u.origin().ascii_serialization() == web.as_str())),
            "{} authorised without being listed",
            web.as_str()
        );
    }
}

fn client_data(origin: &str, top: &str, challenge: &[u8]) {
    let challenge = Challenge::new(challenge.to_vec());
    let ancestry = if top.is_empty() {
        Ancestry::SameOrigin
    } else {
        Ancestry::CrossOrigin {
            top_origin: Some(top.to_owned()),
        }
    };
    let ccd = CollectedClientData::new(CeremonyType::Get, &challenge, origin, ancestry);
    let json = ccd.to_json_bytes();
    let parsed = ParsedClientData::parse(&json).expect("clientDataJSON is JSON");
    assert_eq!(parsed.ty, "webauthn.get");
    assert_eq!(parsed.origin, origin);
    assert_eq!(parsed.challenge, challenge.to_base64url());
    assert_eq!(parsed.cross_origin, Some(!top.is_empty()));
    assert_eq!(parsed.top_origin.as_deref(), (!top.is_empty()).then_some(top));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => drop(CreationOptions::from_json(rest)),
        1 => drop(RequestOptions::from_json(rest)),
        2 => {
            if let Some((origin, rp_id)) = two(rest) {
                origin_and_rp_id(origin, rp_id);
            }
        }
        3 => {
            // The document, then the caller's origin and the RP ID after a NUL each.
            let mut parts = rest.splitn(3, |&b| b == 0);
            let document = parts.next().unwrap_or_default();
            let caller = parts.next().and_then(|p| std::str::from_utf8(p).ok());
            let rp_id = parts.next().and_then(|p| std::str::from_utf8(p).ok());
            if let (Some(caller), Some(rp_id)) = (caller, rp_id) {
                related(document, caller, rp_id);
            } else {
                drop(RelatedOrigins::parse(document));
            }
        }
        _ => {
            if let Some((origin, top)) = two(rest) {
                client_data(origin, top, rest);
            }
        }
    }
});

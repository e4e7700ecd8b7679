//! Policy × origin: which origin and RP ID a caller may use (DESIGN "Roles and the request flow",
//! steps 3–4). The RP ID ↔ origin check itself is `latchkey_webauthn::origin` (WebAuthn L3
//! §5.1.3 steps 6–8, §5.1.4.1 steps 5–7).
//!
//! | caller class | `origin` option given | no `origin` |
//! |---|---|---|
//! | privileged (browser) | any https origin, RP ID checked against it | `SecurityError` |
//! | bound app | a web origin whose checked RP ID is bound to it | `app:<id>`, RP ID must be bound |
//! | unknown | `SecurityError` | `app:<id>` after the user approves it as unverified |
//! | denied | `NotAllowedError` | `NotAllowedError` |

use latchkey_webauthn::clientdata::Ancestry;
use latchkey_webauthn::origin::{AppId, AuthorizedRpId, Origin, OriginError, RpId};
use latchkey_webauthn::WebAuthnError;

use crate::identity::CallerIdentity;
use crate::policy::CallerClass;
use crate::related::RelatedOrigins;

/// The origin-related parts of a request, as the caller sent them.
#[derive(Debug, Clone, Default)]
pub struct OriginClaims<'a> {
    /// The `origin` option.
    pub origin: Option<&'a str>,
    /// The `top_origin` option.
    pub top_origin: Option<&'a str>,
    /// `rp.id` (create) or `rpId` (get).
    pub rp_id: Option<&'a str>,
}

/// What policy granted. `NeedsApproval` may only be used after the user approved the caller in a
/// trusted prompt (which `crate::ceremony::Ceremony::new` checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The caller may proceed (the prompt still asks for consent as for any ceremony).
    Allowed(Authorized),
    /// An unknown caller: the user must approve it, shown as unverified.
    NeedsApproval(Authorized),
}

/// The authorization gate: an origin and RP ID checked for the caller by policy (and, where
/// policy allows, Related Origin Requests) with the frame's ancestry. Only this module makes one
/// ([`authorize`], [`with_related_origins`]); a [`crate::ceremony::Ceremony`] cannot be built
/// without it.
///
/// ```compile_fail
/// # use latchkey_daemon::authorize::Authorized;
/// # use latchkey_webauthn::clientdata::Ancestry;
/// # fn forge(rp: latchkey_webauthn::origin::AuthorizedRpId) {
/// // Outside the authorization step an Authorized cannot be written down.
/// let forged = Authorized { rp, ancestry: Ancestry::SameOrigin, needs_approval: false };
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    rp: AuthorizedRpId,
    ancestry: Ancestry,
    needs_approval: bool,
}

impl Authorized {
    fn allowed(rp: AuthorizedRpId, ancestry: Ancestry) -> Grant {
        Grant::Allowed(Self {
            rp,
            ancestry,
            needs_approval: false,
        })
    }

    fn needing_approval(rp: AuthorizedRpId, ancestry: Ancestry) -> Grant {
        Grant::NeedsApproval(Self {
            rp,
            ancestry,
            needs_approval: true,
        })
    }

    /// The authorised RP ID and origin.
    pub fn rp(&self) -> &AuthorizedRpId {
        &self.rp
    }

    /// The ancestry for clientDataJSON.
    pub fn ancestry(&self) -> &Ancestry {
        &self.ancestry
    }

    /// Whether the user must approve the caller in the trusted prompt.
    pub fn needs_approval(&self) -> bool {
        self.needs_approval
    }

    pub(crate) fn into_parts(self) -> (AuthorizedRpId, Ancestry) {
        (self.rp, self.ancestry)
    }
}

impl Grant {
    /// The authorised RP ID and origin.
    pub fn authorized(&self) -> &AuthorizedRpId {
        self.gate().rp()
    }
    /// The ancestry for clientDataJSON.
    pub fn ancestry(&self) -> &Ancestry {
        self.gate().ancestry()
    }
    /// The gate itself.
    pub fn gate(&self) -> &Authorized {
        match self {
            Grant::Allowed(a) | Grant::NeedsApproval(a) => a,
        }
    }
    /// The gate, for `crate::ceremony::Ceremony::new`.
    pub fn into_gate(self) -> Authorized {
        match self {
            Grant::Allowed(a) | Grant::NeedsApproval(a) => a,
        }
    }
}

/// Authorises `origin` for the claimed RP ID through the RP's `/.well-known/webauthn` (L3 §5.11),
/// or fails with `fallback`; see [`RelatedOrigins::check`].
pub async fn with_related_origins(
    related: &RelatedOrigins,
    origin: &str,
    claims: &OriginClaims<'_>,
    fallback: WebAuthnError,
) -> Result<Grant, WebAuthnError> {
    let (rp, ancestry) = related
        .check(origin, claims.rp_id, claims.top_origin, fallback)
        .await?;
    Ok(Authorized::allowed(rp, ancestry))
}

/// Whether a web origin failed only because its RP ID is not a registrable suffix — the case in
/// which Related Origin Requests (§5.11) may still authorise it.
pub fn is_related_origins_candidate(e: &OriginError) -> bool {
    matches!(e, OriginError::NotRegistrableSuffix { .. })
}

/// Decides what `class` may do with `claims`. Errors carry the DOMException name the caller gets.
pub fn authorize(
    class: &CallerClass,
    identity: &CallerIdentity,
    claims: &OriginClaims<'_>,
) -> Result<Grant, AuthorizeError> {
    if *class == CallerClass::Denied {
        return Err(AuthorizeError::WebAuthn(WebAuthnError::not_allowed(
            "policy refuses this caller",
        )));
    }
    // Parsed once: compared with the top origin, then authorized (its error reported there).
    let claimed = claims.origin.map(Origin::parse);
    let ancestry = match (claims.top_origin, class) {
        (None, _) => Ancestry::SameOrigin,
        (Some(top), CallerClass::Privileged { .. }) => {
            let top = Origin::parse(top)
                .map_err(|e| AuthorizeError::WebAuthn(e.into()))?
                .serialize();
            // Compared as origins, not as the strings the caller sent: `https://EXAMPLE.com:443`
            // is the same origin as `https://example.com`.
            let origin = claimed
                .as_ref()
                .and_then(|o| o.as_ref().ok())
                .map(Origin::serialize);
            if origin.as_deref() == Some(top.as_str()) {
                Ancestry::SameOrigin
            } else {
                Ancestry::CrossOrigin {
                    top_origin: Some(top),
                }
            }
        }
        (Some(_), _) => {
            return Err(AuthorizeError::WebAuthn(WebAuthnError::security(
                "only a privileged client may name a top origin",
            )))
        }
    };
    match claimed {
        Some(origin) => {
            let web = match origin.map_err(|e| AuthorizeError::WebAuthn(e.into()))? {
                Origin::Web(w) => w,
                Origin::App(_) => {
                    return Err(AuthorizeError::WebAuthn(WebAuthnError::security(
                        "app: origins are assigned by latchkeyd, not claimed",
                    )))
                }
            };
            let bound = match class {
                CallerClass::Privileged { .. } => None,
                CallerClass::Bound { rp_ids, .. } => Some(rp_ids),
                _ => {
                    return Err(AuthorizeError::WebAuthn(WebAuthnError::security(
                        "this caller may not vouch for web origins",
                    )))
                }
            };
            let authorized = match AuthorizedRpId::check(&web, claims.rp_id) {
                Ok(a) => a,
                Err(e) if bound.is_none() && is_related_origins_candidate(&e) => {
                    return Err(AuthorizeError::TryRelatedOrigins {
                        origin: web.as_str().to_owned(),
                        error: e.into(),
                    })
                }
                Err(e) => return Err(AuthorizeError::WebAuthn(e.into())),
            };
            if let Some(rp_ids) = bound {
                if !is_bound(rp_ids, authorized.rp_id()) {
                    return Err(AuthorizeError::WebAuthn(WebAuthnError::security(format!(
                        "RP ID {} is not bound to this app by policy",
                        authorized.rp_id().as_str()
                    ))));
                }
            }
            Ok(Authorized::allowed(authorized, ancestry))
        }
        None => {
            let app =
                AppId::new(&identity.app_id()).map_err(|e| AuthorizeError::WebAuthn(e.into()))?;
            let Some(rp_id) = claims.rp_id else {
                return Err(AuthorizeError::WebAuthn(WebAuthnError::security(
                    "an app: caller must name its RP ID",
                )));
            };
            let rp_id = RpId::parse(rp_id).map_err(|e| AuthorizeError::WebAuthn(e.into()))?;
            match class {
                CallerClass::Bound { rp_ids, .. } if is_bound(rp_ids, &rp_id) => Ok(
                    Authorized::allowed(AuthorizedRpId::bound_by_policy(app, rp_id), ancestry),
                ),
                CallerClass::Unknown => Ok(Authorized::needing_approval(
                    AuthorizedRpId::bound_by_policy(app, rp_id),
                    ancestry,
                )),
                CallerClass::Privileged { .. } => {
                    Err(AuthorizeError::WebAuthn(WebAuthnError::security(
                        "a privileged client must pass the origin it vouches for",
                    )))
                }
                _ => Err(AuthorizeError::WebAuthn(WebAuthnError::security(format!(
                    "RP ID {} is not bound to this app by policy",
                    rp_id.as_str()
                )))),
            }
        }
    }
}

fn is_bound(rp_ids: &[String], rp_id: &RpId) -> bool {
    rp_ids
        .iter()
        .any(|b| RpId::parse(b).is_ok_and(|b| b == *rp_id))
}

/// Why [`authorize`] did not grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Refused with this error.
    WebAuthn(WebAuthnError),
    /// A privileged client's RP ID is not a suffix of its origin; the RP's
    /// `/.well-known/webauthn` may still list the origin (§5.11). `error` applies if it does not.
    TryRelatedOrigins {
        /// The serialized web origin.
        origin: String,
        /// The error to report if related origins do not authorise it.
        error: WebAuthnError,
    },
}

#[cfg(test)]
mod tests;

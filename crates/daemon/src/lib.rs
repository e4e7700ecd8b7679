//! latchkeyd, the per-user WebAuthn platform service on D-Bus.
//!
//! A request flows: D-Bus method ([`service`]) → caller identity from the kernel ([`identity`]) →
//! options first look ([`options`]) → policy and origin ([`policy`], [`authorize`], [`related`]) →
//! the prompt queue ([`queue`]) → the prompt process ([`prompt`]) → an authenticator behind
//! [`authenticators::Authenticators`] ([`routing`] picks the platform authenticator,
//! [`platform`], or the security keys, [`keys`]) → `Response` ([`request`]). [`server`] wires it
//! to a bus. The API's caller side is `latchkey_api`, the prompt protocol `latchkey_prompt`, and
//! the sandboxed platform authenticator `latchkey_worker`.
#![forbid(unsafe_code)]

pub mod authenticators;
pub mod authorize;
pub mod bridge;
pub mod identity;
pub mod keys;
pub mod options;
pub mod platform;
pub mod policy;
pub mod prompt;
pub mod queue;
pub mod related;
pub mod request;
pub mod routing;
pub mod server;
pub mod service;
pub mod signal;

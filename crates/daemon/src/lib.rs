//! latchkeyd, the per-user WebAuthn platform service on D-Bus.
//!
//! A request flows: D-Bus method ([`service`]) → caller identity from the kernel ([`identity`]) →
//! options first look ([`options`]) → policy and origin ([`policy`], [`authorize`], [`related`]) →
//! the prompt queue ([`queue`]) → the prompt process ([`prompt`]) → a back-end behind
//! [`ceremony::Ceremonies`] ([`routing`] picks the platform authenticator, [`platform`], or the
//! security keys, [`keys`]), cancelled through a [`cancel::CancelToken`] → `Response`
//! ([`request`]). The platform credentials are managed through [`store::PlatformStore`] (list,
//! delete, [`signal`]s), the security keys through [`key_manage`]. [`server`] wires it to a bus; the service and the requests share
//! [`state`] and the [`limits`] on calls outside the queue. The API's caller side is
//! `latchkey_api`, the prompt protocol `latchkey_prompt`, and the sandboxed platform
//! authenticator `latchkey_worker`.
#![forbid(unsafe_code)]

pub mod answers;
pub mod authorize;
pub mod cancel;
pub mod ceremony;
pub mod consent;
pub mod fault;
pub mod identity;
pub mod ids;
pub mod key_manage;
pub mod keys;
pub mod limits;
pub mod lock_watch;
pub mod options;
pub mod pin_change;
pub mod platform;
pub mod platform_pin;
pub mod policy;
pub mod prompt;
pub mod queue;
pub mod related;
pub mod remember;
pub mod request;
pub mod routing;
pub mod server;
pub mod service;
pub mod session;
pub mod shown;
pub mod signal;
pub mod state;
pub mod store;

//! `latchkey-native-host`: the WebExtension native messaging host that carries
//! `navigator.credentials.create/get` from the Latchkey extension to latchkeyd.
//!
//! Browser ⇄ host: [`framing`] (length-prefixed JSON on stdio) carrying [`message`]s.
//! Host ⇄ latchkeyd: `dev.latchkey.Credentials1` on the session bus, through
//! `latchkey_api`. [`parent`] refuses to serve unless a configured browser started
//! the host; [`install`] writes the per-user manifests browsers look the host up by.
//! [`bridge`] is the loop between the two. [`atomic_file`] replaces files in shared directories
//! (also for `latchkey install --user`).
#![forbid(unsafe_code)]

pub mod atomic_file;
pub mod bridge;
pub mod framing;
pub mod install;
pub mod message;
pub mod parent;

//! `latchkey-ui`, the trusted prompt and the Passkeys window, as a library for its binary and its
//! tests. GTK 4.8 and libadwaita 1.2 (Debian 12); D-Bus through zbus on a tokio thread
//! ([`bus`]). Modules: the `dev.latchkey.Prompt1` service ([`service`]) and its typed requests
//! ([`protocol`]), the dialogs ([`dialog`]) and their windows ([`app`]), the Passkeys window
//! ([`manage`]), translations ([`i18n`]), making peer text safe to show ([`text`]) and the
//! benchmark's timestamps ([`trace`]).

pub mod app;
pub mod bus;
pub mod dialog;
pub mod i18n;
pub mod manage;
pub mod protocol;
pub mod service;
pub mod text;
pub mod trace;

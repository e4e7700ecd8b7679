//! The Passkeys window (`latchkey-ui --manage`): the platform passkeys grouped by site, each
//! deletable after a confirmation ([`passkeys`]); the sites the user always allows a browser to
//! use passkeys for, each revocable ([`sites`]); the platform PIN's change ([`pin`]); the security
//! keys plugged in, their passkeys, PIN and reset ([`keys`]). Everything goes through latchkeyd's
//! management API on the session bus (`ListCredentials`, `DeleteCredential`,
//! `ListRememberedSites`, `RevokeRememberedSite`, `ChangePlatformPin`, `ListSecurityKeys`,
//! `ListSecurityKeyCredentials`, `DeleteSecurityKeyCredential`, `ChangeSecurityKeyPin`,
//! `ResetSecurityKey`); this process holds no key and no store, and never sees a PIN.

pub mod keys;
pub mod passkeys;
pub mod pin;
pub mod sites;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use crate::bus::Bus;
use crate::dialog::widgets::{label, page};
use crate::i18n::{tr, trf};
use crate::protocol::Dict;
use crate::text::shown;

pub use keys::{security_keys, SecurityKey};
pub use passkeys::{by_site, Passkey};
pub use sites::{remembered, Remembered};

/// The program name the window runs under (what AT-SPI and the window manager see), apart from
/// the prompt's `latchkey-ui` so that a screen reader tells the two apart.
pub const PROGRAM_NAME: &str = "latchkey-passkeys";

/// The management part of `dev.latchkey.Credentials1` (data/dev.latchkey.Credentials1.xml).
#[zbus::proxy(
    interface = "dev.latchkey.Credentials1",
    default_service = "dev.latchkey.Credentials",
    default_path = "/dev/latchkey/Credentials",
    gen_blocking = false
)]
pub(crate) trait Manage {
    fn list_credentials(
        &self,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<Vec<Dict>>;
    fn delete_credential(&self, credential_id: &str) -> zbus::Result<()>;
    fn list_remembered_sites(
        &self,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<Vec<Dict>>;
    fn revoke_remembered_site(&self, browser: &str, rp_id: &str) -> zbus::Result<()>;
    fn change_platform_pin(
        &self,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<()>;
    fn list_security_keys(
        &self,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<Vec<Dict>>;
    fn list_security_key_credentials(
        &self,
        key: &str,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<Vec<Dict>>;
    fn delete_security_key_credential(&self, key: &str, credential_id: &str) -> zbus::Result<()>;
    fn change_security_key_pin(
        &self,
        key: &str,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<()>;
    fn reset_security_key(
        &self,
        key: &str,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<()>;
}

pub(crate) struct Manager {
    pub(crate) bus: Bus,
    pub(crate) window: adw::ApplicationWindow,
    content: adw::Bin,
    /// The passkeys of each security key (by handle) the user unlocked with its PIN.
    pub(crate) key_passkeys: RefCell<HashMap<String, Vec<Passkey>>>,
    /// What went wrong with the last call on a security key.
    pub(crate) key_notice: RefCell<Option<keys::KeyNotice>>,
}

/// Runs the Passkeys window until it is closed.
pub fn run() -> std::process::ExitCode {
    glib::set_prgname(Some(PROGRAM_NAME));
    let bus = match crate::bus::start(|| async { zbus::Connection::session().await }) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("latchkey-ui: cannot reach the session bus: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let app = adw::Application::builder()
        .application_id("dev.latchkey.Passkeys")
        .build();
    app.connect_activate(move |app| {
        if let Some(w) = app.active_window() {
            w.present();
            return;
        }
        let window = adw::ApplicationWindow::builder()
            .application(app)
            .title(tr("Passkeys"))
            .default_width(560)
            .default_height(780)
            .build();
        let header = adw::HeaderBar::new();
        let content = adw::Bin::new();
        let scroller = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .vexpand(true)
            .child(
                &adw::Clamp::builder()
                    .maximum_size(640)
                    .child(&content)
                    .build(),
            )
            .build();
        let layout = gtk::Box::new(gtk::Orientation::Vertical, 0);
        layout.append(&header);
        layout.append(&scroller);
        window.set_content(Some(&layout));
        let m = Rc::new(Manager {
            bus: bus.clone(),
            window: window.clone(),
            content,
            key_passkeys: RefCell::default(),
            key_notice: RefCell::default(),
        });
        m.reload();
        window.present();
    });
    if app.run_with_args::<&str>(&[]) == glib::ExitCode::SUCCESS {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

impl Manager {
    /// Lists everything again and shows it.
    pub(crate) fn reload(self: &Rc<Self>) {
        let conn = self.bus.conn.clone();
        let task = self.bus.handle.spawn(async move {
            let proxy = ManageProxy::new(&conn).await?;
            let keys = proxy.list_credentials(Default::default()).await?;
            let decisions = proxy.list_remembered_sites(Default::default()).await?;
            // The keys may be busy in a ceremony: that is said in their section only.
            let security_keys = proxy
                .list_security_keys(Default::default())
                .await
                .map(|k| security_keys(&k))
                .map_err(|e| key_list_error(&e));
            Ok::<_, zbus::Error>((keys, decisions, security_keys))
        });
        let this = self.clone();
        glib::spawn_future_local(async move {
            match task.await {
                Ok(Ok((keys, decisions, security_keys))) => {
                    this.show(&keys, &decisions, &security_keys);
                }
                Ok(Err(e)) => this.show_error(&e.to_string()),
                Err(e) => this.show_error(&e.to_string()),
            }
        });
    }

    /// Runs one management call, then lists again (or shows its error).
    pub(crate) fn act<F, Fut>(self: &Rc<Self>, call: F)
    where
        F: FnOnce(ManageProxy<'static>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = zbus::Result<()>> + Send + 'static,
    {
        let conn = self.bus.conn.clone();
        let task = self.bus.handle.spawn(async move {
            let proxy = ManageProxy::new(&conn).await?;
            call(proxy).await
        });
        let this = self.clone();
        glib::spawn_future_local(async move {
            match task.await {
                Ok(Ok(())) => this.reload(),
                Ok(Err(e)) => this.show_error(&e.to_string()),
                Err(e) => this.show_error(&e.to_string()),
            }
        });
    }

    fn show_error(&self, message: &str) {
        let p = page();
        p.append(&label(&tr("Latchkey is not reachable"), &["title-2"]));
        p.append(&label(&shown(message, 300), &["dim-label"]));
        self.content.set_child(Some(&p));
    }

    fn show(
        self: &Rc<Self>,
        keys: &[Dict],
        decisions: &[Dict],
        security_keys: &Result<Vec<SecurityKey>, String>,
    ) {
        let p = page();
        passkeys::section(self, &p, &by_site(keys));
        sites::section(self, &p, &remembered(decisions));
        pin::section(self, &p);
        keys::section(self, &p, security_keys);
        self.content.set_child(Some(&p));
    }
}

/// Why the security keys could not be listed, in the window's words.
fn key_list_error(e: &zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, _, _) if name.as_str().ends_with(".Busy") => {
            tr("A security key is in use by a sign-in. Refresh when it is done.")
        }
        other => trf(
            "The security keys could not be listed: {error}",
            &[("error", &other.to_string())],
        ),
    }
}

#[cfg(test)]
mod tests;

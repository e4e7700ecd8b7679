//! The Passkeys window (`latchkey-ui --manage`): the platform passkeys grouped by site, each
//! deletable after a confirmation. Everything goes through latchkeyd's management API on the
//! session bus (`ListCredentials`, `DeleteCredential`); this process holds no key and no store.

use std::collections::BTreeMap;
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use crate::bus::Bus;
use crate::dialog::widgets::{label, named, page, start_label};
use crate::i18n::{tr, trf};
use crate::protocol::{opt_str, Dict};
use crate::text::{shown, NAME_CHARS, RP_ID_CHARS};

/// The management part of `dev.latchkey.Credentials1` (data/dev.latchkey.Credentials1.xml).
#[zbus::proxy(
    interface = "dev.latchkey.Credentials1",
    default_service = "dev.latchkey.Credentials",
    default_path = "/dev/latchkey/Credentials",
    gen_blocking = false
)]
trait Manage {
    fn list_credentials(
        &self,
        options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
    ) -> zbus::Result<Vec<Dict>>;
    fn delete_credential(&self, credential_id: &str) -> zbus::Result<()>;
}

/// One platform passkey as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    /// base64url credential ID.
    pub credential_id: String,
    /// Its site.
    pub rp_id: String,
    /// `user.name`.
    pub user_name: String,
    /// `user.displayName`.
    pub user_display_name: String,
}

/// Groups passkeys by site, sites in order.
pub fn by_site(list: &[Dict]) -> BTreeMap<String, Vec<Passkey>> {
    let mut sites: BTreeMap<String, Vec<Passkey>> = BTreeMap::new();
    for d in list {
        let get = |k: &'static str| opt_str(d, k).ok().flatten().unwrap_or_default();
        let p = Passkey {
            credential_id: get("credential_id"),
            rp_id: get("rp_id"),
            user_name: get("user_name"),
            user_display_name: get("user_display_name"),
        };
        if p.credential_id.is_empty() {
            continue;
        }
        sites.entry(p.rp_id.clone()).or_default().push(p);
    }
    sites
}

struct Manager {
    bus: Bus,
    window: adw::ApplicationWindow,
    content: adw::Bin,
}

/// Runs the Passkeys window until it is closed.
pub fn run() -> std::process::ExitCode {
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
            .default_height(640)
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
    fn reload(self: &Rc<Self>) {
        let conn = self.bus.conn.clone();
        let task = self.bus.handle.spawn(async move {
            let proxy = ManageProxy::new(&conn).await?;
            proxy.list_credentials(Default::default()).await
        });
        let this = self.clone();
        glib::spawn_future_local(async move {
            match task.await {
                Ok(Ok(list)) => this.show(&by_site(&list)),
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

    fn show(self: &Rc<Self>, sites: &BTreeMap<String, Vec<Passkey>>) {
        let p = page();
        p.append(&start_label(&tr("Passkeys on this device"), &["title-2"]));
        if sites.is_empty() {
            p.append(&start_label(
                &tr("No passkeys are saved on this device yet."),
                &["dim-label"],
            ));
        }
        for (site, keys) in sites {
            let group = adw::PreferencesGroup::builder()
                .title(glib::markup_escape_text(&shown(site, RP_ID_CHARS)).as_str())
                .build();
            for key in keys {
                let user = shown(&key.user_name, NAME_CHARS);
                let row = adw::ActionRow::builder()
                    .use_markup(false)
                    .title(user.as_str())
                    .subtitle(shown(&key.user_display_name, NAME_CHARS).as_str())
                    .build();
                let delete_name = trf("Delete the passkey of {user}", &[("user", &user)]);
                let delete = named::<gtk::Button>(
                    "GtkButton",
                    &delete_name,
                    &[
                        ("icon-name", "user-trash-symbolic"),
                        ("valign", "center"),
                        ("tooltip-text", &delete_name),
                    ],
                )
                .unwrap_or_else(|| gtk::Button::from_icon_name("user-trash-symbolic"));
                delete.add_css_class("flat");
                let (this, key) = (self.clone(), key.clone());
                delete.connect_clicked(move |_| this.confirm_delete(&key));
                row.add_suffix(&delete);
                group.add(&row);
            }
            p.append(&group);
        }
        self.content.set_child(Some(&p));
    }

    fn confirm_delete(self: &Rc<Self>, key: &Passkey) {
        let user = shown(&key.user_name, NAME_CHARS);
        let site = shown(&key.rp_id, RP_ID_CHARS);
        let dialog = adw::MessageDialog::builder()
            .transient_for(&self.window)
            .modal(true)
            .heading(tr("Delete this passkey?"))
            .body(trf(
                "You will no longer be able to sign in to {rp_id} as {user} with it. This cannot be undone.",
                &[("rp_id", &site), ("user", &user)],
            ))
            .build();
        dialog.add_response("cancel", &tr("Cancel"));
        dialog.add_response("delete", &tr("Delete"));
        dialog.set_response_appearance("delete", adw::ResponseAppearance::Destructive);
        dialog.set_default_response(Some("cancel"));
        dialog.set_close_response("cancel");
        let (this, id) = (self.clone(), key.credential_id.clone());
        dialog.connect_response(None, move |_, response| {
            if response != "delete" {
                return;
            }
            let conn = this.bus.conn.clone();
            let id = id.clone();
            let task = this.bus.handle.spawn(async move {
                let proxy = ManageProxy::new(&conn).await?;
                proxy.delete_credential(&id).await
            });
            let this = this.clone();
            glib::spawn_future_local(async move {
                match task.await {
                    Ok(Ok(())) => this.reload(),
                    Ok(Err(e)) => this.show_error(&e.to_string()),
                    Err(e) => this.show_error(&e.to_string()),
                }
            });
        });
        dialog.present();
    }
}

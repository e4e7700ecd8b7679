//! The Passkeys window's first section: the platform passkeys grouped by site, each deletable
//! after a confirmation.

use std::collections::BTreeMap;
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use super::Manager;
use crate::dialog::widgets::{named, start_label};
use crate::i18n::{tr, trf};
use crate::protocol::{opt_str, Dict};
use crate::text::{shown, NAME_CHARS, RP_ID_CHARS};

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

/// Appends the passkeys to `p`.
pub(super) fn section(m: &Rc<Manager>, p: &gtk::Box, sites: &BTreeMap<String, Vec<Passkey>>) {
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
            let (this, key) = (m.clone(), key.clone());
            delete.connect_clicked(move |_| confirm_delete(&this, &key));
            row.add_suffix(&delete);
            group.add(&row);
        }
        p.append(&group);
    }
}

fn confirm_delete(m: &Rc<Manager>, key: &Passkey) {
    let user = shown(&key.user_name, NAME_CHARS);
    let site = shown(&key.rp_id, RP_ID_CHARS);
    let dialog = adw::MessageDialog::builder()
        .transient_for(&m.window)
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
    let (this, id) = (m.clone(), key.credential_id.clone());
    dialog.connect_response(None, move |_, response| {
        if response != "delete" {
            return;
        }
        let id = id.clone();
        this.act(move |proxy| async move { proxy.delete_credential(&id).await });
    });
    dialog.present();
}

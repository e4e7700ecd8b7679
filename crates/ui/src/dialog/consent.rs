//! The consent page: who asks, for which site, and what will happen. The RP ID is the headline;
//! every caller-supplied string (app name, user name, origins) sits below it as the value of a row
//! whose label is our own word, so no name can pass for the dialog's own sentence.

use adw::prelude::*;
use gtk::{gio, glib};

use super::widgets::{button, button_row, facts, label, page, picture, start_label};
use super::Page;
use crate::i18n::{tr, trf};
use crate::protocol::{CallerClass, Consent, Kind};
use crate::text::{shown, DETAIL_CHARS, NAME_CHARS, ORIGIN_CHARS, RP_ID_CHARS};

/// The consent page; `on_continue(remember)` or `on_cancel()` is called once.
pub fn build(
    c: &Consent,
    on_continue: impl Fn(bool) + 'static,
    on_cancel: impl Fn() + 'static,
) -> Page {
    let root = page();
    let rp_id = shown(&c.rp_id, RP_ID_CHARS);
    root.append(&caller_picture(c));
    let headline = label(&rp_id, &["title-1"]);
    headline.set_selectable(false);
    root.append(&headline);
    let action = match c.kind {
        Kind::Get => trf("Sign in to {rp_id}", &[("rp_id", &rp_id)]),
        Kind::Create => trf("Create a passkey for {rp_id}", &[("rp_id", &rp_id)]),
    };
    root.append(&label(&action, &["title-4"]));

    let mut rows = vec![(tr("Website"), shown(&c.origin, ORIGIN_CHARS))];
    if let Some(top) = &c.top_origin {
        rows.push((tr("Embedded in"), shown(top, ORIGIN_CHARS)));
    }
    // latchkeyd names a caller by policy or, failing that, by its executable's path: room for a
    // path.
    let caller = if c.caller.trim().is_empty() {
        shown(&c.app_id, DETAIL_CHARS)
    } else {
        shown(&c.caller, DETAIL_CHARS)
    };
    let caller_value = if c.native_host.is_some() {
        format!("{caller} — {}", tr("via native messaging host"))
    } else {
        caller.clone()
    };
    rows.push((tr("Requested by"), caller_value));
    if let (Kind::Create, Some(user)) = (c.kind, &c.user_name) {
        rows.push((tr("Account"), shown(user, NAME_CHARS)));
    }
    root.append(&facts(&rows));

    if !c.caller_verified {
        root.append(&unverified_warning());
    }

    let remember = (c.remember_offer
        && c.caller_verified
        && c.caller_class == CallerClass::Privileged)
        .then(|| {
            let text = trf(
                "Always allow {app} to use passkeys for {rp_id}",
                &[("app", &caller), ("rp_id", &rp_id)],
            );
            // A switch rather than a check box: GTK 4.8 gives check boxes no accessible action,
            // so a screen reader could not toggle one. The row names it (labelled-by its title).
            let switch = gtk::Switch::builder().valign(gtk::Align::Center).build();
            let row = adw::ActionRow::builder()
                .use_markup(false)
                .title(text.as_str())
                .activatable_widget(&switch)
                .build();
            row.add_suffix(&switch);
            let list = gtk::ListBox::builder()
                .selection_mode(gtk::SelectionMode::None)
                .build();
            list.add_css_class("boxed-list");
            list.append(&row);
            root.append(&list);
            switch
        });

    let cancel = button(&tr("Cancel"), false);
    let primary = button(&tr("Continue"), true);
    root.append(&button_row(&[&cancel, &primary]));
    primary.connect_clicked(move |_| {
        on_continue(remember.as_ref().is_some_and(|r| r.is_active()));
    });
    cancel.connect_clicked(move |_| on_cancel());
    Page {
        root,
        primary: Some(primary.clone()),
        focus: Some(primary.upcast()),
        title: action,
    }
}

/// The caller's icon from its desktop file, for a verified caller only: an unverified app could
/// have installed a desktop file with another app's icon.
fn caller_picture(c: &Consent) -> gtk::Image {
    if !c.caller_verified {
        let i = picture("dialog-warning-symbolic");
        i.add_css_class("warning");
        return i;
    }
    let icon = desktop_ids(&c.app_id)
        .into_iter()
        .find_map(|id| desktop_icon(&id));
    match icon {
        Some(icon) => {
            let i = gtk::Image::from_gicon(&icon);
            i.set_pixel_size(64);
            i.set_margin_bottom(6);
            i
        }
        None => picture("dialog-password-symbolic"),
    }
}

/// The `Icon` of desktop file `id` in the XDG data directories (the user's first).
fn desktop_icon(id: &str) -> Option<gio::Icon> {
    let mut dirs = vec![glib::user_data_dir()];
    dirs.extend(glib::system_data_dirs());
    let path = dirs
        .into_iter()
        .map(|d| d.join("applications").join(id))
        .find(|p| p.is_file())?;
    let file = glib::KeyFile::new();
    file.load_from_file(&path, glib::KeyFileFlags::NONE).ok()?;
    let icon = file.string("Desktop Entry", "Icon").ok()?;
    gio::Icon::for_string(&icon).ok()
}

/// Desktop file names to try for an app ID: `ID.desktop`, and a Snap's `NAME_NAME.desktop`.
pub fn desktop_ids(app_id: &str) -> Vec<String> {
    let ok = !app_id.is_empty()
        && app_id.len() <= 255
        && app_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !app_id.starts_with('.');
    if !ok {
        return Vec::new();
    }
    match app_id.strip_prefix("snap.") {
        Some(name) if !name.is_empty() => vec![format!("{name}_{name}.desktop")],
        _ => vec![format!("{app_id}.desktop")],
    }
}

fn unverified_warning() -> gtk::Box {
    let card = gtk::Box::builder()
        .orientation(gtk::Orientation::Horizontal)
        .spacing(12)
        .build();
    card.add_css_class("card");
    let icon = gtk::Image::from_icon_name("dialog-warning-symbolic");
    icon.add_css_class("warning");
    icon.set_margin_start(12);
    icon.set_valign(gtk::Align::Center);
    card.append(&icon);
    let words = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(2)
        .margin_top(10)
        .margin_bottom(10)
        .margin_end(12)
        .build();
    let head = start_label(&tr("Unverified app"), &["heading", "warning"]);
    words.append(&head);
    words.append(&start_label(
        &tr("Latchkey cannot confirm which app is asking. Continue only if you started this yourself."),
        &[],
    ));
    card.append(&words);
    card
}

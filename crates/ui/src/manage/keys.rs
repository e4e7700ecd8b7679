//! The Passkeys window's "Security keys" section: the keys plugged in (`ListSecurityKeys`, again
//! on "Refresh"), and per key its passkeys once the user asks (`ListSecurityKeyCredentials`: the
//! key's PIN is asked by the trusted prompt, never by this window), each deletable after a
//! confirmation (`DeleteSecurityKeyCredential`), "Change PIN" or "Set PIN"
//! (`ChangeSecurityKeyPin`) and "Reset" (`ResetSecurityKey`) after a confirmation that explains
//! the 10-second rule; a key that refuses because it was plugged in too long ago gets the same
//! explanation and what to do.

use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use super::{by_site, ManageProxy, Manager, Passkey};
use crate::dialog::widgets::{named, start_label};
use crate::i18n::{tr, trf, trn};
use crate::protocol::{opt_str, Dict};
use crate::text::{shown, NAME_CHARS, RP_ID_CHARS};

/// One security key as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityKey {
    /// latchkeyd's handle for it.
    pub handle: String,
    /// Its product name.
    pub name: String,
    /// `usb`, `nfc`, `virtual`.
    pub transport: String,
    /// Whether a PIN is set.
    pub pin_set: bool,
    /// PIN tries left, when the key says.
    pub pin_retries: Option<u32>,
    /// Whether its passkeys can be listed.
    pub credential_management: bool,
}

/// The keys of a `ListSecurityKeys` answer; entries without a handle are dropped.
pub fn security_keys(list: &[Dict]) -> Vec<SecurityKey> {
    let flag = |d: &Dict, k: &str| d.get(k).and_then(|v| bool::try_from(v).ok()) == Some(true);
    list.iter()
        .filter_map(|d| {
            let get = |k: &'static str| opt_str(d, k).ok().flatten().unwrap_or_default();
            let handle = get("handle");
            (!handle.is_empty()).then(|| SecurityKey {
                handle,
                name: get("name"),
                transport: get("transport"),
                pin_set: flag(d, "pin_set"),
                pin_retries: d.get("pin_retries").and_then(|v| u32::try_from(v).ok()),
                credential_management: flag(d, "credential_management"),
            })
        })
        .collect()
}

/// The line under a key's name: how it is connected and its PIN.
fn status_line(key: &SecurityKey) -> String {
    let how = match key.transport.as_str() {
        "nfc" => tr("NFC"),
        "virtual" => tr("Virtual key"),
        _ => tr("USB"),
    };
    let pin = match (key.pin_set, key.pin_retries) {
        (false, _) => tr("No PIN set"),
        (true, Some(n)) => trn("PIN set, {n} try left", "PIN set, {n} tries left", n),
        (true, None) => tr("PIN set"),
    };
    format!("{how} · {pin}")
}

fn named_button(name: &str, label: &str) -> gtk::Button {
    let b = named::<gtk::Button>(
        "GtkButton",
        name,
        &[("label", label), ("use-underline", "false")],
    )
    .unwrap_or_else(|| gtk::Button::with_label(label));
    b.set_valign(gtk::Align::Center);
    b
}

/// Appends the section to `p`: `keys` as listed, or why they could not be.
pub(super) fn section(m: &Rc<Manager>, p: &gtk::Box, keys: &Result<Vec<SecurityKey>, String>) {
    p.append(&start_label(&tr("Security keys"), &["title-2"]));
    p.append(&start_label(
        &tr("Security keys plugged into this computer. A key's passkeys are shown after you enter its PIN."),
        &["dim-label"],
    ));
    let refresh = named_button(&tr("Refresh the security keys"), &tr("Refresh"));
    refresh.set_halign(gtk::Align::Start);
    let this = m.clone();
    refresh.connect_clicked(move |_| this.reload());
    p.append(&refresh);
    let keys = match keys {
        Ok(k) => k,
        Err(e) => {
            p.append(&start_label(&shown(e, 300), &["dim-label"]));
            return;
        }
    };
    if keys.is_empty() {
        p.append(&start_label(
            &tr("No security key is plugged in."),
            &["dim-label"],
        ));
    }
    for key in keys {
        p.append(&key_group(m, key));
    }
}

fn key_group(m: &Rc<Manager>, key: &SecurityKey) -> adw::PreferencesGroup {
    let name = shown(&key.name, NAME_CHARS);
    let group = adw::PreferencesGroup::builder()
        .title(glib::markup_escape_text(&name).as_str())
        .description(glib::markup_escape_text(&status_line(key)).as_str())
        .build();
    let notice = m.key_notice.borrow().clone();
    if let Some(n) = notice.filter(|n| n.handle == key.handle) {
        let b = gtk::Box::new(gtk::Orientation::Vertical, 6);
        b.set_margin_top(6);
        b.set_margin_bottom(6);
        b.append(&start_label(&n.heading, &["heading", "error"]));
        b.append(&start_label(&n.body, &[]));
        group.add(&b);
    }
    let shown_passkeys = m.key_passkeys.borrow().get(&key.handle).cloned();
    if let Some(list) = shown_passkeys {
        if list.is_empty() {
            group.add(
                &adw::ActionRow::builder()
                    .use_markup(false)
                    .title(tr("No passkeys are saved on this key.").as_str())
                    .build(),
            );
        }
        for site in by_site_list(&list) {
            for passkey in site {
                group.add(&passkey_row(m, key, &passkey));
            }
        }
    }
    let actions = gtk::Box::builder()
        .orientation(gtk::Orientation::Horizontal)
        .spacing(12)
        .margin_top(12)
        .build();
    if key.credential_management && key.pin_set {
        let list = named_button(
            &trf("Show the passkeys on {key}", &[("key", &name)]),
            &tr("Show passkeys"),
        );
        let (this, handle) = (m.clone(), key.handle.clone());
        list.connect_clicked(move |_| show_passkeys(&this, &handle));
        actions.append(&list);
    }
    let (pin_name, pin_label) = if key.pin_set {
        (
            trf("Change the PIN of {key}", &[("key", &name)]),
            tr("Change PIN"),
        )
    } else {
        (trf("Set a PIN for {key}", &[("key", &name)]), tr("Set PIN"))
    };
    let pin = named_button(&pin_name, &pin_label);
    let (this, handle) = (m.clone(), key.handle.clone());
    pin.connect_clicked(move |_| {
        let h = handle.clone();
        run(
            &this,
            &handle,
            move |proxy| async move { proxy.change_security_key_pin(&h, Default::default()).await },
            |m, ()| m.reload(),
        );
    });
    actions.append(&pin);
    let reset = named_button(&trf("Reset {key}", &[("key", &name)]), &tr("Reset…"));
    reset.add_css_class("destructive-action");
    let (this, key_for_reset) = (m.clone(), key.clone());
    reset.connect_clicked(move |_| confirm_reset(&this, &key_for_reset));
    actions.append(&reset);
    group.add(&actions);
    group
}

fn by_site_list(list: &[Passkey]) -> Vec<Vec<Passkey>> {
    let mut sites: std::collections::BTreeMap<&str, Vec<Passkey>> = Default::default();
    for p in list {
        sites.entry(p.rp_id.as_str()).or_default().push(p.clone());
    }
    sites.into_values().collect()
}

fn passkey_row(m: &Rc<Manager>, key: &SecurityKey, passkey: &Passkey) -> adw::ActionRow {
    let user = shown(&passkey.user_name, NAME_CHARS);
    let row = adw::ActionRow::builder()
        .use_markup(false)
        .title(user.as_str())
        .subtitle(shown(&passkey.rp_id, RP_ID_CHARS).as_str())
        .build();
    let delete_name = trf(
        "Delete the passkey of {user} from {key}",
        &[("user", &user), ("key", &shown(&key.name, NAME_CHARS))],
    );
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
    let (this, handle, passkey) = (m.clone(), key.handle.clone(), passkey.clone());
    delete.connect_clicked(move |_| confirm_delete(&this, &handle, &passkey));
    row.add_suffix(&delete);
    row
}

/// Asks latchkeyd for a key's passkeys (it asks the user for the key's PIN) and shows them.
fn show_passkeys(m: &Rc<Manager>, handle: &str) {
    let h = handle.to_owned();
    let handle = handle.to_owned();
    run(
        m,
        &handle.clone(),
        move |proxy| async move {
            proxy
                .list_security_key_credentials(&h, Default::default())
                .await
        },
        move |m, list| {
            let passkeys: Vec<Passkey> = by_site(&list).into_values().flatten().collect();
            m.key_passkeys.borrow_mut().insert(handle, passkeys);
            m.reload();
        },
    );
}

fn confirm_delete(m: &Rc<Manager>, handle: &str, passkey: &Passkey) {
    let user = shown(&passkey.user_name, NAME_CHARS);
    let site = shown(&passkey.rp_id, RP_ID_CHARS);
    let dialog = message(
        m,
        &tr("Delete this passkey?"),
        &trf(
            "You will no longer be able to sign in to {rp_id} as {user} with this security key. This cannot be undone.",
            &[("rp_id", &site), ("user", &user)],
        ),
    );
    dialog.add_response("cancel", &tr("Cancel"));
    dialog.add_response("delete", &tr("Delete"));
    dialog.set_response_appearance("delete", adw::ResponseAppearance::Destructive);
    dialog.set_default_response(Some("cancel"));
    dialog.set_close_response("cancel");
    let (this, handle, id) = (m.clone(), handle.to_owned(), passkey.credential_id.clone());
    dialog.connect_response(None, move |_, response| {
        if response != "delete" {
            return;
        }
        let (h, i) = (handle.clone(), id.clone());
        let (handle, id) = (handle.clone(), id.clone());
        run(
            &this,
            &handle.clone(),
            move |proxy| async move { proxy.delete_security_key_credential(&h, &i).await },
            move |m, ()| {
                if let Some(list) = m.key_passkeys.borrow_mut().get_mut(&handle) {
                    list.retain(|p| p.credential_id != id);
                }
                m.reload();
            },
        );
    });
    dialog.present();
}

/// The 10-second rule (CTAP 2.1 §6.6), in plain words.
fn reset_rule() -> String {
    tr("A security key can be reset only within 10 seconds of being plugged in. Unplug the key, plug it back in, then choose Reset right away and touch the key when it asks.")
}

fn confirm_reset(m: &Rc<Manager>, key: &SecurityKey) {
    let name = shown(&key.name, NAME_CHARS);
    let body = format!(
        "{}\n\n{}",
        trf(
            "Resetting erases every passkey on {key} and its PIN. You will no longer be able to sign in with those passkeys. This cannot be undone.",
            &[("key", &name)],
        ),
        reset_rule()
    );
    let dialog = message(m, &tr("Reset this security key?"), &body);
    dialog.add_response("cancel", &tr("Cancel"));
    dialog.add_response("reset", &tr("Reset"));
    dialog.set_response_appearance("reset", adw::ResponseAppearance::Destructive);
    dialog.set_default_response(Some("cancel"));
    dialog.set_close_response("cancel");
    let (this, handle) = (m.clone(), key.handle.clone());
    dialog.connect_response(None, move |_, response| {
        if response != "reset" {
            return;
        }
        let h = handle.clone();
        let handle = handle.clone();
        run(
            &this,
            &handle.clone(),
            move |proxy| async move { proxy.reset_security_key(&h, Default::default()).await },
            move |m, ()| {
                m.key_passkeys.borrow_mut().remove(&handle);
                m.reload();
            },
        );
    });
    dialog.present();
}

fn message(m: &Rc<Manager>, heading: &str, body: &str) -> adw::MessageDialog {
    adw::MessageDialog::builder()
        .transient_for(&m.window)
        .modal(true)
        .heading(heading)
        .body(body)
        .build()
}

/// Runs one call on the key `handle` on the bus thread; `done` gets its answer, an error is
/// shown in the key's group (not in a dialog: it may follow a confirmation dialog, and a
/// window that stacks one dialog on another is harder to follow).
fn run<T, F, Fut>(
    m: &Rc<Manager>,
    handle: &str,
    call: F,
    done: impl FnOnce(&Rc<Manager>, T) + 'static,
) where
    T: Send + 'static,
    F: FnOnce(ManageProxy<'static>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = zbus::Result<T>> + Send + 'static,
{
    let conn = m.bus.conn.clone();
    let task = m.bus.handle.spawn(async move {
        let proxy = ManageProxy::new(&conn).await?;
        call(proxy).await
    });
    m.key_notice.replace(None);
    let (this, handle) = (m.clone(), handle.to_owned());
    glib::spawn_future_local(async move {
        match task.await {
            Ok(Ok(answer)) => done(&this, answer),
            Ok(Err(e)) => show_error(&this, &handle, &e),
            Err(e) => show_error(&this, &handle, &zbus::Error::Failure(e.to_string())),
        }
    });
}

/// What went wrong, in the window's words, under the key's name: the error's kind decides the
/// heading (and, for a reset that came too late, the whole explanation); latchkeyd's message is
/// the detail. The user's own cancel in the prompt shows nothing.
fn show_error(m: &Rc<Manager>, handle: &str, e: &zbus::Error) {
    let (name, detail) = match e {
        zbus::Error::MethodError(name, detail, _) => (
            name.as_str()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned(),
            detail.clone().unwrap_or_default(),
        ),
        other => (String::new(), other.to_string()),
    };
    let (heading, body) = match name.as_str() {
        "TooLate" => (tr("Too late to reset this key"), reset_rule()),
        "Busy" => (
            tr("The security key is busy"),
            tr("A sign-in or another task is using it. Try again when it is done."),
        ),
        "NotFound" => (
            tr("The security key is not there"),
            tr("It may have been unplugged. Refresh the list and try again."),
        ),
        "CallerRefused" => (tr("Nothing was changed"), shown(&detail, 300)),
        _ => (tr("Something went wrong"), shown(&detail, 300)),
    };
    if name == "CallerRefused" && detail.contains("the user did not") {
        return m.reload();
    }
    m.key_notice.replace(Some(KeyNotice {
        handle: handle.to_owned(),
        heading,
        body,
    }));
    m.reload();
}

/// What the last call on a key said went wrong, shown in its group until the next call.
#[derive(Debug, Clone)]
pub(crate) struct KeyNotice {
    handle: String,
    heading: String,
    body: String,
}

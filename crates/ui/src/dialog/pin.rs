//! PIN pages: entering a PIN (tries left, wrong PIN, blocked), creating one on first use (asked
//! twice, with its minimum length and why it matters) and changing one. A PIN is read from the
//! `GtkPasswordEntry` (whose buffer GTK keeps in non-pageable memory and wipes) into a
//! [`Zeroizing`] string, and the field is emptied at once. The copy GTK's getter returns is freed
//! right after (by GLib's allocator, which does not wipe it). While the user types, the entry
//! page asks only the field's length ([`is_empty`]); the create/change page compares the new PIN
//! with its confirmation as they are typed (its hint says when they differ), which reads both
//! fields at every keystroke, each read leaving such a copy (ARCHITECTURE.md, "PINs").

use std::rc::Rc;

use gtk::prelude::*;
use zeroize::Zeroizing;

use super::widgets::{
    button, button_row, label, page, password_entry, picture, start_label, title as title_label,
};
use super::Page;
use crate::i18n::{tr, trf, trn};
use crate::protocol::PinRequest;
use crate::text::{shown, NAME_CHARS, RP_ID_CHARS};

/// CTAP 2.1 §6.5.5.5: a PIN is at most 63 bytes of UTF-8.
pub const MAX_PIN_BYTES: usize = 63;

/// Takes the field's text and empties it.
pub fn take(entry: &gtk::PasswordEntry) -> Zeroizing<String> {
    let pin = Zeroizing::new(String::from(entry.text()));
    entry.set_text("");
    pin
}

/// Whether the field is empty, asked of its `GtkText` delegate by length: unlike the text
/// getter, this leaves no copy of the PIN behind (the handlers that follow the typing run at
/// every keystroke).
fn is_empty(entry: &gtk::PasswordEntry) -> bool {
    entry
        .delegate()
        .and_then(|d| d.downcast::<gtk::Text>().ok())
        .map_or_else(|| entry.text().is_empty(), |t| t.text_length() == 0)
}

fn authenticator_line(req: &PinRequest) -> Option<gtk::Label> {
    (!req.platform && !req.authenticator.is_empty())
        .then(|| label(&shown(&req.authenticator, NAME_CHARS), &["dim-label"]))
}

/// "for SITE", when latchkeyd says which site the PIN is asked for: after a remembered
/// decision this is the only dialog, and it must not ask for a PIN without saying for what.
fn site_line(req: &PinRequest) -> Option<gtk::Label> {
    req.rp_id.as_deref().map(|rp| {
        let rp = shown(rp, RP_ID_CHARS);
        label(&trf("for {rp_id}", &[("rp_id", &rp)]), &["dim-label"])
    })
}

/// Entering an existing PIN; `on_continue(pin)` or `on_cancel()`.
pub fn verify(
    req: &PinRequest,
    on_continue: impl Fn(Zeroizing<String>) + 'static,
    on_cancel: impl Fn() + 'static,
) -> Page {
    let root = page();
    root.append(&picture("dialog-password-symbolic"));
    let cancel = button(&tr("Cancel"), false);
    cancel.connect_clicked(move |_| on_cancel());
    if req.blocked {
        let title = tr("PIN blocked");
        root.append(&title_label(&title));
        let why = if req.platform {
            tr("The PIN was entered wrongly too many times. The passkeys on this device cannot be used until the PIN is reset.")
        } else {
            tr("The PIN was entered wrongly too many times. This security key must be reset before it can be used again, which erases its passkeys.")
        };
        root.append(&label(&why, &[]));
        root.append(&button_row(&[&cancel]));
        return Page {
            root,
            primary: None,
            focus: Some(cancel.upcast()),
            title,
        };
    }
    let title = if req.platform {
        tr("Enter your device PIN")
    } else {
        tr("Enter your security key PIN")
    };
    root.append(&title_label(&title));
    if let Some(l) = site_line(req) {
        root.append(&l);
    }
    if let Some(l) = authenticator_line(req) {
        root.append(&l);
    }
    let entry = password_entry(&tr("PIN"));
    root.append(&entry);
    let mut notes = Vec::new();
    if req.wrong_pin {
        notes.push(tr("Wrong PIN."));
    }
    if let Some(n) = req.retries {
        if req.wrong_pin || n <= 3 {
            notes.push(trn("{n} try left.", "{n} tries left.", n));
        }
    }
    if !notes.is_empty() {
        let note = label(&notes.join(" "), &["error"]);
        root.append(&note);
    }
    let primary = button(&tr("Continue"), true);
    primary.set_sensitive(false);
    root.append(&button_row(&[&cancel, &primary]));
    let p = primary.clone();
    entry.connect_changed(move |e| p.set_sensitive(!is_empty(e)));
    let e = entry.clone();
    primary.connect_clicked(move |_| {
        let pin = take(&e);
        if !pin.is_empty() {
            on_continue(pin);
        }
    });
    Page {
        root,
        primary: Some(primary),
        focus: Some(entry.upcast()),
        title,
    }
}

/// Why a new PIN is not acceptable yet, if it is not.
pub fn new_pin_problem(new: &str, confirm: &str, min_chars: u32) -> Option<String> {
    let chars = u32::try_from(new.chars().count()).unwrap_or(u32::MAX);
    if chars < min_chars {
        return Some(trn(
            "Use at least {n} character.",
            "Use at least {n} characters.",
            min_chars,
        ));
    }
    if new.len() > MAX_PIN_BYTES {
        return Some(tr("This PIN is too long."));
    }
    if new != confirm {
        return Some(tr("The PINs do not match."));
    }
    None
}

/// Creating a PIN (`change == false`) or changing one: `on_continue(current, new)`; `current`
/// is empty when creating.
pub fn create_or_change(
    req: &PinRequest,
    change: bool,
    on_continue: impl Fn(Zeroizing<String>, Zeroizing<String>) + 'static,
    on_cancel: impl Fn() + 'static,
) -> Page {
    let root = page();
    root.append(&picture("dialog-password-symbolic"));
    let title = match (change, req.platform) {
        (false, true) => tr("Create a PIN for this device"),
        (false, false) => tr("Set a PIN for your security key"),
        (true, true) => tr("Change the PIN of this device"),
        (true, false) => tr("Change the PIN of your security key"),
    };
    root.append(&title_label(&title));
    if let (false, Some(l)) = (change, site_line(req)) {
        root.append(&l);
    }
    if let Some(l) = authenticator_line(req) {
        root.append(&l);
    }
    if !change {
        let why = if req.platform {
            tr("Your passkeys on this device are protected by this PIN. Anyone who knows it and can use this computer can sign in as you, so choose one others cannot guess.")
        } else {
            tr("This key will ask for the PIN before it signs you in. Anyone who has the key and knows the PIN can sign in as you.")
        };
        root.append(&label(&why, &[]));
    }
    let current = change.then(|| {
        let e = password_entry(&tr("Current PIN"));
        root.append(&start_label(&tr("Current PIN"), &["caption-heading"]));
        root.append(&e);
        e
    });
    root.append(&start_label(&tr("New PIN"), &["caption-heading"]));
    let new = password_entry(&tr("New PIN"));
    root.append(&new);
    root.append(&start_label(&tr("Confirm PIN"), &["caption-heading"]));
    let confirm = password_entry(&tr("Confirm PIN"));
    root.append(&confirm);
    let min = req.min_length;
    let hint = label(
        &trn("At least {n} character.", "At least {n} characters.", min),
        &["dim-label"],
    );
    root.append(&hint);
    let cancel = button(&tr("Cancel"), false);
    cancel.connect_clicked(move |_| on_cancel());
    let primary = button(&tr("Continue"), true);
    primary.set_sensitive(false);
    root.append(&button_row(&[&cancel, &primary]));

    let check: Rc<dyn Fn()> = {
        let (new, confirm, current, primary, hint) = (
            new.clone(),
            confirm.clone(),
            current.clone(),
            primary.clone(),
            hint.clone(),
        );
        Rc::new(move || {
            let n = Zeroizing::new(String::from(new.text()));
            let c = Zeroizing::new(String::from(confirm.text()));
            let problem = new_pin_problem(&n, &c, min);
            let has_current = current.as_ref().is_none_or(|e| !is_empty(e));
            primary.set_sensitive(problem.is_none() && has_current);
            // Say what is wrong only once both fields have something in them.
            match problem {
                Some(p) if !n.is_empty() && !c.is_empty() => {
                    hint.set_text(&p);
                    hint.add_css_class("error");
                }
                _ => {
                    hint.set_text(&trn(
                        "At least {n} character.",
                        "At least {n} characters.",
                        min,
                    ));
                    hint.remove_css_class("error");
                }
            }
        })
    };
    for e in [Some(&new), Some(&confirm), current.as_ref()]
        .into_iter()
        .flatten()
    {
        let check = check.clone();
        e.connect_changed(move |_| check());
    }
    let (n, c, cur) = (new.clone(), confirm.clone(), current.clone());
    primary.connect_clicked(move |_| {
        let new_pin = take(&n);
        let confirmed = take(&c);
        let current_pin = cur.as_ref().map(take).unwrap_or_default();
        if new_pin_problem(&new_pin, &confirmed, min).is_none() {
            on_continue(current_pin, new_pin);
        }
    });
    let focus = current.clone().unwrap_or_else(|| new.clone());
    Page {
        root,
        primary: Some(primary),
        focus: Some(focus.upcast()),
        title,
    }
}

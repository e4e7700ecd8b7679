//! The Passkeys window's section for the platform authenticator's PIN. "Change PIN" asks
//! latchkeyd (`ChangePlatformPin`), which asks the user in the trusted prompt (`ChangePin`: the
//! current and the new PIN go to latchkeyd through file descriptors, never through this window
//! nor as D-Bus strings) and changes it in the platform authenticator.

use std::rc::Rc;

use adw::prelude::*;

use super::Manager;
use crate::dialog::widgets::start_label;
use crate::i18n::tr;

/// Appends the PIN section to `p`.
pub(super) fn section(m: &Rc<Manager>, p: &gtk::Box) {
    p.append(&start_label(&tr("PIN of this device"), &["title-2"]));
    p.append(&start_label(
        &tr("The PIN protects the passkeys saved on this device. Changing it asks for the current PIN first."),
        &["dim-label"],
    ));
    let change = gtk::Button::with_label(&tr("Change PIN"));
    change.set_use_underline(false);
    change.set_halign(gtk::Align::Start);
    let this = m.clone();
    change.connect_clicked(move |_| {
        this.act(|proxy| async move { proxy.change_platform_pin(Default::default()).await });
    });
    p.append(&change);
}

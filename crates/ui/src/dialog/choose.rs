//! Choosing where the passkey is created or found: the options latchkeyd offers (this device, a
//! security key, a phone or tablet, a password manager), in its order. latchkeyd keeps the
//! routing rules; this page only shows the list and returns the chosen option's ID.

use std::rc::Rc;

use gtk::prelude::*;

use super::widgets::{
    button, button_row, choice_button, choice_list, label, page, picture, start_label,
};
use super::Page;
use crate::i18n::{tr, trf};
use crate::protocol::{Choice, ChoiceKind, Kind};
use crate::text::{shown, NAME_CHARS, RP_ID_CHARS};

/// Our words and icon for a kind of choice; a provider's own name comes from latchkeyd.
pub fn describe(choice: &Choice) -> (String, &'static str) {
    match choice.kind {
        ChoiceKind::Platform => (tr("This device"), "computer-symbolic"),
        ChoiceKind::SecurityKey => (tr("A security key"), "media-removable-symbolic"),
        ChoiceKind::Hybrid => (tr("A phone or tablet"), "phone-symbolic"),
        ChoiceKind::Provider => {
            let name = shown(&choice.label, NAME_CHARS);
            let name = if name.is_empty() {
                tr("A password manager")
            } else {
                name
            };
            (name, "dialog-password-symbolic")
        }
    }
}

/// The list; `on_choose(id)` or `on_cancel()`.
pub fn build(
    choices: &[Choice],
    kind: Option<Kind>,
    rp_id: Option<&str>,
    on_choose: impl Fn(String) + 'static,
    on_cancel: impl Fn() + 'static,
) -> Page {
    let root = page();
    root.append(&picture("dialog-password-symbolic"));
    let rp = rp_id.map(|r| shown(r, RP_ID_CHARS)).unwrap_or_default();
    let title = match kind {
        Some(Kind::Create) => trf(
            "Where do you want to save your passkey for {rp_id}?",
            &[("rp_id", &rp)],
        ),
        _ => trf("Where is your passkey for {rp_id}?", &[("rp_id", &rp)]),
    };
    root.append(&label(&title, &["title-3"]));
    let list = choice_list();
    let on_choose = Rc::new(on_choose);
    for choice in choices {
        let (name, icon) = describe(choice);
        let row = choice_button(&name);
        let body = gtk::Box::builder()
            .orientation(gtk::Orientation::Horizontal)
            .spacing(12)
            .margin_top(10)
            .margin_bottom(10)
            .margin_start(12)
            .margin_end(12)
            .build();
        let image = gtk::Image::from_icon_name(icon);
        image.set_pixel_size(32);
        body.append(&image);
        let words = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(2)
            .build();
        words.set_valign(gtk::Align::Center);
        words.append(&start_label(&name, &["heading"]));
        if !choice.detail.is_empty() {
            words.append(&start_label(
                &shown(&choice.detail, NAME_CHARS),
                &["dim-label"],
            ));
        }
        body.append(&words);
        row.set_child(Some(&body));
        list.append(&row);
        let on_choose = on_choose.clone();
        let id = choice.id.clone();
        row.connect_clicked(move |_| on_choose(id.clone()));
    }
    root.append(&list);
    let cancel = button(&tr("Cancel"), false);
    cancel.connect_clicked(move |_| on_cancel());
    root.append(&button_row(&[&cancel]));
    let focus = list.first_child().and_then(|r| r.first_child());
    Page {
        root,
        primary: None,
        focus,
        title,
    }
}

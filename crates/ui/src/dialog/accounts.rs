//! Choosing an account when an RP has several passkeys: newest first, each row named (for screen
//! readers and tests) by its user name, showing the display name below it.

use std::rc::Rc;

use gtk::prelude::*;

use super::widgets::{
    button, button_row, choice_button, choice_list, label, page, picture, start_label,
};
use super::Page;
use crate::i18n::{tr, trf};
use crate::protocol::{display_order, Account};
use crate::text::{shown, NAME_CHARS, RP_ID_CHARS};

/// The account list; `on_choose(index in latchkeyd's order)` or `on_cancel()`.
pub fn build(
    accounts: &[Account],
    rp_id: Option<&str>,
    on_choose: impl Fn(u32) + 'static,
    on_cancel: impl Fn() + 'static,
) -> Page {
    let root = page();
    root.append(&picture("avatar-default-symbolic"));
    let title = tr("Choose an account");
    root.append(&label(&title, &["title-2"]));
    if let Some(rp) = rp_id {
        let rp = shown(rp, RP_ID_CHARS);
        root.append(&label(
            &trf("to sign in to {rp_id}", &[("rp_id", &rp)]),
            &["dim-label"],
        ));
    }
    let list = choice_list();
    let on_choose = Rc::new(on_choose);
    let order = display_order(accounts);
    for &i in &order {
        let a = &accounts[i];
        let name = if a.name.is_empty() {
            tr("(no name)")
        } else {
            shown(&a.name, NAME_CHARS)
        };
        let row = choice_button(&name);
        let body = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(2)
            .margin_top(8)
            .margin_bottom(8)
            .margin_start(12)
            .margin_end(12)
            .build();
        body.append(&start_label(&name, &["heading"]));
        if !a.display_name.is_empty() {
            body.append(&start_label(
                &shown(&a.display_name, NAME_CHARS),
                &["dim-label"],
            ));
        }
        row.set_child(Some(&body));
        list.append(&row);
        let on_choose = on_choose.clone();
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        row.connect_clicked(move |_| on_choose(index));
    }
    let scroller = gtk::ScrolledWindow::builder()
        .hscrollbar_policy(gtk::PolicyType::Never)
        .propagate_natural_height(true)
        .max_content_height(360)
        .child(&list)
        .build();
    root.append(&scroller);
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

//! What a security key (or the ceremony) is waiting for, in words a person understands: insert
//! your key, touch it, touch the one you want, use its fingerprint reader, and errors.

use gtk::prelude::*;

use super::widgets::{button, button_row, label, page, picture};
use super::Page;
use crate::i18n::{tr, trn};
use crate::protocol::{Status, StatusKind};
use crate::text::{shown, MESSAGE_CHARS, NAME_CHARS};

/// The title, the sentence below it and the icon for a state.
pub fn words(status: &Status) -> (String, String, &'static str) {
    match &status.kind {
        StatusKind::InsertKey => (
            tr("Insert your security key"),
            tr("Plug it into a USB port, or hold it to the NFC reader."),
            "media-removable-symbolic",
        ),
        StatusKind::TouchKey => (
            tr("Touch your security key"),
            tr("Touch the button or the metal contact on your key."),
            "media-removable-symbolic",
        ),
        StatusKind::SelectKey => (
            tr("Touch the security key you want to use"),
            tr("More than one security key is plugged in."),
            "media-removable-symbolic",
        ),
        StatusKind::Fingerprint { retry } => {
            let again = match (retry, status.retries) {
                (true, Some(n)) => {
                    format!(
                        "{} {}",
                        tr("Not recognised."),
                        trn("{n} try left.", "{n} tries left.", n)
                    )
                }
                (true, None) => tr("Not recognised. Try again."),
                (false, _) => tr("Use the fingerprint reader on your security key."),
            };
            (
                tr("Touch the fingerprint sensor"),
                again,
                "auth-fingerprint-symbolic",
            )
        }
        StatusKind::Working => (tr("Working…"), String::new(), "content-loading-symbolic"),
        StatusKind::PinSet => (
            tr("Your new PIN is set"),
            String::new(),
            "emblem-ok-symbolic",
        ),
        StatusKind::Error => (
            tr("Something went wrong"),
            shown(&status.message, MESSAGE_CHARS),
            "dialog-error-symbolic",
        ),
        StatusKind::Info => (
            shown(&status.message, MESSAGE_CHARS),
            String::new(),
            "dialog-information-symbolic",
        ),
    }
}

/// The status page; its one button ("Cancel", or "Close" after an error or when done) calls `on_cancel()`.
pub fn build(status: &Status, on_cancel: impl Fn() + 'static) -> Page {
    let root = page();
    let (title, sentence, icon) = words(status);
    let waiting = matches!(
        status.kind,
        StatusKind::InsertKey
            | StatusKind::TouchKey
            | StatusKind::SelectKey
            | StatusKind::Fingerprint { .. }
            | StatusKind::Working
    );
    if status.kind == StatusKind::Working {
        let spinner = gtk::Spinner::builder()
            .spinning(true)
            .width_request(48)
            .height_request(48)
            .build();
        spinner.set_margin_bottom(6);
        root.append(&spinner);
    } else {
        let p = picture(icon);
        if status.kind == StatusKind::Error {
            p.add_css_class("error");
        }
        root.append(&p);
    }
    root.append(&label(&title, &["title-2"]));
    if !status.authenticator.is_empty() {
        root.append(&label(
            &shown(&status.authenticator, NAME_CHARS),
            &["dim-label"],
        ));
    }
    if !sentence.is_empty() {
        root.append(&label(&sentence, &[]));
    }
    if waiting && status.kind != StatusKind::Working {
        let spinner = gtk::Spinner::builder().spinning(true).build();
        root.append(&spinner);
    }
    let text = if matches!(status.kind, StatusKind::Error | StatusKind::PinSet) {
        tr("Close")
    } else {
        tr("Cancel")
    };
    let close = button(&text, false);
    close.connect_clicked(move |_| on_cancel());
    root.append(&button_row(&[&close]));
    Page {
        root,
        primary: None,
        focus: Some(close.upcast()),
        title,
    }
}

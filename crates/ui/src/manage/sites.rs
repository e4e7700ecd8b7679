//! The Passkeys window's section of remembered site decisions: "Always allow BROWSER to use
//! passkeys for RP_ID", as the user ticked it in the consent dialog and latchkeyd keeps it. Each
//! is revoked with one button (revoking only brings the consent dialog back, so it needs no
//! confirmation).

use std::rc::Rc;

use adw::prelude::*;

use super::Manager;
use crate::dialog::widgets::{named, start_label};
use crate::i18n::{tr, trf};
use crate::protocol::{opt_str, opt_u64, Dict};
use crate::text::{shown, NAME_CHARS, RP_ID_CHARS};

/// One remembered decision as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The browser, as latchkeyd's policy names it.
    pub browser: String,
    /// The site.
    pub rp_id: String,
    /// When it was made (seconds since 1970; 0 if unknown).
    pub created: u64,
}

/// The decisions of a `ListRememberedSites` answer, sorted by site then browser; entries
/// missing a browser or a site are left out.
pub fn remembered(list: &[Dict]) -> Vec<Remembered> {
    let mut out: Vec<Remembered> = list
        .iter()
        .filter_map(|d| {
            let browser = opt_str(d, "browser").ok().flatten()?;
            let rp_id = opt_str(d, "rp_id").ok().flatten()?;
            let created = opt_u64(d, "created").ok().flatten().unwrap_or(0);
            (!browser.is_empty() && !rp_id.is_empty()).then_some(Remembered {
                browser,
                rp_id,
                created,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.rp_id, &a.browser).cmp(&(&b.rp_id, &b.browser)));
    out
}

/// The accessible name (and tooltip) of a decision's revoke button.
pub fn revoke_name(browser: &str, rp_id: &str) -> String {
    trf(
        "Stop always allowing {browser} for {rp_id}",
        &[("browser", browser), ("rp_id", rp_id)],
    )
}

/// Appends the remembered decisions to `p`.
pub(super) fn section(m: &Rc<Manager>, p: &gtk::Box, decisions: &[Remembered]) {
    p.append(&start_label(&tr("Sites always allowed"), &["title-2"]));
    p.append(&start_label(
        &tr("These sites skip the question whether to use a passkey. Your PIN is still asked every time."),
        &["dim-label"],
    ));
    if decisions.is_empty() {
        p.append(&start_label(
            &tr("No site is always allowed."),
            &["dim-label"],
        ));
        return;
    }
    let group = adw::PreferencesGroup::new();
    for d in decisions {
        let site = shown(&d.rp_id, RP_ID_CHARS);
        let browser = shown(&d.browser, NAME_CHARS);
        let row = adw::ActionRow::builder()
            .use_markup(false)
            .title(site.as_str())
            .subtitle(trf("Always allowed for {browser}", &[("browser", &browser)]).as_str())
            .build();
        let name = revoke_name(&browser, &site);
        let revoke = named::<gtk::Button>(
            "GtkButton",
            &name,
            &[
                ("label", &tr("Revoke")),
                ("valign", "center"),
                ("tooltip-text", &name),
            ],
        )
        .unwrap_or_else(|| gtk::Button::with_label(&tr("Revoke")));
        let (this, browser, rp_id) = (m.clone(), d.browser.clone(), d.rp_id.clone());
        revoke.connect_clicked(move |_| {
            let (browser, rp_id) = (browser.clone(), rp_id.clone());
            this.act(
                move |proxy| async move { proxy.revoke_remembered_site(&browser, &rp_id).await },
            );
        });
        row.add_suffix(&revoke);
        group.add(&row);
    }
    p.append(&group);
}

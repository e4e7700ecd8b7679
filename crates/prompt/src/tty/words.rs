//! What the terminal prompt prints for version 2's `Choose` and `ShowStatus`: its own words for
//! the kinds it knows, latchkeyd's text only where the interface says it is latchkeyd's, and
//! everything made [`printable`].

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Value};

use super::printable;
use crate::{ChoiceKind, Status, StatusKind};

fn text(d: &HashMap<String, OwnedValue>, key: &str) -> String {
    match d.get(key).map(|v| &**v) {
        Some(Value::Str(s)) => printable(s),
        _ => String::new(),
    }
}

/// The `Choose` menu and the choice IDs in its order; choices of an unknown kind are left out.
pub fn choice_menu(
    details: &HashMap<String, OwnedValue>,
    choices: &[HashMap<String, OwnedValue>],
) -> (String, Vec<String>) {
    let what = if text(details, "kind") == "create" {
        "create the passkey"
    } else {
        "find the passkey"
    };
    let mut menu = format!(
        "latchkey: where should latchkey {what} for {}?\n",
        text(details, "rp_id")
    );
    let mut ids = Vec::new();
    for c in choices {
        let Some(kind) = ChoiceKind::parse(&text(c, "kind")) else {
            continue;
        };
        let name = match kind {
            ChoiceKind::Platform => "This device".to_owned(),
            ChoiceKind::SecurityKey => "A security key".to_owned(),
            ChoiceKind::Hybrid => "A phone or tablet".to_owned(),
            ChoiceKind::Provider => format!("Password manager {:?}", text(c, "label")),
        };
        let detail = text(c, "detail");
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        ids.push(text(c, "id"));
        menu.push_str(&format!("  {}) {name}{detail}\n", ids.len()));
    }
    menu.push_str("Number (empty to cancel): ");
    (menu, ids)
}

/// The line for a `ShowStatus`; latchkeyd's message is marked as such for errors.
pub fn status_line(d: &HashMap<String, OwnedValue>) -> String {
    match Status::from_dict(d) {
        Some(s) if s.kind == StatusKind::Error => {
            format!("latchkey: failed: {}\n", printable(&s.message))
        }
        Some(s) => format!("latchkey: {}\n", printable(&s.v1_text())),
        None => "latchkey: (a status this prompt does not know)\n".to_owned(),
    }
}

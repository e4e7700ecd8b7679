//! Translations through gettext (the C library's, as GTK uses): every sentence the prompt shows
//! is a msgid in `po/latchkey-ui.pot`, translated in `po/LANG.po`. The build compiles the `.po`
//! files with `msgfmt` into `OUT_DIR/locale`; an installed prompt reads them from
//! `/usr/share/locale` (the package installs them there).
//!
//! Sentences with a value in them use named placeholders (`{rp_id}`), so a translation may move
//! the value; [`trf`] fills them in after translating, with text already made safe to show.

use gettextrs::{bind_textdomain_codeset, bindtextdomain, setlocale, textdomain, LocaleCategory};

/// The gettext domain.
pub const DOMAIN: &str = "latchkey-ui";
/// Where an installed prompt's translations are.
pub const SYSTEM_LOCALE_DIR: &str = "/usr/share/locale";
/// Where this build's translations are (the build directory; absent once installed elsewhere).
const BUILD_LOCALE_DIR: &str = concat!(env!("OUT_DIR"), "/locale");

/// Sets the locale from the environment and binds the domain; call before GTK starts.
pub fn init() {
    setlocale(LocaleCategory::LcAll, "");
    let dir = if std::path::Path::new(BUILD_LOCALE_DIR).is_dir() {
        BUILD_LOCALE_DIR
    } else {
        SYSTEM_LOCALE_DIR
    };
    if let Err(e) = bindtextdomain(DOMAIN, dir)
        .and_then(|_| bind_textdomain_codeset(DOMAIN, "UTF-8"))
        .and_then(|_| textdomain(DOMAIN))
    {
        tracing::warn!(error = %e, "translations are not available");
    }
}

/// `msgid` translated.
pub fn tr(msgid: &str) -> String {
    gettextrs::gettext(msgid)
}

/// `msgid` or `plural` translated for `n`, with `{n}` filled in.
pub fn trn(msgid: &str, plural: &str, n: u32) -> String {
    gettextrs::ngettext(msgid, plural, n).replace("{n}", &n.to_string())
}

/// `msgid` translated, then each `{name}` replaced by its value (values are inserted once, after
/// translation, so a value can never itself be read as a placeholder).
pub fn trf(msgid: &str, values: &[(&str, &str)]) -> String {
    fill(&tr(msgid), values)
}

/// Replaces each `{name}` in `template` by its value, scanning left to right once.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(
            fill("Sign in to {rp_id}", &[("rp_id", "example.com")]),
            "Sign in to example.com"
        );
        // A value that looks like a placeholder stays as it is.
        assert_eq!(
            fill("{a} and {b}", &[("a", "{b}"), ("b", "x")]),
            "{b} and x"
        );
        assert_eq!(fill("{unknown} {", &[("a", "1")]), "{unknown} {");
    }
}

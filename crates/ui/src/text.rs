//! Making peer-supplied text safe to show. Everything latchkeyd sends (RP IDs, origins, user and
//! app names) ends up in labels; a name comes from a website or an app, never from us. Each string
//! passes through [`shown`] before it reaches a widget:
//!
//! - control characters (C0, C1, line and paragraph separators) become spaces, so a name cannot
//!   break into lines that look like the dialog's own sentences;
//! - bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F) are
//!   dropped, so `moc.elpmaxe` cannot be made to render as `example.com`;
//! - runs of white space collapse to one space, and the ends are trimmed;
//! - the result is cut to a number of characters on a character boundary, with an ellipsis.
//!
//! Labels are always set as plain text (`Label::set_text`, `use-markup` off, no mnemonics), so
//! `<b>` is shown as the four characters it is. Where our own markup frames a peer string, the
//! string goes through GLib's markup escaping first ([`markup`]).

/// The longest RP ID: a valid domain of 253 characters (RFC 1035) and the trailing dot a
/// canonical RP ID keeps.
pub const RP_ID_CHARS: usize = 254;
/// Origins: a scheme, a host of up to 253 characters and a port.
pub const ORIGIN_CHARS: usize = 280;
/// User names, display names, app names.
pub const NAME_CHARS: usize = 64;
/// Paths and IDs shown as details (the native host, an app ID).
pub const DETAIL_CHARS: usize = 160;
/// Whatever latchkeyd itself words (an error message).
pub const MESSAGE_CHARS: usize = 300;

/// True for characters that change how the surrounding text is laid out or read.
fn is_layout_control(c: char) -> bool {
    matches!(c,
        '\u{200E}' | '\u{200F}' // LRM, RLM
        | '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2066}'..='\u{2069}' // isolates
        | '\u{061C}' // Arabic letter mark
        | '\u{FEFF}' // zero-width no-break space (BOM)
        | '\u{200B}'..='\u{200D}' // zero-width space and joiners
    )
}

/// `text` made safe to show and cut to at most `max_chars` characters (an ellipsis included).
pub fn shown(text: &str, max_chars: usize) -> String {
    let mut chars: Vec<char> = Vec::with_capacity(max_chars.min(text.len()) + 1);
    let mut pending_space = false;
    for c in text.chars() {
        if is_layout_control(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            pending_space = !chars.is_empty();
            continue;
        }
        if pending_space {
            chars.push(' ');
            pending_space = false;
        }
        chars.push(c);
        if chars.len() > max_chars {
            break;
        }
    }
    if chars.len() > max_chars {
        chars.truncate(max_chars.saturating_sub(1));
        while chars.last() == Some(&' ') {
            chars.pop();
        }
        if max_chars > 0 {
            chars.push('\u{2026}');
        }
    }
    chars.into_iter().collect()
}

/// [`shown`], then escaped for GLib markup, for a peer string inside our own markup.
pub fn markup(text: &str, max_chars: usize) -> String {
    gtk::glib::markup_escape_text(&shown(text, max_chars)).to_string()
}

#[cfg(test)]
mod tests;

//! Small builders shared by the pages. Peer text is always set as plain text (never markup,
//! never mnemonics), after [`crate::text::shown`].
//!
//! Accessible names: GTK 4.8 has no Rust API for accessible properties (gtk4-rs gates it behind
//! 4.10), but GtkBuilder has set them since 4.0, so a widget that needs a name its label does not
//! give (a password field, an account row) is made from a one-object UI definition with an
//! `<accessibility>` label, the name escaped as XML text.

use gtk::glib;
use gtk::prelude::*;

/// A wrapping, selectable-off label with plain `text` and the given style classes.
pub fn label(text: &str, classes: &[&str]) -> gtk::Label {
    let l = gtk::Label::builder()
        .label(text)
        .use_markup(false)
        .use_underline(false)
        .wrap(true)
        .wrap_mode(gtk::pango::WrapMode::WordChar)
        .justify(gtk::Justification::Center)
        .max_width_chars(40)
        .build();
    for c in classes {
        l.add_css_class(c);
    }
    l
}

/// A page's title (`title-2`). One too long for a line is given a natural width of about half
/// its length and centred, so it wraps into two lines of similar length instead of leaving its
/// last word alone on the second ("… security / key").
pub fn title(text: &str) -> gtk::Label {
    /// About what one line of `title-2` holds on a page.
    const ONE_LINE: usize = 30;
    let l = label(text, &["title-2"]);
    let n = text.chars().count();
    if n > ONE_LINE {
        l.set_max_width_chars(i32::try_from(n / 2 + 3).unwrap_or(40).min(40));
        l.set_halign(gtk::Align::Center);
    }
    l
}

/// A left-aligned label (for rows and sentences).
pub fn start_label(text: &str, classes: &[&str]) -> gtk::Label {
    let l = label(text, classes);
    l.set_xalign(0.0);
    l.set_justify(gtk::Justification::Left);
    l
}

/// A widget of GType `class` built from a UI definition, with accessible name `name` and the
/// given plain properties. `None` if GTK refused it (it then has no extra name).
pub fn named<W: IsA<gtk::Widget> + IsA<glib::Object>>(
    class: &str,
    name: &str,
    props: &[(&str, &str)],
) -> Option<W> {
    let mut xml = String::from("<interface><object class=\"");
    xml.push_str(&glib::markup_escape_text(class));
    xml.push_str("\" id=\"w\">");
    for (k, v) in props {
        xml.push_str("<property name=\"");
        xml.push_str(&glib::markup_escape_text(k));
        xml.push_str("\">");
        xml.push_str(&glib::markup_escape_text(v));
        xml.push_str("</property>");
    }
    xml.push_str("<accessibility><property name=\"label\">");
    xml.push_str(&glib::markup_escape_text(name));
    xml.push_str("</property></accessibility></object></interface>");
    let builder = gtk::Builder::new();
    if let Err(e) = builder.add_from_string(&xml) {
        tracing::warn!(error = %e, class, "could not build a named widget");
        return None;
    }
    builder.object::<W>("w")
}

/// A password field named `name` for screen readers, with a peek icon, activating the default
/// button.
pub fn password_entry(name: &str) -> gtk::PasswordEntry {
    let props = [("show-peek-icon", "true"), ("activates-default", "true")];
    named::<gtk::PasswordEntry>("GtkPasswordEntry", name, &props).unwrap_or_else(|| {
        gtk::PasswordEntry::builder()
            .show_peek_icon(true)
            .activates_default(true)
            .build()
    })
}

/// A push button with `text` as its label (and so its accessible name).
pub fn button(text: &str, suggested: bool) -> gtk::Button {
    let b = gtk::Button::with_label(text);
    b.set_use_underline(false);
    if suggested {
        b.add_css_class("suggested-action");
    }
    b
}

/// The row of buttons at the bottom of a page: `[Cancel] [Continue]`, equal widths.
pub fn button_row(buttons: &[&gtk::Button]) -> gtk::Box {
    let row = gtk::Box::builder()
        .orientation(gtk::Orientation::Horizontal)
        .spacing(12)
        .homogeneous(true)
        .margin_top(12)
        .build();
    for b in buttons {
        row.append(*b);
    }
    row
}

/// A vertical page with the standard margins, 392 pixels wide (the window is then 440). The width
/// is fixed rather than the window's default, so GTK measures the height of wrapped labels at the
/// width they get, and a page that replaces another is never cut off.
pub fn page() -> gtk::Box {
    gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .width_request(392)
        .spacing(12)
        .margin_top(18)
        .margin_bottom(24)
        .margin_start(24)
        .margin_end(24)
        .build()
}

/// A large symbolic picture at the top of a page.
pub fn picture(icon: &str) -> gtk::Image {
    let i = gtk::Image::from_icon_name(icon);
    i.set_pixel_size(64);
    i.add_css_class("dim-label");
    i.set_margin_bottom(6);
    i
}

/// A boxed list of `(label, value)` rows: the label is our own word, the value the peer's text.
pub fn facts(rows: &[(String, String)]) -> gtk::ListBox {
    let list = gtk::ListBox::builder()
        .selection_mode(gtk::SelectionMode::None)
        .build();
    list.add_css_class("boxed-list");
    for (name, value) in rows {
        let row = adw::ActionRow::builder()
            .use_markup(false)
            .title(name.as_str())
            .subtitle(value.as_str())
            .activatable(false)
            .build();
        row.add_css_class("fact");
        list.append(&row);
    }
    list
}

/// A boxed list for [`choice_button`]s.
pub fn choice_list() -> gtk::ListBox {
    let list = gtk::ListBox::builder()
        .selection_mode(gtk::SelectionMode::None)
        .build();
    list.add_css_class("boxed-list");
    list
}

/// A whole-row flat button named `name` (a screen reader reads the name, not the row's lines);
/// its child is set by the caller. Appended to a [`choice_list`], it becomes its row.
pub fn choice_button(name: &str) -> gtk::Button {
    let b = named::<gtk::Button>("GtkButton", name, &[]).unwrap_or_default();
    b.add_css_class("flat");
    b
}

/// The prompt's own styles: a fact row's label small and dim, its value (the peer's text) read
/// at full size, as libadwaita 1.3's `property` rows do (not in 1.2), and in a monospace face:
/// what a caller supplied (its name, its origin, the account) never looks like the prompt's own
/// sentences, whatever words it chose.
const CSS: &str = "row.fact .title { font-size: 0.85em; opacity: 0.7; } \
                   row.fact .subtitle { font-size: 1em; opacity: 1; font-family: monospace; }";

/// Loads `CSS` for the default display (once, at start-up).
pub fn load_css() {
    let Some(display) = gtk::gdk::Display::default() else {
        return;
    };
    let provider = gtk::CssProvider::new();
    provider.load_from_data(CSS);
    gtk::style_context_add_provider_for_display(
        &display,
        &provider,
        gtk::STYLE_PROVIDER_PRIORITY_APPLICATION,
    );
}

use super::*;

#[test]
fn plain_text_is_kept() {
    assert_eq!(shown("example.com", RP_ID_CHARS), "example.com");
    assert_eq!(shown("Ada Lovelace", NAME_CHARS), "Ada Lovelace");
}

#[test]
fn control_characters_and_line_breaks_become_one_space() {
    assert_eq!(
        shown("Firefox\n\nLatchkey verified this app\r\u{85}x", NAME_CHARS),
        "Firefox Latchkey verified this app x"
    );
    assert_eq!(shown("\u{1b}[31mred\u{7}", NAME_CHARS), "[31mred");
    assert_eq!(shown("a\u{2028}b\u{2029}c\td", NAME_CHARS), "a b c d");
    assert_eq!(
        shown("  \n lead and trail \t ", NAME_CHARS),
        "lead and trail"
    );
}

#[test]
fn bidi_controls_are_dropped() {
    // "\u{202E}moc.elpmaxe" would render right to left as "example.com".
    assert_eq!(shown("\u{202E}moc.elpmaxe", RP_ID_CHARS), "moc.elpmaxe");
    assert_eq!(
        shown("a\u{2066}b\u{2069}\u{200F}c\u{200B}d\u{FEFF}", NAME_CHARS),
        "abcd"
    );
}

#[test]
fn long_text_is_cut_on_a_character_boundary() {
    let long = "é".repeat(1000);
    let out = shown(&long, NAME_CHARS);
    assert_eq!(out.chars().count(), NAME_CHARS);
    assert!(out.ends_with('…'));
    assert_eq!(out.chars().filter(|c| *c == 'é').count(), NAME_CHARS - 1);
    // Exactly the limit: nothing is cut.
    let exact = "x".repeat(NAME_CHARS);
    assert_eq!(shown(&exact, NAME_CHARS), exact);
    // One over: cut, with the ellipsis.
    let over = "x".repeat(NAME_CHARS + 1);
    assert_eq!(
        shown(&over, NAME_CHARS),
        format!("{}…", "x".repeat(NAME_CHARS - 1))
    );
    // A space before the cut is not kept before the ellipsis.
    assert_eq!(shown("abc def", 5), "abc…");
    assert_eq!(shown("abc", 0), "");
}

#[test]
fn markup_is_escaped_not_interpreted() {
    assert_eq!(shown("<b>bold</b>", NAME_CHARS), "<b>bold</b>");
    assert_eq!(
        markup("<b>bold</b> & \"x\"", NAME_CHARS),
        "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;x&quot;"
    );
}

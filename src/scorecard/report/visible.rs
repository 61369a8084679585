//! Text from outside (providers, descriptors, scorecards) made safe to show on a terminal, in
//! markdown or in HTML: characters that would steer the display instead of being seen are
//! written out as escapes.

use std::borrow::Cow;

/// Whether `c` changes how text around it is shown: C0 and C1 controls (ESC sequences, carriage
/// returns, backspaces, line breaks), bidi embeddings, overrides, isolates and marks (which can
/// make `txt.exe` read as `exe.txt`), and the Unicode line and paragraph separators.
fn steers_display(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every display-steering character written as a visible escape: `\n`, `\r`, `\t`,
/// or `\u{1b}`-style for the others. Borrowed when there is nothing to escape. Layouts that want
/// line breaks of their own add them around the escaped text (or escape line by line).
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(steers_display) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if steers_display(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "api · Coverage ≥ 80% — 61.5 (github/acme/api) 👩‍💻 עברית";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn terminal_controls_are_written_out() {
        assert_eq!(
            visible("\x1b[31mred\x1b[0m\rover\x08\x07\x00\x7f"),
            "\\u{1b}[31mred\\u{1b}[0m\\rover\\u{8}\\u{7}\\u{0}\\u{7f}"
        );
        assert_eq!(visible("a\nb\tc"), "a\\nb\\tc");
        // C1 controls, e.g. the single-character CSI.
        assert_eq!(visible("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
    }

    #[test]
    fn bidi_controls_and_separators_are_written_out() {
        assert_eq!(visible("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        for c in [
            '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}',
        ] {
            let shown = visible(&format!("x{c}y")).into_owned();
            assert_eq!(shown, format!("x\\u{{{:x}}}y", u32::from(c)));
        }
    }
}

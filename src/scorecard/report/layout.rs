//! Laying text out to a terminal's width, shared by `--format table` and `rubric catalog`: a
//! table whose last column wraps between words when it fits, and lines wrapped at spaces.

use comfy_table::{ColumnConstraint, ContentArrangement, Table, presets};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The narrowest last column a table keeps (a shorter content keeps its own width); below it,
/// callers lay the rows out as blocks.
pub const READABLE: usize = 40;

/// The table of `header` and `rows`, at most `width` columns wide: every column at its content's
/// width but the last, which takes the rest and wraps between words. `None` when the last column
/// would be narrower than [`READABLE`] (and its content) or than its longest word.
pub fn fit_table<const N: usize>(
    header: [&str; N],
    rows: &[[&str; N]],
    width: usize,
) -> Option<Table> {
    let column = |i: usize| std::iter::once(header[i]).chain(rows.iter().map(move |r| r[i]));
    let widest = |i: usize| column(i).map(str::width).max().unwrap_or(0);
    let last = N.checked_sub(1)?;
    // `│ ` before the first column, ` ┆ ` between columns, ` │` after the last.
    let frame = 3 * N + 1;
    let fixed: usize = (0..last).map(widest).sum();
    let room = width.checked_sub(frame + fixed)?;
    let longest_word = column(last)
        .flat_map(|text| text.split(' '))
        .map(str::width)
        .max()
        .unwrap_or(0);
    if room < widest(last).min(READABLE) || room < longest_word {
        return None;
    }
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED.with_rounded_corners())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX))
        .set_header(header)
        .add_rows(rows.iter().copied());
    for column in table.column_iter_mut().take(last) {
        column.set_constraint(ColumnConstraint::ContentWidth);
    }
    Some(table)
}

/// Appends `text` as lines of at most `width` columns, broken at spaces, the first indented by
/// `first` spaces and the others by `rest`; only a word wider than a whole line is cut, where the
/// line ends. Nothing for a blank text.
pub fn wrap(out: &mut String, text: &str, width: usize, first: usize, rest: usize) {
    let mut words = text.split(' ').filter(|w| !w.is_empty()).peekable();
    if words.peek().is_none() {
        return;
    }
    let mut line = " ".repeat(first);
    let mut used = first;
    let mut fresh = true;
    let mut end_line = |line: &mut String, used: &mut usize| {
        out.push_str(line.trim_end());
        out.push('\n');
        *line = " ".repeat(rest);
        *used = rest;
    };
    for mut word in words {
        if !fresh && used + 1 + word.width() > width {
            end_line(&mut line, &mut used);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
            used += 1;
        }
        while !word.is_empty() && used + word.width() > width {
            let (head, tail) = split_at_width(word, width.saturating_sub(used));
            line.push_str(head);
            end_line(&mut line, &mut used);
            word = tail;
        }
        line.push_str(word);
        used += word.width();
        fresh = false;
    }
    end_line(&mut line, &mut used);
}

/// `word` cut after at most `columns` columns (after its first character at least, so that
/// wrapping always moves on).
fn split_at_width(word: &str, columns: usize) -> (&str, &str) {
    let mut used = 0;
    let mut cut = word.len();
    for (i, c) in word.char_indices() {
        used += c.width().unwrap_or(0);
        if used > columns && i > 0 {
            cut = i;
            break;
        }
    }
    word.split_at(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_only_words_wider_than_a_line() {
        let mut out = String::new();
        wrap(&mut out, "one two  three four", 10, 2, 4);
        assert_eq!(out, "  one two\n    three\n    four\n");
        out.clear();
        wrap(&mut out, "a abcdefghijkl b", 8, 0, 2);
        assert_eq!(out, "a\n  abcdef\n  ghijkl\n  b\n");
        out.clear();
        wrap(&mut out, "  ", 8, 2, 2);
        assert_eq!(out, "");
        // Wide characters count twice.
        wrap(&mut out, "日本語 テキスト", 8, 0, 0);
        assert_eq!(out, "日本語\nテキスト\n");
    }

    #[test]
    fn a_table_only_when_the_last_column_keeps_its_words_whole() {
        let rows = [["api", "codecov.coverageTrend(days=30) is null, needs >= 0"]];
        let table = fit_table(["Entity", "Reason"], &rows, 60)
            .unwrap()
            .to_string();
        assert!(table.lines().all(|l| l.width() <= 60), "{table}");
        assert_eq!(table.lines().count(), 6, "the reason wraps once: {table}");
        assert!(table.contains("codecov.coverageTrend(days=30)"), "{table}");
        // 27 columns are left for a 50-column reason: too narrow to read.
        assert!(fit_table(["Entity", "Reason"], &rows, 40).is_none());
        // Short content needs only its own width.
        let rows = [["api", "pass"]];
        assert!(fit_table(["Entity", "Reason"], &rows, 20).is_some());
    }
}

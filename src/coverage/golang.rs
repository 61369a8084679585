//! Go cover profiles (`go test -coverprofile`): `mode: set|count|atomic`, then one block per
//! line, `path:startLine.startCol,endLine.endCol statements count`. A block covers its lines; a
//! line with covered and uncovered blocks is partial. The same block listed by several test
//! binaries (`-coverpkg`) counts once, with its largest count.

use std::collections::HashMap;

use super::input::{Input, for_each_line};
use super::report::{Line, ReportBuilder, SameLine};
use super::{Format, Limits, ParseError};

/// A block longer than this many lines is not from `go test`.
const MAX_BLOCK_LINES: u32 = 100_000;

/// A block: file id, start line and column, end line and column.
type Block = (usize, u32, u32, u32, u32);

pub fn parse(input: &mut Input<'_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Blocks, *limits);
    let mut blocks: HashMap<Block, u32> = HashMap::new();
    let result = for_each_line(input, |number, line| {
        let line = line.trim_ascii();
        if number == 1 {
            return match line.strip_prefix(b"mode: ") {
                Some(b"set" | b"count" | b"atomic") => Ok(()),
                _ => Err("a Go cover profile starts with `mode: set|count|atomic`".into()),
            };
        }
        if line.is_empty() {
            return Ok(());
        }
        let (block, count) = block(&mut builder, line)?;
        let seen = blocks.entry(block).or_insert(0);
        *seen = (*seen).max(count);
        Ok(())
    });
    match result {
        Err((line, message)) => return Err(ParseError::at_line(Format::Go, line, message)),
        Ok(0) => return Err(ParseError::new(Some(Format::Go), "the profile is empty")),
        Ok(_) => {}
    }
    let mut blocks: Vec<(Block, u32)> = blocks.into_iter().collect();
    blocks.sort_unstable();
    for ((file, start, _, end, _), count) in blocks {
        for number in start..=end {
            builder
                .line(
                    file,
                    Line {
                        number,
                        hits: count,
                        ..Line::default()
                    },
                )
                .map_err(|m| ParseError::new(Some(Format::Go), m))?;
        }
    }
    Ok(builder)
}

/// One block line: `path:10.5,12.3 2 1`.
fn block(builder: &mut ReportBuilder, line: &[u8]) -> Result<(Block, u32), String> {
    let bad = || {
        format!(
            "a block is `path:line.col,line.col statements count`, not `{}`",
            String::from_utf8_lossy(&line[..line.len().min(120)])
        )
    };
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let mut fields = text.rsplitn(3, ' ');
    let (Some(count), Some(_statements), Some(place)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(bad());
    };
    let count: u64 = count.parse().map_err(|_| bad())?;
    let (path, span) = place.rsplit_once(':').ok_or_else(bad)?;
    let (from, to) = span.split_once(',').ok_or_else(bad)?;
    let position = |p: &str| -> Option<(u32, u32)> {
        let (l, c) = p.split_once('.')?;
        Some((l.parse().ok()?, c.parse().ok()?))
    };
    let ((start, start_col), (end, end_col)) = position(from).zip(position(to)).ok_or_else(bad)?;
    if start == 0 || end < start {
        return Err(format!("the block {span} ends before it starts"));
    }
    if end - start > MAX_BLOCK_LINES {
        return Err(format!(
            "the block {span} spans more than {MAX_BLOCK_LINES} lines"
        ));
    }
    let file = builder.file(path)?;
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    Ok(((file, start, start_col, end, end_col), count))
}

#[cfg(test)]
mod tests {
    use crate::coverage::{Format, Limits, parse};

    fn go(text: &str) -> Result<crate::coverage::Report, crate::coverage::ParseError> {
        parse(text.as_bytes(), Some(Format::Go), &Limits::default()).map(|(r, _)| r)
    }

    #[test]
    fn blocks_become_lines_and_mixed_lines_are_partial() {
        let report = go("mode: count\n\
            github.com/acme/api/main.go:3.13,5.2 2 4\n\
            github.com/acme/api/main.go:5.2,7.3 1 0\n\
            github.com/acme/api/main.go:3.13,5.2 2 0\n\
            github.com/acme/api/util.go:1.1,1.9 1 1\n")
        .unwrap();
        assert_eq!(report.files[0].path, "github.com/acme/api/main.go");
        let t = report.totals();
        // main.go: 3, 4 hit; 5 partial (one block covered, one not); 6, 7 missed. util.go: 1 hit.
        assert_eq!(
            (t.files, t.lines, t.hits, t.partials, t.misses),
            (2, 6, 3, 1, 2)
        );
    }

    #[test]
    fn malformed_profiles_name_the_line() {
        let cases = [
            (
                "a.go:1.1,2.2 1 1\n",
                "go, line 1: a Go cover profile starts with `mode: set|count|atomic`",
            ),
            (
                "mode: set\na.go:1.1,2.2 1\n",
                "go, line 2: a block is `path:line.col,line.col statements count`, not `a.go:1.1,2.2 1`",
            ),
            (
                "mode: set\na.go:5.1,2.2 1 1\n",
                "go, line 2: the block 5.1,2.2 ends before it starts",
            ),
            (
                "mode: set\na.go:1.1,4000000000.2 1 1\n",
                "go, line 2: the block 1.1,4000000000.2 spans more than 100000 lines",
            ),
            ("", "go: the profile is empty"),
        ];
        for (text, want) in cases {
            assert_eq!(go(text).unwrap_err().to_string(), want, "{text:?}");
        }
    }
}

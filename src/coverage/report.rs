//! What a coverage report says, whatever its format: per file, the coverable lines with their
//! hits and branches; and the totals computed from them the way Codecov computes them.

use std::collections::HashMap;

use serde::Serialize;

/// One coverable line: 12 bytes, so that a report of millions of lines stays small.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number.
    pub number: u32,
    /// How many times the line ran (saturated).
    pub hits: u32,
    /// Branches on the line (0 when the format says nothing of branches).
    pub branches: u16,
    /// Branches taken at least once.
    pub branches_hit: u16,
}

/// What a line counts as in the totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineState {
    /// Ran, and every branch on it was taken.
    Hit,
    /// Ran, or some branch was taken, but not every branch.
    Partial,
    /// Never ran.
    Miss,
}

impl Line {
    /// Hit, partial or miss, as Codecov counts lines.
    pub fn state(&self) -> LineState {
        let ran = self.hits > 0 || self.branches_hit > 0;
        if !ran {
            LineState::Miss
        } else if self.branches_hit < self.branches {
            LineState::Partial
        } else {
            LineState::Hit
        }
    }
}

/// The lines of one file, sorted by number, one entry per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCoverage {
    /// The path as the report (or the path rules) gave it, with `/` separators.
    pub path: String,
    /// The coverable lines, ascending.
    pub lines: Vec<Line>,
}

/// A parsed report: its files, sorted by path, each path once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The files with at least one coverable line.
    pub files: Vec<FileCoverage>,
    /// The folders the report says its paths are relative to (Cobertura's `<source>`), for the
    /// path rules that make paths relative to the repository.
    pub source_roots: Vec<String>,
}

/// Line counts and the coverage percentage, as the API and `rubric coverage summary` give them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Totals {
    /// Files with at least one coverable line.
    pub files: u64,
    /// Coverable lines.
    pub lines: u64,
    /// Lines that ran with every branch taken.
    pub hits: u64,
    /// Lines that never ran.
    pub misses: u64,
    /// Lines that ran with some branch never taken.
    pub partials: u64,
    /// Branches.
    pub branches: u64,
    /// Branches taken.
    pub branches_hit: u64,
    /// `hits / lines` in percent, rounded to two decimals; null when there are no lines.
    pub coverage: Option<f64>,
}

impl Totals {
    /// Adds one line, counted as [`Line::state`] says (without branching on it: this runs
    /// for every line of a report).
    #[inline]
    pub fn add(&mut self, line: &Line) {
        let ran = line.hits > 0 || line.branches_hit > 0;
        let partial = ran && line.branches_hit < line.branches;
        self.lines += 1;
        self.hits += u64::from(ran && !partial);
        self.partials += u64::from(partial);
        self.misses += u64::from(!ran);
        self.branches += u64::from(line.branches);
        self.branches_hit += u64::from(line.branches_hit);
    }

    /// Adds another total (of other files).
    pub fn absorb(&mut self, other: &Totals) {
        self.files += other.files;
        self.lines += other.lines;
        self.hits += other.hits;
        self.misses += other.misses;
        self.partials += other.partials;
        self.branches += other.branches;
        self.branches_hit += other.branches_hit;
        self.coverage = percent(self.hits, self.lines);
    }

    /// Takes away totals [`absorb`](Self::absorb)ed before (of a file read again).
    fn remove(&mut self, other: &Totals) {
        self.files -= other.files;
        self.lines -= other.lines;
        self.hits -= other.hits;
        self.misses -= other.misses;
        self.partials -= other.partials;
        self.branches -= other.branches;
        self.branches_hit -= other.branches_hit;
        self.coverage = percent(self.hits, self.lines);
    }

    /// The totals of `lines` as one file.
    pub fn of_file(lines: &[Line]) -> Totals {
        let mut t = Totals::default();
        for line in lines {
            t.add(line);
        }
        t.files = u64::from(!lines.is_empty());
        t.coverage = percent(t.hits, t.lines);
        t
    }
}

/// `part / whole` in percent with two decimals; `None` for an empty whole.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 10_000.0 / whole as f64).round() / 100.0)
}

impl FileCoverage {
    /// This file's totals.
    pub fn totals(&self) -> Totals {
        Totals::of_file(&self.lines)
    }
}

impl Report {
    /// The totals over every file.
    pub fn totals(&self) -> Totals {
        let mut all = Totals::default();
        for file in &self.files {
            all.absorb(&file.totals());
        }
        all
    }

    /// Merges `other` into this report as Codecov merges the sessions of one commit: a line is
    /// covered when any upload covers it, hits add up, and a line's branches are the most any
    /// upload saw, taken as often as the best upload took them.
    pub fn merge(&mut self, other: Report) {
        let mut files: HashMap<String, Vec<Line>> = std::mem::take(&mut self.files)
            .into_iter()
            .map(|f| (f.path, f.lines))
            .collect();
        for file in other.files {
            match files.get_mut(&file.path) {
                Some(lines) => *lines = merge_lines(lines, &file.lines),
                None => {
                    files.insert(file.path, file.lines);
                }
            }
        }
        self.files = files
            .into_iter()
            .map(|(path, lines)| FileCoverage { path, lines })
            .collect();
        self.files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    }
}

/// Two sorted line lists as one: hits added, branches the larger.
fn merge_lines(a: &[Line], b: &[Line]) -> Vec<Line> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let line = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.number == y.number => {
                i += 1;
                j += 1;
                Line {
                    number: x.number,
                    hits: x.hits.saturating_add(y.hits),
                    branches: x.branches.max(y.branches),
                    branches_hit: x.branches_hit.max(y.branches_hit),
                }
            }
            (Some(x), Some(y)) if x.number < y.number => {
                i += 1;
                *x
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (_, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => unreachable!("the loop runs while one side has lines"),
        };
        out.push(line);
    }
    out
}

/// Lines as stored: `number:hits` (or `number:hits:branches:taken`), separated by `,`, each
/// number after the first given as the distance from the previous one.
pub fn encode_lines(lines: &[Line]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(lines.len() * 5);
    let mut previous = 0;
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:{}", l.number - previous, l.hits);
        if l.branches > 0 {
            let _ = write!(out, ":{}:{}", l.branches, l.branches_hit);
        }
        previous = l.number;
    }
    out
}

/// The lines [`encode_lines`] wrote; `None` when the text is not such an encoding.
pub fn decode_lines(text: &str) -> Option<Vec<Line>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let mut previous = 0u32;
    text.split(',')
        .map(|item| {
            let mut parts = item.split(':');
            let step: u32 = parts.next()?.parse().ok().filter(|s| *s > 0)?;
            let hits = parts.next()?.parse().ok()?;
            let (branches, branches_hit) = match (parts.next(), parts.next()) {
                (Some(b), Some(h)) => (b.parse().ok()?, h.parse().ok()?),
                (None, None) => (0, 0),
                _ => return None,
            };
            previous = previous.checked_add(step)?;
            Some(Line {
                number: previous,
                hits,
                branches,
                branches_hit,
            })
        })
        .collect()
}

/// How records for the same line of one file, within one report, combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameLine {
    /// The largest hits and branches win (Cobertura's method lines repeat its class lines;
    /// an LCOV file may list a section twice).
    Max,
    /// Each record is a block of statements (Go cover profiles): hits are the largest, and a
    /// line whose blocks are partly covered is partial, with one branch per block.
    Blocks,
}

/// A file being read: its path and the records seen so far.
struct Building {
    path: String,
    lines: Vec<Line>,
    /// Whether `lines` is strictly ascending, one record per line: what parsers read in the
    /// common case, which [`ReportBuilder::finish`] then keeps as it is.
    sorted: bool,
    /// How many times the file's records ended ([`ReportBuilder::end_file`]).
    ends: u32,
}

/// The longest path a report may name.
const MAX_PATH_BYTES: usize = 4096;

/// Where the lines of ended files go when only totals are wanted
/// ([`super::Limits::totals_only`]): a temporary file, and where each file's lines are in it.
struct Spill {
    file: std::io::BufWriter<std::fs::File>,
    end: u64,
    /// Per file id: the offset and length of its lines ([`pack`]) when written away.
    written: Vec<Option<(u64, usize)>>,
    /// The totals of the files written away.
    totals: Totals,
    /// The bytes of the file being written away (reused).
    buffer: Vec<u8>,
}

/// Lines as compact bytes for the temporary file: per line, the distance from the previous
/// line number (shifted left once, the low bit saying whether branch counts follow), the hits,
/// and the branches and branches taken when there are any; each as a LEB128 varint.
fn pack(lines: &[Line], out: &mut Vec<u8>) {
    fn varint(mut n: u64, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    let mut previous = 0;
    for l in lines {
        let has_branches = l.branches > 0;
        varint(
            (u64::from(l.number - previous) << 1) | u64::from(has_branches),
            out,
        );
        varint(u64::from(l.hits), out);
        if has_branches {
            varint(u64::from(l.branches), out);
            varint(u64::from(l.branches_hit), out);
        }
        previous = l.number;
    }
}

/// The lines [`pack`] wrote; `None` when the bytes are not such a packing.
fn unpack(mut bytes: &[u8]) -> Option<Vec<Line>> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = bytes.split_first()?;
            *bytes = rest;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }
    let mut lines = Vec::new();
    let mut previous = 0u32;
    while !bytes.is_empty() {
        let head = varint(&mut bytes)?;
        let number = previous.checked_add(u32::try_from(head >> 1).ok()?)?;
        let hits = u32::try_from(varint(&mut bytes)?).ok()?;
        let (branches, branches_hit) = if head & 1 == 1 {
            (
                u16::try_from(varint(&mut bytes)?).ok()?,
                u16::try_from(varint(&mut bytes)?).ok()?,
            )
        } else {
            (0, 0)
        };
        lines.push(Line {
            number,
            hits,
            branches,
            branches_hit,
        });
        previous = number;
    }
    Some(lines)
}

/// Collects the records a parser reads, file by file, into a [`Report`], within the limits.
pub struct ReportBuilder {
    files: Vec<Building>,
    index: HashMap<String, usize>,
    same_line: SameLine,
    limits: super::Limits,
    records: u64,
    spill: Option<Spill>,
    /// The folders the report says its paths are relative to (Cobertura's `<source>`).
    pub source_roots: Vec<String>,
}

impl ReportBuilder {
    /// An empty builder.
    pub fn new(same_line: SameLine, limits: super::Limits) -> Self {
        // Without a temporary file (none can be made), every line stays in memory.
        let spill = limits
            .totals_only
            .then(tempfile::tempfile)
            .and_then(Result::ok)
            .map(|file| Spill {
                file: std::io::BufWriter::with_capacity(1 << 20, file),
                end: 0,
                written: Vec::new(),
                totals: Totals::default(),
                buffer: Vec::new(),
            });
        ReportBuilder {
            files: Vec::new(),
            index: HashMap::new(),
            same_line,
            limits,
            records: 0,
            spill,
            source_roots: Vec::new(),
        }
    }

    /// The id of file `path` (added when new); `path` is cleaned (`\` to `/`, leading `./`
    /// dropped). Fails past the file limit or for an empty path.
    pub fn file(&mut self, path: &str) -> Result<usize, String> {
        let path = clean_path(path);
        if path.is_empty() {
            return Err("a file has an empty path".into());
        }
        if path.len() > MAX_PATH_BYTES {
            return Err(format!(
                "a file's path is longer than {MAX_PATH_BYTES} bytes"
            ));
        }
        if let Some(&id) = self.index.get(path.as_ref()) {
            return Ok(id);
        }
        if self.files.len() >= self.limits.max_files {
            return Err(format!(
                "the report is over its limit of {} files",
                self.limits.max_files
            ));
        }
        let id = self.files.len();
        self.index.insert(path.to_string(), id);
        self.files.push(Building {
            path: path.into_owned(),
            lines: Vec::new(),
            sorted: true,
            ends: 0,
        });
        if let Some(spill) = &mut self.spill {
            spill.written.push(None);
        }
        Ok(id)
    }

    /// Records line `number` of file `id`. Fails for line 0 or past the line limit.
    #[inline]
    pub fn line(&mut self, id: usize, line: Line) -> Result<(), String> {
        self.records += 1;
        if line.number == 0 || self.records > self.limits.max_lines {
            return Err(self.refused(line.number));
        }
        if self.spill.is_some() {
            self.read_back(id)?;
        }
        let file = &mut self.files[id];
        file.sorted &= file.lines.last().is_none_or(|l| l.number < line.number);
        file.lines.push(line);
        Ok(())
    }

    /// Brings back the lines of file `id` when they were written away (the file is read again),
    /// taking its totals out of the running ones.
    #[cold]
    fn read_back(&mut self, id: usize) -> Result<(), String> {
        use std::io::{Read, Seek, SeekFrom};
        let Some(spill) = &mut self.spill else {
            return Ok(());
        };
        let Some((at, len)) = spill.written[id].take() else {
            return Ok(());
        };
        let io = |e: std::io::Error| format!("cannot read back a file's lines: {e}");
        let mut bytes = vec![0; len];
        std::io::Write::flush(&mut spill.file).map_err(io)?;
        let file = spill.file.get_mut();
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        file.read_exact(&mut bytes).map_err(io)?;
        file.seek(SeekFrom::Start(spill.end)).map_err(io)?;
        let lines = unpack(&bytes).ok_or("the lines written away do not read back")?;
        spill.totals.remove(&Totals::of_file(&lines));
        let file = &mut self.files[id];
        file.lines = lines;
        file.sorted = true;
        Ok(())
    }

    /// Why line `number` cannot be recorded: it is 0, or one line past the limit.
    #[cold]
    fn refused(&self, number: u32) -> String {
        if number == 0 {
            "line numbers start at 1".into()
        } else {
            format!(
                "the report is over its limit of {} line records",
                self.limits.max_lines
            )
        }
    }

    /// Adds `branches` branches, `branches_hit` of them taken, to line `number` of file `id`:
    /// onto its record when the file's records are sorted and it has one (so that it stays
    /// sorted), as a record of its own otherwise. Only for [`SameLine::Max`], whose records
    /// for one line combine by keeping the largest of each count.
    pub fn branches(
        &mut self,
        id: usize,
        number: u32,
        branches: u16,
        branches_hit: u16,
    ) -> Result<(), String> {
        debug_assert_eq!(self.same_line, SameLine::Max);
        if self.spill.is_some() {
            self.read_back(id)?;
        }
        let file = &mut self.files[id];
        if file.sorted
            && let Ok(i) = file.lines.binary_search_by_key(&number, |l| l.number)
        {
            let line = &mut file.lines[i];
            line.branches = line.branches.max(branches);
            line.branches_hit = line.branches_hit.max(branches_hit);
            return Ok(());
        }
        self.line(
            id,
            Line {
                number,
                hits: 0,
                branches,
                branches_hit,
            },
        )
    }

    /// Says that the records of file `id` stop here for now (an LCOV section or a Cobertura
    /// class ended): the first time, its record list gives back the room it grew but did not
    /// use, so that a large report holds about 12 bytes per line rather than up to twice that.
    /// (Only the first time: a file named again and again does not copy its lines each time.)
    ///
    /// When only totals are wanted, the file's lines are counted and written away instead.
    pub fn end_file(&mut self, id: usize) -> Result<(), String> {
        let same_line = self.same_line;
        let file = &mut self.files[id];
        file.ends += 1;
        let Some(spill) = &mut self.spill else {
            if file.ends == 1 {
                file.lines.shrink_to_fit();
            }
            return Ok(());
        };
        use std::io::Write;
        let lines = one_per_line(std::mem::take(&mut file.lines), file.sorted, same_line);
        file.sorted = true;
        spill.buffer.clear();
        pack(&lines, &mut spill.buffer);
        spill
            .file
            .write_all(&spill.buffer)
            .map_err(|e| format!("cannot write a file's lines away: {e}"))?;
        spill.totals.absorb(&Totals::of_file(&lines));
        spill.written[id] = Some((spill.end, spill.buffer.len()));
        spill.end += spill.buffer.len() as u64;
        Ok(())
    }

    /// The totals of every file, for [`super::summarize`].
    pub fn totals(self) -> Result<Totals, String> {
        let mut all = self.spill.as_ref().map(|s| s.totals).unwrap_or_default();
        for file in self.files {
            all.absorb(&Totals::of_file(&one_per_line(
                file.lines,
                file.sorted,
                self.same_line,
            )));
        }
        Ok(all)
    }

    /// Whether no file was named yet.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The report: each file's lines sorted, one entry per line, files without lines left out.
    pub fn finish(self) -> Report {
        let same_line = self.same_line;
        let mut files: Vec<FileCoverage> = self
            .files
            .into_iter()
            .filter(|f| !f.lines.is_empty())
            .map(|f| FileCoverage {
                path: f.path,
                lines: one_per_line(f.lines, f.sorted, same_line),
            })
            .collect();
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Report {
            files,
            source_roots: self.source_roots,
        }
    }
}

/// A file's records as one entry per line, ascending (as they are when they arrived so).
fn one_per_line(mut lines: Vec<Line>, sorted: bool, same_line: SameLine) -> Vec<Line> {
    if sorted {
        return lines;
    }
    lines.sort_unstable_by_key(|l| l.number);
    combine(lines, same_line)
}

/// One entry per line number from records sorted by number.
fn combine(lines: Vec<Line>, same_line: SameLine) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::with_capacity(lines.len());
    let mut start = 0;
    while start < lines.len() {
        let number = lines[start].number;
        let end = start
            + lines[start..]
                .iter()
                .take_while(|l| l.number == number)
                .count();
        let group = &lines[start..end];
        let mut line = Line {
            number,
            ..Line::default()
        };
        for l in group {
            line.hits = line.hits.max(l.hits);
            line.branches = line.branches.max(l.branches);
            line.branches_hit = line.branches_hit.max(l.branches_hit);
        }
        if same_line == SameLine::Blocks && group.len() > 1 {
            let covered = group.iter().filter(|l| l.hits > 0).count();
            if covered > 0 && covered < group.len() {
                line.branches = u16::try_from(group.len()).unwrap_or(u16::MAX);
                line.branches_hit = u16::try_from(covered).unwrap_or(u16::MAX);
            }
        }
        out.push(line);
        start = end;
    }
    out
}

/// `\` as `/`, and no leading `./`.
fn clean_path(path: &str) -> std::borrow::Cow<'_, str> {
    let path = path.trim();
    if path.contains('\\') {
        std::borrow::Cow::Owned(path.replace('\\', "/").trim_start_matches("./").to_string())
    } else {
        std::borrow::Cow::Borrowed(path.trim_start_matches("./"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::Limits;

    fn line(number: u32, hits: u32, branches: u16, branches_hit: u16) -> Line {
        Line {
            number,
            hits,
            branches,
            branches_hit,
        }
    }

    #[test]
    fn lines_are_hits_partials_or_misses_as_codecov_counts_them() {
        let lines = [
            line(1, 3, 0, 0),
            line(2, 0, 0, 0),
            line(3, 1, 2, 1),
            line(4, 1, 2, 2),
            line(5, 0, 2, 1),
        ];
        let t = Totals::of_file(&lines);
        assert_eq!(
            (t.files, t.lines, t.hits, t.misses, t.partials),
            (1, 5, 2, 1, 2)
        );
        assert_eq!((t.branches, t.branches_hit), (6, 4));
        assert_eq!(t.coverage, Some(40.0));
        assert_eq!(Totals::of_file(&[]).coverage, None);
        assert_eq!(percent(2, 3), Some(66.67));
    }

    #[test]
    fn the_same_line_twice_keeps_the_largest_or_becomes_partial_blocks() {
        let limits = Limits::default();
        let mut b = ReportBuilder::new(SameLine::Max, limits);
        let f = b.file("./src\\a.rs").unwrap();
        for l in [line(3, 0, 0, 0), line(3, 2, 2, 1), line(1, 1, 0, 0)] {
            b.line(f, l).unwrap();
        }
        b.file("empty.rs").unwrap();
        let report = b.finish();
        assert_eq!(report.files.len(), 1, "files without lines are left out");
        assert_eq!(report.files[0].path, "src/a.rs");
        assert_eq!(report.files[0].lines, [line(1, 1, 0, 0), line(3, 2, 2, 1)]);

        let mut b = ReportBuilder::new(SameLine::Blocks, limits);
        let f = b.file("a.go").unwrap();
        for l in [
            line(7, 4, 0, 0),
            line(7, 0, 0, 0),
            line(8, 1, 0, 0),
            line(8, 2, 0, 0),
        ] {
            b.line(f, l).unwrap();
        }
        assert_eq!(
            b.finish().files[0].lines,
            [line(7, 4, 2, 1), line(8, 2, 0, 0)]
        );
    }

    #[test]
    fn uploads_merge_line_by_line() {
        let mut a = Report {
            files: vec![FileCoverage {
                path: "a".into(),
                lines: vec![line(1, 0, 0, 0), line(2, 1, 2, 1)],
            }],
            ..Report::default()
        };
        let b = Report {
            files: vec![
                FileCoverage {
                    path: "a".into(),
                    lines: vec![line(1, 2, 0, 0), line(2, 0, 2, 2), line(4, 0, 0, 0)],
                },
                FileCoverage {
                    path: "0".into(),
                    lines: vec![line(1, 1, 0, 0)],
                },
            ],
            ..Report::default()
        };
        a.merge(b);
        assert_eq!(a.files[0].path, "0");
        assert_eq!(
            a.files[1].lines,
            [line(1, 2, 0, 0), line(2, 1, 2, 2), line(4, 0, 0, 0)]
        );
        let t = a.totals();
        assert_eq!((t.files, t.lines, t.hits, t.misses), (2, 4, 3, 1));
    }

    #[test]
    fn lines_round_trip_through_their_stored_text() {
        let lines = [line(3, 1, 0, 0), line(4, 0, 2, 1), line(120, 7, 0, 0)];
        let text = encode_lines(&lines);
        assert_eq!(text, "3:1,1:0:2:1,116:7");
        assert_eq!(decode_lines(&text).unwrap(), lines);
        assert_eq!(decode_lines("").unwrap(), []);
        for bad in ["x", "1", "1:2:3", "0:1", "1:1,0:1", "4294967295:1,1:1"] {
            assert_eq!(decode_lines(bad), None, "{bad}");
        }
    }

    #[test]
    fn totals_only_writes_ended_files_away_and_reads_them_back_when_named_again() {
        let run = |totals_only: bool| {
            let limits = Limits {
                totals_only,
                ..Limits::default()
            };
            let mut b = ReportBuilder::new(SameLine::Max, limits);
            let a = b.file("a").unwrap();
            b.line(a, line(1, 0, 0, 0)).unwrap();
            b.line(a, line(2, 1, 2, 1)).unwrap();
            b.end_file(a).unwrap();
            let c = b.file("c").unwrap();
            b.line(c, line(5, 1, 0, 0)).unwrap();
            b.end_file(c).unwrap();
            // `a` again: line 1 now ran, line 2 has both branches, line 3 is new.
            let a = b.file("a").unwrap();
            b.line(a, line(1, 4, 0, 0)).unwrap();
            b.branches(a, 2, 2, 2).unwrap();
            b.line(a, line(3, 0, 0, 0)).unwrap();
            b.end_file(a).unwrap();
            b.totals().unwrap()
        };
        let kept = run(false);
        assert_eq!(run(true), kept);
        assert_eq!(
            (
                kept.files,
                kept.lines,
                kept.hits,
                kept.misses,
                kept.partials
            ),
            (2, 4, 3, 1, 0)
        );
    }

    #[test]
    fn lines_pack_and_unpack() {
        let lines = [line(3, 1, 0, 0), line(4, 0, 2, 1), line(300, 70000, 0, 0)];
        let mut bytes = Vec::new();
        pack(&lines, &mut bytes);
        assert_eq!(unpack(&bytes).unwrap(), lines);
        assert_eq!(unpack(&[0x80]), None, "a varint cut short");
    }

    #[test]
    fn limits_and_bad_records_are_errors() {
        let limits = Limits {
            max_files: 1,
            max_lines: 2,
            ..Limits::default()
        };
        let mut b = ReportBuilder::new(SameLine::Max, limits);
        assert!(b.file(" ").is_err());
        assert!(
            b.file(&"a/".repeat(3000))
                .unwrap_err()
                .contains("longer than 4096 bytes")
        );
        let f = b.file("a").unwrap();
        assert_eq!(b.file("a"), Ok(f));
        assert!(
            b.file("b")
                .unwrap_err()
                .contains("over its limit of 1 files")
        );
        assert!(b.line(f, line(0, 1, 0, 0)).is_err());
        b.line(f, line(1, 1, 0, 0)).unwrap();
        assert!(
            b.line(f, line(2, 1, 0, 0))
                .and_then(|()| b.line(f, line(3, 1, 0, 0)))
                .unwrap_err()
                .contains("over its limit of 2 line records")
        );
    }
}

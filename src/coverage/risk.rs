//! Deploy risk from the coverage of the files a change touches, as Koalr scores it: the
//! line-weighted coverage of the changed files, and risk points when it is below a threshold
//! (`[risk]` in the configuration: below 40 % adds 15 points). Skipped, with the reason, when no
//! changed file has coverage data.

use serde::Serialize;

use super::report::percent;

/// The thresholds and points of `[risk]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RiskRules {
    /// Changed files covered below this percentage add [`RiskRules::points`].
    pub below: f64,
    /// The points they add.
    pub points: u32,
}

/// One changed file and its coverage (none when no report has it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangedFile {
    /// Its path in the repository.
    pub path: String,
    /// Line coverage in percent.
    pub coverage: Option<f64>,
    /// Coverable lines.
    pub lines: u64,
    /// Covered lines.
    pub hits: u64,
}

/// The risk of a change: the contract of `rubric risk --format json` and `POST /api/v1/risk`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Risk {
    /// `service/owner/repo`.
    pub repo: String,
    /// The pull request, when one was named.
    pub pull: Option<u64>,
    /// The changed files.
    pub files: Vec<ChangedFile>,
    /// Hits over lines of the changed files with data, in percent.
    pub changed_coverage: Option<f64>,
    /// Risk points.
    pub points: u32,
    /// Why: `changed files 31.5 % covered < 40 %: +15`.
    pub reason: String,
    /// No changed file had data.
    pub skipped: bool,
}

/// The line-weighted coverage of the changed files with data: their hits over their lines, in
/// percent; `None` when no file has data.
pub fn changed_coverage(files: &[ChangedFile]) -> Option<f64> {
    let with_data = files.iter().filter(|f| f.coverage.is_some());
    let (lines, hits) = with_data.fold((0, 0), |(l, h), f| (l + f.lines, h + f.hits));
    percent(hits, lines)
}

/// Scores a change.
pub fn assess(repo: &str, pull: Option<u64>, files: Vec<ChangedFile>, rules: &RiskRules) -> Risk {
    let changed_coverage = changed_coverage(&files);
    let (points, reason, skipped) = match changed_coverage {
        None => (
            0,
            format!(
                "no coverage data for the {} changed file(s): skipped",
                files.len()
            ),
            true,
        ),
        Some(c) if c < rules.below => (
            rules.points,
            format!(
                "changed files {c:.1} % covered < {:.0} %: +{}",
                rules.below, rules.points
            ),
            false,
        ),
        Some(c) => (
            0,
            format!("changed files {c:.1} % covered >= {:.0} %: +0", rules.below),
            false,
        ),
    };
    Risk {
        repo: repo.to_string(),
        pull,
        files,
        changed_coverage,
        points,
        reason,
        skipped,
    }
}

impl Risk {
    /// Markdown for a pull-request comment.
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let what = self
            .pull
            .map_or("this change".to_string(), |p| format!("pull request #{p}"));
        let _ = writeln!(out, "### Deploy risk of {what}: {} point(s)\n", self.points);
        let _ = writeln!(out, "{}\n", self.reason);
        let _ = writeln!(out, "| file | coverage | lines | hits |\n|---|---|---|---|");
        for f in &self.files {
            let coverage = f
                .coverage
                .map_or("no data".to_string(), |c| format!("{c:.1} %"));
            let path = f.path.replace('|', "\\|");
            let _ = writeln!(out, "| `{path}` | {coverage} | {} | {} |", f.lines, f.hits);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, lines: u64, hits: u64) -> ChangedFile {
        ChangedFile {
            path: path.into(),
            coverage: percent(hits, lines),
            lines,
            hits,
        }
    }

    const RULES: RiskRules = RiskRules {
        below: 40.0,
        points: 15,
    };

    #[test]
    fn changed_files_below_the_threshold_add_points_weighted_by_lines() {
        let r = assess(
            "github/acme/api",
            Some(7),
            vec![
                file("a.rs", 150, 20),
                file("b.rs", 50, 43),
                ChangedFile {
                    path: "new.rs".into(),
                    coverage: None,
                    lines: 0,
                    hits: 0,
                },
            ],
            &RULES,
        );
        assert_eq!(r.changed_coverage, Some(31.5));
        assert_eq!((r.points, r.skipped), (15, false));
        assert_eq!(r.reason, "changed files 31.5 % covered < 40 %: +15");
        let md = r.markdown();
        assert!(
            md.starts_with("### Deploy risk of pull request #7: 15 point(s)"),
            "{md}"
        );
        assert!(md.contains("| `new.rs` | no data | 0 | 0 |"), "{md}");

        let safe = assess("r", None, vec![file("a.rs", 10, 9)], &RULES);
        assert_eq!(
            (safe.points, safe.reason.as_str()),
            (0, "changed files 90.0 % covered >= 40 %: +0")
        );
    }

    #[test]
    fn no_data_skips_with_the_reason() {
        let r = assess(
            "r",
            Some(1),
            vec![ChangedFile {
                path: "x".into(),
                coverage: None,
                lines: 0,
                hits: 0,
            }],
            &RULES,
        );
        assert_eq!((r.points, r.skipped, r.changed_coverage), (0, true, None));
        assert_eq!(
            r.reason,
            "no coverage data for the 1 changed file(s): skipped"
        );
    }
}

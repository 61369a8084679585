//! Clover XML, as OpenClover, PHPUnit's `--coverage-clover` and Istanbul write it: `<coverage
//! generated="..."><project><package><file name="Calc.php" path="/abs/src/Calc.php"><line
//! num="9" type="stmt" count="2"/></file></package></project></coverage>`, the `<file>`s inside
//! `<package>`s or directly under `<project>` (Istanbul). A file's path is its `path` attribute
//! when present and not empty, else its `name`. `<class>` and `<metrics>` are skipped.
//!
//! As Codecov reads the lines (`services/report/languages/clover.py` in codecov/worker): every
//! `<line>` is coverable, `type="method"` ones included, with `count` hits (0 when absent); a
//! `type="cond"` line has 2 branches, taken as many as of `truecount` and `falsecount` are not
//! zero; a line numbered 0 is skipped.

use super::{Node, Xml, attr, count, optional_count, required};
use crate::coverage::report::{Line, ReportBuilder, SameLine};
use crate::coverage::{Limits, ParseError};

pub fn parse(xml: &mut Xml<'_, '_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    let mut file: Option<usize> = None;
    let mut saw_root = false;
    xml.walk(|node| {
        match node {
            Node::Open { element, empty } => match element.local_name().as_ref() {
                "coverage" => saw_root = true,
                _ if !saw_root => return Err("the root element is not <coverage>".into()),
                "file" => {
                    let path = match attr(element, "path")? {
                        Some(path) if !path.trim().is_empty() => path,
                        _ => required(element, "name")?,
                    };
                    file = (!empty).then(|| builder.file(&path)).transpose()?;
                }
                "line" => {
                    let Some(file) = file else {
                        return Err("a <line> outside a <file>".into());
                    };
                    let number = count(element, "num")?;
                    let hits = optional_count(element, "count")?.unwrap_or(0);
                    let (branches, branches_hit) =
                        if attr(element, "type")?.as_deref() == Some("cond") {
                            let taken = |name| count(element, name).map(|n| u16::from(n > 0));
                            (2, taken("truecount")? + taken("falsecount")?)
                        } else {
                            (0, 0)
                        };
                    if number > 0 {
                        builder.line(
                            file,
                            Line {
                                number,
                                hits,
                                branches,
                                branches_hit,
                            },
                        )?;
                    }
                }
                _ => {}
            },
            Node::Close("file") => file = None,
            Node::Close(_) | Node::Text(_) => {}
        }
        Ok(())
    })?;
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use crate::coverage::Format;
    use crate::coverage::xml::check;

    /// A PHPUnit package and an Istanbul file directly under `<project>`.
    const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<coverage generated="1700000000">
  <project timestamp="1700000000">
    <package name="App">
      <file name="/home/runner/work/app/src/Calc.php">
        <class name="App\Calc" namespace="App">
          <metrics complexity="3" methods="2" coveredmethods="1" conditionals="0" coveredconditionals="0" statements="2" coveredstatements="1" elements="4" coveredelements="2"/>
        </class>
        <line num="7" type="method" name="add" visibility="public" complexity="1" crap="1" count="2"/>
        <line num="9" type="stmt" count="2"/>
        <line num="12" type="method" name="div" visibility="public" complexity="2" crap="6" count="0"/>
        <line num="14" type="stmt" count="0"/>
        <metrics loc="20" ncloc="16" classes="1" methods="2" coveredmethods="1" conditionals="0" coveredconditionals="0" statements="2" coveredstatements="1" elements="4" coveredelements="2"/>
      </file>
    </package>
    <file name="util.js" path="/home/runner/work/app/lib/util.js">
      <metrics statements="4" coveredstatements="3" conditionals="6" coveredconditionals="3" methods="1" coveredmethods="1"/>
      <line num="1" count="1" type="stmt"/>
      <line num="2" count="1" type="cond" truecount="3" falsecount="1"/>
      <line num="3" count="0" type="cond" truecount="0" falsecount="0"/>
      <line num="4" count="3" type="cond" truecount="3" falsecount="0"/>
    </file>
    <metrics files="2" loc="24" ncloc="20" classes="1" methods="3" coveredmethods="2"/>
  </project>
</coverage>
"#;

    #[test]
    fn reads_method_statement_and_condition_lines() {
        let report = check::read(REPORT, Format::Clover);
        let paths: Vec<_> = report.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/home/runner/work/app/lib/util.js",
                "/home/runner/work/app/src/Calc.php"
            ]
        );
        let t = report.totals();
        assert_eq!(
            (t.files, t.lines, t.hits, t.misses, t.partials),
            (2, 8, 4, 3, 1)
        );
        assert_eq!((t.branches, t.branches_hit), (6, 3));
    }

    #[test]
    fn truncated_and_malformed_reports_name_the_line() {
        let err = check::truncated(REPORT, "<line num=\"3\"", 20);
        assert!(
            err.to_string().starts_with("clover, line 20, byte "),
            "{err}"
        );

        let bad = REPORT.replace("truecount=\"3\" falsecount=\"0\"", "truecount=\"3\"");
        let err = check::refused(&bad, Format::Clover);
        assert_eq!(err.message, "<line> has no falsecount attribute");
        assert_eq!(err.line, Some(21), "{err}");

        let bad = REPORT.replace(
            "<line num=\"9\" type=\"stmt\" count=\"2\"/>",
            "<line num=\"9\" type=\"stmt\" count=\"2x\"/>",
        );
        let err = check::refused(&bad, Format::Clover);
        assert_eq!(err.message, "<line> count=\"2x\" is not a number");
        assert_eq!(err.line, Some(10), "{err}");
    }
}

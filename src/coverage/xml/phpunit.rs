//! PHPUnit's XML coverage (`--coverage-xml`, as Codacy's reporter reads it): a folder with an
//! `index.xml` listing the files, and one XML file per source file holding its lines:
//! `<phpunit><file name="Calc.php" path="/Math"><totals>...</totals><class>...</class><coverage>
//! <line nr="9"><covered by="CalcTest::testAdd"/></line><line nr="14"/></coverage><source>...
//! </source></file></phpunit>`. These per-file documents are what is read; `index.xml` alone
//! (`<phpunit><project><directory><file href="Calc.php.xml">`) has no lines, and is an error
//! that says so.
//!
//! A `<line>` of `<coverage>` is coverable, with as many hits as it has `<covered>` tests (the
//! `<line>`s of `<source>` are the source text, and skipped). A file's path is its `path` (the
//! folder relative to the project's source folder, `/` for that folder itself) and its `name`
//! joined with `/`, without the leading `/`: `Math/Calc.php`, as Codacy's reporter strips it.

use super::{Node, Xml, attr, count, required};
use crate::coverage::report::{Line, ReportBuilder, SameLine};
use crate::coverage::{Limits, ParseError};

/// Why `index.xml` is not enough.
const INDEX: &str = "this is PHPUnit's index.xml, which lists the files without their lines: \
    upload the per-file XML files it links to (<file href=\"...\">) instead";

pub fn parse(xml: &mut Xml<'_, '_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    let mut file: Option<usize> = None;
    // The file whose <coverage> is open, and the <line> being read in it: (file, nr, tests).
    let mut coverage: Option<usize> = None;
    let mut line: Option<(usize, u32, u32)> = None;
    let mut saw_root = false;
    xml.walk(|node| {
        match node {
            Node::Open { element, empty } => match element.local_name().as_ref() {
                "phpunit" => saw_root = true,
                _ if !saw_root => return Err("the root element is not <phpunit>".into()),
                "project" => return Err(INDEX.into()),
                "file" => {
                    let name = required(element, "name")?;
                    let dir = attr(element, "path")?
                        .unwrap_or_default()
                        .replace('\\', "/");
                    let path = match dir.trim_matches('/') {
                        "" => name.into_owned(),
                        dir => format!("{dir}/{name}"),
                    };
                    file = (!empty).then(|| builder.file(&path)).transpose()?;
                }
                "coverage" if !empty => {
                    coverage = Some(file.ok_or("a <coverage> outside a <file>")?);
                }
                "line" => {
                    if let Some(file) = coverage {
                        let number = count(element, "nr")?;
                        if empty {
                            builder.line(
                                file,
                                Line {
                                    number,
                                    ..Line::default()
                                },
                            )?;
                        } else {
                            line = Some((file, number, 0));
                        }
                    }
                }
                "covered" => {
                    if let Some((_, _, tests)) = &mut line {
                        *tests = tests.saturating_add(1);
                    }
                }
                _ => {}
            },
            Node::Close(name) => match name {
                "file" => file = None,
                "coverage" => coverage = None,
                "line" => {
                    if let Some((file, number, hits)) = line.take() {
                        builder.line(
                            file,
                            Line {
                                number,
                                hits,
                                ..Line::default()
                            },
                        )?;
                    }
                }
                _ => {}
            },
            Node::Text(_) => {}
        }
        Ok(())
    })?;
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use crate::coverage::xml::check;
    use crate::coverage::{Format, Limits, parse};

    const REPORT: &str = r#"<?xml version="1.0"?>
<phpunit xmlns="https://schema.phpunit.de/coverage/1.0">
  <file name="Calc.php" path="/Math">
    <totals>
      <lines total="20" comments="4" code="16" executable="4" executed="2" percent="50.00"/>
      <methods count="2" tested="1" percent="50.00"/>
      <functions count="0" tested="0" percent="0"/>
      <classes count="1" tested="0" percent="0.00"/>
      <traits count="0" tested="0" percent="0"/>
    </totals>
    <class name="Calc" start="5" executable="4" executed="2" crap="4.12">
      <namespace name="App\Math"/>
      <method name="add" signature="add($a, $b)" start="7" end="10" crap="1" executable="1" executed="1" coverage="100"/>
      <method name="div" signature="div($a, $b)" start="12" end="18" crap="3.14" executable="3" executed="1" coverage="33.33"/>
    </class>
    <coverage>
      <line nr="9">
        <covered by="App\Tests\CalcTest::testAdd"/>
        <covered by="App\Tests\CalcTest::testAddNegative"/>
      </line>
      <line nr="13">
        <covered by="App\Tests\CalcTest::testDivByZero"/>
      </line>
      <line nr="14"/>
      <line nr="16"/>
    </coverage>
    <source>
      <line no="1">
        <token name="T_OPEN_TAG">&lt;?php</token>
      </line>
      <line no="9">
        <token name="T_WHITESPACE">        </token>
        <token name="T_RETURN">return</token>
      </line>
    </source>
  </file>
</phpunit>
"#;

    #[test]
    fn reads_the_tests_covering_each_line() {
        let report = check::read(REPORT, Format::Phpunit);
        assert_eq!(report.files.len(), 1);
        assert_eq!(report.files[0].path, "Math/Calc.php");
        let t = report.totals();
        assert_eq!(
            (t.files, t.lines, t.hits, t.misses, t.partials),
            (1, 4, 2, 2, 0)
        );
        assert_eq!((t.branches, t.branches_hit), (0, 0));
        assert_eq!(report.files[0].lines[0].hits, 2);

        let top = REPORT.replace("path=\"/Math\"", "path=\"/\"");
        let report = check::read(&top, Format::Phpunit);
        assert_eq!(report.files[0].path, "Calc.php");
    }

    #[test]
    fn the_index_alone_is_an_error_that_says_what_to_upload() {
        let index = r#"<?xml version="1.0"?>
<phpunit xmlns="https://schema.phpunit.de/coverage/1.0">
  <build time="Mon, 13 Nov 2023 10:00:00 +0000" phpunit="4.8.36" coverage="2.2.4"/>
  <project source="/home/runner/work/app/src">
    <directory name="/">
      <file name="Calc.php" href="Calc.php.xml"/>
    </directory>
  </project>
</phpunit>
"#;
        let err = parse(index.as_bytes(), None, &Limits::default()).unwrap_err();
        assert_eq!(
            err.message,
            "this is PHPUnit's index.xml, which lists the files without their lines: upload \
             the per-file XML files it links to (<file href=\"...\">) instead"
        );
        assert_eq!(err.line, Some(4), "{err}");
    }

    #[test]
    fn truncated_and_malformed_reports_name_the_line() {
        let err = check::truncated(REPORT, "<line nr=\"14\"", 24);
        assert!(
            err.to_string().starts_with("phpunit, line 24, byte "),
            "{err}"
        );

        let bad = REPORT.replace("<line nr=\"13\">", "<line nr=\"thirteen\">");
        let err = check::refused(&bad, Format::Phpunit);
        assert_eq!(err.message, "<line> nr=\"thirteen\" is not a number");
        assert_eq!(err.line, Some(21), "{err}");
    }
}

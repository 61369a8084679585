//! JaCoCo XML: `<report><package name="com/acme"><class>...</class><sourcefile
//! name="Calc.java"><line nr="5" mi="0" ci="4" mb="1" cb="1"/></sourcefile></package></report>`,
//! packages possibly inside `<group>`s. A file's path is its package's name, `/`, and the
//! source file's name (just the name in the default package, whose name is empty). The line
//! data is only under `<sourcefile>`: the `<class>`, `<method>` and `<counter>` elements repeat it
//! in totals and are skipped.
//!
//! Every `<line>` is coverable; its hits are the covered instructions (`ci`), its branches the
//! missed and covered branches (`mb + cb`), of which `cb` were taken, as Codecov reads them. A
//! line numbered 0 is skipped, as Codecov skips it.

use super::{Node, Xml, branch_count, count, required};
use crate::coverage::report::{Line, ReportBuilder, SameLine};
use crate::coverage::{Limits, ParseError};

pub fn parse(xml: &mut Xml<'_, '_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    let mut package: Option<String> = None;
    let mut source: Option<usize> = None;
    let mut saw_root = false;
    xml.walk(|node| {
        match node {
            Node::Open { element, empty } => match element.local_name().as_ref() {
                "report" => saw_root = true,
                _ if !saw_root => return Err("the root element is not <report>".into()),
                "package" => {
                    let name = required(element, "name")?;
                    package = (!empty).then(|| name.into_owned());
                }
                "sourcefile" => {
                    let Some(package) = &package else {
                        return Err("a <sourcefile> outside a <package>".into());
                    };
                    let name = required(element, "name")?;
                    let path = match package.trim_end_matches('/') {
                        "" => name.into_owned(),
                        dir => format!("{dir}/{name}"),
                    };
                    source = (!empty).then(|| builder.file(&path)).transpose()?;
                }
                "line" => {
                    let Some(file) = source else {
                        return Err("a <line> outside a <sourcefile>".into());
                    };
                    let number = count(element, "nr")?;
                    let hits = count(element, "ci")?;
                    let missed = count(element, "mb")?;
                    let covered = count(element, "cb")?;
                    if number > 0 {
                        builder.line(
                            file,
                            Line {
                                number,
                                hits,
                                branches: branch_count(missed.saturating_add(covered)),
                                branches_hit: branch_count(covered),
                            },
                        )?;
                    }
                }
                _ => {}
            },
            Node::Close(name) => match name {
                "package" => package = None,
                "sourcefile" => source = None,
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
    use crate::coverage::Format;
    use crate::coverage::xml::check;

    const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">
<report name="app">
  <sessioninfo id="runner-1a2b" start="1700000000000" dump="1700000004000"/>
  <group name="core">
    <package name="com/acme">
      <class name="com/acme/Calc" sourcefilename="Calc.java">
        <method name="div" desc="(II)I" line="5">
          <counter type="INSTRUCTION" missed="2" covered="4"/>
          <counter type="BRANCH" missed="1" covered="1"/>
          <counter type="LINE" missed="1" covered="1"/>
        </method>
        <counter type="INSTRUCTION" missed="2" covered="9"/>
      </class>
      <sourcefile name="Calc.java">
        <line nr="3" mi="0" ci="3" mb="0" cb="0"/>
        <line nr="5" mi="0" ci="4" mb="1" cb="1"/>
        <line nr="6" mi="2" ci="0" mb="0" cb="0"/>
        <line nr="8" mi="0" ci="2" mb="0" cb="2"/>
        <counter type="INSTRUCTION" missed="2" covered="9"/>
        <counter type="LINE" missed="1" covered="3"/>
      </sourcefile>
      <counter type="INSTRUCTION" missed="2" covered="9"/>
    </package>
  </group>
  <package name="">
    <class name="Main" sourcefilename="Main.java"/>
    <sourcefile name="Main.java">
      <line nr="1" mi="3" ci="0" mb="0" cb="0"/>
      <line nr="2" mi="0" ci="1" mb="0" cb="0"/>
    </sourcefile>
  </package>
  <counter type="INSTRUCTION" missed="5" covered="10"/>
</report>
"#;

    #[test]
    fn reads_lines_and_branches_per_source_file() {
        let report = check::read(REPORT, Format::Jacoco);
        let paths: Vec<_> = report.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Main.java", "com/acme/Calc.java"]);
        let t = report.totals();
        assert_eq!(
            (t.files, t.lines, t.hits, t.misses, t.partials),
            (2, 6, 3, 2, 1)
        );
        assert_eq!((t.branches, t.branches_hit), (4, 3));
        let calc = &report.files[1].lines;
        assert_eq!((calc[1].number, calc[1].hits, calc[1].branches), (5, 4, 2));
    }

    #[test]
    fn truncated_and_malformed_reports_name_the_line() {
        let err = check::truncated(REPORT, "<line nr=\"6\"", 18);
        assert!(
            err.to_string().starts_with("jacoco, line 18, byte "),
            "{err}"
        );

        let bad = REPORT.replace("mb=\"1\" cb=\"1\"", "mb=\"1\" cb=\"one\"");
        let err = check::refused(&bad, Format::Jacoco);
        assert_eq!(err.message, "<line> cb=\"one\" is not a number");
        assert_eq!(err.line, Some(17), "{err}");

        let bad = REPORT.replace("<sourcefile name=\"Main.java\">", "<sourcefile>");
        let err = check::refused(&bad, Format::Jacoco);
        assert_eq!(err.message, "<sourcefile> has no name attribute");
        assert_eq!(err.line, Some(28), "{err}");
    }
}

//! dotCover's detailed XML (`dotCover cover --ReportType=DetailedXML`): `<Root><FileIndices><File
//! Index="1" Name="C:\src\Calc.cs"/></FileIndices><Assembly><Namespace><Type><Method><Statement
//! FileIndex="1" Line="9" Column="13" EndLine="9" EndColumn="24" Covered="True"/>...`, statements
//! under methods, properties, constructors and nested types alike. dotCover writes the
//! `<FileIndices>` first; a statement naming an index they do not list is an error.
//!
//! A statement covers lines `Line..=EndLine`, as Codacy's reporter reads it (one spanning more
//! than [`MAX_SPAN`](super::MAX_SPAN) lines is an error), each with 1 hit when `Covered="True"`
//! and 0 when `"False"`; a line with several statements is hit when one of them is, as Codecov
//! counts it.

use std::collections::HashMap;

use super::{Node, Xml, count, required, span};
use crate::coverage::report::{Line, ReportBuilder, SameLine};
use crate::coverage::{Limits, ParseError};

pub fn parse(xml: &mut Xml<'_, '_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    let mut files: HashMap<String, usize> = HashMap::new();
    let mut saw_root = false;
    xml.walk(|node| {
        if let Node::Open { element, .. } = node {
            match element.local_name().as_ref() {
                "Root" => saw_root = true,
                _ if !saw_root => return Err("the root element is not <Root>".into()),
                "File" => {
                    let index = required(element, "Index")?;
                    let path = required(element, "Name")?;
                    files.insert(index.trim().to_owned(), builder.file(&path)?);
                }
                "Statement" => {
                    let index = required(element, "FileIndex")?;
                    let &file = files.get(index.trim()).ok_or_else(|| {
                        format!("<Statement> FileIndex={index:?} is not one of the <FileIndices>")
                    })?;
                    let start = count(element, "Line")?;
                    let end = count(element, "EndLine")?;
                    let covered = required(element, "Covered")?;
                    let hits = match covered.trim() {
                        c if c.eq_ignore_ascii_case("true") => 1,
                        c if c.eq_ignore_ascii_case("false") => 0,
                        _ => {
                            return Err(format!(
                                "<Statement> Covered={covered:?} is not True or False"
                            ));
                        }
                    };
                    for number in span(element, start, end)? {
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
            }
        }
        Ok(())
    })?;
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use crate::coverage::Format;
    use crate::coverage::xml::check;

    const REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Root CoveredStatements="5" TotalStatements="9" CoveragePercent="56" ReportType="DetailedXml" DotCoverVersion="2023.3.1">
  <FileIndices>
    <File Index="1" Name="C:\build\Acme\Calc.cs" ChecksumAlgorithm="SHA256" Checksum="D06BEBC2836A851F722F020A10615F54" />
    <File Index="2" Name="C:\build\Acme\Program.cs" ChecksumAlgorithm="SHA256" Checksum="1B3D9F852A896CD8EBF786BC13EE2428" />
    <File Index="3" Name="C:\build\Acme\Unused.cs" ChecksumAlgorithm="SHA256" Checksum="147393855222EF85D83C298103D1BA96" />
  </FileIndices>
  <Assembly Name="Acme" CoveredStatements="5" TotalStatements="9" CoveragePercent="56">
    <Namespace Name="Acme" CoveredStatements="5" TotalStatements="9" CoveragePercent="56">
      <Type Name="Calc" CoveredStatements="3" TotalStatements="6" CoveragePercent="50">
        <Method Name="Div(System.Int32,System.Int32):System.Int32" CoveredStatements="3" TotalStatements="5" CoveragePercent="60">
          <Statement FileIndex="1" Line="8" Column="9" EndLine="8" EndColumn="10" Covered="True" />
          <Statement FileIndex="1" Line="9" Column="13" EndLine="9" EndColumn="24" Covered="True" />
          <Statement FileIndex="1" Line="10" Column="17" EndLine="11" EndColumn="42" Covered="False" />
          <Statement FileIndex="1" Line="12" Column="13" EndLine="12" EndColumn="26" Covered="True" />
          <Statement FileIndex="1" Line="12" Column="27" EndLine="12" EndColumn="30" Covered="False" />
        </Method>
        <Type Name="Cache" CoveredStatements="0" TotalStatements="1" CoveragePercent="0">
          <Property Name="Size:System.Int32" CoveredStatements="0" TotalStatements="1" CoveragePercent="0">
            <Statement FileIndex="1" Line="20" Column="30" EndLine="20" EndColumn="34" Covered="False" />
          </Property>
        </Type>
      </Type>
      <Type Name="Program" CoveredStatements="2" TotalStatements="3" CoveragePercent="67">
        <Method Name="Main(System.String[]):System.Void" CoveredStatements="2" TotalStatements="3" CoveragePercent="67">
          <Statement FileIndex="2" Line="5" Column="9" EndLine="5" EndColumn="10" Covered="True" />
          <Statement FileIndex="2" Line="6" Column="13" EndLine="6" EndColumn="47" Covered="True" />
          <Statement FileIndex="2" Line="7" Column="9" EndLine="7" EndColumn="10" Covered="False" />
        </Method>
      </Type>
    </Namespace>
  </Assembly>
</Root>
"#;

    #[test]
    fn reads_statements_over_their_lines() {
        let report = check::read(REPORT, Format::Dotcover);
        let paths: Vec<_> = report.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["C:/build/Acme/Calc.cs", "C:/build/Acme/Program.cs"]);
        let t = report.totals();
        assert_eq!(
            (t.files, t.lines, t.hits, t.misses, t.partials),
            (2, 9, 5, 4, 0)
        );
        assert_eq!((t.branches, t.branches_hit), (0, 0));
    }

    #[test]
    fn truncated_and_malformed_reports_name_the_line() {
        let err = check::truncated(REPORT, "<Type Name=\"Program\"", 24);
        assert!(
            err.to_string().starts_with("dotcover, line 24, byte "),
            "{err}"
        );

        let bad = REPORT.replace(
            "EndColumn=\"24\" Covered=\"True\"",
            "EndColumn=\"24\" Covered=\"yes\"",
        );
        let err = check::refused(&bad, Format::Dotcover);
        assert_eq!(
            err.message,
            "<Statement> Covered=\"yes\" is not True or False"
        );
        assert_eq!(err.line, Some(13), "{err}");

        let bad = REPORT.replace(
            "<Statement FileIndex=\"2\" Line=\"6\"",
            "<Statement FileIndex=\"4\" Line=\"6\"",
        );
        let err = check::refused(&bad, Format::Dotcover);
        assert_eq!(
            err.message,
            "<Statement> FileIndex=\"4\" is not one of the <FileIndices>"
        );
        assert_eq!(err.line, Some(27), "{err}");
    }
}

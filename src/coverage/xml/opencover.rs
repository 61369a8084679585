//! OpenCover XML (also what coverlet writes as `opencover`): `<CoverageSession><Modules><Module>
//! <Files><File uid="1" fullPath="C:\src\Calc.cs"/></Files><Classes><Class><Methods><Method>
//! <FileRef uid="1"/><SequencePoints><SequencePoint vc="3" sl="9" el="9" fileid="1"/>
//! </SequencePoints><BranchPoints><BranchPoint vc="0" sl="9" fileid="1"/></BranchPoints>
//! </Method>...</Module></Modules></CoverageSession>`. File uids are per `<Module>`; a module
//! skipped by OpenCover's filters has no files, and nothing to read.
//!
//! A sequence point covers lines `sl..=el` (just `sl` without `el`, or with `el` before it), each
//! with `vc` hits; one spanning more than [`MAX_SPAN`](super::MAX_SPAN) lines is an error. Each
//! branch point is one branch of line `sl`, taken when its `vc` is not 0; a module's branch
//! points are counted per line and recorded when the module ends, as a line with no hits of its
//! own that the line's sequence points complete. A point's file is its `fileid`, else its
//! method's `<FileRef>`; as Codecov and Codacy's reporter do, a point is skipped when it has no
//! file, a file the module does not list, or no line (`sl` absent or 0).

use std::collections::HashMap;

use quick_xml::events::BytesStart;

use super::{Node, Xml, attr, count, optional_count, required, span};
use crate::coverage::report::{Line, ReportBuilder, SameLine};
use crate::coverage::{Limits, ParseError};

pub fn parse(xml: &mut Xml<'_, '_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    // The current module's files by uid, and its branch points: (branches, taken) per line.
    let mut files: HashMap<String, usize> = HashMap::new();
    let mut branches: HashMap<(usize, u32), (u16, u16)> = HashMap::new();
    let mut file_ref: Option<String> = None;
    let mut saw_root = false;
    xml.walk(|node| {
        match node {
            Node::Open { element, .. } => match element.local_name().as_ref() {
                "CoverageSession" => saw_root = true,
                _ if !saw_root => return Err("the root element is not <CoverageSession>".into()),
                "Module" => files.clear(),
                "File" => {
                    let uid = required(element, "uid")?;
                    let path = required(element, "fullPath")?;
                    files.insert(uid.into_owned(), builder.file(&path)?);
                }
                "Method" => file_ref = None,
                "FileRef" => file_ref = Some(required(element, "uid")?.into_owned()),
                "SequencePoint" => {
                    if let Some((file, start)) = place(element, &files, file_ref.as_deref())? {
                        let end = optional_count(element, "el")?.unwrap_or(start);
                        let hits = count(element, "vc")?;
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
                }
                "BranchPoint" => {
                    if let Some(place) = place(element, &files, file_ref.as_deref())? {
                        let taken = count(element, "vc")? > 0;
                        let (all, hit) = branches.entry(place).or_default();
                        *all = all.saturating_add(1);
                        *hit = hit.saturating_add(u16::from(taken));
                    }
                }
                _ => {}
            },
            Node::Close("Method") => file_ref = None,
            Node::Close("Module") => {
                for ((file, number), (all, hit)) in branches.drain() {
                    builder.line(
                        file,
                        Line {
                            number,
                            hits: 0,
                            branches: all,
                            branches_hit: hit,
                        },
                    )?;
                }
            }
            Node::Close(_) | Node::Text(_) => {}
        }
        Ok(())
    })?;
    Ok(builder)
}

/// The file and first line of a sequence or branch point, `None` when it has none.
fn place(
    element: &BytesStart<'_>,
    files: &HashMap<String, usize>,
    file_ref: Option<&str>,
) -> Result<Option<(usize, u32)>, String> {
    let fileid = attr(element, "fileid")?;
    let Some(&file) = fileid.as_deref().or(file_ref).and_then(|id| files.get(id)) else {
        return Ok(None);
    };
    Ok(optional_count(element, "sl")?
        .filter(|&line| line > 0)
        .map(|line| (file, line)))
}

#[cfg(test)]
mod tests {
    use crate::coverage::Format;
    use crate::coverage::xml::check;

    /// Two modules that both call their file uid 1, and one skipped by a filter.
    const REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<CoverageSession xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Summary numSequencePoints="7" visitedSequencePoints="4" numBranchPoints="4" visitedBranchPoints="3" sequenceCoverage="57.14" branchCoverage="75" />
  <Modules>
    <Module skippedDueTo="Filter" hash="1A-0D-72-44">
      <ModulePath>C:\Windows\Microsoft.Net\assembly\GAC_MSIL\System.Xml.dll</ModulePath>
      <ModuleName>System.Xml</ModuleName>
      <Classes />
    </Module>
    <Module hash="AB-CD-EF-01">
      <ModulePath>C:\build\Acme\bin\Debug\Acme.dll</ModulePath>
      <ModuleName>Acme</ModuleName>
      <Files>
        <File uid="1" fullPath="C:\build\Acme\Calc.cs" />
      </Files>
      <Classes>
        <Class>
          <Summary numSequencePoints="5" visitedSequencePoints="3" />
          <FullName>Acme.Calc</FullName>
          <Methods>
            <Method visited="true" cyclomaticComplexity="2" sequenceCoverage="60" branchCoverage="50" isConstructor="false" isStatic="false">
              <Summary numSequencePoints="5" visitedSequencePoints="3" />
              <MetadataToken>100663297</MetadataToken>
              <Name>System.Int32 Acme.Calc::Div(System.Int32,System.Int32)</Name>
              <FileRef uid="1" />
              <SequencePoints>
                <SequencePoint vc="3" uspid="1" ordinal="0" offset="0" sl="8" sc="9" el="8" ec="10" bec="0" bev="0" fileid="1" />
                <SequencePoint vc="3" uspid="2" ordinal="1" offset="1" sl="9" sc="13" el="9" ec="24" bec="2" bev="1" fileid="1" />
                <SequencePoint vc="0" uspid="3" ordinal="2" offset="8" sl="10" sc="17" el="11" ec="42" bec="0" bev="0" fileid="1" />
                <SequencePoint vc="3" uspid="4" ordinal="3" offset="14" sl="12" sc="13" el="12" ec="26" bec="0" bev="0" />
              </SequencePoints>
              <BranchPoints>
                <BranchPoint vc="0" uspid="5" ordinal="0" offset="6" sl="9" path="0" offsetend="8" fileid="1" />
                <BranchPoint vc="3" uspid="6" ordinal="1" offset="6" sl="9" path="1" offsetend="14" fileid="1" />
              </BranchPoints>
              <MethodPoint xsi:type="SequencePoint" vc="3" uspid="1" ordinal="0" offset="0" sl="8" sc="9" el="8" ec="10" bec="0" bev="0" fileid="1" />
            </Method>
          </Methods>
        </Class>
      </Classes>
    </Module>
    <Module hash="AB-CD-EF-02">
      <ModuleName>Acme.Util</ModuleName>
      <Files>
        <File uid="1" fullPath="C:\build\Util\Text.cs" />
      </Files>
      <Classes>
        <Class>
          <FullName>Acme.Util.Text</FullName>
          <Methods>
            <Method visited="true" cyclomaticComplexity="2">
              <FileRef uid="1" />
              <SequencePoints>
                <SequencePoint vc="1" uspid="7" ordinal="0" offset="0" sl="5" sc="9" el="5" ec="30" bec="2" bev="2" fileid="1" />
                <SequencePoint vc="0" uspid="8" ordinal="1" offset="9" sl="6" sc="9" el="6" ec="21" bec="0" bev="0" fileid="1" />
              </SequencePoints>
              <BranchPoints>
                <BranchPoint vc="1" uspid="9" ordinal="0" offset="4" sl="5" path="0" offsetend="6" fileid="1" />
                <BranchPoint vc="2" uspid="10" ordinal="1" offset="4" sl="5" path="1" offsetend="9" fileid="1" />
              </BranchPoints>
            </Method>
            <Method visited="false" cyclomaticComplexity="1">
              <Name>System.Void Acme.Util.Text::.cctor()</Name>
              <SequencePoints>
                <SequencePoint vc="0" uspid="11" ordinal="0" offset="0" sl="3" sc="5" el="3" ec="40" bec="0" bev="0" />
              </SequencePoints>
            </Method>
          </Methods>
        </Class>
      </Classes>
    </Module>
  </Modules>
</CoverageSession>
"#;

    #[test]
    fn reads_sequence_and_branch_points_per_module() {
        let report = check::read(REPORT, Format::Opencover);
        let paths: Vec<_> = report.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["C:/build/Acme/Calc.cs", "C:/build/Util/Text.cs"]);
        let t = report.totals();
        assert_eq!(
            (t.files, t.lines, t.hits, t.misses, t.partials),
            (2, 7, 3, 3, 1)
        );
        assert_eq!((t.branches, t.branches_hit), (4, 3));
        let calc = &report.files[0].lines;
        assert_eq!((calc[1].number, calc[1].hits, calc[1].branches), (9, 3, 2));
    }

    #[test]
    fn truncated_and_malformed_reports_name_the_line() {
        let err = check::truncated(REPORT, "<BranchPoint vc=\"0\"", 33);
        assert!(
            err.to_string().starts_with("opencover, line 33, byte "),
            "{err}"
        );

        let bad = REPORT.replace("<BranchPoint vc=\"3\"", "<BranchPoint vc=\"-\"");
        let err = check::refused(&bad, Format::Opencover);
        assert_eq!(err.message, "<BranchPoint> vc=\"-\" is not a number");
        assert_eq!(err.line, Some(34), "{err}");

        let bad = REPORT.replace(
            "sl=\"10\" sc=\"17\" el=\"11\"",
            "sl=\"10\" sc=\"17\" el=\"100010\"",
        );
        let err = check::refused(&bad, Format::Opencover);
        assert_eq!(
            err.message,
            "<SequencePoint> spans lines 10 to 100010, more than 100000 lines"
        );
        assert_eq!(err.line, Some(29), "{err}");
    }
}

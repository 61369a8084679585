//! Which format a report is in, from its first bytes: what Codecov and Datadog do when the
//! uploader does not say.

use super::Format;

/// The format of a report starting with `head` (its first few KiB), when it is recognisable.
pub fn detect(head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("mode:") {
        return Some(Format::Go);
    }
    if text.starts_with('{') {
        return if text.contains("\"fileReports\"") {
            Some(Format::Codacy)
        } else if text.contains("\"coverage\"")
            && (text.contains("\"timestamp\"")
                || text.contains("\"lines\"")
                || text.contains("\"meta\""))
        {
            Some(Format::Simplecov)
        } else {
            None
        };
    }
    if text.starts_with('<') {
        return xml_root(text);
    }
    let lcov = text.lines().take(20).any(|l| {
        let l = l.trim();
        l.starts_with("SF:") || l.starts_with("TN:") || l == "end_of_record"
    });
    lcov.then_some(Format::Lcov)
}

/// The format of an XML report, from its root element (and, for `<coverage>`, which of
/// Cobertura and Clover wrote it).
fn xml_root(text: &str) -> Option<Format> {
    let mut rest = text;
    // Skip the declaration, comments, processing instructions and the doctype.
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("<?") {
            rest = after.split_once("?>")?.1;
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.split_once("-->")?.1;
        } else if let Some(after) = rest.strip_prefix("<!") {
            rest = after.split_once('>')?.1;
        } else {
            break;
        }
    }
    let tag = rest.strip_prefix('<')?;
    let name: String = tag
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    let open_tag = tag.split('>').next().unwrap_or_default();
    match name.as_str() {
        "coverage" if open_tag.contains("clover=") || rest.contains("<project") => {
            Some(Format::Clover)
        }
        "coverage" => Some(Format::Cobertura),
        "report" => Some(Format::Jacoco),
        "CoverageSession" => Some(Format::Opencover),
        "Root" => Some(Format::Dotcover),
        "phpunit" => Some(Format::Phpunit),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_recognised_by_its_first_bytes() {
        let cases: &[(&str, Option<Format>)] = &[
            ("TN:\nSF:src/a.rs\nDA:1,1\n", Some(Format::Lcov)),
            ("SF:a.js\n", Some(Format::Lcov)),
            ("mode: atomic\na.go:1.1,2.2 1 1\n", Some(Format::Go)),
            ("{\"total\": 1, \"fileReports\": []}", Some(Format::Codacy)),
            (
                "<?xml version=\"1.0\" ?>\n<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n<coverage line-rate=\"0.5\" version=\"7.4\">",
                Some(Format::Cobertura),
            ),
            (
                "<?xml version=\"1.0\"?>\n<coverage generated=\"1\" clover=\"4.4\">\n<project timestamp=\"1\">",
                Some(Format::Clover),
            ),
            (
                "<?xml version=\"1.0\"?><coverage generated=\"1\">\n  <project timestamp=\"1\" name=\"All files\">",
                Some(Format::Clover),
            ),
            (
                "<?xml version=\"1.0\"?><!DOCTYPE report PUBLIC \"-//JACOCO//DTD Report 1.1//EN\" \"report.dtd\"><report name=\"app\">",
                Some(Format::Jacoco),
            ),
            (
                "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<CoverageSession xmlns:xsd=\"x\">",
                Some(Format::Opencover),
            ),
            (
                "<?xml version=\"1.0\"?>\n<!-- dotCover -->\n<Root CoveredStatements=\"1\" TotalStatements=\"2\">",
                Some(Format::Dotcover),
            ),
            (
                "<?xml version=\"1.0\"?>\n<phpunit xmlns=\"http://schema.phpunit.de/coverage/1.0\">",
                Some(Format::Phpunit),
            ),
            ("<html><body>", None),
            ("{\"coverage\": {}}", None),
            (
                "{\"RSpec\": {\"coverage\": {\"/a.rb\": {\"lines\": [1]}}, \"timestamp\": 1}}",
                Some(Format::Simplecov),
            ),
            ("hello", None),
            ("", None),
        ];
        for (head, want) in cases {
            assert_eq!(detect(head.as_bytes()), *want, "{head}");
        }
    }
}

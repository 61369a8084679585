//! Coverage reports as CI jobs write them: every format Codacy's reporter parses and Datadog's
//! intake accepts (LCOV, Cobertura, JaCoCo, Clover, OpenCover, dotCover, PHPUnit XML, Go cover
//! profiles, SimpleCov JSON) and Codacy's JSON payload. Each is read by streaming (line by line, or with an XML
//! pull parser) into compact per-line records, within size limits; a malformed report is an
//! error naming the line (and for XML the byte offset) of its first problem.
//!
//! The entry point is [`parse`]; [`Report::totals`] gives the counts Codecov gives.

mod codacy;
mod detect;
mod golang;
mod input;
mod lcov;
pub mod paths;
mod repo;
pub mod report;
pub mod risk;
mod simplecov;
mod xml;

use std::io::Read;

use serde::Serialize;

pub use detect::detect;
pub use repo::{RepoSlug, SERVICES, repository_matches};
pub use report::{FileCoverage, Line, Report, Totals};

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// LCOV tracefiles (`SF:`, `DA:`, `BRDA:`), as `lcov`, `c8`, `cargo llvm-cov` write them.
    Lcov,
    /// Cobertura XML (coverage.py, Istanbul, Java tools).
    Cobertura,
    /// JaCoCo XML.
    Jacoco,
    /// Clover XML (OpenClover, PHPUnit's `--coverage-clover`, Istanbul).
    Clover,
    /// OpenCover XML (.NET).
    Opencover,
    /// dotCover XML (.NET, JetBrains).
    Dotcover,
    /// PHPUnit's XML coverage (PHPUnit 4 and earlier).
    Phpunit,
    /// Go cover profiles (`go test -coverprofile`).
    Go,
    /// Codacy's JSON payload (`{"fileReports": [{"filename", "coverage": {"3": 1}}]}`).
    Codacy,
    /// SimpleCov's JSON (Ruby): `.resultset.json` or the JSON formatter's `coverage.json`.
    Simplecov,
}

impl Format {
    /// Every format, in the order of the documentation.
    pub const ALL: [Format; 10] = [
        Format::Lcov,
        Format::Cobertura,
        Format::Jacoco,
        Format::Clover,
        Format::Opencover,
        Format::Dotcover,
        Format::Phpunit,
        Format::Go,
        Format::Codacy,
        Format::Simplecov,
    ];

    /// The name in URLs, JSON and `--format`: `lcov`, `cobertura`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Lcov => "lcov",
            Format::Cobertura => "cobertura",
            Format::Jacoco => "jacoco",
            Format::Clover => "clover",
            Format::Opencover => "opencover",
            Format::Dotcover => "dotcover",
            Format::Phpunit => "phpunit",
            Format::Go => "go",
            Format::Codacy => "codacy",
            Format::Simplecov => "simplecov",
        }
    }

    /// The format named `name` (case-insensitive; `go-coverprofile` as Datadog names Go's).
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name.trim().to_ascii_lowercase();
        let name = match name.as_str() {
            "go-coverprofile" | "gocover" | "golang" => "go",
            "xml" | "cobertura-xml" => "cobertura",
            other => other,
        };
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds on one report, from `[uploads]` in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the report after decompression.
    pub max_bytes: u64,
    /// Files in the report.
    pub max_files: usize,
    /// Line records (an XML `<line>`, an LCOV `DA:`, a line of a Go block).
    pub max_lines: u64,
    /// Only totals are wanted ([`summarize`]): the lines of each file whose records end (an
    /// LCOV section, a Cobertura class) go to a temporary file, so that memory holds one file's
    /// lines at a time, whatever the size of the report.
    pub totals_only: bool,
}

impl Default for Limits {
    /// 512 MiB, 200,000 files, 50,000,000 line records, every line kept.
    fn default() -> Self {
        Limits {
            max_bytes: 512 << 20,
            max_files: 200_000,
            max_lines: 50_000_000,
            totals_only: false,
        }
    }
}

/// Why a report was rejected, and where: the line and, for XML, the byte offset of the first
/// problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", where_text(*format, *line, *offset))]
pub struct ParseError {
    /// The format it was read as, when known.
    pub format: Option<Format>,
    /// 1-based line of the problem, when known.
    pub line: Option<u64>,
    /// Byte offset of the problem (XML), when known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

fn where_text(format: Option<Format>, line: Option<u64>, offset: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(f) = format {
        parts.push(f.to_string());
    }
    if let Some(l) = line {
        parts.push(format!("line {l}"));
    }
    if let Some(o) = offset {
        parts.push(format!("byte {o}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}: ", parts.join(", "))
    }
}

/// How every message about a size limit starts.
const OVER_LIMIT: &str = "the report is over its limit of";

impl ParseError {
    /// Whether the report was refused for its size (bytes, files or line records) rather than
    /// for its content.
    pub fn is_over_limit(&self) -> bool {
        self.message.starts_with(OVER_LIMIT)
    }

    /// A problem with no place.
    pub fn new(format: Option<Format>, message: impl Into<String>) -> Self {
        ParseError {
            format,
            line: None,
            offset: None,
            message: message.into(),
        }
    }

    /// A problem at a line.
    pub fn at_line(format: Format, line: u64, message: impl Into<String>) -> Self {
        ParseError {
            format: Some(format),
            line: Some(line),
            offset: None,
            message: message.into(),
        }
    }
}

/// Reads a report in `format` (detected from its first bytes when `None`) and says which format
/// it was read as; gzip-compressed input is decompressed first. Everything is bounded by
/// `limits`.
pub fn parse(
    input: impl Read,
    format: Option<Format>,
    limits: &Limits,
) -> Result<(Report, Format), ParseError> {
    let limits = Limits {
        totals_only: false,
        ..*limits
    };
    read(input, format, &limits).map(|(builder, format)| (builder.finish(), format))
}

/// The totals of a report, as [`parse`] reads it, in memory that does not grow with the
/// report (see [`Limits::totals_only`]).
pub fn summarize(
    input: impl Read,
    format: Option<Format>,
    limits: &Limits,
) -> Result<(Totals, Format), ParseError> {
    let limits = Limits {
        totals_only: true,
        ..*limits
    };
    let (builder, format) = read(input, format, &limits)?;
    let totals = builder
        .totals()
        .map_err(|m| ParseError::new(Some(format), m))?;
    Ok((totals, format))
}

fn read(
    input: impl Read,
    format: Option<Format>,
    limits: &Limits,
) -> Result<(report::ReportBuilder, Format), ParseError> {
    let mut input = input::Input::new(input, limits.max_bytes)?;
    let format = match format {
        Some(f) => f,
        None => detect(input.head()).ok_or_else(|| {
            ParseError::new(
                None,
                format!(
                    "the report's format is not recognised (give one of: {})",
                    Format::ALL.map(Format::as_str).join(", ")
                ),
            )
        })?,
    };
    let result = match format {
        Format::Lcov => lcov::parse(&mut input, limits),
        Format::Go => golang::parse(&mut input, limits),
        Format::Codacy => codacy::parse(&mut input, limits),
        Format::Simplecov => simplecov::parse(&mut input, limits),
        xml_format => xml::parse(xml_format, &mut input, limits),
    };
    result.map(|builder| (builder, format)).map_err(|mut e| {
        e.format.get_or_insert(format);
        if let Some(limit) = input.over_limit() {
            e = ParseError::new(Some(format), limit);
        }
        e
    })
}

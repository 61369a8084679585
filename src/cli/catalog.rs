//! `rubric catalog`: load the catalog and show how every entity maps to its repository and
//! Codecov project, then the warnings and errors. Exit 1 when any error.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::width::output_width;
use super::{CliResult, Global, missing};
use crate::catalog::{Catalog, CatalogSources, CodecovProject, MappedBy, Repository};
use crate::diag::Diagnostic;
use crate::scorecard::report::layout::{fit_table, wrap};

/// Output formats of `rubric catalog`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CatalogFormat {
    /// A table for people.
    #[default]
    Table,
    /// JSON: `{"entities": [...], "warnings": [...], "errors": [...]}`.
    Json,
}

/// `rubric catalog`.
#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    /// Folder of entity descriptors (default: `[catalog] path`).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
}

/// Runs `rubric catalog`.
pub async fn run(args: CatalogArgs, g: &Global) -> CliResult {
    let cfg = g.load_config()?;
    let given = args.catalog.is_some();
    let mut sources = CatalogSources::from_config(&cfg);
    if let Some(dir) = args.catalog {
        sources = sources.with_dir(dir);
    }
    // A folder that is not there is a configuration error (exit 2), as for every command; the
    // configured one may be missing when a Backstage catalog is the source.
    if let Some(dir) = &sources.dir
        && !dir.exists()
        && (given || sources.backstage.is_none())
    {
        return Err(missing("catalog", dir, "--catalog DIR"));
    }
    let catalog = Catalog::load_sources(&sources).await;
    match args.format {
        CatalogFormat::Json => {
            say!("{}", super::json_document(&report(&catalog))?);
        }
        CatalogFormat::Table => super::emit(&render_table(&catalog, output_width())),
    }
    Ok(if catalog.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The JSON document of `rubric catalog --format json`.
#[derive(Debug, Serialize)]
pub struct CatalogReport<'a> {
    /// Every entity that loaded.
    pub entities: Vec<EntityRow<'a>>,
    /// Warnings (they exclude nothing).
    pub warnings: Vec<DiagnosticRow>,
    /// Errors (each excluded its entity, or its file when the file is malformed).
    pub errors: Vec<DiagnosticRow>,
}

/// One entity of [`CatalogReport`].
#[derive(Debug, Serialize)]
pub struct EntityRow<'a> {
    /// The tag.
    pub tag: &'a str,
    /// Where it was read.
    pub source: SourceRow,
    /// The entity type.
    #[serde(rename = "type")]
    pub entity_type: &'a str,
    /// Its git repository, or null.
    pub repository: Option<&'a Repository>,
    /// Its Codecov project (`service`, `owner`, `repo`, `flag`, `account`, `mapped_by`), or null.
    pub codecov: Option<&'a CodecovProject>,
    /// Why it is unmapped, or null.
    pub unmapped_reason: Option<&'a str>,
}

/// A source position of [`EntityRow`].
#[derive(Debug, Serialize)]
pub struct SourceRow {
    /// File (relative to the catalog folder) or URL.
    pub file: String,
    /// 1-based line; 0 for an HTTP source.
    pub line: usize,
}

/// A warning or error of [`CatalogReport`].
#[derive(Debug, Serialize)]
pub struct DiagnosticRow {
    /// The file or URL, or null.
    pub file: Option<String>,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl From<&Diagnostic> for DiagnosticRow {
    fn from(d: &Diagnostic) -> Self {
        DiagnosticRow {
            file: d.file.as_ref().map(|f| f.display().to_string()),
            line: d.line,
            column: d.column,
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

/// Builds the JSON report of a catalog.
pub fn report(c: &Catalog) -> CatalogReport<'_> {
    CatalogReport {
        entities: c
            .entities
            .iter()
            .map(|e| EntityRow {
                tag: &e.tag,
                source: SourceRow {
                    file: e.source.file.display().to_string(),
                    line: e.source.line,
                },
                entity_type: &e.entity_type,
                repository: e.repository.as_ref(),
                codecov: e.codecov.as_ref(),
                unmapped_reason: e.unmapped_reason.as_deref(),
            })
            .collect(),
        warnings: c
            .diagnostics
            .iter()
            .filter(|d| !d.is_error())
            .map(DiagnosticRow::from)
            .collect(),
        errors: c
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(DiagnosticRow::from)
            .collect(),
    }
}

/// The table when it fits in `width` columns (else one block per entity), then every
/// diagnostic with its caret, then a summary line.
pub fn render_table(c: &Catalog, width: usize) -> String {
    const HEADER: [&str; 6] = [
        "entity",
        "type",
        "source",
        "repository",
        "codecov",
        "mapped by / reason",
    ];
    let rows: Vec<[String; 6]> = c
        .entities
        .iter()
        .map(|e| {
            let source = if e.source.line > 0 {
                format!("{}:{}", e.source.file.display(), e.source.line)
            } else {
                e.source.file.display().to_string()
            };
            let repo = e.repository.as_ref().map_or_else(
                || "-".to_string(),
                |r| match &r.basepath {
                    Some(b) => format!("{} ({b})", r.url_path()),
                    None => r.url_path(),
                },
            );
            let (codecov, how) = match (&e.codecov, &e.unmapped_reason) {
                (Some(p), _) => {
                    let by = match p.mapped_by {
                        MappedBy::Descriptor => "descriptor",
                        MappedBy::Annotation => "annotation",
                        MappedBy::Discovery => "discovery",
                    };
                    let how = match &p.account {
                        Some(a) => format!("{by} (account {a})"),
                        None => by.to_string(),
                    };
                    (p.describe(), how)
                }
                (None, reason) => (
                    "-".to_string(),
                    format!("unmapped: {}", reason.as_deref().unwrap_or("unknown")),
                ),
            };
            [
                e.tag.clone(),
                e.entity_type.clone(),
                source,
                repo,
                codecov,
                how,
            ]
        })
        .collect();
    let cells: Vec<[&str; 6]> = rows
        .iter()
        .map(|r| r.each_ref().map(String::as_str))
        .collect();
    let mut out = String::new();
    match fit_table(HEADER, &cells, width) {
        Some(table) => out.push_str(&format!("{table}\n")),
        // `entity`, then one line per other column.
        None => {
            for row in &cells {
                wrap(&mut out, row[0], width, 0, 2);
                for (name, cell) in HEADER.iter().zip(row).skip(1) {
                    wrap(&mut out, &format!("{name}: {cell}"), width, 2, 4);
                }
            }
        }
    }
    for d in &c.diagnostics {
        out.push('\n');
        out.push_str(&d.to_string());
    }
    let mapped = c.entities.iter().filter(|e| e.codecov.is_some()).count();
    let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = c.diagnostics.len() - errors;
    out.push_str(&format!(
        "\n{} entities: {mapped} mapped, {} unmapped; {errors} error{}, {warnings} warning{}\n",
        c.entities.len(),
        c.entities.len() - mapped,
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
    ));
    out
}

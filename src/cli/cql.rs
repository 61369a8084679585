//! `rubric cql check|eval|functions`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::{CliError, CliResult, Global, TextFormat};
use crate::catalog::{Catalog, CatalogSources};
use crate::cql::{Program, Registry, SlotTable};
use crate::diag::Diagnostic;
use crate::providers::Providers;
use crate::scorecard::report::InputReport;

/// `rubric cql ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CqlCommand {
    /// Compile an expression (or every line of a file) and report errors and warnings.
    /// Exit 1 if any expression fails.
    Check {
        /// The expression.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        expr: Option<String>,
        /// A file with one expression per line (blank lines and lines starting with `#` skipped).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Output format: `json` prints `{"ok": true, "warnings": [...]}` or
        /// `{"ok": false, "error": {"message", "line", "column"}}` per expression.
        #[arg(long, value_enum, default_value_t)]
        format: TextFormat,
    },
    /// Evaluate an expression against one catalog entity (with its providers) and explain it.
    Eval {
        /// The expression.
        expr: String,
        /// The entity's tag or Backstage ref.
        #[arg(long)]
        entity: String,
        /// Folder of entity descriptors (default: `[catalog] path`).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
        /// Output format: `json` prints `{"expression", "entity", "value", "verdict",
        /// "explanation", "inputs", "captures", "warnings"}`.
        #[arg(long, value_enum, default_value_t)]
        format: TextFormat,
    },
    /// List every function: name, parameters, return type, data source and documentation.
    Functions {
        /// Output format: `json` prints `{"functions": [...], "methods": [...],
        /// "unsupported_namespaces": [...]}`.
        #[arg(long, value_enum, default_value_t)]
        format: TextFormat,
    },
}

/// Runs `rubric cql ...`.
pub async fn run(cmd: CqlCommand, g: &Global) -> CliResult {
    match cmd {
        CqlCommand::Check { expr, file, format } => {
            let (text, file) = match (expr, file) {
                (Some(e), _) => (e, None),
                (None, Some(f)) => {
                    let text = std::fs::read_to_string(&f).map_err(|e| {
                        CliError::Usage(format!("cannot read {}: {e}", f.display()))
                    })?;
                    (text, Some(f))
                }
                (None, None) => return Err(CliError::Usage("give an expression or --file".into())),
            };
            let (out, failed) = check(&text, file.as_deref(), format);
            super::emit(&out);
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        CqlCommand::Functions { format } => {
            super::emit(&functions(Registry::standard(), format));
            Ok(ExitCode::SUCCESS)
        }
        CqlCommand::Eval {
            expr,
            entity,
            catalog,
            format,
        } => eval(&expr, &entity, catalog, format, g).await,
    }
}

/// The expressions of a check: the whole text for a single expression, or each non-blank,
/// non-comment line of a file, with its 1-based line number.
fn expressions(text: &str, from_file: bool) -> Vec<(usize, &str)> {
    if !from_file {
        return vec![(1, text)];
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// Checks every expression; returns the output and whether any failed.
pub fn check(text: &str, file: Option<&std::path::Path>, format: TextFormat) -> (String, bool) {
    let mut out = String::new();
    let mut failed = false;
    for (line, src) in expressions(text, file.is_some()) {
        let place = |d: Diagnostic| match file {
            Some(f) => d.embedded_at(f, line, 1),
            None => d,
        };
        let mut slots = SlotTable::new();
        let result = Program::compile(src, Registry::standard(), &mut slots);
        failed |= result.is_err();
        match (format, result) {
            (TextFormat::Json, Ok(c)) => {
                let warnings: Vec<_> = c
                    .warnings
                    .into_iter()
                    .map(|w| position_json(&place(w)))
                    .collect();
                let _ = writeln!(out, "{}", json!({"ok": true, "warnings": warnings}));
            }
            (TextFormat::Json, Err(errors)) => {
                let first = errors.into_iter().next().map(place);
                let error = first
                    .as_ref()
                    .map(position_json)
                    .unwrap_or_else(|| json!({}));
                let _ = writeln!(out, "{}", json!({"ok": false, "error": error}));
            }
            (TextFormat::Text, Ok(c)) => {
                let _ = writeln!(out, "ok: {}", src.trim());
                for w in c.warnings {
                    let _ = write!(out, "{}", place(w));
                }
            }
            (TextFormat::Text, Err(errors)) => {
                for e in errors {
                    let _ = write!(out, "{}", place(e));
                }
            }
        }
    }
    (out, failed)
}

/// `{"message", "line", "column"}`; a hint is appended to the message.
fn position_json(d: &Diagnostic) -> serde_json::Value {
    let message = match &d.hint {
        Some(h) => format!("{}; {h}", d.message),
        None => d.message.clone(),
    };
    json!({"message": message, "line": d.line, "column": d.column})
}

/// The registry as text (grouped by namespace) or as one JSON document.
pub fn functions(reg: &Registry, format: TextFormat) -> String {
    let mut out = String::new();
    let unsupported: Vec<&str> = reg
        .namespaces()
        .iter()
        .filter(|n| !n.implemented)
        .map(|n| n.name)
        .collect();
    if format == TextFormat::Json {
        let functions: Vec<_> = reg.functions().iter().map(|f| {
            let params: Vec<_> = f
                .params
                .iter()
                .map(|p| json!({"name": p.name, "type": p.ty.name(), "required": p.required, "default": p.default}))
                .collect();
            json!({"name": f.qualified_name(), "signature": f.signature(), "params": params,
                "returns": f.returns.name(), "source": f.source, "doc": f.doc})
        }).collect();
        let methods: Vec<_> = reg.methods().iter().map(|m| {
            json!({"name": format!("{}.{}", m.receiver.name(), m.name), "signature": method_signature(m),
                "returns": m.returns.name(), "source": "builtin", "doc": m.doc})
        }).collect();
        let doc = json!({"functions": functions, "methods": methods,
            "unsupported_namespaces": unsupported});
        return format!("{doc:#}\n");
    }
    // Each namespace once, in registry order (its functions need not be next to each other).
    let mut namespaces: Vec<&str> = Vec::new();
    for f in reg.functions() {
        if !namespaces.contains(&f.namespace) {
            namespaces.push(f.namespace);
        }
    }
    for ns in namespaces {
        let title = if ns.is_empty() {
            "global functions".to_string()
        } else {
            format!("namespace {ns}")
        };
        let _ = writeln!(out, "{title}");
        if let Some(n) = reg.namespace(ns).filter(|n| n.bare.is_some()) {
            let _ = writeln!(
                out,
                "  {} -> object | null  [{}]\n      {}",
                n.name, n.source, n.doc
            );
        }
        for f in reg.functions().iter().filter(|f| f.namespace == ns) {
            let _ = writeln!(out, "  {}  [{}]\n      {}", f.signature(), f.source, f.doc);
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "methods");
    for m in reg.methods() {
        let _ = writeln!(out, "  {}\n      {}", method_signature(m), m.doc);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Cortex namespaces rubric has no data for (rules load with a warning; evaluating them is an error outcome):\n  {}",
        unsupported.join(", ")
    );
    out
}

fn method_signature(m: &crate::cql::registry::Method) -> String {
    let params: Vec<String> = m
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.ty))
        .collect();
    if m.property {
        format!("{}.{} -> {}", m.receiver, m.name, m.returns)
    } else {
        format!(
            "{}.{}({}) -> {}",
            m.receiver,
            m.name,
            params.join(", "),
            m.returns
        )
    }
}

async fn eval(
    expr: &str,
    tag: &str,
    catalog_dir: Option<PathBuf>,
    format: TextFormat,
    g: &Global,
) -> CliResult {
    let cfg = g.load_config()?;
    let mut slots = SlotTable::new();
    let compiled = match Program::compile(expr, Registry::standard(), &mut slots) {
        Ok(c) => c,
        Err(errors) => {
            for e in errors {
                eprint!("{e}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    if format == TextFormat::Text {
        for w in &compiled.warnings {
            eprint!("{w}");
        }
    }
    let mut sources = CatalogSources::from_config(&cfg);
    if let Some(dir) = catalog_dir {
        sources = sources.with_dir(dir);
    }
    let catalog = Catalog::load_sources(&sources).await;
    let Some(entity) = catalog.get(tag) else {
        let tags = catalog.entities.iter().map(|e| e.tag.as_str());
        let hint = crate::diag::suggest(tag, tags)
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        return Err(CliError::Usage(format!(
            "no entity {tag} in the catalog{hint}"
        )));
    };
    let providers = Providers::from_config(&cfg)?.with(
        crate::store::coverage_facts::UploadsProvider::from_config(&cfg, None),
    );
    let facts = providers
        .fetch(&catalog, &[entity], slots.keys())
        .await
        .pop()
        .unwrap_or_default();
    let lookup = providers.lookup_for(entity, &catalog);
    let e = compiled
        .program
        .evaluate_with(&facts, &lookup, crate::clock::now());
    if format == TextFormat::Json {
        let inputs: Vec<InputReport> = slots
            .keys()
            .iter()
            .zip(&facts)
            .chain(e.looked_up.iter().map(|(k, f)| (k, f)))
            .map(|(key, fact)| InputReport::new(key, fact))
            .collect();
        let captures: serde_json::Map<_, _> = e
            .captures
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        let warnings: Vec<_> = compiled.warnings.iter().map(position_json).collect();
        let doc = json!({"expression": expr, "entity": entity.tag, "value": e.value.to_json(),
            "verdict": e.verdict.as_str(), "explanation": e.explanation, "inputs": inputs,
            "captures": captures, "warnings": warnings});
        say!("{doc:#}");
        return Ok(ExitCode::SUCCESS);
    }
    say!("value: {}", e.value);
    say!("verdict: {}", e.verdict.as_str());
    say!("explanation: {}", e.explanation);
    for (name, v) in &e.captures {
        say!("capture {name}: {v}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_json_lines_follow_the_contract() {
        let text = "codecov.codeCoverage() >= 95\n\n# a comment\ncodecov.codeCoverag() >= 95\n!entity.tag() == 'x'\n";
        let (out, failed) = check(
            text,
            Some(std::path::Path::new("rules.cql")),
            TextFormat::Json,
        );
        assert!(failed);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], json!({"ok": true, "warnings": []}));
        assert_eq!(
            lines[1],
            json!({"ok": false, "error": {"message": "unknown function codecov.codeCoverag; did you mean codecov.codeCoverage?", "line": 4, "column": 9}})
        );
        assert_eq!(lines[2]["ok"], json!(true));
        assert_eq!(lines[2]["warnings"][0]["line"], json!(5));
    }

    #[test]
    fn check_text_shows_carets() {
        let (out, failed) = check("codecov.codeCoverage( >= 95", None, TextFormat::Text);
        assert!(failed);
        assert_eq!(
            out,
            "error: expected an expression, found `>=`\n  --> 1:23\n  |\n1 | codecov.codeCoverage( >= 95\n  |                       ^^\n  = hint: expected `)` to close the `(` at 1:21\n"
        );
        let (out, failed) = check("hasGroup('x')", None, TextFormat::Text);
        assert!(!failed);
        assert_eq!(out, "ok: hasGroup('x')\n");
    }

    #[test]
    fn functions_lists_the_registry() {
        let text = functions(Registry::standard(), TextFormat::Text);
        assert!(
            text.contains("codecov.codeCoverage(flag?: string) -> number  [codecov]"),
            "{text}"
        );
        assert!(
            text.contains("  list.any(lambda: any) -> boolean\n      Whether the lambda"),
            "{text}"
        );
        for title in text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.is_empty())
        {
            let times = text.lines().filter(|l| *l == title).count();
            assert_eq!(times, 1, "{title} is listed {times} times");
        }
    }

    #[test]
    fn functions_json_is_one_document() {
        let json = functions(Registry::standard(), TextFormat::Json);
        let doc: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
        let names: Vec<&str> = doc["functions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"codecov.codeCoverage"), "{names:?}");
        assert!(
            doc["methods"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "list.any")
        );
        assert!(!doc["unsupported_namespaces"].as_array().unwrap().is_empty());
    }
}

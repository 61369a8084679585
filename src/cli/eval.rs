//! `rubric eval`, `rubric demo`, `rubric scorecard validate` and `rubric gate`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::width::output_width;
use super::{
    CliError, CliResult, Global, TextFormat, emit, emit_with, existing_dir, json_document,
};
use crate::catalog::{Catalog, CatalogSources, Entity};
use crate::config::Config;
use crate::cql::Registry;
use crate::diag::Diagnostic;
use crate::facts::{Fact, FactKey};
use crate::pipeline::{Pipeline, StreamedReport};
use crate::providers::{Providers, load_facts_file};
use crate::scorecard::Scorecard;
use crate::scorecard::report::{self, DiagnosticReport};
use crate::store::coverage_facts::UploadsProvider;
use crate::value::Value;

/// Output formats of `rubric eval` and `rubric demo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// The JSON contract (`{"scorecards": [...]}`).
    Json,
    /// Markdown, for a pull-request comment.
    Markdown,
    /// JUnit XML, for CI dashboards.
    Junit,
}

impl Format {
    /// Writes `report` to `out` as its entities are evaluated: in JSON one entity at a time
    /// (the bytes of [`report::EvalReport::to_json`] and a newline), in the other formats one
    /// scorecard at a time (JUnit, whose totals come first, keeps the text until the end).
    fn write(self, report: &StreamedReport<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        let cards = || {
            report
                .scorecards
                .iter()
                .map(|card| card.with_entities(|results| results.iter().collect()))
        };
        let mut text = |t: &str| out.write_all(t.as_bytes());
        match self {
            Format::Table => report::table::render_each(cards(), output_width(), text),
            Format::Json => {
                // A buffer of its own type: the serializer's many small writes are calls it can
                // inline, not calls through `dyn Write`.
                let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut *out);
                let mut json =
                    serde_json::Serializer::with_formatter(&mut buffered, Pretty::default());
                serde::Serialize::serialize(report, &mut json)?;
                buffered.write_all(b"\n")?;
                buffered.flush()
            }
            Format::Markdown => report::markdown::render_each(cards(), text),
            Format::Junit => text(&report::junit::render_cards(report.evaluated_at, cards())),
        }
    }
}

/// serde_json's pretty printing (two spaces a level), byte for byte, with each line break and
/// its indentation written at once: serde_json writes the indentation two bytes at a time,
/// which in a report of 100 MB is tens of millions of writes.
#[derive(Debug, Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

/// Indentation written at once up to this depth (a report is about 10 levels deep).
const MAX_DEPTH_AT_ONCE: usize = 64;

/// `,`, a line break, and the indentation of [`MAX_DEPTH_AT_ONCE`] levels.
static LINE_BREAK: [u8; 2 + 2 * MAX_DEPTH_AT_ONCE] = {
    let mut bytes = [b' '; 2 + 2 * MAX_DEPTH_AT_ONCE];
    bytes[0] = b',';
    bytes[1] = b'\n';
    bytes
};

impl Pretty {
    /// A line break (after a comma unless `first`) and the indentation of the current depth.
    fn line_break<W: ?Sized + Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        let from = usize::from(first);
        if self.depth <= MAX_DEPTH_AT_ONCE {
            return w.write_all(&LINE_BREAK[from..2 + 2 * self.depth]);
        }
        w.write_all(&LINE_BREAK[from..2])?;
        (0..self.depth).try_for_each(|_| w.write_all(b"  "))
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line_break(w, true)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line_break(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line_break(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `rubric eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Folder of entity descriptors (default from config: `entities`).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Folder of scorecards (default from config: `scorecards`).
    #[arg(long, value_name = "DIR")]
    pub scorecards: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Evaluate offline from a facts file written by `rubric sync --out FILE` (no requests).
    #[arg(long, value_name = "FILE")]
    pub facts: Option<PathBuf>,
    /// The store `coverage.*` reads uploads from (default `[store] url`, the service's); opened
    /// only when a scorecard names `coverage.*`.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `rubric demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `rubric scorecard ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ScorecardCommand {
    /// Parse every scorecard and compile every rule; report all errors at once.
    Validate {
        /// Folder of scorecards (default from config).
        dir: Option<PathBuf>,
        /// Output format: `json` prints `{"scorecards", "rules", "errors", "warnings",
        /// "diagnostics": [...]}` (diagnostics as in `rubric eval --format json`).
        #[arg(long, value_enum, default_value_t)]
        format: TextFormat,
    },
}

/// `rubric gate`.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// The scorecard to gate on (needed by --min-level and --min-score).
    #[arg(long, value_name = "TAG")]
    pub scorecard: Option<String>,
    /// The entity to gate (tag or Backstage ref).
    #[arg(long, value_name = "TAG")]
    pub entity: String,
    /// The lowest acceptable level (by name).
    #[arg(long, value_name = "NAME", conflicts_with = "min_score")]
    pub min_level: Option<String>,
    /// The lowest acceptable score percentage.
    #[arg(long, value_name = "PCT")]
    pub min_score: Option<f64>,
    /// The lowest acceptable total coverage of the entity's Codecov project, in percent.
    #[arg(long, value_name = "PCT")]
    pub min_coverage: Option<f64>,
    /// The lowest acceptable patch coverage of pull request --pull, in percent.
    #[arg(long, value_name = "PCT", requires = "pull")]
    pub min_patch_coverage: Option<f64>,
    /// The pull request whose patch coverage --min-patch-coverage checks.
    #[arg(long, value_name = "N", requires = "min_patch_coverage")]
    pub pull: Option<u64>,
    /// Folder of entity descriptors (default from config).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Folder of scorecards (default from config).
    #[arg(long, value_name = "DIR")]
    pub scorecards: Option<PathBuf>,
    /// Output format: `json` prints `{"entity", "passed", "scorecard", "result", "checks",
    /// "failures"}` (`result` as in `rubric eval --format json`).
    #[arg(long, value_enum, default_value_t)]
    pub format: TextFormat,
    /// The store `coverage.*` reads uploads from (default `[store] url`).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprint!("{d}");
    }
}

/// The catalog from `dir` (and a Backstage catalog over HTTP when configured).
async fn load_catalog(cfg: &Config, dir: &Path) -> Catalog {
    Catalog::load_sources(&CatalogSources::from_config(cfg).with_dir(dir)).await
}

/// Loads and reports the catalog and scorecards, then evaluates them with facts from the
/// providers, or from `facts_file` when given (no requests then), writing the report on stdout
/// in `format` as it is evaluated.
async fn evaluate(
    cfg: &Config,
    catalog_dir: &Path,
    scorecard_dir: &Path,
    facts_file: Option<&Path>,
    store: Option<&str>,
    format: Format,
) -> Result<(), CliError> {
    let facts_file = match facts_file {
        Some(path) => {
            Some(load_facts_file(path).map_err(|e| CliError::Usage(format!("facts file {e}")))?)
        }
        None => None,
    };
    let catalog = load_catalog(cfg, catalog_dir).await;
    print_diagnostics(&catalog.diagnostics);
    let (scorecards, mut diags) = Scorecard::load_dir(scorecard_dir, Registry::standard());
    diags.extend(scorecards.iter().flat_map(|c| c.check_exemptions(&catalog)));
    print_diagnostics(&diags);
    let now = crate::clock::now();
    let providers = match facts_file {
        Some(file) => Providers::from_facts_file(file),
        None => Providers::from_config(cfg)?.with(UploadsProvider::from_config(cfg, store)),
    };
    let pipeline = Pipeline {
        catalog: &catalog,
        scorecards: &scorecards,
        providers: &providers,
    };
    let entities: Vec<&Entity> = catalog.entities.iter().collect();
    let (plan, facts) = pipeline.fetch(&entities).await;
    let mut report = pipeline.streamed(&entities, &plan, &facts, now);
    report.diagnostics = catalog
        .diagnostics
        .iter()
        .chain(&diags)
        .map(DiagnosticReport::from)
        .collect();
    emit_with(|out| format.write(&report, out));
    // The process ends after this: the catalog, the facts and the providers' response caches
    // are left to the operating system (freeing them entry by entry takes a noticeable share of
    // a run; nothing of theirs needs flushing).
    drop(report);
    drop(entities);
    std::mem::forget(facts);
    std::mem::forget(providers);
    std::mem::forget(catalog);
    Ok(())
}

/// Runs `rubric eval`: exit 0 when evaluation ran (even with failing rules), 2 for unusable
/// configuration.
pub async fn eval(args: EvalArgs, g: &Global) -> CliResult {
    let cfg = g.load_config()?;
    let catalog_dir = existing_dir(args.catalog, &cfg.catalog.path, "catalog", "--catalog DIR")?;
    let scorecard_dir = existing_dir(
        args.scorecards,
        &cfg.scorecards.path,
        "scorecards",
        "--scorecards DIR",
    )?;
    evaluate(
        &cfg,
        &catalog_dir,
        &scorecard_dir,
        args.facts.as_deref(),
        args.store.as_deref(),
        args.format,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The sample folder `name`: under the current directory when it is there, else the crate's.
fn sample_dir(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.is_dir() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }
}

/// Runs `rubric demo`: the sample catalog and scorecards against the built-in Codecov fixture
/// server on 127.0.0.1; no network, no token.
pub async fn demo(args: DemoArgs, g: &Global) -> CliResult {
    let mut cfg = g.load_config()?;
    let server = crate::demo::fixture::start().await.map_err(|e| {
        CliError::Other(anyhow::anyhow!("cannot start the demo Codecov server: {e}"))
    })?;
    cfg.codecov.url = server.url();
    for account in &mut cfg.codecov.accounts {
        account.url = Some(server.url());
    }
    evaluate(
        &cfg,
        &sample_dir("entities"),
        &sample_dir("scorecards"),
        None,
        // The demo has no uploads of its own and leaves the configured store alone.
        Some("sqlite::memory:"),
        args.format,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `rubric scorecard validate`: every scorecard parsed, every rule compiled, every error
/// printed; exit 1 on any error.
pub async fn scorecard(cmd: ScorecardCommand, g: &Global) -> CliResult {
    let ScorecardCommand::Validate { dir, format } = cmd;
    let cfg = g.load_config()?;
    let dir = existing_dir(
        dir,
        &cfg.scorecards.path,
        "scorecards",
        "the folder as `rubric scorecard validate DIR`",
    )?;
    let (cards, diags) = Scorecard::load_dir(&dir, Registry::standard());
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let rules: usize = cards.iter().map(|c| c.spec.rules.len()).sum();
    match format {
        TextFormat::Text => {
            print_diagnostics(&diags);
            say!(
                "{} scorecard(s), {rules} rule(s): {errors} error(s), {warnings} warning(s)",
                cards.len()
            );
        }
        TextFormat::Json => {
            let diagnostics: Vec<DiagnosticReport> =
                diags.iter().map(DiagnosticReport::from).collect();
            let doc = serde_json::json!({"scorecards": cards.len(), "rules": rules,
                "errors": errors, "warnings": warnings, "diagnostics": diagnostics});
            say!("{}", json_document(&doc)?);
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One `--min-coverage` or `--min-patch-coverage` condition and what the fact said.
#[derive(Debug, serde::Serialize)]
struct GateCheck {
    /// The fact as a CQL call: `codecov.codeCoverage()`.
    fact: String,
    /// Its value (null when missing).
    value: serde_json::Value,
    /// The lowest acceptable value.
    #[serde(serialize_with = "report::number")]
    min: f64,
    /// Whether the value meets `min`.
    met: bool,
    /// `codecov.codeCoverage() = 61.2 (github/acme/api), needs >= 90`.
    reason: String,
}

/// What `rubric gate` found: printed as lines, or as one JSON document.
#[derive(Debug, serde::Serialize)]
struct GateReport {
    entity: String,
    passed: bool,
    /// The scorecard of `--min-level` or `--min-score`.
    scorecard: Option<String>,
    /// The entity's result on it, as `rubric eval --format json` reports it.
    result: Option<report::EntityReport>,
    checks: Vec<GateCheck>,
    /// Each condition that does not hold, as a sentence.
    failures: Vec<String>,
}

impl GateReport {
    /// The lines people read: the result, the rules not passing, next steps when the gate
    /// fails, each coverage check, then the verdict.
    fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if let (Some(card), Some(result)) = (&self.scorecard, &self.result) {
            let _ = writeln!(
                out,
                "{} on {card}: level {}, score {}",
                self.entity,
                result.level_text(),
                result.score_text()
            );
            for rule in result.rules.iter().filter(|r| {
                !r.outcome.is_passing() && r.outcome != crate::scorecard::score::Outcome::Skipped
            }) {
                let _ = writeln!(
                    out,
                    "  {}: {}: {}",
                    rule.outcome.as_str(),
                    rule.title,
                    rule.message
                );
            }
            if !self.passed && !result.next_steps.is_empty() {
                let target = result
                    .next_level
                    .as_deref()
                    .map(|l| format!(" to reach {l}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "Next steps{target}:");
                for (i, step) in result.next_steps.iter().enumerate() {
                    let _ = writeln!(out, "  {}. {}: {}", i + 1, step.title, step.message);
                }
            }
        }
        for check in &self.checks {
            let verdict = if check.met { "pass" } else { "fail" };
            let _ = writeln!(out, "{} {verdict}: {}", self.entity, check.reason);
        }
        if self.passed {
            out.push_str("gate passed\n");
        } else {
            out.push_str("gate failed:\n");
            for f in &self.failures {
                let _ = writeln!(out, "  - {f}");
            }
        }
        out
    }
}

/// Whether a coverage fact meets `min`, and the sentence that says so:
/// `codecov.codeCoverage() = 61.2 (github/acme/api), needs >= 90`.
fn coverage_check(key: &FactKey, min: f64, fact: &Fact) -> GateCheck {
    let label = match key.arg("id") {
        Some(id) => format!("codecov.pullRequest({id}).patchCoverage()"),
        None => key.to_string(),
    };
    let origin = fact
        .origin
        .as_deref()
        .map(|o| format!(" ({o})"))
        .unwrap_or_default();
    let needs = format!("needs >= {}", report::format_number(min));
    let (met, reason) = match (&fact.value, fact.null_reason()) {
        (Value::Number(n), None) => (
            *n >= min,
            format!("{label} = {}{origin}, {needs}", report::format_number(*n)),
        ),
        (_, Some(reason)) => (
            false,
            format!("{label} is null ({reason}){origin}, {needs}"),
        ),
        (other, None) => (
            false,
            format!("{label} = {other}{origin} is not a number, {needs}"),
        ),
    };
    GateCheck {
        fact: label,
        value: fact.value.to_json(),
        min,
        met,
        reason,
    }
}

/// Runs `rubric gate`: exit 0 when every condition holds, 1 when one does not (printing what
/// fails and the next steps), 2 on configuration errors.
pub async fn gate(args: GateArgs, g: &Global) -> CliResult {
    let wants_scorecard = args.min_level.is_some() || args.min_score.is_some();
    if !wants_scorecard && args.min_coverage.is_none() && args.min_patch_coverage.is_none() {
        return Err(CliError::Usage(
            "give a condition: --min-level, --min-score, --min-coverage or --min-patch-coverage"
                .into(),
        ));
    }
    if wants_scorecard && args.scorecard.is_none() {
        return Err(CliError::Usage(
            "--min-level and --min-score need --scorecard TAG".into(),
        ));
    }
    let cfg = g.load_config()?;
    let catalog_dir = existing_dir(
        args.catalog.clone(),
        &cfg.catalog.path,
        "catalog",
        "--catalog DIR",
    )?;
    let catalog = load_catalog(&cfg, &catalog_dir).await;
    print_diagnostics(
        &catalog
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect::<Vec<_>>(),
    );
    let Some(entity) = catalog.get(&args.entity) else {
        let hint = crate::diag::suggest(
            &args.entity,
            catalog.entities.iter().map(|e| e.tag.as_str()),
        )
        .map(|t| format!(" (did you mean `{t}`?)"))
        .unwrap_or_default();
        return Err(CliError::Usage(format!(
            "no entity `{}` in {}{hint}",
            args.entity,
            catalog_dir.display()
        )));
    };
    let providers = Providers::from_config(&cfg)?
        .with(UploadsProvider::from_config(&cfg, args.store.as_deref()));
    let mut gate = GateReport {
        entity: entity.tag.clone(),
        passed: false,
        scorecard: args.scorecard.clone(),
        result: None,
        checks: Vec::new(),
        failures: Vec::new(),
    };
    let now = crate::clock::now();

    if let Some(tag) = &args.scorecard {
        let dir = existing_dir(
            args.scorecards.clone(),
            &cfg.scorecards.path,
            "scorecards",
            "--scorecards DIR",
        )?;
        let (cards, diags) = Scorecard::load_dir(&dir, Registry::standard());
        print_diagnostics(
            &diags
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect::<Vec<_>>(),
        );
        let Some(card) = cards.into_iter().find(|c| &c.spec.tag == tag) else {
            return Err(CliError::Usage(format!(
                "no scorecard `{tag}` in {}",
                dir.display()
            )));
        };
        // Arguments first: a level the scorecard lacks is a usage error before any evaluation.
        let wanted_rank = match &args.min_level {
            Some(min) => {
                let levels = card.report().levels;
                let Some(wanted) = levels.iter().find(|l| &l.name == min) else {
                    let names: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
                    return Err(CliError::Usage(format!(
                        "scorecard `{tag}` has no level `{min}` (levels: {})",
                        names.join(", ")
                    )));
                };
                Some(wanted.rank)
            }
            None => None,
        };
        let pipeline = Pipeline {
            catalog: &catalog,
            scorecards: std::slice::from_ref(&card),
            providers: &providers,
        };
        let mut report = pipeline.run(Some(&[entity]), now).await;
        let Some(result) = report.scorecards.pop().and_then(|mut c| c.entities.pop()) else {
            return Err(CliError::Usage(format!("scorecard `{tag}` gave no result")));
        };
        if let Some(why) = &result.skipped {
            gate.failures.push(format!(
                "{} is outside scorecard {}: {why}",
                entity.tag, card.spec.tag
            ));
        }
        if let (Some(min), Some(wanted)) = (&args.min_level, wanted_rank)
            && result.skipped.is_none()
            && result.rank.is_none_or(|rank| rank < wanted)
        {
            gate.failures
                .push(format!("level {} is below {min}", result.level_text()));
        }
        if let Some(min) = args.min_score
            && result.skipped.is_none()
            && result.percentage.unwrap_or(0.0) < min
        {
            gate.failures
                .push(format!("score {} is below {min}%", result.score_text()));
        }
        gate.result = Some(result);
    }

    let mut keys: Vec<(FactKey, f64)> = Vec::new();
    if let Some(min) = args.min_coverage {
        keys.push((FactKey::new("codecov", "codecov", "codeCoverage"), min));
    }
    if let (Some(min), Some(pull)) = (args.min_patch_coverage, args.pull) {
        let key = FactKey::new("codecov", "codecov", "pullRequest.patchCoverage")
            .with_arg("id", pull.into());
        keys.push((key, min));
    }
    if !keys.is_empty() {
        let wanted: Vec<FactKey> = keys.iter().map(|(k, _)| k.clone()).collect();
        let facts = providers
            .fetch(&catalog, &[entity], &wanted)
            .await
            .pop()
            .unwrap_or_default();
        for ((key, min), fact) in keys.iter().zip(&facts) {
            let check = coverage_check(key, *min, fact);
            if !check.met {
                gate.failures.push(check.reason.clone());
            }
            gate.checks.push(check);
        }
    }

    gate.passed = gate.failures.is_empty();
    match args.format {
        TextFormat::Text => emit(&gate.text()),
        TextFormat::Json => say!("{}", json_document(&gate)?),
    }
    Ok(if gate.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Empty and nested lists and objects, escapes, and nesting deeper than the indentation
    /// written at once.
    #[test]
    fn pretty_writes_serde_json_pretty_byte_for_byte() {
        let mut deep = serde_json::json!([1, {"k": []}]);
        for i in 0..(MAX_DEPTH_AT_ONCE + 5) {
            deep = serde_json::json!({ "level": i, "inner": [deep, {}] });
        }
        let value = serde_json::json!({
            "empty": [], "none": {}, "text": "a \"quoted\"\nline", "n": 1.5,
            "list": [null, true, [], [{}], {"a": {"b": [1, 2]}}],
            "deep": deep,
        });
        let mut ours = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut ours, Pretty::default());
        serde::Serialize::serialize(&value, &mut ser).unwrap();
        let theirs = serde_json::to_string_pretty(&value).unwrap();
        assert!(theirs.contains(&" ".repeat(2 * MAX_DEPTH_AT_ONCE + 2)));
        assert_eq!(String::from_utf8(ours).unwrap(), theirs);
    }
}

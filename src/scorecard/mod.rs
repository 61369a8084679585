//! Scorecards: ladders, weights, filters, exemptions → scores and explanations.
//!
//! A [`Scorecard`] is Cortex's exported scorecard YAML ([`model::ScorecardSpec`], read by
//! [`load`]) with every rule and filter query compiled once into one [`SlotTable`], so the
//! pipeline fetches the union of their facts once per entity. [`Scorecard::evaluate`] turns
//! one entity's facts into an [`report::EntityReport`]: outcomes, explanations, level, points
//! and next steps (pure scoring lives in [`score`]).

pub mod exemptions;
pub mod explain;
pub mod filter;
pub mod load;
pub mod model;
pub mod report;
pub mod score;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, Entity};
use crate::cql::{Program, Registry, SlotTable, Verdict};
use crate::diag::Diagnostic;
use crate::facts::{Fact, FactKey, Lookup};
use explain::{EntityMessages, FailureTemplates};
use model::{Exemption, FilterSpec, RuleSpec, ScorecardSpec, TextPosition};
use report::{EntityReport, InputReport, LevelReport, NextStep, RuleReport, ScorecardReport};
use score::{Outcome, RuleResult};

/// A loaded scorecard: its spec, its exemptions, and its rules compiled.
#[derive(Clone, Debug)]
pub struct Scorecard {
    /// The scorecard as its file states it.
    pub spec: ScorecardSpec,
    /// Exemptions from the file beside it (empty when exemptions are disabled).
    pub exemptions: Vec<Exemption>,
    slots: SlotTable,
    rules: Vec<Result<Program, Box<Diagnostic>>>,
    rule_filters: Vec<Option<CompiledFilter>>,
    filter: Option<CompiledFilter>,
    templates: FailureTemplates,
    source: String,
}

/// Compiles the expressions of one scorecard into its slot table, moving diagnostics into the
/// scorecard file.
struct RuleCompiler<'a> {
    reg: &'a Registry,
    slots: &'a mut SlotTable,
    file: &'a Path,
    src: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl RuleCompiler<'_> {
    /// Compiles one expression; errors become the scorecard's diagnostics, and the first one
    /// is kept as the reason its outcomes give.
    fn expression(&mut self, text: &str, at: TextPosition) -> Result<Program, Box<Diagnostic>> {
        let embed = |d| load::embed_diagnostic(d, self.file, self.src, at);
        match Program::compile(text, self.reg, self.slots) {
            Ok(compiled) => {
                self.diags.extend(compiled.warnings.into_iter().map(embed));
                Ok(compiled.program)
            }
            Err(errors) => {
                let errors: Vec<Diagnostic> = errors.into_iter().map(embed).collect();
                let first = errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| embed(Diagnostic::error("the expression does not compile")));
                self.diags.extend(errors);
                Err(Box::new(first))
            }
        }
    }

    /// Reports the problems of the expression of a rule that is broken anyway (a bad level, say),
    /// so that every problem shows at once, without adding its facts to the scorecard's slots.
    fn check_only(&mut self, text: &str, at: TextPosition) {
        if text.trim().is_empty() {
            return;
        }
        let slots = std::mem::replace(self.slots, SlotTable::new());
        let _ = self.expression(text, at);
        *self.slots = slots;
    }

    fn filter(&mut self, filter: &Option<FilterSpec>) -> Option<CompiledFilter> {
        filter.as_ref().map(|spec| CompiledFilter {
            spec: spec.clone(),
            query: spec.query.as_ref().map(|(q, at)| self.expression(q, *at)),
        })
    }
}

/// A filter whose CQL query is compiled into the scorecard's slot table.
#[derive(Clone, Debug)]
struct CompiledFilter {
    spec: FilterSpec,
    query: Option<Result<Program, Box<Diagnostic>>>,
}

/// Whether an entity is inside a filter.
enum Scope {
    In,
    Out(String),
    Broken(String),
}

impl Scorecard {
    /// Loads every scorecard (`*.yaml`, `*.yml`, recursively, sorted by tag) under `dir`, with
    /// the exemptions file beside each. Never fails as a whole: a bad file or rule is a
    /// diagnostic and the others load.
    pub fn load_dir(dir: &Path, reg: &Registry) -> (Vec<Scorecard>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        if !dir.is_dir() {
            diags.push(Diagnostic::error(format!(
                "scorecard folder {} does not exist",
                dir.display()
            )));
            return (Vec::new(), diags);
        }
        let mut files = Vec::new();
        collect_yaml(dir, &mut files, &mut diags);
        files.sort();
        let mut cards: Vec<Scorecard> = Vec::new();
        for file in files.iter().filter(|f| !exemptions::is_exemptions_file(f)) {
            let src = match std::fs::read_to_string(file) {
                Ok(src) => src,
                Err(e) => {
                    diags.push(
                        Diagnostic::error(format!("cannot read scorecard: {e}")).in_file(file),
                    );
                    continue;
                }
            };
            let (card, mut found) = Scorecard::from_source(&src, file, reg);
            diags.append(&mut found);
            let Some(card) = card else { continue };
            if let Some(first) = cards.iter().find(|c| c.spec.tag == card.spec.tag) {
                diags.push(
                    Diagnostic::error(format!(
                        "scorecard tag `{}` is already used by {}; this file is left out",
                        card.spec.tag,
                        first.spec.file.display()
                    ))
                    .in_file(file),
                );
                continue;
            }
            cards.push(card);
        }
        cards.sort_by(|a, b| a.spec.tag.cmp(&b.spec.tag));
        (cards, diags)
    }

    /// Parses and compiles one scorecard, and reads the exemptions file beside `file` if any.
    pub fn from_source(
        src: &str,
        file: &Path,
        reg: &Registry,
    ) -> (Option<Scorecard>, Vec<Diagnostic>) {
        let (spec, mut diags) = load::parse_scorecard(src, file);
        let Some(spec) = spec else {
            return (None, diags);
        };
        let mut card = Scorecard::compile(spec, src, reg, &mut diags);
        if let Some(path) = exemptions::exemptions_file_for(file) {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let (list, mut found) = load::parse_exemptions(&text, &path, &card.spec);
                    card.exemptions = list;
                    diags.append(&mut found);
                }
                Err(e) => diags
                    .push(Diagnostic::error(format!("cannot read exemptions: {e}")).in_file(&path)),
            }
        }
        (Some(card), diags)
    }

    /// Compiles the rules, filter queries and failure messages of `spec` (read from `src`).
    pub fn compile(
        spec: ScorecardSpec,
        src: &str,
        reg: &Registry,
        diags: &mut Vec<Diagnostic>,
    ) -> Scorecard {
        let mut slots = SlotTable::new();
        let mut templates = FailureTemplates::default();
        let mut compiler = RuleCompiler {
            reg,
            slots: &mut slots,
            file: &spec.file,
            src,
            diags,
        };
        let filter = compiler.filter(&spec.filter);
        let mut rule_filters = Vec::new();
        let mut rules = Vec::new();
        for rule in &spec.rules {
            rule_filters.push(compiler.filter(&rule.filter));
            rules.push(match &rule.problem {
                Some(problem) => {
                    compiler.check_only(&rule.expression, rule.expression_at);
                    Err(Box::new(Diagnostic::error(problem.clone())))
                }
                None => compiler.expression(&rule.expression, rule.expression_at),
            });
        }
        for (i, rule) in spec.rules.iter().enumerate() {
            let Some(template) = &rule.failure_message else {
                continue;
            };
            if let Err(problem) = templates.add(&i.to_string(), template) {
                let at = rule.failure_message_at;
                let (line, column) = problem.position.unwrap_or((1, 1));
                let d = Diagnostic::warning(format!(
                    "failureMessage is not a valid template: {}",
                    problem.message
                ))
                .at(line, column)
                .with_hint("it is shown as written");
                diags.push(load::embed_diagnostic(d, &spec.file, src, at));
            }
        }
        Scorecard {
            spec,
            exemptions: Vec::new(),
            slots,
            rules,
            rule_filters,
            filter,
            templates,
            source: src.to_string(),
        }
    }

    /// The YAML text the scorecard was read from (what the file said when it loaded).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Warnings for exemptions that name an entity `catalog` does not have (they never apply).
    pub fn check_exemptions(&self, catalog: &Catalog) -> Vec<Diagnostic> {
        self.exemptions
            .iter()
            .filter(|e| catalog.get(&e.entity).is_none())
            .map(|e| {
                let tags = catalog.entities.iter().map(|x| x.tag.as_str());
                let mut d = Diagnostic::warning(format!(
                    "exemption for `{}` on scorecard `{}`: no such entity in the catalog",
                    e.entity, self.spec.tag
                ))
                .in_file(&e.file)
                .at(e.line, e.column);
                d.hint =
                    crate::diag::suggest(&e.entity, tags).map(|t| format!("did you mean `{t}`?"));
                d
            })
            .collect()
    }

    /// Every fact the rules and filter queries read; `facts[i]` given to
    /// [`Scorecard::evaluate`] must answer `fact_keys()[i]`.
    pub fn fact_keys(&self) -> &[FactKey] {
        self.slots.keys()
    }

    /// The report skeleton of this scorecard (no entities yet).
    pub fn report(&self) -> ScorecardReport {
        self.report_with(Vec::new())
    }

    /// The report of this scorecard with `entities` as its entity results.
    pub fn report_with<E>(&self, entities: E) -> ScorecardReport<E> {
        ScorecardReport {
            tag: self.spec.tag.clone(),
            name: self.spec.name.clone(),
            description: self.spec.description.clone(),
            draft: self.spec.draft,
            levels: self
                .levels()
                .iter()
                .map(|l| LevelReport {
                    name: l.name.clone(),
                    rank: l.rank,
                    color: l.color.clone(),
                })
                .collect(),
            entities,
        }
    }

    fn levels(&self) -> &[model::Level] {
        self.spec
            .ladder
            .as_ref()
            .map_or(&[], |l| l.levels.as_slice())
    }

    /// Evaluates every rule for `entity` from its facts (in [`Scorecard::fact_keys`] order) at
    /// time `now`, with `lookup` answering catalog calls whose arguments are computed:
    /// outcomes with explanations, the level reached, points and next steps.
    pub fn evaluate(
        &self,
        entity: &Entity,
        catalog: &Catalog,
        facts: &[Fact],
        lookup: &dyn Lookup,
        now: DateTime<Utc>,
    ) -> EntityReport {
        let read = Read { facts, lookup, now };
        let scope = self
            .filter
            .as_ref()
            .map_or(Scope::In, |f| scope(f, entity, read));
        let mut messages = self.templates.for_entity(entity);
        let rules: Vec<RuleReport> = self
            .spec
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let mut report = match &scope {
                    Scope::In => self.evaluate_rule(i, rule, entity, catalog, read, &mut messages),
                    Scope::Out(why) => bare(rule, Outcome::Skipped, format!("not in scope: {why}")),
                    Scope::Broken(why) => {
                        bare(rule, Outcome::Error, format!("scorecard filter: {why}"))
                    }
                };
                // Skipped rules (out of scope) and rules not yet in force take no part.
                report.counted = report.outcome != Outcome::Skipped
                    && rule.effective_from.is_none_or(|from| now >= from);
                report
            })
            .collect();
        let levels = self.levels();
        let level_index = |name: &Option<String>| {
            name.as_ref()
                .and_then(|n| levels.iter().position(|l| &l.name == n))
        };
        let results: Vec<RuleResult> = rules
            .iter()
            .map(|r| RuleResult {
                level: level_index(&r.level),
                weight: r.weight,
                outcome: r.outcome,
                counted: r.counted,
            })
            .collect();
        let s = score::score(levels.len(), &results);
        let skipped = match &scope {
            Scope::Out(why) => Some(why.clone()),
            _ => None,
        };
        let level = if skipped.is_some() {
            None
        } else {
            s.level.map(|i| &levels[i])
        };
        let next_level = if skipped.is_some() {
            None
        } else {
            s.next_level.map(|i| levels[i].name.clone())
        };
        let next_steps = if skipped.is_some() {
            Vec::new()
        } else {
            s.next_steps
                .iter()
                .map(|&i| NextStep {
                    title: rules[i].title.clone(),
                    level: rules[i].level.clone(),
                    message: rules[i]
                        .failure_message
                        .clone()
                        .unwrap_or_else(|| rules[i].message.clone()),
                })
                .collect()
        };
        EntityReport {
            entity: entity.tag.clone(),
            level: level.map(|l| l.name.clone()),
            rank: level.map(|l| l.rank),
            next_level,
            score: s.score,
            max_score: s.max_score,
            percentage: s.percentage,
            skipped,
            next_steps,
            rules,
        }
    }

    fn evaluate_rule(
        &self,
        i: usize,
        rule: &RuleSpec,
        entity: &Entity,
        catalog: &Catalog,
        read: Read<'_>,
        messages: &mut EntityMessages<'_>,
    ) -> RuleReport {
        let Read { facts, now, .. } = read;
        let program = match &self.rules[i] {
            Ok(program) => program,
            Err(problem) => return bare(rule, Outcome::Error, problem.one_line()),
        };
        if let Some(f) = &self.rule_filters[i] {
            match scope(f, entity, read) {
                Scope::In => {}
                Scope::Out(why) => {
                    return bare(rule, Outcome::Skipped, format!("not in scope: {why}"));
                }
                Scope::Broken(why) => {
                    return bare(rule, Outcome::Error, format!("rule filter: {why}"));
                }
            }
        }
        let evaluation = read.evaluate(program);
        let mut outcome = match evaluation.verdict {
            Verdict::Pass => Outcome::Pass,
            Verdict::Fail => Outcome::Fail,
            Verdict::NoData => Outcome::NoData,
            Verdict::Error => Outcome::Error,
        };
        let mut message = evaluation.explanation.clone();
        if message.is_empty() {
            message = format!("{} is {}", rule.expression, evaluation.value);
        }
        let mut report = bare(rule, outcome, String::new());
        report.value = evaluation.value.to_json();
        let looked_up = evaluation.looked_up.iter().map(|(k, f)| (k, f));
        report.inputs = program
            .slots()
            .iter()
            .filter_map(|&slot| Some((self.slots.keys().get(slot)?, facts.get(slot)?)))
            .chain(looked_up)
            .map(|(key, fact)| InputReport::new(key, fact))
            .collect();
        report.captures = evaluation
            .captures
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        if !outcome.is_passing() {
            // A template that did not compile was reported at load time and is shown as written.
            report.failure_message =
                match (&rule.failure_message, self.templates.has(&i.to_string())) {
                    (Some(_), true) => Some(
                        messages
                            .render(&i.to_string(), &evaluation.captures)
                            .unwrap_or_else(|e| e),
                    ),
                    (raw, _) => raw.clone(),
                };
        }
        let is_entity = |name: &str| {
            name == entity.tag || catalog.get(name).is_some_and(|e| e.tag == entity.tag)
        };
        let (active, expired) =
            exemptions::lookup(&self.exemptions, is_entity, rule, now.date_naive());
        if outcome != Outcome::Pass {
            if let Some(e) = active {
                let by = e
                    .requested_by
                    .as_deref()
                    .map(|b| format!(", requested by {b}"))
                    .unwrap_or_default();
                message = format!(
                    "exempt ({}{by}); the rule gives {}: {message}",
                    e.reason,
                    outcome.as_str()
                );
                report.exempt_until = Some(e.until_text());
                report.exemption = Some(format!("{}{by}", e.reason));
                outcome = Outcome::Exempt;
            } else if let Some(e) = expired {
                message = format!("{message} (exemption expired on {})", e.until_text());
            }
        }
        report.outcome = outcome;
        report.message = message;
        report
    }
}

/// A rule report with no evaluation behind it (skipped, or an error found before evaluation).
fn bare(rule: &RuleSpec, outcome: Outcome, message: String) -> RuleReport {
    RuleReport {
        title: rule.title.clone(),
        identifier: rule.identifier.clone(),
        expression: rule.expression.clone(),
        level: rule.level.clone(),
        weight: rule.weight,
        outcome,
        message,
        failure_message: None,
        value: serde_json::Value::Null,
        captures: Default::default(),
        inputs: Vec::new(),
        counted: true,
        effective_from: rule.effective_from,
        exempt_until: None,
        exemption: None,
    }
}

/// What a rule of one entity reads: its facts, the lookup for computed catalog calls, and
/// the evaluation time.
#[derive(Clone, Copy)]
struct Read<'a> {
    facts: &'a [Fact],
    lookup: &'a dyn Lookup,
    now: DateTime<Utc>,
}

impl Read<'_> {
    fn evaluate(&self, program: &Program) -> crate::cql::Evaluation {
        program.evaluate_with(self.facts, self.lookup, self.now)
    }
}

/// Whether `entity` is inside filter `f`: types and groups first, then the CQL query.
fn scope(f: &CompiledFilter, entity: &Entity, read: Read<'_>) -> Scope {
    if let Some(why) = filter::excluded_by(&f.spec, entity) {
        return Scope::Out(why);
    }
    match &f.query {
        None => Scope::In,
        Some(Err(problem)) => {
            Scope::Broken(format!("query does not compile: {}", problem.one_line()))
        }
        Some(Ok(query)) => {
            let e = read.evaluate(query);
            match e.verdict {
                Verdict::Pass => Scope::In,
                Verdict::Fail | Verdict::NoData => Scope::Out(format!(
                    "query `{}` is false: {}",
                    query.source(),
                    e.explanation
                )),
                Verdict::Error => Scope::Broken(format!(
                    "query `{}` failed: {}",
                    query.source(),
                    e.explanation
                )),
            }
        }
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            diags.push(Diagnostic::error(format!("cannot read folder: {e}")).in_file(dir));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out, diags);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scorecards_are_shared_across_tasks() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Scorecard>();
    }

    #[test]
    fn a_missing_folder_is_one_error() {
        let (cards, diags) =
            Scorecard::load_dir(Path::new("/no/such/folder"), Registry::standard());
        assert!(cards.is_empty());
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("/no/such/folder"), "{}", diags[0]);
    }

    #[test]
    fn a_rule_with_a_bad_level_still_has_its_expression_checked() {
        let dir = tempfile::tempdir().unwrap();
        let card = "tag: x\nladder:\n  levels:\n    - name: Bronze\n      rank: 1\nrules:\n  - title: t\n    level: Bronz\n    expression: codecov.codeCoverag() >= 80\n";
        std::fs::write(dir.path().join("x.yaml"), card).unwrap();
        let (cards, diags) = Scorecard::load_dir(dir.path(), Registry::standard());
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
            .map(|d| d.to_string())
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors.iter().any(|e| e.contains("level `Bronz`")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("codeCoverag") && e.contains("x.yaml:9:")),
            "{errors:?}"
        );
        // The broken rule's facts are not fetched for the others.
        assert_eq!(cards.len(), 1);
        assert!(cards[0].rules[0].is_err());
    }

    #[test]
    fn duplicate_tags_keep_the_first_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "tag: x\nrules: []\n").unwrap();
        std::fs::write(dir.path().join("b.yml"), "tag: x\nrules: []\n").unwrap();
        let (cards, diags) = Scorecard::load_dir(dir.path(), Registry::standard());
        assert_eq!(cards.len(), 1);
        assert!(cards[0].spec.file.ends_with("a.yaml"));
        assert!(
            diags.iter().any(|d| d.message.contains("already used by")),
            "{diags:?}"
        );
    }
}

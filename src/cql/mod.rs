//! CQL: grammar/cql.pest → AST ([`ast`]) → compiled program ([`Program`]) → value and verdict.
//!
//! ```
//! use rubric::cql::{Program, Registry, SlotTable, Verdict};
//! use rubric::facts::Fact;
//!
//! let mut slots = SlotTable::new();
//! let rule = Program::compile("codecov.codeCoverage() >= 95", Registry::standard(), &mut slots)
//!     .unwrap()
//!     .program;
//! // facts[i] answers slots.keys()[i]; the providers fetch them before evaluation.
//! let facts = vec![Fact::ok(87.3).from_origin("github/acme/api, flag backend")];
//! let e = rule.evaluate(&facts, chrono::Utc::now());
//! assert_eq!(e.verdict, Verdict::Fail);
//! assert_eq!(e.explanation, "codecov.codeCoverage() = 87.3 (github/acme/api, flag backend), needs >= 95");
//! ```

pub mod ast;
mod compile;
pub mod duration;
mod eval;
pub mod jq;
mod limits;
pub mod parse;
pub mod registry;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use compile::SlotTable;
pub use limits::Limits;
pub use registry::{Registry, Ty};

use compile::{CmpInfo, CmpOp, Node};
use eval::{Ctx, EvalError, Flags, NO_SLOT, Out, Read, Trace};

use crate::diag::Diagnostic;
use crate::facts::{Fact, FactKey, FactStatus, Lookup, NoLookup};
use crate::value::Value;

/// A compiled rule: cheap to clone, shareable across threads, evaluated many times.
#[derive(Clone, Debug)]
pub struct Program {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    root: Node,
    cmps: Vec<CmpInfo>,
    slots: Vec<usize>,
    slot_text: Vec<(usize, String)>,
    /// Evaluations that ran out of steps; from [`OVER_BUDGET_LIMIT`] on, none gets a budget.
    over_budget: AtomicU32,
}

/// How many evaluations of a rule may use up the step budget before the rule stops being
/// given one: a rule that loops for one entity usually loops for all, and a run of 10,000
/// entities should not spend the budget 10,000 times.
pub(crate) const OVER_BUDGET_LIMIT: u32 = 3;

/// A compiled program and the warnings its source deserves.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The program.
    pub program: Program,
    /// Warnings (data sources rubric has no data for, `!a == b` without parentheses, ...).
    pub warnings: Vec<Diagnostic>,
}

/// The outcome of a rule for one entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The rule is true.
    Pass,
    /// The rule is false.
    Fail,
    /// The rule is not true because a value it compared was null for want of data.
    NoData,
    /// A data source failed, or the expression did (types, non-boolean result).
    Error,
}

impl Verdict {
    /// `pass`, `fail`, `no_data`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NoData => "no_data",
            Verdict::Error => "error",
        }
    }
}

/// A rule's value, verdict and the sentence that explains it.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The value the expression computed (`Null` on error).
    pub value: Value,
    /// Pass, fail, no data or error.
    pub verdict: Verdict,
    /// e.g. `codecov.codeCoverage() = 87.3 (github/acme/api, flag backend), needs >= 95`.
    pub explanation: String,
    /// Values recorded by `captures("name", expr)`.
    pub captures: BTreeMap<String, Value>,
    /// The facts answered during evaluation (catalog calls with computed arguments), each
    /// key once, in the order first read.
    pub looked_up: Vec<(FactKey, Fact)>,
}

/// One evaluated comparison, kept by the explaining path.
struct Record {
    id: u32,
    lhs: Value,
    lslot: u32,
    rhs: Value,
    rslot: u32,
    result: bool,
}

#[derive(Default)]
struct Explain {
    flags: Flags,
    records: Vec<Record>,
}

impl Trace for Explain {
    fn flags(&mut self) -> &mut Flags {
        &mut self.flags
    }

    fn compared(&mut self, id: u32, lhs: &Out<'_>, rhs: &Out<'_>, result: bool) {
        // Lambdas may compare thousands of times; a few records explain enough.
        if self.records.len() < 64 {
            self.records.push(Record {
                id,
                lhs: lhs.v.as_ref().clone(),
                lslot: lhs.slot,
                rhs: rhs.v.as_ref().clone(),
                rslot: rhs.slot,
                result,
            });
        }
    }
}

impl Program {
    /// Parses, resolves and type-checks `src`, interning the facts it reads into `slots`.
    pub fn compile(
        src: &str,
        reg: &Registry,
        slots: &mut SlotTable,
    ) -> Result<Compiled, Vec<Diagnostic>> {
        let out = compile::compile(src, reg, slots).map_err(|d| vec![*d])?;
        let program = Program {
            inner: Arc::new(Inner {
                source: src.to_string(),
                root: out.root,
                cmps: out.cmps,
                slots: out.slots,
                slot_text: out.slot_text,
                over_budget: AtomicU32::new(0),
            }),
        };
        Ok(Compiled {
            program,
            warnings: out.warnings,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The slots (indexes into the [`SlotTable`]) this rule reads, ascending.
    pub fn slots(&self) -> &[usize] {
        &self.inner.slots
    }

    /// The steps this evaluation may take: none once the rule has used up its budget
    /// [`OVER_BUDGET_LIMIT`] times.
    fn step_budget(&self) -> u64 {
        if self.inner.over_budget.load(Ordering::Relaxed) >= OVER_BUDGET_LIMIT {
            0
        } else {
            Limits::max_steps()
        }
    }

    fn count_over_budget(&self, result: &Result<Out<'_>, EvalError>) {
        if let Err(EvalError {
            kind: eval::ErrorKind::Budget {
                repeated: false, ..
            },
            ..
        }) = result
        {
            self.inner.over_budget.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The verdict alone: the fast path, which allocates nothing for scalar rules.
    /// `facts[i]` is the fact for `slots.keys()[i]`; there is no catalog to look up computed
    /// calls in (see [`Program::verdict_with`]).
    pub fn verdict(&self, facts: &[Fact], now: DateTime<Utc>) -> Verdict {
        self.verdict_with(facts, &NoLookup, now)
    }

    /// [`Program::verdict`], with `lookup` answering catalog calls whose arguments are
    /// computed (`hasGroup(g)` in a lambda).
    pub fn verdict_with(&self, facts: &[Fact], lookup: &dyn Lookup, now: DateTime<Utc>) -> Verdict {
        let steps = self.step_budget();
        let mut cx = Ctx {
            facts,
            lookup,
            looked: Vec::new(),
            now,
            env: Vec::new(),
            trace: Flags::default(),
            captures: None,
            steps,
            refused: steps == 0,
        };
        let result = cx.eval(&self.inner.root);
        self.count_over_budget(&result);
        verdict_of(&result, &cx.trace, cx.read()).0
    }

    /// Evaluates and explains. `facts[i]` is the fact for `slots.keys()[i]`; `now` is the
    /// evaluation time (for `.fromNow()`). There is no catalog to look up computed calls in
    /// (see [`Program::evaluate_with`]).
    pub fn evaluate(&self, facts: &[Fact], now: DateTime<Utc>) -> Evaluation {
        self.evaluate_with(facts, &NoLookup, now)
    }

    /// [`Program::evaluate`], with `lookup` answering catalog calls whose arguments are
    /// computed (`hasGroup(g)` in a lambda).
    pub fn evaluate_with(
        &self,
        facts: &[Fact],
        lookup: &dyn Lookup,
        now: DateTime<Utc>,
    ) -> Evaluation {
        let steps = self.step_budget();
        let mut cx = Ctx {
            facts,
            lookup,
            looked: Vec::new(),
            now,
            env: Vec::new(),
            trace: Explain::default(),
            captures: Some(BTreeMap::new()),
            steps,
            refused: steps == 0,
        };
        let result = cx.eval(&self.inner.root);
        self.count_over_budget(&result);
        let read = cx.read();
        let (verdict, why) = verdict_of(&result, &cx.trace.flags, read);
        let explanation = self.explain(read, &result, verdict, why, &cx.trace);
        let value = match result {
            Ok(out) => out.v.into_owned(),
            Err(_) => Value::Null,
        };
        let mut looked_up: Vec<(FactKey, Fact)> = Vec::new();
        for l in cx.looked {
            if !looked_up.iter().any(|(k, _)| *k == l.key) {
                looked_up.push((l.key, l.fact));
            }
        }
        Evaluation {
            value,
            verdict,
            explanation,
            captures: cx.captures.unwrap_or_default(),
            looked_up,
        }
    }

    fn slot_text<'x>(&'x self, read: Read<'x>, slot: u32) -> Cow<'x, str> {
        if let Some(i) = (slot as usize).checked_sub(read.facts.len()) {
            return read.looked.get(i).map_or_else(
                || Cow::Owned(format!("fact {slot}")),
                |l| Cow::Borrowed(&*l.text),
            );
        }
        self.inner
            .slot_text
            .iter()
            .find(|(s, _)| *s == slot as usize)
            .map_or_else(
                || Cow::Owned(format!("fact {slot}")),
                |(_, t)| Cow::Borrowed(t.as_str()),
            )
    }

    fn explain(
        &self,
        facts: Read<'_>,
        result: &Result<Out<'_>, EvalError>,
        verdict: Verdict,
        why: Why,
        trace: &Explain,
    ) -> String {
        let out = match (result, why) {
            (Err(e), _) => return e.message(&self.inner.source),
            (Ok(_), Why::FactError(slot)) => {
                let reason = facts
                    .get(slot)
                    .and_then(Fact::null_reason)
                    .unwrap_or("error");
                return format!("{}: {reason}", self.slot_text(facts, slot));
            }
            (Ok(out), Why::NotBoolean) => {
                return format!(
                    "rule must be true or false, but it is a {}: {}",
                    out.v.type_name(),
                    short(&out.v)
                );
            }
            (Ok(out), _) => out,
        };
        let passing = verdict == Verdict::Pass;
        let mut lines: Vec<String> = Vec::new();
        for r in &trace.records {
            let info = &self.inner.cmps[r.id as usize];
            if (r.result != info.negated) == passing {
                let line = self.record_line(facts, info, r);
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
        }
        if lines.is_empty() {
            if let Why::NoData(slot) = why {
                return describe(&self.slot_text(facts, slot), &Value::Null, facts.get(slot));
            }
            return format!("{} = {}", self.inner.source.trim(), short(&out.v));
        }
        lines.truncate(3);
        lines.join("; ")
    }

    fn record_line(&self, facts: Read<'_>, info: &CmpInfo, r: &Record) -> String {
        let fact = |slot: u32| {
            if slot == NO_SLOT {
                None
            } else {
                facts.get(slot)
            }
        };
        let swap = info.lhs_const && !info.rhs_const;
        let (subject, sv, ss, other, ov, os, other_const, op) = if swap {
            (
                &info.rhs,
                &r.rhs,
                r.rslot,
                &info.lhs,
                &r.lhs,
                r.lslot,
                info.lhs_const,
                info.op.flipped(),
            )
        } else {
            (
                &info.lhs,
                &r.lhs,
                r.lslot,
                &info.rhs,
                &r.rhs,
                r.rslot,
                info.rhs_const,
                info.op,
            )
        };
        let op = if info.negated { op.inverse() } else { op };
        if other_const && other == "null" {
            return describe_presence(subject, sv, fact(ss), op == CmpOp::Ne);
        }
        let subject = describe(subject, sv, fact(ss));
        if other_const {
            format!("{subject}, needs {} {other}", op.symbol())
        } else {
            format!(
                "{subject}, needs {} {}",
                op.symbol(),
                describe(other, ov, fact(os))
            )
        }
    }
}

/// `text = value (origin)` or `text is null (origin: reason)`.
fn describe(text: &str, v: &Value, fact: Option<&Fact>) -> String {
    let origin = fact.and_then(|f| f.origin.as_deref());
    let stale = fact
        .and_then(|f| f.stale_secs)
        .map(|s| format!(", stale: {s} s old"))
        .unwrap_or_default();
    match (v, fact.and_then(Fact::null_reason), origin) {
        (Value::Null, Some(reason), Some(o)) => format!("{text} is null ({o}: {reason})"),
        (Value::Null, Some(reason), None) => format!("{text} is null ({reason})"),
        (Value::Null, None, _) => format!("{text} is null"),
        (v, _, Some(o)) => format!("{text} = {} ({o}{stale})", short(v)),
        (v, _, None) if stale.is_empty() => format!("{text} = {}", short(v)),
        (v, _, None) => format!("{text} = {} ({})", short(v), &stale[2..]),
    }
}

/// A null check: `codecov is set (github/acme/api)`, `custom("tier") = "tier1"`, or
/// `codecov is null (entity has no Codecov mapping: no repository)`, with what was wanted when
/// the value is not what the rule asks for.
fn describe_presence(text: &str, v: &Value, fact: Option<&Fact>, wants_value: bool) -> String {
    let line = match v {
        Value::Null => describe(text, v, fact),
        Value::Object(_) | Value::List(_) => match fact.and_then(|f| f.origin.as_deref()) {
            Some(origin) => format!("{text} is set ({origin})"),
            None => format!("{text} is set"),
        },
        _ => describe(text, v, fact),
    };
    match (v.is_null(), wants_value) {
        (true, true) => format!("{line}, needs a value"),
        (false, false) => format!("{line}, needs null"),
        _ => line,
    }
}

/// A value's display, cut to 60 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 60 {
        return s;
    }
    let mut cut: String = s.chars().take(57).collect();
    cut.push_str("...");
    cut
}

/// What decided a verdict other than pass/fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Plain,
    FactError(u32),
    NoData(u32),
    NotBoolean,
}

fn verdict_of(
    result: &Result<Out<'_>, EvalError>,
    flags: &Flags,
    facts: Read<'_>,
) -> (Verdict, Why) {
    let out = match result {
        Err(_) => return (Verdict::Error, Why::Plain),
        Ok(out) => out,
    };
    if let Value::Bool(true) = out.v.as_ref() {
        return (Verdict::Pass, Why::Plain);
    }
    if flags.error != NO_SLOT {
        return (Verdict::Error, Why::FactError(flags.error));
    }
    let nodata = if flags.nodata != NO_SLOT {
        Some(flags.nodata)
    } else if out.v.is_null()
        && out.slot != NO_SLOT
        && matches!(
            facts.get(out.slot).map(|f| &f.status),
            Some(FactStatus::NoData(_))
        )
    {
        Some(out.slot)
    } else {
        None
    };
    match (out.v.as_ref(), nodata) {
        (_, Some(slot)) => (Verdict::NoData, Why::NoData(slot)),
        (Value::Bool(false), None) => (Verdict::Fail, Why::Plain),
        _ => (Verdict::Error, Why::NotBoolean),
    }
}

#[cfg(test)]
mod tests;

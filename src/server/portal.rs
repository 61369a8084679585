//! What the Backstage portal APIs (Tech Insights and RHDH's scorecard) share: the rules as the
//! scorecards state them (ids, facts, thresholds), entity refs, Backstage's error body, and the
//! stored results they project. Nothing here evaluates: outcomes and values are the stored ones.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::cql::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::cql::registry::FnKind;
use crate::cql::{Program, Registry, SlotTable, Ty};
use crate::facts::FactKey;
use crate::scorecard::report::RuleReport;
use crate::store::StoredResult;

/// How many entities one request may name (a bulk run, one page of results).
pub(super) const MAX_ENTITIES: usize = 10_000;

/// A Backstage error, answered as `{error: {name, message}, response: {statusCode}}`
/// (`ErrorResponseBody` of `@backstage/errors`), as Backstage's backend plugins answer.
#[derive(Debug)]
pub(super) struct BackstageError {
    /// The status.
    pub status: StatusCode,
    name: &'static str,
    message: String,
}

impl BackstageError {
    /// 404 `NotFoundError`.
    pub fn not_found(message: impl Into<String>) -> BackstageError {
        BackstageError {
            status: StatusCode::NOT_FOUND,
            name: "NotFoundError",
            message: message.into(),
        }
    }

    /// 400 `InputError`.
    pub fn input(message: impl Into<String>) -> BackstageError {
        BackstageError {
            status: StatusCode::BAD_REQUEST,
            name: "InputError",
            message: message.into(),
        }
    }
}

impl IntoResponse for BackstageError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"name": self.name, "message": self.message},
            "response": {"statusCode": self.status.as_u16()},
        });
        (self.status, Json(body)).into_response()
    }
}

/// A native error (a store failure) in Backstage's shape.
impl From<ApiError> for BackstageError {
    fn from(e: ApiError) -> BackstageError {
        let name = match e.status() {
            StatusCode::NOT_FOUND => "NotFoundError",
            StatusCode::BAD_REQUEST => "InputError",
            StatusCode::CONFLICT => "ConflictError",
            _ => "Error",
        };
        BackstageError {
            status: e.status(),
            name,
            message: e.message().to_string(),
        }
    }
}

impl From<crate::store::StoreError> for BackstageError {
    fn from(e: crate::store::StoreError) -> BackstageError {
        ApiError::from(e).into()
    }
}

/// The query of a request as pairs, in order (repeated and bracketed keys kept as sent).
pub(super) type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The pairs of a query, or a 400 when it does not decode.
pub(super) fn pairs(query: Pairs) -> Result<Vec<(String, String)>, BackstageError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| BackstageError::input(e.body_text()))
}

/// The first value of `name` in the query.
pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A Backstage entity ref split in its parts, as the request gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct EntityRef {
    /// `component` (any case).
    pub kind: String,
    /// `default`.
    pub namespace: String,
    /// `checkout-web`.
    pub name: String,
}

impl EntityRef {
    /// `kind:namespace/name`, `kind:name` (default namespace) or a bare name (a component).
    pub fn parse(text: &str) -> Option<EntityRef> {
        let text = text.trim();
        let (kind, rest) = match text.split_once(':') {
            Some((k, rest)) if !k.contains('/') => (k, rest),
            _ => ("component", text),
        };
        let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
        let ok = |s: &str| !s.is_empty() && s.len() <= 253 && !s.chars().any(char::is_control);
        (ok(kind) && ok(namespace) && ok(name) && !name.contains('/')).then(|| EntityRef {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// `kind:namespace/name` with the kind and namespace lower-cased, as Backstage prints refs.
    pub fn text(&self) -> String {
        format!(
            "{}:{}/{}",
            self.kind.to_lowercase(),
            self.namespace.to_lowercase(),
            self.name
        )
    }

    /// `{kind, namespace, name}`.
    pub fn json(&self) -> Value {
        json!({"kind": self.kind, "namespace": self.namespace, "name": self.name})
    }
}

/// The entity tag a ref names: its Backstage ref in any case, else (in the default namespace)
/// the entity whose tag is its name (as given, else lower-cased), as the catalog's own relations
/// read refs. `None`: unknown.
pub(super) fn resolve(state: &AppState, r: &EntityRef) -> Option<String> {
    let evaluator = state.runner().evaluator();
    if let Some(tag) = evaluator.entity_tag(&r.text()) {
        return Some(tag);
    }
    if !r.namespace.eq_ignore_ascii_case("default") {
        return None;
    }
    evaluator
        .entity_tag(&r.name)
        .or_else(|| evaluator.entity_tag(&r.name.to_lowercase()))
}

/// The ref of an entity tag: the evaluator's (a Backstage descriptor's ref, or the one a Cortex
/// descriptor's entity would have), else `component:default/<tag>`.
pub(super) fn ref_of(state: &AppState, tag: &str) -> EntityRef {
    state
        .runner()
        .evaluator()
        .entity_ref(tag)
        .and_then(|r| EntityRef::parse(&r))
        .unwrap_or_else(|| EntityRef {
            kind: "component".into(),
            namespace: "default".into(),
            name: tag.to_string(),
        })
}

/// The latest stored results (with their rules) of the entity a ref names, or a 404.
pub(super) async fn latest_for_ref(
    state: &AppState,
    r: &EntityRef,
) -> Result<(String, Vec<StoredResult>), BackstageError> {
    let Some(tag) = resolve(state, r) else {
        return Err(BackstageError::not_found(format!(
            "no entity {} in the catalog",
            r.text()
        )));
    };
    let results = state.runner().store().latest_for_entity(&tag).await?;
    Ok((tag, results))
}

/// The entities with a stored result in a scorecard, sorted by tag (at most [`MAX_ENTITIES`]).
pub(super) async fn scorecard_entities(
    state: &AppState,
    scorecard: &str,
) -> Result<Vec<String>, BackstageError> {
    const PAGE: i64 = 500;
    let mut tags = Vec::new();
    let mut offset = 0;
    loop {
        let (page, total) = state
            .runner()
            .store()
            .latest_for_scorecard(scorecard, None, offset, PAGE)
            .await?;
        let last = page.len() < PAGE as usize;
        tags.extend(page.into_iter().map(|r| r.result.entity));
        offset += PAGE;
        if last || offset >= total || tags.len() >= MAX_ENTITIES {
            break;
        }
    }
    tags.truncate(MAX_ENTITIES);
    Ok(tags)
}

/// Every entity with a stored result in any configured scorecard, sorted by tag (at most
/// [`MAX_ENTITIES`]).
pub(super) async fn entities_with_results(state: &AppState) -> Result<Vec<String>, BackstageError> {
    let mut tags = BTreeSet::new();
    for card in &state.inner.scorecards {
        tags.extend(scorecard_entities(state, &card.tag).await?);
    }
    Ok(tags.into_iter().take(MAX_ENTITIES).collect())
}

/// One rule of a configured scorecard, as the portal APIs describe it.
#[derive(Clone, Debug)]
pub(super) struct RuleDef {
    /// Scorecard tag.
    pub scorecard: String,
    /// Scorecard name.
    pub scorecard_name: String,
    /// The rule's id within its scorecard: its `identifier`, else its title as a slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description (Markdown), when the scorecard gives one.
    pub description: Option<String>,
    /// The CQL expression.
    pub expression: String,
    /// Its level, and that level's rank.
    pub level: Option<String>,
    /// Rank of the level (1 = lowest).
    pub rank: Option<i64>,
    /// Weight.
    pub weight: f64,
    /// The facts the expression reads (none when it does not compile).
    pub facts: Vec<FactKey>,
    /// The comparison with a constant the rule makes, when it is one.
    pub threshold: Option<Threshold>,
}

impl RuleDef {
    /// The providers its facts come from (`codecov`, `catalog`), in first-read order.
    pub fn providers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for key in &self.facts {
            let name = key.source.name();
            if !out.iter().any(|p| p == name) {
                out.push(name.to_string());
            }
        }
        out
    }
}

/// `measure op value`: a rule that compares one fact with a constant, e.g.
/// `codecov.codeCoverage() >= 80` (`captures(...)` around the fact is looked through).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Threshold {
    /// The fact compared.
    pub measure: FactKey,
    /// `>=`, `<`, `==`...: what passes.
    pub op: &'static str,
    /// The operator that fails (the inverse of `op`).
    pub failing_op: &'static str,
    /// The constant (a number or a boolean).
    pub value: Value,
}

impl Threshold {
    /// `number` or `boolean`.
    pub fn metric_type(&self) -> &'static str {
        if self.value.is_boolean() {
            "boolean"
        } else {
            "number"
        }
    }

    /// `>= 80` / `==true`: RHDH's threshold expression for `op` against the constant.
    pub fn expression(&self, op: &str) -> String {
        match &self.value {
            Value::Bool(b) => format!("{op}{b}"),
            v => format!("{op} {}", number_text(v.as_f64().unwrap_or_default())),
        }
    }
}

/// A number as JSON, whole numbers without a fraction (`2`, not `2.0`), as rubric's reports
/// print them.
pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// A number as people write it: `80`, not `80.0`.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// The rules of every configured scorecard, in scorecard and rule order.
pub(super) fn definitions(state: &AppState) -> Vec<RuleDef> {
    let evaluator = state.runner().evaluator();
    let mut out = Vec::new();
    for card in &state.inner.scorecards {
        let Some(definition) = evaluator.definition(&card.tag) else {
            continue;
        };
        let rules = &definition.spec.rules;
        let slugs = slugs(
            rules
                .iter()
                .map(|r| (r.identifier.as_deref(), r.title.as_str())),
        );
        for (rule, slug) in rules.iter().zip(slugs) {
            let rank = rule
                .level
                .as_ref()
                .and_then(|l| card.levels.iter().find(|(name, _)| name == l))
                .map(|(_, rank)| *rank);
            out.push(RuleDef {
                scorecard: card.tag.clone(),
                scorecard_name: card.name.clone(),
                slug,
                title: rule.title.clone(),
                description: rule.description.clone(),
                expression: rule.expression.clone(),
                level: rule.level.clone(),
                rank,
                weight: rule.weight,
                facts: fact_keys(&rule.expression),
                threshold: threshold(&rule.expression),
            });
        }
    }
    out
}

/// The rules of one stored result, each with its definition: the configured rule of the same id,
/// else (a rule removed since the run) one made from the stored report alone.
pub(super) fn stored_rules<'a>(
    defs: &'a [RuleDef],
    r: &'a StoredResult,
) -> Vec<(std::borrow::Cow<'a, RuleDef>, &'a RuleReport)> {
    let rules = &r.result.rules;
    let slugs = slugs(
        rules
            .iter()
            .map(|x| (x.identifier.as_deref(), x.title.as_str())),
    );
    rules
        .iter()
        .zip(slugs)
        .map(|(report, slug)| {
            let def = defs
                .iter()
                .find(|d| d.scorecard == r.scorecard && d.slug == slug)
                .map(std::borrow::Cow::Borrowed)
                .unwrap_or_else(|| {
                    std::borrow::Cow::Owned(RuleDef {
                        scorecard: r.scorecard.clone(),
                        scorecard_name: r.scorecard.clone(),
                        slug,
                        title: report.title.clone(),
                        description: None,
                        expression: report.expression.clone(),
                        level: report.level.clone(),
                        rank: None,
                        weight: report.weight,
                        facts: fact_keys(&report.expression),
                        threshold: threshold(&report.expression),
                    })
                });
            (def, report)
        })
        .collect()
}

/// Each rule's id within its scorecard: its identifier, else its title as a slug; a repeated id
/// gets `-2`, `-3`... in order, so the same rules always get the same ids.
fn slugs<'a>(rules: impl Iterator<Item = (Option<&'a str>, &'a str)>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    rules
        .map(|(identifier, title)| {
            let base = match identifier {
                Some(id) if !id.trim().is_empty() => id.trim().to_string(),
                _ => slug(title),
            };
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { base } else { format!("{base}-{n}") }
        })
        .collect()
}

/// `Coverage at least 80%` → `coverage-at-least-80`.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "rule".to_string()
    } else {
        out.to_string()
    }
}

/// The facts an expression reads, as the compiler resolves them (none when it does not compile).
pub(super) fn fact_keys(expression: &str) -> Vec<FactKey> {
    let mut slots = SlotTable::new();
    match Program::compile(expression, Registry::standard(), &mut slots) {
        Ok(_) => slots.keys().to_vec(),
        Err(_) => Vec::new(),
    }
}

/// The fact a stored input names (`codecov.codeCoverage()`, `custom(key="tier")`).
pub(super) fn input_key(fact: &str) -> Option<FactKey> {
    let keys = fact_keys(fact);
    (keys.len() == 1).then(|| keys.into_iter().next()).flatten()
}

/// The type and documentation the registry gives a fact.
pub(super) fn fact_doc(key: &FactKey) -> (Ty, &'static str) {
    let reg = Registry::standard();
    if key.function.is_empty() {
        return reg
            .namespace(&key.namespace)
            .map_or((Ty::Any, ""), |n| (n.bare.unwrap_or(Ty::Object), n.doc));
    }
    reg.function(&key.namespace, &key.function)
        .map_or((Ty::Any, ""), |f| (f.returns, f.doc))
}

/// The comparison with a constant at the top of `expression`, read from its syntax tree:
/// `fact op constant` or `constant op fact`, where the fact is one call of a provider (possibly
/// inside `captures(name, ...)`) and the constant a number (or, for `==`/`!=`, a boolean).
pub(super) fn threshold(expression: &str) -> Option<Threshold> {
    let expr = crate::cql::parse::parse(expression).ok()?;
    let ExprKind::Binary { op, lhs, rhs } = &expr.kind else {
        return None;
    };
    let (measure, constant, flipped) = match (constant(lhs), constant(rhs)) {
        (None, Some(c)) => (lhs.as_ref(), c, false),
        (Some(c), None) => (rhs.as_ref(), c, true),
        _ => return None,
    };
    let passing = match (op, flipped) {
        (BinaryOp::Eq, _) => "==",
        (BinaryOp::Ne, _) => "!=",
        (BinaryOp::Lt, false) | (BinaryOp::Gt, true) => "<",
        (BinaryOp::Le, false) | (BinaryOp::Ge, true) => "<=",
        (BinaryOp::Gt, false) | (BinaryOp::Lt, true) => ">",
        (BinaryOp::Ge, false) | (BinaryOp::Le, true) => ">=",
        _ => return None,
    };
    let failing = match passing {
        "==" => "!=",
        "!=" => "==",
        "<" => ">=",
        "<=" => ">",
        ">" => "<=",
        _ => "<",
    };
    if constant.is_boolean() && !matches!(passing, "==" | "!=") {
        return None;
    }
    let measure = provider_call(measure)?;
    let text = expression.get(measure.span.clone())?;
    let key = input_key(text)?;
    let wanted = if constant.is_boolean() {
        Ty::Bool
    } else {
        Ty::Number
    };
    if fact_doc(&key).0 != wanted {
        return None;
    }
    Some(Threshold {
        measure: key,
        op: passing,
        failing_op: failing,
        value: constant,
    })
}

/// A number (possibly negated) or boolean literal.
fn constant(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Number(n) => Some(json!(n)),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => match expr.kind {
            ExprKind::Number(n) => Some(json!(-n)),
            _ => None,
        },
        ExprKind::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

/// The provider call `e` is (looking through `captures(name, call)`), when the call is a fact.
fn provider_call(e: &Expr) -> Option<&Expr> {
    let reg = Registry::standard();
    match &e.kind {
        ExprKind::Call { name, args } if name == "captures" && args.len() == 2 => {
            match &args[1].value {
                crate::cql::ast::ArgValue::Expr(inner) => provider_call(inner),
                crate::cql::ast::ArgValue::Lambda { .. } => None,
            }
        }
        ExprKind::Call { name, .. } => reg
            .function("", name)
            .filter(|f| f.kind == FnKind::Fact)
            .map(|_| e),
        ExprKind::Method { target, name, .. } => match &target.kind {
            ExprKind::Ident(ns) => reg
                .function(ns, name)
                .filter(|f| f.kind == FnKind::Fact)
                .map(|_| e),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_come_from_the_syntax_tree() {
        let t = threshold("codecov.codeCoverage() >= 80").expect("a threshold");
        assert_eq!(t.measure.to_string(), "codecov.codeCoverage()");
        assert_eq!((t.op, t.failing_op), (">=", "<"));
        assert_eq!(t.expression(t.op), ">= 80");
        assert_eq!(t.expression(t.failing_op), "< 80");
        let t = threshold("captures(\"coverage\", codecov.codeCoverage(flag=\"api\")) >= 95.5")
            .expect("through captures");
        assert_eq!(t.measure.to_string(), "codecov.codeCoverage(flag=\"api\")");
        assert_eq!(t.expression(t.op), ">= 95.5");
        let t = threshold("70 < codecov.codeCoverage()").expect("constant first");
        assert_eq!((t.op, t.failing_op), (">", "<="));
        let t = threshold("codecov.coverageTrend(days=30) >= -1").expect("negative");
        assert_eq!(t.expression(t.op), ">= -1");
        let t = threshold("custom(\"hasCodeowners\") == true");
        assert!(t.is_none(), "custom() is any-typed: {t:?}");
        for not_one in [
            "codecov != null",
            "links(\"runbook\").length > 0",
            "custom(\"oncall\") != null AND codecov.codeCoverage() >= 90",
            "codecov.codeCoverage() >= codecov.coverageTrend()",
            "codecov.codeCoverage() > true",
            "entity.type() == \"service\"",
            "not CQL (",
        ] {
            assert_eq!(threshold(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn rule_ids_are_identifiers_or_title_slugs_and_unique() {
        let ids = slugs(
            [
                (Some("coverage-80"), "x"),
                (None, "Coverage at least 80%"),
                (None, "Coverage at least 80%"),
                (Some(" "), "¡Ünïcode rule!"),
                (None, "%%%"),
            ]
            .into_iter(),
        );
        assert_eq!(
            ids,
            [
                "coverage-80",
                "coverage-at-least-80",
                "coverage-at-least-80-2",
                "ünïcode-rule",
                "rule"
            ]
        );
    }

    #[test]
    fn refs_parse_in_every_form_and_reject_junk() {
        let r = EntityRef::parse("Component:Default/checkout-web").unwrap();
        assert_eq!(r.text(), "component:default/checkout-web");
        assert_eq!(EntityRef::parse("api:x").unwrap().text(), "api:default/x");
        assert_eq!(
            EntityRef::parse("ledger").unwrap().text(),
            "component:default/ledger"
        );
        for bad in ["", "a:", "a:b/", "a:b/c/d", "x\u{0}y", &"n".repeat(300)] {
            assert_eq!(EntityRef::parse(bad), None, "{bad:?}");
        }
    }
}

//! Facts: the values rules read, fetched before evaluation and explained when missing.
//!
//! A compiled rule names the facts it needs as [`FactKey`]s. The scorecard unions them into a
//! fetch plan, the providers answer each key with a [`Fact`], and evaluation reads facts by slot.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// Names one fact: the data source that answers it, the CQL namespace and function, and the
/// function's constant arguments (by parameter name, each a canonical JSON literal, sorted).
///
/// Provider keys (the contract between `cql` and `providers`):
///
/// | CQL | source | namespace | function | args |
/// |---|---|---|---|---|
/// | `codecov` (as in `codecov != null`) | codecov | codecov | `""` | |
/// | `codecov.codeCoverage()` / `(flag="x")` | codecov | codecov | `codeCoverage` | `flag`? |
/// | `codecov.lines()` `.hits()` `.misses()` `.partials()` `.files()` | codecov | codecov | same | `flag`? |
/// | `codecov.coverageTrend(days=30)` | codecov | codecov | `coverageTrend` | `days` (default 30) |
/// | `codecov.lastUploadAt()` | codecov | codecov | `lastUploadAt` | |
/// | `codecov.pullRequest(id).patchCoverage()` | codecov | codecov | `pullRequest.patchCoverage` | `id` |
/// | `codecov.pullRequest(id).coverageDelta()` | codecov | codecov | `pullRequest.coverageDelta` | `id` |
/// | `datadog.codeCoverage(branch=...)` | datadog | datadog | `codeCoverage` | `branch`? |
/// | `datadog.patchCoverage(pr=...)` | datadog | datadog | `patchCoverage` | `pr`? |
/// | `datadog.serviceCoverage("svc")` | datadog | datadog | `serviceCoverage` | `service` |
/// | `datadog.codeownerCoverage("@o/t")` | datadog | datadog | `codeownerCoverage` | `codeowner` |
///
/// Catalog facts (`entity.tag()`, `custom("k")`, ...) have source [`Source::Catalog`]. Any
/// other source (`sonarqube`, `jira`, ...) is one rubric knows but has no provider for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FactKey {
    /// The data source that answers this fact.
    pub source: Source,
    /// The CQL namespace (`codecov`, `entity`, or empty for global functions like `custom`).
    pub namespace: String,
    /// The function, or `""` for the bare namespace.
    pub function: String,
    /// Constant arguments by parameter name, values as canonical JSON text, sorted by name.
    pub args: Vec<(String, String)>,
}

impl FactKey {
    /// A key with no arguments.
    pub fn new(source: impl Into<Source>, namespace: &str, function: &str) -> Self {
        FactKey {
            source: source.into(),
            namespace: namespace.to_string(),
            function: function.to_string(),
            args: Vec::new(),
        }
    }

    /// Adds a named argument (kept sorted by name).
    pub fn with_arg(mut self, name: &str, value: serde_json::Value) -> Self {
        self.args.retain(|(n, _)| n != name);
        self.args.push((name.to_string(), value.to_string()));
        self.args.sort();
        self
    }

    /// The argument of that name, parsed back from its JSON text.
    pub fn arg(&self, name: &str) -> Option<serde_json::Value> {
        self.args
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| serde_json::from_str(v).ok())
    }

    /// The argument of that name when it is a string.
    pub fn arg_str(&self, name: &str) -> Option<String> {
        match self.arg(name)? {
            serde_json::Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The argument of that name when it is a number.
    pub fn arg_f64(&self, name: &str) -> Option<f64> {
        self.arg(name)?.as_f64()
    }
}

/// The data source that answers a fact: the key by which a provider is found.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The entity catalog itself: answered from memory, so its functions take computed
    /// arguments too (see [`Lookup`]).
    Catalog,
    /// Codecov (cloud or self-hosted).
    Codecov,
    /// Datadog Code Coverage.
    Datadog,
    /// Coverage uploaded to rubric itself (`coverage.*`), read from the store.
    Coverage,
    /// A source the language knows (Cortex's `sonarqube`, `jira`, ...) but rubric has no
    /// provider for: its facts are errors that say so.
    Other(String),
}

impl Source {
    /// The source of that name (`catalog`, `codecov`, `datadog`, anything else as
    /// [`Source::Other`]).
    pub fn named(name: &str) -> Source {
        match name {
            "catalog" => Source::Catalog,
            "codecov" => Source::Codecov,
            "datadog" => Source::Datadog,
            "coverage" => Source::Coverage,
            other => Source::Other(other.to_string()),
        }
    }

    /// Its name, as configuration sections, the store and `rubric cql functions` spell it.
    pub fn name(&self) -> &str {
        match self {
            Source::Catalog => "catalog",
            Source::Codecov => "codecov",
            Source::Datadog => "datadog",
            Source::Coverage => "coverage",
            Source::Other(name) => name,
        }
    }
}

impl From<&str> for Source {
    fn from(name: &str) -> Source {
        Source::named(name)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Source, D::Error> {
        String::deserialize(d).map(|name| Source::named(&name))
    }
}

/// Answers facts while a rule is evaluated, for sources held in memory (the catalog): their
/// functions accept computed arguments (`["payments", "search"].any(g => hasGroup(g))`), so
/// their keys are only known during evaluation. Provider facts are fetched before evaluation
/// instead, and take constant arguments only.
pub trait Lookup {
    /// The fact for `key` (whose arguments were computed by the rule).
    fn lookup(&self, key: &FactKey) -> Fact;
}

/// A [`Lookup`] for evaluations without a catalog (`Program::evaluate` on bare facts).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLookup;

impl Lookup for NoLookup {
    fn lookup(&self, key: &FactKey) -> Fact {
        Fact::error(format!(
            "{key} needs the catalog, which this evaluation has not"
        ))
    }
}

/// Renders as the CQL call it stands for: `codecov.codeCoverage(flag="x")`.
impl fmt::Display for FactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match (self.namespace.is_empty(), self.function.is_empty()) {
            (true, _) => self.function.clone(),
            (false, true) => return f.write_str(&self.namespace),
            (false, false) => format!("{}.{}", self.namespace, self.function),
        };
        write!(f, "{name}(")?;
        for (i, (n, v)) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v}")?;
        }
        f.write_str(")")
    }
}

/// Whether a fact has a value, and if not, why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum FactStatus {
    /// The value is what the source said (it may still be `null` when `null` is the answer).
    Ok,
    /// The source has no value for this entity: unmapped, no uploads, unknown flag...
    NoData(String),
    /// The source failed or is not configured: the rule gets an `error` outcome.
    Error(String),
}

/// The state of a fact without its reason, as reports and the store name it: `ok`, `no_data`
/// or `error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactState {
    /// [`FactStatus::Ok`].
    Ok,
    /// [`FactStatus::NoData`].
    NoData,
    /// [`FactStatus::Error`].
    Error,
}

impl FactState {
    /// `ok`, `no_data` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            FactState::Ok => "ok",
            FactState::NoData => "no_data",
            FactState::Error => "error",
        }
    }
}

impl FactStatus {
    /// The state, without the reason.
    pub fn state(&self) -> FactState {
        match self {
            FactStatus::Ok => FactState::Ok,
            FactStatus::NoData(_) => FactState::NoData,
            FactStatus::Error(_) => FactState::Error,
        }
    }
}

/// One fetched fact: the value, its status, where it came from and how old it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// The value (`Null` unless `status` is `Ok`, or `Ok` with a genuinely null answer).
    #[serde(with = "value_json")]
    pub value: Value,
    /// Ok, no data (why), or error (why).
    #[serde(flatten)]
    pub status: FactStatus,
    /// Where the value came from, for explanations: `github/acme/api, flag backend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Set when the value was served from cache after a failed refresh: its age in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_secs: Option<u64>,
}

impl Fact {
    /// A value the source gave.
    pub fn ok(value: impl Into<Value>) -> Self {
        Fact {
            value: value.into(),
            status: FactStatus::Ok,
            origin: None,
            stale_secs: None,
        }
    }

    /// No value, and why (`no coverage uploads`, `entity has no Codecov mapping`...).
    pub fn no_data(reason: impl Into<String>) -> Self {
        Fact {
            value: Value::Null,
            status: FactStatus::NoData(reason.into()),
            origin: None,
            stale_secs: None,
        }
    }

    /// The source failed (`Codecov answered 500`, `data source sonarqube is not configured`).
    pub fn error(reason: impl Into<String>) -> Self {
        Fact {
            value: Value::Null,
            status: FactStatus::Error(reason.into()),
            origin: None,
            stale_secs: None,
        }
    }

    /// Records where the value came from.
    pub fn from_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Why the value is missing, if it is.
    pub fn null_reason(&self) -> Option<&str> {
        match &self.status {
            FactStatus::Ok => None,
            FactStatus::NoData(r) | FactStatus::Error(r) => Some(r),
        }
    }
}

/// Facts serialize their value as plain JSON (for `rubric sync --out` and `eval --facts`).
mod value_json {
    use super::Value;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        v.to_json().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        serde_json::Value::deserialize(d).map(|j| Value::from_json(&j))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_render_as_calls_and_keep_args_sorted() {
        let k =
            FactKey::new("codecov", "codecov", "codeCoverage").with_arg("flag", json!("backend"));
        assert_eq!(k.to_string(), r#"codecov.codeCoverage(flag="backend")"#);
        assert_eq!(k.arg_str("flag").as_deref(), Some("backend"));
        assert_eq!(
            FactKey::new("codecov", "codecov", "").to_string(),
            "codecov"
        );
        let k2 = FactKey::new("catalog", "", "custom").with_arg("key", json!("tier"));
        assert_eq!(k2.to_string(), r#"custom(key="tier")"#);
    }

    #[test]
    fn facts_round_trip_through_json() {
        let f = Fact::no_data("no coverage uploads").from_origin("github/acme/api");
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            json!({"value": null, "status": "no_data", "reason": "no coverage uploads", "origin": "github/acme/api"})
        );
        assert_eq!(serde_json::from_str::<Fact>(&text).unwrap(), f);
        let ok: Fact = serde_json::from_value(json!({"value": 87.5, "status": "ok"})).unwrap();
        assert_eq!(ok, Fact::ok(87.5));
    }
}

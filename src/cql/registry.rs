//! The function registry: every namespace, function and method CQL knows, with its parameters,
//! types, data source and documentation. The compiler checks calls against it and
//! `rubric cql functions` prints it.

use std::fmt;
use std::sync::LazyLock;

/// Static types the compiler knows. `Any` is "only known at evaluation".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Unknown until evaluation.
    Any,
    /// The `null` literal.
    Null,
    /// `true` / `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// A list.
    List,
    /// An object.
    Object,
    /// A duration.
    Duration,
    /// A timestamp.
    Timestamp,
}

impl Ty {
    /// The name messages use (the same as [`crate::value::Value::type_name`]).
    pub fn name(self) -> &'static str {
        match self {
            Ty::Any => "any",
            Ty::Null => "null",
            Ty::Bool => "boolean",
            Ty::Number => "number",
            Ty::String => "string",
            Ty::List => "list",
            Ty::Object => "object",
            Ty::Duration => "duration",
            Ty::Timestamp => "timestamp",
        }
    }

    /// Whether both types are known (neither `Any` nor `Null`) and differ.
    pub fn conflicts_with(self, other: Ty) -> bool {
        let known = |t: Ty| !matches!(t, Ty::Any | Ty::Null);
        known(self) && known(other) && self != other
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One parameter of a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its name, as named arguments spell it.
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// Whether the call must give it.
    pub required: bool,
    /// The value used when omitted, as JSON text (it becomes part of the fact key).
    pub default: Option<&'static str>,
}

const fn req(name: &'static str, ty: Ty) -> Param {
    Param {
        name,
        ty,
        required: true,
        default: None,
    }
}

const fn opt(name: &'static str, ty: Ty) -> Param {
    Param {
        name,
        ty,
        required: false,
        default: None,
    }
}

/// How a function is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FnKind {
    /// A fact: fetched before evaluation from its data source; every argument must be a constant.
    Fact,
    /// Computed during evaluation from its arguments.
    Builtin(Builtin),
}

/// Functions computed during evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `duration("P1W")`
    Duration,
    /// `jq(value, ".filter")`
    Jq,
    /// `captures("name", expr)`
    Captures,
    /// `timestamp("2026-01-31T12:00:00Z")`
    Timestamp,
}

/// One function: `namespace.name(params) -> returns`, answered by `source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// `codecov`, `entity`, or `""` for global functions (`custom`, `hasGroup`).
    pub namespace: &'static str,
    /// The name; a dotted name (`pullRequest.patchCoverage`) is a call chain whose parameters
    /// belong to its first call.
    pub name: &'static str,
    /// Parameters, positional order.
    pub params: &'static [Param],
    /// The result type.
    pub returns: Ty,
    /// The data source: `catalog`, `codecov`, `datadog`, `builtin`, or a source rubric has no
    /// provider for (`sonarqube`...).
    pub source: &'static str,
    /// How it is computed.
    pub kind: FnKind,
    /// One line for people.
    pub doc: &'static str,
}

impl Function {
    /// `codecov.codeCoverage` / `custom`.
    pub fn qualified_name(&self) -> String {
        if self.namespace.is_empty() {
            self.name.to_string()
        } else {
            format!("{}.{}", self.namespace, self.name)
        }
    }

    /// `codecov.codeCoverage(flag?: string) -> number`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                let q = if p.required { "" } else { "?" };
                match p.default {
                    Some(d) => format!("{}{q}: {} = {d}", p.name, p.ty),
                    None => format!("{}{q}: {}", p.name, p.ty),
                }
            })
            .collect();
        match self.name.split_once('.') {
            Some((first, rest)) => {
                let ns = if self.namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}.", self.namespace)
                };
                format!(
                    "{ns}{first}({}).{rest}() -> {}",
                    params.join(", "),
                    self.returns
                )
            }
            None => format!(
                "{}({}) -> {}",
                self.qualified_name(),
                params.join(", "),
                self.returns
            ),
        }
    }
}

/// A namespace: `codecov`, `git`, `sonarqube`...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// The name.
    pub name: &'static str,
    /// The data source of the bare namespace and of functions not listed.
    pub source: &'static str,
    /// The type of the bare namespace used as a value (`codecov != null`), when it is one.
    pub bare: Option<Ty>,
    /// Whether rubric implements it; any call into an unimplemented namespace compiles with a
    /// warning and evaluates to "data source X is not configured".
    pub implemented: bool,
    /// One line for people.
    pub doc: &'static str,
}

/// Methods on values: `list.any(x => ...)`, `string.matches(re)`, `timestamp.fromNow()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Method {
    /// The receiver type.
    pub receiver: Ty,
    /// The name.
    pub name: &'static str,
    /// Parameters (`fn` for a lambda is written as `Ty::Any` with name `lambda`).
    pub params: &'static [Param],
    /// Whether it is read as a property (`.length`) rather than called.
    pub property: bool,
    /// The result type.
    pub returns: Ty,
    /// One line for people.
    pub doc: &'static str,
}

/// Every known namespace, function and method.
#[derive(Debug)]
pub struct Registry {
    namespaces: Vec<Namespace>,
    functions: Vec<Function>,
    methods: Vec<Method>,
}

const fn fact(
    namespace: &'static str,
    name: &'static str,
    params: &'static [Param],
    returns: Ty,
    source: &'static str,
    doc: &'static str,
) -> Function {
    Function {
        namespace,
        name,
        params,
        returns,
        source,
        kind: FnKind::Fact,
        doc,
    }
}

const fn builtin(
    name: &'static str,
    params: &'static [Param],
    returns: Ty,
    b: Builtin,
    doc: &'static str,
) -> Function {
    Function {
        namespace: "",
        name,
        params,
        returns,
        source: "builtin",
        kind: FnKind::Builtin(b),
        doc,
    }
}

const FLAG: &[Param] = &[opt("flag", Ty::String)];

#[rustfmt::skip]
static FUNCTIONS: &[Function] = &[
    // ---- catalog: entity metadata ----
    fact("entity", "tag", &[], Ty::String, "catalog", "The entity's tag (x-cortex-tag or Backstage metadata.name)."),
    fact("entity", "name", &[], Ty::String, "catalog", "The entity's title."),
    fact("entity", "type", &[], Ty::String, "catalog", "x-cortex-type or Backstage spec.type."),
    fact("entity", "description", &[], Ty::String, "catalog", "The description, or null."),
    fact("entity", "descriptor", &[], Ty::Object, "catalog", "The raw descriptor document, for jq()."),
    fact("entity", "groups", &[], Ty::List, "catalog", "The entity's groups (Backstage tags) as strings."),
    fact("entity", "parents", &[], Ty::List, "catalog", "Parent entities as objects with .tag, .name, .type."),
    fact("entity", "destinations", &[opt("relationshipType", Ty::String)], Ty::List, "relationships", "Entities this one relates to (Cortex relationships; no data in rubric)."),
    fact("entity", "sources", &[opt("relationshipType", Ty::String)], Ty::List, "relationships", "Entities relating to this one (Cortex relationships; no data in rubric)."),
    fact("", "groups", &[], Ty::List, "catalog", "The entity's groups as objects with .name."),
    fact("", "hasGroup", &[req("group", Ty::String)], Ty::Bool, "catalog", "Whether the entity is in the group."),
    fact("", "custom", &[req("key", Ty::String)], Ty::Any, "catalog", "Custom metadata by key, typed as the descriptor gives it; null (no data) when missing."),
    fact("", "links", &[opt("type", Ty::String)], Ty::List, "catalog", "Links (objects with .name, .type, .url), of one type when given."),
    fact("ownership", "teams", &[], Ty::List, "catalog", "Owning teams as objects with .name, .type."),
    fact("ownership", "allOwners", &[], Ty::List, "catalog", "All owners (teams, users, emails) as objects with .name, .type."),
    fact("dependencies", "out", &[], Ty::List, "catalog", "Entities this one depends on, as objects with .tag, .name, .type."),
    fact("dependencies", "in", &[], Ty::List, "catalog", "Entities that depend on this one, as objects with .tag, .name, .type."),
    fact("git", "repository", &[], Ty::String, "catalog", "The repository as owner/name."),
    fact("git", "provider", &[], Ty::String, "catalog", "The git provider: github, gitlab, bitbucket, azure."),
    fact("git", "fileExists", &[req("path", Ty::String)], Ty::Bool, "git", "Whether a file exists in the repository (no git data in rubric)."),
    fact("git", "defaultBranch", &[], Ty::String, "git", "The default branch (no git data in rubric)."),
    fact("git", "numOfVulnerabilities", &[opt("severity", Ty::List)], Ty::Number, "git", "Open vulnerability alerts (no git data in rubric)."),
    fact("git", "pullRequests", &[opt("lookback", Ty::Duration)], Ty::List, "git", "Pull requests (no git data in rubric)."),
    fact("git", "codeSearch", &[req("query", Ty::String)], Ty::List, "git", "Code search results (no git data in rubric)."),
    // ---- codecov ----
    fact("codecov", "codeCoverage", FLAG, Ty::Number, "codecov", "Line coverage % of the mapped project (of the flag when given or mapped)."),
    fact("codecov", "lines", FLAG, Ty::Number, "codecov", "Tracked lines."),
    fact("codecov", "hits", FLAG, Ty::Number, "codecov", "Covered lines."),
    fact("codecov", "misses", FLAG, Ty::Number, "codecov", "Missed lines."),
    fact("codecov", "partials", FLAG, Ty::Number, "codecov", "Partially covered lines."),
    fact("codecov", "files", FLAG, Ty::Number, "codecov", "Tracked files."),
    fact("codecov", "coverageTrend", &[Param { name: "days", ty: Ty::Number, required: false, default: Some("30") }], Ty::Number, "codecov", "Change in coverage points over the last `days` days."),
    fact("codecov", "lastUploadAt", &[], Ty::Timestamp, "codecov", "When coverage was last uploaded."),
    fact("codecov", "openPullRequests", &[], Ty::List, "codecov", "Open pull requests as objects with .pullid, .title and .base, .head and .patch coverage."),
    fact("codecov", "coverageHistory", &[Param { name: "days", ty: Ty::Number, required: false, default: Some("30") }], Ty::List, "codecov", "Daily coverage of the last `days` days as objects with .day and .coverage, oldest first."),
    fact("codecov", "pullRequest.patchCoverage", &[req("id", Ty::Number)], Ty::Number, "codecov", "Patch coverage % of a pull request."),
    fact("codecov", "pullRequest.coverageDelta", &[req("id", Ty::Number)], Ty::Number, "codecov", "Coverage change (points) a pull request makes."),
    fact("codecov", "pullRequest.files", &[req("id", Ty::Number)], Ty::List, "codecov", "The files a pull request changes, as objects with .name and the .base, .head and .patch coverage (Codecov's comparison)."),
    fact("codecov", "pullRequest.changedFilesCoverage", &[req("id", Ty::Number)], Ty::Number, "codecov", "Line-weighted coverage % of the files a pull request changes (hits over lines of their head reports), as `rubric risk` weighs it."),
    // ---- coverage uploaded to rubric ----
    fact("coverage", "total", FLAG, Ty::Number, "coverage", "Line coverage % uploaded to rubric for the entity's repository: the main branch's latest complete commit (of the flag when given or mapped)."),
    fact("coverage", "lines", FLAG, Ty::Number, "coverage", "Coverable lines of the uploaded report."),
    fact("coverage", "hits", FLAG, Ty::Number, "coverage", "Covered lines of the uploaded report."),
    fact("coverage", "misses", FLAG, Ty::Number, "coverage", "Missed lines of the uploaded report."),
    fact("coverage", "partials", FLAG, Ty::Number, "coverage", "Partially covered lines of the uploaded report."),
    fact("coverage", "lastUploadAt", &[], Ty::Timestamp, "coverage", "When coverage was last uploaded to rubric for the repository (any branch)."),
    fact("coverage", "file", &[req("path", Ty::String)], Ty::Number, "coverage", "Line coverage % of one file (its path in the repository); null when the report has no such file."),
    fact("coverage", "files", &[], Ty::List, "coverage", "Every file of the uploaded report as objects with .path, .coverage, .lines, .hits."),
    fact("coverage", "trend", &[Param { name: "days", ty: Ty::Number, required: false, default: Some("30") }], Ty::Number, "coverage", "Change in coverage points since `days` days ago (uploads on the main branch)."),
    fact("coverage", "history", &[Param { name: "days", ty: Ty::Number, required: false, default: Some("30") }], Ty::List, "coverage", "Daily coverage uploaded over the last `days` days (each day's last complete commit on the main branch) as objects with .day and .coverage."),
    // ---- datadog ----
    fact("datadog", "codeCoverage", &[opt("branch", Ty::String)], Ty::Number, "datadog", "Total coverage % of the repository's branch (default branch when omitted)."),
    fact("datadog", "patchCoverage", &[opt("pr", Ty::Number)], Ty::Number, "datadog", "Patch coverage % of a pull request."),
    fact("datadog", "serviceCoverage", &[req("service", Ty::String)], Ty::Number, "datadog", "Coverage % of one service."),
    fact("datadog", "codeownerCoverage", &[req("codeowner", Ty::String)], Ty::Number, "datadog", "Coverage % of the code one code owner owns."),
    fact("datadog", "monitors", &[], Ty::List, "datadog-monitors", "Datadog monitors (no monitor data in rubric)."),
    // ---- Cortex sources rubric knows but has no data for ----
    fact("sonarqube", "metric", &[req("metric", Ty::String)], Ty::Number, "sonarqube", "A SonarQube metric (no data in rubric)."),
    fact("snyk", "numOfIssues", &[], Ty::Number, "snyk", "Snyk issues (no data in rubric)."),
    fact("jira", "numOfIssues", &[opt("query", Ty::String)], Ty::Number, "jira", "Jira issues (no data in rubric)."),
    fact("oncall", "analysis", &[opt("lookback", Ty::Duration)], Ty::Object, "oncall", "On-call analysis (no data in rubric)."),
    fact("", "deploys", &[opt("lookback", Ty::Duration)], Ty::List, "deploys", "Deploy events (no data in rubric)."),
    fact("", "customMetrics", &[req("key", Ty::String), opt("lookback", Ty::Duration)], Ty::List, "customMetrics", "Custom metrics (no data in rubric)."),
    fact("", "customEvents", &[opt("lookback", Ty::Duration), opt("types", Ty::List)], Ty::List, "customEvents", "Custom events (no data in rubric)."),
    fact("", "verifications", &[], Ty::Object, "verifications", "Verifications (no data in rubric)."),
    fact("", "semver", &[req("version", Ty::String)], Ty::Object, "semver", "Semantic version checks (not in rubric)."),
    // ---- computed during evaluation ----
    builtin("duration", &[req("iso", Ty::String)], Ty::Duration, Builtin::Duration, "An ISO-8601 duration: P1W, P-90D, PT12H, -P1DT2H (a year is 365 days, a month 30)."),
    builtin("timestamp", &[req("rfc3339", Ty::String)], Ty::Timestamp, Builtin::Timestamp, "A point in time from RFC 3339 text: 2026-01-31T12:00:00Z."),
    builtin("jq", &[req("value", Ty::Any), req("filter", Ty::String)], Ty::Any, Builtin::Jq, "Runs a jq filter (jaq) on a value; no output is null, one is the value, several a list."),
    builtin("captures", &[req("name", Ty::String), req("value", Ty::Any)], Ty::Any, Builtin::Captures, "Returns the value and records it as {{context.evaluation.captures.NAME}}."),
];

const fn ns(
    name: &'static str,
    source: &'static str,
    bare: Option<Ty>,
    implemented: bool,
    doc: &'static str,
) -> Namespace {
    Namespace {
        name,
        source,
        bare,
        implemented,
        doc,
    }
}

const fn cortex(name: &'static str, doc: &'static str) -> Namespace {
    Namespace {
        name,
        source: name,
        bare: Some(Ty::Object),
        implemented: false,
        doc,
    }
}

#[rustfmt::skip]
static NAMESPACES: &[Namespace] = &[
    ns("entity", "catalog", None, true, "The entity's own metadata."),
    ns("ownership", "catalog", Some(Ty::Object), true, "Owners; null when the entity has none."),
    ns("dependencies", "catalog", None, true, "Dependency edges."),
    ns("git", "catalog", Some(Ty::Object), true, "The git repository; null when the entity has none."),
    ns("codecov", "codecov", Some(Ty::Object), true, "Codecov; null when the entity has no Codecov mapping."),
    ns("datadog", "datadog", None, true, "Datadog Code Coverage."),
    ns("coverage", "coverage", None, true, "Coverage uploaded to rubric itself (rubric serve's upload routes)."),
    cortex("sonarqube", "SonarQube (no data in rubric)."),
    cortex("snyk", "Snyk (no data in rubric)."),
    cortex("jira", "Jira (no data in rubric)."),
    cortex("oncall", "On-call (no data in rubric)."),
    cortex("slack", "Slack (no data in rubric)."),
    cortex("microsoftTeams", "Microsoft Teams (no data in rubric)."),
    cortex("k8s", "Kubernetes (no data in rubric)."),
    cortex("pagerduty", "PagerDuty (no data in rubric)."),
    cortex("opsgenie", "Opsgenie (no data in rubric)."),
    cortex("sentry", "Sentry (no data in rubric)."),
    cortex("newrelic", "New Relic (no data in rubric)."),
    cortex("github", "GitHub-specific data (no data in rubric)."),
    cortex("gitlab", "GitLab-specific data (no data in rubric)."),
    cortex("azureDevops", "Azure DevOps (no data in rubric)."),
    cortex("bitbucket", "Bitbucket-specific data (no data in rubric)."),
    cortex("checkmarx", "Checkmarx (no data in rubric)."),
    cortex("veracode", "Veracode (no data in rubric)."),
    cortex("wiz", "Wiz (no data in rubric)."),
    cortex("launchDarkly", "LaunchDarkly (no data in rubric)."),
    cortex("servicenow", "ServiceNow (no data in rubric)."),
    cortex("statuspage", "Statuspage (no data in rubric)."),
    cortex("argocd", "Argo CD (no data in rubric)."),
    cortex("dynatrace", "Dynatrace (no data in rubric)."),
    cortex("prometheus", "Prometheus (no data in rubric)."),
    cortex("rollbar", "Rollbar (no data in rubric)."),
    cortex("bugsnag", "Bugsnag (no data in rubric)."),
    cortex("mend", "Mend (no data in rubric)."),
    cortex("coralogix", "Coralogix (no data in rubric)."),
    cortex("firehydrant", "FireHydrant (no data in rubric)."),
    cortex("incidentio", "incident.io (no data in rubric)."),
    cortex("rootly", "Rootly (no data in rubric)."),
    cortex("splunk", "Splunk (no data in rubric)."),
    cortex("lightstep", "Lightstep (no data in rubric)."),
    cortex("aws", "AWS (no data in rubric)."),
    cortex("azure", "Azure resources (no data in rubric)."),
    cortex("gcp", "Google Cloud (no data in rubric)."),
];

const LAMBDA: &[Param] = &[req("lambda", Ty::Any)];

const fn method(
    receiver: Ty,
    name: &'static str,
    params: &'static [Param],
    returns: Ty,
    doc: &'static str,
) -> Method {
    Method {
        receiver,
        name,
        params,
        property: false,
        returns,
        doc,
    }
}

#[rustfmt::skip]
static METHODS: &[Method] = &[
    Method { receiver: Ty::List, name: "length", params: &[], property: true, returns: Ty::Number, doc: "Number of items." },
    method(Ty::List, "any", LAMBDA, Ty::Bool, "Whether the lambda is true for some item (false when empty)."),
    method(Ty::List, "all", LAMBDA, Ty::Bool, "Whether the lambda is true for every item (true when empty)."),
    method(Ty::List, "filter", LAMBDA, Ty::List, "The items the lambda is true for."),
    method(Ty::List, "map", LAMBDA, Ty::List, "The lambda applied to each item."),
    method(Ty::List, "sum", &[], Ty::Number, "Sum of the numbers (0 when empty; nulls skipped)."),
    method(Ty::List, "average", &[], Ty::Number, "Mean of the numbers (null when empty; nulls skipped)."),
    method(Ty::List, "min", &[], Ty::Number, "Smallest number (null when empty; nulls skipped)."),
    method(Ty::List, "max", &[], Ty::Number, "Largest number (null when empty; nulls skipped)."),
    method(Ty::List, "anyMatch", &[req("regex", Ty::String)], Ty::Bool, "Whether some string item matches the regex as a whole."),
    Method { receiver: Ty::String, name: "length", params: &[], property: true, returns: Ty::Number, doc: "Number of characters." },
    method(Ty::String, "matches", &[req("regex", Ty::String)], Ty::Bool, "Whether the whole string matches the regex (Java's String.matches)."),
    method(Ty::String, "matchesIn", &[req("regex", Ty::String)], Ty::Bool, "Whether a match of the regex occurs anywhere in the string (a plain word matches itself)."),
    method(Ty::Timestamp, "fromNow", &[], Ty::Duration, "Time from now until the timestamp, negative for the past: `t.fromNow() > duration(\"P-7D\")` is \"within the last week\"."),
    method(Ty::String, "fromNow", &[], Ty::Duration, "As timestamp.fromNow(), for RFC 3339 text."),
];

static STANDARD: LazyLock<Registry> = LazyLock::new(|| Registry {
    namespaces: NAMESPACES.to_vec(),
    functions: FUNCTIONS.to_vec(),
    methods: METHODS.to_vec(),
});

impl Registry {
    /// The registry of every built-in function, shared by the whole process.
    pub fn standard() -> &'static Registry {
        &STANDARD
    }

    /// Every namespace.
    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }

    /// Every function.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// Every value method.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// The namespace of that name.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    /// The function `namespace.name` (`""` namespace for global functions).
    pub fn function(&self, namespace: &str, name: &str) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| f.namespace == namespace && f.name == name)
    }

    /// Whether a dotted function in `namespace` starts with `first.` (`pullRequest.`).
    pub fn has_chain(&self, namespace: &str, first: &str) -> bool {
        self.chain_names(namespace, first).next().is_some()
    }

    /// The second segments of the dotted functions of `namespace` that start with `first.`
    /// (`patchCoverage` for `pullRequest`).
    pub fn chain_names<'a>(
        &'a self,
        namespace: &'a str,
        first: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.functions
            .iter()
            .filter(move |f| f.namespace == namespace)
            .filter_map(move |f| f.name.split_once('.').filter(|(a, _)| *a == first))
            .map(|(_, b)| b)
    }

    /// The methods of that name (one per receiver type).
    pub fn methods_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Method> + 'a {
        self.methods.iter().filter(move |m| m.name == name)
    }

    /// Functions of a namespace, first segment only (`pullRequest` for `pullRequest.patchCoverage`).
    pub fn names_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.functions
            .iter()
            .filter(move |f| f.namespace == namespace)
            .map(|f| f.name.split('.').next().unwrap_or(f.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_key_of_the_facts_table_is_registered() {
        let r = Registry::standard();
        for (ns, name) in [
            ("codecov", "codeCoverage"),
            ("codecov", "lines"),
            ("codecov", "hits"),
            ("codecov", "misses"),
            ("codecov", "partials"),
            ("codecov", "files"),
            ("codecov", "coverageTrend"),
            ("codecov", "lastUploadAt"),
            ("codecov", "pullRequest.patchCoverage"),
            ("codecov", "pullRequest.coverageDelta"),
            ("datadog", "codeCoverage"),
            ("datadog", "patchCoverage"),
            ("datadog", "serviceCoverage"),
            ("datadog", "codeownerCoverage"),
        ] {
            let f = r
                .function(ns, name)
                .unwrap_or_else(|| panic!("{ns}.{name}"));
            assert_eq!(f.source, ns);
        }
        assert_eq!(
            r.namespace("codecov").and_then(|n| n.bare),
            Some(Ty::Object)
        );
    }

    #[test]
    fn signatures_read_like_calls() {
        let r = Registry::standard();
        assert_eq!(
            r.function("codecov", "codeCoverage").unwrap().signature(),
            "codecov.codeCoverage(flag?: string) -> number"
        );
        assert_eq!(
            r.function("codecov", "coverageTrend").unwrap().signature(),
            "codecov.coverageTrend(days?: number = 30) -> number"
        );
        assert_eq!(
            r.function("codecov", "pullRequest.patchCoverage")
                .unwrap()
                .signature(),
            "codecov.pullRequest(id: number).patchCoverage() -> number"
        );
    }

    #[test]
    fn names_in_and_chain_names_feed_suggestions() {
        let r = Registry::standard();
        assert_eq!(
            crate::diag::suggest("codeCoverag", r.names_in("codecov")),
            Some("codeCoverage")
        );
        assert_eq!(
            crate::diag::suggest("patchCoverag", r.chain_names("codecov", "pullRequest")),
            Some("patchCoverage")
        );
    }
}

//! Table-driven tests of compile + evaluate: verdicts, explanations, pinned error messages.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::facts::{FactKey, Lookup, Source};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// Facts by their CQL display (`codecov.codeCoverage()`, `custom(key="tier")`).
fn world() -> HashMap<String, Fact> {
    let mut m = HashMap::new();
    let mut put = |k: FactKey, f: Fact| {
        m.insert(k.to_string(), f);
    };
    let cc = |f: &str| FactKey::new("codecov", "codecov", f);
    put(
        cc("codeCoverage"),
        Fact::ok(87.3).from_origin("github/acme/api, flag backend"),
    );
    put(
        cc("coverageTrend").with_arg("days", json!(30)),
        Fact::ok(-1.5).from_origin("github/acme/api"),
    );
    put(
        cc("lines"),
        Fact::no_data("no coverage uploads").from_origin("github/acme/api"),
    );
    put(
        cc("codeCoverage").with_arg("flag", json!("web")),
        Fact::ok(96.0).from_origin("github/acme/api, flag web"),
    );
    put(
        cc(""),
        Fact::ok(Value::from_json(
            &json!({"service": "github", "owner": "acme", "repo": "api"}),
        )),
    );
    put(
        cc("hits"),
        Fact::error("Codecov answered 500 Internal Server Error"),
    );
    let cat = |ns: &str, f: &str| FactKey::new("catalog", ns, f);
    put(cat("entity", "tag"), Fact::ok("api"));
    put(cat("entity", "type"), Fact::ok("service"));
    put(
        cat("", "hasGroup").with_arg("group", json!("payments")),
        Fact::ok(true),
    );
    put(
        cat("", "hasGroup").with_arg("group", json!("x")),
        Fact::ok(false),
    );
    put(
        cat("", "custom").with_arg("key", json!("tier")),
        Fact::ok("tier1"),
    );
    put(
        cat("", "custom").with_arg("key", json!("openVulns")),
        Fact::ok(0.0),
    );
    put(
        cat("", "custom").with_arg("key", json!("cloud-cost")),
        Fact::ok(Value::from_json(
            &json!({"cost": {"compute": {"actual": 120.5}}}),
        )),
    );
    put(
        cat("", "custom").with_arg("key", json!("missing")),
        Fact::no_data("entity api has no custom key \"missing\""),
    );
    put(
        cat("entity", "parents"),
        Fact::ok(Value::from_json(
            &json!([{"tag": "payments", "type": "domain"}, {"tag": "core", "type": "team"}]),
        )),
    );
    put(
        cat("entity", "groups"),
        Fact::ok(Value::from_json(&json!(["payments", "tier-1", "java"]))),
    );
    put(
        cat("entity", "descriptor"),
        Fact::ok(Value::from_json(
            &json!({"info": {"x-cortex-custom-metadata": {"test.coverage": {"line": "91.5"}}}}),
        )),
    );
    put(
        cat("", "custom").with_arg("key", json!("scores")),
        Fact::ok(Value::from_json(&json!([80, 90, null, 70]))),
    );
    put(
        cc("lastUploadAt"),
        Fact::ok(Value::Timestamp(
            Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
        ))
        .from_origin("github/acme/api"),
    );
    put(
        cat("", "custom").with_arg("key", json!("released")),
        Fact::ok("2026-10-01T00:00:00Z"),
    );
    m
}

/// Facts for an unmapped entity: every codecov key has no data.
fn unmapped() -> HashMap<String, Fact> {
    let mut m = world();
    for (k, f) in m.iter_mut() {
        if k.starts_with("codecov") {
            *f = Fact::no_data("entity has no Codecov mapping: no repository");
        }
    }
    m
}

/// The test world answers computed catalog calls too, by the key's text.
impl Lookup for HashMap<String, Fact> {
    fn lookup(&self, key: &FactKey) -> Fact {
        self.get(&key.to_string())
            .cloned()
            .unwrap_or_else(|| panic!("no fact {key} in the test world"))
    }
}

fn run_in(world: &HashMap<String, Fact>, src: &str) -> Evaluation {
    let mut slots = SlotTable::new();
    let compiled = Program::compile(src, Registry::standard(), &mut slots)
        .unwrap_or_else(|d| panic!("{src}: {}", d[0]));
    let facts: Vec<Fact> = slots
        .keys()
        .iter()
        .map(|k| match &k.source {
            Source::Other(s) => Fact::error(format!("data source {s} is not configured")),
            _ => world.lookup(k),
        })
        .collect();
    let e = compiled.program.evaluate_with(&facts, world, now());
    assert_eq!(
        compiled.program.verdict_with(&facts, world, now()),
        e.verdict,
        "fast and explaining paths disagree on {src}: {}",
        e.explanation
    );
    e
}

#[test]
fn verdicts_and_explanations() {
    use Verdict::*;
    let w = world();
    let u = unmapped();
    let cases: &[(&HashMap<String, Fact>, &str, Verdict, &str)] = &[
        (
            &w,
            "codecov.codeCoverage() >= 95",
            Fail,
            "codecov.codeCoverage() = 87.3 (github/acme/api, flag backend), needs >= 95",
        ),
        (
            &w,
            "codecov.codeCoverage() >= 80",
            Pass,
            "codecov.codeCoverage() = 87.3 (github/acme/api, flag backend), needs >= 80",
        ),
        (
            &w,
            "95 <= codecov.codeCoverage()",
            Fail,
            "codecov.codeCoverage() = 87.3 (github/acme/api, flag backend), needs >= 95",
        ),
        (
            &w,
            "codecov.codeCoverage(flag=\"web\") >= 95",
            Pass,
            "codecov.codeCoverage(flag=\"web\") = 96 (github/acme/api, flag web), needs >= 95",
        ),
        (
            &w,
            "codecov.codeCoverage('web') >= 95",
            Pass,
            "codecov.codeCoverage('web') = 96 (github/acme/api, flag web), needs >= 95",
        ),
        (
            &u,
            "codecov.codeCoverage() >= 95",
            NoData,
            "codecov.codeCoverage() is null (entity has no Codecov mapping: no repository), needs >= 95",
        ),
        (
            &u,
            "codecov != null",
            Fail,
            "codecov is null (entity has no Codecov mapping: no repository), needs a value",
        ),
        (
            &u,
            "codecov == null",
            Pass,
            "codecov is null (entity has no Codecov mapping: no repository)",
        ),
        (&w, "codecov != null", Pass, "codecov is set"),
        (
            &w,
            "codecov.lines() > 0",
            NoData,
            "codecov.lines() is null (github/acme/api: no coverage uploads), needs > 0",
        ),
        (
            &w,
            "codecov.hits() > 0",
            Error,
            "codecov.hits(): Codecov answered 500 Internal Server Error",
        ),
        (
            &w,
            "codecov.hits() > 0 OR true",
            Pass,
            "codecov.hits() > 0 OR true = true",
        ),
        (
            &w,
            "entity.tag() == \"api\" AND hasGroup(\"payments\")",
            Pass,
            "entity.tag() = \"api\", needs == \"api\"",
        ),
        (&w, "hasGroup(\"x\")", Fail, "hasGroup(\"x\") = false"),
        (
            &w,
            "!(entity.tag() == 'api')",
            Fail,
            "entity.tag() = \"api\", needs != 'api'",
        ),
        (
            &w,
            "!(entity.tag() == 'web')",
            Pass,
            "entity.tag() = \"api\", needs != 'web'",
        ),
        (
            &w,
            "entity.type() == 'service' and custom('openVulns') == 0",
            Pass,
            "entity.type() = \"service\", needs == 'service'; custom('openVulns') = 0, needs == 0",
        ),
        (
            &w,
            "custom(\"tier\") == \"tier2\" or custom(\"tier\") == \"tier3\"",
            Fail,
            "custom(\"tier\") = \"tier1\", needs == \"tier2\"; custom(\"tier\") = \"tier1\", needs == \"tier3\"",
        ),
        (
            &w,
            "custom(\"missing\") > 3",
            NoData,
            "custom(\"missing\") is null (entity api has no custom key \"missing\"), needs > 3",
        ),
        (
            &w,
            "jq(custom(\"missing\"), \".branch\") > 75",
            NoData,
            "jq(custom(\"missing\"), \".branch\") is null (entity api has no custom key \"missing\"), needs > 75",
        ),
        (
            &w,
            "jq(custom(\"missing\"), \". // 0\") > 75",
            Fail,
            "jq(custom(\"missing\"), \". // 0\") = 0, needs > 75",
        ),
        (
            &w,
            "custom(\"missing\") != null",
            Fail,
            "custom(\"missing\") is null (entity api has no custom key \"missing\"), needs a value",
        ),
        (
            &w,
            "custom(\"tier\") > 3",
            Error,
            "cannot compare a string with a number (`>` in `custom(\"tier\") > 3`)",
        ),
        (
            &w,
            "custom(\"cloud-cost\") .cost.compute.actual < 100",
            Fail,
            "custom(\"cloud-cost\") .cost.compute.actual = 120.5, needs < 100",
        ),
        (
            &w,
            "custom(\"tier\")",
            Error,
            "rule must be true or false, but it is a string: \"tier1\"",
        ),
        (
            &w,
            "sonarqube.metric(\"coverage\") > 80",
            Error,
            "sonarqube.metric(\"coverage\"): data source sonarqube is not configured",
        ),
        (
            &w,
            "sonarqube != null",
            Error,
            "sonarqube: data source sonarqube is not configured",
        ),
        (
            &w,
            "codecov.coverageTrend() >= 0",
            Fail,
            "codecov.coverageTrend() = -1.5 (github/acme/api), needs >= 0",
        ),
        (
            &w,
            "codecov.codeCoverage() * 2 > 150",
            Pass,
            "codecov.codeCoverage() * 2 = 174.6, needs > 150",
        ),
        (&w, "1 / 0 > 1", Error, "division by zero in `1 / 0`"),
    ];
    for (world, src, verdict, explanation) in cases {
        let e = run_in(world, src);
        assert_eq!(
            (e.verdict, e.explanation.as_str()),
            (*verdict, *explanation),
            "{src}"
        );
    }
}

#[test]
fn the_whole_language() {
    use Verdict::*;
    let w = world();
    let cases: &[(&str, Verdict, Value)] = &[
        (
            "entity.parents().any(x => x.type == 'domain')",
            Pass,
            Value::Bool(true),
        ),
        (
            "entity.parents().all((p) => p.type == 'domain')",
            Fail,
            Value::Bool(false),
        ),
        (
            "entity.parents().filter(p => p.type == 'team').length == 1",
            Pass,
            Value::Bool(true),
        ),
        (
            "entity.parents().map(p => p.tag)",
            Error,
            Value::from_json(&json!(["payments", "core"])),
        ),
        (
            "entity.groups().anyMatch(\"tier-[0-9]\")",
            Pass,
            Value::Bool(true),
        ),
        (
            "entity.groups().anyMatch(\"tier\")",
            Fail,
            Value::Bool(false),
        ),
        ("entity.tag().matches(\"ap\")", Fail, Value::Bool(false)),
        ("entity.tag().matches(\"a.*\")", Pass, Value::Bool(true)),
        ("entity.tag().matchesIn(\"p\")", Pass, Value::Bool(true)),
        (
            "entity.tag().length == 3 and entity.groups().length == 3",
            Pass,
            Value::Bool(true),
        ),
        (
            "custom(\"scores\").average() == 80",
            Pass,
            Value::Bool(true),
        ),
        (
            "custom(\"scores\").sum() + custom(\"scores\").max() - custom(\"scores\").min()",
            Error,
            Value::Number(260.0),
        ),
        (
            "jq(entity.descriptor(), \".info[\\\"x-cortex-custom-metadata\\\"][\\\"test.coverage\\\"].line | tonumber\") > 85",
            Pass,
            Value::Bool(true),
        ),
        (
            "jq(custom(\"scores\"), \"length\") == 4",
            Pass,
            Value::Bool(true),
        ),
        (
            "codecov.lastUploadAt().fromNow() > duration(\"P-7D\")",
            Pass,
            Value::Bool(true),
        ),
        (
            "codecov.lastUploadAt().fromNow() > duration(\"-PT24H\")",
            Fail,
            Value::Bool(false),
        ),
        (
            "custom(\"released\").fromNow() < duration('P-30D')",
            Pass,
            Value::Bool(true),
        ),
        (
            "timestamp(\"2026-11-01T00:00:00Z\") < codecov.lastUploadAt()",
            Pass,
            Value::Bool(true),
        ),
        (
            "duration(\"P1W\") == duration(\"P7D\")",
            Pass,
            Value::Bool(true),
        ),
        (
            "captures(\"cov\", codecov.codeCoverage()) >= 80",
            Pass,
            Value::Bool(true),
        ),
        (
            "2 * 3 + 4 % 3 - -1 == 8 AND 7 / 2 == 3.5",
            Pass,
            Value::Bool(true),
        ),
        (
            "[1, 2, 3].any(x => [3, 4].any(y => x == y))",
            Pass,
            Value::Bool(true),
        ),
        (
            "\"a\" + 'b' == \"ab\" /* string concatenation */",
            Pass,
            Value::Bool(true),
        ),
    ];
    for (src, verdict, value) in cases {
        let e = run_in(&w, src);
        assert_eq!(
            (e.verdict, &e.value),
            (*verdict, value),
            "{src}: {}",
            e.explanation
        );
    }
    let e = run_in(&w, "captures(\"cov\", codecov.codeCoverage()) >= 80");
    assert_eq!(e.captures.get("cov"), Some(&Value::Number(87.3)));
    let e = run_in(&w, "entity.tag().length");
    assert_eq!(
        e.explanation,
        "rule must be true or false, but it is a number: 3"
    );
}

#[test]
fn runtime_errors_name_types_and_places() {
    let w = world();
    let cases: &[(&str, &str)] = &[
        (
            "custom(\"tier\").any(x => x)",
            "a list was expected, found a string in `custom(\"tier\").any(x => x)`",
        ),
        (
            "custom(\"tier\").matches(\"t.*\") AND custom(\"openVulns\").matches(\"0\")",
            "a regex needs a string, found a number in `custom(\"openVulns\").matches(\"0\")`",
        ),
        (
            "jq(custom(\"tier\"), \"tonumber\") > 1",
            "jq filter `tonumber` failed: cannot parse \"tier1\" as JSON: byte offset 0: value expected in `jq(custom(\"tier\"), \"tonumber\")`",
        ),
        (
            "custom(\"tier\") + 1 > 1",
            "cannot apply `+` to a string and a number in `custom(\"tier\") + 1`",
        ),
        (
            "entity.parents().any(x => x.tag)",
            "a lambda needs true or false, got a string in `entity.parents().any(x => x.tag)`",
        ),
    ];
    for (src, msg) in cases {
        let e = run_in(&w, src);
        assert_eq!(
            (e.verdict, e.explanation.as_str()),
            (Verdict::Error, *msg),
            "{src}"
        );
    }
}

#[test]
fn not_binds_looser_than_comparison() {
    let e = run_in(&world(), "!entity.tag() == \"production\"");
    assert_eq!(e.verdict, Verdict::Pass);
    let mut slots = SlotTable::new();
    let c = Program::compile(
        "!entity.tag() == \"production\"",
        Registry::standard(),
        &mut slots,
    )
    .unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(
        c.warnings[0].message,
        "`!` applies to the whole comparison: this reads as `!(entity.tag() == \"production\")`"
    );
}

#[test]
fn rules_share_slots() {
    let mut slots = SlotTable::new();
    let reg = Registry::standard();
    let a = Program::compile("codecov.codeCoverage() >= 95", reg, &mut slots)
        .unwrap()
        .program;
    let b = Program::compile(
        "codecov.codeCoverage() >= 80 and custom('tier') == 'tier1'",
        reg,
        &mut slots,
    )
    .unwrap()
    .program;
    assert_eq!(slots.len(), 2);
    assert_eq!(a.slots(), &[0]);
    assert_eq!(b.slots(), &[0, 1]);
    assert_eq!(
        slots.keys()[1],
        FactKey::new("catalog", "", "custom").with_arg("key", json!("tier"))
    );
    assert_eq!(
        Program::compile("codecov.coverageTrend()", reg, &mut slots)
            .unwrap()
            .program
            .slots(),
        &[2]
    );
    assert_eq!(
        slots.keys()[2],
        FactKey::new("codecov", "codecov", "coverageTrend").with_arg("days", json!(30))
    );
}

/// (source, line, column, message, hint)
#[test]
fn compile_errors_are_pinned() {
    let cases: &[(&str, usize, usize, &str, Option<&str>)] = &[
        (
            "codecov.codeCoverag() >= 95",
            1,
            9,
            "unknown function codecov.codeCoverag",
            Some("did you mean codecov.codeCoverage?"),
        ),
        (
            "hasGrup(\"x\")",
            1,
            1,
            "unknown function hasGrup",
            Some("did you mean hasGroup?"),
        ),
        (
            "codecov.codeCoverage(flg=\"x\") > 1",
            1,
            22,
            "codecov.codeCoverage has no parameter `flg`",
            Some("did you mean `flag`?"),
        ),
        (
            "codecov.pullRequest(3).patchCoverag() > 1",
            1,
            24,
            "unknown function codecov.pullRequest.patchCoverag",
            Some("did you mean codecov.pullRequest.patchCoverage?"),
        ),
        (
            "codecov.codeCoverage(\"a\", \"b\") > 1",
            1,
            27,
            "codecov.codeCoverage takes 1 argument, got 2",
            Some("signature: codecov.codeCoverage(flag?: string) -> number"),
        ),
        (
            "codecov.codeCoverage(flag=1) > 1",
            1,
            22,
            "argument `flag` of codecov.codeCoverage must be a string, but this is a number",
            None,
        ),
        (
            "hasGroup() AND true",
            1,
            1,
            "hasGroup needs argument `group`",
            Some("signature: hasGroup(group: string) -> boolean"),
        ),
        (
            "codecov.codeCoverage() >= \"95\"",
            1,
            1,
            "cannot compare a number with a string",
            Some("write the number without quotes: 95"),
        ),
        (
            "entity.tag() AND true",
            1,
            1,
            "`AND` needs true or false, but this is a string",
            None,
        ),
        (
            "codecov.codeCoverage >= 1",
            1,
            9,
            "codecov.codeCoverage is a function",
            Some("call it: `codecov.codeCoverage()`"),
        ),
        (
            "entity == null",
            1,
            1,
            "`entity` is a namespace, not a value",
            Some("call one of its functions, e.g. entity.tag()"),
        ),
        (
            "tag == \"x\"",
            1,
            1,
            "`tag` is CQL v1",
            Some("in CQL v2 write `entity.tag()`"),
        ),
        (
            "entity.tag().foo == 1",
            1,
            14,
            "a string has no property `foo`",
            None,
        ),
        (
            "codecov.codeCoverage(flag=entity.tag()) == 1",
            1,
            22,
            "argument `flag` of codecov.codeCoverage must be a constant",
            Some(
                "facts are fetched before evaluation, so their arguments cannot depend on other values",
            ),
        ),
    ];
    let mut wrong = Vec::new();
    for (src, line, col, msg, hint) in cases {
        let mut slots = SlotTable::new();
        let errs = Program::compile(src, Registry::standard(), &mut slots).expect_err(src);
        let d = &errs[0];
        if (d.line, d.column, d.message.as_str(), d.hint.as_deref()) != (*line, *col, *msg, *hint) {
            wrong.push(format!(
                "{src}: got {}:{} {:?} hint {:?}",
                d.line, d.column, d.message, d.hint
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A hint never suggests the very name that failed (`codecov.pullRequest` is a known first
/// segment, but `fooBar` is not a function after it).
#[test]
fn suggestions_never_repeat_the_name_that_failed() {
    let mut slots = SlotTable::new();
    let src = "codecov.pullRequest(3).fooBar() > 1";
    let errs = Program::compile(src, Registry::standard(), &mut slots).expect_err(src);
    let d = &errs[0];
    assert_eq!(
        (d.line, d.column, d.message.as_str()),
        (1, 24, "unknown function codecov.pullRequest.fooBar")
    );
    assert_eq!(d.hint, None, "{d}");
    for e in &errs {
        let hint = e.hint.as_deref().unwrap_or_default();
        assert!(!hint.contains("did you mean codecov.pullRequest?"), "{e}");
    }
}

/// Compile errors are data: each says what kind of problem it is, as well as where.
#[test]
fn compile_errors_have_a_kind() {
    use crate::diag::Kind;
    let cases: &[(&str, Kind)] = &[
        ("codecov.codeCoverage() >=", Kind::Syntax),
        ("codecov.codeCoverag() >= 95", Kind::Name),
        ("codecov.codeCoverage(flg=\"x\") > 1", Kind::Name),
        ("!codecov.codeCoverage()", Kind::Type),
        ("\"a\" > 1", Kind::Type),
        ("hasGroup()", Kind::Argument),
        (
            "[\"a\"].any(g => codecov.codeCoverage(flag=g) > 1)",
            Kind::Argument,
        ),
        ("tag = \"x\"", Kind::Unsupported),
        (&"(".repeat(200), Kind::Limit),
    ];
    for (src, kind) in cases {
        let mut slots = SlotTable::new();
        let errs = Program::compile(src, Registry::standard(), &mut slots).expect_err(src);
        assert_eq!(errs[0].kind, *kind, "{src}: {}", errs[0]);
        assert!(errs[0].line > 0 && errs[0].column > 0, "{src}: placed");
    }
}

#[test]
fn unknown_and_unconfigured_namespaces_warn() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "codcov.codeCoverage() > 1",
            "unknown namespace codcov: rules using it get an error outcome",
            Some("did you mean codecov?"),
        ),
        (
            "jira.numOfIssues() == 0",
            "rubric has no data source jira: rules using it get an error outcome",
            None,
        ),
        (
            "snyk.anything(severity=[\"HIGH\"]) == 0",
            "rubric has no data source snyk: rules using it get an error outcome",
            None,
        ),
        (
            "git.fileExists(\"README.md\")",
            "rubric has no data source git: rules using it get an error outcome",
            None,
        ),
    ];
    for (src, msg, hint) in cases {
        let mut slots = SlotTable::new();
        let c = Program::compile(src, Registry::standard(), &mut slots)
            .unwrap_or_else(|d| panic!("{src}: {}", d[0]));
        assert_eq!(c.warnings.len(), 1, "{src}: {:?}", c.warnings);
        assert_eq!(
            (
                c.warnings[0].message.as_str(),
                c.warnings[0].hint.as_deref()
            ),
            (*msg, *hint),
            "{src}"
        );
    }
    let mut slots = SlotTable::new();
    Program::compile(
        "snyk.anything(severity=[\"HIGH\"]) == 0",
        Registry::standard(),
        &mut slots,
    )
    .unwrap();
    assert_eq!(
        slots.keys()[0],
        FactKey::new("snyk", "snyk", "anything").with_arg("severity", json!(["HIGH"]))
    );
}

/// Cortex rules over sources rubric lacks load as they are, whatever their arguments.
#[test]
fn cortex_rules_without_data_load() {
    let rules = [
        "semver(custom(\"tier\")).isStable()",
        "git.pullRequests(lookback=duration(\"P7D\")).filter((pr) => pr.status == \"OPEN\").length < 5",
        "oncall.analysis(lookback = duration(\"P1W\")).meanSecondsToResolve < 3600",
        "git.numOfVulnerabilities(severity=[\"CRITICAL\", \"HIGH\"]) == 0",
        "customMetrics(key=\"latency\", lookback=duration(\"P-30D\")).average() < 200",
        "entity.destinations(relationshipType = \"calls\").length > 0",
        "slack.channels().length > 0 AND k8s != null",
    ];
    for src in rules {
        let e = run_in(&world(), src);
        assert_eq!(e.verdict, Verdict::Error, "{src}");
        assert!(
            e.explanation.contains("is not configured"),
            "{src}: {}",
            e.explanation
        );
    }
}

#[test]
fn programs_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Program>();
}

/// The default limits, on both sides of each bound, through compile and evaluate; run on a
/// thread with a small stack to show the bounds keep recursion shallow.
#[test]
fn default_limits_hold_end_to_end() {
    let run = || {
        let compile =
            |src: &str| Program::compile(src, Registry::standard(), &mut SlotTable::new());
        // 255 additions nest 256 levels: the deepest tree accepted.
        let sum = |n: usize| format!("1{} == {}", " + 1".repeat(n), n + 1);
        let ok = compile(&sum(254)).unwrap_or_else(|d| panic!("{}", d[0]));
        assert_eq!(ok.program.verdict(&[], now()), Verdict::Pass);
        assert_eq!(ok.program.evaluate(&[], now()).verdict, Verdict::Pass);
        let err = compile(&sum(256)).expect_err("too deep");
        assert_eq!(
            err[0].message,
            "expression is too deeply nested: more than 256 levels"
        );
        // 64 nested brackets are fine, 65 are not.
        let nested = |n: usize| format!("{}1{} == 1", "(".repeat(n), ")".repeat(n));
        assert_eq!(
            compile(&nested(64)).unwrap().program.verdict(&[], now()),
            Verdict::Pass
        );
        assert_eq!(
            compile(&nested(65)).expect_err("too deep")[0].message,
            "expression nests deeper than 64 levels"
        );
        let lambdas = |n: usize| format!("{}true{}", "[1].any(x => ".repeat(n), ")".repeat(n));
        assert_eq!(
            compile(&lambdas(32)).unwrap().program.verdict(&[], now()),
            Verdict::Pass
        );
        assert!(compile(&lambdas(65)).is_err());
        // Length: 16 KiB accepted, one byte more is not.
        let long = |n: usize| format!("'{}' != ''", "a".repeat(n - 8));
        assert!(compile(&long(16 * 1024)).is_ok());
        assert_eq!(
            compile(&long(16 * 1024 + 1)).expect_err("too long")[0].message,
            "expression is too long: 16385 bytes, the limit is 16384"
        );
    };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn catalog_functions_take_computed_arguments() {
    use Verdict::*;
    let mut w = world();
    w.insert(
        FactKey::new("catalog", "", "hasGroup")
            .with_arg("group", json!("search"))
            .to_string(),
        Fact::ok(false),
    );
    let cases: &[(&str, Verdict, &str)] = &[
        (
            r#"["payments", "search"].any(g => hasGroup(g))"#,
            Pass,
            r#"["payments", "search"].any(g => hasGroup(g)) = true"#,
        ),
        (
            r#"["search", "x"].any(g => hasGroup(g))"#,
            Fail,
            r#"["search", "x"].any(g => hasGroup(g)) = false"#,
        ),
        (
            r#"["missing"].any(k => custom(k) == 1)"#,
            NoData,
            r#"custom(k) is null (entity api has no custom key "missing"), needs == 1"#,
        ),
    ];
    for (src, verdict, explanation) in cases {
        let e = run_in(&w, src);
        assert_eq!(
            (e.verdict, e.explanation.as_str()),
            (*verdict, *explanation),
            "{src}"
        );
    }
    // The keys answered during evaluation are reported, each once.
    let e = run_in(&w, r#"["search", "x", "search"].any(g => hasGroup(g))"#);
    let keys: Vec<String> = e.looked_up.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(
        keys,
        [r#"hasGroup(group="search")"#, r#"hasGroup(group="x")"#]
    );
    // Without a catalog, a computed call is an error that says why.
    let mut slots = SlotTable::new();
    let p = Program::compile(
        r#"["a"].any(g => hasGroup(g))"#,
        Registry::standard(),
        &mut slots,
    )
    .unwrap()
    .program;
    let e = p.evaluate(&[], now());
    assert_eq!(e.verdict, Error);
    assert_eq!(
        e.explanation,
        r#"hasGroup(g): hasGroup(group="a") needs the catalog, which this evaluation has not"#
    );
}

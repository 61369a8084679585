//! `rubric cql check|functions|eval` end to end: the real binary, the sample catalog, and the
//! offline Codecov fixture server on 127.0.0.1 for provider facts.

use predicates::prelude::*;

use crate::support::rubric;

#[test]
fn check_accepts_good_rules_and_exits_1_with_a_caret_on_bad_ones() {
    rubric()
        .args(["cql", "check", "codecov.codeCoverage() >= 95"])
        .assert()
        .success()
        .stdout("ok: codecov.codeCoverage() >= 95\n");
    rubric()
        .args(["cql", "check", "codecov.codeCoverag() >= 95"])
        .assert()
        .code(1)
        .stdout(
            "error: unknown function codecov.codeCoverag\n  --> 1:9\n  |\n1 | codecov.codeCoverag() >= 95\n  |         ^^^^^^^^^^^\n  = hint: did you mean codecov.codeCoverage?\n",
        );
}

#[test]
fn check_warns_about_negation_and_unconfigured_sources() {
    rubric()
        .args(["cql", "check", "!entity.tag() == \"production\""])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "warning: `!` applies to the whole comparison: this reads as `!(entity.tag() == \"production\")`",
        ));
    rubric()
        .args(["cql", "check", "sonarqube.metric(\"coverage\") > 80"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "warning: rubric has no data source sonarqube",
        ));
}

#[test]
fn check_file_prints_one_json_object_per_expression() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.cql");
    std::fs::write(&file, "codecov.codeCoverage() >= 95\n# comment\n\njira.numOfIssues() == 0\nentity.tag() = \"x\"\n").unwrap();
    let out = rubric()
        .args(["cql", "check", "--format", "json", "--file"])
        .arg(&file)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            serde_json::json!({"ok": true, "warnings": []}),
            serde_json::json!({"ok": true, "warnings": [{"message": "rubric has no data source jira: rules using it get an error outcome", "line": 4, "column": 1}]}),
            serde_json::json!({"ok": false, "error": {"message": "`=` is CQL v1; CQL v2 compares with `==`; write `==` instead of `=`", "line": 5, "column": 14}}),
        ]
    );
}

#[test]
fn functions_lists_every_registered_function() {
    rubric()
        .args(["cql", "functions"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "codecov.coverageTrend(days?: number = 30) -> number  [codecov]",
        ))
        .stdout(predicate::str::contains(
            "  string.matches(regex: string) -> boolean",
        ))
        .stdout(predicate::str::contains("sonarqube"));
}

#[test]
fn eval_reads_catalog_facts() {
    rubric()
        .args(["cql", "eval", "entity.tag() == 'ledger' AND custom('openVulns') <= 3", "--entity", "ledger"])
        .args(["--catalog", "entities"])
        .assert()
        .success()
        .stdout("value: true\nverdict: pass\nexplanation: entity.tag() = \"ledger\", needs == 'ledger'; custom('openVulns') = 2 (catalog entity ledger), needs <= 3\n");
    rubric()
        .args([
            "cql",
            "eval",
            "true",
            "--entity",
            "ledgr",
            "--catalog",
            "entities",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no entity ledgr in the catalog (did you mean ledger?)",
        ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_fetches_provider_facts_from_codecov() {
    let server = rubric::demo::fixture::start()
        .await
        .expect("fixture server starts");
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || {
        rubric()
            .env("RUBRIC_CODECOV_URL", url)
            .args([
                "cql",
                "eval",
                "captures('cov', codecov.codeCoverage()) >= 95",
                "--entity",
                "ledger",
            ])
            .args(["--catalog", "entities"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "value: false\nverdict: fail\nexplanation: codecov.codeCoverage() = 64.2 (github/acme/ledger), needs >= 95\ncapture cov: 64.2\n"
    );
}

#[test]
fn eval_as_json_is_one_document_with_the_inputs() {
    let out = rubric()
        .args(["cql", "eval", "captures('vulns', custom('openVulns')) <= 3"])
        .args([
            "--entity",
            "ledger",
            "--catalog",
            "entities",
            "--format",
            "json",
        ])
        .run()
        .expect_code(0);
    let doc = out.json();
    assert_eq!(
        doc["expression"],
        "captures('vulns', custom('openVulns')) <= 3"
    );
    assert_eq!(doc["entity"], "ledger");
    assert_eq!(doc["value"], true);
    assert_eq!(doc["verdict"], "pass");
    assert_eq!(doc["captures"]["vulns"], 2);
    assert_eq!(doc["warnings"], serde_json::json!([]));
    assert!(
        doc["explanation"]
            .as_str()
            .unwrap()
            .contains("custom('openVulns') = 2"),
        "{doc}"
    );
    assert_eq!(
        doc["inputs"],
        serde_json::json!([{"fact": "custom(key=\"openVulns\")", "value": 2, "status": "ok",
            "origin": "catalog entity ledger"}])
    );
}

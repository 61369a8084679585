//! End to end: the real `rubric` binary evaluates small catalogs and scorecards against a fake
//! Codecov on 127.0.0.1, and every level and outcome is asserted exactly.

use std::path::PathBuf;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, Rubric, rubric};

fn fixture(name: &str) -> PathBuf {
    support::fixture("eval").join(name)
}

/// A Codecov that knows the repositories of `tests/fixtures/eval/basic`.
async fn fake_codecov() -> MockServer {
    let server = MockServer::start().await;
    let repo = |name: &str, body: Value| {
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/github/acme/repos/{name}/")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    repo(
        "full",
        json!({"name": "full", "totals": {"coverage": 96.5, "files": 10, "lines": 200}}),
    )
    .mount(&server)
    .await;
    repo(
        "partial",
        json!({"name": "partial", "totals": {"coverage": 61.2, "files": 3, "lines": 50}}),
    )
    .mount(&server)
    .await;
    repo("empty", json!({"name": "empty", "totals": null}))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/down/"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/garbage/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("<html><body>Sign in</body></html>", "text/html"),
        )
        .mount(&server)
        .await;
    let flag = |flag: &str, body: Value| {
        Mock::given(method("GET"))
            .and(path("/api/v2/github/acme/repos/mono/totals/"))
            .and(query_param("flag", flag))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    flag(
        "a",
        json!({"totals": {"coverage": 85.0, "sessions": 2, "files": 4}}),
    )
    .mount(&server)
    .await;
    flag(
        "b",
        json!({"totals": {"coverage": 0, "sessions": 0, "files": 0}}),
    )
    .mount(&server)
    .await;
    server
}

/// `rubric ARGS` with the fake Codecov and few, fast retries.
fn rubric_with(server: &MockServer, args: Vec<String>) -> Rubric {
    rubric()
        .args(args)
        .env("RUBRIC_CODECOV_URL", server.uri())
        .env("RUBRIC_HTTP_MAX_RETRIES", "1")
        .env("RUBRIC_HTTP_BACKOFF_BASE_MS", "1")
}

fn eval_args(dir: &str, format: &str) -> Vec<String> {
    let d = fixture(dir);
    vec![
        "eval".into(),
        "--catalog".into(),
        d.join("catalog").display().to_string(),
        "--scorecards".into(),
        d.join("scorecards").display().to_string(),
        "--format".into(),
        format.into(),
    ]
}

fn entity<'a>(report: &'a Value, scorecard: &str, tag: &str) -> &'a Value {
    let card = report["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tag"] == scorecard)
        .unwrap_or_else(|| panic!("no scorecard {scorecard} in {report}"));
    card["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == tag)
        .unwrap_or_else(|| panic!("no entity {tag} in {card}"))
}

fn outcomes(e: &Value) -> Vec<&str> {
    e["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect()
}

fn message<'a>(e: &'a Value, title: &str) -> &'a str {
    e["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == title)
        .unwrap()["message"]
        .as_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_and_outcomes_over_a_fake_codecov() {
    let server = fake_codecov().await;
    let out = rubric_with(&server, eval_args("basic", "json"))
        .run_async()
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");

    // The malformed scorecard is left out; the other two are evaluated.
    let tags: Vec<&str> = report["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["coverage", "metadata"]);

    let expect = [
        ("full", Some("Gold"), 7, ["pass", "pass", "pass", "pass"]),
        (
            "partial",
            Some("Bronze"),
            2,
            ["pass", "pass", "fail", "fail"],
        ),
        ("empty", None, 1, ["pass", "no_data", "no_data", "no_data"]),
        ("down", None, 1, ["pass", "error", "error", "error"]),
        ("garbage", None, 1, ["pass", "error", "error", "error"]),
        (
            "unmapped",
            None,
            0,
            ["fail", "no_data", "no_data", "no_data"],
        ),
        (
            "mono-a",
            Some("Silver"),
            4,
            ["pass", "pass", "pass", "fail"],
        ),
        ("mono-b", None, 1, ["pass", "no_data", "no_data", "no_data"]),
        ("mono-c", None, 0, ["error", "error", "error", "error"]),
    ];
    for (tag, level, score, rules) in expect {
        let e = entity(&report, "coverage", tag);
        assert_eq!(e["level"], json!(level), "{tag}: {e}");
        assert_eq!(e["score"], json!(score), "{tag}: {e}");
        assert_eq!(e["max_score"], json!(7), "{tag}: {e}");
        assert_eq!(outcomes(e), rules, "{tag}: {e}");
    }
    let coverage_entities = report["scorecards"][0]["entities"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        coverage_entities, 9,
        "the malformed descriptor is left out, every good one is evaluated"
    );

    // Reasons name the value, the null and the fault.
    let partial = entity(&report, "coverage", "partial");
    assert!(
        message(partial, "At least 80").contains("61.2"),
        "{partial}"
    );
    assert_eq!(
        partial["rules"][2]["failure_message"],
        "Raise partial to 80%."
    );
    assert_eq!(
        partial["rules"][2]["inputs"],
        json!([{"fact": "codecov.codeCoverage()", "value": 61.2, "status": "ok", "origin": "github/acme/partial"}])
    );
    assert!(
        message(entity(&report, "coverage", "empty"), "At least 50")
            .contains("no coverage uploads")
    );
    assert!(
        message(entity(&report, "coverage", "mono-b"), "At least 50")
            .contains("flag b has no uploads")
    );
    assert!(
        message(entity(&report, "coverage", "unmapped"), "At least 50")
            .contains("no Codecov mapping")
    );
    let invalid = message(entity(&report, "coverage", "mono-c"), "At least 50");
    assert!(
        invalid.contains("Codecov mapping is invalid: flag without provider"),
        "{invalid}"
    );
    let down = message(entity(&report, "coverage", "down"), "At least 50");
    assert!(down.contains("500"), "{down}");
    let garbage = message(entity(&report, "coverage", "garbage"), "At least 50");
    assert!(
        garbage.contains("JSON") || garbage.contains("json"),
        "{garbage}"
    );

    // The rule that does not parse is an error with its position; the others still run.
    let full = entity(&report, "metadata", "full");
    assert_eq!(outcomes(full), ["pass", "error", "pass"]);
    assert_eq!(
        (
            full["level"].clone(),
            full["score"].clone(),
            full["max_score"].clone()
        ),
        (json!(null), json!(3), json!(4))
    );
    let broken = message(full, "Broken rule");
    assert!(broken.contains("metadata.yaml:7:"), "{broken}");
    assert_eq!(
        outcomes(entity(&report, "metadata", "mono-a")),
        ["fail", "error", "fail"]
    );

    // Diagnostics on stderr: file, line, column and a caret.
    assert!(stderr.contains("broken.yaml:4:"), "{stderr}");
    assert!(stderr.contains("malformed.yaml:"), "{stderr}");
    assert!(stderr.contains("metadata.yaml:7:"), "{stderr}");
    assert!(stderr.contains('^'), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_shows_levels_scores_and_reasons() {
    let server = fake_codecov().await;
    let out = rubric_with(&server, eval_args("basic", "table"))
        // Wide enough for the table (narrower, one block per entity).
        .env("COLUMNS", "200")
        .run_async()
        .await;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Coverage (coverage): Bronze < Silver < Gold"),
        "{text}"
    );
    assert!(text.contains("Metadata (metadata): points only"), "{text}");
    let full_line = text.lines().find(|l| l.contains(" full ")).unwrap();
    assert!(
        full_line.contains("Gold") && full_line.contains("7/7 (100%)"),
        "{full_line}"
    );
    let partial_80 = text
        .lines()
        .find(|l| l.contains("At least 80") && l.contains("61.2"))
        .unwrap();
    assert!(partial_80.contains("fail"), "{partial_80}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_configuration_exits_2() {
    let server = fake_codecov().await;
    let mut args = eval_args("basic", "json");
    args[2] = fixture("basic")
        .join("no-such-folder")
        .display()
        .to_string();
    let out = rubric_with(&server, args).run_async().await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-folder"));

    let mut args = eval_args("basic", "json");
    args.insert(0, "--config".into());
    args.insert(
        1,
        fixture("basic").join("missing.toml").display().to_string(),
    );
    let out = rubric_with(&server, args).run_async().await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_from_a_facts_file_gives_the_same_outcomes_offline() {
    let server = fake_codecov().await;
    let live = rubric_with(&server, eval_args("basic", "json"))
        .run_async()
        .await;
    let live: Value = serde_json::from_slice(&live.stdout).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("facts.json");
    let d = fixture("basic");
    let sync = vec![
        "sync".to_string(),
        "--catalog".into(),
        d.join("catalog").display().to_string(),
        "--scorecards".into(),
        d.join("scorecards").display().to_string(),
        "--out".into(),
        facts.display().to_string(),
    ];
    let out = rubric_with(&server, sync).run_async().await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);

    // Nothing listens on the URL now: every fact must come from the file.
    let mut args = eval_args("basic", "json");
    args.extend(["--facts".to_string(), facts.display().to_string()]);
    let offline = rubric()
        .args(&args)
        .env("RUBRIC_CODECOV_URL", "http://127.0.0.1:9")
        .run_async()
        .await;
    assert_eq!(
        offline.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let offline: Value = serde_json::from_slice(&offline.stdout).unwrap();
    for tag in [
        "full", "partial", "empty", "down", "unmapped", "mono-a", "mono-b",
    ] {
        let (a, b) = (
            entity(&live, "coverage", tag),
            entity(&offline, "coverage", tag),
        );
        assert_eq!(outcomes(a), outcomes(b), "{tag}");
        assert_eq!(a["level"], b["level"], "{tag}");
    }
    assert_eq!(
        outcomes(entity(&offline, "metadata", "full")),
        ["pass", "error", "pass"]
    );

    let mut args = eval_args("basic", "json");
    args.extend([
        "--facts".to_string(),
        fixture("basic").join("missing.json").display().to_string(),
    ]);
    let out = rubric().args(&args).run_async().await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cortex_library_scorecards_with_sources_rubric_lacks_get_an_outcome_for_every_rule() {
    let server = fake_codecov().await;
    let mut args = eval_args("basic", "json");
    args[4] = fixture("cortex-library").display().to_string();
    let out = rubric_with(&server, args).run_async().await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cards = report["scorecards"].as_array().unwrap();
    assert_eq!(cards.len(), 3);
    for card in cards {
        for e in card["entities"].as_array().unwrap() {
            for rule in e["rules"].as_array().unwrap() {
                let outcome = rule["outcome"].as_str().unwrap();
                assert!(
                    ["pass", "fail", "no_data", "error", "skipped", "exempt"].contains(&outcome),
                    "{rule}"
                );
                assert!(!rule["message"].as_str().unwrap().is_empty(), "{rule}");
                let expr = rule["expression"].as_str().unwrap();
                if outcome != "skipped"
                    && (expr.starts_with("sonarqube.")
                        || expr.starts_with("jira.")
                        || expr.starts_with("snyk."))
                {
                    assert_eq!(outcome, "error", "{rule}");
                    assert!(
                        rule["message"]
                            .as_str()
                            .unwrap()
                            .contains("is not configured"),
                        "{rule}"
                    );
                }
            }
        }
    }
    let full = entity(&report, "code-quality-metrics", "full");
    assert_eq!(outcomes(full), ["error", "pass", "error", "error"]);
    let mono = entity(&report, "code-quality-metrics", "mono-a");
    assert_eq!(mono["skipped"], "type `library` is not one of service");
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let mut running = rubric()
        .args(["demo", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut stdout = running.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = [0u8; 1];
        let read = stdout.read_exact(&mut first);
        drop(stdout);
        let _ = tx.send(read);
    });
    rx.recv_timeout(support::BOUND)
        .expect("rubric writes its first byte within the bound")
        .unwrap();
    let out = running.finish();
    let stderr = out.stderr();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A Codecov host that cannot resolve (`.invalid` never does, RFC 6761) fails every entity's
/// fetch; stderr (a pipe here) says so once, in plain text, while every rule still explains it.
#[test]
fn a_host_that_does_not_resolve_is_reported_once_without_colour() {
    let host = "rubric-no-such-host.invalid";
    let out = rubric()
        .args(["eval", "--format", "json"])
        .env("RUBRIC_CODECOV_URL", format!("http://{host}"))
        .env("RUBRIC_HTTP_MAX_RETRIES", "1")
        .env("RUBRIC_HTTP_BACKOFF_BASE_MS", "1")
        .env("RUBRIC_HTTP_CONNECT_TIMEOUT_MS", "3000")
        // Empty is unset (no-color.org): colour is off because stderr is a pipe.
        .env("NO_COLOR", "")
        .run();
    let stderr = out.stderr();
    assert!(
        !stderr.contains('\x1b'),
        "no ANSI escapes on a pipe: {stderr:?}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(host))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning for the host:\n{stderr}");
    assert!(
        warnings[0].contains(&format!(
            "cannot resolve Codecov host {host}:80 (DNS failure)"
        )),
        "{stderr}"
    );

    // Every entity still failed on its own, with the reason in its rules.
    let report = out.json();
    let explained = report["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["entities"].as_array().unwrap())
        .flat_map(|e| e["rules"].as_array().unwrap())
        .filter(|r| {
            r["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("cannot resolve Codecov host {host}")))
        })
        .count();
    assert!(
        explained > 1,
        "several rules name the DNS failure, each on its own: {report}"
    );
}

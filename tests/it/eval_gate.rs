//! End to end: `rubric gate` and `rubric scorecard validate` with the real binary, against a
//! fake Codecov on 127.0.0.1.

use std::path::PathBuf;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, Rubric, rubric};

fn fixture(name: &str) -> PathBuf {
    support::fixture("eval").join(name)
}

async fn fake_codecov() -> MockServer {
    let server = MockServer::start().await;
    for (repo, coverage) in [("full", 96.5), ("partial", 61.2)] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/github/acme/repos/{repo}/")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"totals": {"coverage": coverage}})),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/full/pulls/7/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "pullid": 7, "state": "open",
            "base_totals": {"coverage": 96.0}, "head_totals": {"coverage": 96.5},
            "patch": {"coverage": 72.5}
        })))
        .mount(&server)
        .await;
    server
}

/// `rubric ARGS` against the fake Codecov, with no retries; `gate` gets the basic catalog and
/// scorecards.
fn rubric_with(server: &MockServer, args: &[&str]) -> Rubric {
    let mut cmd = rubric()
        .args(args)
        .env("RUBRIC_CODECOV_URL", server.uri())
        .env("RUBRIC_HTTP_MAX_RETRIES", "0");
    if args[0] == "gate" {
        let basic = fixture("basic");
        cmd = cmd
            .arg("--catalog")
            .arg(basic.join("catalog"))
            .arg("--scorecards")
            .arg(basic.join("scorecards"));
    }
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_on_level_and_score() {
    let server = fake_codecov().await;
    let ok = rubric_with(
        &server,
        &[
            "gate",
            "--scorecard",
            "coverage",
            "--entity",
            "full",
            "--min-level",
            "Gold",
        ],
    )
    .run_async()
    .await;
    assert_eq!(ok.status.code(), Some(0), "{}", ok.stdout());
    assert!(
        ok.stdout()
            .contains("full on coverage: level Gold, score 7/7 (100%)"),
        "{}",
        ok.stdout()
    );
    assert!(ok.stdout().ends_with("gate passed\n"), "{}", ok.stdout());

    let low = rubric_with(
        &server,
        &[
            "gate",
            "--scorecard",
            "coverage",
            "--entity",
            "partial",
            "--min-level",
            "Silver",
        ],
    )
    .run_async()
    .await;
    assert_eq!(low.status.code(), Some(1), "{}", low.stdout());
    let text = low.stdout();
    assert!(
        text.contains("  fail: At least 80: codecov.codeCoverage() = 61.2"),
        "{text}"
    );
    assert!(
        text.contains("Next steps to reach Silver:\n  1. At least 80: Raise partial to 80%.\n"),
        "{text}"
    );
    assert!(text.contains("  - level Bronze is below Silver"), "{text}");

    let score = rubric_with(
        &server,
        &[
            "gate",
            "--scorecard",
            "coverage",
            "--entity",
            "partial",
            "--min-score",
            "25",
        ],
    )
    .run_async()
    .await;
    assert_eq!(score.status.code(), Some(0), "{}", score.stdout());
    let score = rubric_with(
        &server,
        &[
            "gate",
            "--scorecard",
            "coverage",
            "--entity",
            "partial",
            "--min-score",
            "50",
        ],
    )
    .run_async()
    .await;
    assert_eq!(score.status.code(), Some(1));
    assert!(
        score.stdout().contains("score 2/7 (28.57%) is below 50%"),
        "{}",
        score.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_on_total_and_patch_coverage() {
    let server = fake_codecov().await;
    let ok = rubric_with(
        &server,
        &["gate", "--entity", "full", "--min-coverage", "90"],
    )
    .run_async()
    .await;
    assert_eq!(ok.status.code(), Some(0), "{}", ok.stdout());
    let low = rubric_with(
        &server,
        &["gate", "--entity", "partial", "--min-coverage", "90"],
    )
    .run_async()
    .await;
    assert_eq!(low.status.code(), Some(1));
    assert!(
        low.stdout().contains("codecov.codeCoverage() = 61.2"),
        "{}",
        low.stdout()
    );

    let patch = rubric_with(
        &server,
        &[
            "gate",
            "--entity",
            "full",
            "--min-patch-coverage",
            "80",
            "--pull",
            "7",
        ],
    )
    .run_async()
    .await;
    assert_eq!(patch.status.code(), Some(1), "{}", patch.stdout());
    assert!(patch.stdout().contains("72.5"), "{}", patch.stdout());
    let patch = rubric_with(
        &server,
        &[
            "gate",
            "--entity",
            "full",
            "--min-patch-coverage",
            "70",
            "--pull",
            "7",
        ],
    )
    .run_async()
    .await;
    assert_eq!(patch.status.code(), Some(0), "{}", patch.stdout());

    let unmapped = rubric_with(
        &server,
        &["gate", "--entity", "unmapped", "--min-coverage", "10"],
    )
    .run_async()
    .await;
    assert_eq!(
        unmapped.status.code(),
        Some(1),
        "no data does not meet a gate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_configuration_errors_exit_2() {
    let server = fake_codecov().await;
    for (args, says) in [
        (
            vec![
                "gate",
                "--scorecard",
                "coverage",
                "--entity",
                "ful",
                "--min-level",
                "Gold",
            ],
            "did you mean `full`?",
        ),
        (
            vec![
                "gate",
                "--scorecard",
                "nope",
                "--entity",
                "full",
                "--min-level",
                "Gold",
            ],
            "no scorecard `nope`",
        ),
        (
            vec![
                "gate",
                "--scorecard",
                "coverage",
                "--entity",
                "full",
                "--min-level",
                "Platinum",
            ],
            "no level `Platinum`",
        ),
        (vec!["gate", "--entity", "full"], "give a condition"),
        (
            vec!["gate", "--entity", "full", "--min-level", "Gold"],
            "need --scorecard",
        ),
    ] {
        let asked = server.received_requests().await.unwrap_or_default().len();
        let out = rubric_with(&server, &args).run_async().await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        // Arguments are checked before anything is evaluated or printed.
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{args:?}");
        let now = server.received_requests().await.unwrap_or_default().len();
        assert_eq!(now, asked, "{args:?}: no request to Codecov");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_reports_every_error_at_once() {
    let server = fake_codecov().await;
    let dir = fixture("basic").join("scorecards").display().to_string();
    let out = rubric_with(&server, &["scorecard", "validate", &dir])
        .run_async()
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("malformed.yaml:3:3"), "{stderr}");
    assert!(stderr.contains("metadata.yaml:7:39"), "{stderr}");
    assert!(stderr.contains("^^"), "{stderr}");
    assert_eq!(
        out.stdout(),
        "2 scorecard(s), 7 rule(s): 2 error(s), 0 warning(s)\n"
    );

    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scorecards")
        .display()
        .to_string();
    let out = rubric_with(&server, &["scorecard", "validate", &sample])
        .run_async()
        .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let warnings = fixture("validate-warnings").display().to_string();
    let out = rubric_with(&server, &["scorecard", "validate", &warnings])
        .run_async()
        .await;
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: unknown key `failureMesage` in a rule; it is ignored"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `failureMessage`?"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_reports_every_problem_of_a_rule_as_text_and_json() {
    let server = fake_codecov().await;
    let dir = fixture("validate-errors").display().to_string();
    let out = rubric_with(&server, &["scorecard", "validate", &dir])
        .run_async()
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("levels.yaml:9:12"), "{stderr}");
    assert!(stderr.contains("did you mean `Bronze`?"), "{stderr}");
    assert!(stderr.contains("levels.yaml:10:25"), "{stderr}");
    assert!(stderr.contains("codeCoverag"), "{stderr}");
    // A hint names its place in the file's coordinates, as the error does.
    assert!(stderr.contains("parens.yaml:5:39"), "{stderr}");
    assert!(
        stderr.contains("= hint: expected `)` to close the `(` at 5:37"),
        "{stderr}"
    );
    assert_eq!(
        out.stdout(),
        "2 scorecard(s), 2 rule(s): 3 error(s), 0 warning(s)\n"
    );

    let out = rubric_with(
        &server,
        &["scorecard", "validate", &dir, "--format", "json"],
    )
    .run_async()
    .await;
    assert_eq!(out.status.code(), Some(1));
    let doc = out.json();
    assert_eq!(doc["scorecards"], 2);
    assert_eq!(doc["rules"], 2);
    assert_eq!(doc["errors"], 3);
    assert_eq!(doc["warnings"], 0);
    let at: Vec<(&str, u64, u64)> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["severity"], "error");
            let file = d["file"].as_str().unwrap();
            let file = &file[file.rfind('/').unwrap() + 1..];
            (
                file,
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        at,
        [
            ("levels.yaml", 9, 12),
            ("levels.yaml", 10, 25),
            ("parens.yaml", 5, 39)
        ]
    );
    assert_eq!(
        doc["diagnostics"][2]["hint"],
        "expected `)` to close the `(` at 5:37"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_on_a_missing_folder_names_what_works() {
    let server = fake_codecov().await;
    let out = rubric_with(&server, &["scorecard", "validate", "/no/such/cards"])
        .run_async()
        .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the scorecards folder /no/such/cards does not exist (give the folder as `rubric scorecard validate DIR`"),
        "{stderr}"
    );
    assert!(!stderr.contains("--scorecards"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_as_json_is_one_document() {
    let server = fake_codecov().await;
    let args = [
        "gate",
        "--scorecard",
        "coverage",
        "--entity",
        "partial",
        "--min-level",
        "Silver",
        "--min-coverage",
        "60",
        "--format",
        "json",
    ];
    let out = rubric_with(&server, &args).run_async().await;
    assert_eq!(out.status.code(), Some(1), "{}", out.text());
    let doc = out.json();
    assert_eq!(doc["entity"], "partial");
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["scorecard"], "coverage");
    assert_eq!(doc["result"]["level"], "Bronze", "{doc}");
    assert_eq!(doc["result"]["next_level"], "Silver", "{doc}");
    assert_eq!(
        doc["checks"],
        json!([{"fact": "codecov.codeCoverage()", "value": 61.2, "min": 60, "met": true,
            "reason": "codecov.codeCoverage() = 61.2 (github/acme/partial), needs >= 60"}])
    );
    assert_eq!(doc["failures"], json!(["level Bronze is below Silver"]));
}

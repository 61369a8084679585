//! End to end: `rubric gate` and `rubric scorecard validate` with the real binary, against a
//! fake Codecov on 127.0.0.1.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eval")
        .join(name)
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

async fn rubric(server: &MockServer, args: &[&str]) -> Output {
    let url = server.uri();
    let basic = fixture("basic");
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    if args[0] == "gate" {
        all.extend([
            "--catalog".into(),
            basic.join("catalog").display().to_string(),
            "--scorecards".into(),
            basic.join("scorecards").display().to_string(),
        ]);
    }
    tokio::task::spawn_blocking(move || {
        cargo_bin_cmd!("rubric")
            .args(&all)
            .env("RUBRIC_CODECOV_URL", url)
            .env("RUBRIC_HTTP_MAX_RETRIES", "0")
            .env_remove("CODECOV_TOKEN")
            .output()
            .expect("rubric runs")
    })
    .await
    .expect("the command thread finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_on_level_and_score() {
    let server = fake_codecov().await;
    let ok = rubric(
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
    .await;
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(
        stdout(&ok).contains("full on coverage: level Gold, score 7/7 (100%)"),
        "{}",
        stdout(&ok)
    );
    assert!(stdout(&ok).ends_with("gate passed\n"), "{}", stdout(&ok));

    let low = rubric(
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
    .await;
    assert_eq!(low.status.code(), Some(1), "{}", stdout(&low));
    let text = stdout(&low);
    assert!(
        text.contains("  fail: At least 80: codecov.codeCoverage() = 61.2"),
        "{text}"
    );
    assert!(
        text.contains("Next steps to reach Silver:\n  1. At least 80: Raise partial to 80%.\n"),
        "{text}"
    );
    assert!(text.contains("  - level Bronze is below Silver"), "{text}");

    let score = rubric(
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
    .await;
    assert_eq!(score.status.code(), Some(0), "{}", stdout(&score));
    let score = rubric(
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
    .await;
    assert_eq!(score.status.code(), Some(1));
    assert!(
        stdout(&score).contains("score 2/7 (28.57%) is below 50%"),
        "{}",
        stdout(&score)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_on_total_and_patch_coverage() {
    let server = fake_codecov().await;
    let ok = rubric(
        &server,
        &["gate", "--entity", "full", "--min-coverage", "90"],
    )
    .await;
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    let low = rubric(
        &server,
        &["gate", "--entity", "partial", "--min-coverage", "90"],
    )
    .await;
    assert_eq!(low.status.code(), Some(1));
    assert!(
        stdout(&low).contains("codecov.codeCoverage() = 61.2"),
        "{}",
        stdout(&low)
    );

    let patch = rubric(
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
    .await;
    assert_eq!(patch.status.code(), Some(1), "{}", stdout(&patch));
    assert!(stdout(&patch).contains("72.5"), "{}", stdout(&patch));
    let patch = rubric(
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
    .await;
    assert_eq!(patch.status.code(), Some(0), "{}", stdout(&patch));

    let unmapped = rubric(
        &server,
        &["gate", "--entity", "unmapped", "--min-coverage", "10"],
    )
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
        let out = rubric(&server, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_reports_every_error_at_once() {
    let server = fake_codecov().await;
    let dir = fixture("basic").join("scorecards").display().to_string();
    let out = rubric(&server, &["scorecard", "validate", &dir]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("malformed.yaml:3:3"), "{stderr}");
    assert!(stderr.contains("metadata.yaml:7:39"), "{stderr}");
    assert!(stderr.contains("^^"), "{stderr}");
    assert_eq!(
        stdout(&out),
        "2 scorecard(s), 7 rule(s): 2 error(s), 0 warning(s)\n"
    );

    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scorecards")
        .display()
        .to_string();
    let out = rubric(&server, &["scorecard", "validate", &sample]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let warnings = fixture("validate-warnings").display().to_string();
    let out = rubric(&server, &["scorecard", "validate", &warnings]).await;
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

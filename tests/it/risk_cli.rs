//! `rubric risk`: the changed files of a pull request from a fake Codecov's comparison (or a
//! listed file), their coverage from rubric's uploads or Codecov's, the points and the reason.

use chrono::Utc;
use rubric::coverage::{Format, Limits, parse};
use rubric::store::Store;
use rubric::store::uploads::NewUpload;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::rubric;

async fn codecov() -> MockServer {
    let server = MockServer::start().await;
    let file = |name: &str, head: serde_json::Value| {
        json!({"name": {"base": name, "head": name}, "totals": {"base": null, "head": head, "patch": null},
            "has_diff": true})
    };
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/api/compare/"))
        .and(query_param("pullid", "7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "base_commit": "b", "head_commit": "h",
            "totals": {"base": null, "head": null, "patch": null},
            "files": [
                file("src/a.rs", json!({"lines": 150, "hits": 20, "coverage": 13.33})),
                file("src/b.rs", json!({"lines": 50, "hits": 43, "coverage": 86.0})),
                file("src/new.rs", json!(null)),
                {"name": {"base": "gone.rs", "head": null}, "totals": {"base": null, "head": null}},
            ],
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_whose_changed_files_are_poorly_covered_gets_the_points() {
    let fake = codecov().await;
    let out = rubric()
        .args(["risk", "--repo", "github/acme/api", "--pull", "7"])
        .env("RUBRIC_CODECOV_URL", fake.uri())
        .env("RUBRIC_HTTP_MAX_RETRIES", "0")
        .run_async()
        .await
        .expect_code(0);
    assert_eq!(
        out.json(),
        json!({"repo": "github/acme/api", "pull": 7,
            "files": [
                {"path": "src/a.rs", "coverage": 13.33, "lines": 150, "hits": 20},
                {"path": "src/b.rs", "coverage": 86.0, "lines": 50, "hits": 43},
                {"path": "src/new.rs", "coverage": null, "lines": 0, "hits": 0}],
            "changed_coverage": 31.5, "points": 15,
            "reason": "changed files 31.5 % covered < 40 %: +15", "skipped": false})
    );
    let md = rubric()
        .args([
            "risk",
            "--repo",
            "github/acme/api",
            "--pull",
            "7",
            "--format",
            "markdown",
        ])
        .env("RUBRIC_CODECOV_URL", fake.uri())
        .run_async()
        .await
        .expect_code(0)
        .stdout();
    assert!(
        md.starts_with("### Deploy risk of pull request #7: 15 point(s)"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_files_read_their_coverage_from_uploads_and_no_data_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rubric.db").display());
    let store = Store::connect(&url).await.unwrap();
    let report = "SF:src/a.rs\nDA:1,1\nDA:2,1\nDA:3,1\nDA:4,0\nend_of_record\n";
    store
        .save_upload(NewUpload {
            repository: "github/acme/api",
            commit: "h1",
            branch: Some("feature"),
            flags: &[],
            format: Format::Lcov,
            uploaded_by: "ci",
            complete: true,
            report: parse(report.as_bytes(), None, &Limits::default())
                .unwrap()
                .0,
            at: Utc::now(),
        })
        .await
        .unwrap();
    store.close().await;
    let list = dir.path().join("changed.txt");
    std::fs::write(&list, "./src/a.rs\n\nsrc/untested.rs\n").unwrap();
    // Codecov is not reachable: the uploads alone answer.
    let risk = |head: &str| {
        rubric()
            .args([
                "risk",
                "--repo",
                "github/acme/api",
                "--base",
                "b0",
                "--head",
                head,
            ])
            .arg("--changed-files")
            .arg(&list)
            .args(["--store", &url])
            .env("RUBRIC_CODECOV_URL", "http://127.0.0.1:9")
            .env("RUBRIC_HTTP_MAX_RETRIES", "0")
            .run_async()
    };
    let r = risk("h1").await.expect_code(0).json();
    assert_eq!(r["changed_coverage"], 75.0, "{r}");
    assert_eq!(r["points"], 0);
    assert_eq!(r["reason"], "changed files 75.0 % covered >= 40 %: +0");
    assert_eq!(
        r["files"][1],
        json!({"path": "src/untested.rs", "coverage": null, "lines": 0, "hits": 0})
    );
    let none = risk("unknown-commit").await.expect_code(0).json();
    assert_eq!(none["skipped"], true, "{none}");
    assert_eq!(none["points"], 0);
    assert_eq!(
        none["reason"],
        "no coverage data for the 2 changed file(s): skipped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_what_the_cli_prints() {
    let fake = codecov().await;
    let dir = tempfile::tempdir().unwrap();
    let uploads = crate::support::fixture("uploads");
    let (_server, url) = rubric()
        .args(["serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite://{}", dir.path().join("h.db").display()))
        .arg("--catalog")
        .arg(uploads.join("catalog"))
        .arg("--scorecards")
        .arg(uploads.join("scorecards"))
        .env("RUBRIC_CODECOV_URL", fake.uri())
        .env("RUBRIC_HTTP_MAX_RETRIES", "0")
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .env("RUBRIC_API_TOKENS", "portal:read:risk-read-token")
        .listen()
        .await;
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{url}/api/v1/risk"))
        .bearer_auth("risk-read-token")
        .json(&json!({"repo": "github/acme/api", "pull": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let risk: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(risk["points"], 15, "{risk}");
    assert_eq!(risk["changed_coverage"], 31.5);
    let cli = rubric()
        .args(["risk", "--repo", "github/acme/api", "--pull", "7"])
        .env("RUBRIC_CODECOV_URL", fake.uri())
        .run_async()
        .await
        .expect_code(0)
        .json();
    assert_eq!(risk, cli, "one assessment, two doors");
    let bad = http
        .post(format!("{url}/api/v1/risk"))
        .bearer_auth("risk-read-token")
        .json(&json!({"repo": "github/acme/api"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("name the change"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_read_a_pull_requests_changed_files() {
    let fake = codecov().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/api/pulls/7/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "pullid": 7, "base_totals": {"coverage": 80.0}, "head_totals": {"coverage": 79.0},
            "patch": {"coverage": 30.0}})))
        .mount(&fake)
        .await;
    let eval = |expression: &str| {
        rubric()
            .args([
                "cql", "eval", expression, "--entity", "api", "--format", "json",
            ])
            .arg("--catalog")
            .arg(crate::support::fixture("uploads/catalog"))
            .env("RUBRIC_CODECOV_URL", fake.uri())
            .env("RUBRIC_HTTP_MAX_RETRIES", "0")
            .run_async()
    };
    let covered = eval("codecov.pullRequest(7).changedFilesCoverage() >= 40")
        .await
        .expect_code(0)
        .json();
    assert_eq!(covered["verdict"], "fail", "{covered}");
    assert_eq!(covered["value"], false);
    assert!(
        covered["explanation"]
            .as_str()
            .unwrap()
            .starts_with("codecov.pullRequest(7).changedFilesCoverage() = 31.5"),
        "{covered}"
    );
    // Deleted files are changes too: four files, one of them gone.
    let files = eval("codecov.pullRequest(7).files().length == 4")
        .await
        .expect_code(0)
        .json();
    assert_eq!(files["verdict"], "pass", "{files}");
}

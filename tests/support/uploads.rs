//! The upload tests' steps with the real binary: a project token, `rubric serve` over the
//! uploads fixture, `rubric eval` reading the store.

use super::{Run, fixture, rubric};

/// The token server's API accepts for reads in these tests.
pub const READ: &str = "uploads-read-token";

/// `rubric tokens create --repo REPO --store STORE`: the token (the last line) and the run.
pub async fn token(store: &str, repo: &str) -> (String, Run) {
    let run = rubric()
        .args(["tokens", "create", "--repo", repo, "--store", store])
        .run_async()
        .await
        .expect_code(0);
    let token = run.stdout().lines().last().unwrap_or_default().to_string();
    (token, run)
}

/// `rubric serve` on 127.0.0.1 over `store`, the fixture's catalog and scorecards, no schedule,
/// [`READ`] as the read token: the process (killed when dropped) and its URL.
pub async fn serve(store: &str) -> (tokio::process::Child, String) {
    let uploads = fixture("uploads");
    rubric()
        .args(["serve", "--bind", "127.0.0.1:0", "--store", store])
        .arg("--catalog")
        .arg(uploads.join("catalog"))
        .arg("--scorecards")
        .arg(uploads.join("scorecards"))
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .env("RUBRIC_API_TOKENS", format!("portal:read:{READ}"))
        .listen()
        .await
}

/// `rubric eval --format json --store STORE` over the fixture: the report.
pub async fn eval(store: &str) -> serde_json::Value {
    let uploads = fixture("uploads");
    rubric()
        .args(["eval", "--format", "json", "--store", store])
        .arg("--catalog")
        .arg(uploads.join("catalog"))
        .arg("--scorecards")
        .arg(uploads.join("scorecards"))
        .run_async()
        .await
        .expect_code(0)
        .json()
}

/// The rules of `entity` in the first scorecard of an eval report.
pub fn rules(report: &serde_json::Value, entity: &str) -> Vec<serde_json::Value> {
    report["scorecards"][0]["entities"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["entity"] == entity))
        .and_then(|e| e["rules"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("{entity} in {report}"))
}

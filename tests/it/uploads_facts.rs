//! `coverage.*` over uploads stored at chosen times, through `rubric cql eval` (the real binary,
//! the store named by `RUBRIC_STORE_URL`): totals, files, flags, the trend between commits, and
//! the reasons of `no_data`.

use chrono::{TimeDelta, Utc};
use rubric::coverage::{Format, Limits, Report, parse};
use rubric::store::Store;
use rubric::store::uploads::NewUpload;
use serde_json::{Value, json};

use crate::support::{fixture, rubric};

fn lcov(text: &str) -> Report {
    parse(text.as_bytes(), Some(Format::Lcov), &Limits::default())
        .unwrap()
        .0
}

async fn upload(
    store: &Store,
    repo: &str,
    commit: &str,
    branch: &str,
    days_ago: i64,
    complete: bool,
    report: &str,
) {
    let flags = ["unit".to_string()];
    store
        .save_upload(NewUpload {
            repository: repo,
            commit,
            branch: Some(branch),
            flags: &flags,
            format: Format::Lcov,
            uploaded_by: "ci",
            complete,
            report: lcov(report),
            at: Utc::now() - TimeDelta::days(days_ago),
        })
        .await
        .unwrap();
}

async fn eval(store: &str, entity: &str, expression: &str) -> Value {
    rubric()
        .args([
            "cql", "eval", expression, "--entity", entity, "--format", "json",
        ])
        .arg("--catalog")
        .arg(fixture("uploads/catalog"))
        .env("RUBRIC_STORE_URL", store)
        .run_async()
        .await
        .expect_code(0)
        .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_facts_read_the_main_branch_and_explain_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rubric.db").display());
    let store = Store::connect(&url).await.unwrap();
    let api = "github/acme/api";
    upload(
        &store,
        api,
        "old",
        "main",
        40,
        true,
        "SF:src/a.rs\nDA:1,1\nDA:2,0\nend_of_record\n",
    )
    .await;
    upload(
        &store,
        api,
        "new",
        "main",
        1,
        true,
        "SF:src/a.rs\nDA:1,1\nDA:2,3\nend_of_record\nSF:src/b.rs\nDA:1,0\nDA:2,1\nend_of_record\n",
    )
    .await;
    // Newer, but not on the main branch, or not complete: not what coverage.* reads.
    upload(
        &store,
        api,
        "topic",
        "feature",
        0,
        true,
        "SF:src/a.rs\nDA:1,0\nend_of_record\n",
    )
    .await;
    upload(
        &store,
        api,
        "partial",
        "main",
        0,
        false,
        "SF:src/a.rs\nDA:1,0\nend_of_record\n",
    )
    .await;
    // quiet: only a topic branch; nothing for lonely (no repository).
    upload(
        &store,
        "github/acme/quiet",
        "q1",
        "topic",
        0,
        true,
        "SF:a\nDA:1,1\nend_of_record\n",
    )
    .await;
    store.close().await;

    let total = eval(&url, "api", "coverage.total() >= 70").await;
    assert_eq!(total["verdict"], "pass", "{total}");
    assert_eq!(
        total["explanation"],
        "coverage.total() = 75 (github/acme/api@new), needs >= 70"
    );
    let trend = eval(&url, "api", "coverage.trend(days=30) > 0").await;
    assert_eq!(
        trend["explanation"],
        "coverage.trend(days=30) = 25 (github/acme/api@new), needs > 0"
    );
    let file = eval(&url, "api", "coverage.file(\"src/a.rs\") == 100").await;
    assert_eq!(file["verdict"], "pass", "{file}");
    let files = eval(&url, "api", "coverage.files().length == 2").await;
    assert_eq!(files["verdict"], "pass", "{files}");
    assert_eq!(
        files["inputs"][0]["value"],
        json!([{"path": "src/a.rs", "coverage": 100, "lines": 2, "hits": 2},
            {"path": "src/b.rs", "coverage": 50, "lines": 2, "hits": 1}])
    );
    let flag = eval(&url, "api", "coverage.total(flag=\"web\") > 1").await;
    assert_eq!(flag["verdict"], "no_data", "{flag}");
    assert!(
        flag["explanation"]
            .as_str()
            .unwrap()
            .contains("no upload with flag \"web\" for commit new (flags: unit)"),
        "{flag}"
    );
    let missing = eval(&url, "api", "coverage.file(\"src/zzz.rs\") > 1").await;
    assert_eq!(missing["verdict"], "no_data", "{missing}");
    // The last 30 days: only "new" (a day ago) is complete and on main.
    let history = eval(&url, "api", "coverage.history(days=30).length == 1").await;
    assert_eq!(history["verdict"], "pass", "{history}");
    let day = (Utc::now() - TimeDelta::days(1)).date_naive().to_string();
    assert_eq!(
        history["inputs"][0]["value"],
        json!([{"day": day, "coverage": 75}])
    );
    let uploaded = eval(&url, "api", "coverage.lastUploadAt() != null").await;
    assert_eq!(uploaded["verdict"], "pass", "{uploaded}");

    let quiet = eval(&url, "quiet", "coverage.total() > 1").await;
    assert_eq!(quiet["verdict"], "no_data");
    assert!(
        quiet["explanation"].as_str().unwrap().contains(
            "no complete upload for github/acme/quiet on main or master (uploads on: topic)"
        ),
        "{quiet}"
    );
    let lonely = eval(&url, "lonely", "coverage.total() > 1").await;
    assert_eq!(lonely["verdict"], "no_data");
    assert!(
        lonely["explanation"]
            .as_str()
            .unwrap()
            .contains("entity has no repository mapping"),
        "{lonely}"
    );
}

//! Coverage history from day one: the first run of `rubric serve` against a Codecov that keeps
//! 30 daily points records them (as `backfill`) beside its own reading, so the trend, the 30-day
//! change and the declining warning exist at once (API and entity page).

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fixture, rubric};

const ADMIN: &str = "history-admin-token";

/// A Codecov whose repository `full` is at 86 % today, after 30 daily points falling from 90 %
/// to 87.1 %, with two open pull requests, one lowering coverage by 1.5 points.
async fn codecov() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/full/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"branch": "main", "totals": {"coverage": 86.0}})),
        )
        .mount(&server)
        .await;
    let today = Utc::now().date_naive();
    let results: Vec<Value> = (1..=30)
        .rev()
        .map(|back| {
            let day = today - TimeDelta::days(back);
            json!({"timestamp": format!("{day}T00:00:00Z"), "min": 0, "max": 100,
                "avg": 90.0 - f64::from(30 - back as i32) * 0.1})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/full/coverage/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"count": 30, "next": null, "results": results})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/full/pulls/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"count": 2, "next": null,
            "results": [
                {"pullid": 7, "title": "Faster parsing", "state": "open",
                 "base_totals": {"coverage": 86.0}, "head_totals": {"coverage": 84.5},
                 "patch": {"coverage": 30.0}},
                {"pullid": 8, "title": "More tests", "state": "open",
                 "base_totals": {"coverage": 86.0}, "head_totals": {"coverage": 86.2},
                 "patch": null}]})),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_has_thirty_days_of_history_and_says_it_is_declining() {
    let fake = codecov().await;
    let dir = tempfile::tempdir().unwrap();
    let basic = fixture("eval").join("basic");
    let (_server, url) = rubric()
        .args(["serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite://{}", dir.path().join("h.db").display()))
        .arg("--catalog")
        .arg(basic.join("catalog"))
        .arg("--scorecards")
        .arg(basic.join("scorecards"))
        .env("RUBRIC_CODECOV_URL", fake.uri())
        .env("RUBRIC_HTTP_MAX_RETRIES", "0")
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .env("RUBRIC_API_TOKENS", format!("ci:admin:{ADMIN}"))
        .listen()
        .await;
    let http = reqwest::Client::new();
    let run = http
        .post(format!(
            "{url}/api/v1/scorecards/coverage/entities/full/evaluate"
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200, "{}", run.text().await.unwrap());
    let coverage: Value = http
        .get(format!("{url}/api/v1/entities/full/coverage"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let series = &coverage["coverage"][0];
    let trend = series["trend"].as_array().unwrap();
    // The 30-day window is the 29 days before today, backfilled, and today's own reading.
    assert_eq!(trend.len(), 30, "{series}");
    assert_eq!(trend[0]["source"], "backfill");
    assert_eq!(trend[0]["coverage"], 89.9, "{series}");
    assert_eq!(trend[28]["coverage"], 87.1, "{series}");
    assert_eq!(trend[29]["source"], "run");
    assert_eq!(trend[29]["coverage"], 86.0);
    let change = series["change_30d"].as_f64().unwrap();
    assert!((change + 3.9).abs() < 1e-9, "{series}");
    assert_eq!(
        series["declining"], true,
        "3.9 points down is 1.0 or more: {series}"
    );

    let page = http
        .get(format!("{url}/entities/full"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("⚠ declining: 3.9 points in 30 days"),
        "{page}"
    );

    // The same run listed the repository's open pull requests.
    let pulls = |q: &'static str| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.get(format!("{url}/api/v1/pulls{q}"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let all = pulls("").await;
    assert_eq!(all["pulls"].as_array().unwrap().len(), 2, "{all}");
    let regressing = pulls("?regressing=true").await;
    assert_eq!(
        regressing["pulls"],
        json!([{"repository": "acme/full", "provider": "codecov", "pullid": 7,
            "title": "Faster parsing", "base_coverage": 86.0, "head_coverage": 84.5,
            "patch_coverage": 30.0, "delta": -1.5}])
    );

    // The dashboard, as JSON and as a page, filtered by owner and sorted.
    let get = |path: String| {
        let http = http.clone();
        async move { http.get(path).bearer_auth(ADMIN).send().await.unwrap() }
    };
    let board: Value = get(format!(
        "{url}/api/v1/coverage?owner=acme&sort=coverage&order=desc"
    ))
    .await
    .json()
    .await
    .unwrap();
    let row = &board["repositories"][0];
    assert_eq!(row["repository"], "acme/full", "{board}");
    assert_eq!(row["coverage"], 86.0);
    assert_eq!(row["declining"], true);
    assert_eq!(row["regressing_pulls"][0]["pullid"], 7);
    let none: Value = get(format!("{url}/api/v1/coverage?owner=other"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["repositories"], json!([]));
    assert_eq!(
        get(format!("{url}/api/v1/coverage?sort=mood"))
            .await
            .status(),
        400
    );
    let page = get(format!("{url}/coverage?owner=acme&sort=change"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<code>acme/full</code>"), "{page}");
    assert!(page.contains("⚠ declining"), "{page}");
    assert!(page.contains("#7 (-1.5)"), "{page}");
    assert!(
        // Sorting by the current column again flips its order (`=` is escaped as `&#x3D;`).
        page.contains(
            "href=\"/coverage?sort&#x3D;change&amp;order&#x3D;desc&amp;owner&#x3D;acme\""
        ),
        "{page}"
    );
}

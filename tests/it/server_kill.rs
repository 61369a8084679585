//! `kill -9` during a run: the real `rubric serve` binary, a fake Codecov on 127.0.0.1 that can
//! hang, and one SQLite file shared by three processes in turn. The run killed mid-way must leave
//! the previous results served, and nothing of itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use tokio::process::Child;
use tokio::sync::mpsc;

use crate::support::{self, rubric};

const ADMIN: &str = "kill-test-admin-token";

#[derive(Clone)]
struct Codecov {
    hang: Arc<AtomicBool>,
    hit: mpsc::UnboundedSender<()>,
}

async fn codecov(State(c): State<Codecov>) -> axum::response::Response {
    if c.hang.load(Ordering::SeqCst) {
        let _ = c.hit.send(());
        std::future::pending::<()>().await;
    }
    axum::Json(serde_json::json!({
        "name": "repo",
        "updatestamp": "2026-11-20T10:00:00Z",
        "totals": {"files": 10, "lines": 100, "hits": 91, "misses": 9, "partials": 0, "coverage": 91.0},
    }))
    .into_response()
}

/// Starts `rubric serve` on a free port and returns it with its base URL.
async fn serve(store: &str, codecov_url: &str) -> (Child, String) {
    rubric()
        .args(["serve", "--bind", "127.0.0.1:0", "--store", store])
        .env("RUBRIC_CODECOV_URL", codecov_url)
        .env("RUBRIC_API_TOKENS", format!("test:admin:{ADMIN}"))
        .env("RUBRIC_SCHEDULE_JITTER_SECS", "0")
        .env("RUBRIC_LOG", "info")
        .listen()
        .await
}

async fn get(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls (bounded) until every scorecard has a run.
async fn wait_for_runs(client: &reqwest::Client, base: &str) -> serde_json::Value {
    for _ in 0..600 {
        let list = get(client, &format!("{base}/api/v1/scorecards")).await;
        let cards = list["scorecards"].as_array().cloned().unwrap_or_default();
        if !cards.is_empty() && cards.iter().all(|c| c["last_run"].is_object()) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the scheduled runs did not finish within 60 s");
}

#[tokio::test]
async fn kill_9_during_a_run_leaves_the_previous_results_intact() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("history.db").display());
    let (hit_tx, mut hit_rx) = mpsc::unbounded_channel();
    let state = Codecov {
        hang: Arc::new(AtomicBool::new(false)),
        hit: hit_tx,
    };
    let app = axum::Router::new()
        .fallback(codecov)
        .with_state(state.clone());
    let codecov_url = support::serve(app).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // 1. A first server runs every scorecard on start-up, then dies hard.
    let (mut a, base) = serve(&store, &codecov_url).await;
    let runs_before = wait_for_runs(&client, &base).await;
    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    for name in [
        "rubric_runs_total",
        "rubric_provider_requests_total",
        "rubric_provider_fetch_seconds",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}: {metrics}");
    }
    let entity_url = |base: &str| format!("{base}/api/v1/entities/payments-api/scorecards");
    let before = get(&client, &entity_url(&base)).await;
    assert!(
        !before["scorecards"].as_array().unwrap().is_empty(),
        "{before}"
    );
    a.start_kill().unwrap();
    a.wait().await.unwrap();

    // 2. A second server starts an on-demand run that hangs on Codecov, and is killed mid-run.
    state.hang.store(true, Ordering::SeqCst);
    let (mut b, base) = serve(&store, &codecov_url).await;
    let tag = before["scorecards"][0]["scorecard"]
        .as_str()
        .unwrap()
        .to_string();
    let post = client
        .post(format!(
            "{base}/api/v1/scorecards/{tag}/entities/payments-api/evaluate"
        ))
        .bearer_auth(ADMIN)
        .send();
    let pending = tokio::spawn(post);
    tokio::time::timeout(Duration::from_secs(30), hit_rx.recv())
        .await
        .expect("the run reached Codecov");
    b.start_kill().unwrap();
    b.wait().await.unwrap();
    assert!(
        pending.await.unwrap().is_err(),
        "the killed server never answered"
    );

    // 3. A third server serves exactly the first server's results.
    state.hang.store(false, Ordering::SeqCst);
    let (_c, base) = serve(&store, &codecov_url).await;
    let after = get(&client, &entity_url(&base)).await;
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for sc in v["scorecards"].as_array_mut().unwrap() {
            sc.as_object_mut().unwrap().remove("stale_secs");
        }
        v
    };
    assert_eq!(
        strip(&after),
        strip(&before),
        "the previous results are intact"
    );
    let runs_after = get(&client, &format!("{base}/api/v1/scorecards")).await;
    let ids = |v: &serde_json::Value| {
        v["scorecards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["last_run"]["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&runs_after),
        ids(&runs_before),
        "the killed run left no row"
    );
}

#[tokio::test]
async fn sigterm_in_the_middle_of_a_run_stops_the_server_within_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("history.db").display());
    let (hit_tx, mut hit_rx) = mpsc::unbounded_channel();
    // Codecov hangs from the start: the start-up runs and an on-demand run never finish.
    let state = Codecov {
        hang: Arc::new(AtomicBool::new(true)),
        hit: hit_tx,
    };
    let app = axum::Router::new().fallback(codecov).with_state(state);
    let codecov_url = support::serve(app).await;
    let (mut server, base) = serve(&store, &codecov_url).await;
    let pending = tokio::spawn(
        reqwest::Client::new()
            .post(format!(
                "{base}/api/v1/scorecards/coverage-maturity/entities/payments-api/evaluate"
            ))
            .bearer_auth(ADMIN)
            .send(),
    );
    tokio::time::timeout(Duration::from_secs(30), hit_rx.recv())
        .await
        .expect("a run reached Codecov");

    let pid = server.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    // The grace is 3 s for requests and 3 s for runs; 30 s bounds the wait on a busy machine.
    let status = tokio::time::timeout(Duration::from_secs(30), server.wait())
        .await
        .expect("rubric serve stopped after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let _ = pending.await;
}

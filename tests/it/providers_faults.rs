//! Faults over real HTTP on 127.0.0.1: every entity gets a fact naming its fault, nothing
//! panics, 429 pauses the whole provider, requests stay within the rate limit, and a failed
//! refresh serves the last good value marked stale.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{self, providers::*};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rubric::facts::FactStatus;
use rubric::providers::Providers;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn repo_path(name: &str) -> String {
    format!("/api/v2/github/acme/repos/{name}/")
}

fn totals(coverage: f64) -> serde_json::Value {
    json!({"name": "x", "branch": "main", "totals": {"files": 1, "lines": 100, "hits": coverage as u64,
           "misses": 100 - coverage as u64, "partials": 0, "coverage": coverage, "branches": 0, "methods": 0,
           "sessions": 1, "complexity": 0.0, "complexity_total": 0.0, "complexity_ratio": 0, "diff": 0}})
}

#[tokio::test]
async fn every_entity_gets_a_fact_naming_its_fault() {
    let mock = MockServer::start().await;
    let mount =
        |p: String, r: ResponseTemplate| Mock::given(method("GET")).and(path(p)).respond_with(r);
    mount(
        repo_path("ok"),
        ResponseTemplate::new(200).set_body_json(totals(91.0)),
    )
    .mount(&mock)
    .await;
    mount(repo_path("e500"), ResponseTemplate::new(500))
        .mount(&mock)
        .await;
    mount(
        repo_path("html"),
        ResponseTemplate::new(200).set_body_raw("<html><body>Login</body></html>", "text/html"),
    )
    .mount(&mock)
    .await;
    mount(
        repo_path("garbage"),
        ResponseTemplate::new(200).set_body_raw("{\"totals\": [", "application/json"),
    )
    .mount(&mock)
    .await;
    mount(
        repo_path("wrongshape"),
        ResponseTemplate::new(200).set_body_json(json!({"totals": "85"})),
    )
    .mount(&mock)
    .await;
    mount(
        repo_path("e401"),
        ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})),
    )
    .mount(&mock)
    .await;
    mount(
        repo_path("e403"),
        ResponseTemplate::new(403).set_body_json(json!({"detail": "User not activated"})),
    )
    .mount(&mock)
    .await;
    mount(
        repo_path("e404"),
        ResponseTemplate::new(404).set_body_json(json!({"detail": "Not found."})),
    )
    .mount(&mock)
    .await;
    mount(
        repo_path("null"),
        ResponseTemplate::new(200).set_body_json(json!({"name": "null", "totals": null})),
    )
    .mount(&mock)
    .await;
    mount(
        repo_path("slow"),
        ResponseTemplate::new(200)
            .set_body_json(totals(50.0))
            .set_delay(Duration::from_secs(5)),
    )
    .mount(&mock)
    .await;
    Mock::given(method("GET"))
        .and(path(format!("{}totals/", repo_path("mono"))))
        .and(query_param("flag", "ghost"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totals": {"files": 0, "lines": 0, "hits": 0, "misses": 0, "partials": 0, "coverage": 0,
                       "branches": 0, "methods": 0, "messages": 0, "sessions": 0, "complexity": 0.0,
                       "complexity_total": 0.0, "complexity_ratio": 0, "diff": 0},
            "files": [], "commit_file_url": "x"})))
        .mount(&mock)
        .await;

    let mut cfg = config(&mock.uri());
    cfg.http.read_timeout_ms = 200;
    cfg.http.request_timeout_ms = 300;
    cfg.http.max_retries = 1;
    let providers = Providers::from_config(&cfg).unwrap();
    let names = [
        "ok",
        "e500",
        "html",
        "garbage",
        "wrongshape",
        "e401",
        "e403",
        "e404",
        "null",
        "slow",
        "mono",
    ];
    let entities: Vec<_> = names
        .iter()
        .map(|n| {
            entity(
                n,
                Some(("github", "acme", n, (*n == "mono").then_some("ghost"))),
            )
        })
        .collect();
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let facts = tokio::time::timeout(
        Duration::from_secs(20),
        providers.fetch(&cat, &refs, &[key("codeCoverage", &[])]),
    )
    .await
    .expect("bounded by timeouts and the retry budget");
    let f: Vec<_> = facts.into_iter().map(|mut v| v.remove(0)).collect();
    assert_eq!(number(&f[0]), 91.0);
    assert_eq!(
        error(&f[1]),
        "Codecov answered 500 Internal Server Error (after 2 attempts)"
    );
    assert_eq!(error(&f[2]), "Codecov answered HTML, not JSON (status 200)");
    assert!(
        error(&f[3]).starts_with("Codecov answered malformed JSON: "),
        "{:?}",
        f[3]
    );
    assert_eq!(
        error(&f[4]),
        "Codecov answered unexpected JSON: the repository has no `totals` field"
    );
    assert!(
        error(&f[5]).starts_with("Codecov answered 401 Unauthorized: Invalid token. (no token"),
        "{:?}",
        f[5]
    );
    assert!(
        error(&f[6]).starts_with("Codecov answered 403 Forbidden: User not activated"),
        "{:?}",
        f[6]
    );
    assert!(
        error(&f[7])
            .starts_with("Codecov answered 404 Not Found: Not found. (the repository is unknown")
    );
    assert_eq!(no_data(&f[8]), "no coverage uploads on the default branch");
    let port = mock.address().port();
    assert_eq!(
        error(&f[9]),
        format!("Codecov at 127.0.0.1:{port} timed out (after 2 attempts)")
    );
    assert_eq!(no_data(&f[10]), "flag ghost has no uploads");
    assert!(f.iter().all(|x| x.origin.is_some()));
}

/// A fake Codecov recording when each request arrived; `/repos/throttle/` answers 429 once.
#[derive(Clone, Default)]
struct Recorder {
    arrivals: Arc<Mutex<Vec<(Instant, String)>>>,
    throttled_once: Arc<Mutex<bool>>,
    retry_after: &'static str,
}

async fn recorded(
    State(r): State<Recorder>,
    Path((_, _, repo)): Path<(String, String, String)>,
) -> Response {
    r.arrivals
        .lock()
        .unwrap()
        .push((Instant::now(), repo.clone()));
    if repo == "throttle" {
        let mut once = r.throttled_once.lock().unwrap();
        if !*once {
            *once = true;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, r.retry_after)],
                axum::Json(json!({"detail": "Request was throttled."})),
            )
                .into_response();
        }
    }
    axum::Json(totals(80.0)).into_response()
}

async fn start_recorder(r: Recorder) -> String {
    let app = axum::Router::new()
        .route(
            "/api/v2/{service}/{owner}/repos/{repo}/",
            axum::routing::get(recorded),
        )
        .with_state(r);
    support::serve(app).await
}

#[tokio::test]
async fn a_429_pauses_the_whole_provider_for_retry_after() {
    let rec = Recorder {
        retry_after: "1",
        ..Recorder::default()
    };
    let url = start_recorder(rec.clone()).await;
    let mut cfg = config(&url);
    cfg.codecov.concurrency = 1;
    let providers = Providers::from_config(&cfg).unwrap();
    let mut entities = vec![entity(
        "throttle",
        Some(("github", "acme", "throttle", None)),
    )];
    entities.extend((0..10).map(|i| {
        entity(
            &format!("r{i}"),
            Some(("github", "acme", &format!("r{i}"), None)),
        )
    }));
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let facts = tokio::time::timeout(
        Duration::from_secs(10),
        providers.fetch(&cat, &refs, &[key("codeCoverage", &[])]),
    )
    .await
    .unwrap();
    assert!(
        facts.iter().all(|f| f[0].status == FactStatus::Ok),
        "{facts:?}"
    );
    let arrivals = rec.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 12, "11 repositories and one retry");
    let (t429, _) = arrivals[0];
    assert_eq!(arrivals[0].1, "throttle");
    // Nothing else was sent to Codecov until Retry-After had passed.
    let next = arrivals[1].0.duration_since(t429);
    assert!(
        next >= Duration::from_millis(950),
        "next request {next:?} after the 429"
    );
    let stats = providers.stats()[0].1;
    assert_eq!((stats.throttled, stats.retries, stats.errors), (1, 1, 0));
    assert!(
        providers
            .get::<rubric::providers::codecov::Codecov>()
            .unwrap()
            .http()
            .current_rate()
            < 1000.0,
        "the provider slowed down"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_fails_fast_with_the_reason() {
    let rec = Recorder {
        retry_after: "3600",
        ..Recorder::default()
    };
    let url = start_recorder(rec.clone()).await;
    let providers = Providers::from_config(&config(&url)).unwrap();
    let e = entity("throttle", Some(("github", "acme", "throttle", None)));
    let cat = catalog(vec![e.clone()]);
    let f = tokio::time::timeout(
        Duration::from_secs(5),
        providers.fetch(&cat, &[&e], &[key("codeCoverage", &[])]),
    )
    .await
    .unwrap()
    .remove(0)
    .remove(0);
    assert_eq!(
        error(&f),
        "Codecov answered 429 Too Many Requests: Request was throttled. (Retry-After 3600 s is longer than the 60 s allowed)"
    );
}

#[tokio::test]
async fn requests_stay_within_the_rate_limit() {
    let rec = Recorder {
        retry_after: "1",
        ..Recorder::default()
    };
    let url = start_recorder(rec.clone()).await;
    let mut cfg = config(&url);
    cfg.codecov.rate_limit_per_sec = 100;
    cfg.codecov.rate_limit_burst = 5;
    cfg.codecov.concurrency = 16;
    let providers = Providers::from_config(&cfg).unwrap();
    let entities: Vec<_> = (0..60)
        .map(|i| {
            entity(
                &format!("r{i}"),
                Some(("github", "acme", &format!("r{i}"), None)),
            )
        })
        .collect();
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let start = Instant::now();
    let facts = tokio::time::timeout(
        Duration::from_secs(10),
        providers.fetch(&cat, &refs, &[key("codeCoverage", &[])]),
    )
    .await
    .unwrap();
    let elapsed = start.elapsed();
    assert!(facts.iter().all(|f| f[0].status == FactStatus::Ok));
    assert!(
        elapsed >= Duration::from_millis(540),
        "60 requests at 100/s with a burst of 5 took {elapsed:?}"
    );
    let mut times: Vec<Instant> = rec
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(times.len(), 60);
    times.sort();
    // The limiter lets request k (0-based) leave no earlier than (k + 1 - burst) / rate after
    // the start. A busy machine can only delay arrivals, never advance them, so this bound
    // holds however the server's scheduling bunches them (1 ms for timer granularity).
    for (k, t) in times.iter().enumerate() {
        let earliest = Duration::from_secs_f64((k + 1).saturating_sub(5) as f64 / 100.0)
            .saturating_sub(Duration::from_millis(1));
        let at = t.duration_since(start);
        assert!(
            at >= earliest,
            "request {k} arrived {at:?} after the start, before the limit allows ({earliest:?})"
        );
    }
}

#[tokio::test]
async fn a_failed_refresh_serves_the_last_good_value_marked_stale() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(repo_path("flaky")))
        .respond_with(ResponseTemplate::new(200).set_body_json(totals(77.0)))
        .up_to_n_times(1)
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(repo_path("flaky")))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"detail": "maintenance"})))
        .mount(&mock)
        .await;
    let mut cfg = config(&mock.uri());
    cfg.codecov.cache_ttl_secs = 1;
    cfg.http.max_retries = 0;
    let providers = Providers::from_config(&cfg).unwrap();
    let e = entity("flaky", Some(("github", "acme", "flaky", None)));
    let cat = catalog(vec![e.clone()]);
    let keys = [key("codeCoverage", &[])];
    let first = providers
        .fetch(&cat, &[&e], &keys)
        .await
        .remove(0)
        .remove(0);
    assert_eq!((number(&first), first.stale_secs), (77.0, None));
    // The TTL runs on moka's clock (real time): poll, bounded, until the refresh happens.
    let mut stale = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let f = providers
            .fetch(&cat, &[&e], &keys)
            .await
            .remove(0)
            .remove(0);
        if f.stale_secs.is_some() {
            stale = Some(f);
            break;
        }
    }
    let stale = stale.expect("the 1 s TTL expired within 4 s");
    assert_eq!(number(&stale), 77.0);
    assert!(stale.stale_secs.unwrap() >= 1);
    let origin = stale.origin.unwrap();
    assert_eq!(
        origin,
        "github/acme/flaky; refresh failed: Codecov answered 503 Service Unavailable: maintenance (after 1 attempt)"
    );
    assert_eq!(providers.stats()[0].1.stale_served, 1);
}

//! Hostile answers over real HTTP on 127.0.0.1: a 5 GiB `Content-Length`, an endless chunked
//! body, a gzip bomb and a body that trickles forever each end in an error fact for their own
//! entity, quickly; impossible numbers (coverage 150, -5 lines, `"NaN"`) are error facts, so a
//! rule like `>= 50` has an `error` outcome; and every other entity in the same fetch gets its
//! value.

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{self, providers::*};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rubric::cql::{Program, Registry, SlotTable, Verdict};
use rubric::facts::Fact;
use rubric::providers::Providers;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The default `max_response_bytes`.
const CAP: usize = 8 * 1024 * 1024;

fn totals(coverage: serde_json::Value, lines: serde_json::Value) -> serde_json::Value {
    json!({"name": "x", "branch": "main", "totals": {"files": 1, "lines": lines, "hits": 80,
           "misses": 20, "partials": 0, "coverage": coverage, "sessions": 1}})
}

/// A gzip body that decodes to twice the cap while its compressed size is far below it.
fn gzip_bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![b' '; 1024 * 1024];
    for _ in 0..(2 * CAP / block.len()) {
        gz.write_all(&block).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < CAP / 16, "{} bytes compressed", bomb.len());
    bomb
}

/// Requests per repository, and the bomb to serve.
struct Hostile {
    requests: [AtomicUsize; 5],
    bomb: Vec<u8>,
}

const NAMES: [&str; 5] = ["ok", "huge", "endless", "bomb", "trickle"];

async fn answer(State(s): State<Arc<Hostile>>, Path(name): Path<String>) -> Response {
    let Some(i) = NAMES.iter().position(|n| *n == name) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    s.requests[i].fetch_add(1, Ordering::SeqCst);
    let json = [(header::CONTENT_TYPE, "application/json")];
    match name.as_str() {
        "ok" => axum::Json(totals(json!(91.0), json!(100))).into_response(),
        // Claims 5 GiB, sends one byte and then nothing: reading it would end in a timeout,
        // so the too-large error proves the header alone refused it.
        "huge" => {
            let first = futures::stream::once(async { Ok::<_, Infallible>(Bytes::from("{")) });
            let body = Body::from_stream(first.chain(futures::stream::pending()));
            (json, [(header::CONTENT_LENGTH, "5368709120")], body).into_response()
        }
        // Chunked, and it never ends: the client must cut it at the cap.
        "endless" => {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let body = Body::from_stream(futures::stream::repeat_with(move || {
                Ok::<_, Infallible>(chunk.clone())
            }));
            (json, body).into_response()
        }
        "bomb" => (
            json,
            [(header::CONTENT_ENCODING, "gzip")],
            Body::from(s.bomb.clone()),
        )
            .into_response(),
        // A byte every 20 ms forever: each read is quick, only the total timeout ends it.
        "trickle" => {
            let drip = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Ok::<_, Infallible>(Bytes::from(" ")), ()))
            });
            (json, Body::from_stream(drip)).into_response()
        }
        _ => unreachable!("every name in NAMES has an arm"),
    }
}

async fn hostile_server() -> (String, Arc<Hostile>) {
    let state = Arc::new(Hostile {
        requests: Default::default(),
        bomb: gzip_bomb(),
    });
    let app = axum::Router::new()
        .route(
            "/api/v2/github/acme/repos/{name}/",
            axum::routing::get(answer),
        )
        .with_state(state.clone());
    (support::serve(app).await, state)
}

/// `codecov.codeCoverage()` for each named repository, in one fetch, bounded in time.
async fn coverage_of(cfg: &rubric::config::Config, names: &[&str]) -> Vec<Fact> {
    let providers = Providers::from_config(cfg).unwrap();
    let entities: Vec<_> = names
        .iter()
        .map(|n| entity(n, Some(("github", "acme", n, None))))
        .collect();
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let facts = tokio::time::timeout(
        Duration::from_secs(30),
        providers.fetch(&cat, &refs, &[key("codeCoverage", &[])]),
    )
    .await
    .expect("every hostile answer is cut off by the cap or the timeouts");
    facts.into_iter().map(|mut f| f.remove(0)).collect()
}

#[tokio::test]
async fn oversized_answers_are_refused_without_reading_them_whole() {
    let (url, server) = hostile_server().await;
    let f = coverage_of(&config(&url), &["ok", "huge", "endless", "bomb"]).await;
    assert_eq!(number(&f[0]), 91.0);
    let hint = "(raise [codecov] max_response_bytes if such answers are expected)";
    assert_eq!(
        error(&f[1]),
        format!("Codecov answered more than 8 MiB: its Content-Length is 5 GiB {hint}")
    );
    assert_eq!(
        error(&f[2]),
        format!("Codecov answered more than 8 MiB {hint}")
    );
    // Counted after decompression: the compressed bomb is far below the cap.
    assert_eq!(
        error(&f[3]),
        format!("Codecov answered more than 8 MiB {hint}")
    );
    assert_eq!(
        f[1].origin.as_deref(),
        Some("github/acme/huge"),
        "the error stays on its entity"
    );
    // Too large is final: no retry reads the endless body again.
    let requests: Vec<usize> = server
        .requests
        .iter()
        .map(|r| r.load(Ordering::SeqCst))
        .collect();
    assert_eq!(requests[..4], [1, 1, 1, 1]);
}

#[tokio::test]
async fn the_cap_is_configurable_per_provider() {
    let (url, _server) = hostile_server().await;
    let mut cfg = config(&url);
    cfg.codecov.max_response_bytes = 64;
    let f = coverage_of(&cfg, &["ok"]).await;
    assert_eq!(
        error(&f[0]),
        "Codecov answered more than 64 B: its Content-Length is 125 B (raise [codecov] max_response_bytes if such answers are expected)"
    );
}

#[tokio::test]
async fn a_body_that_trickles_forever_ends_at_the_request_timeout() {
    let (url, server) = hostile_server().await;
    let mut cfg = config(&url);
    // Reads never stall long enough for the read timeout; the total one must end the body.
    cfg.http.read_timeout_ms = 1000;
    cfg.http.request_timeout_ms = 1500;
    cfg.http.max_retries = 0;
    let f = coverage_of(&cfg, &["ok", "trickle"]).await;
    assert_eq!(number(&f[0]), 91.0);
    let why = error(&f[1]);
    assert!(
        why.starts_with("Codecov at 127.0.0.1:") && why.ends_with(" timed out (after 1 attempt)"),
        "{why}"
    );
    assert_eq!(server.requests[4].load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn impossible_numbers_are_error_facts_and_error_outcomes() {
    let mock = MockServer::start().await;
    let answers = [
        ("ok", totals(json!(91.5), json!(100))),
        ("over", totals(json!(150), json!(100))),
        ("negative", totals(json!(-5), json!(100))),
        ("text150", totals(json!("150"), json!(100))),
        ("inf", totals(json!("inf"), json!(100))),
        ("nan", totals(json!("NaN"), json!(100))),
        ("lines", totals(json!(80), json!(-5))),
        ("textok", totals(json!("85.00000"), json!("1e999"))),
    ];
    for (name, body) in &answers {
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/github/acme/repos/{name}/")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&mock)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/ok/coverage/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "next": null, "previous": null, "total_pages": 1,
            "results": [{"timestamp": "2026-01-01T00:00:00Z", "avg": 80.0},
                        {"timestamp": "2026-01-02T00:00:00Z", "avg": 150.0}]})))
        .mount(&mock)
        .await;
    let providers = Providers::from_config(&config(&mock.uri())).unwrap();
    let mut slots = SlotTable::new();
    let rule = Program::compile(
        "codecov.codeCoverage() >= 50",
        Registry::standard(),
        &mut slots,
    )
    .unwrap()
    .program;
    let entities: Vec<_> = answers
        .iter()
        .map(|(n, _)| entity(n, Some(("github", "acme", n, None))))
        .collect();
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let mut keys = slots.keys().to_vec();
    keys.extend([key("lines", &[]), key("coverageTrend", &[])]);
    let facts = providers.fetch(&cat, &refs, &keys).await;

    let percent = "(a percentage is a number from 0 to 100)";
    let count = "(a count is a finite number, never negative)";
    assert_eq!(number(&facts[0][0]), 91.5);
    assert_eq!(number(&facts[0][1]), 100.0);
    assert_eq!(
        error(&facts[0][2]),
        format!("Codecov answered an impossible daily coverage 150 {percent}")
    );
    for (row, shown) in [(1, "150"), (2, "-5"), (3, "150"), (4, "inf"), (5, "NaN")] {
        assert_eq!(
            error(&facts[row][0]),
            format!("Codecov answered an impossible coverage {shown} {percent}"),
            "{}",
            answers[row].0
        );
    }
    assert_eq!(number(&facts[6][0]), 80.0);
    assert_eq!(
        error(&facts[6][1]),
        format!("Codecov answered an impossible number of lines -5 {count}")
    );
    assert_eq!(number(&facts[7][0]), 85.0);
    assert_eq!(
        error(&facts[7][1]),
        format!("Codecov answered an impossible number of lines inf {count}")
    );

    // `>= 50` passes on 91.5 and is an error, never a pass, on 150.
    let now = chrono::Utc::now();
    let ok = rule.evaluate(&facts[0][..1], now);
    assert_eq!(ok.verdict, Verdict::Pass);
    let over = rule.evaluate(&facts[1][..1], now);
    assert_eq!(over.verdict, Verdict::Error);
    assert_eq!(
        over.explanation,
        format!("codecov.codeCoverage(): Codecov answered an impossible coverage 150 {percent}")
    );
}

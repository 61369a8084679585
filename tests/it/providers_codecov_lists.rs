//! Codecov owners' repository lists over real HTTP on 127.0.0.1: the same facts as one request
//! per repository, in fewer requests; one list read shared by concurrent entities; fallbacks
//! (a refused, huge, endless or malformed list) that keep every fact explained.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::providers::*;
use rubric::catalog::Entity;
use rubric::config::Config;
use rubric::demo::fixture::{self, FixtureOptions};
use rubric::facts::{Fact, FactKey, FactStatus};
use rubric::providers::Providers;
use serde_json::{Value as Json, json};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const LIST: &str = "/api/v2/github/acme/repos/";
/// The per-repository detail route of any `acme` repository.
const DETAIL: &str = r"^/api/v2/github/acme/repos/[^/]+/$";

fn with_min(url: &str, min: usize) -> Config {
    let mut cfg = config(url);
    cfg.codecov.repository_list_min = min;
    cfg
}

fn acme(names: impl IntoIterator<Item = String>) -> Vec<Entity> {
    names
        .into_iter()
        .map(|n| entity(&n, Some(("github", "acme", &n, None))))
        .collect()
}

async fn fetch(cfg: &Config, entities: &[Entity], keys: &[FactKey]) -> Vec<Vec<Fact>> {
    let providers = Providers::from_config(cfg).unwrap();
    let cat = catalog(entities.to_vec());
    let refs: Vec<&Entity> = entities.iter().collect();
    providers.fetch(&cat, &refs, keys).await
}

/// A repository as Codecov's list and detail give it.
fn repo(name: &str, coverage: Json) -> Json {
    json!({"name": name, "private": true, "updatestamp": "2026-01-01T00:00:00Z",
           "author": {"service": "github", "username": "acme", "name": "acme"},
           "language": "rust", "branch": "main", "active": true, "activated": true,
           "totals": {"files": 3, "lines": 200, "hits": 150, "misses": 50, "partials": 0,
                      "coverage": coverage, "branches": 0, "methods": 0, "sessions": 1,
                      "complexity": 0.0, "complexity_total": 0.0, "complexity_ratio": 0, "diff": 0}})
}

fn page(results: Vec<Json>, next: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "count": results.len(), "next": next, "previous": null,
        "results": results, "total_pages": 1,
    }))
}

/// Every repository's detail, named by its path, at 75 %.
struct Detail;

impl Respond for Detail {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let name = req
            .url
            .path_segments()
            .and_then(|s| s.rev().nth(1))
            .unwrap_or("");
        ResponseTemplate::new(200).set_body_json(repo(name, json!(75.0)))
    }
}

async fn details(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex(DETAIL))
        .respond_with(Detail)
        .mount(server)
        .await;
}

/// Requests the server received for the list (`LIST`) or for one repository's detail.
async fn asked(server: &MockServer, list: bool) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .map(|r| r.url.path())
        .filter(|p| p.starts_with(LIST) && (*p == LIST) == list)
        .count()
}

#[tokio::test]
async fn the_list_gives_the_same_facts_as_one_request_per_repository_in_fewer_requests() {
    let server = fixture::start_with(FixtureOptions {
        synthetic_repos: 300,
        ..FixtureOptions::default()
    })
    .await
    .unwrap();
    let mut entities: Vec<Entity> = (0..300)
        .map(|i| {
            let n = format!("repo-{i}");
            entity(&n, Some(("github", "bench", &n, None)))
        })
        .collect();
    // The sample owner: a repository without uploads (`totals: null`), one written
    // `owner/name` in another case, a flagged monorepo package (read from `totals/?flag=`),
    // one unknown to Codecov (not listed: asked alone, 404), another service's repository.
    entities.extend([
        entity(
            "payments",
            Some(("github", "acme", "acme/Payments-API", None)),
        ),
        entity("checkout", Some(("github", "acme", "checkout-web", None))),
        entity("ledger", Some(("github", "acme", "ledger", None))),
        entity(
            "notifications",
            Some(("github", "acme", "notifications", None)),
        ),
        entity(
            "billing",
            Some(("github", "acme", "platform", Some("billing"))),
        ),
        entity("ghost", Some(("github", "acme", "ghost", None))),
        entity("search", Some(("gitlab", "acme", "search-indexer", None))),
        entity("unmapped", None),
    ]);
    let keys = vec![
        key("", &[]),
        key("codeCoverage", &[]),
        key("lines", &[]),
        key("misses", &[]),
        key("codeCoverage", &[("flag", json!("billing"))]),
        key("lastUploadAt", &[]),
    ];

    let mut per_repo = with_min(&server.url(), 1_000_000);
    per_repo.codecov.repository_list_page_size = 100;
    let before = server.requests();
    let alone = fetch(&per_repo, &entities, &keys).await;
    let alone_requests = server.requests() - before;

    let mut listed = with_min(&server.url(), 5);
    listed.codecov.repository_list_page_size = 100;
    let before = server.requests();
    let from_list = fetch(&listed, &entities, &keys).await;
    let list_requests = server.requests() - before;

    assert_eq!(from_list, alone, "the same facts, origins included");
    assert!(number(&alone[0][1]) > 0.0);
    assert_eq!(number(&alone[300][1]), 97.42);
    assert_eq!(
        no_data(&alone[303][1]),
        "no coverage uploads on the default branch"
    );
    assert!(error(&alone[305][1]).contains("404"), "{:?}", alone[305][1]);
    assert_eq!(alone[305][1], from_list[305][1]);
    // Saved: the detail of each listed repository (300 bench, 5 acme ones including the
    // platform monorepo's, whose default branch the last upload needs); spent: 3 pages of
    // bench (100 a page) and 1 of acme.
    assert_eq!(list_requests, alone_requests - 305 + 4);
    assert!(alone_requests >= 2 * 300, "{alone_requests}");
}

#[tokio::test]
async fn totals_alone_cost_one_list_page_instead_of_a_request_per_repository() {
    let server = fixture::start_with(FixtureOptions {
        synthetic_repos: 400,
        ..FixtureOptions::default()
    })
    .await
    .unwrap();
    let entities: Vec<Entity> = (0..400)
        .map(|i| {
            let n = format!("repo-{i}");
            entity(&n, Some(("github", "bench", &n, None)))
        })
        .collect();
    let keys = [key("codeCoverage", &[]), key("lines", &[])];
    let before = server.requests();
    let alone = fetch(&with_min(&server.url(), 0), &entities, &keys).await;
    assert_eq!(server.requests() - before, 400);
    let before = server.requests();
    let listed = fetch(&config(&server.url()), &entities, &keys).await;
    assert_eq!(server.requests() - before, 1, "page_size 500 by default");
    assert_eq!(listed, alone);
    assert!(listed.iter().flatten().all(|f| f.status == FactStatus::Ok));
}

#[tokio::test]
async fn concurrent_entities_of_one_owner_share_one_list_read() {
    let server = MockServer::start().await;
    let names: Vec<String> = (0..60).map(|i| format!("svc-{i}")).collect();
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param("page", "1"))
        .and(query_param("page_size", "500"))
        .respond_with(
            page(names.iter().map(|n| repo(n, json!(81.5))).collect(), None)
                .set_delay(std::time::Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&server)
        .await;
    details(&server).await;
    let facts = fetch(
        &config(&server.uri()),
        &acme(names.clone()),
        &[key("codeCoverage", &[]), key("hits", &[])],
    )
    .await;
    assert_eq!(facts.len(), 60);
    for row in &facts {
        assert_eq!(number(&row[0]), 81.5);
        assert_eq!(number(&row[1]), 150.0);
    }
    assert_eq!(asked(&server, false).await, 0);
}

#[tokio::test]
async fn a_refused_list_falls_back_to_one_request_per_repository() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"detail": "User not activated"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    details(&server).await;
    let names: Vec<String> = (0..30).map(|i| format!("svc-{i}")).collect();
    let facts = fetch(
        &config(&server.uri()),
        &acme(names),
        &[key("codeCoverage", &[])],
    )
    .await;
    assert!(facts.iter().all(|row| number(&row[0]) == 75.0));
    assert_eq!(asked(&server, false).await, 30);
}

#[tokio::test]
async fn a_list_larger_than_the_answer_cap_falls_back() {
    let server = MockServer::start().await;
    let names: Vec<String> = (0..30).map(|i| format!("svc-{i}")).collect();
    let mut results: Vec<Json> = names.iter().map(|n| repo(n, json!(10.0))).collect();
    results.push(json!({"name": "padding", "language": "x".repeat(200_000)}));
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(page(results, None))
        .mount(&server)
        .await;
    details(&server).await;
    let mut cfg = config(&server.uri());
    cfg.codecov.max_response_bytes = 100_000;
    let facts = fetch(&cfg, &acme(names), &[key("codeCoverage", &[])]).await;
    // Not the list's 10 %: every repository was read alone.
    assert!(facts.iter().all(|row| number(&row[0]) == 75.0));
    assert_eq!(asked(&server, false).await, 30);
    assert_eq!(asked(&server, true).await, 1);
}

/// A list whose every page says there is another, each naming one repository `svc-{page}`.
struct Endless(AtomicU32);

impl Respond for Endless {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.fetch_add(1, Ordering::SeqCst);
        let n: u32 = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        page(
            vec![repo(&format!("svc-{n}"), json!(42.0))],
            Some("https://elsewhere.example/steal-the-token"),
        )
    }
}

#[tokio::test]
async fn a_list_that_pages_forever_is_read_to_a_bound() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(Endless(AtomicU32::new(0)))
        .mount(&server)
        .await;
    details(&server).await;
    let bound = rubric::providers::repo_list::MAX_LIST_PAGES as usize;
    let names: Vec<String> = (1..=bound + 10).map(|i| format!("svc-{i}")).collect();
    let facts = fetch(
        &config(&server.uri()),
        &acme(names),
        &[key("codeCoverage", &[])],
    )
    .await;
    // Pages 1..=bound answered svc-1..svc-{bound}; the rest were asked alone.
    for (i, row) in facts.iter().enumerate() {
        let expected = if i < bound { 42.0 } else { 75.0 };
        assert_eq!(number(&row[0]), expected, "svc-{}", i + 1);
    }
    assert_eq!(asked(&server, true).await, bound);
    assert_eq!(asked(&server, false).await, 10);
}

#[tokio::test]
async fn malformed_totals_in_the_list_are_errors_of_their_entities() {
    let server = MockServer::start().await;
    let mut results: Vec<Json> = (0..28)
        .map(|i| repo(&format!("svc-{i}"), json!(60.0)))
        .collect();
    results.push(repo("svc-28", json!("lots")));
    results.push(repo("svc-29", json!(250)));
    results.push(json!({"name": "svc-30", "branch": "main"})); // no totals at all
    results.push(json!({"name": "svc-31", "totals": [1, 2]}));
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(page(results, None))
        .mount(&server)
        .await;
    details(&server).await;
    let names: Vec<String> = (0..32).map(|i| format!("svc-{i}")).collect();
    let facts = fetch(
        &config(&server.uri()),
        &acme(names),
        &[key("codeCoverage", &[])],
    )
    .await;
    assert_eq!(number(&facts[0][0]), 60.0);
    assert_eq!(
        error(&facts[28][0]),
        "Codecov answered unexpected JSON: coverage is \"lots\""
    );
    assert_eq!(
        error(&facts[29][0]),
        "Codecov answered an impossible coverage 250 (a percentage is a number from 0 to 100)"
    );
    // Without `totals` the list lacks the repository: it is read alone.
    assert_eq!(number(&facts[30][0]), 75.0);
    assert_eq!(
        error(&facts[31][0]),
        "Codecov answered unexpected JSON: the repository has no `totals` field"
    );
    assert_eq!(asked(&server, false).await, 1);
}

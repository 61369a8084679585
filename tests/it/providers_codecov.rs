//! Codecov over real HTTP on 127.0.0.1: the fixture server (the sample catalog's data) and
//! wiremock fakes for faults.

use std::time::Duration;

use crate::support::providers::*;
use rubric::demo::fixture;
use rubric::facts::FactStatus;
use rubric::providers::Providers;
use rubric::value::Value;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAYMENTS: &str = "/api/v2/github/acme/repos/payments-api/";

#[tokio::test]
async fn the_fixture_answers_the_sample_catalog() {
    let server = fixture::start().await.unwrap();
    let providers = Providers::from_config(&config(&server.url())).unwrap();
    let entities = vec![
        entity(
            "payments-api",
            Some(("github", "acme", "payments-api", None)),
        ),
        entity(
            "checkout-web",
            Some(("github", "acme", "checkout-web", None)),
        ),
        entity(
            "billing-core",
            Some(("github", "acme", "platform", Some("billing"))),
        ),
        entity(
            "identity",
            Some(("github", "acme", "platform", Some("identity"))),
        ),
        entity("ledger", Some(("github", "acme", "ledger", None))),
        entity(
            "notifications",
            Some(("github", "acme", "notifications", None)),
        ),
        entity(
            "search-indexer",
            Some(("gitlab", "acme", "search-indexer", None)),
        ),
        entity("legacy-reports", None),
    ];
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let keys = vec![key("codeCoverage", &[]), key("", &[]), key("lines", &[])];
    let facts = providers.fetch(&cat, &refs, &keys).await;
    assert_eq!(facts.len(), 8);
    assert!(facts.iter().all(|f| f.len() == 3));

    assert_eq!(number(&facts[0][0]), 97.42);
    assert_eq!(
        facts[0][0].origin.as_deref(),
        Some("github/acme/payments-api")
    );
    assert_eq!(number(&facts[0][2]), 5000.0);
    assert_eq!(number(&facts[1][0]), 82.5);
    assert_eq!(number(&facts[2][0]), 88.13);
    assert_eq!(
        facts[2][0].origin.as_deref(),
        Some("github/acme/platform, flag billing")
    );
    assert_eq!(no_data(&facts[3][0]), "flag identity has no uploads");
    assert_eq!(number(&facts[4][0]), 64.2);
    assert_eq!(
        no_data(&facts[5][0]),
        "no coverage uploads on the default branch"
    );
    assert_eq!(number(&facts[6][0]), 45.0);
    assert_eq!(
        no_data(&facts[7][0]),
        "entity has no Codecov mapping: no repository"
    );
    assert_eq!(
        no_data(&facts[7][1]),
        "entity has no Codecov mapping: no repository"
    );

    // The bare `codecov` fact is the mapping.
    let Value::Object(mapping) = &facts[2][1].value else {
        panic!("{:?}", facts[2][1])
    };
    assert_eq!(mapping.get("flag"), Some(&Value::string("billing")));
    assert_eq!(mapping.get("mapped_by"), Some(&Value::string("descriptor")));

    // codeCoverage and lines of one repository share one request; all answers are cached now.
    let before = server.requests();
    let again = providers.fetch(&cat, &refs, &keys).await;
    assert_eq!(again, facts);
    assert_eq!(server.requests(), before, "a warm fetch makes no requests");
}

#[tokio::test]
async fn a_flag_argument_wins_over_the_mapped_flag() {
    let server = fixture::start().await.unwrap();
    let providers = Providers::from_config(&config(&server.url())).unwrap();
    let e = entity(
        "checkout-web",
        Some(("github", "acme", "checkout-web", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let keys = vec![
        key("codeCoverage", &[("flag", json!("unit"))]),
        key("codeCoverage", &[("flag", json!("e2e"))]),
        key("codeCoverage", &[("flag", json!("nope"))]),
    ];
    let facts = providers.fetch(&cat, &[&e], &keys).await;
    assert_eq!(number(&facts[0][0]), 81.0);
    assert_eq!(number(&facts[0][1]), 50.0);
    assert_eq!(
        facts[0][1].origin.as_deref(),
        Some("github/acme/checkout-web, flag e2e")
    );
    assert_eq!(no_data(&facts[0][2]), "flag nope has no uploads");
}

#[tokio::test]
async fn sources_without_a_provider_are_errors() {
    let server = fixture::start().await.unwrap();
    let providers = Providers::from_config(&config(&server.url())).unwrap();
    let e = entity("x", None);
    let cat = catalog(vec![e.clone()]);
    let k = rubric::facts::FactKey::new("sonarqube", "sonarqube", "metric");
    let facts = providers.fetch(&cat, &[&e], &[k]).await;
    assert_eq!(
        error(&facts[0][0]),
        "data source sonarqube is not configured"
    );
}

async fn one_fact(server_url: &str, k: rubric::facts::FactKey) -> rubric::facts::Fact {
    let providers = Providers::from_config(&config(server_url)).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    providers.fetch(&cat, &[&e], &[k]).await.remove(0).remove(0)
}

#[tokio::test]
async fn a_500_is_retried_then_named() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"detail": "Server Error"})))
        .expect(3)
        .mount(&mock)
        .await;
    let f = one_fact(&mock.uri(), key("codeCoverage", &[])).await;
    assert_eq!(
        error(&f),
        "Codecov answered 500 Internal Server Error: Server Error (after 3 attempts)"
    );
    assert_eq!(f.origin.as_deref(), Some("github/acme/payments-api"));
}

#[tokio::test]
async fn a_500_burst_then_success_gives_the_value() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"name": "payments-api", "totals": {"coverage": 91.5, "sessions": 1}}),
        ))
        .expect(1)
        .mount(&mock)
        .await;
    let f = one_fact(&mock.uri(), key("codeCoverage", &[])).await;
    assert_eq!(number(&f), 91.5);
}

#[tokio::test]
async fn an_html_page_is_named() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html; charset=utf-8")
                .set_body_string("<!DOCTYPE html><html><body>Sign in</body></html>"),
        )
        .mount(&mock)
        .await;
    let f = one_fact(&mock.uri(), key("codeCoverage", &[])).await;
    assert_eq!(error(&f), "Codecov answered HTML, not JSON (status 200)");

    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .respond_with(
            ResponseTemplate::new(502).set_body_string("<html><h1>502 Bad Gateway</h1></html>"),
        )
        .mount(&mock)
        .await;
    let f = one_fact(&mock.uri(), key("codeCoverage", &[])).await;
    assert_eq!(
        error(&f),
        "Codecov answered 502 Bad Gateway: an HTML page, not JSON (after 3 attempts)"
    );
}

#[tokio::test]
async fn malformed_json_is_named() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"totals": {"coverage": 9"#, "application/json"),
        )
        .mount(&mock)
        .await;
    let f = one_fact(&mock.uri(), key("codeCoverage", &[])).await;
    assert!(
        error(&f).starts_with("Codecov answered malformed JSON: EOF while parsing"),
        "{f:?}"
    );
}

#[tokio::test]
async fn a_refused_token_is_401_and_the_token_is_not_shown() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .and(header("authorization", "bearer s3cr3t-token-value-9876"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})))
        .expect(1)
        .mount(&mock)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.env");
    std::fs::write(
        &secrets,
        "RUBRIC_TEST_CODECOV_TOKEN_401=s3cr3t-token-value-9876\n",
    )
    .unwrap();
    let mut cfg = config(&mock.uri());
    cfg.codecov.token_env = "RUBRIC_TEST_CODECOV_TOKEN_401".into();
    cfg.http.secrets_file = secrets;
    let providers = Providers::from_config(&cfg).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let f = providers
        .fetch(&cat, &[&e], &[key("codeCoverage", &[])])
        .await
        .remove(0)
        .remove(0);
    let msg = error(&f);
    assert_eq!(
        msg,
        "Codecov answered 401 Unauthorized: Invalid token. (token …9876 from RUBRIC_TEST_CODECOV_TOKEN_401 was refused)"
    );
    let everything = format!("{f:?} {providers:?} {}", serde_json::to_string(&f).unwrap());
    assert!(!everything.contains("s3cr3t-token-value"), "{everything}");
}

#[tokio::test]
async fn a_404_is_named_with_a_hint_and_cached_briefly() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"detail": "No Repository matches the given query."})),
        )
        .expect(1)
        .mount(&mock)
        .await;
    let providers = Providers::from_config(&config(&mock.uri())).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let keys = [key("codeCoverage", &[]), key("lines", &[])];
    let facts = providers.fetch(&cat, &[&e], &keys).await;
    let again = providers.fetch(&cat, &[&e], &keys).await;
    assert_eq!(facts, again);
    assert_eq!(
        error(&facts[0][0]),
        "Codecov answered 404 Not Found: No Repository matches the given query. (the repository is unknown to Codecov, or private and not readable with no token (RUBRIC_TEST_NO_SUCH_TOKEN is not set))"
    );
}

#[tokio::test]
async fn connection_refused_is_named() {
    // Bind a port, then free it: nothing listens there any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let f = tokio::time::timeout(
        Duration::from_secs(20),
        one_fact(&url, key("codeCoverage", &[])),
    )
    .await
    .expect("gives up within the retry budget");
    assert_eq!(
        error(&f),
        format!(
            "cannot connect to Codecov at 127.0.0.1:{port}: connection refused (after 3 attempts)"
        )
    );
}

#[tokio::test]
async fn a_configured_branch_reads_totals_of_that_branch() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{PAYMENTS}totals/")))
        .and(query_param("branch", "release"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totals": {"files": 3, "lines": 10, "hits": 7, "misses": 3, "partials": 0, "coverage": 70.0,
                       "branches": 0, "methods": 0, "messages": 0, "sessions": 1, "complexity": 0.0,
                       "complexity_total": 0.0, "complexity_ratio": 0, "diff": [1, 1, 1, 0, 0, "100", 0, 0, 0, 0, 0, 0, 0]},
            "files": [], "commit_file_url": "x"})))
        .expect(1)
        .mount(&mock)
        .await;
    let mut cfg = config(&mock.uri());
    cfg.codecov.branch = "release".into();
    let providers = Providers::from_config(&cfg).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let f = providers
        .fetch(&cat, &[&e], &[key("codeCoverage", &[])])
        .await
        .remove(0)
        .remove(0);
    assert_eq!(number(&f), 70.0);
    assert_eq!(
        f.origin.as_deref(),
        Some("github/acme/payments-api, branch release")
    );
    assert_eq!(f.status, FactStatus::Ok);
}

#[tokio::test]
async fn trend_upload_time_and_pull_requests_come_from_the_fixture() {
    let server = fixture::start().await.unwrap();
    let providers = Providers::from_config(&config(&server.url())).unwrap();
    let entities = vec![
        entity(
            "payments-api",
            Some(("github", "acme", "payments-api", None)),
        ),
        entity("ledger", Some(("github", "acme", "ledger", None))),
        entity(
            "notifications",
            Some(("github", "acme", "notifications", None)),
        ),
        entity(
            "billing-core",
            Some(("github", "acme", "platform", Some("billing"))),
        ),
        entity(
            "identity",
            Some(("github", "acme", "platform", Some("identity"))),
        ),
    ];
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let keys = vec![
        key("coverageTrend", &[("days", json!(30))]),
        key("coverageTrend", &[("days", json!(100))]),
        key("lastUploadAt", &[]),
        key("pullRequest.patchCoverage", &[("id", json!(412.0))]),
        key("pullRequest.coverageDelta", &[("id", json!(412))]),
        key("pullRequest.patchCoverage", &[("id", json!(418))]),
        key("pullRequest.coverageDelta", &[("id", json!(418))]),
        key("pullRequest.patchCoverage", &[("id", json!(999))]),
        key("misses", &[]),
    ];
    let facts = providers.fetch(&cat, &refs, &keys).await;
    let [payments, ledger, notifications, billing, identity] = &facts[..] else {
        panic!()
    };

    // 93.1 % 120 days ago to 97.42 % today: about +1.1 points a month, +3.6 over 100 days.
    let month = number(&payments[0]);
    assert!((0.5..1.7).contains(&month), "{month}");
    let hundred = number(&payments[1]);
    assert!((3.0..4.2).contains(&hundred), "{hundred}");
    let Value::Timestamp(t) = payments[2].value else {
        panic!("{:?}", payments[2])
    };
    assert!((chrono::Utc::now() - t).num_minutes().abs() < 3 * 60 + 5);
    assert_eq!(number(&payments[3]), 96.0);
    assert_eq!(
        payments[3].origin.as_deref(),
        Some("github/acme/payments-api, pull request #412")
    );
    assert_eq!(number(&payments[4]), 0.11);
    assert_eq!(
        no_data(&payments[5]),
        "pull request #418 has no processed comparison yet"
    );
    assert_eq!(
        no_data(&payments[6]),
        "pull request #418 has no base coverage"
    );
    assert!(
        error(&payments[7])
            .starts_with("Codecov answered 404 Not Found: No Pull matches the given query.")
    );
    assert_eq!(number(&payments[8]), 104.0);

    // The last complete upload with coverage, skipping a pending commit; on the default branch.
    let Value::Timestamp(t) = ledger[2].value else {
        panic!("{:?}", ledger[2])
    };
    assert_eq!((chrono::Utc::now() - t).num_hours(), 400);

    assert_eq!(
        no_data(&notifications[0]),
        "no coverage measurements in the last 30 days"
    );
    assert_eq!(
        no_data(&notifications[2]),
        "no commit with coverage on branch main"
    );
    assert_eq!(
        no_data(&notifications[8]),
        "no coverage uploads on the default branch"
    );

    // A flag entity's trend is its flag's; an unknown flag has none.
    assert!(number(&billing[0]).is_finite());
    assert_eq!(
        billing[0].origin.as_deref(),
        Some("github/acme/platform, flag billing")
    );
    assert_eq!(
        no_data(&identity[0]),
        "no coverage measurements in the last 30 days"
    );
}

#[tokio::test]
async fn each_account_uses_its_own_host_and_token() {
    let default_host = MockServer::start().await;
    let oss_host = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAYMENTS))
        .and(header("authorization", "bearer default-token-aaaa-1111"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"totals": {"coverage": 61.0, "sessions": 1}})),
        )
        .expect(1)
        .mount(&default_host)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme-oss/repos/lib/"))
        .and(header("authorization", "bearer oss-token-bbbb-2222"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"totals": {"coverage": 99.5, "sessions": 1}})),
        )
        .expect(1)
        .mount(&oss_host)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.env");
    std::fs::write(
        &secrets,
        "RUBRIC_TEST_ACC_DEFAULT=default-token-aaaa-1111\nRUBRIC_TEST_ACC_OSS=oss-token-bbbb-2222\n",
    )
    .unwrap();
    let mut cfg = config(&default_host.uri());
    cfg.codecov.token_env = "RUBRIC_TEST_ACC_DEFAULT".into();
    cfg.http.secrets_file = secrets;
    cfg.codecov.accounts = vec![rubric::config::CodecovAccount {
        name: "oss".into(),
        url: Some(oss_host.uri()),
        token_env: Some("RUBRIC_TEST_ACC_OSS".into()),
        owners: vec!["acme-oss".into()],
    }];
    let providers = Providers::from_config(&cfg).unwrap();
    let default = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let mut oss = entity("lib", Some(("github", "acme-oss", "lib", None)));
    oss.codecov.as_mut().unwrap().account = Some("oss".into());
    let mut lost = entity("lost", Some(("github", "acme-x", "lost", None)));
    lost.codecov.as_mut().unwrap().account = Some("gone".into());
    let cat = catalog(vec![default.clone(), oss.clone(), lost.clone()]);
    let facts = providers
        .fetch(&cat, &[&default, &oss, &lost], &[key("codeCoverage", &[])])
        .await;
    assert_eq!(number(&facts[0][0]), 61.0);
    assert_eq!(number(&facts[1][0]), 99.5);
    assert_eq!(
        error(&facts[2][0]),
        "Codecov account gone is not configured"
    );
}

#[tokio::test]
async fn concurrent_requests_for_one_repository_are_one_request() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/platform/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"branch": "main", "totals": {"coverage": 79.0, "lines": 26000, "sessions": 4}}))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&mock)
        .await;
    let providers = Providers::from_config(&config(&mock.uri())).unwrap();
    let entities: Vec<_> = (0..40)
        .map(|i| {
            entity(
                &format!("pkg-{i}"),
                Some(("github", "acme", "platform", None)),
            )
        })
        .collect();
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let facts = providers
        .fetch(&cat, &refs, &[key("codeCoverage", &[]), key("lines", &[])])
        .await;
    assert!(
        facts
            .iter()
            .all(|f| number(&f[0]) == 79.0 && number(&f[1]) == 26000.0)
    );
    let stats = providers.stats()[0].1;
    assert_eq!((stats.requests, stats.cache_hits), (1, 79));
}

#[tokio::test]
async fn a_pull_request_has_base_head_and_per_file_coverage() {
    let server = fixture::start().await.unwrap();
    let providers = Providers::from_config(&config(&server.url())).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let id = [("id", json!(415))];
    let keys = [
        key("pullRequest.baseCoverage", &id),
        key("pullRequest.headCoverage", &id),
        key("pullRequest.coverageDelta", &id),
        key("pullRequest.files", &id),
        key("pullRequest.files", &[("id", json!(418))]),
    ];
    let f = providers.fetch(&cat, &[&e], &keys).await.remove(0);
    assert_eq!(
        (number(&f[0]), number(&f[1]), number(&f[2])),
        (97.42, 96.9, -0.52)
    );
    let Value::List(files) = &f[3].value else {
        panic!("{:?}", f[3])
    };
    assert_eq!(
        files[0].to_json(),
        json!({"name": "src/fx.rs", "base": null, "head": 64.52, "patch": null})
    );
    assert_eq!(no_data(&f[4]), "pull request #418 has no comparison yet");
}

#[tokio::test]
async fn a_self_hosted_host_under_a_path_gets_the_api_below_it() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/codecov/api/v2/gitlab_enterprise/platform%20team/repos/search-indexer/",
        ))
        .and(header("accept", "application/json"))
        .and(header(
            "user-agent",
            concat!("rubric/", env!("CARGO_PKG_VERSION")),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"totals": {"coverage": 45.0, "sessions": 1}})),
        )
        .expect(1)
        .mount(&mock)
        .await;
    let providers = Providers::from_config(&config(&format!("{}/codecov/", mock.uri()))).unwrap();
    let e = entity(
        "search-indexer",
        Some(("gitlab_enterprise", "platform team", "search-indexer", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let f = providers
        .fetch(&cat, &[&e], &[key("codeCoverage", &[])])
        .await
        .remove(0)
        .remove(0);
    assert_eq!(number(&f), 45.0);
}

/// The contract with the CQL compiler: the keys real rules compile to are answered.
#[tokio::test]
async fn compiled_rules_get_their_facts_from_the_fixture() {
    use rubric::cql::{Program, Registry, SlotTable, Verdict};
    let server = fixture::start().await.unwrap();
    let providers = Providers::from_config(&config(&server.url())).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let rules = [
        ("codecov != null", Verdict::Pass),
        ("codecov.codeCoverage() >= 95", Verdict::Pass),
        ("codecov.codeCoverage(flag=\"nope\") >= 95", Verdict::NoData),
        (
            "codecov.lines() == 5000 AND codecov.misses() == 104",
            Verdict::Pass,
        ),
        ("codecov.coverageTrend(days=30) > 0", Verdict::Pass),
        (
            "codecov.lastUploadAt().fromNow() > duration(\"-P1D\")",
            Verdict::Pass,
        ),
        (
            "codecov.pullRequest(412).patchCoverage() >= 90",
            Verdict::Pass,
        ),
        (
            "codecov.pullRequest(415).coverageDelta() >= 0",
            Verdict::Fail,
        ),
        ("sonarqube.metric(\"coverage\") > 80", Verdict::Error),
    ];
    let mut slots = SlotTable::new();
    let programs: Vec<_> = rules
        .iter()
        .map(|(src, _)| {
            Program::compile(src, Registry::standard(), &mut slots)
                .unwrap_or_else(|d| panic!("{src}: {d:?}"))
                .program
        })
        .collect();
    let facts = providers.fetch(&cat, &[&e], slots.keys()).await.remove(0);
    for ((src, want), program) in rules.iter().zip(&programs) {
        let got = program.evaluate(&facts, chrono::Utc::now());
        assert_eq!(got.verdict, *want, "{src}: {}", got.explanation);
    }
}

#[tokio::test]
async fn the_trend_follows_every_page() {
    let mock = MockServer::start().await;
    let point = |day: u32, avg: f64| json!({"timestamp": format!("2026-10-{day:02}T00:00:00Z"), "min": avg, "max": avg, "avg": avg});
    Mock::given(method("GET"))
        .and(path(format!("{PAYMENTS}coverage/")))
        .and(query_param("interval", "1d"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 3, "next": "https://api.codecov.io/api/v2/github/acme/repos/payments-api/coverage/?page=2",
            "previous": null, "results": [point(1, 80.0), point(2, 81.0)], "total_pages": 2})))
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{PAYMENTS}coverage/")))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 3, "next": null, "previous": "x", "results": [point(3, 83.25)], "total_pages": 2})))
        .expect(1)
        .mount(&mock)
        .await;
    let f = one_fact(&mock.uri(), key("coverageTrend", &[("days", json!(30.0))])).await;
    assert_eq!(number(&f), 3.25);
}

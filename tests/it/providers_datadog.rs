//! Datadog Code Coverage over real HTTP on 127.0.0.1 (wiremock): JSON:API bodies, key headers,
//! breakdowns by service and code owner, `{"errors": [...]}` shown, the documented
//! `repository_id` sent, impossible coverage refused and oversized answers cut off.

use crate::support::providers::*;
use rubric::facts::FactKey;
use rubric::providers::Providers;
use serde_json::json;
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Match, Mock, MockServer, ResponseTemplate};

fn summary() -> serde_json::Value {
    json!({"data": {"attributes": {
        "codeowners": {"@acme/payments-team": {"evaluated_flags_count": 2, "evaluated_reports_count": 4,
                                               "patch_coverage": 75.2, "total_coverage": 88.7}},
        "evaluated_flags_count": 8, "evaluated_reports_count": 12, "patch_coverage": 70.1,
        "services": {"payments-api": {"evaluated_flags_count": 3, "evaluated_reports_count": 5,
                                       "patch_coverage": null, "total_coverage": 85.5}},
        "total_coverage": 82.4},
      "id": "ZGQxMjM0NV9tYWluXzE3MDk1NjQwMDA=", "type": "ci_app_coverage_summary"}})
}

fn dd(function: &str, args: &[(&str, serde_json::Value)]) -> FactKey {
    args.iter()
        .fold(FactKey::new("datadog", "datadog", function), |k, (n, v)| {
            k.with_arg(n, v.clone())
        })
}

fn datadog_config(url: &str, dir: &std::path::Path) -> rubric::config::Config {
    let secrets = dir.join("secrets.env");
    std::fs::write(
        &secrets,
        "RUBRIC_TEST_DD_API=api-key-0000-1111\nRUBRIC_TEST_DD_APP=app-key-2222-3333\n",
    )
    .unwrap();
    let mut cfg = config("http://127.0.0.1:9");
    cfg.datadog.enabled = true;
    cfg.datadog.url = url.to_string();
    cfg.datadog.api_key_env = "RUBRIC_TEST_DD_API".into();
    cfg.datadog.app_key_env = "RUBRIC_TEST_DD_APP".into();
    cfg.datadog.rate_limit_per_sec = 1000;
    cfg.http.secrets_file = secrets;
    cfg
}

#[tokio::test]
async fn branch_and_pull_summaries_answer_the_datadog_functions() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/code-coverage/branch/summary"))
        .and(header("dd-api-key", "api-key-0000-1111"))
        .and(header("dd-application-key", "app-key-2222-3333"))
        .and(body_json(json!({"data": {"attributes": {"branch": "main", "repository_id": "github.com/acme/payments-api",
                                                       "repository_url": "github.com/acme/payments-api"},
                                       "type": "ci_app_coverage_branch_summary_request"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(summary()))
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/code-coverage/pr/summary"))
        .and(body_json(json!({"data": {"attributes": {"pr_number": 42, "repository_id": "github.com/acme/payments-api",
                                                       "repository_url": "github.com/acme/payments-api"},
                                       "type": "ci_app_coverage_pr_summary_request"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(summary()))
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/code-coverage/branch/summary"))
        .and(body_json(json!({"data": {"attributes": {"branch": "gone", "repository_id": "github.com/acme/payments-api",
                                                       "repository_url": "github.com/acme/payments-api"},
                                       "type": "ci_app_coverage_branch_summary_request"}})))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": ["branch not found"]})))
        .mount(&mock)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::from_config(&datadog_config(&mock.uri(), dir.path())).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let unmapped = entity("legacy", None);
    let cat = catalog(vec![e.clone(), unmapped.clone()]);
    let keys = vec![
        dd("codeCoverage", &[]),
        dd("patchCoverage", &[]),
        dd("serviceCoverage", &[("service", json!("payments-api"))]),
        dd(
            "codeownerCoverage",
            &[("codeowner", json!("@acme/payments-team"))],
        ),
        dd("serviceCoverage", &[("service", json!("nope"))]),
        dd("patchCoverage", &[("pr", json!(42.0))]),
        dd("codeCoverage", &[("branch", json!("gone"))]),
    ];
    let facts = providers.fetch(&cat, &[&e, &unmapped], &keys).await;
    let f = &facts[0];
    assert_eq!(number(&f[0]), 82.4);
    assert_eq!(
        f[0].origin.as_deref(),
        Some("github.com/acme/payments-api, branch main")
    );
    assert_eq!(number(&f[1]), 70.1);
    assert_eq!(number(&f[2]), 85.5);
    assert_eq!(number(&f[3]), 88.7);
    assert_eq!(
        no_data(&f[4]),
        "Datadog has no coverage for service nope on branch main"
    );
    assert_eq!(number(&f[5]), 70.1);
    assert_eq!(
        error(&f[6]),
        "Datadog answered 404 Not Found: branch not found (Datadog has no coverage for branch gone)"
    );
    assert_eq!(
        no_data(&facts[1][0]),
        "entity has no git repository for Datadog Code Coverage"
    );
}

#[tokio::test]
async fn errors_are_shown_and_keys_are_not() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/code-coverage/branch/summary"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"errors": ["Forbidden"]})))
        .mount(&mock)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::from_config(&datadog_config(&mock.uri(), dir.path())).unwrap();
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let f = providers
        .fetch(&cat, &[&e], &[dd("codeCoverage", &[])])
        .await
        .remove(0)
        .remove(0);
    assert_eq!(
        error(&f),
        "Datadog answered 403 Forbidden: Forbidden (API key …1111 from RUBRIC_TEST_DD_API, application key …3333 from RUBRIC_TEST_DD_APP; the application key needs code_coverage_read)"
    );
    let all = format!("{f:?} {providers:?}");
    assert!(
        !all.contains("api-key-0000") && !all.contains("app-key-2222"),
        "{all}"
    );
}

#[tokio::test]
async fn datadog_off_or_without_keys_is_an_error_fact() {
    let e = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let cat = catalog(vec![e.clone()]);
    let off = Providers::from_config(&config("http://127.0.0.1:9")).unwrap();
    let f = off
        .fetch(&cat, &[&e], &[dd("codeCoverage", &[])])
        .await
        .remove(0)
        .remove(0);
    assert_eq!(
        error(&f),
        "data source datadog is not configured (set [datadog] enabled = true)"
    );

    let mut cfg = config("http://127.0.0.1:9");
    cfg.datadog.enabled = true;
    cfg.datadog.api_key_env = "RUBRIC_TEST_DD_NOT_SET".into();
    let p = Providers::from_config(&cfg).unwrap();
    let f = p
        .fetch(&cat, &[&e], &[dd("codeCoverage", &[])])
        .await
        .remove(0)
        .remove(0);
    assert_eq!(
        error(&f),
        "Datadog is enabled but RUBRIC_TEST_DD_NOT_SET is not set"
    );

    cfg.datadog.site = "datadog.example".into();
    assert!(Providers::from_config(&cfg).is_err());
}

#[tokio::test]
async fn the_fixture_serves_datadog_summaries_for_the_sample_repositories() {
    let server = rubric::demo::fixture::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::from_config(&datadog_config(&server.url(), dir.path())).unwrap();
    let payments = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let checkout = entity(
        "checkout-web",
        Some(("github", "acme", "checkout-web", None)),
    );
    let notifications = entity(
        "notifications",
        Some(("github", "acme", "notifications", None)),
    );
    let cat = catalog(vec![
        payments.clone(),
        checkout.clone(),
        notifications.clone(),
    ]);
    let keys = [
        dd("codeCoverage", &[]),
        dd("patchCoverage", &[("pr", json!(412.0))]),
        dd("serviceCoverage", &[("service", json!("unit"))]),
        dd(
            "codeownerCoverage",
            &[("codeowner", json!("@acme/payments-api-team"))],
        ),
    ];
    let f = providers
        .fetch(&cat, &[&payments, &checkout, &notifications], &keys)
        .await;
    assert_eq!(number(&f[0][0]), 97.42);
    assert_eq!(number(&f[0][1]), 96.0);
    assert_eq!(number(&f[0][3]), 97.42);
    assert_eq!(number(&f[1][0]), 82.5);
    assert_eq!(number(&f[1][2]), 81.0);
    assert_eq!(
        error(&f[2][0]),
        "Datadog answered 404 Not Found: no coverage reports (Datadog has no coverage for branch main)"
    );
}

/// A Datadog that follows the documented request schema: `repository_id` is required (400
/// without), and each repository has its own summary.
async fn seed_datadog(summaries: &[(&str, serde_json::Value)]) -> MockServer {
    let mock = MockServer::start().await;
    for (repository, attributes) in summaries {
        Mock::given(method("POST"))
            .and(path("/api/v2/code-coverage/branch/summary"))
            .and(body_partial_json(
                json!({"data": {"attributes": {"repository_id": repository}}}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
                "attributes": attributes, "id": "x", "type": "ci_app_coverage_summary"}})))
            .mount(&mock)
            .await;
    }
    Mock::given(method("POST"))
        .and(NoRepositoryId)
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"errors": ["Bad Request"]})))
        .mount(&mock)
        .await;
    mock
}

/// A request body without `data.attributes.repository_id`.
struct NoRepositoryId;

impl Match for NoRepositoryId {
    fn matches(&self, request: &wiremock::Request) -> bool {
        serde_json::from_slice::<serde_json::Value>(&request.body)
            .ok()
            .and_then(|b| b.pointer("/data/attributes/repository_id").cloned())
            .is_none()
    }
}

#[tokio::test]
async fn a_server_requiring_repository_id_answers_and_impossible_coverage_is_an_error() {
    let mock = seed_datadog(&[
        (
            "github.com/acme/payments-api",
            json!({"total_coverage": 82.4, "patch_coverage": 70.1}),
        ),
        (
            "github.com/acme/over",
            json!({"total_coverage": 150, "patch_coverage": "NaN"}),
        ),
        (
            "github.com/acme/below",
            json!({"total_coverage": -0.5, "patch_coverage": "72.5"}),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::from_config(&datadog_config(&mock.uri(), dir.path())).unwrap();
    let entities: Vec<_> = ["payments-api", "over", "below"]
        .iter()
        .map(|n| entity(n, Some(("github", "acme", n, None))))
        .collect();
    let cat = catalog(entities.clone());
    let refs: Vec<_> = entities.iter().collect();
    let keys = [dd("codeCoverage", &[]), dd("patchCoverage", &[])];
    let f = providers.fetch(&cat, &refs, &keys).await;
    assert_eq!(number(&f[0][0]), 82.4);
    assert_eq!(number(&f[0][1]), 70.1);
    let rule = "(a percentage is a number from 0 to 100)";
    assert_eq!(
        error(&f[1][0]),
        format!("Datadog answered an impossible total coverage 150 {rule}")
    );
    assert_eq!(
        error(&f[1][1]),
        format!("Datadog answered an impossible patch coverage NaN {rule}")
    );
    assert_eq!(
        error(&f[2][0]),
        format!("Datadog answered an impossible total coverage -0.5 {rule}")
    );
    assert_eq!(number(&f[2][1]), 72.5);
    let requests = mock.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 3);
    assert!(
        !requests.iter().any(|r| NoRepositoryId.matches(r)),
        "every request names the repository_id"
    );
}

#[tokio::test]
async fn an_oversized_datadog_answer_is_an_error_on_its_entity() {
    let padding = "x".repeat(4096);
    let mock = seed_datadog(&[
        (
            "github.com/acme/payments-api",
            json!({"total_coverage": 82.4}),
        ),
        (
            "github.com/acme/padded",
            json!({"total_coverage": 90.0, "padding": padding}),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = datadog_config(&mock.uri(), dir.path());
    cfg.datadog.max_response_bytes = 1024;
    let providers = Providers::from_config(&cfg).unwrap();
    let ok = entity(
        "payments-api",
        Some(("github", "acme", "payments-api", None)),
    );
    let padded = entity("padded", Some(("github", "acme", "padded", None)));
    let cat = catalog(vec![ok.clone(), padded.clone()]);
    let f = providers
        .fetch(&cat, &[&ok, &padded], &[dd("codeCoverage", &[])])
        .await;
    assert_eq!(number(&f[0][0]), 82.4);
    let why = error(&f[1][0]);
    assert!(
        why.starts_with("Datadog answered more than 1 KiB: its Content-Length is 4.")
            && why.ends_with(
                " KiB (raise [datadog] max_response_bytes if such answers are expected)"
            ),
        "{why}"
    );
}

//! `rubric sync` and `rubric providers test` as a user runs them, against the fixture server
//! on 127.0.0.1 and fakes for the failures the test command must put in words.

use rubric::demo::fixture;
use rubric::facts::FactKey;
use rubric::providers::load_facts_file;
use rubric::value::Value;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Run, rubric};

const TOKEN: &str = "0f6c2b7e-91aa-4d3e-b0c4-secret-7a1d";

#[tokio::test(flavor = "multi_thread")]
async fn sync_writes_the_facts_the_scorecards_need_and_never_the_token() {
    let server = fixture::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("facts.json");
    let url = server.url();
    let o = rubric()
        .args(["sync", "--all-facts", "--out", out.to_str().unwrap()])
        .envs(&[
            ("RUBRIC_CODECOV_URL", &url),
            ("RUBRIC_CODECOV_TOKEN_ENV", "RUBRIC_CLI_TOKEN"),
            ("RUBRIC_CLI_TOKEN", TOKEN),
            ("RUBRIC_LOG", "debug"),
        ])
        .run_async()
        .await;
    let all = o.text();
    assert!(o.status.success(), "{all}");
    assert!(
        !all.contains(TOKEN) && !all.contains("secret-7a1d"),
        "the token leaked: {all}"
    );
    assert!(all.contains("synced 9 entities"), "{all}");
    assert!(
        all.contains("Codecov: ")
            && all.contains(" requests, ")
            && all.contains("rate-limited (429)"),
        "{all}"
    );

    let facts = load_facts_file(&out).unwrap();
    let cov = FactKey::new("codecov", "codecov", "codeCoverage");
    assert_eq!(
        facts.get("payments-api", &cov).unwrap().value,
        Value::Number(97.42)
    );
    assert_eq!(
        facts.get("billing-core", &cov).unwrap().value,
        Value::Number(88.13)
    );
    assert_eq!(
        facts.get("identity", &cov).unwrap().null_reason(),
        Some("flag identity has no uploads")
    );
    assert_eq!(
        facts.get("notifications", &cov).unwrap().null_reason(),
        Some("no coverage uploads on the default branch")
    );
    let mapping = facts
        .get("legacy-reports", &FactKey::new("codecov", "codecov", ""))
        .unwrap();
    assert!(
        mapping
            .null_reason()
            .unwrap()
            .starts_with("entity has no Codecov mapping"),
        "{mapping:?}"
    );
    let upload = facts
        .get(
            "ledger",
            &FactKey::new("codecov", "codecov", "lastUploadAt"),
        )
        .unwrap();
    assert!(matches!(upload.value, Value::Timestamp(_)), "{upload:?}");
    let trend = FactKey::new("codecov", "codecov", "coverageTrend").with_arg("days", json!(30));
    assert!(matches!(
        facts.get("payments-api", &trend).unwrap().value,
        Value::Number(_)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_without_all_facts_fetches_what_the_scorecards_read() {
    let server = fixture::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("facts.json");
    let o = rubric()
        .args(["sync", "--out", out.to_str().unwrap()])
        .envs(&[("RUBRIC_CODECOV_URL", &server.url())])
        .run_async()
        .await;
    assert!(o.status.success(), "{}", o.text());
    let facts = load_facts_file(&out).unwrap();
    let keys: Vec<&String> = facts.entities["payments-api"].keys().collect();
    assert!(
        keys.iter().any(|k| k.starts_with("codecov.codeCoverage(")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .all(|k| k.starts_with("codecov") || k.starts_with("datadog") || k.contains('.')),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_test_passes_against_the_fixture_and_shows_four_characters() {
    let server = fixture::start().await.unwrap();
    let o = rubric()
        .args(["providers", "test"])
        .envs(&[
            ("RUBRIC_CODECOV_URL", &server.url()),
            ("RUBRIC_CODECOV_TOKEN_ENV", "RUBRIC_CLI_TOKEN"),
            ("RUBRIC_CLI_TOKEN", TOKEN),
        ])
        .run_async()
        .await;
    let all = o.text();
    assert!(o.status.success(), "{all}");
    assert!(all.contains("token …7a1d from RUBRIC_CLI_TOKEN"), "{all}");
    assert!(
        all.contains(
            "ok   repository readable: github/acme/payments-api: coverage 97.42 % on main"
        ),
        "{all}"
    );
    assert!(all.contains("Configuration is valid."), "{all}");
    assert!(!all.contains(TOKEN), "{all}");
}

async fn test_against(url: &str, extra: &[(&str, &str)]) -> (bool, String) {
    let mut env = vec![
        ("RUBRIC_CODECOV_URL", url),
        ("RUBRIC_CODECOV_TOKEN_ENV", "RUBRIC_CLI_TOKEN"),
        ("RUBRIC_CLI_TOKEN", TOKEN),
    ];
    env.extend_from_slice(extra);
    let o = rubric()
        .args(["providers", "test", "--repo", "github/acme/api"])
        .envs(&env)
        .run_async()
        .await;
    (o.status.success(), o.text())
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_test_puts_401_403_404_in_words() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/api/"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"detail": "Not found."})))
        .mount(&mock)
        .await;
    let (ok, out) = test_against(&mock.uri(), &[]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL token accepted: 401: the token was refused: Invalid token."),
        "{out}"
    );
    assert!(
        out.contains("FAIL repository readable: github/acme/api: 404: unknown to Codecov, or private and not readable with token …7a1d"),
        "{out}"
    );

    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"count": 0, "next": null, "previous": null, "results": [], "total_pages": 1}),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/github/acme/repos/api/"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"detail": "User not activated"})),
        )
        .mount(&mock)
        .await;
    let (ok, out) = test_against(&mock.uri(), &[]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("ok   token accepted"), "{out}");
    assert!(
        out.contains(
            "FAIL repository readable: github/acme/api: 403: the token's user is not activated"
        ),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_test_names_refused_connections_tls_and_dns() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (ok, out) = test_against(&format!("http://127.0.0.1:{port}"), &[]).await;
    assert!(!ok);
    assert!(out.contains(&format!("FAIL host reachable: cannot connect to Codecov at 127.0.0.1:{port}: connection refused: nothing listens there")), "{out}");

    // https:// to a plain-HTTP server: the TLS handshake fails.
    let mock = MockServer::start().await;
    let url = mock.uri().replace("http://", "https://");
    let (ok, out) = test_against(&url, &[]).await;
    assert!(!ok);
    assert!(
        out.contains("FAIL host reachable: TLS handshake with Codecov at 127.0.0.1:"),
        "{out}"
    );

    // A name that cannot resolve (.invalid is reserved, RFC 6761).
    let (ok, out) = test_against(
        "https://codecov.rubric-test.invalid",
        &[("RUBRIC_HTTP_CONNECT_TIMEOUT_MS", "3000")],
    )
    .await;
    assert!(!ok);
    assert!(
        out.contains("FAIL host reachable: cannot resolve Codecov host codecov.rubric-test.invalid:443 (DNS failure)"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_from_the_synced_facts_file_matches_a_live_eval() {
    let server = fixture::start().await.unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("facts.json");
    let o = rubric()
        .args(["sync", "--out", out.to_str().unwrap()])
        .envs(&[("RUBRIC_CODECOV_URL", &url)])
        .run_async()
        .await;
    assert!(o.status.success(), "{}", o.text());
    let live = rubric()
        .args(["eval", "--format", "json"])
        .envs(&[("RUBRIC_CODECOV_URL", &url)])
        .run_async()
        .await;
    assert!(live.status.success(), "{}", live.text());
    let before = server.requests();
    drop(server);
    // Offline: the server is gone, and the facts file answers every provider fact.
    let offline = rubric()
        .args(["eval", "--format", "json", "--facts", out.to_str().unwrap()])
        .envs(&[("RUBRIC_CODECOV_URL", "http://127.0.0.1:9")])
        .run_async()
        .await;
    assert!(offline.status.success(), "{}", offline.text());
    let strip = |o: &Run| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // Evaluation times differ between the runs.
        if let Some(m) = v.as_object_mut() {
            m.retain(|k, _| k == "scorecards");
        }
        v
    };
    assert_eq!(strip(&offline), strip(&live));
    assert!(before > 0);
    let report = String::from_utf8_lossy(&offline.stdout);
    assert!(!report.contains("is not in the facts file"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_test_checks_datadog_keys_and_coverage() {
    let codecov = fixture::start().await.unwrap();
    let dd = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"valid": true})))
        .mount(&dd)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/code-coverage/branch/summary"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": ["Not Found"]})))
        .mount(&dd)
        .await;
    let env = [
        ("RUBRIC_CODECOV_URL", codecov.url()),
        ("RUBRIC_DATADOG_ENABLED", "true".into()),
        ("RUBRIC_DATADOG_URL", dd.uri()),
        ("RUBRIC_DATADOG_API_KEY_ENV", "RUBRIC_CLI_DD_API".into()),
        ("RUBRIC_DATADOG_APP_KEY_ENV", "RUBRIC_CLI_DD_APP".into()),
        ("RUBRIC_CLI_DD_API", "dd-api-secret-0001".into()),
        ("RUBRIC_CLI_DD_APP", "dd-app-secret-0002".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = rubric()
        .args(["providers", "test"])
        .envs(&env)
        .run_async()
        .await;
    let all = o.text();
    assert!(o.status.success(), "{all}");
    assert!(
        all.contains(
            "API key …0001 from RUBRIC_CLI_DD_API, application key …0002 from RUBRIC_CLI_DD_APP"
        ),
        "{all}"
    );
    assert!(
        all.contains("ok   API key accepted: the API key is valid"),
        "{all}"
    );
    assert!(
        all.contains("ok   coverage readable: keys accepted; Datadog has no coverage for github.com/acme/payments-api on branch main"),
        "{all}"
    );
    assert!(
        !all.contains("dd-api-secret") && !all.contains("dd-app-secret"),
        "{all}"
    );

    let denied = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"errors": ["Forbidden"]})))
        .mount(&denied)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/code-coverage/branch/summary"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"errors": ["Forbidden"]})))
        .mount(&denied)
        .await;
    let uri = denied.uri();
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| {
            if *k == "RUBRIC_DATADOG_URL" {
                (*k, uri.as_str())
            } else {
                (*k, *v)
            }
        })
        .collect();
    let o = rubric()
        .args(["providers", "test"])
        .envs(&env)
        .run_async()
        .await;
    let all = o.text();
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("FAIL API key accepted: 403: the API key was refused: Forbidden; is [datadog] site the key's site?"), "{all}");
    assert!(all.contains("FAIL coverage readable: Datadog answered 403 Forbidden: Forbidden: the application key is refused or lacks the code_coverage_read permission"), "{all}");
}

//! `rubric serve` refuses unusable configuration with exit code 2 and a clear message.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Rubric, rubric};

fn serve() -> Rubric {
    rubric().arg("serve")
}

#[test]
fn a_store_url_of_an_unknown_kind_is_a_usage_error() {
    serve()
        .args([
            "--store",
            "mysql://user:hunter22@db/rubric",
            "--bind",
            "127.0.0.1:0",
        ])
        .assert()
        .code(2)
        .stderr(contains("expected sqlite://FILE or postgres://"))
        .stderr(contains("hunter22").not());
}

#[test]
fn a_malformed_token_list_is_a_usage_error_that_hides_the_tokens() {
    serve()
        .env("RUBRIC_API_TOKENS", "portal:reader:supersecret-1")
        .args(["--bind", "127.0.0.1:0"])
        .assert()
        .code(2)
        .stderr(contains("RUBRIC_API_TOKENS: entry 1: unknown role"))
        .stderr(contains("supersecret-1").not());
}

#[test]
fn a_bad_cron_line_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    serve()
        .env("RUBRIC_SCHEDULE_CRON", "every tuesday")
        .args(["--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite://{}", dir.path().join("h.db").display()))
        .assert()
        .code(2)
        .stderr(contains("[schedule] cron \"every tuesday\""));
}

/// `serve --fixture` keeps its demo results in a store of its own (removed when it stops), so a
/// real `rubric serve` started later in the same folder never serves them; `--store` still wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_has_its_own_store_unless_one_is_given() {
    let cwd = tempfile::tempdir().unwrap();
    let token = "demo-store-token-1";
    let (mut demo, url) = serve()
        .current_dir(cwd.path())
        .args(["--fixture", "--bind", "127.0.0.1:0"])
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .env("RUBRIC_API_TOKENS", format!("t:admin:{token}"))
        .listen()
        .await;
    let http = reqwest::Client::new();
    let answer = http
        .post(format!(
            "{url}/api/v1/scorecards/coverage-maturity/entities/payments-api/evaluate"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    stop(&mut demo).await;
    let left: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "the demo wrote {left:?} into the folder");

    let given = cwd.path().join("mine.db");
    let (mut demo, _) = serve()
        .current_dir(cwd.path())
        .args(["--fixture", "--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite://{}", given.display()))
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .listen()
        .await;
    stop(&mut demo).await;
    assert!(given.is_file(), "--store is used by the fixture");
}

/// Stops a server as Ctrl-C would (SIGTERM, so it removes what it made), within a bound.
async fn stop(server: &mut tokio::process::Child) {
    let pid = server.id().expect("the server runs");
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a real pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), server.wait())
        .await
        .expect("the server stops within 30 s")
        .unwrap();
    assert!(status.success(), "{status}");
}

/// A Codecov that refuses every token, or answers every request after `delay`.
async fn codecov(status: u16, delay: std::time::Duration) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(status)
                .set_body_json(
                    serde_json::json!({"detail": "Invalid token.", "totals": {"coverage": 90.0}}),
                )
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

/// `rubric serve` over the eval fixture's catalog and scorecards, against `codecov`.
fn serve_basic(codecov: &wiremock::MockServer, dir: &std::path::Path) -> Rubric {
    let basic = crate::support::fixture("eval").join("basic");
    serve()
        .args(["--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite://{}", dir.join("h.db").display()))
        .arg("--catalog")
        .arg(basic.join("catalog"))
        .arg("--scorecards")
        .arg(basic.join("scorecards"))
        .env("RUBRIC_CODECOV_URL", codecov.uri())
        .env("RUBRIC_HTTP_MAX_RETRIES", "0")
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .env("RUBRIC_API_TOKENS", "portal:read:readiness-token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_serve_before_it_starts() {
    let fake = codecov(401, std::time::Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let out = serve_basic(&fake, dir.path())
        .env("CODECOV_TOKEN", "refused-token-9876")
        .run_async()
        .await
        .expect_code(2);
    let stderr = out.stderr();
    assert!(
        stderr.contains("a configured token was refused, so rubric serve does not start"),
        "{stderr}"
    );
    assert!(stderr.contains("401: the token was refused"), "{stderr}");
    assert!(
        !stderr.contains("refused-token-9876"),
        "the token is never printed"
    );
    assert!(
        !stderr.contains("rubric serve: http://"),
        "it never listened: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_waits_for_the_first_sync_and_says_why() {
    let fake = codecov(200, std::time::Duration::from_secs(2)).await;
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve_basic(&fake, dir.path()).listen().await;
    let http = reqwest::Client::new();
    let first = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(first.status(), 503);
    let body: serde_json::Value = first.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("not ready: the first sync"),
        "{body}"
    );
    // Ready once the first sync has read every fact (bounded: a hang guard, not a timing claim).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still not ready after 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let asked = fake.received_requests().await.unwrap_or_default().len();
    assert!(
        asked > 1,
        "the first sync asked Codecov for the facts ({asked} requests)"
    );
}

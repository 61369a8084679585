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

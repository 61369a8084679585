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

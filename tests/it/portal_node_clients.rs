//! The Backstage portal clients teams already run, installed from npm by `.ci/run`
//! (`scripts/ci-backstage-clients.sh`), against `rubric serve` on the sample catalog: `node
//! --test tests/clients/node/backstage-clients.test.mjs` drives the real Tech Insights client
//! (`getAllChecks`, `runChecks`, `runBulkChecks`, `getFacts`, `getFactSchemas`) and RHDH's
//! `ScorecardApiClient`, comparing every answer with the native API's stored results.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::portal_tech_insights::{Sample, TOKEN};
use crate::support::root;

/// Where `scripts/ci-backstage-clients.sh` installed the clients.
fn clients() -> PathBuf {
    match std::env::var("RUBRIC_TEST_BACKSTAGE_CLIENTS") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "RUBRIC_TEST_BACKSTAGE_CLIENTS is not set, and this test never passes without the \
             real Backstage clients: run `eval \"$(scripts/ci-backstage-clients.sh)\"` first"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(rubric_client_tests),
    ignore = "the Backstage client test needs RUBRIC_TEST_BACKSTAGE_CLIENTS (run `eval \"$(scripts/ci-backstage-clients.sh)\"` first)"
)]
async fn the_real_tech_insights_and_rhdh_clients_read_the_stored_results() {
    let clients = clients();
    let sample = Sample::start().await;
    let mut node = tokio::process::Command::new("node");
    node.arg("--test")
        .arg(root().join("tests/clients/node/backstage-clients.test.mjs"))
        .env("RUBRIC_URL", &sample.url)
        .env("RUBRIC_TOKEN", TOKEN)
        .env("RUBRIC_TEST_BACKSTAGE_CLIENTS", &clients)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), node.output())
        .await
        .expect("node --test finishes within 180 s")
        .expect("node starts (installed by scripts/ci-backstage-clients.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "node --test: {}\n{text}", out.status);
    assert!(
        text.contains("# pass 2") && text.contains("# fail 0"),
        "both client tests ran and passed:\n{text}"
    );
}

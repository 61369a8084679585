//! What the integration tests share: the `rubric` binary builder ([`rubric`]), a local HTTP
//! server for fakes ([`serve`]), and the helpers of the provider ([`providers`]), server and job
//! ([`server`]) and store ([`store`]) tests.

#![allow(dead_code)] // Each test binary uses part of this module.

mod cmd;
pub mod providers;
pub mod server;
pub mod store;
pub mod uploads;

#[allow(unused_imports)] // Not every test binary runs the binary.
pub use cmd::{Rubric, Run, Running, rubric};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bound on every wait in the tests (a hang guard on a busy machine, not a timing claim).
pub const BOUND: Duration = Duration::from_secs(60);

/// The crate root, where the sample catalog and scorecards live.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/<path>`.
pub fn fixture(path: &str) -> PathBuf {
    root().join("tests/fixtures").join(path)
}

/// Serves `app` on a free port of 127.0.0.1 for the rest of the test; its base URL
/// (`http://127.0.0.1:PORT`).
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

//! Tokens never reach the logs, even at TRACE level. Alone in its binary: tracing's per-callsite
//! interest cache is process-wide, so other tests' threads could hide events from this one.

mod support;

use std::sync::Arc;

use support::server::{ADMIN, Fake, READ};
use support::store::entity;

fn fake() -> Arc<Fake> {
    let fake = Fake::new(&["api"]);
    fake.set(
        "coverage",
        entity(
            "api",
            Some(("Silver", 2)),
            66.7,
            &[("Has coverage", "pass")],
        ),
    );
    Arc::new(fake)
}

#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn tokens_never_reach_the_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (db, s) = support::server::on_sqlite(fake(), false).await;
    assert_eq!(
        s.get("/api/v1/entities/api/scorecards", Some(READ))
            .await
            .status(),
        200
    );
    assert_eq!(
        s.post(
            "/api/v1/scorecards/coverage/entities/api/evaluate",
            Some(ADMIN)
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        s.post(
            "/api/v1/scorecards/coverage/entities/api/evaluate",
            Some(READ)
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        s.get("/api/v1/scorecards", Some("wrong-token-9999"))
            .await
            .status(),
        401
    );
    drop(s);
    db.finish().await;

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(
        text.contains("authorized"),
        "the test saw the server's logs: {text}"
    );
    for secret in [READ, ADMIN, "wrong-token-9999"] {
        assert!(!text.contains(secret), "a token leaked into the logs");
    }
}

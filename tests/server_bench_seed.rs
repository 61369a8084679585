//! Seeds a store with 10,000 entities' results for `benches/serve.sh`. Ignored in normal runs;
//! the bench runs it with `RUBRIC_BENCH_STORE=sqlite://FILE -- --ignored`.

mod support;

use chrono::Utc;
use rubric::store::{NewRun, RunStatus, Store, Trigger};

/// Entities seeded.
const ENTITIES: usize = 10_000;

#[tokio::test]
#[ignore = "seeds the benchmark database; run by benches/serve.sh"]
async fn seed_ten_thousand_entities() {
    let url = std::env::var("RUBRIC_BENCH_STORE").expect("RUBRIC_BENCH_STORE=sqlite://FILE");
    let store = Store::connect(&url).await.unwrap();
    for scorecard in ["coverage-maturity", "production-readiness"] {
        let entities = (0..ENTITIES)
            .map(|i| {
                let level = match i % 4 {
                    0 => None,
                    1 => Some(("Bronze", 1)),
                    2 => Some(("Silver", 2)),
                    _ => Some(("Gold", 3)),
                };
                support::store::entity(
                    &format!("svc-{i:05}"),
                    level,
                    (i % 101) as f64,
                    &[
                        ("Has coverage", "pass"),
                        ("Coverage >= 80", "fail"),
                        ("Has an owner", "pass"),
                    ],
                )
            })
            .collect();
        let run = NewRun {
            scorecard: scorecard.into(),
            trigger: Trigger::Schedule,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            status: RunStatus::Ok,
            error: None,
            entities,
            facts: Vec::new(),
            coverage: Vec::new(),
            pulls: Vec::new(),
            coverage_written: false,
        };
        store.save_run(&run).await.unwrap();
    }
    let (_, total) = store
        .latest_for_scorecard("coverage-maturity", None, 0, 1)
        .await
        .unwrap();
    assert_eq!(total, ENTITIES as i64);
    store.close().await;
}

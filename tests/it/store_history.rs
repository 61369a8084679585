//! Store tests, each run on SQLite (`NAME::sqlite`) and PostgreSQL (`NAME::postgres`, ignored with
//! the reason unless the PostgreSQL tests are enabled: see `tests/support/store.rs`).

use crate::support::store;

use rubric::store::{CoveragePoint, Delivery, FactRecord, PointSource, Trigger};
use store::{TestDb, days_ago, entity, postgres_test, run, store_tests, t};

store_tests!(a_run_reads_back_whole_and_the_latest_run_wins);
async fn a_run_reads_back_whole_and_the_latest_run_wins(db: TestDb) {
    let s = &db.store;
    let first = run(
        "coverage",
        10,
        vec![
            entity(
                "api",
                Some(("Silver", 2)),
                80.0,
                &[("covered", "pass"), ("fresh", "pass")],
            ),
            entity(
                "web",
                None,
                20.0,
                &[("covered", "fail"), ("fresh", "no_data")],
            ),
        ],
    );
    let id1 = s.save_run(&first).await.unwrap();
    let second = run(
        "coverage",
        20,
        vec![entity(
            "api",
            Some(("Bronze", 1)),
            50.0,
            &[("covered", "fail")],
        )],
    );
    let id2 = s.save_run(&second).await.unwrap();
    assert!(id2 > id1, "{}", db.name);

    let api = s.latest_for_entity("api").await.unwrap();
    assert_eq!(api.len(), 1, "{}", db.name);
    assert_eq!(api[0].run_id, id2);
    assert_eq!(api[0].result, second.entities[0], "{}", db.name);

    // web was not in the second run: its result from the first stays the latest.
    let web = s.latest_for_entity("web").await.unwrap();
    assert_eq!(web[0].run_id, id1);
    assert_eq!(web[0].result, first.entities[1], "{}", db.name);
    assert!(s.latest_for_entity("nobody").await.unwrap().is_empty());

    let runs = s.runs(Some("coverage"), 10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [id2, id1]);
    assert_eq!(runs[0].entity_count, 1);
    assert_eq!(runs[0].trigger, Trigger::Schedule);
    db.finish().await;
}

store_tests!(scores_page_and_filter_by_level);
async fn scores_page_and_filter_by_level(db: TestDb) {
    let s = &db.store;
    let entities = (0..25)
        .map(|i| {
            let level = if i % 5 == 0 { None } else { Some(("Gold", 3)) };
            entity(&format!("svc-{i:02}"), level, i as f64, &[])
        })
        .collect();
    s.save_run(&run("coverage", 10, entities)).await.unwrap();
    let (page, total) = s
        .latest_for_scorecard("coverage", None, 10, 10)
        .await
        .unwrap();
    assert_eq!(total, 25, "{}", db.name);
    assert_eq!(
        page.first().map(|r| r.result.entity.as_str()),
        Some("svc-10")
    );
    assert_eq!(page.len(), 10);
    let (none, total) = s
        .latest_for_scorecard("coverage", Some(""), 0, 100)
        .await
        .unwrap();
    assert_eq!(total, 5, "{}", db.name);
    assert!(none.iter().all(|r| r.result.level.is_none()));
    let (_, gold) = s
        .latest_for_scorecard("coverage", Some("Gold"), 0, 1)
        .await
        .unwrap();
    assert_eq!(gold, 20);
    let (_, unknown) = s.latest_for_scorecard("nope", None, 0, 10).await.unwrap();
    assert_eq!(unknown, 0);
    db.finish().await;
}

store_tests!(history_counts_levels_per_scheduled_run);
async fn history_counts_levels_per_scheduled_run(db: TestDb) {
    let s = &db.store;
    s.save_run(&run(
        "c",
        1,
        vec![entity("a", None, 0.0, &[]), entity("b", None, 50.0, &[])],
    ))
    .await
    .unwrap();
    s.save_run(&run(
        "c",
        2,
        vec![
            entity("a", Some(("Bronze", 1)), 100.0, &[]),
            entity("b", None, 50.0, &[]),
        ],
    ))
    .await
    .unwrap();
    let mut on_demand = run("c", 3, vec![entity("b", Some(("Bronze", 1)), 100.0, &[])]);
    on_demand.trigger = Trigger::OnDemand;
    s.save_run(&on_demand).await.unwrap();

    let h = s.history("c", 10).await.unwrap();
    assert_eq!(
        h.len(),
        2,
        "{}: on-demand runs are not trend points",
        db.name
    );
    assert_eq!(h[0].levels.get("none"), Some(&2));
    assert_eq!(h[1].levels.get("Bronze"), Some(&1));
    assert_eq!(h[1].levels.get("none"), Some(&1));
    assert_eq!(h[1].entities, 2);
    assert!((h[1].mean_percentage - 75.0).abs() < 1e-9);
    assert_eq!(s.history("c", 1).await.unwrap().len(), 1);
    assert_eq!(
        s.last_finished("c", Trigger::Schedule).await.unwrap(),
        Some(t(2)),
        "{}",
        db.name
    );
    assert_eq!(
        s.last_finished("c", Trigger::OnDemand).await.unwrap(),
        Some(t(3))
    );
    assert_eq!(
        s.last_finished("other", Trigger::Schedule).await.unwrap(),
        None
    );
    let rule_less = s.latest_for_entity("a").await.unwrap();
    assert_eq!(rule_less.len(), 1, "{}", db.name);
    assert!(rule_less[0].result.rules.is_empty());
    let levels = s.latest_levels("c").await.unwrap();
    assert_eq!(levels["b"], (Some(1), 100.0));
    db.finish().await;
}

store_tests!(a_failed_write_leaves_the_previous_results_and_nothing_half_written);
async fn a_failed_write_leaves_the_previous_results_and_nothing_half_written(db: TestDb) {
    let s = &db.store;
    let good = run(
        "c",
        1,
        vec![entity("a", Some(("Gold", 3)), 100.0, &[("r", "pass")])],
    );
    s.save_run(&good).await.unwrap();
    // The same entity twice in one run violates the primary key after rows were inserted.
    let bad = run(
        "c",
        2,
        vec![
            entity("a", None, 0.0, &[("r", "fail")]),
            entity("a", None, 0.0, &[("r", "fail")]),
        ],
    );
    assert!(s.save_run(&bad).await.is_err(), "{}", db.name);
    let latest = s.latest_for_entity("a").await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].result, good.entities[0], "{}", db.name);
    assert_eq!(
        s.runs(None, 10).await.unwrap().len(),
        1,
        "{}: no half-written run",
        db.name
    );
    db.finish().await;
}

store_tests!(coverage_points_make_a_daily_series_per_repository_and_flag);
async fn coverage_points_make_a_daily_series_per_repository_and_flag(db: TestDb) {
    let s = &db.store;
    let point = |day: u32, coverage: f64, flag: &str| CoveragePoint {
        entity: "api".into(),
        repository: "acme/api".into(),
        flag: flag.into(),
        provider: "codecov".into(),
        day: days_ago(10 - i64::from(day)),
        coverage,
        last_upload_at: Some(t(day as i64)),
        source: PointSource::Run,
    };
    let mut r = run("c", 1, vec![entity("api", None, 0.0, &[])]);
    r.coverage = vec![
        point(1, 70.0, ""),
        point(2, 71.0, ""),
        point(2, 40.0, "backend"),
    ];
    r.facts = vec![FactRecord {
        entity: "api".into(),
        provider: rubric::facts::Source::Codecov,
        key: "codecov.codeCoverage()".into(),
        value: serde_json::json!(71.0),
        status: rubric::facts::FactState::Ok,
        reason: None,
        stale_secs: None,
    }];
    s.save_run(&r).await.unwrap();
    // A later run the same day replaces that day's point.
    let mut r2 = run("c", 2, vec![entity("api", None, 0.0, &[])]);
    r2.coverage = vec![point(2, 72.5, "")];
    s.save_run(&r2).await.unwrap();
    // A run whose points an earlier run of its round wrote carries them unwritten.
    let mut r3 = run("d", 3, vec![entity("api", None, 0.0, &[])]);
    r3.coverage = vec![point(2, 10.0, ""), point(3, 10.0, "")];
    r3.coverage_written = true;
    s.save_run(&r3).await.unwrap();

    let since = days_ago(40);
    let series = s.coverage_for_entity("api", since).await.unwrap();
    assert_eq!(series.len(), 2, "{}", db.name);
    let whole = series.iter().find(|c| c.flag.is_empty()).unwrap();
    assert_eq!(
        whole.points.iter().map(|p| p.coverage).collect::<Vec<_>>(),
        [70.0, 72.5]
    );
    assert_eq!(whole.latest, Some(72.5));
    assert_eq!(whole.last_upload_at, Some(t(2)));
    let later = days_ago(8);
    assert_eq!(
        s.coverage_series("acme/api", "", "codecov", later)
            .await
            .unwrap()
            .points
            .len(),
        1
    );
    db.finish().await;
}

store_tests!(a_large_run_spans_several_statements_and_reads_back_whole);
async fn a_large_run_spans_several_statements_and_reads_back_whole(db: TestDb) {
    let s = &db.store;
    // 3,000 entities × 2 rules and 3,000 facts: more rows than one multi-row statement takes.
    let entities = (0..3000)
        .map(|i| {
            entity(
                &format!("svc-{i:04}"),
                (i % 2 == 0).then_some(("Gold", 3)),
                (i % 101) as f64,
                &[("a", "pass"), ("b", "fail")],
            )
        })
        .collect::<Vec<_>>();
    let mut r = run("c", 1, entities);
    r.facts = (0..3000)
        .map(|i| FactRecord {
            entity: format!("svc-{i:04}"),
            provider: rubric::facts::Source::Codecov,
            key: "codecov.codeCoverage()".into(),
            value: serde_json::json!(i),
            status: rubric::facts::FactState::Ok,
            reason: None,
            stale_secs: None,
        })
        .collect();
    s.save_run(&r).await.unwrap();
    let (page, total) = s.latest_for_scorecard("c", None, 0, 5000).await.unwrap();
    assert_eq!(total, 3000, "{}", db.name);
    assert_eq!(page.len(), 3000);
    for (i, tag) in [0usize, 2306, 2307, 2999]
        .iter()
        .map(|i| (*i, format!("svc-{i:04}")))
    {
        let whole = s.latest_for_entity(&tag).await.unwrap();
        assert_eq!(whole[0].result, r.entities[i], "{}: {tag}", db.name);
    }
    db.finish().await;
}

store_tests!(runs_of_several_scorecards_saved_at_once_all_land);
async fn runs_of_several_scorecards_saved_at_once_all_land(db: TestDb) {
    let s = &db.store;
    let card = |tag: &str| {
        let entities = (0..2000)
            .map(|i| entity(&format!("svc-{i:04}"), None, 1.0, &[("a", "pass")]))
            .collect();
        run(tag, 1, entities)
    };
    let (a, b, c) = (card("a"), card("b"), card("c"));
    // Writers of one process take turns instead of failing on SQLite's lock.
    let (ra, rb, rc) = tokio::join!(s.save_run(&a), s.save_run(&b), s.save_run(&c));
    let mut ids = vec![ra.unwrap(), rb.unwrap(), rc.unwrap()];
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{}", db.name);
    for tag in ["a", "b", "c"] {
        let (_, total) = s.latest_for_scorecard(tag, None, 0, 1).await.unwrap();
        assert_eq!(total, 2000, "{}: {tag}", db.name);
    }
    db.finish().await;
}

store_tests!(coverage_points_of_one_run_keep_their_order_of_precedence);
async fn coverage_points_of_one_run_keep_their_order_of_precedence(db: TestDb) {
    let s = &db.store;
    let point = |entity: &str, day: i64, coverage: f64, source| CoveragePoint {
        entity: entity.into(),
        repository: "acme/api".into(),
        flag: String::new(),
        provider: "codecov".into(),
        day: days_ago(day),
        coverage,
        last_upload_at: None,
        source,
    };
    let mut r = run("c", 1, vec![entity("api", None, 0.0, &[])]);
    // Two entities of one repository: a run's reading beats a backfilled one whatever their
    // order, the last reading of a day wins, and the first backfilled point of a day stays.
    r.coverage = vec![
        point("api", 0, 70.0, PointSource::Run),
        point("api", 2, 60.0, PointSource::Backfill),
        point("web", 2, 61.0, PointSource::Backfill),
        point("web", 0, 71.0, PointSource::Run),
        point("web", 1, 50.0, PointSource::Run),
        point("api", 1, 55.0, PointSource::Backfill),
    ];
    s.save_run(&r).await.unwrap();
    let series = s
        .coverage_series("acme/api", "", "codecov", days_ago(5))
        .await
        .unwrap();
    let got: Vec<_> = series
        .points
        .iter()
        .map(|p| (p.coverage, p.source))
        .collect();
    assert_eq!(
        got,
        [
            (60.0, PointSource::Backfill),
            (50.0, PointSource::Run),
            (71.0, PointSource::Run)
        ],
        "{}",
        db.name
    );
    for tag in ["api", "web"] {
        assert_eq!(
            s.coverage_for_entity(tag, days_ago(5)).await.unwrap().len(),
            1
        );
    }
    db.finish().await;
}

store_tests!(pruning_drops_old_runs_and_keeps_recent_ones);
async fn pruning_drops_old_runs_and_keeps_recent_ones(db: TestDb) {
    let s = &db.store;
    s.save_run(&run("c", 0, vec![entity("a", None, 0.0, &[("r", "fail")])]))
        .await
        .unwrap();
    let keep = s
        .save_run(&run(
            "c",
            100,
            vec![entity("a", None, 0.0, &[("r", "pass")])],
        ))
        .await
        .unwrap();
    assert_eq!(s.prune(t(50)).await.unwrap(), 1, "{}", db.name);
    let runs = s.runs(None, 10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [keep]);
    assert_eq!(
        s.latest_for_entity("a").await.unwrap()[0].result.rules[0].outcome,
        rubric::scorecard::score::Outcome::Pass
    );
    db.finish().await;
}

store_tests!(alert_state_and_deliveries_are_recorded);
async fn alert_state_and_deliveries_are_recorded(db: TestDb) {
    let s = &db.store;
    assert_eq!(s.alert_state("below:acme/api").await.unwrap(), None);
    s.set_alert_state("below:acme/api", "below", t(1))
        .await
        .unwrap();
    s.set_alert_state("below:acme/api", "ok", t(2))
        .await
        .unwrap();
    assert_eq!(
        s.alert_state("below:acme/api").await.unwrap().as_deref(),
        Some("ok"),
        "{}",
        db.name
    );
    // Many at once: one replaced, one new; all read back at once.
    s.set_alert_states(
        &[
            ("below:acme/api".to_string(), "below"),
            ("trend:codecov:acme/web".to_string(), "steady"),
        ],
        t(3),
    )
    .await
    .unwrap();
    let states = s.alert_states().await.unwrap();
    assert_eq!(states.len(), 2, "{}", db.name);
    assert_eq!(states["below:acme/api"], "below", "{}", db.name);
    assert_eq!(states["trend:codecov:acme/web"], "steady", "{}", db.name);
    s.set_alert_states(&[], t(4)).await.unwrap();
    let id = s
        .record_alert(
            "coverage_below",
            "below:acme/api",
            "acme/api fell",
            &serde_json::json!({"x": 1}),
            t(3),
        )
        .await
        .unwrap();
    for (attempt, status, delivered) in [(1, Some(500), false), (2, Some(200), true)] {
        let d = Delivery {
            alert_id: id,
            webhook: "slack".into(),
            attempt,
            http_status: status,
            error: (!delivered).then(|| "HTTP 500".to_string()),
            delivered,
        };
        s.record_delivery(&d, t(4)).await.unwrap();
    }
    let ds = s.deliveries(id).await.unwrap();
    assert_eq!(ds.len(), 2, "{}", db.name);
    assert!(!ds[0].delivered && ds[1].delivered);
    assert_eq!(s.alerts(10).await.unwrap()[0].1, "coverage_below");
    db.finish().await;
}

/// libtest's own list of this binary: each `NAME::postgres` test is ignored (so `cargo test` prints
/// it as `ignored, <reason>` and counts it in "N ignored") exactly when this build does not run
/// the PostgreSQL tests, and none passes as `ok` without running.
#[test]
fn the_postgres_tests_are_ignored_exactly_when_not_enabled() {
    let list = |ignored: bool| -> Vec<String> {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(["--list", "--format", "terse"]);
        if ignored {
            cmd.arg("--ignored");
        }
        let out = cmd.output().expect("list the tests");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .filter(|name| name.ends_with("::postgres"))
            .map(str::to_string)
            .collect()
    };
    let all = list(false);
    assert!(
        all.len() >= 9
            && all.contains(
                &"store_history::a_run_reads_back_whole_and_the_latest_run_wins::postgres".into()
            ),
        "every store test has a PostgreSQL half: {all:?}"
    );
    let ignored = list(true);
    if cfg!(rubric_postgres_tests) {
        assert!(ignored.is_empty(), "{ignored:?}");
    } else {
        assert_eq!(ignored, all);
    }
}

#[tokio::test]
async fn a_job_lock_on_sqlite_is_always_granted() {
    // SQLite has one process per file: its lock is always granted.
    let db = store::sqlite().await;
    let a = db.store.try_lock("job").await.unwrap();
    let b = db.store.try_lock("job").await.unwrap();
    assert!(a.is_some() && b.is_some());
    db.finish().await;
}

postgres_test!(only_one_holder_of_a_job_lock);
async fn only_one_holder_of_a_job_lock(db: TestDb) {
    let s = &db.store;
    let held = s
        .try_lock("scorecard:c")
        .await
        .unwrap()
        .expect("first holder");
    assert!(
        s.try_lock("scorecard:c").await.unwrap().is_none(),
        "a second holder is refused"
    );
    let other = s
        .try_lock("scorecard:d")
        .await
        .unwrap()
        .expect("another job is free");
    held.release().await.unwrap();
    let again = s
        .try_lock("scorecard:c")
        .await
        .unwrap()
        .expect("free after release");
    // Dropping without release closes the session, which frees the lock too.
    drop(again);
    let mut got = None;
    for _ in 0..50 {
        got = s.try_lock("scorecard:c").await.unwrap();
        if got.is_some() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(
        got.is_some(),
        "the lock is free after its holder was dropped"
    );
    other.release().await.unwrap();
    drop(got);
    db.finish().await;
}

store_tests!(runs_stored_before_entity_reports_read_back_from_their_rule_rows);
/// A run written before migration 0006 has one `rule_results` row per rule and no
/// `entity_reports` rows: its results read back whole, beside a run written since.
async fn runs_stored_before_entity_reports_read_back_from_their_rule_rows(db: TestDb) {
    let s = &db.store;
    let old = run(
        "old",
        1,
        vec![
            entity(
                "api",
                Some(("Gold", 3)),
                90.0,
                &[("a", "pass"), ("b", "fail")],
            ),
            entity("web", None, 0.0, &[]),
        ],
    );
    let old_id = s.save_run(&old).await.unwrap();
    let new = run("new", 2, vec![entity("api", None, 50.0, &[("c", "pass")])]);
    s.save_run(&new).await.unwrap();
    // Rewrite the first run as the store wrote it before 0006.
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    for e in &old.entities {
        for (i, r) in e.rules.iter().enumerate() {
            sqlx::query(
                "INSERT INTO rule_results (run_id, entity, position, title, expression, level, \
                 weight, outcome, message, value_json, report_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(old_id)
            .bind(&e.entity)
            .bind(i as i64)
            .bind(&r.title)
            .bind(&r.expression)
            .bind(r.level.as_deref())
            .bind(r.weight)
            .bind(r.outcome.as_str())
            .bind(&r.message)
            .bind(r.value.to_string())
            .bind(serde_json::to_string(r).unwrap())
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    sqlx::query("DELETE FROM entity_reports WHERE run_id = $1")
        .bind(old_id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let api = s.latest_for_entity("api").await.unwrap();
    assert_eq!(api.len(), 2, "{}", db.name);
    assert_eq!(api[0].scorecard, "new");
    assert_eq!(api[0].result, new.entities[0], "{}", db.name);
    assert_eq!(api[1].result, old.entities[0], "{}", db.name);
    assert_eq!(
        s.latest_for_entity("web").await.unwrap()[0].result,
        old.entities[1]
    );

    let (mut page, _) = s.latest_for_scorecard("old", None, 0, 10).await.unwrap();
    let (newer, _) = s.latest_for_scorecard("new", None, 0, 10).await.unwrap();
    page.extend(newer);
    s.fill_rules(&mut page).await.unwrap();
    let read: Vec<_> = page.into_iter().map(|r| r.result).collect();
    assert_eq!(
        read,
        [old.entities.clone(), new.entities.clone()].concat(),
        "{}",
        db.name
    );
    db.finish().await;
}

/// A run's write leaves SQLite's write-ahead log to a checkpoint queued behind the writes
/// instead of copying it into the database file on commit (the runs of a round wait for each
/// other's writes); `Store::checkpoint` copies it. The current-thread runtime holds the queued
/// checkpoint back until the test awaits.
#[tokio::test(flavor = "current_thread")]
async fn a_run_write_leaves_the_checkpoint_to_a_later_turn() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.db");
    let s = rubric::store::Store::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let before = std::fs::metadata(&file).unwrap().len();
    let mut r = run("coverage", 10, vec![entity("api", None, 50.0, &[])]);
    // About 2,000 pages of log: past the 1,000 at which SQLite checkpoints on commit.
    r.facts = vec![FactRecord {
        entity: "api".into(),
        provider: rubric::facts::Source::Codecov,
        key: "codecov.coverageHistory(days=30)".into(),
        value: serde_json::json!("x".repeat(8 << 20)),
        status: rubric::facts::FactState::Ok,
        reason: None,
        stale_secs: None,
    }];
    s.save_run(&r).await.unwrap();
    let written = std::fs::metadata(&file).unwrap().len();
    assert!(
        written < before + (1 << 20),
        "the commit copied the log: {before} -> {written} bytes"
    );
    s.checkpoint().await.unwrap();
    let checkpointed = std::fs::metadata(&file).unwrap().len();
    assert!(
        checkpointed > before + (8 << 20),
        "the checkpoint left the run in the log: {before} -> {checkpointed} bytes"
    );
    assert_eq!(s.latest_for_entity("api").await.unwrap().len(), 1);
}

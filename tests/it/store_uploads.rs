//! Coverage uploads in the store, on SQLite and PostgreSQL: tokens, merging per commit and
//! flag, the latest complete commit of a branch, and concurrent uploads of one commit.

use chrono::{TimeDelta, Utc};
use rubric::coverage::{Format, Limits, Report, parse};
use rubric::store::uploads::{CommitQuery, NewUpload, token_digest};

use crate::support::store::{TestDb, store_tests};

fn lcov(text: &str) -> Report {
    parse(text.as_bytes(), Some(Format::Lcov), &Limits::default())
        .unwrap()
        .0
}

fn upload<'a>(
    commit: &'a str,
    branch: &'a str,
    flags: &'a [String],
    report: Report,
) -> NewUpload<'a> {
    NewUpload {
        repository: "github/acme/api",
        commit,
        branch: Some(branch),
        flags,
        format: Format::Lcov,
        uploaded_by: "ci",
        complete: true,
        report,
        at: Utc::now(),
    }
}

store_tests!(tokens_are_stored_hashed_listed_by_last_four_and_revoked);
async fn tokens_are_stored_hashed_listed_by_last_four_and_revoked(db: TestDb) {
    let s = &db.store;
    let token = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let id = s
        .create_upload_token("github/acme/api", "ci", token, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        s.upload_token(token).await.unwrap(),
        Some(("github/acme/api".to_string(), "ci".to_string()))
    );
    assert_eq!(s.upload_token("other").await.unwrap(), None);
    let listed = s.upload_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_four, "0ae7");
    assert!(!format!("{listed:?}").contains(token));
    assert_ne!(token_digest(token), token);
    assert!(s.revoke_upload_token(id, Utc::now()).await.unwrap());
    assert!(!s.revoke_upload_token(id, Utc::now()).await.unwrap());
    assert_eq!(s.upload_token(token).await.unwrap(), None);
    db.finish().await;
}

store_tests!(uploads_of_a_commit_merge_per_flag_and_in_whole);
async fn uploads_of_a_commit_merge_per_flag_and_in_whole(db: TestDb) {
    let s = &db.store;
    let unit = lcov("SF:src/a.rs\nDA:1,1\nDA:2,0\nend_of_record\n");
    let web =
        lcov("SF:src/a.rs\nDA:2,3\nDA:3,0\nend_of_record\nSF:web/b.ts\nDA:1,1\nend_of_record\n");
    let receipt = s
        .save_upload(upload("c1", "main", &["unit".into()], unit))
        .await
        .unwrap();
    assert_eq!((receipt.totals.lines, receipt.totals.hits), (2, 1));
    s.save_upload(upload("c1", "main", &["web".into()], web))
        .await
        .unwrap();
    let c = s
        .commit_coverage("github/acme/api", CommitQuery::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.commit, "c1");
    assert_eq!(c.branch.as_deref(), Some("main"));
    // a.rs: 1 hit, 2 hit (0 + 3), 3 missed; b.ts: 1 hit.
    assert_eq!((c.totals.files, c.totals.lines, c.totals.hits), (2, 4, 3));
    assert_eq!(c.flags["unit"].coverage, Some(50.0));
    assert_eq!(c.flags["web"].lines, 3);
    let files = s.commit_files("github/acme/api", "c1", "").await.unwrap();
    assert_eq!(
        files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["src/a.rs", "web/b.ts"]
    );
    assert_eq!(files[0].lines[1].hits, 3);
    db.finish().await;
}

store_tests!(the_latest_complete_commit_of_a_branch_is_read);
async fn the_latest_complete_commit_of_a_branch_is_read(db: TestDb) {
    let s = &db.store;
    let report = || lcov("SF:a\nDA:1,1\nend_of_record\n");
    let mut old = upload("old", "main", &[], report());
    old.at = Utc::now() - TimeDelta::hours(2);
    s.save_upload(old).await.unwrap();
    let mut partial = upload("new", "main", &[], report());
    partial.complete = false;
    s.save_upload(partial).await.unwrap();
    s.save_upload(upload("feature", "topic", &[], report()))
        .await
        .unwrap();
    let main = ["main".to_string(), "master".to_string()];
    let pick = |complete_only| CommitQuery {
        branches: &main,
        complete_only,
        ..CommitQuery::default()
    };
    let c = s
        .commit_coverage("github/acme/api", pick(true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.commit, "old", "the partial commit is not complete yet");
    let c = s
        .commit_coverage("github/acme/api", pick(false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.commit, "new");
    assert!(s.complete_commit("github/acme/api", "new").await.unwrap());
    let c = s
        .commit_coverage("github/acme/api", pick(true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.commit, "new");
    assert!(!s.complete_commit("github/acme/api", "nope").await.unwrap());
    assert_eq!(
        s.upload_branches("github/acme/api").await.unwrap(),
        ["main", "topic"]
    );
    assert!(
        s.commit_coverage("github/acme/other", pick(false))
            .await
            .unwrap()
            .is_none()
    );
    db.finish().await;
}

store_tests!(concurrent_uploads_of_one_commit_lose_nothing);
async fn concurrent_uploads_of_one_commit_lose_nothing(db: TestDb) {
    let s = &db.store;
    let uploads = (1..=8u32).map(|i| {
        let s = s.clone();
        async move {
            let report = lcov(&format!("SF:f{i}.rs\nDA:1,1\nDA:2,0\nend_of_record\n"));
            s.save_upload(upload("c", "main", &[], report))
                .await
                .unwrap();
        }
    });
    futures::future::join_all(uploads).await;
    let c = s
        .commit_coverage("github/acme/api", CommitQuery::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.totals.files, c.totals.lines, c.totals.hits), (8, 16, 8));
    db.finish().await;
}

store_tests!(an_upload_session_is_used_once_and_expires_after_a_day);
async fn an_upload_session_is_used_once_and_expires_after_a_day(db: TestDb) {
    let s = &db.store;
    let flags = ["unit".to_string()];
    let mut open = upload("c9", "main", &flags, Report::default());
    s.open_upload_session("fresh", &open).await.unwrap();
    open.at = Utc::now() - TimeDelta::hours(30);
    s.open_upload_session("stale", &open).await.unwrap();
    let session = s
        .take_upload_session("fresh", Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (session.repository.as_str(), session.commit.as_str()),
        ("github/acme/api", "c9")
    );
    assert_eq!(session.branch.as_deref(), Some("main"));
    assert_eq!(session.flags, ["unit"]);
    assert_eq!(
        s.take_upload_session("fresh", Utc::now()).await.unwrap(),
        None,
        "used once"
    );
    assert_eq!(
        s.take_upload_session("stale", Utc::now()).await.unwrap(),
        None,
        "expired"
    );
    s.set_commit_branch("github/acme/api", "c9", "topic")
        .await
        .unwrap();
    assert_eq!(
        s.commit_branch("github/acme/api", "c9")
            .await
            .unwrap()
            .as_deref(),
        Some("topic")
    );
    db.finish().await;
}

store_tests!(coverage_facts_planned_together_equal_each_read_alone);
/// The `coverage` provider reads a planned fetch's repositories together; every fact must be
/// the one a read of its repository and key alone gives.
async fn coverage_facts_planned_together_equal_each_read_alone(db: TestDb) {
    use rubric::catalog::Catalog;
    use rubric::facts::{FactKey, FactStatus, Source};
    use rubric::providers::Providers;
    use rubric::store::coverage_facts::UploadsProvider;
    use serde_json::json;

    let s = &db.store;
    let unit = ["unit".to_string()];
    let report = |text: &str| lcov(text);
    let mut old = upload(
        "old",
        "main",
        &unit,
        report("SF:a\nDA:1,1\nDA:2,0\nend_of_record\n"),
    );
    old.at = Utc::now() - TimeDelta::days(40);
    s.save_upload(old).await.unwrap();
    let mut new = upload(
        "new",
        "main",
        &unit,
        report("SF:a\nDA:1,1\nDA:2,1\nend_of_record\n"),
    );
    new.at = Utc::now() - TimeDelta::days(1);
    s.save_upload(new).await.unwrap();
    s.save_upload(upload(
        "topic",
        "feature",
        &[],
        report("SF:a\nDA:1,0\nend_of_record\n"),
    ))
    .await
    .unwrap();
    let mut quiet = upload("q1", "topic", &[], report("SF:a\nDA:1,1\nend_of_record\n"));
    quiet.repository = "github/acme/quiet";
    s.save_upload(quiet).await.unwrap();

    let catalog = Catalog::load(&crate::support::fixture("uploads/catalog"));
    let entities: Vec<_> = catalog.entities.iter().collect();
    let keys = [
        FactKey::new(Source::Coverage, "coverage", "total"),
        FactKey::new(Source::Coverage, "coverage", "total").with_arg("flag", json!("unit")),
        FactKey::new(Source::Coverage, "coverage", "lines"),
        FactKey::new(Source::Coverage, "coverage", "lastUploadAt"),
        FactKey::new(Source::Coverage, "coverage", "trend").with_arg("days", json!(30)),
        FactKey::new(Source::Coverage, "coverage", "history").with_arg("days", json!(30)),
        FactKey::new(Source::Coverage, "coverage", "files"),
    ];
    let branches = ["main".to_string()];
    let planned = Providers::catalog_only().with(UploadsProvider::new(&db.url, &branches));
    let together = planned.fetch(&catalog, &entities, &keys).await;
    for (e, row) in entities.iter().zip(&together) {
        for (key, fact) in keys.iter().zip(row) {
            // A provider nobody planned for reads this repository and key alone.
            let alone = Providers::catalog_only()
                .with(UploadsProvider::new(&db.url, &branches))
                .answer(&catalog, e, key)
                .await;
            assert_eq!(fact, &alone, "{} {key}", e.tag);
        }
    }
    let api = entities.iter().position(|e| e.tag == "api").unwrap();
    let quiet = entities.iter().position(|e| e.tag == "quiet").unwrap();
    assert_eq!(together[api][0].value, rubric::value::Value::from(100.0));
    assert_eq!(together[api][1].value, rubric::value::Value::from(100.0));
    assert_eq!(together[api][4].value, rubric::value::Value::from(50.0));
    assert!(matches!(together[api][3].status, FactStatus::Ok));
    match &together[quiet][0].status {
        FactStatus::NoData(why) => assert!(why.contains("uploads on: topic"), "{why}"),
        other => panic!("quiet: {other:?}"),
    }
    assert!(matches!(together[quiet][3].status, FactStatus::Ok));
    db.finish().await;
}

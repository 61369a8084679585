//! The whole loop with the real binary: `rubric tokens create`, an upload to `rubric serve`,
//! then `rubric eval --store` reading `coverage.*` from what was uploaded, so CI and the service
//! agree; entities without uploads or without a repository are `no_data` with the reason.

use serde_json::Value;

use crate::support::{rubric, uploads};

fn outcomes(report: &Value, entity: &str) -> Vec<(String, String)> {
    uploads::rules(report, entity)
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (text("outcome"), text("message"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_coverage_reaches_the_scorecards() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("rubric.db").display());
    let (token, created) = uploads::token(&store, "github/acme/api").await;
    assert_eq!(token.len(), 36, "{}", created.text());
    assert!(created.stderr().contains("shown only now"));
    let listed = rubric()
        .args(["tokens", "list", "--store", &store])
        .run_async()
        .await
        .expect_code(0);
    assert!(
        listed.stdout().contains("github/acme/api  api-ci  …"),
        "{}",
        listed.stdout()
    );
    assert!(!listed.stdout().contains(&token));

    let (_server, url) = uploads::serve(&store).await;
    let http = reqwest::Client::new();
    for (flag, report) in [
        (
            "unit",
            "SF:src/a.rs\nDA:1,1\nDA:2,1\nDA:3,0\nend_of_record\n",
        ),
        ("web", "SF:web/b.ts\nDA:1,1\nDA:2,1\nend_of_record\n"),
    ] {
        let answer = http
            .post(format!(
                "{url}/api/v1/coverage/github/acme/api/uploads?commit=f00d&branch=main&flag={flag}"
            ))
            .bearer_auth(&token)
            .body(report)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201, "{}", answer.text().await.unwrap());
    }

    let report = uploads::eval(&store).await;
    let api = outcomes(&report, "api");
    assert_eq!(api[0].0, "pass", "{api:?}");
    assert_eq!(
        api[0].1,
        "coverage.total() = 80 (github/acme/api@f00d), needs >= 60"
    );
    assert_eq!(api[1].0, "pass", "{api:?}");
    assert!(
        api[1].1.starts_with("coverage.file(\"src/a.rs\") = 66.67"),
        "{api:?}"
    );
    assert_eq!(api[2].0, "fail", "{api:?}");
    assert!(
        api[2]
            .1
            .contains("= 66.67 (github/acme/api@f00d, flag unit), needs >= 90"),
        "{api:?}"
    );
    assert_eq!(api[3].0, "pass", "{api:?}");
    let quiet = outcomes(&report, "quiet");
    assert_eq!(quiet[0].0, "no_data", "{quiet:?}");
    assert!(
        quiet[0]
            .1
            .contains("no coverage uploaded to rubric for github/acme/quiet"),
        "{quiet:?}"
    );
    let lonely = outcomes(&report, "lonely");
    assert_eq!(lonely[0].0, "no_data", "{lonely:?}");
    assert!(
        lonely[0].1.contains("entity has no repository mapping"),
        "{lonely:?}"
    );

    let revoked = rubric()
        .args(["tokens", "revoke", "1", "--store", &store])
        .run_async()
        .await
        .expect_code(0);
    assert_eq!(revoked.stdout(), "token 1 revoked\n");
    let answer = http
        .post(format!(
            "{url}/api/v1/coverage/github/acme/api/uploads?commit=beef"
        ))
        .bearer_auth(&token)
        .body("SF:a\nDA:1,1\nend_of_record\n")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "a revoked token uploads nothing");
    rubric()
        .args(["tokens", "revoke", "1", "--store", &store])
        .run_async()
        .await
        .expect_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rubric_upload_sends_reports_from_ci() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("rubric.db").display());
    let (token, _) = uploads::token(&store, "gitlab/group/sub/app").await;
    let (_server, url) = uploads::serve(&store).await;
    let report = dir.path().join("lcov.info");
    std::fs::write(&report, "SF:src/a.rs\nDA:1,1\nDA:2,0\nend_of_record\n").unwrap();
    let upload = |file: &std::path::Path, token: Option<&str>| {
        let mut cmd = rubric()
            .args([
                "upload",
                "--repo",
                "gitlab/group/sub/app",
                "--commit",
                "abc1",
            ])
            .args(["--branch", "main", "--flag", "unit", "--url", &url])
            .arg(file);
        if let Some(t) = token {
            cmd = cmd.env("RUBRIC_UPLOAD_TOKEN", t);
        }
        cmd.run_async()
    };
    let out = upload(&report, Some(&token)).await.expect_code(0);
    assert!(
        out.stdout()
            .contains("lcov.info: stored as upload 1 (lcov format, 1 of 2 lines covered, 50.0%)"),
        "{}",
        out.text()
    );
    let stored: Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/coverage/gitlab/group%2Fsub/app"))
        .bearer_auth(uploads::READ)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["owner"], "group/sub");
    assert_eq!(stored["flags"]["unit"]["lines"], 2, "{stored}");

    let bad = dir.path().join("bad.info");
    std::fs::write(&bad, "SF:a\nDA:1\nend_of_record\n").unwrap();
    let out = upload(&bad, Some(&token)).await.expect_code(1);
    assert!(
        out.stderr()
            .contains("400 Bad Request: the report was refused: lcov, line 2"),
        "{}",
        out.stderr()
    );
    let out = upload(&report, None).await.expect_code(2);
    assert!(out.stderr().contains("RUBRIC_UPLOAD_TOKEN is not set"));
    let out = upload(&report, Some("not-a-token-1")).await.expect_code(1);
    assert!(out.stderr().contains("401"), "{}", out.stderr());
    assert!(
        !out.text().contains("not-a-token-1"),
        "the token is never printed"
    );
}

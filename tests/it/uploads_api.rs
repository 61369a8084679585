//! Coverage uploads over real HTTP on 127.0.0.1: the native routes and Codacy's, with project
//! and account tokens; malformed, truncated, oversized, wrong-token and other-repository uploads
//! are refused with a clear error and store nothing.

use std::io::Write;
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};

use crate::support::server::{self, ADMIN, Fake, READ, Server, json};
use crate::support::store::TestDb;

const LCOV: &str = "SF:/home/runner/work/api/api/src/a.rs\nDA:1,1\nDA:2,0\nDA:3,2\nend_of_record\n";
const PROJECT: &str = "11111111-2222-4333-8444-555555555555";
const OTHER: &str = "99999999-2222-4333-8444-555555555555";

/// A server whose uploads are limited to 64 KiB bodies and 1 MiB reports, with a project token
/// for github/acme/api and one for github/acme/web.
async fn start() -> (TestDb, Server) {
    let mut settings = server::settings();
    settings.uploads.max_body_bytes = 64 << 10;
    settings.uploads.max_report_bytes = 1 << 20;
    let (db, s) = server::on_sqlite_with(Arc::new(Fake::new(&["api"])), false, settings).await;
    for (repo, token) in [("github/acme/api", PROJECT), ("github/acme/web", OTHER)] {
        db.store
            .create_upload_token(repo, "ci", token, Utc::now())
            .await
            .unwrap();
    }
    (db, s)
}

async fn post(
    s: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut req = s.client.post(format!("{}{path}", s.url)).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    json(req.send().await.unwrap()).await
}

async fn stored(s: &Server) -> (u16, Value) {
    json(s.get("/api/v1/coverage/github/acme/api", Some(READ)).await).await
}

const NATIVE: &str = "/api/v1/coverage/github/acme/api/uploads?commit=abc123&branch=main&flag=unit";

#[tokio::test]
async fn a_native_upload_is_merged_and_read_back() {
    let (_db, s) = start().await;
    let bearer = format!("Bearer {PROJECT}");
    let (status, body) = post(&s, NATIVE, &[("authorization", &bearer)], LCOV).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["commit"], "abc123");
    assert_eq!(body["flag"], "unit");
    assert_eq!(body["format"], "lcov");
    assert_eq!(
        body["totals"],
        json!({"files": 1, "lines": 3, "hits": 2, "misses": 1, "partials": 0, "branches": 0,
            "branches_hit": 0, "coverage": 66.67})
    );
    // A second upload of the same commit, gzipped, without a flag: merged.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"SF:src/a.rs\nDA:2,5\nend_of_record\n")
        .unwrap();
    let (status, body) = post(
        &s,
        "/api/v1/coverage/github/acme/api/uploads?commit=abc123&branch=main&format=lcov",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        gz.finish().unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = stored(&s).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["commit"], "abc123");
    assert_eq!(body["branch"], "main");
    assert_eq!(body["totals"]["hits"], 3, "{body}");
    assert_eq!(body["totals"]["coverage"], 100.0);
    assert_eq!(body["flags"]["unit"]["hits"], 2);
    let (status, files) = json(
        s.get(
            "/api/v1/coverage/github/acme/api/files?flag=unit",
            Some(READ),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        files["files"][0]["path"], "src/a.rs",
        "paths are the repository's"
    );
    assert_eq!(files["files"][0]["lines"], 3);
    let (status, _) = json(s.get("/api/v1/coverage/github/acme/api", None).await).await;
    assert_eq!(status, 401, "reads need a token");
}

#[tokio::test]
async fn bad_uploads_are_refused_and_store_nothing() {
    let (_db, s) = start().await;
    let project = format!("Bearer {PROJECT}");
    /// What is sent, the status and a part of the error message expected.
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "no token",
            vec![],
            LCOV.into(),
            401,
            "an upload token is required",
        ),
        (
            "unknown token",
            vec![("authorization", "Bearer nope-nope-nope".into())],
            LCOV.into(),
            401,
            "unknown or revoked upload token",
        ),
        (
            "read token",
            vec![("authorization", format!("Bearer {READ}"))],
            LCOV.into(),
            403,
            "may not upload",
        ),
        (
            "other repository",
            vec![("authorization", format!("Bearer {OTHER}"))],
            LCOV.into(),
            403,
            "this project token uploads to github/acme/web, not to github/acme/api",
        ),
        (
            "malformed",
            vec![("authorization", project.clone())],
            b"SF:a\nDA:1,1\nDA:oops\nend_of_record\n".to_vec(),
            400,
            "the report was refused: lcov, line 3: DA needs a line number and a hit count",
        ),
        (
            "truncated",
            vec![("authorization", project.clone())],
            b"SF:a\nDA:1,1\n".to_vec(),
            400,
            "is it truncated?",
        ),
        (
            "not a report",
            vec![("authorization", project.clone())],
            b"<html></html>".to_vec(),
            400,
            "the report's format is not recognised",
        ),
        (
            "body too large",
            vec![("authorization", project.clone())],
            vec![b'#'; 100 << 10],
            413,
            "request body too large",
        ),
        (
            "report too large",
            vec![("authorization", project.clone())],
            gzip_bomb(),
            413,
            "over its limit of 1048576 bytes",
        ),
    ];
    for (what, headers, body, want, message) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, answer) = post(&s, NATIVE, &headers, body).await;
        assert_eq!(status, want, "{what}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{what}: {error}");
        assert!(
            !error.contains(PROJECT),
            "{what}: the token is never echoed"
        );
    }
    let long_flag = format!("{NATIVE}x{}", "y".repeat(200));
    let (status, answer) = post(&s, &long_flag, &[("authorization", &project)], LCOV).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("is not a flag name"),
        "{answer}"
    );
    let (status, _) = json(
        s.client
            .post(format!("{}/api/v1/coverage/github/acme/api/uploads", s.url))
            .bearer_auth(PROJECT)
            .body(LCOV)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "the commit is required");
    let (status, body) = stored(&s).await;
    assert_eq!(status, 404, "nothing was stored: {body}");
}

/// 4 MiB of LCOV comments in a few KiB of gzip.
fn gzip_bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(b"SF:a\n").unwrap();
    gz.write_all(&vec![b'\n'; 4 << 20]).unwrap();
    gz.finish().unwrap()
}

fn codacy_body(file: &str, coverage: Value) -> String {
    json!({"total": 50, "fileReports": [{"filename": file, "total": 50, "coverage": coverage}]})
        .to_string()
}

#[tokio::test]
async fn codacy_uploads_merge_per_commit_and_complete_with_the_final_call() {
    let (_db, s) = start().await;
    let json_type = ("content-type", "application/json");
    for (language, header, file) in [
        ("python", "project_token", "app.py"),
        ("javascript", "project-token", "web/app.js"),
    ] {
        let (status, body) = post(
            &s,
            &format!("/2.0/coverage/c0ffee/{language}?partial=true"),
            &[(header, PROJECT), json_type],
            codacy_body(file, json!({"1": 1, "2": 0})),
        )
        .await;
        assert_eq!((status, &body), (200, &json!({"success": "Report sent!"})));
    }
    let (_, body) = stored(&s).await;
    assert_eq!(
        body["complete"], false,
        "partial until coverageFinal: {body}"
    );
    assert_eq!(body["totals"]["files"], 2);
    assert_eq!(body["totals"]["lines"], 4);
    assert_eq!(body["flags"]["python"]["lines"], 2);
    let (status, _) = post(
        &s,
        "/2.0/commit/c0ffee/coverageFinal",
        &[("project_token", PROJECT)],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = stored(&s).await;
    assert_eq!(body["complete"], true);

    // Account routes: an API token with the admin (or upload) role names the repository.
    let (status, body) = post(
        &s,
        "/2.0/acme/api/commit/d00d/coverage/java",
        &[("api_token", ADMIN), json_type],
        codacy_body("src/A.java", json!({"3": 2})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        &s,
        "/2.0/gh/acme/api/commit/d00d/coverageFinal",
        &[("api-token", ADMIN)],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &s,
        "/2.0/gh/acme/web/commit/d00d/coverage/java",
        &[("project_token", PROJECT), json_type],
        codacy_body("src/A.java", json!({"3": 2})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(
        &s,
        "/2.0/coverage/d00d/java",
        &[("project_token", PROJECT), json_type],
        r#"{"fileReports": [{"filename": "a", "coverage": {"x": 1}}]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("coverage maps line numbers to hit counts"),
        "{body}"
    );
    let (status, _) = post(
        &s,
        "/2.0/commit/beef/coverageFinal",
        &[("project_token", PROJECT)],
        "",
    )
    .await;
    assert_eq!(status, 404, "nothing uploaded for that commit");
}

/// A `multipart/form-data` body as `datadog-ci coverage upload` builds it (the npm `form-data`
/// package): an `event` part, the gzipped reports, a gzipped `pr_diff`.
fn datadog_form(event: &Value, reports: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "--------------------------947312258563581529862150";
    let gzip = |text: &str| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap()
    };
    let mut body = Vec::new();
    let mut part = |name: &str, file: &str, kind: &str, data: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {kind}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "event",
        "event.json",
        "application/json",
        event.to_string().as_bytes(),
    );
    part(
        "pr_diff",
        "pr_diff.json.gz",
        "application/gzip",
        &gzip(r#"{"head_sha":"a","base_sha":"b","files":{}}"#),
    );
    for (file, text) in reports {
        part(
            "code_coverage_report_file",
            &format!("{file}.gz"),
            "application/gzip",
            &gzip(text),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_datadog_intake_takes_datadog_ci_uploads() {
    let (_db, s) = start().await;
    let event = json!({
        "type": "coverage_report", "_dd.hostname": "runner-1", "format": "lcov", "basepath": "",
        "git.repository_url": "git@github.com:acme/api.git", "git.branch": "main",
        "git.commit.sha": "5eed", "report.flags": ["unit", "linux"],
    });
    let (kind, body) = datadog_form(
        &event,
        &[
            ("lcov.info", "SF:src/a.rs\nDA:1,1\nDA:2,0\nend_of_record\n"),
            ("more.info", "SF:src/b.rs\nDA:1,1\nend_of_record\n"),
        ],
    );
    let (status, answer) = post(
        &s,
        "/api/v2/cicovreprt",
        &[("dd-api-key", PROJECT), ("content-type", &kind)],
        body,
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let (_, stored) = stored(&s).await;
    assert_eq!(stored["commit"], "5eed");
    assert_eq!(stored["branch"], "main");
    assert_eq!(stored["totals"]["lines"], 3, "both reports: {stored}");
    assert_eq!(stored["flags"]["linux"]["hits"], 2, "{stored}");

    let other = json!({"format": "lcov", "git.repository_url": "https://github.com/acme/web",
        "git.commit.sha": "5eed"});
    let (kind, body) = datadog_form(&other, &[("lcov.info", "SF:a\nDA:1,1\nend_of_record\n")]);
    let (status, answer) = post(
        &s,
        "/api/v2/cicovreprt",
        &[("dd-api-key", PROJECT), ("content-type", &kind)],
        body,
    )
    .await;
    assert_eq!(status, 403, "another repository: {answer}");
    let (kind, body) = datadog_form(
        &json!({"format": "simplecov", "git.commit.sha": "1"}),
        &[("x", "{}")],
    );
    let (status, answer) = post(
        &s,
        "/api/v2/cicovreprt",
        &[("dd-api-key", PROJECT), ("content-type", &kind)],
        body,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, _) = post(
        &s,
        "/api/v2/cicovreprt",
        &[("dd-api-key", "wrong-key-123"), ("content-type", &kind)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_upload_route_is_in_the_openapi_document() {
    let (_db, s) = start().await;
    let (status, doc) = json(s.get("/api/openapi.json", None).await).await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/coverage/{service}/{owner}/{repo}/uploads",
        "/api/v1/coverage/{service}/{owner}/{repo}",
        "/api/v1/coverage/{service}/{owner}/{repo}/files",
        "/2.0/coverage/{commit}/{language}",
        "/2.0/{owner}/{project}/commit/{commit}/coverage/{language}",
        "/2.0/{provider}/{owner}/{project}/commit/{commit}/coverage/{language}",
        "/2.0/commit/{commit}/coverageFinal",
        "/upload/{service}/{slug}/upload-coverage",
        "/upload/{service}/{slug}/commits/{sha}/reports/{code}/uploads",
        "/upload/v4",
        "/upload/raw/{id}",
        "/api/v2/cicovreprt",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert_eq!(
        doc["components"]["schemas"]["Upload"]["required"],
        json!(["upload_id", "commit", "format", "totals"])
    );
}

//! The server's edges over real HTTP on 127.0.0.1: oversized heads and bodies and malformed
//! requests are answered with the API's JSON error, and connections that send no request head
//! are closed after the header read timeout, also while the server shuts down.

use crate::support::server;
use crate::support::store;

use std::sync::Arc;
use std::time::Duration;

use server::{ADMIN, Fake, READ, Server, settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The bound on every wait for the server in these tests (a hang guard, not a timing claim).
const BOUND: Duration = Duration::from_secs(20);

async fn server(header_read_timeout: Duration) -> (store::TestDb, Server) {
    let settings = rubric::server::Settings {
        header_read_timeout,
        ..settings()
    };
    server::on_sqlite_with(Arc::new(Fake::new(&["api"])), false, settings).await
}

/// Asserts the response is a JSON error with `status` and `code`, and returns its message.
async fn json_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    let (got, body) = server::json(resp).await;
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    body["error"]
        .as_str()
        .expect("an error message")
        .to_string()
}

/// Reads from `stream` until the server closes it; what it sent before, if anything.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                // A reset is a close too.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(e) => panic!("reading from the server: {e}"),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    seen
}

#[tokio::test]
async fn oversized_headers_get_a_json_431() {
    let (db, s) = server(Duration::from_secs(10)).await;
    // 100 KB of headers in four lines, under hyper's own limits, so the application answers.
    let mut req = s.client.get(format!("{}/api/v1/scorecards", s.url));
    for i in 0..4 {
        req = req.header(format!("x-filler-{i}"), "f".repeat(25_000));
    }
    let message = json_error(
        req.send().await.unwrap(),
        431,
        "request_header_fields_too_large",
    )
    .await;
    assert!(message.contains("at most 65536"), "{message}");
    // Refused before authentication, and the server keeps serving.
    assert_eq!(s.get("/api/v1/scorecards", Some(READ)).await.status(), 200);
    db.finish().await;
}

#[tokio::test]
async fn an_oversized_body_gets_a_json_413() {
    let (db, s) = server(Duration::from_secs(10)).await;
    let resp = s
        .client
        .post(format!(
            "{}/api/v1/scorecards/coverage/entities/api/evaluate",
            s.url
        ))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(format!("{{\"pad\": \"{}\"}}", "x".repeat(8192)))
        .send()
        .await
        .unwrap();
    let message = json_error(resp, 413, "payload_too_large").await;
    assert!(message.contains("too large"), "{message}");
    db.finish().await;
}

#[tokio::test]
async fn bad_queries_and_paths_get_a_json_400() {
    let (db, s) = server(Duration::from_secs(10)).await;
    let message = json_error(
        s.get("/api/v1/scorecards/coverage/scores?page=-1", Some(READ))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert!(message.contains("page"), "{message}");
    json_error(
        s.get(
            "/api/v1/scorecards/coverage/history?limit=1&bogus=1",
            Some(READ),
        )
        .await,
        400,
        "bad_request",
    )
    .await;
    // A path segment that is not UTF-8 is refused by axum's path extractor.
    let message = json_error(
        s.get("/api/v1/entities/%FF%FE/scorecards", Some(READ))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert!(!message.is_empty());
    db.finish().await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let (db, s) = server(Duration::from_secs(1)).await;
    let mut silent = TcpStream::connect(s.addr()).await.unwrap();
    let sent = read_until_closed(&mut silent).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    db.finish().await;
}

#[tokio::test]
async fn a_connection_that_stops_mid_head_is_closed() {
    let (db, s) = server(Duration::from_secs(1)).await;
    let mut slow = TcpStream::connect(s.addr()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: rubric\r\nX-Slow: a")
        .await
        .unwrap();
    let sent = read_until_closed(&mut slow).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    // Others are still served.
    assert_eq!(s.get("/healthz", None).await.status(), 200);
    db.finish().await;
}

#[tokio::test]
async fn shutdown_closes_silent_and_idle_connections() {
    // A timeout far beyond the test's bound: shutdown must not wait for it.
    let (db, s) = server(Duration::from_secs(3600)).await;
    let mut silent = TcpStream::connect(s.addr()).await.unwrap();
    // A second connection that completed a request and is kept alive. Connections are accepted
    // in order, so once it is answered the silent one is being served too.
    let mut idle = TcpStream::connect(s.addr()).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: rubric\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(BOUND, async {
        while !answer.ends_with(b"ok\n") {
            let n = idle.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before answering");
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the idle connection was answered");
    assert!(answer.starts_with(b"HTTP/1.1 200 OK"));

    tokio::time::timeout(BOUND, s.stop())
        .await
        .expect("shutdown finished");
    assert!(read_until_closed(&mut silent).await.is_empty());
    assert!(read_until_closed(&mut idle).await.is_empty());
    db.finish().await;
}

//! The Backstage HTTP source, over real HTTP on 127.0.0.1 against a fake Backstage serving
//! pages shaped like `GET /api/catalog/entities/by-query` (`items`, `totalItems`,
//! `pageInfo.nextCursor`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rubric::catalog::{BackstageSource, Catalog, CatalogSources};
use rubric::config::CodecovAccount;
use serde_json::{Value, json};

use crate::support;

/// The query pairs of one request.
type QueryPairs = Vec<(String, String)>;

#[derive(Clone, Default)]
struct Fake {
    /// Every request's query string pairs.
    requests: Arc<Mutex<Vec<QueryPairs>>>,
    /// Answer every request with this status instead of pages.
    fail_with: Option<u16>,
}

fn component(name: &str, annotations: Value, spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": format!("uid-{name}"),
            "etag": "abc",
            "annotations": annotations,
            "tags": ["http"],
        },
        "spec": spec,
        "relations": [],
    })
}

fn pages() -> Vec<Value> {
    vec![
        json!({
            "items": [
                component("http-api", json!({"github.com/project-slug": "acme/http-api"}), json!({"type": "service", "owner": "group:default/team-a", "lifecycle": "production", "dependsOn": ["component:default/file-service"]})),
                component("http-mono", json!({"codecov.io/repo": "github/acme-oss/mono", "codecov.io/flag": "ui"}), json!({"type": "website", "owner": "team-b", "system": "shop"})),
            ],
            "totalItems": 5,
            "pageInfo": {"nextCursor": "cursor-2"}
        }),
        json!({
            "items": [
                component("http-src", json!({"backstage.io/source-location": "url:https://gitlab.acme.example/grp/sub/http-src/-/tree/main/"}), json!({"type": "service", "owner": "team-a"})),
                component("clash", json!({}), json!({"type": "service", "owner": "team-a"})),
            ],
            "totalItems": 5,
            "pageInfo": {"nextCursor": "cursor-3", "prevCursor": "cursor-1"}
        }),
        json!({
            "items": [
                {"apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": {"name": "root"}, "spec": {"target": "./x.yaml"}},
                {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"namespace": "default"}, "spec": {}},
            ],
            "totalItems": 5,
            "pageInfo": {"prevCursor": "cursor-2"}
        }),
    ]
}

async fn by_query(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    fake.requests.lock().unwrap().push(q.clone());
    if let Some(code) = fake.fail_with {
        return (
            StatusCode::from_u16(code).unwrap(),
            "{\"error\":{\"name\":\"AuthenticationError\",\"message\":\"nope\"}}",
        )
            .into_response();
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret-token") {
        return (StatusCode::UNAUTHORIZED, "missing token").into_response();
    }
    let cursor = q
        .iter()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.as_str());
    let page = match cursor {
        None => 0,
        Some("cursor-2") => 1,
        Some("cursor-3") => 2,
        Some(_) => return (StatusCode::BAD_REQUEST, "bad cursor").into_response(),
    };
    axum::Json(pages()[page].clone()).into_response()
}

async fn serve(fake: Fake) -> String {
    let app = axum::Router::new()
        .route("/api/catalog/entities/by-query", get(by_query))
        .with_state(fake);
    support::serve(app).await
}

fn source(url: &str) -> BackstageSource {
    BackstageSource {
        token: Some("s3cret-token".to_string().into()),
        filters: vec!["kind=component".into(), "kind=location".into()],
        page_size: 2,
        timeout: Duration::from_secs(5),
        ..BackstageSource::new(url)
    }
}

fn files() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog/with-http")
}

fn mapping(c: &Catalog, tag: &str) -> String {
    let e = c.get(tag).unwrap_or_else(|| panic!("no entity {tag}"));
    match (&e.codecov, &e.unmapped_reason) {
        (Some(p), None) => format!("{:?} {} {:?}", p.mapped_by, p.describe(), p.account),
        (None, Some(r)) => format!("unmapped: {r}"),
        other => panic!("{tag}: inconsistent mapping {other:?}"),
    }
}

#[tokio::test]
async fn pages_through_backstage_and_combines_with_files() {
    let fake = Fake::default();
    let url = serve(fake.clone()).await;
    let sources = CatalogSources {
        dir: Some(files()),
        allowed_roots: vec![],
        backstage: Some(source(&url)),
        accounts: vec![CodecovAccount {
            name: "oss".into(),
            url: None,
            token_env: None,
            owners: vec!["acme-oss".into()],
        }],
    };
    let c = tokio::time::timeout(Duration::from_secs(20), Catalog::load_sources(&sources))
        .await
        .unwrap();

    // Three pages: the first with the filters and limit, then the cursors alone.
    let reqs = fake.requests.lock().unwrap().clone();
    let s = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        reqs,
        vec![
            s(&[
                ("limit", "2"),
                ("filter", "kind=component"),
                ("filter", "kind=location")
            ]),
            s(&[("limit", "2"), ("cursor", "cursor-2")]),
            s(&[("limit", "2"), ("cursor", "cursor-3")]),
        ]
    );

    let tags: Vec<&str> = c.entities.iter().map(|e| e.tag.as_str()).collect();
    assert_eq!(
        tags,
        ["file-service", "clash", "http-api", "http-mono", "http-src"]
    );
    assert_eq!(
        mapping(&c, "http-api"),
        "Discovery github/acme/http-api None"
    );
    assert_eq!(
        mapping(&c, "http-mono"),
        "Annotation github/acme-oss/mono, flag ui Some(\"oss\")"
    );
    assert_eq!(
        mapping(&c, "http-src"),
        "Discovery gitlab_enterprise/grp/sub/http-src None"
    );
    assert_eq!(mapping(&c, "clash"), "Discovery gitlab/acme/clash None");

    let api = c.get("component:default/http-api").unwrap();
    assert_eq!(
        api.source.file,
        Path::new(&format!(
            "{url}/api/catalog/entities/by-name/component/default/http-api"
        ))
    );
    assert_eq!(api.source.line, 0);
    assert_eq!(api.dependencies, ["file-service"]);
    assert_eq!(api.owners[0].name, "team-a");
    assert_eq!(api.lifecycle.as_deref(), Some("production"));
    assert_eq!(api.descriptor["metadata"]["uid"], "uid-http-api");
    assert_eq!(c.get("http-mono").unwrap().parents, ["shop"]);

    // The duplicate names both sources; the nameless entity is an error; nothing else is.
    let errors: Vec<String> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let dup = errors
        .iter()
        .find(|e| e.contains("duplicate tag `clash`"))
        .expect("duplicate reported");
    assert!(dup.contains("with-http/cortex.yaml:9:1"), "{dup}");
    assert!(
        dup.contains("/api/catalog/entities/by-name/component/default/clash"),
        "{dup}"
    );
    assert!(
        errors.iter().any(|e| e.contains("no `metadata.name`")),
        "{errors:#?}"
    );
    // The token never appears anywhere.
    assert!(!format!("{:?} {:?}", c.diagnostics, sources).contains("s3cret"));
}

#[tokio::test]
async fn an_unauthorized_backstage_is_one_error_and_files_still_load() {
    let fake = Fake {
        fail_with: Some(401),
        ..Fake::default()
    };
    let url = serve(fake.clone()).await;
    let sources = CatalogSources {
        dir: Some(files()),
        allowed_roots: vec![],
        backstage: Some(source(&url)),
        accounts: vec![],
    };
    let c = tokio::time::timeout(Duration::from_secs(20), Catalog::load_sources(&sources))
        .await
        .unwrap();
    assert_eq!(c.entities.len(), 2);
    assert_eq!(c.diagnostics.len(), 1, "{:#?}", c.diagnostics);
    let d = &c.diagnostics[0];
    assert!(
        d.message
            .starts_with("Backstage answered 401 Unauthorized (page 1)"),
        "{d}"
    );
    assert!(
        d.hint.as_deref().unwrap().contains("backstage_token_env"),
        "{d}"
    );
    assert_eq!(fake.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn garbage_and_refused_connections_are_errors_not_panics() {
    // Connection refused: bind a port, then drop the listener.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sources = CatalogSources {
        dir: None,
        allowed_roots: vec![],
        backstage: Some(source(&format!("http://127.0.0.1:{port}"))),
        accounts: vec![],
    };
    let c = tokio::time::timeout(Duration::from_secs(20), Catalog::load_sources(&sources))
        .await
        .unwrap();
    assert!(c.entities.is_empty());
    assert_eq!(c.diagnostics.len(), 1);
    assert!(
        c.diagnostics[0]
            .message
            .contains("Backstage request failed"),
        "{}",
        c.diagnostics[0]
    );

    // A server answering HTML.
    let app = axum::Router::new().route(
        "/api/catalog/entities/by-query",
        get(|| async { "<html>login</html>" }),
    );
    let url = support::serve(app).await;
    let sources = CatalogSources {
        dir: None,
        allowed_roots: vec![],
        backstage: Some(source(&url)),
        accounts: vec![],
    };
    let c = tokio::time::timeout(Duration::from_secs(20), Catalog::load_sources(&sources))
        .await
        .unwrap();
    assert_eq!(c.diagnostics.len(), 1);
    assert!(
        c.diagnostics[0].message.contains("not an entities page"),
        "{}",
        c.diagnostics[0]
    );
    assert!(
        c.diagnostics[0].message.contains("<html>login</html>"),
        "{}",
        c.diagnostics[0]
    );
}

#[test]
fn sources_come_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rubric.toml");
    std::fs::write(
        &path,
        "[catalog]\nbackstage_url = \"http://127.0.0.1:7007\"\nbackstage_filter = [\"kind=component\"]\n\n[[codecov.accounts]]\nname = \"oss\"\nowners = [\"acme-oss\"]\n",
    )
    .unwrap();
    let cfg = rubric::config::Config::load_with_env(Some(&path), Vec::new()).unwrap();
    let s = CatalogSources::from_config_with_env(&cfg, |name| {
        (name == "BACKSTAGE_TOKEN").then(|| "tok-1234".to_string())
    });
    let b = s.backstage.as_ref().unwrap();
    assert_eq!(b.url, "http://127.0.0.1:7007");
    assert_eq!(b.filters, ["kind=component"]);
    assert!(b.token.is_some());
    assert!(!format!("{s:?}").contains("tok-1234"));
    assert_eq!(s.accounts[0].name, "oss");
    assert_eq!(s.dir.as_deref(), Some(Path::new("entities")));
    let none = CatalogSources::from_config_with_env(
        &rubric::config::Config::load_with_env(None, Vec::new()).unwrap(),
        |_| None,
    );
    assert!(none.backstage.is_none());
}

/// A list variable is a TOML array (each item one filter, commas and all) or comma-separated.
#[tokio::test]
async fn filters_from_the_environment_are_a_toml_array_or_commas() {
    for (raw, filters) in [
        (
            r#"["kind=component,spec.type=service", "kind=location"]"#,
            ["kind=component,spec.type=service", "kind=location"],
        ),
        (
            "kind=component, kind=location",
            ["kind=component", "kind=location"],
        ),
    ] {
        let fake = Fake::default();
        let url = serve(fake.clone()).await;
        support::rubric()
            .args(["--strict", "catalog", "--format", "json", "--catalog"])
            .arg(files())
            .envs(&[
                ("RUBRIC_CATALOG_BACKSTAGE_URL", &url),
                ("RUBRIC_CATALOG_BACKSTAGE_FILTER", raw),
                ("RUBRIC_CATALOG_BACKSTAGE_PAGE_SIZE", "2"),
                ("BACKSTAGE_TOKEN", "s3cret-token"),
            ])
            .run_async()
            .await
            .json();
        let first = fake.requests.lock().unwrap()[0].clone();
        let sent: Vec<&str> = first
            .iter()
            .filter(|(k, _)| k == "filter")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(sent, filters, "{raw}");
    }
}

#[tokio::test]
async fn a_cached_resync_refetches_backstage_and_reuses_unchanged_files() {
    let fake = Fake::default();
    let url = serve(fake.clone()).await;
    let sources = CatalogSources {
        dir: Some(files()),
        allowed_roots: vec![],
        backstage: Some(source(&url)),
        accounts: vec![],
    };
    let mut cache = rubric::catalog::CatalogCache::new(vec![]);
    let first = tokio::time::timeout(Duration::from_secs(20), cache.load_sources(&sources))
        .await
        .unwrap();
    assert_eq!(cache.stats().parsed, 1);
    let again = tokio::time::timeout(Duration::from_secs(20), cache.load_sources(&sources))
        .await
        .unwrap();
    assert_eq!(
        cache.stats(),
        rubric::catalog::ReloadStats {
            files: 1,
            parsed: 0,
            reused: 1
        }
    );
    assert_eq!(first.entities, again.entities);
    assert_eq!(fake.requests.lock().unwrap().len(), 6);
}

#[tokio::test]
async fn an_endless_answer_is_cut_off_and_is_one_error() {
    // A page that never ends: read up to the cap, then refused.
    let endless = || async {
        let chunk = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
        let body = futures::stream::repeat(Ok::<_, std::convert::Infallible>(chunk));
        (
            [("content-type", "application/json")],
            axum::body::Body::from_stream(body),
        )
    };
    let app = axum::Router::new().route("/api/catalog/entities/by-query", get(endless));
    let url = support::serve(app).await;
    let sources = CatalogSources {
        dir: Some(files()),
        allowed_roots: vec![],
        // The cap, not the request timeout, must be what stops the read.
        backstage: Some(BackstageSource {
            timeout: Duration::from_secs(120),
            ..source(&url)
        }),
        accounts: vec![],
    };
    let c = tokio::time::timeout(Duration::from_secs(150), Catalog::load_sources(&sources))
        .await
        .unwrap();
    assert!(!c.entities.is_empty(), "the files still load");
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        errors[0].message,
        "Backstage's answer is larger than 32 MiB (page 1); stopped reading it"
    );
}

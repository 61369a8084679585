//! The HTTP API over real HTTP on 127.0.0.1: auth, errors, results, on-demand evaluation.

use crate::support::server;
use crate::support::store;

use std::sync::Arc;

use rubric::store::{CoveragePoint, PointSource, Trigger};
use server::{ADMIN, Fake, READ, alerts_config, json, runner, start};
use store::entity;

fn fake() -> Arc<Fake> {
    let fake = Fake::new(&["api", "web", "idle"]);
    fake.set(
        "coverage",
        entity(
            "api",
            Some(("Silver", 2)),
            66.7,
            &[("Has coverage", "pass"), ("Coverage >= 80", "fail")],
        ),
    );
    fake.set(
        "coverage",
        entity("web", None, 0.0, &[("Has coverage", "no_data")]),
    );
    Arc::new(fake)
}

#[tokio::test]
async fn auth_needs_a_token_with_the_right_role() {
    let (db, s) = server::on_sqlite(fake(), false).await;

    let resp = s.get("/api/v1/scorecards", None).await;
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"rubric\""
    );
    let (status, body) = json(resp).await;
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().unwrap().contains("bearer token"),
        "{body}"
    );
    assert_eq!(
        json(s.get("/api/v1/scorecards", Some("not-a-token")).await)
            .await
            .0,
        401
    );
    assert_eq!(s.get("/api/v1/scorecards", Some(READ)).await.status(), 200);
    assert_eq!(s.get("/api/v1/scorecards", Some(ADMIN)).await.status(), 200);
    assert_eq!(s.get("/metrics", None).await.status(), 401);
    assert_eq!(s.get("/entities/api", None).await.status(), 401);

    let (status, body) = json(
        s.post(
            "/api/v1/scorecards/coverage/entities/api/evaluate",
            Some(READ),
        )
        .await,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(
        s.post(
            "/api/v1/scorecards/coverage/entities/api/evaluate",
            Some(ADMIN)
        )
        .await
        .status(),
        200
    );

    // Probes and the API document are open.
    assert_eq!(s.get("/healthz", None).await.status(), 200);
    assert_eq!(s.get("/readyz", None).await.status(), 200);
    assert_eq!(s.get("/api/openapi.json", None).await.status(), 200);
    db.finish().await;
}

#[tokio::test]
async fn anonymous_read_opens_reads_but_not_writes() {
    let (db, s) = server::on_sqlite(fake(), true).await;
    assert_eq!(s.get("/api/v1/scorecards", None).await.status(), 200);
    assert_eq!(
        s.post("/api/v1/scorecards/coverage/entities/api/evaluate", None)
            .await
            .status(),
        401
    );
    db.finish().await;
}

#[tokio::test]
async fn errors_are_json_with_the_right_status() {
    let (db, s) = server::on_sqlite(fake(), false).await;
    let (status, body) = json(
        s.get("/api/v1/entities/nobody/scorecards", Some(READ))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown entity \"nobody\"");
    assert_eq!(body["code"], "not_found");
    assert_eq!(
        json(s.get("/api/v1/entities/nobody/coverage", Some(READ)).await)
            .await
            .0,
        404
    );
    assert_eq!(
        json(s.get("/api/v1/scorecards/nope/scores", Some(READ)).await)
            .await
            .0,
        404
    );
    assert_eq!(
        json(s.get("/api/v1/scorecards/nope/history", Some(READ)).await)
            .await
            .0,
        404
    );
    assert_eq!(
        json(
            s.post("/api/v1/scorecards/nope/entities/api/evaluate", Some(ADMIN))
                .await
        )
        .await
        .0,
        404
    );
    assert_eq!(
        json(
            s.post(
                "/api/v1/scorecards/coverage/entities/nobody/evaluate",
                Some(ADMIN)
            )
            .await
        )
        .await
        .0,
        404
    );
    assert_eq!(json(s.get("/no/such/route", Some(READ)).await).await.0, 404);
    assert_eq!(
        json(s.get("/badge/coverage/api.png", Some(READ)).await)
            .await
            .0,
        404
    );

    let (status, body) = json(
        s.get("/api/v1/scorecards/coverage/scores?page=0", Some(READ))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = json(
        s.get("/api/v1/scorecards/coverage/scores?page=x", Some(READ))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("page"), "{body}");
    assert_eq!(
        json(
            s.get("/api/v1/scorecards/coverage/history?limit=0", Some(READ))
                .await
        )
        .await
        .0,
        400
    );

    let (status, body) = json(
        s.get(
            "/api/v1/scorecards/coverage/entities/api/evaluate",
            Some(ADMIN),
        )
        .await,
    )
    .await;
    assert_eq!(status, 405, "{body}");
    let big = s
        .client
        .post(format!(
            "{}/api/v1/scorecards/coverage/entities/api/evaluate",
            s.url
        ))
        .bearer_auth(ADMIN)
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    let (status, body) = json(big).await;
    assert_eq!(status, 413, "{body}");
    db.finish().await;
}

#[tokio::test]
async fn results_coverage_scores_and_history_after_runs() {
    let db = store::sqlite().await;
    let fake = fake();
    let day = |d: i64| store::days_ago(2 - d);
    *fake.coverage.lock().unwrap() = [(1, 70.0), (2, 68.5)]
        .iter()
        .map(|&(d, c)| CoveragePoint {
            entity: "api".into(),
            repository: "acme/api".into(),
            flag: String::new(),
            provider: "codecov".into(),
            day: day(d),
            coverage: c,
            last_upload_at: None,
            source: PointSource::Run,
        })
        .collect();
    let r = runner(db.store.clone(), fake.clone(), alerts_config(), vec![]);
    r.run("coverage", None, Trigger::Schedule).await.unwrap();
    let s = start(r.clone(), false).await;

    let (status, body) = json(s.get("/api/v1/entities/api/scorecards", Some(READ)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entity"], "api");
    let sc = &body["scorecards"][0];
    assert_eq!(sc["scorecard"], "coverage");
    assert_eq!(sc["name"], "Coverage maturity");
    assert_eq!(
        sc["level"],
        serde_json::json!({"name": "Silver", "rank": 2})
    );
    assert_eq!(sc["percentage"], 66.7);
    assert_eq!(sc["rules"][1]["outcome"], "fail");
    assert_eq!(sc["rules"][1]["message"], "Coverage >= 80: fail");
    assert!(sc["stale_secs"].as_i64().unwrap() >= 0);
    assert!(sc["evaluated_at"].is_string() && sc["run_id"].is_i64());
    // A Backstage ref finds the same entity; a known entity without results is not a 404.
    let (status, by_ref) = json(
        s.get(
            "/api/v1/entities/component:default%2Fapi/scorecards",
            Some(READ),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &by_ref["entity"]),
        (200, &serde_json::json!("api"))
    );
    // The same ref with its slash sent raw, as Backstage clients send it.
    for path in [
        "/api/v1/entities/component:default/api/scorecards",
        "/api/v1/entities/component:default/api/coverage",
        "/entities/component:default/api",
        "/badge/coverage/component:default/api.svg",
    ] {
        assert_eq!(s.get(path, Some(READ)).await.status(), 200, "{path}");
    }
    let (status, idle) = json(s.get("/api/v1/entities/idle/scorecards", Some(READ)).await).await;
    assert_eq!(
        (status, idle["scorecards"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    let (_, cov) = json(s.get("/api/v1/entities/api/coverage", Some(READ)).await).await;
    let c = &cov["coverage"][0];
    assert_eq!(
        (c["repository"].as_str(), c["coverage"].as_f64()),
        (Some("acme/api"), Some(68.5))
    );
    assert_eq!(c["trend"].as_array().unwrap().len(), 2);
    assert_eq!(c["change_30d"], -1.5);

    let (_, scores) = json(
        s.get(
            "/api/v1/scorecards/coverage/scores?page_size=1&page=2",
            Some(READ),
        )
        .await,
    )
    .await;
    assert_eq!(scores["total"], 2);
    assert_eq!(scores["total_pages"], 2);
    assert_eq!(scores["items"][0]["entity"], "web");
    let (_, silver) = json(
        s.get(
            "/api/v1/scorecards/coverage/scores?level=Silver",
            Some(READ),
        )
        .await,
    )
    .await;
    assert_eq!(silver["items"].as_array().unwrap().len(), 1);
    let (_, none) = json(
        s.get("/api/v1/scorecards/coverage/scores?level=none", Some(READ))
            .await,
    )
    .await;
    assert_eq!(none["items"][0]["entity"], "web");

    fake.set(
        "coverage",
        entity(
            "web",
            Some(("Bronze", 1)),
            50.0,
            &[("Has coverage", "pass")],
        ),
    );
    r.run("coverage", None, Trigger::Schedule).await.unwrap();
    let (_, hist) = json(
        s.get("/api/v1/scorecards/coverage/history", Some(READ))
            .await,
    )
    .await;
    let runs = hist["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[0]["levels"],
        serde_json::json!({"none": 1, "Silver": 1})
    );
    assert_eq!(
        runs[1]["levels"],
        serde_json::json!({"Bronze": 1, "Silver": 1})
    );

    let (_, list) = json(s.get("/api/v1/scorecards", Some(READ)).await).await;
    assert_eq!(list["scorecards"][0]["tag"], "coverage");
    assert_eq!(
        list["scorecards"][0]["levels"][2],
        serde_json::json!({"name": "Gold", "rank": 3})
    );
    assert_eq!(list["scorecards"][0]["last_run"]["entity_count"], 2);
    db.finish().await;
}

#[tokio::test]
async fn on_demand_evaluation_updates_the_result_and_refuses_a_second_run() {
    let db = store::sqlite().await;
    let fake = fake();
    let r = runner(db.store.clone(), fake.clone(), alerts_config(), vec![]);
    r.run("coverage", None, Trigger::Schedule).await.unwrap();
    let s = start(r.clone(), false).await;
    let (_, before) = json(s.get("/api/v1/entities/api/scorecards", Some(READ)).await).await;
    assert_eq!(before["scorecards"][0]["level"]["name"], "Silver");

    fake.set(
        "coverage",
        entity(
            "api",
            Some(("Gold", 3)),
            100.0,
            &[("Coverage >= 80", "pass")],
        ),
    );
    let (status, fresh) = json(
        s.post(
            "/api/v1/scorecards/coverage/entities/api/evaluate",
            Some(ADMIN),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(fresh["level"]["name"], "Gold");
    let (_, after) = json(s.get("/api/v1/entities/api/scorecards", Some(READ)).await).await;
    assert_eq!(
        after["scorecards"][0]["level"]["name"], "Gold",
        "the cache follows new runs"
    );
    // The on-demand run evaluated only api: web keeps its result.
    let (_, web) = json(s.get("/api/v1/entities/web/scorecards", Some(READ)).await).await;
    assert_eq!(web["scorecards"][0]["percentage"], 0.0);

    // Hold a run open: a second one is refused with 409, then the first completes.
    let gate = Arc::new(tokio::sync::Notify::new());
    *fake.gate.lock().unwrap() = Some(gate.clone());
    let started = fake.started.notified();
    tokio::pin!(started);
    started.as_mut().enable();
    let first = tokio::spawn({
        let client = s.client.clone();
        let url = format!("{}/api/v1/scorecards/coverage/entities/api/evaluate", s.url);
        async move {
            client
                .post(url)
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    tokio::time::timeout(std::time::Duration::from_secs(10), started)
        .await
        .expect("first run started");
    let (status, body) = json(
        s.post(
            "/api/v1/scorecards/coverage/entities/web/evaluate",
            Some(ADMIN),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already being evaluated")
    );
    gate.notify_one();
    assert_eq!(
        tokio::time::timeout(std::time::Duration::from_secs(10), first)
            .await
            .unwrap()
            .unwrap(),
        200
    );
    db.finish().await;
}

#[tokio::test]
async fn badge_page_metrics_and_openapi() {
    let db = store::sqlite().await;
    let fake = fake();
    let mut hostile = entity("web", None, 0.0, &[("Has coverage", "no_data")]);
    hostile.rules[0].message = "<script>alert(1)</script> no uploads".into();
    hostile.next_steps =
        serde_json::json!([{"title": "Has coverage", "message": "upload a report"}]);
    fake.set("coverage", hostile);
    let r = runner(db.store.clone(), fake, alerts_config(), vec![]);
    r.run("coverage", None, Trigger::Schedule).await.unwrap();
    let s = start(r, false).await;

    let resp = s.get("/badge/coverage/api.svg", Some(READ)).await;
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    let svg = resp.text().await.unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("Silver") && svg.contains("Coverage maturity"),
        "{svg}"
    );
    let none = s
        .get("/badge/coverage/web.svg", Some(READ))
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("no level"));
    assert_eq!(
        s.get("/badge/coverage/nobody.svg", Some(READ))
            .await
            .status(),
        404
    );

    let resp = s.get("/entities/web", Some(READ)).await;
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors *") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        resp.headers().get("x-frame-options").is_none(),
        "embeddable in a portal iframe"
    );
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Coverage maturity")
            && html.contains("No level")
            && html.contains("? no data")
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; no uploads"),
        "messages are escaped"
    );
    assert!(!html.contains("<script"), "no scripts at all");
    assert!(html.contains("Has coverage: upload a report"), "next steps");
    assert_eq!(s.get("/entities/nobody", Some(READ)).await.status(), 404);

    let metrics = s.get("/metrics", Some(READ)).await.text().await.unwrap();
    assert!(metrics.contains("rubric_runs_total"), "{metrics}");
    assert!(
        metrics.contains("rubric_http_requests_total{route=\"/entities/{tag}\",status=\"200\"}"),
        "{metrics}"
    );

    let (_, doc) = json(s.get("/api/openapi.json", None).await).await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/entities/{tag}/scorecards",
        "/api/v1/entities/{tag}/coverage",
        "/api/v1/scorecards",
        "/api/v1/scorecards/{tag}/scores",
        "/api/v1/scorecards/{tag}/history",
        "/api/v1/scorecards/{tag}/entities/{entity}/evaluate",
        "/badge/{scorecard}/{entity}.svg",
        "/entities/{tag}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "openapi.json lacks {path}"
        );
    }
    db.finish().await;
}

/// Badges: the ladder's colour, the shields endpoint JSON, out-of-scope entities, points-only
/// scorecards, and `public_badges` for READMEs.
#[tokio::test]
async fn badges_show_the_ladder_colour_and_say_what_they_mean() {
    let db = store::sqlite().await;
    let mut fake = Fake::new(&["api", "bronzy", "outside", "pts"]);
    let mut points_only = fake.scorecards[0].clone();
    points_only.tag = "points".into();
    points_only.name = "Points".into();
    points_only.levels = Vec::new();
    fake.scorecards.push(points_only);
    fake.set(
        "coverage",
        entity(
            "bronzy",
            Some(("Bronze", 1)),
            40.0,
            &[("Has coverage", "pass")],
        ),
    );
    fake.set(
        "coverage",
        entity("outside", None, 0.0, &[("Has coverage", "skipped")]),
    );
    fake.set(
        "points",
        entity("pts", None, 62.0, &[("Has coverage", "pass")]),
    );
    let fake = Arc::new(fake);
    let r = runner(db.store.clone(), fake, alerts_config(), vec![]);
    r.run("coverage", None, Trigger::Schedule).await.unwrap();
    r.run("points", None, Trigger::Schedule).await.unwrap();
    let s = start(r.clone(), false).await;
    let badge = |path: &'static str| {
        let s = &s;
        async move { json(s.get(path, Some(READ)).await).await.1 }
    };
    assert_eq!(
        badge("/badge/coverage/bronzy.json").await,
        serde_json::json!({"schemaVersion": 1, "label": "Coverage maturity", "message": "Bronze",
            "color": "c38b5f"})
    );
    assert_eq!(
        badge("/badge/coverage/outside.json").await["message"],
        "out of scope"
    );
    assert_eq!(badge("/badge/points/pts.json").await["message"], "62%");
    let svg = s
        .get("/badge/coverage/bronzy.svg", Some(READ))
        .await
        .text()
        .await
        .unwrap();
    assert!(svg.contains("#c38b5f"), "{svg}");
    let page = s
        .get("/entities/bronzy", Some(READ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<span class=\"level\" style=\"background: #c38b5f\">Bronze</span>"),
        "{page}"
    );
    assert_eq!(
        s.get("/badge/coverage/bronzy.svg", None).await.status(),
        401
    );
    s.stop().await;

    let public = rubric::server::Settings {
        public_badges: true,
        ..server::settings()
    };
    let s = server::start_with(r, false, public).await;
    assert_eq!(
        s.get("/badge/coverage/bronzy.svg", None).await.status(),
        200
    );
    assert_eq!(
        s.get("/badge/coverage/bronzy.json", None).await.status(),
        200
    );
    assert_eq!(
        s.get("/api/v1/entities/bronzy/scorecards", None)
            .await
            .status(),
        401,
        "only badges are public"
    );
    db.finish().await;
}

/// CORS for the configured origins only; a preflight needs no token.
#[tokio::test]
async fn cors_answers_preflights_for_configured_origins() {
    let (_db, s) = server::on_sqlite_with(
        fake(),
        false,
        rubric::server::Settings {
            cors_origins: vec!["https://backstage.example.com".into()],
            ..server::settings()
        },
    )
    .await;
    let preflight = |origin: &'static str| {
        s.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/scorecards", s.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://backstage.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://backstage.example.com"
    );
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = s
        .client
        .get(format!("{}/api/v1/scorecards", s.url))
        .bearer_auth(READ)
        .header("origin", "https://backstage.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://backstage.example.com"
    );
}

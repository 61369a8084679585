//! Cortex's API under `/cortex/api/v1` over real HTTP: the sample catalog and scorecards
//! evaluated against the offline Codecov fixture, every answer checked against what rubric's
//! own API says of the same stored results; paging edges, the dry run, hostile descriptors,
//! Cortex's error shape everywhere under `/cortex`, and 409 while a run holds the scorecard.

use std::sync::Arc;

use rubric::jobs::alerts::Alerter;
use rubric::jobs::pipeline::PipelineEvaluator;
use rubric::jobs::{Evaluator, Runner};
use rubric::store::Trigger;
use serde_json::Value;
use tokio::sync::Notify;

use crate::support::root;
use crate::support::server::{
    ADMIN, Fake, READ, Server, alerts_config, json, runner, settings, start, start_with,
};
use crate::support::store::{TestDb, entity, run, store_tests};

const V1: &str = "/cortex/api/v1";

/// The sample catalog and scorecards served over a fresh SQLite store, every scorecard
/// evaluated once against the demo's Codecov fixture (kept alive by the returned value).
async fn sample() -> (TestDb, Server, rubric::demo::fixture::FixtureServer) {
    let fixture = rubric::demo::fixture::start().await.unwrap();
    let mut cfg = rubric::config::Config::load_with_env(None, []).unwrap();
    cfg.catalog.path = root().join("entities");
    cfg.scorecards.path = root().join("scorecards");
    cfg.codecov.url = fixture.url();
    for account in &mut cfg.codecov.accounts {
        account.url = Some(fixture.url());
    }
    let (evaluator, _) = PipelineEvaluator::load(&cfg).await.unwrap();
    let tags: Vec<String> = evaluator.scorecards().into_iter().map(|s| s.tag).collect();
    let db = crate::support::store::sqlite().await;
    let runner = Arc::new(Runner::new(
        db.store.clone(),
        Arc::new(evaluator),
        Alerter::new(alerts_config(), vec![]),
    ));
    for tag in &tags {
        runner.run(tag, None, Trigger::OnDemand).await.unwrap();
    }
    // Room for the sample scorecards as dry-run bodies.
    let limits = rubric::server::Settings {
        max_body_bytes: 64 * 1024,
        ..settings()
    };
    let server = start_with(runner, false, limits).await;
    (db, server, fixture)
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    json(s.get(&format!("{V1}{path}"), Some(READ)).await).await
}

/// POST a raw YAML body as the CLI sends it.
async fn post_yaml(s: &Server, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = s
        .client
        .post(format!("{}{V1}{path}", s.url))
        .bearer_auth(READ)
        .header("content-type", "application/yaml;charset=UTF-8")
        .body(body)
        .send()
        .await
        .unwrap();
    json(resp).await
}

/// Asserts Cortex's `ErrorResponse` with this status; its message.
fn cortex_error(status: u16, body: &Value, want: u16) -> String {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["httpStatus"], want, "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| !t.is_empty() && t == t.to_uppercase()),
        "{body}"
    );
    assert!(body["details"].is_string(), "{body}");
    let id = body["requestId"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 16, "{body}");
    assert!(
        body.get("error").is_none(),
        "rubric's own shape leaked: {body}"
    );
    body["message"].as_str().expect("message").to_string()
}

/// rubric's own view of an entity's stored result in a scorecard.
async fn native(s: &Server, entity: &str, scorecard: &str) -> Value {
    let (status, body) = json(
        s.get(&format!("/api/v1/entities/{entity}/scorecards"), Some(READ))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["scorecard"] == scorecard)
        .unwrap_or_else(|| panic!("{entity} has a {scorecard} result"))
        .clone()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorecards_list_pages_from_zero_without_drafts_unless_asked() {
    let (_db, s, _fx) = sample().await;
    let (status, all) = get(&s, "/scorecards").await;
    assert_eq!(status, 200, "{all}");
    let tags: Vec<&str> = all["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        ["coverage-maturity", "production-readiness"],
        "the draft is hidden"
    );
    assert_eq!(
        (
            all["page"].as_i64(),
            all["total"].as_i64(),
            all["totalPages"].as_i64()
        ),
        (Some(0), Some(2), Some(1))
    );

    let mut seen = Vec::new();
    for page in 0..3 {
        let (_, one) = get(
            &s,
            &format!("/scorecards?showDrafts=True&pageSize=1&page={page}"),
        )
        .await;
        assert_eq!(
            (one["total"].as_i64(), one["totalPages"].as_i64()),
            (Some(3), Some(3)),
            "{one}"
        );
        assert_eq!(one["page"], page);
        seen.push(one["scorecards"][0]["tag"].as_str().unwrap().to_string());
    }
    assert_eq!(
        seen,
        [
            "coverage-hygiene",
            "coverage-maturity",
            "production-readiness"
        ]
    );
    assert_eq!(
        get(&s, "/scorecards?showDrafts=true").await.1["scorecards"][0]["isDraft"],
        true
    );

    let (status, past) = get(&s, "/scorecards?page=7&pageSize=2").await;
    assert_eq!(status, 200);
    assert_eq!(past["scorecards"], serde_json::json!([]));
    assert_eq!(
        (past["page"].as_i64(), past["total"].as_i64()),
        (Some(7), Some(2))
    );

    for bad in [
        "pageSize=0",
        "pageSize=10000",
        "page=-1",
        "showDrafts=maybe",
        "groups=payments",
    ] {
        let (status, body) = get(&s, &format!("/scorecards?{bad}")).await;
        let message = cortex_error(status, &body, 400);
        assert!(!message.is_empty(), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scorecard_and_its_descriptor_are_its_file() {
    let (_db, s, _fx) = sample().await;
    let (status, body) = get(&s, "/scorecards/coverage-maturity").await;
    assert_eq!(status, 200, "{body}");
    let card = &body["scorecard"];
    assert_eq!(
        (card["tag"].as_str(), card["isDraft"].as_bool()),
        (Some("coverage-maturity"), Some(false))
    );
    let levels: Vec<(String, i64)> = card["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["level"]["name"].as_str().unwrap().into(),
                l["level"]["number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("Bronze".into(), 3),
            ("Silver".into(), 2),
            ("Gold".into(), 1)
        ],
        "1 is the highest"
    );
    let file = std::fs::read_to_string(root().join("scorecards/coverage-maturity.yaml")).unwrap();
    let rules = card["rules"].as_array().unwrap();
    assert!(!rules.is_empty());
    for rule in rules {
        let expression = rule["expression"].as_str().unwrap();
        assert!(
            file.contains(rule["identifier"].as_str().unwrap()),
            "{rule}"
        );
        assert!(
            rule["levelName"].is_string() && rule["weight"].is_number(),
            "{rule}"
        );
        assert!(!expression.is_empty());
    }

    let resp = s
        .get(
            &format!("{V1}/scorecards/coverage-maturity/descriptor"),
            Some(READ),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/yaml")
    );
    assert_eq!(resp.text().await.unwrap(), file);

    for path in [
        "/scorecards/no-such-card",
        "/scorecards/no-such-card/descriptor",
        "/scorecards/no-such-card/scores",
    ] {
        let (status, body) = get(&s, path).await;
        assert!(
            cortex_error(status, &body, 404).contains("no-such-card"),
            "{path}: {body}"
        );
        assert_eq!(body["type"], "NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_are_the_stored_results_in_cortex_units() {
    let (_db, s, _fx) = sample().await;
    for tag in [
        "coverage-maturity",
        "production-readiness",
        "coverage-hygiene",
    ] {
        let (status, body) = get(&s, &format!("/scorecards/{tag}/scores")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scorecardTag"], tag);
        let scores = body["serviceScores"].as_array().unwrap();
        assert!(!scores.is_empty(), "{tag}");
        assert_eq!(body["total"].as_u64(), Some(scores.len() as u64));
        for one in scores {
            let entity = one["service"]["tag"].as_str().unwrap();
            let stored = native(&s, entity, tag).await;
            let summary = &one["score"]["summary"];
            assert_eq!(summary["score"], stored["score"], "{tag}/{entity}");
            assert_eq!(
                summary["totalPossibleScore"], stored["max_score"],
                "{tag}/{entity}"
            );
            let percent = stored["percentage"].as_f64().unwrap_or(0.0);
            assert!(
                close(&summary["percentage"], percent / 100.0),
                "{tag}/{entity}: {summary} vs {percent}"
            );
            let level: Vec<&Value> = one["score"]["ladderLevels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| &l["level"]["name"])
                .collect();
            match stored["level"]["name"].as_str() {
                Some(name) => assert_eq!(level, [name], "{tag}/{entity}"),
                None => assert!(level.is_empty(), "{tag}/{entity}"),
            }
            let rules = one["score"]["rules"].as_array().unwrap();
            let stored_rules = stored["rules"].as_array().unwrap();
            assert_eq!(rules.len(), stored_rules.len(), "{tag}/{entity}");
            for (r, sr) in rules.iter().zip(stored_rules) {
                assert_eq!(r["expression"], sr["expression"]);
                let want = if sr["outcome"] == "pass" {
                    sr["weight"].as_f64().unwrap()
                } else {
                    0.0
                };
                assert!(close(&r["score"], want), "{r} vs {sr}");
                assert_eq!(
                    r.get("error").is_some(),
                    sr["outcome"] == "error",
                    "{r} vs {sr}"
                );
            }
            assert_eq!(
                one["lastEvaluated"].as_str().map(|t| &t[..19]),
                stored["evaluated_at"].as_str().map(|t| &t[..19])
            );
        }
    }

    let (_, one) = get(
        &s,
        "/scorecards/coverage-maturity/scores?entityTag=component:default/checkout-web",
    )
    .await;
    let list = one["serviceScores"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{one}");
    assert_eq!(list[0]["service"]["tag"], "checkout-web");

    let (_, all) = get(&s, "/scorecards/coverage-maturity/scores").await;
    let total = all["total"].as_i64().unwrap();
    let (_, first) = get(&s, "/scorecards/coverage-maturity/scores?page=0&pageSize=2").await;
    assert_eq!(first["serviceScores"].as_array().unwrap().len(), 2);
    assert_eq!(
        (first["total"].as_i64(), first["totalPages"].as_i64()),
        (Some(total), Some((total + 1) / 2))
    );
    assert_eq!(first["serviceScores"][0], all["serviceScores"][0]);
    let (status, past) = get(
        &s,
        "/scorecards/coverage-maturity/scores?page=99&pageSize=2",
    )
    .await;
    assert_eq!(
        (status, past["serviceScores"].clone()),
        (200, serde_json::json!([]))
    );
    for bad in ["pageSize=0", "pageSize=10000", "page=x"] {
        let (status, body) = get(&s, &format!("/scorecards/coverage-maturity/scores?{bad}")).await;
        cortex_error(status, &body, 400);
    }
    let (status, body) = get(
        &s,
        "/scorecards/coverage-maturity/scores?entityTag=nobody-here",
    )
    .await;
    assert!(cortex_error(status, &body, 404).contains("nobody-here"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_steps_badges_and_entity_scores_follow_the_stored_results() {
    let (_db, s, _fx) = sample().await;
    let (_, all) = get(&s, "/scorecards/coverage-maturity/scores").await;
    let mut checked_steps = 0;
    for one in all["serviceScores"].as_array().unwrap() {
        let entity = one["service"]["tag"].as_str().unwrap();
        let stored = native(&s, entity, "coverage-maturity").await;
        let (status, body) = get(
            &s,
            &format!("/scorecards/coverage-maturity/next-steps?entityTag={entity}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let step = &body["nextSteps"][0];
        assert_eq!(
            step["currentLevel"]["level"]["name"].as_str(),
            stored["level"]["name"].as_str(),
            "{entity}"
        );
        assert_eq!(
            step["nextLevel"]["level"]["name"].as_str(),
            stored["next_level"].as_str(),
            "{entity}"
        );
        let titles: Vec<&str> = step["rulesToComplete"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = stored["next_steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, want, "{entity}");
        for r in step["rulesToComplete"].as_array().unwrap() {
            assert!(
                r["expression"].as_str().is_some_and(|e| !e.is_empty()),
                "{r}"
            );
            checked_steps += 1;
        }
    }
    assert!(
        checked_steps > 0,
        "some sample entity has rules to complete"
    );
    let (status, body) = get(
        &s,
        "/scorecards/coverage-hygiene/next-steps?entityTag=payments-api",
    )
    .await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"nextSteps": []})),
        "points only"
    );
    let (status, body) = get(&s, "/scorecards/coverage-maturity/next-steps").await;
    assert!(cortex_error(status, &body, 400).contains("entityTag"));

    for entity in [
        "checkout-web",
        "component:default/checkout-web",
        "component:default%2Fcheckout-web",
    ] {
        let (status, badge) = get(
            &s,
            &format!("/scorecards/coverage-maturity/entity/{entity}/badge"),
        )
        .await;
        assert_eq!(status, 200, "{entity}: {badge}");
        let value = badge["value"].as_str().unwrap();
        assert!(value.contains("img.shields.io/endpoint?url="), "{value}");
        assert!(
            value.contains("%2Fbadge%2Fcoverage-maturity%2Fcheckout-web.json"),
            "{value}"
        );
        assert!(
            value.ends_with(&format!("]({}/entities/checkout-web)", s.url)),
            "{value}"
        );
    }
    // The badge it points at answers.
    let (status, doc) = json(
        s.get("/badge/coverage-maturity/checkout-web.json", Some(READ))
            .await,
    )
    .await;
    assert_eq!((status, doc["schemaVersion"].as_i64()), (200, Some(1)));

    for entity in ["payments-api", "component:default/checkout-web"] {
        let (status, list) = get(&s, &format!("/catalog/{entity}/scorecards")).await;
        assert_eq!(status, 200, "{list}");
        let tag = if entity == "payments-api" {
            entity
        } else {
            "checkout-web"
        };
        for item in list.as_array().unwrap() {
            let card = item["scorecardTag"].as_str().unwrap();
            let stored = native(&s, tag, card).await;
            assert_eq!(
                (&item["score"], &item["totalPossibleScore"]),
                (&stored["score"], &stored["max_score"])
            );
            assert!(close(
                &item["scorePercentage"],
                stored["percentage"].as_f64().unwrap_or(0.0) / 100.0
            ));
            assert!(
                item["scorecardId"].is_u64() && item["scorecardName"].is_string(),
                "{item}"
            );
        }
        assert_eq!(
            list.as_array().unwrap().len(),
            3,
            "{entity}: one per scorecard"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_and_details_entities_by_tag_or_ref() {
    let (_db, s, _fx) = sample().await;
    let (status, all) = get(&s, "/catalog").await;
    assert_eq!(status, 200, "{all}");
    let total = all["total"].as_i64().unwrap();
    assert_eq!(total, all["entities"].as_array().unwrap().len() as i64);
    assert!(total >= 9, "{total}");
    let (_, page) = get(
        &s,
        "/catalog?page=1&pageSize=4&includeOwners=True&hierarchyDepth=full",
    )
    .await;
    assert_eq!(page["entities"][0], all["entities"][4]);
    assert_eq!(page["totalPages"].as_i64(), Some((total + 3) / 4));
    let (_, past) = get(&s, "/catalog?page=50").await;
    assert_eq!(past["entities"], serde_json::json!([]));
    let (_, payments) = get(&s, "/catalog?groups=payments").await;
    assert!(payments["entities"].as_array().unwrap().iter().all(|e| {
        e["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "payments")
    }));
    assert!(payments["total"].as_i64().unwrap() > 0);
    for bad in ["pageSize=0", "pageSize=10000"] {
        let (status, body) = get(&s, &format!("/catalog?{bad}")).await;
        cortex_error(status, &body, 400);
    }

    for path in [
        "checkout-web",
        "component:default/checkout-web",
        "component:default%2Fcheckout-web",
    ] {
        let (status, one) = get(&s, &format!("/catalog/{path}")).await;
        assert_eq!(status, 200, "{path}: {one}");
        assert_eq!(
            (one["tag"].as_str(), one["id"].as_str()),
            (Some("checkout-web"), Some("checkout-web"))
        );
    }
    let (status, body) = get(&s, "/catalog/no-such-entity").await;
    assert!(cortex_error(status, &body, 404).contains("no-such-entity"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_validates_with_rubric_loader_and_saves_nothing() {
    let (_db, s, _fx) = sample().await;
    let good = std::fs::read_to_string(root().join("scorecards/coverage-maturity.yaml")).unwrap();
    for flag in ["True", "true"] {
        let (status, body) = post_yaml(
            &s,
            &format!("/scorecards/descriptor?dryRun={flag}"),
            good.clone(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["errors"], serde_json::json!([]));
        assert_eq!(body["scorecard"]["tag"], "coverage-maturity");
    }
    let bad = "tag: broken\nname: Broken\nrules:\n  - title: Typo\n    expression: codecov.codeCoverage( >= 80\n";
    let (status, body) = post_yaml(&s, "/scorecards/descriptor?dryRun=true", bad).await;
    cortex_error(status, &body, 400);
    let violation = &body["violations"][0];
    assert_eq!(violation["violationType"], "ERROR", "{body}");
    assert!(
        violation["pointer"]
            .as_str()
            .unwrap()
            .starts_with("line 5, column "),
        "{body}"
    );
    assert!(
        body["details"].as_str().unwrap().contains("line 5"),
        "{body}"
    );

    for query in ["", "?dryRun=false", "?dryRun=False"] {
        let (status, body) =
            post_yaml(&s, &format!("/scorecards/descriptor{query}"), good.clone()).await;
        assert!(
            cortex_error(status, &body, 403).contains("files"),
            "{query}: {body}"
        );
    }
    let (status, body) = post_yaml(&s, "/scorecards/descriptor?dryRun=perhaps", good.clone()).await;
    cortex_error(status, &body, 400);
    // Nothing was saved: the scorecards are still the three files.
    let (_, list) = get(&s, "/scorecards?showDrafts=true").await;
    assert_eq!(list["total"], 3);
    assert!(
        list["scorecards"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["tag"] != "broken")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_descriptors_get_bounded_errors() {
    let (_db, s, _fx) = sample().await;
    let dry = "/scorecards/descriptor?dryRun=true";
    // Nested past the YAML depth budget.
    let deep = format!(
        "tag: deep\nrules: {}{}\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let (status, body) = post_yaml(&s, dry, deep).await;
    cortex_error(status, &body, 400);
    assert!(body["details"].as_str().unwrap().contains("YAML"), "{body}");
    assert!(
        body["violations"].as_array().is_some_and(|v| !v.is_empty()),
        "{body}"
    );
    // A billion laughs: aliases that would expand to gigabytes.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            ["b", "c", "d", "e", "f", "g", "h"][i - 1].to_string()
        };
        bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    bomb.push_str("tag: bomb\nrules: *i\n");
    let (status, body) = post_yaml(&s, dry, bomb).await;
    cortex_error(status, &body, 400);
    assert!(
        body["details"].as_str().unwrap().contains("budget"),
        "{body}"
    );
    // Not UTF-8.
    let (status, body) = post_yaml(&s, dry, vec![0xff, 0xfe, b't', b'a', b'g']).await;
    assert!(cortex_error(status, &body, 400).contains("UTF-8"));
    // Empty.
    let (status, body) = post_yaml(&s, dry, "").await;
    cortex_error(status, &body, 400);
    // Over the body limit: refused before it is read, in Cortex's shape (last: the
    // server closes that connection unread, and a request reusing it would fail).
    let (status, body) = post_yaml(
        &s,
        dry,
        format!("tag: big\ndescription: {}\n", "x".repeat(200_000)),
    )
    .await;
    cortex_error(status, &body, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_under_cortex_are_in_cortex_shape() {
    let (_db, s, _fx) = sample().await;
    let resp = s.get(&format!("{V1}/scorecards"), None).await;
    assert!(resp.headers().contains_key("www-authenticate"));
    let (status, body) = json(resp).await;
    cortex_error(status, &body, 401);
    assert_eq!(body["type"], "UNAUTHORIZED");
    let (status, body) = json(
        s.post(
            &format!("{V1}/scorecards/coverage-maturity/entity/payments-api/scores"),
            Some(READ),
        )
        .await,
    )
    .await;
    assert!(cortex_error(status, &body, 403).contains("admin"));
    for path in [
        "/cortex",
        "/cortex/api/v1/nothing-here",
        "/cortex/api/v2/scorecards",
    ] {
        let (status, body) = json(s.get(path, Some(READ)).await).await;
        cortex_error(status, &body, 404);
    }
    let resp = s
        .client
        .delete(format!("{}{V1}/scorecards/coverage-maturity", s.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let (status, body) = json(resp).await;
    cortex_error(status, &body, 405);
    // rubric's own API keeps its own shape.
    let (status, body) = json(s.get("/api/v1/scorecards/nope/scores", Some(READ)).await).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_evaluation_writes_a_run_and_answers_the_stored_score() {
    let (_db, s, _fx) = sample().await;
    let before = native(&s, "checkout-web", "coverage-maturity").await;
    let path =
        format!("{V1}/scorecards/coverage-maturity/entity/component:default/checkout-web/scores");
    let (status, fresh) = json(s.post(&path, Some(ADMIN)).await).await;
    assert_eq!(status, 200, "{fresh}");
    let after = native(&s, "checkout-web", "coverage-maturity").await;
    assert!(
        after["run_id"].as_i64() > before["run_id"].as_i64(),
        "a new run was stored"
    );
    let (_, listed) = get(
        &s,
        "/scorecards/coverage-maturity/scores?entityTag=checkout-web",
    )
    .await;
    let mut listed = listed["serviceScores"][0].clone();
    let mut fresh = fresh;
    // The store keeps times to the millisecond.
    listed["lastEvaluated"] = Value::Null;
    fresh["lastEvaluated"] = Value::Null;
    assert_eq!(fresh, listed);
    for (path, want) in [
        ("/scorecards/nope/entity/checkout-web/scores", 404),
        ("/scorecards/coverage-maturity/entity/nobody/scores", 404),
        (
            "/scorecards/coverage-maturity/entity/checkout-web/other",
            404,
        ),
    ] {
        let (status, body) = json(s.post(&format!("{V1}{path}"), Some(ADMIN)).await).await;
        cortex_error(status, &body, want);
    }
}

/// While a run of the scorecard is in progress, re-evaluation answers Cortex's 409; once the run
/// ends it is accepted again. The run is held open by the fake evaluator's gate, not by time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_evaluation_is_409_while_the_scorecard_is_being_evaluated() {
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set(
        "coverage",
        entity(
            "api",
            Some(("Bronze", 1)),
            50.0,
            &[("Tested", "pass"), ("Broken", "error")],
        ),
    );
    let gate = Arc::new(Notify::new());
    *fake.gate.lock().unwrap() = Some(gate.clone());
    let db = crate::support::store::sqlite().await;
    let runner = runner(db.store.clone(), fake.clone(), alerts_config(), vec![]);
    let s = start(runner.clone(), false).await;
    let started = fake.started.notified();
    tokio::pin!(started);
    started.as_mut().enable();
    let held = tokio::spawn(async move {
        runner
            .run("coverage", None, Trigger::Schedule)
            .await
            .map(|_| ())
    });
    started.await;

    let path = format!("{V1}/scorecards/coverage/entity/api/scores");
    let (status, body) = json(s.post(&path, Some(ADMIN)).await).await;
    assert_eq!(
        cortex_error(status, &body, 409),
        "Already evaluating scorecard"
    );
    assert_eq!(body["type"], "CONFLICT");

    *fake.gate.lock().unwrap() = None;
    gate.notify_one();
    held.await.unwrap().unwrap();
    let (status, body) = json(s.post(&path, Some(ADMIN)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["service"]["tag"], "api");
    let rules = body["score"]["rules"].as_array().unwrap();
    assert_eq!(
        (rules[0]["score"].as_f64(), rules[0].get("error")),
        (Some(1.0), None)
    );
    assert_eq!(
        (rules[1]["score"].as_f64(), rules[1]["error"].as_str()),
        (Some(0.0), Some("Broken: error"))
    );
    assert!(close(&body["score"]["summary"]["percentage"], 0.5));
    drop(db);
}

store_tests!(a_page_gets_its_rules_from_its_own_runs);
/// `fill_rules` gives each result of a page the rules of its own run (not those of an older
/// run of the same entity), as `latest_for_entity` reads them.
async fn a_page_gets_its_rules_from_its_own_runs(db: TestDb) {
    let s = &db.store;
    let first = vec![
        entity("api", None, 0.0, &[("old", "fail")]),
        entity("web", None, 50.0, &[("a", "pass"), ("b", "fail")]),
    ];
    s.save_run(&run("coverage", 10, first)).await.unwrap();
    let again = vec![entity(
        "api",
        Some(("Gold", 3)),
        100.0,
        &[("new", "pass"), ("x", "error")],
    )];
    s.save_run(&run("coverage", 20, again)).await.unwrap();
    let (mut page, total) = s
        .latest_for_scorecard("coverage", None, 0, 10)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (2, 2));
    assert!(page.iter().all(|r| r.result.rules.is_empty()));
    s.fill_rules(&mut page).await.unwrap();
    for r in &page {
        let whole = s.latest_for_entity(&r.result.entity).await.unwrap();
        assert_eq!(whole[0].result.rules, r.result.rules, "{}", r.result.entity);
    }
    let titles: Vec<&str> = page[0]
        .result
        .rules
        .iter()
        .map(|r| r.title.as_str())
        .collect();
    assert_eq!(titles, ["new", "x"]);
    s.fill_rules(&mut []).await.unwrap();
    db.finish().await;
}

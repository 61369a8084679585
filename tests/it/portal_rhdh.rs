//! Red Hat Developer Hub's scorecard API under `/api/scorecard` over real HTTP: `rubric serve
//! --fixture` on the sample catalog, each metric result and aggregation checked against the
//! native API's stored results, the thresholds derived from the rules' comparisons, pagination
//! bounds and hostile parameters.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::portal_tech_insights::{SAMPLE_ENTITIES, Sample, assert_backstage_error};
use crate::support::server::{ADMIN, Fake, READ, json as body_of};
use crate::support::store;

/// The rules of the sample that compare one provider value with a constant.
const METRICS: [&str; 7] = [
    "coverage-hygiene.trend",
    "coverage-hygiene.lines",
    "coverage-hygiene.coverage-70",
    "coverage-maturity.coverage-50",
    "coverage-maturity.coverage-80",
    "coverage-maturity.coverage-95",
    "production-readiness.tier1-coverage",
];

/// What RHDH's evaluation of a stored outcome is.
fn evaluation(outcome: &str) -> Value {
    match outcome {
        "pass" | "exempt" => json!("success"),
        "fail" => json!("error"),
        _ => Value::Null,
    }
}

/// The native rules of an entity that are metrics, by metric id.
async fn native_metrics(s: &Sample, entity: &str) -> BTreeMap<String, Value> {
    s.native_rules(entity)
        .await
        .into_iter()
        .map(|(card, rule)| {
            (
                format!("{card}.{}", rule["identifier"].as_str().unwrap()),
                rule,
            )
        })
        .filter(|(id, rule)| METRICS.contains(&id.as_str()) && rule["outcome"] != "skipped")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_entity_results_are_the_stored_outcomes() {
    let s = Sample::start().await;

    let (status, body) = s.get("/api/scorecard/metrics").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, METRICS);
    assert_eq!(
        body["metrics"][4],
        json!({"id": "coverage-maturity.coverage-80", "title": "Coverage at least 80%",
               "description": "`captures(\"coverage\", codecov.codeCoverage()) >= 80` (Coverage maturity)",
               "type": "number", "history": false})
    );
    let (_, some) = s
        .get("/api/scorecard/metrics?metricIds=coverage-hygiene.lines,coverage-maturity.coverage-95,nope")
        .await;
    assert_eq!(some["metrics"].as_array().unwrap().len(), 2, "{some}");
    let (_, card) = s
        .get("/api/scorecard/metrics?datasource=coverage-maturity")
        .await;
    assert_eq!(card["metrics"].as_array().unwrap().len(), 3, "{card}");
    let (status, body) = s
        .get("/api/scorecard/metrics?metricIds=a&datasource=coverage-maturity")
        .await;
    assert_backstage_error(status, &body, 400, "InputError");

    for entity in SAMPLE_ENTITIES {
        let (status, results) = s
            .get(&format!(
                "/api/scorecard/metrics/catalog/Component/default/{entity}"
            ))
            .await;
        assert_eq!(status, 200, "{entity}: {results}");
        let native = native_metrics(&s, entity).await;
        let results = results.as_array().unwrap();
        assert_eq!(results.len(), native.len(), "{entity}: {results:?}");
        for r in results {
            let id = r["id"].as_str().unwrap();
            let rule = &native[id];
            let outcome = rule["outcome"].as_str().unwrap();
            let at = format!("{entity} {id} ({outcome})");
            assert_eq!(r["status"], "success", "{at}");
            assert_eq!(r["metadata"]["title"], rule["title"], "{at}");
            let threshold = &r["result"]["thresholdResult"];
            assert_eq!(threshold["evaluation"], evaluation(outcome), "{at}");
            let value = rule["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| {
                    i["status"] == "ok" && i["fact"].as_str().unwrap().starts_with("codecov.")
                })
                .map_or(Value::Null, |i| i["value"].clone());
            assert_eq!(r["result"]["value"], value, "{at}");
            if outcome == "no_data" {
                assert_eq!(threshold["status"], "error", "{at}");
                assert!(
                    threshold["error"]
                        .as_str()
                        .unwrap()
                        .starts_with("Unable to evaluate thresholds"),
                    "{at}"
                );
            } else {
                assert_eq!(threshold["status"], "success", "{at}");
            }
        }
    }
    // The thresholds are the rule's comparison.
    let (_, web) = s
        .get("/api/scorecard/metrics/catalog/component/default/checkout-web?metricIds=coverage-maturity.coverage-80")
        .await;
    assert_eq!(web.as_array().unwrap().len(), 1, "{web}");
    assert_eq!(
        web[0]["result"]["thresholdResult"]["definition"],
        json!({"rules": [{"key": "success", "expression": ">= 80"}, {"key": "error", "expression": "< 80"}]})
    );
    // Any case, and a Cortex descriptor's entity; unknown entities are 404.
    let (status, upper) = s
        .get("/api/scorecard/metrics/catalog/COMPONENT/Default/Checkout-Web?metricIds=coverage-maturity.coverage-80")
        .await;
    assert_eq!((status, &upper), (200, &web));
    let (status, body) = s
        .get("/api/scorecard/metrics/catalog/component/default/ghost")
        .await;
    assert_backstage_error(status, &body, 404, "NotFoundError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregations_and_drill_down_count_every_entity() {
    let s = Sample::start().await;
    let id = "coverage-maturity.coverage-80";
    let mut outcomes: Vec<(String, String, Value)> = Vec::new();
    for entity in SAMPLE_ENTITIES {
        if let Some(rule) = native_metrics(&s, entity).await.get(id) {
            outcomes.push((
                entity.to_string(),
                rule["outcome"].as_str().unwrap().to_string(),
                rule["inputs"][0]["value"].clone(),
            ));
        }
    }
    let count = |key: &str| {
        outcomes
            .iter()
            .filter(|(_, o, _)| evaluation(o) == key)
            .count()
    };

    let (status, agg) = s.get(&format!("/api/scorecard/aggregations/{id}")).await;
    assert_eq!(status, 200, "{agg}");
    assert_eq!(agg["id"], id);
    assert_eq!(agg["metadata"]["aggregationType"], "statusGrouped");
    assert_eq!(
        agg["result"]["values"],
        json!([{"name": "success", "count": count("success")}, {"name": "error", "count": count("error")}])
    );
    assert_eq!(agg["result"]["total"], count("success") + count("error"));
    assert_eq!(agg["result"]["entitiesConsidered"], outcomes.len());
    assert_eq!(agg["result"]["calculationErrorCount"], 0);
    assert!(
        agg["result"]["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-22")
    );
    let (status, meta) = s
        .get(&format!("/api/scorecard/aggregations/{id}/metadata"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(meta, agg["metadata"]);

    // Every entity once over the pages, in name order.
    let drill = format!("/api/scorecard/metrics/{id}/catalog/aggregations/entities");
    let mut seen = Vec::new();
    for page in 1..=4 {
        let (status, body) = s.get(&format!("{drill}?page={page}&pageSize=3")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["pagination"],
            json!({"page": page, "pageSize": 3, "total": outcomes.len(), "totalPages": 3, "isCapped": false})
        );
        for e in body["entities"].as_array().unwrap() {
            let name = e["entityName"].as_str().unwrap().to_string();
            let (_, outcome, value) = outcomes.iter().find(|(n, _, _)| *n == name).unwrap();
            assert_eq!(e["status"], evaluation(outcome), "{name}");
            if outcome != "no_data" {
                assert_eq!(&e["metricValue"], value, "{name}");
            }
            let entity_ref = e["entityRef"].as_str().unwrap();
            assert!(entity_ref.ends_with(&format!(":default/{name}")), "{e}");
            assert_eq!(
                entity_ref.split(':').next(),
                e["entityKind"].as_str(),
                "{e}"
            );
            seen.push(name);
        }
    }
    let mut want: Vec<String> = outcomes.iter().map(|(n, _, _)| n.clone()).collect();
    want.sort();
    assert_eq!(seen, want);
    let (_, ok) = s
        .get(&format!(
            "{drill}?status=success&sortBy=metricValue&sortOrder=desc&pageSize=100"
        ))
        .await;
    let values: Vec<f64> = ok["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metricValue"].as_f64().unwrap())
        .collect();
    assert_eq!(values.len(), count("success"));
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    assert!(values.iter().all(|v| *v >= 80.0), "{values:?}");

    // Bounds and junk: 400s and 404s in Backstage's shape.
    for query in [
        "pageSize=101",
        "pageSize=0",
        "pageSize=-1",
        "pageSize=99999999999999999999999",
        "page=0",
        "page=abc",
        "sortOrder=sideways",
        "sortBy=secret",
    ] {
        let (status, body) = s.get(&format!("{drill}?{query}")).await;
        assert_backstage_error(status, &body, 400, "InputError");
    }
    let (status, far) = s
        .get(&format!("{drill}?page=4000000000&pageSize=100"))
        .await;
    assert_eq!((status, &far["entities"]), (200, &json!([])));
    for path in [
        "/api/scorecard/aggregations/no.such-metric".to_string(),
        "/api/scorecard/aggregations/..%2F..%2Fetc/metadata".to_string(),
        format!("/api/scorecard/aggregations/{}", "x".repeat(4000)),
        "/api/scorecard/metrics/%00/catalog/aggregations/entities".to_string(),
    ] {
        let (status, body) = s.get(&path).await;
        assert_backstage_error(status, &body, 404, "NotFoundError");
    }
}

/// An evaluation error is the metric's error; a missing value a threshold error.
#[tokio::test]
async fn errors_and_missing_values_are_told_apart() {
    let fake = Fake::new(&["api", "web"]);
    fake.set(
        "coverage",
        store::entity("api", None, 0.0, &[("Coverage >= 80", "error")]),
    );
    fake.set(
        "coverage",
        store::entity("web", None, 0.0, &[("Coverage >= 80", "no_data")]),
    );
    let (db, srv) = crate::support::server::on_sqlite(std::sync::Arc::new(fake), false).await;
    for entity in ["api", "web"] {
        let path = format!("/api/v1/scorecards/coverage/entities/{entity}/evaluate");
        assert_eq!(srv.post(&path, Some(ADMIN)).await.status(), 200);
    }
    let (status, api) = body_of(
        srv.get(
            "/api/scorecard/metrics/catalog/component/default/api",
            Some(READ),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{api}");
    assert_eq!(api[0]["id"], "coverage.coverage-80");
    assert_eq!(api[0]["status"], "error");
    assert_eq!(api[0]["error"], "Coverage >= 80: error");
    assert_eq!(api[0]["result"]["value"], Value::Null);
    let (_, web) = body_of(
        srv.get(
            "/api/scorecard/metrics/catalog/component/default/web",
            Some(READ),
        )
        .await,
    )
    .await;
    assert_eq!(web[0]["status"], "success");
    assert_eq!(web[0]["result"]["thresholdResult"]["status"], "error");
    assert_eq!(
        web[0]["result"]["thresholdResult"]["evaluation"],
        Value::Null
    );
    // The fake's scorecard states no rules: stored results are served, no metric is listed.
    let (_, metrics) = body_of(srv.get("/api/scorecard/metrics", Some(READ)).await).await;
    assert_eq!(metrics, json!({"metrics": []}));
    db.finish().await;
}

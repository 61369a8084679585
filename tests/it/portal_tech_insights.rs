//! Backstage Tech Insights under `/api/tech-insights` over real HTTP: `rubric serve --fixture` on
//! the sample catalog, every route checked against the native API's stored results (the same
//! outcomes, never a second evaluation), refs in every case and encoding, the `ids` forms, the
//! 422s and the hostile bodies and queries.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::server::{Fake, READ, json as body_of};
use crate::support::{rubric, store};

/// The clock of the served sample.
pub(crate) const NOW: &str = "2026-11-22T06:00:00Z";
/// The read token of the served sample.
pub(crate) const TOKEN: &str = "portal-read-0001";
const ADMIN_TOKEN: &str = "portal-admin-0002";

/// The entities of the sample catalog (`entities/`).
pub(crate) const SAMPLE_ENTITIES: [&str; 9] = [
    "payments-api",
    "payments-domain",
    "ledger",
    "billing-core",
    "identity",
    "legacy-reports",
    "checkout-web",
    "notifications",
    "search-indexer",
];

/// `rubric serve --fixture` on the sample catalog with every scorecard evaluated for every
/// entity (on demand, through the native API), so that every route reads stored results.
pub(crate) struct Sample {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    pub url: String,
    http: reqwest::Client,
    /// The scorecard tags.
    pub scorecards: Vec<String>,
}

impl Sample {
    pub(crate) async fn start() -> Sample {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite://{}", dir.path().join("portal.db").display());
        let (child, url) = rubric()
            .args([
                "serve",
                "--fixture",
                "--bind",
                "127.0.0.1:0",
                "--store",
                &store,
            ])
            .env("RUBRIC_NOW", NOW)
            .env("RUBRIC_SCHEDULE_ENABLED", "false")
            .env(
                "RUBRIC_API_TOKENS",
                format!("portal:read:{TOKEN},ci:admin:{ADMIN_TOKEN}"),
            )
            .listen()
            .await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut sample = Sample {
            _child: child,
            _dir: dir,
            url,
            http,
            scorecards: Vec::new(),
        };
        let (status, cards) = sample.get("/api/v1/scorecards").await;
        assert_eq!(status, 200, "{cards}");
        sample.scorecards = cards["scorecards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["tag"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(sample.scorecards.len(), 3, "{cards}");
        for card in &sample.scorecards {
            for entity in SAMPLE_ENTITIES {
                let resp = sample
                    .http
                    .post(format!(
                        "{}/api/v1/scorecards/{card}/entities/{entity}/evaluate",
                        sample.url
                    ))
                    .bearer_auth(ADMIN_TOKEN)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "evaluate {card} {entity}");
            }
        }
        sample
    }

    /// GET with the read token: status and JSON.
    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        body_of(resp).await
    }

    /// POST a body with the read token: status and JSON.
    pub(crate) async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        body_of(resp).await
    }

    /// The native API's stored results of an entity: `(scorecard, rule)` pairs.
    pub(crate) async fn native_rules(&self, entity: &str) -> Vec<(String, Value)> {
        let (status, body) = self
            .get(&format!("/api/v1/entities/{entity}/scorecards"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["scorecards"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                let tag = s["scorecard"].as_str().unwrap().to_string();
                s["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |r| (tag.clone(), r.clone()))
            })
            .collect()
    }
}

/// A Backstage `ErrorResponseBody` with this status and error name.
pub(crate) fn assert_backstage_error(status: u16, body: &Value, want: u16, name: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["name"], name, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert_eq!(body["response"]["statusCode"], want, "{body}");
}

/// Checks, or the check results of a run, by check id.
fn by_id(results: &Value) -> std::collections::BTreeMap<String, Value> {
    results
        .as_array()
        .unwrap_or_else(|| panic!("a list of results: {results}"))
        .iter()
        .map(|r| {
            let id = r["check"]["id"].as_str().or(r["id"].as_str());
            (id.expect("a check id").to_string(), r.clone())
        })
        .collect()
}

/// Every non-skipped native rule of `entity` is one check result with the same outcome.
async fn assert_same_as_native(s: &Sample, entity: &str, results: &Value) {
    let results = by_id(results);
    let native = s.native_rules(entity).await;
    let shown: Vec<&(String, Value)> = native
        .iter()
        .filter(|(_, r)| r["outcome"] != "skipped")
        .collect();
    assert_eq!(results.len(), shown.len(), "{entity}: {results:?}");
    for (card, rule) in shown {
        let id = format!("{card}/{}", rule["identifier"].as_str().unwrap());
        let got = results
            .get(&id)
            .unwrap_or_else(|| panic!("{entity}: no check {id}"));
        let outcome = rule["outcome"].as_str().unwrap();
        assert_eq!(
            got["result"],
            json!(matches!(outcome, "pass" | "exempt")),
            "{entity} {id}"
        );
        let meta = &got["check"]["metadata"];
        assert_eq!(meta["status"], outcome, "{entity} {id}");
        assert_eq!(meta["message"], rule["message"], "{entity} {id}");
        assert_eq!(got["check"]["name"], rule["title"], "{entity} {id}");
        for input in rule["inputs"].as_array().into_iter().flatten() {
            let fact = input["fact"].as_str().unwrap();
            assert_eq!(
                got["facts"][fact]["value"], input["value"],
                "{entity} {id} {fact}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_and_runs_are_the_stored_results() {
    let s = Sample::start().await;

    let (status, checks) = s.get("/api/tech-insights/checks").await;
    assert_eq!(status, 200, "{checks}");
    let checks = by_id(&checks);
    assert_eq!(checks.len(), 13, "one check per rule: {:?}", checks.keys());
    assert!(checks.values().all(|c| c["type"] == "json-rules-engine"));
    let c80 = &checks["coverage-maturity/coverage-80"];
    assert_eq!(c80["name"], "Coverage at least 80%");
    assert_eq!(c80["factIds"], json!(["codecov"]));
    assert_eq!(
        c80["metadata"],
        json!({"scorecard": "coverage-maturity", "scorecardName": "Coverage maturity",
               "category": "Coverage maturity", "level": "Silver", "rank": 2, "weight": 2,
               "expression": "captures(\"coverage\", codecov.codeCoverage()) >= 80"})
    );
    let owners = &checks["production-readiness/has-codeowners"];
    assert_eq!(
        owners["description"],
        "A CODEOWNERS file routes reviews to the owning team."
    );
    assert_eq!(owners["factIds"], json!(["catalog"]));

    // One entity, as the client asks: kind in its own case, `{}` body.
    for entity in SAMPLE_ENTITIES {
        let (status, results) = s
            .post(
                &format!("/api/tech-insights/checks/run/default/Component/{entity}"),
                "{}",
            )
            .await;
        assert_eq!(status, 200, "{entity}: {results}");
        assert_same_as_native(&s, entity, &results).await;
    }
    // The checks named only; an empty body is `{}`.
    let (status, one) = s
        .post(
            "/api/tech-insights/checks/run/default/component/checkout-web",
            r#"{"checks": ["coverage-maturity/coverage-80", "no/such-check"]}"#,
        )
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(
        by_id(&one).keys().collect::<Vec<_>>(),
        ["coverage-maturity/coverage-80"]
    );
    let (_, all) = s
        .post(
            "/api/tech-insights/checks/run/default/component/checkout-web",
            "",
        )
        .await;
    assert_eq!(by_id(&all).len(), 12, "{all}");

    // Outcomes: exempt passes, no_data fails visibly, skipped is left out.
    let (_, legacy) = s
        .post(
            "/api/tech-insights/checks/run/default/component/legacy-reports",
            "{}",
        )
        .await;
    let legacy = by_id(&legacy);
    let exempt = &legacy["production-readiness/has-codeowners"];
    assert_eq!(exempt["result"], true);
    assert_eq!(exempt["check"]["metadata"]["status"], "exempt");
    assert!(
        exempt["check"]["metadata"]["exemptUntil"].is_string(),
        "{exempt}"
    );
    let no_data = legacy
        .values()
        .find(|r| r["check"]["metadata"]["status"] == "no_data")
        .expect("legacy-reports has a no_data rule");
    assert_eq!(no_data["result"], false);
    let (_, domain) = s
        .post(
            "/api/tech-insights/checks/run/default/domain/payments-domain",
            "{}",
        )
        .await;
    assert!(
        by_id(&domain)
            .keys()
            .all(|id| !id.starts_with("production-readiness/")),
        "a domain is out of production-readiness's scope: {domain}"
    );

    // Refs match in any case; a Cortex descriptor's entity by its tag as the name.
    let (_, lower) = s
        .post(
            "/api/tech-insights/checks/run/default/component/checkout-web",
            "{}",
        )
        .await;
    let (status, upper) = s
        .post(
            "/api/tech-insights/checks/run/DEFAULT/COMPONENT/Checkout-Web",
            "{}",
        )
        .await;
    assert_eq!((status, &upper), (200, &lower));
    let (status, cortex) = s
        .post(
            "/api/tech-insights/checks/run/default/Component/payments-api",
            "{}",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_id(&cortex).len(), 13, "{cortex}");

    let (status, body) = s
        .post(
            "/api/tech-insights/checks/run/default/component/no-such-entity",
            "{}",
        )
        .await;
    assert_backstage_error(status, &body, 404, "NotFoundError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_runs_cover_named_entities_or_all_with_results() {
    let s = Sample::start().await;

    let (status, all) = s
        .post("/api/tech-insights/checks/run", r#"{"entities": []}"#)
        .await;
    assert_eq!(status, 200, "{all}");
    let all = all.as_array().unwrap();
    let mut refs: Vec<&str> = all.iter().map(|e| e["entity"].as_str().unwrap()).collect();
    refs.sort_unstable();
    assert_eq!(
        refs,
        [
            "component:default/billing-core",
            "component:default/checkout-web",
            "component:default/identity",
            "component:default/ledger",
            "component:default/legacy-reports",
            "component:default/notifications",
            "component:default/payments-api",
            "component:default/search-indexer",
            "domain:default/payments-domain",
        ]
    );
    for e in all {
        let tag = e["entity"].as_str().unwrap().rsplit('/').next().unwrap();
        assert_same_as_native(&s, tag, &e["results"]).await;
    }

    // Objects and ref strings, raw kinds, one unknown, the checks named.
    let (status, some) = s
        .post(
            "/api/tech-insights/checks/run",
            json!({"entities": [
                {"namespace": "default", "kind": "Component", "name": "checkout-web"},
                "component:default/ledger",
                "Component:Default/Identity",
                {"kind": "component", "name": "ghost"},
            ], "checks": ["coverage-maturity/coverage-50"]})
            .to_string(),
        )
        .await;
    assert_eq!(status, 200, "{some}");
    let some = some.as_array().unwrap();
    assert_eq!(some.len(), 4);
    assert_eq!(some[0]["entity"], "component:default/checkout-web");
    assert_eq!(some[2]["entity"], "component:default/Identity");
    for e in &some[..3] {
        let ids: Vec<&str> = e["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["check"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["coverage-maturity/coverage-50"], "{e}");
    }
    assert_eq!(some[3]["results"], json!([]));
    assert_eq!(some[3]["error"]["name"], "NotFoundError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_and_fact_schemas_are_the_values_the_rules_read() {
    let s = Sample::start().await;

    let (status, schemas) = s.get("/api/tech-insights/fact-schemas").await;
    assert_eq!(status, 200, "{schemas}");
    let ids: Vec<&str> = schemas
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["catalog", "codecov"]);
    let codecov = &schemas[1];
    assert_eq!(codecov["codecov.codeCoverage()"]["type"], "float");
    assert_eq!(codecov["coverage"]["type"], "float", "the history's fact");
    assert!(codecov["version"].is_string());
    let (_, only) = s.get("/api/tech-insights/fact-schemas?ids[]=catalog").await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["id"], "catalog");

    // `ids` in every qs form; the entity as the client encodes it, raw, or in another case.
    let native = s.native_rules("checkout-web").await;
    let coverage = native
        .iter()
        .flat_map(|(_, r)| r["inputs"].as_array().cloned().unwrap_or_default())
        .find(|i| i["fact"] == "codecov.codeCoverage()")
        .expect("checkout-web reads its coverage")["value"]
        .clone();
    for query in [
        "entity=component%3Adefault%2Fcheckout-web&ids%5B0%5D=codecov&ids%5B1%5D=catalog",
        "entity=component:default/checkout-web&ids[]=codecov&ids[]=catalog",
        "entity=Component:default/Checkout-Web&ids=codecov&ids=catalog",
    ] {
        let (status, facts) = s
            .get(&format!("/api/tech-insights/facts/latest?{query}"))
            .await;
        assert_eq!(status, 200, "{query}: {facts}");
        assert_eq!(
            facts["codecov"]["facts"]["codecov.codeCoverage()"], coverage,
            "{query}: {facts}"
        );
        assert_eq!(facts["codecov"]["id"], "codecov");
        assert_eq!(
            facts["codecov"]["entity"],
            json!({"kind": "component", "namespace": "default", "name": "checkout-web"})
        );
        assert_eq!(facts["catalog"]["facts"]["entity.type()"], "website");
        assert!(
            facts["codecov"]["timestamp"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-22")
        );
    }
    let (status, none) = s
        .get("/api/tech-insights/facts/latest?entity=component:default/checkout-web&ids[0]=datadog")
        .await;
    assert_eq!((status, none), (200, json!({})));

    let (status, body) = s
        .get("/api/tech-insights/facts/latest?entity=component:default/checkout-web")
        .await;
    assert_eq!(
        (status, body),
        (422, json!({"error": "Failed to parse ids from request"}))
    );
    let (status, body) = s
        .get("/api/tech-insights/facts/latest?ids[0]=codecov")
        .await;
    assert_backstage_error(status, &body, 400, "InputError");
    let (status, body) = s
        .get("/api/tech-insights/facts/latest?entity=component:default/ghost&ids[0]=codecov")
        .await;
    assert_backstage_error(status, &body, 404, "NotFoundError");

    // The coverage history between two times, whole days.
    let range = "/api/tech-insights/facts/range?entity=component%3Adefault%2Fcheckout-web&ids%5B0%5D=codecov";
    let (status, days) = s
        .get(&format!(
            "{range}&startDatetime=2026-11-15T12:00:00.000Z&endDatetime=2026-11-20T00:00:00.000Z"
        ))
        .await;
    assert_eq!(status, 200, "{days}");
    let points = days["codecov"].as_array().unwrap();
    let stamps: Vec<&str> = points
        .iter()
        .map(|p| p["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        stamps,
        [
            "2026-11-15T00:00:00Z",
            "2026-11-16T00:00:00Z",
            "2026-11-17T00:00:00Z",
            "2026-11-18T00:00:00Z",
            "2026-11-19T00:00:00Z",
            "2026-11-20T00:00:00Z"
        ]
    );
    assert!(
        points.iter().all(|p| p["facts"]["coverage"].is_number()
            && p["facts"]["repository"] == "acme/checkout-web")
    );
    for (query, field, value) in [
        (
            "&startDatetime=yesterday&endDatetime=2026-11-20",
            "startDatetime",
            json!("yesterday"),
        ),
        ("&startDatetime=2026-11-01", "endDatetime", Value::Null),
        (
            "&startDatetime=2026-11-01&endDatetime=2026-13-45",
            "endDatetime",
            json!("2026-13-45"),
        ),
    ] {
        let (status, body) = s.get(&format!("{range}{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(
            body,
            json!({"message": "Failed to parse datetime from request", "field": field, "value": value})
        );
    }
    let (status, body) = s
        .get("/api/tech-insights/facts/range?entity=component:default/checkout-web&startDatetime=2026-11-01&endDatetime=2026-11-02")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("Failed to parse ids from request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_backstage_errors_not_faults() {
    let s = Sample::start().await;
    let run = "/api/tech-insights/checks/run/default/component/checkout-web";
    for (body, why) in [
        ("{", "not JSON"),
        ("[1, 2]", "not an object"),
        (r#"{"checks": "coverage"}"#, "checks not a list"),
        (r#"{"checks": [1, 2]}"#, "check ids not strings"),
        ("\u{0}\u{1}", "binary"),
    ] {
        let (status, resp) = s.post(run, body).await;
        assert_eq!(status, 400, "{why}: {resp}");
        assert_backstage_error(status, &resp, 400, "InputError");
    }
    for body in [
        r#"{"entities": "all"}"#.to_string(),
        r#"{"entities": [42]}"#.to_string(),
        r#"{"entities": [{"kind": "component"}]}"#.to_string(),
        r#"{"entities": ["component:default/a/b/c"]}"#.to_string(),
        json!({"entities": vec!["a"; 10_001]}).to_string(),
    ] {
        let (status, resp) = s.post("/api/tech-insights/checks/run", body.clone()).await;
        assert_backstage_error(status, &resp, 400, "InputError");
    }
    // Weird ids and refs: answered, never a fault.
    for query in [
        "entity=component:default/checkout-web&ids[99999999999999999999999]=codecov",
        "entity=component:default/checkout-web&ids[0]=%00%FF&ids[1]=..%2F..",
        "entity=%00&ids[0]=codecov",
        "entity=a:b/c/d&ids[0]=codecov",
        &format!("entity={}&ids[0]=codecov", "x".repeat(5000)),
    ] {
        let (status, body) = s
            .get(&format!("/api/tech-insights/facts/latest?{query}"))
            .await;
        assert!(
            matches!(status, 200 | 400 | 404),
            "{query}: {status} {body}"
        );
        if status != 200 {
            assert!(body["error"]["name"].is_string(), "{query}: {body}");
        }
    }
    // Tokens are asked for, as on every API route.
    let fresh = reqwest::Client::new();
    let resp = fresh
        .get(format!("{}/api/tech-insights/checks", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Larger than the server's body limit (last: the server closes that connection).
    let resp = fresh
        .post(format!("{}{run}", s.url))
        .bearer_auth(TOKEN)
        .body(format!("{{\"checks\": [\"{}\"]}}", "x".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

/// Outcomes the sample does not have (an evaluation error), and stored rules no configured
/// scorecard states any more, through the fake evaluator.
#[tokio::test]
async fn errors_stay_visible_and_stored_rules_outlive_their_configuration() {
    let fake = Fake::new(&["api"]);
    fake.set(
        "coverage",
        store::entity(
            "api",
            None,
            0.0,
            &[
                ("Has coverage", "error"),
                ("Coverage >= 80", "pass"),
                ("Scoped", "skipped"),
            ],
        ),
    );
    let (db, srv) = crate::support::server::on_sqlite(std::sync::Arc::new(fake), false).await;
    let (status, _) = body_of(
        srv.post(
            "/api/v1/scorecards/coverage/entities/api/evaluate",
            Some(crate::support::server::ADMIN),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let resp = srv
        .client
        .post(format!(
            "{}/api/tech-insights/checks/run/default/Component/api",
            srv.url
        ))
        .bearer_auth(READ)
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, results) = body_of(resp).await;
    assert_eq!(status, 200, "{results}");
    let results = by_id(&results);
    assert_eq!(
        results.keys().collect::<Vec<_>>(),
        ["coverage/coverage-80", "coverage/has-coverage"]
    );
    let error = &results["coverage/has-coverage"];
    assert_eq!(error["result"], false);
    assert_eq!(error["check"]["metadata"]["status"], "error");
    assert_eq!(error["check"]["metadata"]["error"], "Has coverage: error");
    assert_eq!(results["coverage/coverage-80"]["result"], true);
    db.finish().await;
}

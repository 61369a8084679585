//! The service answers what `rubric eval` answers: the sample catalog through `rubric demo
//! --format json` and through `rubric serve --fixture` (on-demand evaluation, then the stored
//! result the API serves), compared field by field.

use std::time::Duration;

use serde_json::Value;

use crate::support::rubric;

const NOW: &str = "2026-11-22T06:00:00Z";
const TOKEN: &str = "parity-token-0001";

/// Records in `out` every key whose value differs between `a` (eval) and `b` (the service), or
/// the two values when they are not objects.
fn differences(context: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        if a != b {
            out.push(format!("{context}: {a} vs {b}"));
        }
        return;
    };
    for key in a.keys().chain(b.keys()) {
        if a.get(key) != b.get(key) {
            out.push(format!(
                "{context}.{key}: eval {:?} vs service {:?}",
                a.get(key),
                b.get(key)
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_and_eval_agree_field_by_field_on_the_sample_catalog() {
    let demo = rubric()
        .args(["demo", "--format", "json"])
        .env("RUBRIC_NOW", NOW)
        .run_async()
        .await
        .expect_code(0)
        .json();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("parity.db").display());
    let (_server, url) = rubric()
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
        .env("RUBRIC_API_TOKENS", format!("parity:admin:{TOKEN}"))
        .listen()
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let mut compared = 0;
    let mut diffs = Vec::new();
    for card in demo["scorecards"].as_array().expect("scorecards") {
        let tag = card["tag"].as_str().expect("scorecard tag");
        for entity in card["entities"].as_array().expect("entities") {
            let name = entity["entity"].as_str().expect("entity tag");
            let run = format!("{url}/api/v1/scorecards/{tag}/entities/{name}/evaluate");
            let answer = http.post(&run).bearer_auth(TOKEN).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{run}");
            let fresh: Value = answer.json().await.unwrap();

            let stored: Value = http
                .get(format!("{url}/api/v1/entities/{name}/scorecards"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let stored = stored["scorecards"]
                .as_array()
                .and_then(|all| all.iter().find(|s| s["scorecard"] == tag))
                .unwrap_or_else(|| panic!("{name} has a stored {tag} result"));

            for (view, what) in [(&fresh, "evaluate"), (stored, "stored")] {
                let at = format!("{tag}/{name} ({what})");
                for (field, service) in [
                    ("level", &view["level"]["name"]),
                    ("rank", &view["level"]["rank"]),
                    ("next_level", &view["next_level"]),
                    ("score", &view["score"]),
                    ("max_score", &view["max_score"]),
                    ("percentage", &view["percentage"]),
                    ("next_steps", &view["next_steps"]),
                ] {
                    differences(
                        &format!("{at}.{field}"),
                        &entity[field],
                        service,
                        &mut diffs,
                    );
                }
                let (ours, theirs) = (entity["rules"].as_array(), view["rules"].as_array());
                let (ours, theirs) = (ours.expect("eval rules"), theirs.expect("service rules"));
                assert_eq!(ours.len(), theirs.len(), "{at}: rule count");
                for (a, b) in ours.iter().zip(theirs) {
                    differences(&format!("{at} rule {}", a["title"]), a, b, &mut diffs);
                    compared += 1;
                }
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    assert!(compared >= 40, "only {compared} rules compared");
    // The fields the issue names are there to compare, not only absent on both sides.
    let rules: Vec<&Value> = demo["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["entities"].as_array().unwrap())
        .flat_map(|e| e["rules"].as_array().unwrap())
        .collect();
    for key in ["failure_message", "identifier", "inputs", "exempt_until"] {
        assert!(
            rules.iter().any(|r| !r[key].is_null()),
            "no rule of the sample carries {key}"
        );
    }
}

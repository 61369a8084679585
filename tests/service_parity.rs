//! The service answers what `rubric eval` answers: the sample catalog through `rubric demo
//! --format json` and through `rubric serve --fixture` (on-demand evaluation, then the stored
//! result the API serves), compared field by field.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const NOW: &str = "2026-11-22T06:00:00Z";
const TOKEN: &str = "parity-token-0001";

/// `rubric serve` killed when the test ends, however it ends.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_fixture(store: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rubric"))
        .args(["serve", "--fixture", "--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite://{}", store.display()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUBRIC_NOW", NOW)
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .env("RUBRIC_API_TOKENS", format!("parity:admin:{TOKEN}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rubric serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("rubric serve: http://") {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(format!("http://{addr}"));
            }
        }
    });
    let url = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => url,
        Err(_) => {
            let _ = child.kill();
            panic!("rubric serve did not announce its address within 60 s");
        }
    };
    Server { child, url }
}

fn demo_json() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_rubric"))
        .args(["demo", "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUBRIC_NOW", NOW)
        .output()
        .expect("rubric demo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("demo prints JSON")
}

/// Every key of `a` and `b` (both rule objects) with equal values; the differences otherwise.
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
    let demo = demo_json();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_fixture(&dir.path().join("parity.db"));
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
            let url = format!(
                "{}/api/v1/scorecards/{tag}/entities/{name}/evaluate",
                server.url
            );
            let answer = http.post(&url).bearer_auth(TOKEN).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{url}");
            let fresh: Value = answer.json().await.unwrap();

            let url = format!("{}/api/v1/entities/{name}/scorecards", server.url);
            let stored: Value = http
                .get(&url)
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

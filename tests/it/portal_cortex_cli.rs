//! The real Cortex CLI (`cortexapps-cli` 1.52.0, installed by `.ci/run` with
//! `scripts/ci-cortex-cli.sh`) against `rubric serve` on the sample catalog with its offline
//! fixture, pointed at it only by `CORTEX_BASE_URL=http://host/cortex` and `CORTEX_API_KEY`.
//! Every command's output is checked against what rubric's own API says of the stored results.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::{root, rubric};

const TOKEN: &str = "cortex-cli-token-0001";

/// Where `scripts/ci-cortex-cli.sh` installed the `cortex` executable.
fn cortex_cli() -> PathBuf {
    match std::env::var("RUBRIC_TEST_CORTEX_CLI") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "RUBRIC_TEST_CORTEX_CLI is not set, and these tests never pass without the real \
             Cortex CLI: run `eval \"$(scripts/ci-cortex-cli.sh)\"` first"
        ),
    }
}

/// What one run of the CLI printed and how it ended.
struct Output {
    code: Option<i32>,
    stdout: String,
    text: String,
}

impl Output {
    /// Its standard output as JSON (after a successful run).
    fn json(&self) -> Value {
        assert_eq!(self.code, Some(0), "{}", self.text);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// The CLI at `base` (`http://host`), with a HOME of its own so that it reads no user config.
struct Cortex {
    exe: PathBuf,
    base: String,
    home: tempfile::TempDir,
}

impl Cortex {
    /// Runs `cortex ARGS` to its end within a bound.
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("CORTEX_BASE_URL", format!("{}/cortex", self.base))
            .env("CORTEX_API_KEY", TOKEN)
            // rich wraps at the terminal width; a wide one keeps messages on one line.
            .env("COLUMNS", "400")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("cortex {args:?} did not finish within 90 s"))
            .unwrap_or_else(|e| panic!("cortex {args:?} did not start: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let text = format!(
            "cortex {args:?} ({:?}):\n{stdout}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        Output {
            code: out.status.code(),
            stdout,
            text,
        }
    }
}

/// GET a JSON document of rubric's own API.
async fn native_json(http: &reqwest::Client, url: String) -> Value {
    let resp = http.get(url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// rubric's own view of an entity's stored result in a scorecard.
async fn native(http: &reqwest::Client, base: &str, entity: &str, scorecard: &str) -> Value {
    let all = native_json(http, format!("{base}/api/v1/entities/{entity}/scorecards")).await;
    all["scorecards"]
        .as_array()
        .and_then(|list| list.iter().find(|s| s["scorecard"] == scorecard))
        .unwrap_or_else(|| panic!("{entity} has a stored {scorecard} result: {all}"))
        .clone()
}

/// The Cortex summary of a result agrees with the stored one (percent as a fraction).
fn same_totals(cortex: (&Value, &Value, &Value), stored: &Value, what: &str) {
    assert_eq!(cortex.0, &stored["score"], "{what}");
    assert_eq!(cortex.1, &stored["max_score"], "{what}");
    let want = stored["percentage"].as_f64().unwrap_or(0.0) / 100.0;
    let got = cortex.2.as_f64().unwrap_or(f64::NAN);
    assert!((got - want).abs() < 1e-9, "{what}: {got} vs {want}");
}

fn file(path: &str) -> PathBuf {
    root().join(path)
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(rubric_client_tests),
    ignore = "the client tests need RUBRIC_TEST_CORTEX_CLI (run `eval \"$(scripts/ci-cortex-cli.sh)\"` first)"
)]
async fn the_cortex_cli_reads_rubric_results_unchanged() {
    let exe = cortex_cli();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("cortex.db").display());
    let (_server, base) = rubric()
        .args([
            "serve",
            "--fixture",
            "--bind",
            "127.0.0.1:0",
            "--store",
            &store,
        ])
        .env("RUBRIC_SCHEDULE_ENABLED", "false")
        .env("RUBRIC_API_TOKENS", format!("cli:admin:{TOKEN}"))
        .listen()
        .await;
    let cortex = Cortex {
        exe,
        base: base.clone(),
        home: tempfile::tempdir().unwrap(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    // trigger-evaluation: the runs that store the results read below (a raw Backstage ref too).
    let evaluated = [
        ("coverage-maturity", "payments-api"),
        ("coverage-maturity", "component:default/checkout-web"),
        ("production-readiness", "payments-api"),
    ];
    for (card, entity) in evaluated {
        let out = cortex
            .run(&["scorecards", "trigger-evaluation", "-s", card, "-e", entity])
            .await;
        assert_eq!(out.code, Some(0), "{}", out.text);
        assert!(
            out.stdout.contains("triggered successfully"),
            "{}",
            out.text
        );
    }

    // scorecards list: pages until totalPages == page + 1 (drafts hidden, as Cortex).
    let list = cortex.run(&["scorecards", "list"]).await.json();
    let tags: Vec<&str> = list["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        ["coverage-maturity", "production-readiness"],
        "{list}"
    );

    // scorecards get: the definition, levels numbered from the top.
    let got = cortex
        .run(&["scorecards", "get", "-s", "coverage-maturity"])
        .await
        .json();
    let native_list = native_json(&http, format!("{base}/api/v1/scorecards")).await;
    let native_card = native_list["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tag"] == "coverage-maturity")
        .unwrap();
    let names = |levels: &Value, key: &str| -> Vec<String> {
        levels
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.pointer(key).and_then(Value::as_str).unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&got["scorecard"]["levels"], "/level/name"),
        names(&native_card["levels"], "/name")
    );
    assert_eq!(got["scorecard"]["name"], native_card["name"]);
    assert!(!got["scorecard"]["rules"].as_array().unwrap().is_empty());

    // scorecards scores: one ServiceScore per stored result, nested totals.
    let scores = cortex
        .run(&["scorecards", "scores", "-s", "coverage-maturity"])
        .await
        .json();
    let listed = scores["serviceScores"].as_array().unwrap();
    let mut entities: Vec<&str> = listed
        .iter()
        .map(|s| s["service"]["tag"].as_str().unwrap())
        .collect();
    entities.sort();
    assert_eq!(entities, ["checkout-web", "payments-api"], "{scores}");
    for one in listed {
        let entity = one["service"]["tag"].as_str().unwrap();
        let stored = native(&http, &base, entity, "coverage-maturity").await;
        let s = &one["score"]["summary"];
        same_totals(
            (&s["score"], &s["totalPossibleScore"], &s["percentage"]),
            &stored,
            entity,
        );
        let level = one["score"]["ladderLevels"][0]["level"]["name"].as_str();
        assert_eq!(level, stored["level"]["name"].as_str(), "{entity}");
    }

    // catalog scorecard-scores: the entity page's flat view.
    let flat = cortex
        .run(&["catalog", "scorecard-scores", "-t", "payments-api"])
        .await
        .json();
    let flat = flat.as_array().unwrap();
    assert_eq!(flat.len(), 2, "{flat:?}");
    for item in flat {
        let card = item["scorecardTag"].as_str().unwrap();
        let stored = native(&http, &base, "payments-api", card).await;
        same_totals(
            (
                &item["score"],
                &item["totalPossibleScore"],
                &item["scorePercentage"],
            ),
            &stored,
            card,
        );
    }

    // scorecards next-steps: the stored next steps of an entity below the top level.
    let stored = native(&http, &base, "checkout-web", "coverage-maturity").await;
    let steps = cortex
        .run(&[
            "scorecards",
            "next-steps",
            "-s",
            "coverage-maturity",
            "-t",
            "checkout-web",
        ])
        .await
        .json();
    let step = &steps["nextSteps"][0];
    assert_eq!(
        step["nextLevel"]["level"]["name"].as_str(),
        stored["next_level"].as_str()
    );
    let titles: Vec<&Value> = step["rulesToComplete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["title"])
        .collect();
    let want: Vec<&Value> = stored["next_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["title"])
        .collect();
    assert_eq!(titles, want, "{steps}");

    // scorecards shield: shields.io markdown over rubric's own badge document.
    let shield = cortex
        .run(&[
            "scorecards",
            "shield",
            "-s",
            "coverage-maturity",
            "-t",
            "payments-api",
        ])
        .await
        .json();
    let value = shield["value"].as_str().unwrap();
    assert!(value.contains("img.shields.io"), "{value}");
    assert!(
        value.contains("%2Fbadge%2Fcoverage-maturity%2Fpayments-api.json"),
        "{value}"
    );

    // catalog list (paged until totalPages == page + 1) and details, by tag and by raw ref.
    let listed = cortex.run(&["catalog", "list"]).await.json();
    let tags: Vec<&str> = listed["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tag"].as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"payments-api") && tags.contains(&"checkout-web"),
        "{listed}"
    );
    for tag in ["payments-api", "component:default/checkout-web"] {
        let details = cortex.run(&["catalog", "details", "-t", tag]).await.json();
        assert!(tag.ends_with(details["tag"].as_str().unwrap()), "{details}");
    }

    // scorecards create --dry-run: a valid file passes silently (the CLI prints nothing on
    // success) and exits 0; an invalid one is refused with each problem at its line and column,
    // and the CLI exits 1 as it does for any refused request, so a CI step stops on it.
    let good = file("scorecards/coverage-maturity.yaml");
    let out = cortex
        .run(&["scorecards", "create", "-f", arg(&good), "--dry-run"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(!out.text.contains("Error"), "{}", out.text);
    let bad = file("tests/clients/cortex/invalid-scorecard.yaml");
    let out = cortex
        .run(&["scorecards", "create", "-f", arg(&bad), "--dry-run"])
        .await;
    assert_eq!(out.code, Some(1), "{}", out.text);
    for shown in [
        "HTTP Error 400: Validation failed",
        "line 12, column 39",
        "expected an expression",
        "line 17, column 12",
        "level `Platinum` is not in the ladder",
    ] {
        assert!(out.stdout.contains(shown), "{shown:?} in {}", out.text);
    }
    // Without --dry-run nothing is saved, and the CLI says why.
    let out = cortex
        .run(&["scorecards", "create", "-f", arg(&good)])
        .await;
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(out.stdout.contains("HTTP Error 403"), "{}", out.text);
    let after = cortex
        .run(&["scorecards", "list", "--show-drafts"])
        .await
        .json();
    assert_eq!(after["total"], 3, "{after}");
}

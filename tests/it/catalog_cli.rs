//! `rubric catalog` end to end: the real binary over real files.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::{fixture, rubric};

fn fixtures(name: &str) -> PathBuf {
    fixture("catalog").join(name)
}

#[test]
fn json_has_the_contract_shape_for_the_sample_catalog() {
    let out = rubric()
        .args(["catalog", "--catalog", "entities", "--format", "json"])
        .run();
    let (code, stdout, stderr) = (out.code(), out.stdout(), out.stderr());
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["errors"], json!([]));
    assert_eq!(v["warnings"], json!([]));
    let entities = v["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 9);
    let billing = entities
        .iter()
        .find(|e| e["tag"] == "billing-core")
        .unwrap();
    assert_eq!(
        billing,
        &json!({
            "tag": "billing-core",
            "source": {"file": "platform/cortex.yaml", "line": 3},
            "type": "service",
            "repository": {"provider": "github", "host": "github.com", "owner": "acme", "name": "platform", "basepath": "packages/billing"},
            "codecov": {"service": "github", "owner": "acme", "repo": "platform", "flag": "billing", "account": null, "mapped_by": "descriptor"},
            "unmapped_reason": null
        })
    );
    let domain = entities
        .iter()
        .find(|e| e["tag"] == "payments-domain")
        .unwrap();
    assert_eq!(domain["codecov"], Value::Null);
    assert_eq!(domain["repository"], Value::Null);
    assert_eq!(domain["unmapped_reason"], "no repository");
    let web = entities
        .iter()
        .find(|e| e["tag"] == "checkout-web")
        .unwrap();
    assert_eq!(web["codecov"]["mapped_by"], "annotation");
    assert_eq!(
        web["source"],
        json!({"file": "web/catalog-info.yaml", "line": 2})
    );
    for e in entities {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "tag",
                "source",
                "type",
                "repository",
                "codecov",
                "unmapped_reason"
            ]
        );
    }
}

/// The table follows the width rule of `rubric eval`: every line fits `COLUMNS` (100 when unset
/// and piped), a table when it fits, else one block per entity, and no value is split.
#[test]
fn table_fits_columns_and_keeps_values_whole() {
    use unicode_width::UnicodeWidthStr;
    for (columns, width) in [(None, 100), (Some("60"), 60), (Some("200"), 200)] {
        let mut cmd = rubric().args(["catalog", "--catalog", "entities"]);
        if let Some(columns) = columns {
            cmd = cmd.env("COLUMNS", columns);
        }
        let out = cmd.run();
        let (code, stdout) = (out.code(), out.stdout());
        assert_eq!(code, 0, "{stdout}");
        for line in stdout.lines() {
            assert!(line.width() <= width, "{columns:?}: {line:?}");
        }
        let shown: Vec<&str> = stdout.split_whitespace().collect();
        for value in [
            "github.com/acme/platform",
            "(packages/identity)",
            "platform/legacy-reports.yaml:2",
            "gitlab/acme/search-indexer",
        ] {
            assert!(shown.contains(&value), "{columns:?}: {value} in\n{stdout}");
        }
        assert_eq!(stdout.contains('│'), width == 200, "{stdout}");
    }
}

#[test]
fn table_lists_entities_then_problems_and_exits_1_on_errors() {
    let dir = fixtures("mixed");
    let out = rubric()
        .args(["catalog", "--catalog", dir.to_str().unwrap()])
        .run();
    let (code, stdout, stderr) = (out.code(), out.stdout(), out.stderr());
    assert_eq!(code, 1, "{stdout}{stderr}");
    for needle in [
        "github/acme/good",
        "discovery",
        "unmapped: flag without provider",
        "github_enterprise/platform/ghe-service",
        "error: malformed YAML",
        "broken.yaml:5:16",
        "warning: unknown Cortex key `x-cortex-static-analysys`",
        "= hint: did you mean x-cortex-static-analysis?",
        "Location target `../../outside/extra.yaml` is outside the catalog folder",
        "3 entities: 2 mapped, 1 unmapped;",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }

    let out = rubric()
        .args([
            "catalog",
            "--catalog",
            dir.to_str().unwrap(),
            "--format",
            "json",
        ])
        .run();
    let (code, stdout) = (out.code(), out.stdout());
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let errors = v["errors"].as_array().unwrap();
    let broken = errors
        .iter()
        .find(|e| e["file"].as_str().unwrap().ends_with("broken.yaml"))
        .unwrap();
    assert_eq!(
        (broken["line"].as_u64(), broken["column"].as_u64()),
        (Some(5), Some(16))
    );
    assert!(
        broken["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed YAML")
    );
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["hint"] == "did you mean codecov.io/repo?")
    );
}

#[test]
fn a_missing_catalog_folder_is_a_configuration_error_exit_2_as_in_eval() {
    for command in ["catalog", "eval"] {
        let out = rubric()
            .args([command, "--catalog", "no-such-dir", "--format", "json"])
            .run();
        assert_eq!(out.code(), 2, "{command}");
        assert_eq!(out.stdout(), "", "{command}: nothing is printed");
        assert!(
            out.stderr()
                .contains("the catalog folder no-such-dir does not exist (give --catalog DIR"),
            "{command}: {}",
            out.stderr()
        );
    }
}

/// Help texts say what a thing is, not which issue it came from.
#[test]
fn help_texts_do_not_point_at_issues() {
    for command in [
        "catalog",
        "eval",
        "demo",
        "gate",
        "scorecard",
        "cql",
        "providers",
        "sync",
        "serve",
    ] {
        let help = rubric()
            .args([command, "--help"])
            .run()
            .expect_code(0)
            .stdout();
        assert!(!help.contains("issue"), "rubric {command} --help: {help}");
    }
    let help = rubric().args(["catalog", "--help"]).run().stdout();
    assert!(help.contains("JSON: `{\"entities\""), "{help}");
}

/// `rubric ... | head -c 0`: the reader is gone before rubric writes; every command ends quietly.
#[test]
fn commands_end_quietly_on_a_closed_pipe() {
    let commands: [&[&str]; 3] = [
        &["catalog", "--catalog", "entities", "--format", "json"],
        &["catalog", "--catalog", "entities"],
        &["cql", "functions"],
    ];
    for args in commands {
        let mut running = rubric()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        drop(running.child.stdout.take());
        let out = running.finish();
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
        let stderr = out.stderr();
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

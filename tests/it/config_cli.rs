//! `rubric config show`, `rubric completions` and unknown configuration (warnings, `--strict`),
//! end to end.

use std::path::{Path, PathBuf};

use rubric::providers::secrets::last_four;
use serde_json::{Value, json};

use crate::support::rubric;

/// A configuration file with a known key, a misspelt one and a misspelt section.
fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("rubric.toml");
    std::fs::write(
        &path,
        "[server]\nbind = \"0.0.0.0:9000\"\nbnd = \"0.0.0.0:9001\"\n[servr]\nbind = \"x\"\n",
    )
    .unwrap();
    path
}

#[test]
fn completions_cover_every_subcommand_for_each_shell() {
    for (shell, opening) in [
        ("bash", "_rubric()"),
        ("zsh", "#compdef rubric"),
        ("fish", "complete -c rubric"),
    ] {
        let out = rubric().args(["completions", shell]).run().expect_code(0);
        let script = out.stdout();
        assert!(script.contains(opening), "{shell}: {script}");
        for word in ["config", "completions", "catalog", "strict", "format"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
        assert_eq!(out.stderr(), "");
    }
    let out = rubric().args(["completions", "tcsh"]).run().expect_code(2);
    assert!(out.stderr().contains("bash"), "{}", out.stderr());
}

#[test]
fn config_show_names_the_source_of_every_value_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(dir.path());
    let token = "codecov-0123456789-abcdef";
    let out = rubric()
        .arg("--config")
        .arg(&path)
        .args(["config", "show"])
        .envs(&[
            ("RUBRIC_CODECOV_URL", "http://127.0.0.1:9000"),
            ("RUBRIC_STORE_URL", "postgres://rubric:hunter2@db/rubric"),
            ("CODECOV_TOKEN", token),
        ])
        .run()
        .expect_code(0);
    let text = out.stdout();
    let file = path.display();
    for line in [
        format!("server.bind = \"0.0.0.0:9000\"  (file {file})"),
        "codecov.url = \"http://127.0.0.1:9000\"  (env RUBRIC_CODECOV_URL)".into(),
        "codecov.concurrency = 16  (default)".into(),
        "store.url = \"postgres://rubric:****@db/rubric\"  (env RUBRIC_STORE_URL)".into(),
        format!(
            "CODECOV_TOKEN = {}  (codecov.token_env)",
            last_four(&token.to_string().into())
        ),
        "BACKSTAGE_TOKEN not set  (catalog.backstage_token_env)".into(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(!text.contains("hunter2") && !text.contains(token), "{text}");
    assert!(!text.contains("bnd") && !text.contains("servr"), "{text}");
    assert!(text.lines().next().unwrap().starts_with("plugin.name = "));
    assert!(
        out.stderr().contains("did you mean server.bind?"),
        "{}",
        out.stderr()
    );
}

#[test]
fn config_show_json_is_one_document_beside_the_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(dir.path());
    let out = rubric()
        .arg("--config")
        .arg(&path)
        .args(["config", "show", "--format", "json"])
        .envs(&[
            ("RUBRIC_CATALOG_BACKSTAGE_FILTER", r#"["kind=component"]"#),
            ("RUBRIC_CODECOV_URLL", "http://127.0.0.1:9000"),
            ("RUBRIC_LOG", "warn"),
        ])
        .run()
        .expect_code(0);
    let v = out.json();
    let setting = |key: &str| -> Value {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .clone()
    };
    assert_eq!(
        setting("catalog.backstage_filter"),
        json!({"key": "catalog.backstage_filter", "value": ["kind=component"], "source": "env", "variable": "RUBRIC_CATALOG_BACKSTAGE_FILTER"})
    );
    assert_eq!(
        setting("server.bind"),
        json!({"key": "server.bind", "value": "0.0.0.0:9000", "source": "file", "path": path})
    );
    assert_eq!(
        setting("codecov.accounts"),
        json!({"key": "codecov.accounts", "value": [], "source": "default"})
    );
    assert!(v["secrets"].as_array().unwrap().contains(&json!(
        {"variable": "CODECOV_TOKEN", "key": "codecov.token_env", "last_four": null}
    )));
    assert_eq!(
        v["unknown"],
        json!([
            {"name": "server.bnd", "source": "file", "path": path, "suggestion": "server.bind"},
            {"name": "servr", "source": "file", "path": path, "suggestion": "server"},
            {"name": "RUBRIC_CODECOV_URLL", "source": "env", "variable": "RUBRIC_CODECOV_URLL", "suggestion": "RUBRIC_CODECOV_URL"},
        ])
    );
    let warnings: Vec<String> = out.stderr().lines().map(str::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!(
                "warning: unknown configuration key server.bnd in {} (did you mean server.bind?)",
                path.display()
            ),
            format!(
                "warning: unknown configuration section servr in {} (did you mean server?)",
                path.display()
            ),
            "warning: unknown configuration variable RUBRIC_CODECOV_URLL (did you mean RUBRIC_CODECOV_URL?)".into(),
        ]
    );
}

#[test]
fn unknown_keys_warn_on_every_command_and_strict_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rubric.toml");
    std::fs::write(&path, "[server]\nbnd = \"0.0.0.0:9001\"\n").unwrap();
    let catalog = |strict: bool, file: Option<&Path>, var: Option<(&str, &str)>| {
        let mut cmd = rubric();
        if strict {
            cmd = cmd.arg("--strict");
        }
        if let Some(file) = file {
            cmd = cmd.arg("--config").arg(file);
        }
        if let Some((k, v)) = var {
            cmd = cmd.env(k, v);
        }
        cmd.args(["catalog", "--format", "json"]).run()
    };

    let out = catalog(false, Some(&path), None).expect_code(0);
    assert_eq!(out.json()["errors"], json!([]));
    assert!(
        out.stderr()
            .contains("warning: unknown configuration key server.bnd in "),
        "{}",
        out.stderr()
    );
    let out = catalog(true, Some(&path), None).expect_code(2);
    assert_eq!(out.stdout(), "");
    assert!(
        out.stderr().starts_with(&format!(
            "error: unknown configuration key server.bnd in {} (did you mean server.bind?)",
            path.display()
        )),
        "{}",
        out.stderr()
    );

    let typo = Some(("RUBRIC_CODECOV_URLL", "http://127.0.0.1:9000"));
    let out = catalog(false, None, typo).expect_code(0);
    assert!(
        out.stderr().contains("did you mean RUBRIC_CODECOV_URL?"),
        "{}",
        out.stderr()
    );
    let out = catalog(true, None, typo).expect_code(2);
    assert!(
        out.stderr()
            .contains("error: unknown configuration variable RUBRIC_CODECOV_URLL"),
        "{}",
        out.stderr()
    );

    // What is not configuration stays quiet: the log filter, the clock, and secrets' variables.
    for var in [
        ("RUBRIC_LOG", "warn"),
        ("RUBRIC_NOW", "2026-11-22T06:00:00Z"),
        ("RUBRIC_API_TOKENS", "portal:read:0123456789abcdef"),
    ] {
        let out = catalog(true, None, Some(var)).expect_code(0);
        assert_eq!(out.stderr(), "", "{var:?}");
    }
}

//! The uploaders teams already run, installed from their registries by `.ci/run`
//! (`scripts/ci-upload-clients.sh`), upload to a running `rubric serve` unchanged but for their
//! host and token: codecov-cli (`upload-coverage`, `upload-process` and `--legacy`), the Codacy
//! Python reporter (Cobertura) and the Codacy Node reporter (LCOV on stdin). The stored totals
//! and a scorecard outcome that reads them are checked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::uploads;

/// Where `scripts/ci-upload-clients.sh` installed the clients.
fn clients() -> PathBuf {
    match std::env::var("RUBRIC_TEST_UPLOAD_CLIENTS") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "RUBRIC_TEST_UPLOAD_CLIENTS is not set, and these tests never pass without the real \
             uploaders: run `eval \"$(scripts/ci-upload-clients.sh)\"` first"
        ),
    }
}

/// Runs a client to its end within a bound, feeding `stdin`; panics with its output on failure.
async fn client(mut cmd: tokio::process::Command, stdin: Option<&Path>, what: &str) {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.stdin(match stdin {
        Some(path) => Stdio::from(std::fs::File::open(path).unwrap()),
        None => Stdio::null(),
    });
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 120 s"))
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what}: {}\n{text}", out.status);
    assert!(!text.contains(" error - "), "{what}: {text}");
}

/// A git repository with one commit holding the reports; its commit id.
fn repository(dir: &Path) -> String {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/a.rs"), "fn main() {}\n").unwrap();
    std::fs::write(dir.join("src/app.py"), "x = 1\n").unwrap();
    std::fs::write(
        dir.join("lcov.info"),
        "SF:src/a.rs\nDA:1,1\nDA:2,1\nDA:3,0\nend_of_record\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("coverage.xml"),
        format!(
            r#"<?xml version="1.0" ?>
<coverage version="7.4.0" timestamp="1" line-rate="0.75" branch-rate="0" complexity="0">
	<sources><source>{}</source></sources>
	<packages><package name="src" line-rate="0.75" branch-rate="0" complexity="0"><classes>
		<class name="app.py" filename="src/app.py" complexity="0" line-rate="0.75" branch-rate="0">
			<methods/>
			<lines><line number="1" hits="1"/><line number="2" hits="1"/><line number="3" hits="1"/><line number="4" hits="0"/></lines>
		</class>
	</classes></package></packages>
</coverage>
"#,
            dir.display()
        ),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    git(&["rev-parse", "HEAD"]).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(rubric_client_tests),
    ignore = "the upload client tests need RUBRIC_TEST_UPLOAD_CLIENTS (run `eval \"$(scripts/ci-upload-clients.sh)\"` first)"
)]
async fn the_real_uploaders_reach_the_store_and_the_scorecards() {
    let clients = clients();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let sha = repository(&repo);
    let store = format!("sqlite://{}", dir.path().join("rubric.db").display());
    let (token, _) = uploads::token(&store, "github/acme/api").await;
    let (_server, url) = uploads::serve(&store).await;

    let codecov = |mode: &[&str], flag: &str| {
        let mut cmd = tokio::process::Command::new(clients.join("venv/bin/codecovcli"));
        cmd.current_dir(&repo)
            .env("HOME", dir.path())
            .args(["--enterprise-url", &url, "--disable-telem"])
            .args(mode)
            .args([
                "-t",
                &token,
                "--slug",
                "acme/api",
                "--git-service",
                "github",
            ])
            .args(["-C", &sha, "-B", "main", "-F", flag, "-f", "lcov.info"])
            .args(["--disable-search", "-Z"]);
        cmd
    };
    client(
        codecov(&["upload-coverage"], "unit"),
        None,
        "codecovcli upload-coverage",
    )
    .await;
    client(
        codecov(&["upload-process"], "process"),
        None,
        "codecovcli upload-process",
    )
    .await;
    client(
        codecov(&["upload-coverage", "--legacy"], "legacy"),
        None,
        "codecovcli upload-coverage --legacy",
    )
    .await;

    let mut python = tokio::process::Command::new(clients.join("venv/bin/python-codacy-coverage"));
    python
        .current_dir(&repo)
        .env("CODACY_API_BASE_URL", &url)
        .args(["-t", &token, "-r", "coverage.xml", "-c", &sha, "-d"])
        .arg(&repo);
    client(python, None, "python-codacy-coverage").await;

    let mut node =
        tokio::process::Command::new(clients.join("node/node_modules/.bin/codacy-coverage"));
    node.current_dir(&repo)
        .args(["-e", &url, "-t", &token, "-c", &sha, "-l", "rust"]);
    client(
        node,
        Some(&repo.join("lcov.info")),
        "codacy-coverage (Node)",
    )
    .await;

    let http = reqwest::Client::new();
    let stored: Value = http
        .get(format!(
            "{url}/api/v1/coverage/github/acme/api?commit={sha}"
        ))
        .bearer_auth(uploads::READ)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["branch"], "main", "{stored}");
    let flags = &stored["flags"];
    for flag in ["unit", "process", "legacy", "rust"] {
        assert_eq!(flags[flag]["lines"], 3, "{flag}: {stored}");
        assert_eq!(flags[flag]["hits"], 2, "{flag}: {stored}");
    }
    assert_eq!(flags["python"]["lines"], 4, "{stored}");
    assert_eq!(flags["python"]["hits"], 3, "{stored}");
    // a.rs: 3 lines, 2 hit; app.py: 4 lines, 3 hit.
    assert_eq!(stored["totals"]["files"], 2, "{stored}");
    assert_eq!(stored["totals"]["lines"], 7, "{stored}");
    assert_eq!(stored["totals"]["hits"], 5, "{stored}");

    let report = uploads::eval(&store).await;
    let api = uploads::rules(&report, "api");
    assert_eq!(api[0]["outcome"], "pass", "{api:?}");
    assert_eq!(
        api[0]["message"],
        format!(
            "coverage.total() = 71.43 (github/acme/api@{}), needs >= 60",
            &sha[..7]
        )
    );
}

//! A catalog that tries to make rubric read outside it, or to exhaust it: Location targets
//! leading out (`../../../../etc/passwd`, `/etc/hostname`), `*.yaml` symlinks leading out,
//! folder symlinks and symlink loops, YAML bombs and oversized files. Each is an error (or a
//! warning) on its own file; nothing outside is opened or quoted, and the good entity loads.
//! Through the public load API, the cache, and the `rubric catalog` binary.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rubric::catalog::{Catalog, CatalogCache, CatalogSources};
use rubric::config::Config;
use serde_json::Value;

use crate::support::rubric;

const GOOD: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: good\nspec:\n  type: service\n";

/// A valid entity outside the catalog, with a passwd-like line that must never be echoed.
const SECRET: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: secret\n  description: \"root:x:0:0:root:/root:/bin/bash\"\nspec:\n  type: service\n";

/// Every Location target that leads out of the catalog.
const OUTSIDE_TARGETS: [&str; 5] = [
    "../../../../etc/passwd",
    "/etc/hostname",
    "../../x.yaml",
    "../../secret/secret.yaml",
    "../../secret/fifo.yaml",
];

/// `tmp/cat` is the catalog; `tmp/secret` is outside it.
struct Hostile {
    _tmp: tempfile::TempDir,
    cat: PathBuf,
    secret: PathBuf,
}

fn hostile() -> Hostile {
    let tmp = tempfile::tempdir().unwrap();
    let cat = tmp.path().join("cat");
    let secret = tmp.path().join("secret");
    std::fs::create_dir_all(cat.join("sub")).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("secret.yaml"), SECRET).unwrap();
    std::fs::write(secret.join("passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    // A FIFO blocks whoever opens it: the load finishing proves it was never opened.
    let fifo = std::process::Command::new("mkfifo")
        .arg(secret.join("fifo.yaml"))
        .status()
        .unwrap();
    assert!(fifo.success());

    std::fs::write(cat.join("good.yaml"), GOOD).unwrap();
    let targets: String = OUTSIDE_TARGETS
        .iter()
        .map(|t| format!("    - {t}\n"))
        .collect();
    std::fs::write(
        cat.join("sub/location.yaml"),
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: out\nspec:\n  targets:\n{targets}"
        ),
    )
    .unwrap();
    symlink(secret.join("secret.yaml"), cat.join("link.yaml")).unwrap();
    symlink(secret.join("passwd"), cat.join("passwd.yaml")).unwrap();
    symlink("/etc/passwd", cat.join("etc-passwd.yaml")).unwrap();
    symlink(secret.join("fifo.yaml"), cat.join("fifo.yaml")).unwrap();
    symlink(&secret, cat.join("folder-out")).unwrap();
    symlink(&cat, cat.join("sub/folder-loop")).unwrap();
    symlink("loop-b.yaml", cat.join("loop-a.yaml")).unwrap();
    symlink("loop-a.yaml", cat.join("loop-b.yaml")).unwrap();
    Hostile {
        _tmp: tmp,
        cat,
        secret,
    }
}

/// Runs `f` on another thread and waits at most a minute: a hang fails the test.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("loading the catalog hung")
}

fn load(cat: &Path, allowed: &[PathBuf]) -> Catalog {
    let (cat, allowed) = (cat.to_path_buf(), allowed.to_vec());
    bounded(move || Catalog::load_with_roots(&cat, &allowed, &[]))
}

fn tags(c: &Catalog) -> Vec<&str> {
    let mut t: Vec<&str> = c.entities.iter().map(|e| e.tag.as_str()).collect();
    t.sort_unstable();
    t
}

/// The whole report as people see it.
fn report(c: &Catalog) -> String {
    c.diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

fn assert_nothing_outside_is_quoted(text: &str) {
    assert!(!text.contains("root:"), "{text}");
    assert!(!text.contains("/bin/bash"), "{text}");
}

#[test]
fn targets_and_links_leading_outside_are_refused_unread() {
    let h = hostile();
    let c = load(&h.cat, &[]);
    let text = report(&c);
    assert_eq!(tags(&c), ["good"], "{text}");
    assert_nothing_outside_is_quoted(&text);

    for target in OUTSIDE_TARGETS {
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.message.contains(&format!("Location target `{target}`")))
            .unwrap_or_else(|| panic!("no diagnostic for {target}:\n{text}"));
        assert!(d.is_error(), "{d}");
        assert!(d.message.contains("is outside the catalog folder"), "{d}");
        assert!(
            d.file.as_ref().unwrap().ends_with("sub/location.yaml"),
            "{d}"
        );
        assert!(d.line > 0, "{d}");
        assert!(d.hint.as_deref().unwrap().contains("allowed_roots"), "{d}");
    }
    assert!(text.contains("(it leads to /etc/passwd)"), "{text}");

    for (link, target) in [
        ("link.yaml", h.secret.join("secret.yaml")),
        ("passwd.yaml", h.secret.join("passwd")),
        ("etc-passwd.yaml", PathBuf::from("/etc/passwd")),
        ("fifo.yaml", h.secret.join("fifo.yaml")),
    ] {
        let target = std::fs::canonicalize(target).unwrap();
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.file.as_ref().is_some_and(|f| f.ends_with(link)))
            .unwrap_or_else(|| panic!("no diagnostic for {link}:\n{text}"));
        assert!(d.is_error(), "{d}");
        assert_eq!(
            d.message,
            format!(
                "symlink leads outside the catalog folder, to `{}`; not read",
                target.display()
            )
        );
    }
}

#[test]
fn folder_symlinks_are_not_entered_and_link_loops_end() {
    let h = hostile();
    let c = load(&h.cat, &[]);
    let text = report(&c);
    for folder in ["folder-out", "sub/folder-loop"] {
        assert!(
            c.diagnostics.iter().any(|d| !d.is_error()
                && d.message == "symlinked folder is not entered"
                && d.file.as_ref().is_some_and(|f| f.ends_with(folder))),
            "{folder}:\n{text}"
        );
    }
    for link in ["loop-a.yaml", "loop-b.yaml"] {
        assert!(
            c.diagnostics.iter().any(|d| !d.is_error()
                && d.message.contains("leads nowhere")
                && d.file.as_ref().is_some_and(|f| f.ends_with(link))),
            "{link}:\n{text}"
        );
    }
}

#[test]
fn allowed_roots_admit_their_files_and_nothing_else() {
    let h = hostile();
    let c = load(&h.cat, std::slice::from_ref(&h.secret));
    let text = report(&c);
    // Reached through both link.yaml and a Location target: read once.
    assert_eq!(tags(&c), ["good", "secret"], "{text}");
    assert!(!text.contains("duplicate tag"), "{text}");
    // Still refused: what lies outside both roots.
    for target in ["../../../../etc/passwd", "/etc/hostname", "../../x.yaml"] {
        assert!(
            text.contains(&format!("Location target `{target}` is outside")),
            "{target}:\n{text}"
        );
    }
    assert!(text.contains("to `/etc/passwd`; not read"), "{text}");
    // Inside a root, the FIFO is no file: not opened either.
    assert!(
        text.contains("Location target `../../secret/fifo.yaml` does not exist"),
        "{text}"
    );
}

#[test]
fn the_cache_refuses_the_same_files() {
    let h = hostile();
    let cat = h.cat.clone();
    let c = bounded(move || CatalogCache::new(Vec::new()).load(&cat));
    assert_eq!(tags(&c), ["good"], "{}", report(&c));
    assert_nothing_outside_is_quoted(&report(&c));
    assert!(report(&c).contains("Location target `../../../../etc/passwd` is outside"));
}

#[test]
fn yaml_bombs_and_huge_files_are_errors_on_their_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("good.yaml"), GOOD).unwrap();
    // 1 MiB anchored string, 3,000 aliases: 3 GB if each alias copied it.
    let mut aliases = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: bomb\n  description: &big {}\nspec:\n  tags:\n",
        "x".repeat(1 << 20)
    );
    aliases.push_str(&"    - *big\n".repeat(3_000));
    std::fs::write(dir.join("aliases.yaml"), aliases).unwrap();
    // Billion laughs: each level repeats the one before ten times.
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        laughs.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    std::fs::write(dir.join("laughs.yaml"), laughs).unwrap();
    let deep = format!("k: {}x{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.join("deep.yaml"), deep).unwrap();
    // 9 MiB, sparse: over the size cap without writing it.
    let huge = std::fs::File::create(dir.join("huge.yaml")).unwrap();
    huge.set_len(9 << 20).unwrap();

    let c = load(&dir, &[]);
    let text = report(&c);
    assert_eq!(tags(&c), ["good"], "{text}");
    let error_on = |name: &str| {
        c.diagnostics
            .iter()
            .find(|d| d.is_error() && d.file.as_ref().is_some_and(|f| f.ends_with(name)))
            .unwrap_or_else(|| panic!("no error on {name}:\n{text}"))
    };
    let a = error_on("aliases.yaml");
    assert!(a.message.starts_with("YAML too large: "), "{a}");
    assert!(a.line > 8 && a.column > 0, "{a}");
    assert!(error_on("laughs.yaml").line > 0);
    assert!(error_on("deep.yaml").line > 0);
    let h = error_on("huge.yaml");
    assert!(h.message.contains("more than the 8 MiB"), "{h}");
}

#[test]
fn allowed_roots_come_from_plugin_toml_and_the_environment() {
    let cfg = Config::load_with_env(None, Vec::new()).unwrap();
    assert!(cfg.catalog.allowed_roots.is_empty());
    let cfg = Config::load_with_env(
        None,
        [(
            "RUBRIC_CATALOG_ALLOWED_ROOTS".to_string(),
            "shared/entities, /srv/more".to_string(),
        )],
    )
    .unwrap();
    let expected = [PathBuf::from("shared/entities"), PathBuf::from("/srv/more")];
    assert_eq!(cfg.catalog.allowed_roots, expected);
    assert_eq!(CatalogSources::from_config(&cfg).allowed_roots, expected);
}

fn rubric_catalog(cat: &Path, allowed: Option<&Path>) -> (i32, Value) {
    let mut cmd = rubric()
        .args(["catalog", "--format", "json", "--catalog"])
        .arg(cat);
    if let Some(root) = allowed {
        cmd = cmd.env("RUBRIC_CATALOG_ALLOWED_ROOTS", root);
    }
    let out = cmd.run();
    let stdout = out.stdout();
    assert_nothing_outside_is_quoted(&stdout);
    assert_nothing_outside_is_quoted(&out.stderr());
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.code(), v)
}

fn entity_tags(v: &Value) -> Vec<&str> {
    let mut t: Vec<&str> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tag"].as_str().unwrap())
        .collect();
    t.sort_unstable();
    t
}

#[test]
fn the_cli_refuses_outside_files_and_honours_allowed_roots_from_the_environment() {
    let h = hostile();
    let (code, v) = rubric_catalog(&h.cat, None);
    assert_eq!(code, 1);
    assert_eq!(entity_tags(&v), ["good"], "{v:#}");
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    for target in OUTSIDE_TARGETS {
        assert!(
            errors
                .iter()
                .any(|m| m.contains(&format!("Location target `{target}` is outside"))),
            "{target}: {errors:#?}"
        );
    }
    assert!(
        errors
            .iter()
            .any(|m| m.contains("to `/etc/passwd`; not read")),
        "{errors:#?}"
    );

    let (_, v) = rubric_catalog(&h.cat, Some(&h.secret));
    assert_eq!(entity_tags(&v), ["good", "secret"], "{v:#}");
}

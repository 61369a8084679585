//! Hostile rules: jq filters that loop, recurse, build gigabytes, halt or read the environment,
//! and CQL that runs 10^9 steps. Each is an `error` outcome on its own rule that names the
//! budget it broke; every other rule, scorecard and entity is still evaluated.

use std::path::{Path, PathBuf};

use chrono::Utc;
use rubric::cql::{Program, Registry, SlotTable, Verdict};

use crate::support::{Rubric, rubric};

/// Evaluates a rule that reads no facts: its verdict and explanation.
fn eval(src: &str) -> (Verdict, String) {
    rubric::cql::jq::use_worker(env!("CARGO_BIN_EXE_rubric"));
    let mut slots = SlotTable::new();
    let program = Program::compile(src, Registry::standard(), &mut slots)
        .unwrap_or_else(|d| panic!("{src}: {d:?}"))
        .program;
    let e = program.evaluate(&[], Utc::now());
    (e.verdict, e.explanation)
}

/// `jq(null, FILTER) == null`, with the filter quoted for CQL.
fn jq_rule(filter: &str) -> String {
    format!(
        "jq(null, {}) == null",
        serde_json::to_string(filter).unwrap()
    )
}

#[test]
fn hostile_jq_filters_are_errors_that_name_the_budget_and_the_sandbox_recovers() {
    let cases: &[(&str, &[&str])] = &[
        (
            "def f: f; f",
            &["ran longer than 100 ms (`[cql] jq_timeout_ms`)"],
        ),
        (
            "def f: [f]; f",
            &["recursed deeper than its stack allows (8 MiB"],
        ),
        (
            "\"a\" * 8000000000 | length",
            &["built more than its memory budget (256 MiB"],
        ),
        // Either budget may stop these first, depending on the machine's speed.
        ("[range(1e9)]", &["ran longer than 100 ms", "memory budget"]),
        ("[repeat(1)]", &["ran longer than 100 ms", "memory budget"]),
        ("halt", &["is not available in rubric"]),
        ("halt_error", &["is not available in rubric"]),
        ("\"x\" | halt_error(1)", &["is not available in rubric"]),
        ("env.HOME", &["is not available in rubric"]),
        (
            "\"x\" * 1100000",
            &["gave a result larger than 1048576 bytes (`[cql] jq_max_output_bytes`)"],
        ),
    ];
    for (filter, wanted) in cases {
        let (verdict, why) = eval(&jq_rule(filter));
        assert_eq!(verdict, Verdict::Error, "{filter}: {why}");
        assert!(
            why.starts_with(&format!("jq filter `{filter}` ")),
            "{filter}: {why}"
        );
        assert!(wanted.iter().any(|w| why.contains(w)), "{filter}: {why}");
        // The next filter runs normally, in this worker or a new one.
        assert_eq!(
            eval("jq(null, \"1 + 1\") == 2").0,
            Verdict::Pass,
            "after {filter}"
        );
    }
}

#[test]
fn filters_that_reach_outside_do_not_compile() {
    rubric::cql::jq::use_worker(env!("CARGO_BIN_EXE_rubric"));
    for filter in [
        "$ENV.HOME",
        "input",
        "[inputs]",
        "input_filename",
        "import \"/etc/passwd\" as p; .",
        "include \"x\"; .",
    ] {
        let mut slots = SlotTable::new();
        let err =
            Program::compile(&jq_rule(filter), Registry::standard(), &mut slots).expect_err(filter);
        assert!(
            err[0].message.contains("invalid jq filter"),
            "{filter}: {:?}",
            err[0].message
        );
    }
}

#[test]
fn a_filter_that_breaks_its_budget_three_times_is_not_run_again() {
    let rule = jq_rule("def loop: loop; loop | 7");
    for _ in 0..3 {
        let (verdict, why) = eval(&rule);
        assert_eq!(verdict, Verdict::Error);
        assert!(why.contains("ran longer than 100 ms"), "{why}");
    }
    let (verdict, why) = eval(&rule);
    assert_eq!(verdict, Verdict::Error);
    assert!(
        why.contains("3 times in a row, so it is not run again in this process"),
        "{why}"
    );
}

/// Nine nested `.any` over ten items: 10^9 steps if nothing stopped it.
fn nested_any() -> String {
    let list = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let mut src = "i == 11".to_string();
    for name in names.iter().rev() {
        src = format!("{list}.any({name} => {src})");
    }
    src
}

#[test]
fn nested_lambdas_stop_at_the_step_budget_and_then_are_not_given_one() {
    let mut slots = SlotTable::new();
    let program = Program::compile(&nested_any(), Registry::standard(), &mut slots)
        .unwrap()
        .program;
    for _ in 0..3 {
        let e = program.evaluate(&[], Utc::now());
        assert_eq!(e.verdict, Verdict::Error);
        assert!(
            e.explanation
                .starts_with("rule took more than 1000000 steps (`[cql] max_steps`); stopped in `"),
            "{}",
            e.explanation
        );
    }
    assert_eq!(program.verdict(&[], Utc::now()), Verdict::Error);
    let e = program.evaluate(&[], Utc::now());
    assert!(
        e.explanation
            .contains("not evaluated again in this process"),
        "{}",
        e.explanation
    );
}

fn catalog() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval/basic/catalog")
}

/// Two scorecards: one of hostile rules beside one good rule, and one good scorecard.
fn scorecards() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rule = |id: &str, expr: &str| {
        format!(
            "  - title: {id}\n    identifier: {id}\n    level: Bronze\n    expression: {}\n",
            serde_json::to_string(expr).unwrap()
        )
    };
    let hostile = [
        rule(
            "loops",
            &format!("jq(entity.descriptor(), {:?}) == null", "def f: f; f"),
        ),
        rule("recurses", &jq_rule("def f: [f]; f")),
        rule("memory", &jq_rule("\"a\" * 8000000000 | length")),
        rule("halts", &jq_rule("halt")),
        rule("leaks", &jq_rule("env.RUBRIC_API_TOKENS")),
        rule("steps", &nested_any()),
        rule("outputs", &jq_rule("limit(20; repeat(1))")),
        rule("fine", "jq(entity.descriptor(), \".info.title\") != null"),
    ]
    .concat();
    std::fs::write(
        dir.path().join("hostile.yaml"),
        format!(
            "tag: hostile\nname: Hostile\nladder:\n  levels:\n    - name: Bronze\n      rank: 1\nrules:\n{hostile}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("good.yaml"),
        format!(
            "tag: good\nname: Good\nrules:\n{}",
            rule("tagged", "jq(null, \"1 + 1\") == 2")
        )
        .replace("    level: Bronze\n", ""),
    )
    .unwrap();
    dir
}

/// `rubric ARGS --catalog (the basic catalog) --scorecards CARDS`, with no Codecov.
fn rubric_on(cards: &Path, args: &[&str]) -> Rubric {
    rubric()
        .args(args)
        .arg("--catalog")
        .arg(catalog())
        .arg("--scorecards")
        .arg(cards)
        .env("RUBRIC_CODECOV_URL", "http://127.0.0.1:9")
        .env("RUBRIC_HTTP_MAX_RETRIES", "0")
}

/// `rubric eval --format json`, which must exit 0: its stdout.
fn eval_json(cards: &Path, env: &[(&str, &str)]) -> String {
    let out = rubric_on(cards, &["eval", "--format", "json"])
        .envs(env)
        .run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.output.stdout).unwrap()
}

#[test]
fn hostile_rules_leave_other_rules_scorecards_and_exit_codes_alone() {
    let dir = scorecards();
    let token = "ops:admin:very-secret-token-4321";
    let text = eval_json(dir.path(), &[("RUBRIC_API_TOKENS", token)]);
    assert!(!text.contains("very-secret-token"), "the token leaked");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let card = |tag: &str| {
        report["scorecards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["tag"] == tag)
            .unwrap_or_else(|| panic!("scorecard {tag}"))
            .clone()
    };
    let good = card("good");
    let hostile = card("hostile");
    let entities = good["entities"].as_array().unwrap();
    assert!(!entities.is_empty());
    for e in entities {
        assert_eq!(e["rules"][0]["outcome"], "pass", "{e}");
    }
    let wanted = [
        ("loops", "ran longer than 100 ms"),
        ("recurses", "recursed deeper than its stack allows"),
        ("memory", "built more than its memory budget"),
        ("halts", "is not available in rubric"),
        ("leaks", "is not available in rubric"),
        ("steps", "steps (`[cql] max_steps`)"),
    ];
    for e in hostile["entities"].as_array().unwrap() {
        let rules = e["rules"].as_array().unwrap();
        for (id, why) in wanted {
            let r = rules.iter().find(|r| r["identifier"] == id).unwrap();
            assert_eq!(r["outcome"], "error", "{id}: {r}");
            assert!(r["message"].as_str().unwrap().contains(why), "{id}: {r}");
        }
        let fine = rules.iter().find(|r| r["identifier"] == "fine").unwrap();
        assert_eq!(fine["outcome"], "pass", "{fine}");
    }

    // A rule that would halt jq cannot make a failing gate pass.
    let gate = rubric_on(
        dir.path(),
        &[
            "gate",
            "--scorecard",
            "hostile",
            "--entity",
            "full",
            "--min-level",
            "Bronze",
        ],
    )
    .run();
    assert_eq!(
        gate.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&gate.stdout)
    );
}

#[test]
fn the_budgets_come_from_the_cql_section() {
    let dir = scorecards();
    let text = eval_json(
        dir.path(),
        &[
            ("RUBRIC_CQL_MAX_STEPS", "50"),
            ("RUBRIC_CQL_JQ_TIMEOUT_MS", "20"),
            ("RUBRIC_CQL_JQ_MAX_OUTPUTS", "5"),
        ],
    );
    assert!(text.contains("rule took more than 50 steps"), "{text}");
    assert!(text.contains("ran longer than 20 ms"), "{text}");
    assert!(
        text.contains("gave more than 5 outputs (`[cql] jq_max_outputs`)"),
        "{text}"
    );
}

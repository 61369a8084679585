//! Regression cases from fuzzing the CQL front end (`fuzz/`, target `cql_compile`).
//!
//! The first campaign (241 s, 1,619,153 executions, `cargo fuzz run -s none`) found no
//! crash, so these are hand-written, full-size versions of the shapes its corpus explores —
//! deep nesting, long input, odd Unicode, unterminated tokens — each pinned to its exact
//! outcome: the diagnostic and its line/column, or the verdict (fast and explaining paths
//! agreeing). The nesting and length cases run on a thread with a 2 MiB stack to show the
//! limits keep recursion shallow.

use chrono::{DateTime, TimeZone, Utc};
use rubric::cql::{Program, Registry, SlotTable, Verdict};
use rubric::facts::Fact;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 6, 35, 0).unwrap()
}

/// The first diagnostic's `line:column message`, or panics if `src` compiles.
fn error_of(src: &str) -> String {
    let mut slots = SlotTable::new();
    match Program::compile(src, Registry::standard(), &mut slots) {
        Ok(_) => panic!("{src:?} compiled"),
        Err(d) => format!("{}:{} {}", d[0].line, d[0].column, d[0].message),
    }
}

/// The verdict and explanation with every fact `Fact::ok(1.0)`; both paths must agree.
fn verdict_of(src: &str) -> (Verdict, String) {
    let mut slots = SlotTable::new();
    let c = Program::compile(src, Registry::standard(), &mut slots)
        .unwrap_or_else(|d| panic!("{src:?}: {}", d[0]));
    let facts: Vec<Fact> = (0..slots.len()).map(|_| Fact::ok(1.0)).collect();
    let e = c.program.evaluate(&facts, now());
    assert_eq!(c.program.verdict(&facts, now()), e.verdict, "{src:?}");
    (e.verdict, e.explanation)
}

fn small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_nesting_is_an_error_at_the_first_level_too_many() {
    small_stack(|| {
        let too_deep = "1:65 expression nests deeper than 64 levels";
        let parens = format!("{}1{} == 1", "(".repeat(65), ")".repeat(65));
        assert_eq!(error_of(&parens), too_deep);
        assert_eq!(error_of(&format!("[{}]", "[".repeat(70))), too_deep);
        assert_eq!(error_of(&format!("{}true", "!".repeat(65))), too_deep);
        assert_eq!(error_of(&format!("{}true", "!-".repeat(33))), too_deep);
        // Prefixes between brackets: 22 levels pass the prescan; the type checker objects.
        let mixed = format!("{}1{}", "!(-".repeat(22), ")".repeat(22));
        assert_eq!(
            error_of(&mixed),
            "1:65 `!` needs true or false, but this is a number"
        );
        // Brackets inside strings and comments do not count.
        assert_eq!(
            error_of(&format!("'{}' == 1", "(".repeat(200))),
            "1:1 cannot compare a string with a number"
        );
        let comment = format!("/* {} */ true", "(".repeat(200));
        assert_eq!(verdict_of(&comment).0, Verdict::Pass);
        // Nested lambdas shadowing the same name.
        assert_eq!(
            verdict_of("[1].any(x => [2].any(x => x == 1))"),
            (Verdict::Fail, "x = 2, needs == 1".to_string())
        );
    });
}

#[test]
fn long_input_is_cut_at_the_limit() {
    small_stack(|| {
        let src = format!("true OR {}", "true OR ".repeat(2100));
        assert_eq!(
            error_of(&src),
            "1:16385 expression is too long: 16808 bytes, the limit is 16384"
        );
    });
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(
        error_of("\"日本語\" == @"),
        "1:10 expected an expression, found `@`"
    );
    assert_eq!(
        error_of("true AND\n  🦀"),
        "2:3 expected an expression, found `🦀`"
    );
    assert_eq!(
        error_of("true\r\n AND\r\n ünknown()"),
        "3:2 expected an expression, found `ünknown`"
    );
    assert_eq!(
        error_of("\u{feff}true"),
        "1:1 expected an expression, found `\u{feff}`"
    );
    assert_eq!(error_of("\0"), "1:1 expected an expression, found `\0`");
    assert_eq!(
        error_of(""),
        "1:1 expected an expression, found end of input"
    );
    // Unicode in a fact key and a string literal compiles; a number is not a string.
    assert_eq!(
        verdict_of("custom(\"héllo 🦀\") == \"ü\u{200b}\""),
        (
            Verdict::Error,
            "cannot compare a number with a string (`==` in `custom(\"héllo 🦀\") == \"ü\u{200b}\"`)"
                .to_string()
        )
    );
}

#[test]
fn unterminated_tokens_are_errors_with_positions() {
    let mut slots = SlotTable::new();
    let d = Program::compile("((\"é\" == 'ü'", Registry::standard(), &mut slots).unwrap_err();
    assert_eq!(
        format!("{}:{} {}", d[0].line, d[0].column, d[0].message),
        "1:13 expected `AND` / `OR`, a comparison, an operator or `.`, found end of input"
    );
    assert_eq!(
        d[0].hint.as_deref(),
        Some("expected `)` to close the `(` at 1:1")
    );
    assert_eq!(
        error_of("true /* never closed"),
        "1:7 expected an expression, found `*`"
    );
    assert_eq!(
        error_of("'unterminated \\' string"),
        "1:1 expected an expression, found `'`"
    );
    assert_eq!(
        error_of("1e308 == 1"),
        "1:2 expected end of input, `AND` / `OR`, a comparison, an operator or `.`, found `e308`"
    );
}

#[test]
fn issue_4_shapes_and_huge_numbers() {
    assert_eq!(
        error_of("duration(\"P-90D\") == 1"),
        "1:1 cannot compare a duration with a number"
    );
    assert!(error_of("jq(custom(\"x\"), \".[\") == 1").starts_with("1:17 invalid jq filter `.[`"));
    // A filter that never ends compiles (jq is Turing-complete); the fuzz target does not
    // evaluate jq for that reason.
    let mut slots = SlotTable::new();
    assert!(
        Program::compile(
            "jq(custom(\"x\"), \"def f: f; f\") == 1",
            Registry::standard(),
            &mut slots
        )
        .is_ok()
    );
    assert_eq!(
        verdict_of("99999999999999999999999999999999999999 == 1"),
        (
            Verdict::Fail,
            "99999999999999999999999999999999999999 = 100000000000000000000000000000000000000, needs == 1"
                .to_string()
        )
    );
    assert_eq!(
        verdict_of("custom(\"a\").b.c.d.e.f.g.h.i.j.k == 1"),
        (
            Verdict::Error,
            "a number has no such property: `custom(\"a\").b`".to_string()
        )
    );
}

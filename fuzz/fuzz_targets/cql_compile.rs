//! Fuzzes the CQL front end and evaluator: any UTF-8 text is compiled with the standard
//! registry; when it compiles, it is evaluated against facts of every status. Nothing may panic,
//! diagnostics must point inside the source, and the fast verdict path must agree with the
//! explaining one.
//!
//! Rules calling `jq` are evaluated too: their filters run in rubric's jq sandbox under the
//! default budgets (100 ms, 256 MiB), so a filter that never ends is an error outcome, not a
//! hang. The sandbox runs in the `rubric` binary named by `RUBRIC_JQ_WORKER` (default: the
//! main crate's `target/release/rubric`; build it first).

#![no_main]

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use rubric::cql::{Program, Registry, SlotTable};
use rubric::diag::Diagnostic;
use rubric::facts::Fact;
use rubric::value::Value;
use serde_json::json;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 6, 35, 0).unwrap()
}

/// One fact of each kind a provider can hand over; `pick` rotates through them.
fn fact(pick: usize) -> Fact {
    match pick % 10 {
        0 => Fact::ok(87.5).from_origin("github/acme/api, flag backend"),
        1 => Fact::ok("production"),
        2 => Fact::ok(Value::Null),
        3 => Fact::no_data("no coverage uploads"),
        4 => Fact::error("Codecov answered 500"),
        5 => Fact::ok(true),
        6 => Fact::ok(Value::from_json(&json!({
            "cost": {"compute": {"actual": 12.5}},
            "type": "domain",
            "line": 90,
        }))),
        7 => Fact::ok(Value::from_json(&json!([
            {"type": "domain", "tag": "payments"},
            {"type": "service"},
            3,
            "x",
            null,
        ]))),
        8 => {
            let mut f = Fact::ok(0.0);
            f.stale_secs = Some(3600);
            f
        }
        _ => Fact::ok(-1.0e21),
    }
}

/// A diagnostic's line and column must fall inside `src` (0 means unknown).
fn check_position(src: &str, d: &Diagnostic) {
    if d.line == 0 {
        return;
    }
    let line = src
        .split('\n')
        .nth(d.line - 1)
        .unwrap_or_else(|| panic!("line {} is past the end of the source: {d}", d.line));
    let chars = line.chars().count();
    assert!(
        d.column >= 1 && d.column <= chars + 1,
        "column {} is outside line {} ({chars} characters): {d}",
        d.column,
        d.line
    );
    // Rendering must not panic either.
    let _ = d.to_string();
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    static WORKER: std::sync::Once = std::sync::Once::new();
    WORKER.call_once(|| {
        let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/rubric");
        rubric::cql::jq::use_worker(std::env::var("RUBRIC_JQ_WORKER").unwrap_or(default.into()));
    });
    let mut slots = SlotTable::new();
    let compiled = match Program::compile(src, Registry::standard(), &mut slots) {
        Ok(c) => c,
        Err(diags) => {
            assert!(!diags.is_empty(), "compile failed without a diagnostic");
            for d in &diags {
                check_position(src, d);
            }
            return;
        }
    };
    for w in &compiled.warnings {
        check_position(src, w);
    }
    let program = &compiled.program;
    assert!(program.slots().iter().all(|&s| s < slots.len()));
    // Two rotations, so a rule reading one fact sees it with two different statuses.
    for shift in [data.len(), data.len() / 2 + 3] {
        let facts: Vec<Fact> = (0..slots.len()).map(|i| fact(i + shift)).collect();
        let e = program.evaluate(&facts, now());
        let v = program.verdict(&facts, now());
        assert_eq!(v, e.verdict, "fast and explaining paths disagree on {src:?}");
    }
    // Too few facts (a caller bug) must still not panic.
    let _ = program.evaluate(&[], now());
    let _ = program.verdict(&[], now());
});

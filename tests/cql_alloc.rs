//! The fast path allocates nothing for scalar rules: a counting global allocator around
//! `Program::verdict` over the benchmark's rules, for passing, failing and no-data facts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use rubric::cql::{Program, Registry, SlotTable, Verdict};
use rubric::facts::Fact;
use rubric::value::Value;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; this only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn scalar_rules_evaluate_without_allocating() {
    let rules = [
        "codecov.codeCoverage() >= 95",
        "codecov.codeCoverage() >= 80 and codecov.coverageTrend() >= 0",
        "custom(\"hasCodeowners\") == true",
        "custom(\"openVulns\") <= 3 AND custom(\"hasCodeowners\") == true",
        "codecov.codeCoverage() >= 70 OR (codecov.coverageTrend() > 2 AND codecov.codeCoverage() >= 60)",
        "codecov.coverageTrend() != null and !(codecov.coverageTrend() < -5)",
        "!(custom(\"tier\") == \"tier1\" OR custom(\"tier\") == \"tier2\") OR codecov.codeCoverage() >= 85",
        "codecov.codeCoverage() * 1.25 - 5 > custom(\"openVulns\") + 80",
        "entity.tag() != 'legacy' AND hasGroup('payments')",
    ];
    let mut slots = SlotTable::new();
    let programs: Vec<Program> = rules
        .iter()
        .map(|r| {
            Program::compile(r, Registry::standard(), &mut slots)
                .unwrap()
                .program
        })
        .collect();
    let facts_for = |coverage: Option<f64>| -> Vec<Fact> {
        slots
            .keys()
            .iter()
            .map(
                |k| match (k.function.as_str(), k.arg_str("key").as_deref()) {
                    ("codeCoverage" | "coverageTrend", _) => {
                        coverage.map_or_else(|| Fact::no_data("no coverage uploads"), Fact::ok)
                    }
                    ("custom", Some("hasCodeowners")) => Fact::ok(true),
                    ("custom", Some("openVulns")) => Fact::ok(2.0),
                    ("custom", Some("tier")) => Fact::ok("tier1"),
                    ("tag", _) => Fact::ok("api"),
                    _ => Fact::ok(true),
                },
            )
            .collect()
    };
    let worlds = [
        facts_for(Some(97.0)),
        facts_for(Some(40.0)),
        facts_for(None),
    ];
    let now = Utc::now();
    let mut verdicts = Vec::with_capacity(programs.len() * worlds.len());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for facts in &worlds {
        for p in &programs {
            verdicts.push(p.verdict(facts, now));
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocations, 0, "the fast path allocated");
    assert!(verdicts.contains(&Verdict::Pass) && verdicts.contains(&Verdict::Fail));
    assert!(verdicts.contains(&Verdict::NoData));
    // The explaining path allocates (it builds a sentence) and agrees.
    let e = programs[0].evaluate(&worlds[1], now);
    assert_eq!((e.verdict, e.value), (Verdict::Fail, Value::Bool(false)));
}

//! `rubric coverage summary`: the real binary over hand-written reports, plain, gzipped and on
//! stdin; malformed ones exit 1 naming the line.

use std::io::Write;

use serde_json::json;

use crate::support::{fixture, rubric};

#[test]
fn summary_prints_the_totals_of_each_format() {
    let lcov = fixture("coverage").join("app.lcov");
    let out = rubric()
        .args(["coverage", "summary"])
        .arg(&lcov)
        .run()
        .expect_code(0);
    assert_eq!(
        out.json(),
        json!({"format": "lcov", "files": 2, "lines": 4, "hits": 2, "misses": 1, "partials": 1,
            "branches": 2, "branches_hit": 1, "coverage": 50.0})
    );
    let go = fixture("coverage").join("app.out");
    let out = rubric()
        .args(["coverage", "summary", "--format", "go"])
        .arg(&go)
        .run()
        .expect_code(0);
    assert_eq!(out.json()["lines"], 5);
    assert_eq!(out.json()["hits"], 3);
}

#[test]
fn gzip_and_stdin_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("app.lcov.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(fixture("coverage").join("app.lcov")).unwrap())
        .unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let out = rubric()
        .args(["coverage", "summary", "-"])
        .stdin_file(&gz)
        .run()
        .expect_code(0);
    assert_eq!(out.json()["lines"], 4);
}

#[test]
fn malformed_reports_exit_1_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.lcov");
    std::fs::write(&bad, "SF:a.js\nDA:1,1\nDA:two,1\nend_of_record\n").unwrap();
    let out = rubric()
        .args(["coverage", "summary"])
        .arg(&bad)
        .run()
        .expect_code(1);
    assert_eq!(out.stdout(), "");
    assert!(
        out.stderr()
            .contains("bad.lcov: lcov, line 3: DA needs a line number and a hit count: `DA:two,1`"),
        "{}",
        out.stderr()
    );
    let out = rubric()
        .args(["coverage", "summary", "/no/such/report"])
        .run()
        .expect_code(2);
    assert!(
        out.stderr()
            .contains("cannot read the report /no/such/report")
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let out = rubric()
        .args(["coverage", "summary"])
        .arg(&text)
        .run()
        .expect_code(1);
    assert!(
        out.stderr()
            .contains("the report's format is not recognised (give one of: lcov, cobertura"),
        "{}",
        out.stderr()
    );
}

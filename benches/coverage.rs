//! Coverage report parsing at scale, beside its peers in the same run: `rubric coverage summary`
//! on generated LCOV and Cobertura reports with known totals (default 4,000,000 lines: about
//! 75 MB of LCOV and 290 MB of Cobertura), the Rust `lcov` crate's streaming reader, `lcov
//! --summary` (Debian `lcov`) and `pycobertura` (PyPI). Each engine runs as its own process;
//! peak memory is its resident high-water mark (`VmHWM`, read while it runs).
//!
//! `cargo bench --bench coverage` prints one JSON line per engine and format, `{"engine",
//! "format", "mb_per_s", "peak_rss_mb", "totals_ok"}`, then the ratios. Set
//! `RUBRIC_BENCH_LINES` for another size. Peers that are not installed are reported as skipped
//! with the command that installs them (`scripts/bench-peers.sh` installs both).

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use serde_json::{Value, json};

#[path = "support/measure.rs"]
mod measure;
use measure::measure;

/// The totals a report must give, from `expected.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    lines: u64,
    /// Lines that ran with every branch taken.
    hits: u64,
    /// Lines that ran with a branch not taken.
    partials: u64,
}

/// The `lcov` crate's streaming reader over `file`, counting what the others count; run in a
/// child process (this benchmark re-run with `--engine lcov-crate FILE`) so that its memory is
/// its own.
fn lcov_crate(file: &Path) -> ExitCode {
    let Ok(f) = std::fs::File::open(file) else {
        return ExitCode::FAILURE;
    };
    let (mut lines, mut covered) = (0u64, 0u64);
    for record in lcov::Reader::new(BufReader::with_capacity(64 << 10, f)) {
        match record {
            Ok(lcov::Record::LineData { count, .. }) => {
                lines += 1;
                covered += u64::from(count > 0);
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{}", json!({"lines": lines, "covered": covered}));
    ExitCode::SUCCESS
}

/// Whether the counts an engine printed are the expected ones, as far as it counts: LCOV
/// tools count lines that ran (hits and partials), pycobertura counts partial lines as missed.
fn totals_ok(engine: &str, stdout: &str, want: Counts) -> Option<bool> {
    let ran = want.hits + want.partials;
    match engine {
        "rubric" => {
            let v: Value = serde_json::from_str(stdout).ok()?;
            Some(
                v["lines"].as_u64()? == want.lines
                    && v["hits"].as_u64()? == want.hits
                    && v["partials"].as_u64()? == want.partials,
            )
        }
        "lcov crate" => {
            let v: Value = serde_json::from_str(stdout).ok()?;
            Some(v["lines"].as_u64()? == want.lines && v["covered"].as_u64()? == ran)
        }
        // `lines......: 77.6% (15523 of 20000 lines)`
        "lcov --summary" => {
            let line = stdout
                .lines()
                .find(|l| l.trim_start().starts_with("lines"))?;
            let inner = line.split_once('(')?.1;
            let mut words = inner.split_whitespace();
            let covered: u64 = words.next()?.parse().ok()?;
            words.next()?;
            let lines: u64 = words.next()?.parse().ok()?;
            Some(lines == want.lines && covered == ran)
        }
        // `{"total": {"Stmts": 20000, "Miss": 4477, ...}}`
        "pycobertura" => {
            let v: Value = serde_json::from_str(stdout).ok()?;
            let total = &v["total"];
            let lines = total["Stmts"].as_u64()?;
            Some(lines == want.lines && lines - total["Miss"].as_u64()? == want.hits)
        }
        _ => None,
    }
}

fn generate(dir: &Path, lines: u64) -> Result<Counts, String> {
    let expected_file = dir.join("expected.json");
    let read = || -> Option<(u64, Counts)> {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&expected_file).ok()?).ok()?;
        let counts = Counts {
            lines: v["lines"].as_u64()?,
            hits: v["hits"].as_u64()?,
            partials: v["partials"].as_u64()?,
        };
        Some((counts.lines, counts))
    };
    if let Some((n, counts)) = read()
        && n == lines
    {
        return Ok(counts);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen_coverage.py");
    eprintln!(
        "generating {lines} lines of LCOV and Cobertura into {}",
        dir.display()
    );
    let status = Command::new("python3")
        .arg(script)
        .arg(dir)
        .args(["--lines", &lines.to_string()])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if !status.success() {
        return Err(format!("scripts/gen_coverage.py: {status}"));
    }
    read()
        .map(|(_, c)| c)
        .ok_or_else(|| "expected.json is unreadable".into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--engine") {
        return match (args.get(i + 1).map(String::as_str), args.get(i + 2)) {
            (Some("lcov-crate"), Some(file)) => lcov_crate(Path::new(file)),
            _ => ExitCode::FAILURE,
        };
    }
    let lines: u64 = std::env::var("RUBRIC_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-coverage");
    let expected = match generate(&dir, lines) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot generate the reports: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lcov_file = dir.join("report.lcov");
    let xml_file = dir.join("coverage.xml");
    let rubric = env!("CARGO_BIN_EXE_rubric");
    let me = std::env::current_exe().expect("the benchmark's own path");
    let command = |program: &str, args: &[&str], file: &Path| {
        let mut cmd = Command::new(program);
        cmd.args(args).arg(file);
        cmd
    };
    let mut self_run = Command::new(&me);
    self_run.args(["--engine", "lcov-crate"]).arg(&lcov_file);
    let runs: Vec<(&str, &str, &Path, Command, &str)> = vec![
        (
            "rubric",
            "lcov",
            &lcov_file,
            command(
                rubric,
                &["coverage", "summary", "--format", "lcov"],
                &lcov_file,
            ),
            "",
        ),
        ("lcov crate", "lcov", &lcov_file, self_run, ""),
        (
            "lcov --summary",
            "lcov",
            &lcov_file,
            command("lcov", &["--summary"], &lcov_file),
            "apt-get install lcov",
        ),
        (
            "rubric",
            "cobertura",
            &xml_file,
            command(
                rubric,
                &["coverage", "summary", "--format", "cobertura"],
                &xml_file,
            ),
            "",
        ),
        (
            "pycobertura",
            "cobertura",
            &xml_file,
            command("pycobertura", &["show", "--format", "json"], &xml_file),
            "pip install pycobertura",
        ),
    ];
    let mut speeds: Vec<(String, String, f64)> = Vec::new();
    for (engine, format, file, cmd, install) in runs {
        let mb = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        // lcov writes its summary on stderr in some versions: take both.
        let cmd = if engine == "lcov --summary" {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("exec lcov --summary '{}' 2>&1", file.display()));
            sh
        } else {
            cmd
        };
        match measure(cmd) {
            Ok(m) => {
                let mb_per_s = mb / m.seconds;
                let ok = totals_ok(engine, &m.stdout, expected) == Some(true);
                println!(
                    "{}",
                    json!({"engine": engine, "format": format, "mb": (mb * 10.0).round() / 10.0,
                        "mb_per_s": (mb_per_s * 10.0).round() / 10.0,
                        "peak_rss_mb": (m.peak_rss_mb * 10.0).round() / 10.0, "totals_ok": ok})
                );
                speeds.push((engine.to_string(), format.to_string(), mb_per_s));
            }
            Err(e) if !install.is_empty() => println!(
                "{}",
                json!({"engine": engine, "format": format, "skipped": format!("not runnable ({}): {install}", e.lines().next().unwrap_or_default())})
            ),
            Err(e) => {
                eprintln!("{engine} on {format} failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let speed = |engine: &str, format: &str| {
        speeds
            .iter()
            .find(|(e, f, _)| e == engine && f == format)
            .map(|s| s.2)
    };
    for (peer, format) in [
        ("lcov crate", "lcov"),
        ("lcov --summary", "lcov"),
        ("pycobertura", "cobertura"),
    ] {
        if let (Some(ours), Some(theirs)) = (speed("rubric", format), speed(peer, format)) {
            println!(
                "{}",
                json!({"ratio": format!("rubric / {peer}"), "format": format, "speed": (ours / theirs * 100.0).round() / 100.0})
            );
        }
    }
    ExitCode::SUCCESS
}

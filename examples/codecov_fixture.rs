//! The offline Codecov fixture server as a process of its own, for measuring `rubric sync` and
//! `rubric eval` with the release binary against a Codecov with latency and a rate limit:
//!
//! ```sh
//! cargo run --release --example codecov_fixture -- --repos 1000 --rate 500 --latency-ms 20
//! cargo run --release --example codecov_fixture -- --catalog /tmp/catalog-10k
//! ```
//!
//! Serves the sample repositories, `github/bench/repo-0` ... `repo-{N-1}` (see
//! `scripts/gen_catalog.py --one-owner`) and, with `--catalog DIR`, every repository and flag
//! that catalog maps to (see `scripts/gen_catalog.py`); prints `url=http://127.0.0.1:PORT` on stdout, and on
//! each line read from stdin prints the requests answered so far (`requests=N throttled=M`);
//! it stops when stdin closes.

use std::io::BufRead;
use std::time::Duration;

use rubric::demo::fixture::{self, FixtureOptions};

fn main() -> Result<(), String> {
    let mut options = FixtureOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        if flag == "--catalog" {
            let catalog = rubric::catalog::Catalog::load(std::path::Path::new(&value));
            options.named_repos = fixture::repositories_of(&catalog);
            continue;
        }
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag} {value:?}: expected a whole number"))?;
        match flag.as_str() {
            "--repos" => options.synthetic_repos = n as usize,
            "--rate" => options.rate_limit_per_sec = n as u32,
            "--latency-ms" => options.latency = Duration::from_millis(n),
            other => {
                return Err(format!(
                    "unknown option {other} (--repos, --rate, --latency-ms, --catalog)"
                ));
            }
        }
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let server = rt
        .block_on(fixture::start_with(options))
        .map_err(|e| e.to_string())?;
    println!("url={}", server.url());
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        println!(
            "requests={} throttled={}",
            server.requests(),
            server.throttled()
        );
    }
    Ok(())
}

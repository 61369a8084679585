//! Sync benchmark: 1,000 repositories from the fixture server with 20 ms latency and a 500
//! requests/s server-side limit, through the real HTTP layer (rate limit, concurrency, cache).
//!
//! Prints the cold run's wall time against the ideal `max(N / rate, N × latency / concurrency)`
//! and the request count of a second, warm run (goal: within 1.1× of ideal; warm run 0
//! requests), then one JSON line with the figures.
//!
//! Run: `cargo bench --bench sync` (or `cargo bench --bench sync --profile dev` for a quick
//! look: the work is network-bound, so the figures barely differ).

use std::time::{Duration, Instant};

use rubric::catalog::{Catalog, CodecovProject, Entity, MappedBy};
use rubric::config::Config;
use rubric::demo::fixture::{self, FixtureOptions};
use rubric::facts::{FactKey, FactStatus};
use rubric::providers::Providers;

const N: usize = 1_000;
const LATENCY: Duration = Duration::from_millis(20);
const RATE: u32 = 500;
const CONCURRENCY: usize = 16;

fn entity(i: usize) -> Entity {
    Entity {
        codecov: Some(CodecovProject {
            service: "github".into(),
            owner: "bench".into(),
            repo: format!("repo-{i}"),
            flag: None,
            account: None,
            mapped_by: MappedBy::Discovery,
        }),
        unmapped_reason: None,
        ..Entity::new(&format!("repo-{i}"))
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let server = fixture::start_with(FixtureOptions {
        latency: LATENCY,
        rate_limit_per_sec: RATE,
        synthetic_repos: N,
    })
    .await
    .expect("fixture server");
    let mut cfg = Config::load_with_env(None, Vec::<(String, String)>::new()).expect("defaults");
    cfg.codecov.url = server.url();
    cfg.codecov.token_env = "RUBRIC_BENCH_NO_TOKEN".into();
    cfg.codecov.concurrency = CONCURRENCY;
    cfg.codecov.rate_limit_per_sec = RATE;
    cfg.codecov.rate_limit_burst = 10;
    let providers = Providers::from_config(&cfg).expect("providers");
    let entities: Vec<Entity> = (0..N).map(entity).collect();
    let catalog = Catalog::from_entities(entities.clone(), vec![]);
    let refs: Vec<&Entity> = entities.iter().collect();
    let keys = [
        FactKey::new("codecov", "codecov", "codeCoverage"),
        FactKey::new("codecov", "codecov", "lines"),
    ];

    let start = Instant::now();
    let cold = providers.fetch(&catalog, &refs, &keys).await;
    let wall = start.elapsed().as_secs_f64();
    let cold_requests = server.requests();
    let ok = cold
        .iter()
        .flatten()
        .filter(|f| f.status == FactStatus::Ok)
        .count();

    let start = Instant::now();
    let warm = providers.fetch(&catalog, &refs, &keys).await;
    let warm_wall = start.elapsed().as_secs_f64();
    let warm_requests = server.requests() - cold_requests;
    assert_eq!(warm, cold, "the warm run serves the same facts");

    let ideal =
        (N as f64 / f64::from(RATE)).max(N as f64 * LATENCY.as_secs_f64() / CONCURRENCY as f64);
    let ratio = wall / ideal;
    let stats = providers.stats()[0].1;
    println!(
        "sync benchmark: {N} repositories, {} ms latency, {RATE} req/s limit, concurrency {CONCURRENCY}",
        LATENCY.as_millis()
    );
    println!(
        "cold run: {wall:.3} s for {cold_requests} requests ({ok}/{} facts ok, {} 429s from the server); ideal {ideal:.3} s; ratio {ratio:.3} (goal <= 1.10)",
        N * keys.len(),
        server.throttled()
    );
    println!("warm run: {warm_wall:.4} s, {warm_requests} requests (goal 0)");
    println!(
        "{}",
        serde_json::json!({
            "bench": "sync", "repos": N, "latency_ms": LATENCY.as_millis() as u64, "rate_limit": RATE,
            "concurrency": CONCURRENCY, "cold_wall_s": wall, "ideal_s": ideal, "ratio": ratio,
            "cold_requests": cold_requests, "facts_ok": ok, "server_429": server.throttled(),
            "client_retries": stats.retries, "warm_wall_s": warm_wall, "warm_requests": warm_requests,
        })
    );
}

//! Sync benchmark: 1,000 repositories of one owner from the fixture server with 20 ms latency
//! and a 500 requests/s server-side limit, through the real HTTP layer (rate limit,
//! concurrency, cache), twice: one request per repository (`[codecov] repository_list_min = 0`),
//! then from the owner's repository list (the default).
//!
//! Prints each cold run's wall time and requests, the per-repository run against the ideal
//! `max(N / rate, N × latency / concurrency)` (goal: within 1.1×), the list run against the
//! per-repository run (goal: at most a tenth of its requests and time, the same facts), and the
//! request count of a warm run (goal 0), then one JSON line with the figures.
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

/// One cold and one warm fetch of `keys` for every entity with fresh providers: the facts,
/// the cold wall time and requests, and the warm run's requests.
async fn pass(
    cfg: &Config,
    server: &fixture::FixtureServer,
    entities: &[Entity],
    keys: &[FactKey],
) -> (Vec<Vec<rubric::facts::Fact>>, f64, u64, u64) {
    let providers = Providers::from_config(cfg).expect("providers");
    let catalog = Catalog::from_entities(entities.to_vec(), vec![]);
    let refs: Vec<&Entity> = entities.iter().collect();
    let before = server.requests();
    let start = Instant::now();
    let cold = providers.fetch(&catalog, &refs, keys).await;
    let wall = start.elapsed().as_secs_f64();
    let cold_requests = server.requests() - before;
    let warm = providers.fetch(&catalog, &refs, keys).await;
    let warm_requests = server.requests() - before - cold_requests;
    assert_eq!(warm, cold, "the warm run serves the same facts");
    (cold, wall, cold_requests, warm_requests)
}

async fn run() {
    let server = fixture::start_with(FixtureOptions {
        latency: LATENCY,
        rate_limit_per_sec: RATE,
        synthetic_repos: N,
        ..FixtureOptions::default()
    })
    .await
    .expect("fixture server");
    let mut cfg = Config::load_with_env(None, Vec::<(String, String)>::new()).expect("defaults");
    cfg.codecov.url = server.url();
    cfg.codecov.token_env = "RUBRIC_BENCH_NO_TOKEN".into();
    cfg.codecov.concurrency = CONCURRENCY;
    cfg.codecov.rate_limit_per_sec = RATE;
    cfg.codecov.rate_limit_burst = 10;
    let entities: Vec<Entity> = (0..N).map(entity).collect();
    let keys = [
        FactKey::new("codecov", "codecov", "codeCoverage"),
        FactKey::new("codecov", "codecov", "lines"),
    ];

    let mut per_repo_cfg = cfg.clone();
    per_repo_cfg.codecov.repository_list_min = 0;
    let (alone, wall, cold_requests, warm_requests) =
        pass(&per_repo_cfg, &server, &entities, &keys).await;
    let throttled = server.throttled();
    let (listed, list_wall, list_requests, list_warm) = pass(&cfg, &server, &entities, &keys).await;
    assert_eq!(listed, alone, "the list gives the same facts");
    let ok = alone
        .iter()
        .flatten()
        .filter(|f| f.status == FactStatus::Ok)
        .count();

    let ideal =
        (N as f64 / f64::from(RATE)).max(N as f64 * LATENCY.as_secs_f64() / CONCURRENCY as f64);
    let ratio = wall / ideal;
    println!(
        "sync benchmark: {N} repositories of one owner, {} ms latency, {RATE} req/s limit, concurrency {CONCURRENCY}",
        LATENCY.as_millis()
    );
    println!(
        "one request per repository: {wall:.3} s for {cold_requests} requests ({ok}/{} facts ok, {throttled} 429s from the server); ideal {ideal:.3} s; ratio {ratio:.3} (goal <= 1.10)",
        N * keys.len(),
    );
    println!(
        "repository list: {list_wall:.3} s for {list_requests} requests, the same facts; {:.3}x the time and {:.3}x the requests (goal <= 0.10 each)",
        list_wall / wall,
        list_requests as f64 / cold_requests as f64
    );
    println!("warm runs: {warm_requests} and {list_warm} requests (goal 0)");
    println!(
        "{}",
        serde_json::json!({
            "bench": "sync", "repos": N, "latency_ms": LATENCY.as_millis() as u64, "rate_limit": RATE,
            "concurrency": CONCURRENCY, "cold_wall_s": wall, "ideal_s": ideal, "ratio": ratio,
            "cold_requests": cold_requests, "facts_ok": ok, "server_429": throttled,
            "warm_requests": warm_requests, "list_wall_s": list_wall, "list_requests": list_requests,
            "list_time_ratio": list_wall / wall,
            "list_request_ratio": list_requests as f64 / cold_requests as f64,
            "list_warm_requests": list_warm,
        })
    );
}

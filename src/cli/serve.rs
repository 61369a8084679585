//! `rubric serve`: scheduled evaluations into the history store, the API, entity pages, badges.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::{CliError, CliResult, Global};
use crate::config::redact_url;
use crate::jobs::alerts::Alerter;
use crate::jobs::pipeline::PipelineEvaluator;
use crate::jobs::{Evaluator, Runner, scheduler};
use crate::providers::self_test::CheckStatus;
use crate::server::{AppState, Auth, Readiness, Settings};

/// `rubric serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default `[server] bind`, 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// History store URL: sqlite://FILE or postgres://... (default `[store] url`).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Folder of entity descriptors (default `[catalog] path`).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Folder of scorecards (default `[scorecards] path`).
    #[arg(long, value_name = "DIR")]
    pub scorecards: Option<PathBuf>,
    /// Offline demo: serve the sample catalog against the built-in Codecov fixture server on
    /// 127.0.0.1 (no network, no token), with a store of its own in a temporary folder unless
    /// --store is given; without configured tokens, reads need none.
    #[arg(long)]
    pub fixture: bool,
}

/// How long the token checks at start may take, all providers together.
const TOKEN_CHECK_BOUND: std::time::Duration = std::time::Duration::from_secs(60);

/// Checks every provider as `rubric providers test` does before serving: a token the provider
/// refuses stops the start (exit 2) with the report, where it would otherwise only show as
/// errors in the first run; other failures (a host not reachable yet) are warnings.
async fn check_tokens(evaluator: &PipelineEvaluator) -> Result<(), CliError> {
    let Ok(reports) = tokio::time::timeout(TOKEN_CHECK_BOUND, evaluator.self_test()).await else {
        eprintln!(
            "rubric serve: warning: the provider checks took longer than {TOKEN_CHECK_BOUND:?}; starting anyway"
        );
        return Ok(());
    };
    let refused: Vec<_> = reports
        .iter()
        .filter(|r| {
            r.checks
                .iter()
                .any(|c| c.name == "token accepted" && c.status == CheckStatus::Fail)
        })
        .collect();
    if !refused.is_empty() {
        let shown: String = refused.iter().map(|r| r.to_string()).collect();
        return Err(CliError::Usage(format!(
            "a configured token was refused, so rubric serve does not start (check with `rubric providers test`):\n{shown}"
        )));
    }
    for r in reports.iter().filter(|r| !r.ok()) {
        eprint!("rubric serve: warning: a provider check failed:\n{r}");
    }
    Ok(())
}

/// Runs the first sync in the background; `/readyz` answers 503 until it ends.
fn first_sync(evaluator: Arc<PipelineEvaluator>, state: AppState) {
    state.set_readiness(Readiness::FirstSync(std::time::Instant::now()));
    tokio::spawn(async move {
        let summary = evaluator.first_sync().await;
        if summary.errors.is_empty() {
            tracing::info!(%summary, "first sync done");
        } else {
            tracing::warn!(%summary, "the first sync met errors");
        }
        state.set_readiness(Readiness::Ready);
    });
}

/// Points the store of `serve --fixture` (without `--store`) at a SQLite file in a new temporary
/// folder, removed when the server stops: demo results never land in the configured store, and a
/// real `rubric serve` in the same folder never starts by serving them.
fn demo_store(cfg: &mut crate::config::Config) -> Result<Option<tempfile::TempDir>, CliError> {
    let dir = tempfile::Builder::new()
        .prefix("rubric-demo-")
        .tempdir()
        .map_err(|e| {
            CliError::Other(anyhow::anyhow!("cannot make the demo store's folder: {e}"))
        })?;
    cfg.store.url = format!("sqlite://{}", dir.path().join("demo.db").display());
    Ok(Some(dir))
}

/// Runs `rubric serve` until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs, g: &Global) -> CliResult {
    // Install the metrics recorder before anything records.
    let _ = crate::server::metrics_handle();
    let mut cfg = g.load_config()?;
    if let Some(bind) = args.bind {
        cfg.server.bind = bind;
    }
    let store_given = args.store.is_some();
    if let Some(url) = args.store {
        cfg.store.url = url;
    }
    if let Some(dir) = args.catalog {
        cfg.catalog.path = dir;
    }
    if let Some(dir) = args.scorecards {
        cfg.scorecards.path = dir;
    }
    // The fixture server and the demo's own store live as long as this function.
    let _demo_store = if args.fixture && !store_given {
        demo_store(&mut cfg)?
    } else {
        None
    };
    let _fixture = if args.fixture {
        let server = crate::demo::fixture::start().await.map_err(|e| {
            CliError::Other(anyhow::anyhow!("cannot start the demo Codecov server: {e}"))
        })?;
        cfg.codecov.url = server.url();
        for account in &mut cfg.codecov.accounts {
            account.url = Some(server.url());
        }
        // The demo should show results at once, not after a random delay.
        cfg.schedule.jitter_secs = 0;
        for (dir, name) in [
            (&mut cfg.catalog.path, "entities"),
            (&mut cfg.scorecards.path, "scorecards"),
        ] {
            if !dir.is_dir() {
                *dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
            }
        }
        Some(server)
    } else {
        None
    };

    let backstage = crate::server::BackstageJwks::from_config(&cfg.server.backstage)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut auth = Auth::from_config(&cfg.auth).map_err(|e| CliError::Usage(e.to_string()))?;
    if auth.is_closed() && args.fixture {
        cfg.auth.anonymous_read = true;
        auth = Auth::from_config(&cfg.auth).map_err(|e| CliError::Usage(e.to_string()))?;
        eprintln!(
            "rubric serve: demo mode: no tokens in {}, so reads need none",
            cfg.auth.tokens_env
        );
    } else if auth.is_closed() && backstage.is_none() {
        eprintln!(
            "rubric serve: warning: no API tokens in {} and [auth] anonymous_read = false: \
             every API call will be refused (only /healthz, /readyz and /api/openapi.json answer)",
            cfg.auth.tokens_env
        );
    }
    let auth = auth.with_backstage(backstage);
    let alerter = Alerter::from_config(&cfg.alerts).map_err(|e| CliError::Usage(e.to_string()))?;

    let store = super::open_store(&cfg.store.url).await?;
    let (evaluator, diags) = PipelineEvaluator::load(&cfg).await?;
    for d in &diags {
        eprint!("{d}");
    }
    check_tokens(&evaluator).await?;
    let infos = evaluator.scorecards();
    let plans =
        scheduler::plans(&cfg.schedule, &infos).map_err(|e| CliError::Usage(e.to_string()))?;
    let evaluator = Arc::new(evaluator);
    let runner = Arc::new(Runner::new(store.clone(), evaluator.clone(), alerter));
    let settings = Settings::from_config(&cfg);
    let state = AppState::new(runner.clone(), auth, settings.clone());
    first_sync(evaluator, state.clone());
    let app = crate::server::router(state);

    let listener = tokio::net::TcpListener::bind(&cfg.server.bind)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", cfg.server.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Other(e.into()))?;
    let stop_signal = shutdown_signal();
    eprintln!(
        "rubric serve: http://{addr} · store {} · {} scorecard(s) · schedule {}",
        redact_url(&cfg.store.url),
        infos.len(),
        if cfg.schedule.enabled { "on" } else { "off" },
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks = if cfg.schedule.enabled {
        let retention = chrono::TimeDelta::days(i64::from(cfg.store.retention_days.max(1)));
        scheduler::spawn(runner, plans, retention, stopped)
    } else {
        Vec::new()
    };
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let server = crate::server::serve(listener, app, &settings, async move {
        stop_signal.await;
        let _ = signalled.send(());
    });
    // Requests in flight (one may wait on a long run) get SHUTDOWN_GRACE after the signal.
    tokio::select! {
        () = server => {}
        () = async {
            let _ = on_signal.await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            eprintln!("rubric serve: requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
    let _ = stop.send(true);
    // Scheduled runs stop at their next entity; one that does not is abandoned (its
    // transaction never commits, so the previous results stay).
    for mut t in tasks {
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut t).await.is_err() {
            t.abort();
        }
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, store.close()).await;
    Ok(ExitCode::SUCCESS)
}

/// How long shutdown waits for requests in flight and for scheduled runs, each.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Resolves on Ctrl-C or SIGTERM (listening from the call on).
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // Registered now, before the address is announced: a signal sent as soon as the server is
    // seen to listen stops it gracefully instead of killing it.
    #[cfg(unix)]
    let (mut interrupt, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt.take()) => {}
                () = wait(term.take()) => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("rubric serve: shutting down");
    }
}

//! `rubric providers test` and `rubric sync`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{CliError, CliResult, Global, TextFormat};
use crate::catalog::{Catalog, CatalogSources, Entity};
use crate::config::Config;
use crate::cql::Registry;
use crate::facts::{FactKey, Source};
use crate::pipeline::sync;
use crate::providers::{Providers, save_facts_file, self_test};
use crate::scorecard::Scorecard;

/// `rubric providers ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ProvidersCommand {
    /// Check every configured provider: host reachable, token accepted, a repository readable.
    Test(TestArgs),
}

/// `rubric providers test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The repository to read, as `service/owner/repo` (default: the first mapped entity).
    #[arg(long, value_name = "SERVICE/OWNER/REPO")]
    pub repo: Option<String>,
    /// Folder of entity descriptors to pick a repository from (default: `[catalog] path`).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Output format: `json` prints `[{"provider", "checks": [{"name", "status", "detail"}]}]`.
    #[arg(long, value_enum, default_value_t)]
    pub format: TextFormat,
}

/// `rubric sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Folder of entity descriptors (default: `[catalog] path`).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Folder of scorecards whose rules name the facts to fetch (default: `[scorecards] path`).
    #[arg(long, value_name = "DIR")]
    pub scorecards: Option<PathBuf>,
    /// Write the fetched facts as JSON, for `rubric eval --facts FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Fetch every provider fact rubric knows, not only those the scorecards' rules read.
    #[arg(long)]
    pub all_facts: bool,
}

/// Runs `rubric providers ...`.
pub async fn run(cmd: ProvidersCommand, g: &Global) -> CliResult {
    let ProvidersCommand::Test(args) = cmd;
    let cfg = g.load_config()?;
    let providers = Providers::from_config(&cfg)?;
    let repo = match &args.repo {
        Some(text) => Some(self_test::parse_repo(text).ok_or_else(|| {
            CliError::Usage(format!(
                "--repo {text:?}: expected service/owner/repo, e.g. github/acme/api"
            ))
        })?),
        None => None,
    };
    let catalog = match repo {
        Some(_) => None,
        None => Some(load_catalog(&cfg, args.catalog.as_deref()).await),
    };
    let reports = providers.self_test(catalog.as_ref(), repo.as_ref()).await;
    match args.format {
        TextFormat::Json => {
            say!("{}", super::json_document(&reports)?);
        }
        TextFormat::Text => {
            for r in &reports {
                super::emit(&r.to_string());
            }
        }
    }
    Ok(if reports.iter().all(|r| r.ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn load_catalog(cfg: &Config, dir: Option<&Path>) -> Catalog {
    let mut sources = CatalogSources::from_config(cfg);
    if let Some(dir) = dir {
        sources = sources.with_dir(dir.to_path_buf());
    }
    Catalog::load_sources(&sources).await
}

/// The provider facts the scorecards' rules and filters read (their union, in first-seen
/// order), and how many scorecards loaded. Scorecard problems are `rubric eval`'s to report.
fn scorecard_keys(dir: &Path) -> (Vec<FactKey>, usize) {
    let (cards, _) = Scorecard::load_dir(dir, Registry::standard());
    let mut keys: Vec<FactKey> = Vec::new();
    for key in cards.iter().flat_map(|c| c.fact_keys()) {
        if key.source != Source::Catalog && !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    (keys, cards.len())
}

/// Runs `rubric sync`.
pub async fn sync(args: SyncArgs, g: &Global) -> CliResult {
    let cfg = g.load_config()?;
    let providers = Providers::from_config(&cfg)?;
    let catalog = load_catalog(&cfg, args.catalog.as_deref()).await;
    let errors = catalog.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        eprintln!("catalog: {errors} error(s) excluded their entities (see rubric catalog)");
    }
    let keys = if args.all_facts {
        sync::provider_keys(&providers)
    } else {
        let dir = args
            .scorecards
            .clone()
            .unwrap_or_else(|| cfg.scorecards.path.clone());
        let (keys, cards) = scorecard_keys(&dir);
        eprintln!(
            "{} provider facts read by {cards} scorecards in {}",
            keys.len(),
            dir.display()
        );
        if keys.is_empty() {
            eprintln!(
                "nothing to fetch: no rule reads a provider (--all-facts fetches every provider fact)"
            );
        }
        keys
    };
    let entities: Vec<&Entity> = catalog.entities.iter().collect();
    let total = entities.len();
    let done = AtomicUsize::new(0);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} syncing {bar:30} {pos}/{len} entities, {elapsed}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let tick = || {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        match &bar {
            Some(b) => b.inc(1),
            None if n == total || n.is_multiple_of((total / 10).max(1)) => {
                eprintln!("synced {n}/{total} entities")
            }
            None => {}
        }
    };
    let (facts, summary) = sync::sync(&providers, &catalog, &entities, &keys, &tick).await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    eprint!("{summary}");
    if let Some(out) = &args.out {
        save_facts_file(out, &facts).map_err(anyhow::Error::from)?;
        eprintln!(
            "wrote {} facts of {} entities to {}",
            facts.entities.values().map(|m| m.len()).sum::<usize>(),
            facts.entities.len(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

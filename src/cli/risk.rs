//! `rubric risk`: the deploy risk of a change from the coverage of the files it touches. The
//! changed files come from `--changed-files` or Codecov's comparison of the pull request (or of
//! `--base` and `--head`); each file's coverage from rubric's own uploads (of `--head`, else the
//! main branch's latest complete commit), else from Codecov's comparison.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliError, CliResult, Global, json_document};
use crate::coverage::RepoSlug;
use crate::coverage::risk::RiskRules;
use crate::jobs::risk::{Change, assess_change};
use crate::providers::Providers;
use crate::providers::codecov::Codecov;
use crate::store::Store;

/// Output formats of `rubric risk`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RiskFormat {
    /// `{"repo", "pull", "files": [{"path", "coverage", "lines", "hits"}], "changed_coverage",
    /// "points", "reason", "skipped"}`.
    #[default]
    Json,
    /// A pull-request comment.
    Markdown,
}

/// `rubric risk`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("change").required(true).args(["pull", "base"])))]
pub struct RiskArgs {
    /// The repository, `SERVICE/OWNER/REPO`.
    #[arg(long, value_name = "SERVICE/OWNER/REPO")]
    pub repo: String,
    /// The pull request.
    #[arg(long, value_name = "N")]
    pub pull: Option<u64>,
    /// The base commit of the change (with --head).
    #[arg(long, value_name = "SHA", requires = "head")]
    pub base: Option<String>,
    /// The head commit of the change (with --base).
    #[arg(long, value_name = "SHA", requires = "base")]
    pub head: Option<String>,
    /// A file listing the changed files, one path per line (default: Codecov's comparison).
    #[arg(long, value_name = "FILE")]
    pub changed_files: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: RiskFormat,
    /// The store with the uploads (default `[store] url`).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// Runs `rubric risk`.
pub async fn run(args: RiskArgs, g: &Global) -> CliResult {
    let cfg = g.load_config()?;
    let slug = RepoSlug::parse(&args.repo).map_err(CliError::Usage)?;
    let files = match &args.changed_files {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?
                .lines()
                .map(str::to_string)
                .collect(),
        ),
    };
    let change = Change {
        pull: args.pull,
        base: args.base,
        head: args.head,
        files,
    };
    let providers = Providers::from_config(&cfg)?;
    let comparisons = providers
        .get::<Codecov>()
        .map(|c| c as &dyn crate::jobs::risk::Comparisons);
    let store = open_store(&cfg, args.store.as_deref()).await;
    let rules = RiskRules {
        below: cfg.risk.low_coverage,
        points: cfg.risk.points,
    };
    let risk = assess_change(
        &slug,
        &change,
        comparisons,
        store.as_ref(),
        &cfg.uploads.branches,
        &rules,
    )
    .await
    .map_err(|e| CliError::Other(anyhow::anyhow!(e)))?;
    match args.format {
        RiskFormat::Json => say!("{}", json_document(&risk)?),
        RiskFormat::Markdown => super::emit(&risk.markdown()),
    }
    Ok(ExitCode::SUCCESS)
}

/// The store with the uploads: `--store`, else `[store] url` when its SQLite file exists
/// (`rubric risk` creates nothing); none when it cannot be opened.
async fn open_store(cfg: &crate::config::Config, store: Option<&str>) -> Option<Store> {
    let url = store.unwrap_or(&cfg.store.url);
    let missing_file = url
        .strip_prefix("sqlite://")
        .is_some_and(|path| !std::path::Path::new(path.split('?').next().unwrap_or(path)).exists());
    if store.is_none() && missing_file {
        return None;
    }
    super::open_store(url).await.ok()
}

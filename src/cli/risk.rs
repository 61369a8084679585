//! `rubric risk`: the deploy risk of a change from the coverage of the files it touches. The
//! changed files come from `--changed-files` or Codecov's comparison of the pull request (or of
//! `--base` and `--head`); each file's coverage from rubric's own uploads (of `--head`, else the
//! main branch's latest complete commit), else from Codecov's comparison.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliError, CliResult, Global, json_document};
use crate::catalog::{CodecovProject, MappedBy};
use crate::coverage::RepoSlug;
use crate::coverage::risk::{ChangedFile, RiskRules, assess};
use crate::providers::Providers;
use crate::providers::codecov::Codecov;
use crate::store::Store;
use crate::store::uploads::CommitQuery;

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
    let listed: Option<Vec<String>> = match &args.changed_files {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?
                .lines()
                .map(|l| l.trim().trim_start_matches("./").to_string())
                .filter(|l| !l.is_empty())
                .collect(),
        ),
    };
    // Codecov's comparison: the changed files when none are listed, and their coverage.
    let project = CodecovProject {
        service: slug.service.clone(),
        owner: slug.owner.clone(),
        repo: slug.repo.clone(),
        flag: None,
        account: None,
        mapped_by: MappedBy::Descriptor,
    };
    let pull_text = args.pull.map(|p| p.to_string());
    let query: Vec<(&str, &str)> = match (&pull_text, &args.base, &args.head) {
        (Some(p), _, _) => vec![("pullid", p.as_str())],
        (None, Some(b), Some(h)) => vec![("base", b.as_str()), ("head", h.as_str())],
        _ => Vec::new(),
    };
    let providers = Providers::from_config(&cfg)?;
    let compared = match providers.get::<Codecov>() {
        Some(codecov) => codecov.changed_files(&project, &query).await,
        None => Err("Codecov is not configured".to_string()),
    };
    let compared = match (compared, &listed) {
        (Ok(files), _) => files,
        (Err(reason), Some(_)) => {
            tracing::warn!(%reason, "no Codecov comparison; coverage from uploads only");
            Vec::new()
        }
        (Err(reason), None) => {
            return Err(CliError::Other(anyhow::anyhow!(
                "{reason} (give the changed files with --changed-files FILE)"
            )));
        }
    };
    let paths: Vec<String> = match listed {
        Some(paths) => paths,
        None => compared.iter().map(|f| f.path.clone()).collect(),
    };
    let uploaded = uploaded_files(&cfg, args.store.as_deref(), &slug, args.head.as_deref()).await;
    let from_codecov: HashMap<&str, &ChangedFile> =
        compared.iter().map(|f| (f.path.as_str(), f)).collect();
    let files = paths
        .iter()
        .map(|path| {
            uploaded
                .get(path.as_str())
                .cloned()
                .or_else(|| from_codecov.get(path.as_str()).map(|f| (*f).clone()))
                .unwrap_or_else(|| ChangedFile {
                    path: path.clone(),
                    coverage: None,
                    lines: 0,
                    hits: 0,
                })
        })
        .collect();
    let rules = RiskRules {
        below: cfg.risk.low_coverage,
        points: cfg.risk.points,
    };
    let risk = assess(&slug.to_string(), args.pull, files, &rules);
    match args.format {
        RiskFormat::Json => say!("{}", json_document(&risk)?),
        RiskFormat::Markdown => super::emit(&risk.markdown()),
    }
    Ok(ExitCode::SUCCESS)
}

/// The files of the uploaded report of `head` (else of the main branch's latest complete
/// commit), by path; empty when the store has none or cannot be read.
async fn uploaded_files(
    cfg: &crate::config::Config,
    store: Option<&str>,
    slug: &RepoSlug,
    head: Option<&str>,
) -> HashMap<String, ChangedFile> {
    let url = store.unwrap_or(&cfg.store.url);
    // The default SQLite store is read only when it exists: `rubric risk` creates nothing.
    let missing_file = url
        .strip_prefix("sqlite://")
        .is_some_and(|path| !std::path::Path::new(path.split('?').next().unwrap_or(path)).exists());
    if store.is_none() && missing_file {
        return HashMap::new();
    }
    let Ok(store) = Store::connect(url).await else {
        return HashMap::new();
    };
    let repository = slug.to_string();
    let query = CommitQuery {
        commit: head,
        branches: &cfg.uploads.branches,
        complete_only: head.is_none(),
        unknown_branch_matches: true,
        before: None,
    };
    let Ok(Some(commit)) = store.commit_coverage(&repository, query).await else {
        return HashMap::new();
    };
    let files = store
        .commit_files(&repository, &commit.commit, "")
        .await
        .unwrap_or_default();
    files
        .into_iter()
        .map(|f| {
            let t = f.totals();
            (
                f.path.clone(),
                ChangedFile {
                    path: f.path,
                    coverage: t.coverage,
                    lines: t.lines,
                    hits: t.hits,
                },
            )
        })
        .collect()
}

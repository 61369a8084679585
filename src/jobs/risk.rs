//! The deploy risk of a change, as `rubric risk` and `POST /api/v1/risk` assess it: the changed
//! files (listed, or Codecov's comparison), each one's coverage (rubric's uploads first, then
//! Codecov's comparison), and the points of `[risk]`.

use std::collections::HashMap;

use futures::future::BoxFuture;

use crate::catalog::{CodecovProject, MappedBy};
use crate::coverage::RepoSlug;
use crate::coverage::risk::{ChangedFile, Risk, RiskRules, assess};
use crate::store::Store;
use crate::store::uploads::CommitQuery;

/// Which change.
#[derive(Clone, Debug, Default)]
pub struct Change {
    /// The pull request.
    pub pull: Option<u64>,
    /// Base and head commits, when no pull request is named.
    pub base: Option<String>,
    /// See `base`.
    pub head: Option<String>,
    /// The changed files, when the caller knows them.
    pub files: Option<Vec<String>>,
}

/// Reads a comparison's changed files with their head coverage: Codecov's, in practice.
pub trait Comparisons: Send + Sync {
    /// The files `query` (`pullid`, or `base` and `head`) changes in `project`.
    fn changed_files<'a>(
        &'a self,
        project: &'a CodecovProject,
        query: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<Vec<ChangedFile>, String>>;
}

impl Comparisons for crate::providers::codecov::Codecov {
    fn changed_files<'a>(
        &'a self,
        project: &'a CodecovProject,
        query: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<Vec<ChangedFile>, String>> {
        Box::pin(crate::providers::codecov::Codecov::changed_files(
            self, project, query,
        ))
    }
}

/// Assesses `change` in repository `slug`; an error when the changed files are neither listed
/// nor readable from the comparison.
pub async fn assess_change(
    slug: &RepoSlug,
    change: &Change,
    comparisons: Option<&dyn Comparisons>,
    store: Option<&Store>,
    branches: &[String],
    rules: &RiskRules,
) -> Result<Risk, String> {
    let project = CodecovProject {
        service: slug.service.clone(),
        owner: slug.owner.clone(),
        repo: slug.repo.clone(),
        flag: None,
        account: None,
        mapped_by: MappedBy::Descriptor,
    };
    let pull_text = change.pull.map(|p| p.to_string());
    let query: Vec<(&str, &str)> = match (&pull_text, &change.base, &change.head) {
        (Some(p), _, _) => vec![("pullid", p.as_str())],
        (None, Some(b), Some(h)) => vec![("base", b.as_str()), ("head", h.as_str())],
        _ => return Err("name the change: a pull request, or base and head commits".into()),
    };
    let compared = match comparisons {
        Some(c) => c.changed_files(&project, &query).await,
        None => Err("Codecov is not configured".to_string()),
    };
    let compared = match (compared, &change.files) {
        (Ok(files), _) => files,
        (Err(reason), Some(_)) => {
            tracing::warn!(%reason, "no comparison of the change; coverage from uploads only");
            Vec::new()
        }
        (Err(reason), None) => {
            return Err(format!("{reason} (list the changed files instead)"));
        }
    };
    let paths: Vec<String> = match &change.files {
        Some(paths) => paths
            .iter()
            .map(|p| p.trim().trim_start_matches("./").to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        None => compared.iter().map(|f| f.path.clone()).collect(),
    };
    let uploaded = match store {
        Some(store) => uploaded_files(store, slug, change.head.as_deref(), branches).await,
        None => HashMap::new(),
    };
    let from_comparison: HashMap<&str, &ChangedFile> =
        compared.iter().map(|f| (f.path.as_str(), f)).collect();
    let files = paths
        .iter()
        .map(|path| {
            uploaded
                .get(path.as_str())
                .cloned()
                .or_else(|| from_comparison.get(path.as_str()).map(|f| (*f).clone()))
                .unwrap_or_else(|| ChangedFile {
                    path: path.clone(),
                    coverage: None,
                    lines: 0,
                    hits: 0,
                })
        })
        .collect();
    Ok(assess(&slug.to_string(), change.pull, files, rules))
}

/// The files of the uploaded report of `head` (else of the latest complete commit on
/// `branches`), by path; empty when there is none or the store fails.
async fn uploaded_files(
    store: &Store,
    slug: &RepoSlug,
    head: Option<&str>,
    branches: &[String],
) -> HashMap<String, ChangedFile> {
    let repository = slug.to_string();
    let query = CommitQuery {
        commit: head,
        branches,
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
            let file = ChangedFile {
                path: f.path.clone(),
                coverage: t.coverage,
                lines: t.lines,
                hits: t.hits,
            };
            (f.path, file)
        })
        .collect()
}

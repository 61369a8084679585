//! The `coverage` provider: `coverage.*` facts from the coverage uploaded to rubric itself, read
//! from the store. The repository is the entity's mapped one (the same mapping as Codecov's);
//! the commit is the latest complete one on the configured branches (`[uploads] branches`), or
//! one whose uploads named no branch. The store is opened on the first fact asked for, so a run
//! whose scorecards never name `coverage.*` never touches it.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;

use super::Store;
use super::uploads::{CommitCoverage, CommitQuery};
use crate::catalog::{Catalog, Entity};
use crate::config::redact_url;
use crate::coverage::Totals;
use crate::facts::{Fact, FactKey, Source};
use crate::providers::Provider;
use crate::value::Value;

/// The `coverage` provider over a store.
pub struct UploadsProvider {
    url: String,
    branches: Vec<String>,
    store: tokio::sync::OnceCell<Result<Store, String>>,
}

impl std::fmt::Debug for UploadsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadsProvider")
            .field("url", &redact_url(&self.url))
            .field("branches", &self.branches)
            .finish()
    }
}

impl UploadsProvider {
    /// A provider that opens the store at `url` when first asked.
    pub fn new(url: &str, branches: &[String]) -> Arc<Self> {
        Arc::new(UploadsProvider {
            url: url.to_string(),
            branches: branches.to_vec(),
            store: tokio::sync::OnceCell::new(),
        })
    }

    /// The provider `cfg` configures: the store of `[store] url` (or `store`, when given),
    /// the branches of `[uploads]`.
    pub fn from_config(cfg: &crate::config::Config, store: Option<&str>) -> Arc<Self> {
        UploadsProvider::new(store.unwrap_or(&cfg.store.url), &cfg.uploads.branches)
    }

    async fn store(&self) -> Result<&Store, String> {
        self.store
            .get_or_init(|| async {
                Store::connect(&self.url).await.map_err(|e| {
                    format!(
                        "the store {} with the uploads cannot be read: {e}",
                        redact_url(&self.url)
                    )
                })
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    fn query(&self) -> CommitQuery<'_> {
        CommitQuery {
            commit: None,
            branches: &self.branches,
            complete_only: true,
            unknown_branch_matches: true,
            before: None,
        }
    }

    /// The commit facts are read from, or the no-data fact saying why there is none.
    async fn commit(
        &self,
        store: &Store,
        repository: &str,
        query: CommitQuery<'_>,
    ) -> Result<CommitCoverage, Fact> {
        let stored = |e: super::StoreError| Fact::error(format!("the store failed: {e}"));
        if let Some(found) = store
            .commit_coverage(repository, query)
            .await
            .map_err(stored)?
        {
            return Ok(found);
        }
        let branches = store.upload_branches(repository).await.map_err(stored)?;
        let uploaded = store
            .last_upload_at(repository)
            .await
            .map_err(stored)?
            .is_some();
        Err(Fact::no_data(if !uploaded {
            format!("no coverage uploaded to rubric for {repository}")
        } else if branches.is_empty() {
            format!("no complete upload for {repository} yet (a partial one awaits its final call)")
        } else {
            format!(
                "no complete upload for {repository} on {} (uploads on: {})",
                self.branches.join(" or "),
                branches.join(", ")
            )
        }))
    }

    async fn fact(&self, key: &FactKey, entity: &Entity) -> Fact {
        let Some(project) = &entity.codecov else {
            let why = entity.unmapped_reason.as_deref().unwrap_or("no repository");
            return Fact::no_data(format!("entity has no repository mapping: {why}"));
        };
        let repository = format!("{}/{}/{}", project.service, project.owner, project.repo);
        let store = match self.store().await {
            Ok(s) => s,
            Err(e) => return Fact::error(e),
        };
        let flag = key.arg_str("flag").or_else(|| project.flag.clone());
        let function = key.function.as_str();
        if function == "lastUploadAt" {
            return match store.last_upload_at(&repository).await {
                Ok(Some(at)) => Fact::ok(Value::Timestamp(at)).from_origin(repository),
                Ok(None) => {
                    Fact::no_data(format!("no coverage uploaded to rubric for {repository}"))
                }
                Err(e) => Fact::error(format!("the store failed: {e}")),
            };
        }
        let commit = match self.commit(store, &repository, self.query()).await {
            Ok(c) => c,
            Err(fact) => return fact,
        };
        let origin = format!(
            "{repository}@{}{}",
            &commit.commit[..commit.commit.len().min(7)],
            flag.as_deref()
                .map(|f| format!(", flag {f}"))
                .unwrap_or_default()
        );
        let fact = match function {
            "total" | "lines" | "hits" | "misses" | "partials" => {
                match totals(&commit, flag.as_deref()) {
                    Ok(t) => measure(&t, function),
                    Err(fact) => fact,
                }
            }
            "file" | "files" => {
                let files = match store
                    .commit_files(&repository, &commit.commit, flag.as_deref().unwrap_or(""))
                    .await
                {
                    Ok(files) => files,
                    Err(e) => return Fact::error(format!("the store failed: {e}")),
                };
                if function == "files" {
                    let list: Vec<_> = files
                        .iter()
                        .map(|f| {
                            let t = f.totals();
                            json!({"path": f.path, "coverage": t.coverage, "lines": t.lines, "hits": t.hits})
                        })
                        .collect();
                    Fact::ok(Value::from_json(&serde_json::Value::Array(list)))
                } else {
                    let path = key.arg_str("path").unwrap_or_default();
                    let path = path.trim_start_matches("./");
                    match files.iter().find(|f| f.path == path) {
                        Some(f) => match f.totals().coverage {
                            Some(pct) => Fact::ok(pct),
                            None => Fact::no_data(format!("{path} has no coverable lines")),
                        },
                        None => Fact::no_data(format!(
                            "the uploaded report has no file {path:?} ({} files)",
                            files.len()
                        )),
                    }
                }
            }
            "trend" => self.trend(store, &repository, &commit, key).await,
            "history" => {
                let days = key.arg_f64("days").unwrap_or(30.0).clamp(1.0, 3650.0);
                let since = crate::clock::now() - chrono::TimeDelta::days(days as i64);
                match store.daily_coverage(&repository, &self.branches, since).await {
                    Ok(points) => Fact::ok(Value::from_json(&serde_json::Value::Array(
                        points
                            .iter()
                            .map(|(day, coverage)| json!({"day": day.to_string(), "coverage": coverage}))
                            .collect(),
                    ))),
                    Err(e) => Fact::error(format!("the store failed: {e}")),
                }
            }
            other => Fact::error(format!("coverage.{other} is not a coverage fact")),
        };
        fact.from_origin(origin)
    }

    /// The change in coverage points from the latest complete commit `days` days ago (or
    /// earlier) to the latest one.
    async fn trend(
        &self,
        store: &Store,
        repository: &str,
        latest: &CommitCoverage,
        key: &FactKey,
    ) -> Fact {
        let days = key.arg_f64("days").unwrap_or(30.0);
        if !(days.is_finite() && days > 0.0 && days <= 3650.0) {
            return Fact::error(format!(
                "coverage.trend: days {days} is not between 0 and 3650"
            ));
        }
        let cutoff = crate::clock::now() - chrono::TimeDelta::seconds((days * 86_400.0) as i64);
        let query = CommitQuery {
            before: Some(cutoff),
            ..self.query()
        };
        let baseline = match self.commit(store, repository, query).await {
            Ok(c) if c.commit != latest.commit => c,
            _ => {
                return Fact::no_data(format!(
                    "no upload {days} days old or older to compare with (first complete upload kept is newer)"
                ));
            }
        };
        match (latest.totals.coverage, baseline.totals.coverage) {
            (Some(now), Some(then)) => Fact::ok(((now - then) * 100.0).round() / 100.0),
            _ => Fact::no_data("a report without coverable lines"),
        }
    }
}

/// The totals of the commit, or of one flag.
fn totals(commit: &CommitCoverage, flag: Option<&str>) -> Result<Totals, Fact> {
    match flag {
        None => Ok(commit.totals),
        Some(flag) => commit.flags.get(flag).copied().ok_or_else(|| {
            Fact::no_data(format!(
                "no upload with flag {flag:?} for commit {} (flags: {})",
                commit.commit,
                commit.flags.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        }),
    }
}

fn measure(t: &Totals, function: &str) -> Fact {
    match function {
        "total" => match t.coverage {
            Some(pct) => Fact::ok(pct),
            None => Fact::no_data("the uploaded report has no coverable lines"),
        },
        "lines" => Fact::ok(t.lines as f64),
        "hits" => Fact::ok(t.hits as f64),
        "misses" => Fact::ok(t.misses as f64),
        _ => Fact::ok(t.partials as f64),
    }
}

impl Provider for UploadsProvider {
    fn source(&self) -> Source {
        Source::Coverage
    }

    fn history_keys(&self) -> Vec<FactKey> {
        vec![
            FactKey::new(Source::Coverage, "coverage", "total"),
            FactKey::new(Source::Coverage, "coverage", "lastUploadAt"),
            FactKey::new(Source::Coverage, "coverage", "history")
                .with_arg("days", serde_json::json!(30)),
        ]
    }

    fn history_point(
        &self,
        entity: &Entity,
        facts: &[&Fact],
    ) -> Option<crate::providers::CoverageReading> {
        let project = entity.codecov.as_ref()?;
        let (coverage, last_upload_at) = crate::providers::reading_values(facts)?;
        Some(crate::providers::CoverageReading {
            repository: format!("{}/{}/{}", project.service, project.owner, project.repo),
            flag: project.flag.clone().unwrap_or_default(),
            coverage,
            last_upload_at,
        })
    }

    /// The days of `coverage.history(days=30)`: each day's last complete commit uploaded.
    fn history_backfill(&self, _entity: &Entity, facts: &[&Fact]) -> Vec<(chrono::NaiveDate, f64)> {
        crate::providers::daily_points(facts.get(2))
    }

    fn answer<'a>(
        &'a self,
        key: &'a FactKey,
        entity: &'a Entity,
        _catalog: &'a Catalog,
    ) -> BoxFuture<'a, Fact> {
        Box::pin(self.fact(key, entity))
    }
}

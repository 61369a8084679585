//! The `coverage` provider: `coverage.*` facts from the coverage uploaded to rubric itself, read
//! from the store. The repository is the entity's mapped one (the same mapping as Codecov's);
//! the commit is the latest complete one on the configured branches (`[uploads] branches`), or
//! one whose uploads named no branch. The store is opened on the first fact asked for, so a run
//! whose scorecards never name `coverage.*` never touches it.
//!
//! A fetch tells the provider its entities and keys first ([`Provider::plan`]): the first answer
//! then reads what every planned fact needs for all their repositories in a few queries (the
//! picked commits, the trend baselines, the daily points, the branches and last uploads), and
//! each answer is computed from that read. Only `coverage.file` and `coverage.files` read their
//! commit's files per repository; a key or repository nobody planned is read alone, the same way.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use serde_json::json;

use super::uploads::{CommitCoverage, CommitQuery};
use super::{Store, StoreResult};
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
    /// The reads of the fetch planned last.
    planned: Mutex<Option<Arc<Batch>>>,
}

/// What one fetch asks of the provider, and (once its first answer is asked for) what was read
/// for all of it.
struct Batch {
    /// The repositories of the planned entities, sorted, each once.
    repositories: Vec<String>,
    /// The planned `coverage.*` keys.
    keys: Vec<FactKey>,
    reads: tokio::sync::OnceCell<Result<Reads, String>>,
}

impl Batch {
    fn new(repositories: BTreeSet<String>, keys: Vec<FactKey>) -> Batch {
        Batch {
            repositories: repositories.into_iter().collect(),
            keys,
            reads: tokio::sync::OnceCell::new(),
        }
    }

    fn covers(&self, repository: &str, key: &FactKey) -> bool {
        self.keys.contains(key)
            && self
                .repositories
                .binary_search_by(|r| r.as_str().cmp(repository))
                .is_ok()
    }
}

/// What the facts of a batch's keys need of its repositories, each read in one query per
/// thousand repositories, by repository.
#[derive(Debug, Default)]
struct Reads {
    /// The commit facts are read from.
    latest: HashMap<String, CommitCoverage>,
    /// Per `coverage.trend` days (as bits), the baseline commit.
    baselines: HashMap<u64, HashMap<String, CommitCoverage>>,
    /// Per `coverage.history` days (as bits), the daily points.
    daily: HashMap<u64, HashMap<String, Vec<(NaiveDate, f64)>>>,
    /// The branches uploads named (for the reasons of missing data).
    branches: HashMap<String, Vec<String>>,
    /// The last upload of any branch.
    last_upload: HashMap<String, DateTime<Utc>>,
}

/// The checked `days` of a `coverage.trend` key, or the error fact.
fn trend_days(key: &FactKey) -> Result<f64, Fact> {
    let days = key.arg_f64("days").unwrap_or(30.0);
    if days.is_finite() && days > 0.0 && days <= 3650.0 {
        Ok(days)
    } else {
        Err(Fact::error(format!(
            "coverage.trend: days {days} is not between 0 and 3650"
        )))
    }
}

/// The `days` of a `coverage.history` key.
fn history_days(key: &FactKey) -> f64 {
    key.arg_f64("days").unwrap_or(30.0).clamp(1.0, 3650.0)
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
            planned: Mutex::new(None),
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

    /// Reads what `keys` need of `repositories`, a few queries for all of them.
    async fn read(
        &self,
        store: &Store,
        repositories: &[String],
        keys: &[FactKey],
    ) -> StoreResult<Reads> {
        let repos: Vec<&str> = repositories.iter().map(String::as_str).collect();
        let now = crate::clock::now();
        let mut reads = Reads {
            branches: store.upload_branches_of(&repos).await?,
            last_upload: store.last_uploads_at(&repos).await?,
            ..Reads::default()
        };
        if keys.iter().any(|k| k.function != "lastUploadAt") {
            reads.latest = store.commits_coverage(&repos, self.query()).await?;
        }
        for key in keys {
            match key.function.as_str() {
                "trend" => {
                    let Ok(days) = trend_days(key) else { continue };
                    if reads.baselines.contains_key(&days.to_bits()) {
                        continue;
                    }
                    let cutoff = now - chrono::TimeDelta::seconds((days * 86_400.0) as i64);
                    let query = CommitQuery {
                        before: Some(cutoff),
                        ..self.query()
                    };
                    let found = store.commits_coverage(&repos, query).await?;
                    reads.baselines.insert(days.to_bits(), found);
                }
                "history" => {
                    let days = history_days(key);
                    if reads.daily.contains_key(&days.to_bits()) {
                        continue;
                    }
                    let since = now - chrono::TimeDelta::days(days as i64);
                    let found = store
                        .daily_coverage_of(&repos, &self.branches, since)
                        .await?;
                    reads.daily.insert(days.to_bits(), found);
                }
                _ => {}
            }
        }
        Ok(reads)
    }

    /// The reads `key` of `repository` is answered from: the planned batch's when it covers
    /// them, else a read of this repository and key alone.
    async fn reads_for(
        &self,
        store: &Store,
        repository: &str,
        key: &FactKey,
    ) -> Result<Arc<Batch>, String> {
        let planned = self
            .planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let batch = match planned {
            Some(batch) if batch.covers(repository, key) => batch,
            _ => Arc::new(Batch::new(
                BTreeSet::from([repository.to_string()]),
                vec![key.clone()],
            )),
        };
        let read = batch
            .reads
            .get_or_init(|| async {
                self.read(store, &batch.repositories, &batch.keys)
                    .await
                    .map_err(|e| format!("the store failed: {e}"))
            })
            .await;
        match read {
            Ok(_) => Ok(batch.clone()),
            Err(e) => Err(e.clone()),
        }
    }

    /// The commit facts are read from, or the no-data fact saying why there is none.
    fn commit<'r>(
        &self,
        reads: &'r Reads,
        commits: &'r HashMap<String, CommitCoverage>,
        repository: &str,
    ) -> Result<&'r CommitCoverage, Fact> {
        if let Some(found) = commits.get(repository) {
            return Ok(found);
        }
        let branches = reads
            .branches
            .get(repository)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Err(Fact::no_data(
            if !reads.last_upload.contains_key(repository) {
                format!("no coverage uploaded to rubric for {repository}")
            } else if branches.is_empty() {
                format!(
                    "no complete upload for {repository} yet (a partial one awaits its final call)"
                )
            } else {
                format!(
                    "no complete upload for {repository} on {} (uploads on: {})",
                    self.branches.join(" or "),
                    branches.join(", ")
                )
            },
        ))
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
        let batch = match self.reads_for(store, &repository, key).await {
            Ok(batch) => batch,
            Err(e) => return Fact::error(e),
        };
        let Some(Ok(reads)) = batch.reads.get() else {
            return Fact::error("the store was not read");
        };
        let flag = key.arg_str("flag").or_else(|| project.flag.clone());
        let function = key.function.as_str();
        if function == "lastUploadAt" {
            return match reads.last_upload.get(&repository) {
                Some(at) => Fact::ok(Value::Timestamp(*at)).from_origin(repository),
                None => Fact::no_data(format!("no coverage uploaded to rubric for {repository}")),
            };
        }
        let commit = match self.commit(reads, &reads.latest, &repository) {
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
                match totals(commit, flag.as_deref()) {
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
            "trend" => self.trend(reads, &repository, commit, key),
            "history" => {
                let points = reads
                    .daily
                    .get(&history_days(key).to_bits())
                    .and_then(|d| d.get(&repository))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                Fact::ok(Value::from_json(&serde_json::Value::Array(
                    points
                        .iter()
                        .map(
                            |(day, coverage)| json!({"day": day.to_string(), "coverage": coverage}),
                        )
                        .collect(),
                )))
            }
            other => Fact::error(format!("coverage.{other} is not a coverage fact")),
        };
        fact.from_origin(origin)
    }

    /// The change in coverage points from the latest complete commit `days` days ago (or
    /// earlier) to the latest one.
    fn trend(
        &self,
        reads: &Reads,
        repository: &str,
        latest: &CommitCoverage,
        key: &FactKey,
    ) -> Fact {
        let days = match trend_days(key) {
            Ok(days) => days,
            Err(fact) => return fact,
        };
        let baseline = reads
            .baselines
            .get(&days.to_bits())
            .and_then(|found| found.get(repository));
        let baseline = match baseline {
            Some(c) if c.commit != latest.commit => c,
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

    /// Remembers the repositories and `coverage.*` keys of the fetch, read together on its
    /// first answer.
    fn plan(&self, entities: &[&Entity], keys: &[FactKey]) {
        let keys: Vec<FactKey> = keys
            .iter()
            .filter(|k| k.source == Source::Coverage)
            .cloned()
            .collect();
        let batch = (!keys.is_empty()).then(|| {
            let repositories = entities
                .iter()
                .filter_map(|e| e.codecov.as_ref())
                .map(|p| format!("{}/{}/{}", p.service, p.owner, p.repo))
                .collect();
            Arc::new(Batch::new(repositories, keys))
        });
        *self.planned.lock().unwrap_or_else(|p| p.into_inner()) = batch;
    }
}

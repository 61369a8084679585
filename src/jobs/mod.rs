//! Jobs: scheduled scorecard evaluation and alerts.
//!
//! A [`Runner`] evaluates one scorecard (or one entity of it) through an [`Evaluator`], writes
//! the run to the [`Store`] in one transaction and hands the result to the [`alerts::Alerter`].
//! It allows one run per scorecard at a time in this process, and with PostgreSQL scheduled runs
//! also take a cluster-wide advisory lock so replicas don't repeat each other's work.
//! The [`scheduler`] calls the runner on each scorecard's window or cron line; the scorecards
//! due together go through [`Runner::run_many`], evaluated from one fetch of their facts.

pub mod alerts;
pub mod pipeline;
pub mod risk;
pub mod scheduler;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, broadcast};

use crate::store::{NewRun, PreparedRun, RunStatus, Store, StoreError, Trigger};

/// What the service knows about a scorecard (for listings and the schedule).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScorecardInfo {
    /// Tag.
    pub tag: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `evaluation.window` in hours, when the scorecard sets one.
    pub window_hours: Option<u32>,
    /// Whether it is a draft.
    pub draft: bool,
    /// Ladder levels `(name, rank)`, rank 1 = lowest.
    pub levels: Vec<(String, i64)>,
    /// The colours the ladder gives its levels (`#c38b5f`), by level name.
    pub colors: std::collections::BTreeMap<String, String>,
}

impl ScorecardInfo {
    /// What a loaded scorecard says of itself.
    pub fn of(card: &crate::scorecard::Scorecard) -> ScorecardInfo {
        let report = card.report();
        ScorecardInfo {
            tag: report.tag,
            name: report.name,
            description: report.description.unwrap_or_default(),
            window_hours: card
                .spec
                .evaluation_window_hours
                .map(|h| u32::try_from(h).unwrap_or(u32::MAX)),
            draft: report.draft,
            colors: report
                .levels
                .iter()
                .filter_map(|l| Some((l.name.clone(), l.color.clone()?)))
                .collect(),
            levels: report
                .levels
                .into_iter()
                .map(|l| (l.name, l.rank))
                .collect(),
        }
    }
}

/// Why an evaluation could not produce a run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// No scorecard has this tag.
    #[error("unknown scorecard {0:?}")]
    UnknownScorecard(String),
    /// No entity has this tag.
    #[error("unknown entity {0:?}")]
    UnknownEntity(String),
    /// Evaluation failed as a whole (e.g. the catalog did not load).
    #[error("{0}")]
    Failed(String),
}

/// Evaluates scorecards: the seam between the service and the pipeline (or a fake in tests).
pub trait Evaluator: Send + Sync + 'static {
    /// The scorecards that can be evaluated.
    fn scorecards(&self) -> Vec<ScorecardInfo>;
    /// Whether the catalog has an entity with this tag or Backstage ref; `Some(tag)` with its tag.
    fn entity_tag(&self, tag_or_ref: &str) -> Option<String>;
    /// The Backstage ref (`component:default/name`) of the entity with this tag, when it has one.
    fn entity_ref(&self, _tag: &str) -> Option<String> {
        None
    }
    /// Evaluates `scorecard` over every entity, or over one when `entity` is given.
    fn evaluate<'a>(
        &'a self,
        scorecard: &'a str,
        entity: Option<&'a str>,
        trigger: Trigger,
    ) -> BoxFuture<'a, Result<NewRun, EvalError>>;
    /// Evaluates each of `scorecards` over every entity: one run each, in that order. An
    /// evaluator that can should read the catalog and fetch the facts once for all of them;
    /// this one evaluates them in turn.
    fn evaluate_many<'a>(
        &'a self,
        scorecards: &'a [&'a str],
        trigger: Trigger,
    ) -> BoxFuture<'a, Result<Vec<NewRun>, EvalError>> {
        Box::pin(async move {
            let mut runs = Vec::with_capacity(scorecards.len());
            for scorecard in scorecards {
                runs.push(self.evaluate(scorecard, None, trigger).await?);
            }
            Ok(runs)
        })
    }
    /// Like [`Evaluator::evaluate_many`], handing each run to `done` as soon as it is evaluated,
    /// so that it is written while the next one evaluates. An error comes before any run is
    /// handed over. This one hands them over when all are evaluated.
    fn evaluate_each<'a>(
        &'a self,
        scorecards: &'a [&'a str],
        trigger: Trigger,
        done: UnboundedSender<NewRun>,
    ) -> BoxFuture<'a, Result<(), EvalError>> {
        Box::pin(async move {
            for run in self.evaluate_many(scorecards, trigger).await? {
                // A closed receiver no longer wants runs.
                let _ = done.unbounded_send(run);
            }
            Ok(())
        })
    }
    /// Where the changed files of a pull request are read, for the deploy risk (Codecov's
    /// comparisons); none when no such source is configured.
    fn comparisons(&self) -> Option<&dyn risk::Comparisons> {
        None
    }
    /// The scorecard `tag` as loaded from its file (its spec and YAML text), for the routes that
    /// show definitions; none when this evaluator reads no files.
    fn definition(&self, _tag: &str) -> Option<&crate::scorecard::Scorecard> {
        None
    }
    /// The catalog as last loaded, for the routes that list entities; none when this evaluator
    /// has no catalog of its own.
    fn current_catalog(&self) -> Option<Arc<crate::catalog::Catalog>> {
        None
    }
}

/// Why a run did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another run of this scorecard is in progress (here or, with PostgreSQL, on a replica).
    #[error("scorecard {0:?} is already being evaluated")]
    Busy(String),
    /// The evaluator refused.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A run that was written.
#[derive(Debug)]
pub struct RunOutcome {
    /// Its id in the store.
    pub run_id: i64,
    /// What was written.
    pub run: NewRun,
    /// The alert work started for it; resolves to the ids of the alerts fired.
    pub alerts: tokio::task::JoinHandle<Vec<i64>>,
}

/// An event published after every run, for caches and tests.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEvent {
    /// Scorecard tag.
    pub scorecard: String,
    /// Run id.
    pub run_id: i64,
    /// What started it.
    pub trigger: Trigger,
}

/// Runs evaluations, one per scorecard at a time, and records them.
pub struct Runner {
    store: Store,
    evaluator: Arc<dyn Evaluator>,
    alerter: Arc<alerts::Alerter>,
    busy: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    events: broadcast::Sender<RunEvent>,
    written: AtomicU64,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner writing to `store`, evaluating with `evaluator`, alerting with `alerter`.
    pub fn new(store: Store, evaluator: Arc<dyn Evaluator>, alerter: alerts::Alerter) -> Runner {
        Runner {
            store,
            evaluator,
            alerter: Arc::new(alerter),
            busy: Mutex::new(HashMap::new()),
            events: broadcast::channel(64).0,
            written: AtomicU64::new(0),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The evaluator.
    pub fn evaluator(&self) -> &dyn Evaluator {
        &*self.evaluator
    }

    /// How many runs this runner has written; changes whenever stored results may have.
    pub fn generation(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Events published after every written run.
    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.events.subscribe()
    }

    /// Evaluates `scorecard` (all entities, or one), writes the run and starts its alerts.
    /// Fails with [`RunError::Busy`] while another run of the scorecard is in progress.
    pub async fn run(
        &self,
        scorecard: &str,
        entity: Option<&str>,
        trigger: Trigger,
    ) -> Result<RunOutcome, RunError> {
        let (_local, lock) = self.claim_both(scorecard).await?;
        let result = self.run_locked(scorecard, entity, trigger).await;
        if let Err(e) = lock.release().await {
            tracing::warn!(scorecard, error = %e, "could not release the job lock");
        }
        result
    }

    async fn run_locked(
        &self,
        scorecard: &str,
        entity: Option<&str>,
        trigger: Trigger,
    ) -> Result<RunOutcome, RunError> {
        let started = std::time::Instant::now();
        let previous = self.store.latest_levels(scorecard).await?;
        let run = match self.evaluator.evaluate(scorecard, entity, trigger).await {
            Ok(run) => run,
            Err(e) => {
                count_error(scorecard);
                return Err(e.into());
            }
        };
        self.record(PreparedRun::new(run)?, previous, started).await
    }

    /// Evaluates `scorecards` (every entity) together, from one fetch of their facts, and
    /// writes each run as soon as it is evaluated, while the next ones evaluate (on another
    /// task); the writes of one do not wait for the others' on PostgreSQL (SQLite takes one
    /// writer at a time). Each scorecard gets its own result, [`RunError::Busy`] for one whose
    /// run is already in progress here or on a replica; the others run.
    pub async fn run_many(
        &self,
        scorecards: &[&str],
        trigger: Trigger,
    ) -> Vec<(String, Result<RunOutcome, RunError>)> {
        let mut results: Vec<(String, Result<RunOutcome, RunError>)> = Vec::new();
        let mut held = Vec::new();
        for &scorecard in scorecards {
            match self.claim_both(scorecard).await {
                Ok(claim) => held.push((scorecard, claim)),
                Err(e) => results.push((scorecard.to_string(), Err(e))),
            }
        }
        let started = std::time::Instant::now();
        let tags: Vec<&str> = held.iter().map(|(tag, _)| *tag).collect();
        let mut previous = HashMap::with_capacity(tags.len());
        for scorecard in &tags {
            previous.insert(
                scorecard.to_string(),
                self.store.latest_levels(scorecard).await,
            );
        }
        let (done, runs) = futures::channel::mpsc::unbounded();
        let evaluator = self.evaluator.clone();
        let owned: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        let evaluating = AbortOnDrop(tokio::spawn(async move {
            let tags: Vec<&str> = owned.iter().map(String::as_str).collect();
            evaluator.evaluate_each(&tags, trigger, done).await
        }));
        let previous = &mut previous;
        let mut recorded: HashMap<String, Result<RunOutcome, RunError>> = runs
            .map(|run| {
                let previous = previous.remove(&run.scorecard);
                async move {
                    let scorecard = run.scorecard.clone();
                    // Serialised on a blocking thread, not on this task that drives the writes.
                    let prepared = tokio::task::spawn_blocking(move || PreparedRun::new(run));
                    let outcome = match (previous, prepared.await) {
                        (Some(Ok(previous)), Ok(Ok(run))) => {
                            self.record(run, previous, started).await
                        }
                        (_, Ok(Err(e))) | (Some(Err(e)), _) => Err(e.into()),
                        (_, Err(e)) => {
                            Err(EvalError::Failed(format!("serialising the run: {e}")).into())
                        }
                        (None, _) => Err(EvalError::Failed(format!(
                            "the evaluator returned a run of {scorecard:?} it was not asked for"
                        ))
                        .into()),
                    };
                    (scorecard, outcome)
                }
            })
            .buffered(tags.len().max(1))
            .collect()
            .await;
        let failure = match evaluating.join().await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("evaluation stopped: {e}")),
        };
        for tag in &tags {
            let outcome = recorded.remove(*tag).unwrap_or_else(|| {
                count_error(tag);
                let why = failure
                    .clone()
                    .unwrap_or_else(|| "no run was evaluated".into());
                Err(EvalError::Failed(why).into())
            });
            results.push((tag.to_string(), outcome));
        }
        for (scorecard, (_local, lock)) in held {
            if let Err(e) = lock.release().await {
                tracing::warn!(scorecard, error = %e, "could not release the job lock");
            }
        }
        results
    }

    /// This process's slot and the cluster-wide lock of `scorecard`, or [`RunError::Busy`].
    async fn claim_both(
        &self,
        scorecard: &str,
    ) -> Result<(OwnedMutexGuard<()>, crate::store::JobLock), RunError> {
        let local = self.claim(scorecard)?;
        let lock = self
            .store
            .try_lock(&format!("scorecard:{scorecard}"))
            .await?
            .ok_or_else(|| RunError::Busy(scorecard.to_string()))?;
        Ok((local, lock))
    }

    /// Writes an evaluated run, publishes it and starts its alerts against the levels
    /// `previous` recorded before it. `started` is when its evaluation began.
    async fn record(
        &self,
        prepared: PreparedRun,
        previous: HashMap<String, (Option<i64>, f64)>,
        started: std::time::Instant,
    ) -> Result<RunOutcome, RunError> {
        let evaluated_ms = started.elapsed().as_millis() as u64;
        let saving = std::time::Instant::now();
        let run_id = self.store.save_prepared(&prepared).await?;
        let save_ms = saving.elapsed().as_millis() as u64;
        let run = prepared.into_run();
        let scorecard = run.scorecard.as_str();
        let trigger = run.trigger;
        self.written.fetch_add(1, Ordering::AcqRel);
        let status = run.status.as_str();
        metrics::counter!("rubric_runs_total", "scorecard" => scorecard.to_string(), "status" => status)
            .increment(1);
        metrics::histogram!("rubric_run_duration_seconds", "scorecard" => scorecard.to_string())
            .record(started.elapsed().as_secs_f64());
        let mut outcomes: HashMap<&str, u64> = HashMap::new();
        for rule in run.entities.iter().flat_map(|e| &e.rules) {
            *outcomes.entry(rule.outcome.as_str()).or_default() += 1;
        }
        for (outcome, n) in outcomes {
            metrics::counter!("rubric_rule_outcomes_total", "scorecard" => scorecard.to_string(),
                "outcome" => outcome.to_string())
            .increment(n);
        }
        tracing::info!(
            scorecard,
            run_id,
            trigger = trigger.as_str(),
            status,
            entities = run.entities.len(),
            evaluate_ms = evaluated_ms,
            save_ms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "run written"
        );
        let _ = self.events.send(RunEvent {
            scorecard: scorecard.to_string(),
            run_id,
            trigger,
        });
        let alerts = if run.status == RunStatus::Ok {
            let alerter = self.alerter.clone();
            let store = self.store.clone();
            let copy = alert_view(&run);
            tokio::spawn(async move { alerter.after_run(&store, &copy, &previous).await })
        } else {
            tokio::spawn(async { Vec::new() })
        };
        Ok(RunOutcome {
            run_id,
            run,
            alerts,
        })
    }

    /// Claims this process's slot for `scorecard`, or fails when a run holds it.
    fn claim(&self, scorecard: &str) -> Result<OwnedMutexGuard<()>, RunError> {
        let slot = {
            let mut busy = self
                .busy
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            busy.entry(scorecard.to_string()).or_default().clone()
        };
        slot.try_lock_owned()
            .map_err(|_| RunError::Busy(scorecard.to_string()))
    }
}

/// A spawned task, aborted when this handle is dropped (a run stopped at shutdown stops its
/// evaluation too).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    /// Waits for the task.
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts a run of `scorecard` that failed before it could be written.
fn count_error(scorecard: &str) {
    metrics::counter!("rubric_runs_total", "scorecard" => scorecard.to_string(), "status" => "error")
        .increment(1);
}

/// What the alert checks read of a run (levels, percentages, today's coverage readings),
/// without its rules, facts and backfilled points: the alerts task keeps this copy, not a
/// second copy of the whole run.
fn alert_view(run: &NewRun) -> NewRun {
    NewRun {
        entities: run
            .entities
            .iter()
            .map(|e| crate::store::EntityResult {
                entity: e.entity.clone(),
                entity_name: String::new(),
                level: e.level.clone(),
                level_rank: e.level_rank,
                next_level: None,
                score: e.score,
                max_score: e.max_score,
                percentage: e.percentage,
                next_steps: serde_json::Value::Null,
                evaluated_at: e.evaluated_at,
                data_as_of: None,
                rules: Vec::new(),
            })
            .collect(),
        facts: Vec::new(),
        coverage: run
            .coverage
            .iter()
            .filter(|c| c.source == crate::store::PointSource::Run)
            .cloned()
            .collect(),
        pulls: Vec::new(),
        scorecard: run.scorecard.clone(),
        error: run.error.clone(),
        ..*run
    }
}

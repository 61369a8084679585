//! The rows the store writes and reads: runs, per-entity results, rule outcomes, facts, coverage.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The scheduler (window or cron).
    Schedule,
    /// `POST .../evaluate` or another explicit request.
    OnDemand,
}

impl Trigger {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::OnDemand => "on_demand",
        }
    }

    fn parse(s: &str) -> Trigger {
        if s == "schedule" {
            Trigger::Schedule
        } else {
            Trigger::OnDemand
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every entity was evaluated (rules may still fail or have errors).
    Ok,
    /// The run could not evaluate (e.g. the scorecard did not load); `error` says why.
    Failed,
}

impl RunStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> RunStatus {
        if s == "ok" {
            RunStatus::Ok
        } else {
            RunStatus::Failed
        }
    }
}

/// One finished evaluation of a scorecard over some entities, written in one transaction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewRun {
    /// Scorecard tag.
    pub scorecard: String,
    /// What started it.
    pub trigger: Trigger,
    /// When evaluation began.
    pub started_at: DateTime<Utc>,
    /// When evaluation ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// One result per evaluated entity.
    pub entities: Vec<EntityResult>,
    /// The provider facts fetched for the run.
    pub facts: Vec<FactRecord>,
    /// Coverage observed during the run, one point per entity, repository and flag.
    pub coverage: Vec<CoveragePoint>,
    /// Set when an earlier run of the same round wrote these points: this run carries today's
    /// readings for its scorecard's alerts only, and the store does not write them again.
    #[serde(default)]
    pub coverage_written: bool,
    /// The open pull requests of the repositories the run read (replacing what was recorded
    /// for those repositories).
    pub pulls: Vec<PullRecord>,
}

/// An open pull request and the coverage it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRecord {
    /// `owner/name` (or `service/owner/name`).
    pub repository: String,
    /// Provider (`codecov`).
    pub provider: String,
    /// Its number.
    pub pullid: i64,
    /// Its title.
    pub title: String,
    /// Coverage of the base commit, percent.
    pub base_coverage: Option<f64>,
    /// Coverage of the head commit, percent.
    pub head_coverage: Option<f64>,
    /// Coverage of the changed lines, percent.
    pub patch_coverage: Option<f64>,
    /// Head minus base, in points.
    pub delta: Option<f64>,
}

/// How the API names "below every level": the key of such entities in `/history` level counts,
/// and the `level` filter of `/scores` that selects them.
pub const NO_LEVEL: &str = "none";

/// One entity's result in one scorecard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityResult {
    /// Entity tag.
    pub entity: String,
    /// Display name.
    pub entity_name: String,
    /// Level reached, if any.
    pub level: Option<String>,
    /// Rank of that level (1 = lowest).
    pub level_rank: Option<i64>,
    /// The next level up, if any.
    pub next_level: Option<String>,
    /// Points of passing rules.
    #[serde(serialize_with = "crate::scorecard::report::number")]
    pub score: f64,
    /// Points of applicable rules.
    #[serde(serialize_with = "crate::scorecard::report::number")]
    pub max_score: f64,
    /// `score / max_score` in percent (0 to 100); `None` when no rule applies (`max_score` 0).
    #[serde(default, serialize_with = "crate::scorecard::report::opt_number")]
    pub percentage: Option<f64>,
    /// What to fix for the next level, in order (the scorecard module's JSON).
    pub next_steps: serde_json::Value,
    /// When the entity was evaluated.
    pub evaluated_at: DateTime<Utc>,
    /// Age of the oldest fact the evaluation read, as the time it was fetched; `None` when fresh.
    pub data_as_of: Option<DateTime<Utc>>,
    /// Rule outcomes, in scorecard order.
    pub rules: Vec<RuleResult>,
}

/// One rule's outcome for one entity: the report evaluation gave, kept whole.
pub use crate::scorecard::report::RuleReport as RuleResult;

/// One provider fact fetched for one entity during a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactRecord {
    /// Entity tag.
    pub entity: String,
    /// Provider (`codecov`, `datadog`, `catalog`).
    pub provider: crate::facts::Source,
    /// The fact key as text, e.g. `codecov.codeCoverage(flag="backend")`.
    pub key: String,
    /// The value (JSON; `null` when none).
    pub value: serde_json::Value,
    /// `ok`, `no_data` or `error`.
    pub status: crate::facts::FactState,
    /// Why the value is missing, when it is.
    pub reason: Option<String>,
    /// Age of a cached value served after an error, in seconds.
    pub stale_secs: Option<i64>,
}

/// Coverage of one repository (and flag) on one day, seen through one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoveragePoint {
    /// The entity whose mapping named the repository.
    pub entity: String,
    /// `owner/name` (or `service/owner/name`).
    pub repository: String,
    /// Flag, empty for the whole repository.
    pub flag: String,
    /// Provider (`codecov`, `datadog`).
    pub provider: String,
    /// The UTC day.
    pub day: NaiveDate,
    /// Coverage in percent.
    pub coverage: f64,
    /// Time of the last upload, when known.
    pub last_upload_at: Option<DateTime<Utc>>,
    /// Where the point comes from: a run's own reading, or the provider's history of earlier
    /// days (which never replaces a run's reading of that day).
    pub source: PointSource,
}

/// Where a daily coverage point comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointSource {
    /// Read by a run of rubric that day.
    #[default]
    Run,
    /// The provider's own daily history (Codecov's `coverage/?interval=1d`), recorded so that
    /// trends exist from the first run.
    Backfill,
}

impl PointSource {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            PointSource::Run => "run",
            PointSource::Backfill => "backfill",
        }
    }

    fn parse(s: &str) -> PointSource {
        if s == "backfill" {
            PointSource::Backfill
        } else {
            PointSource::Run
        }
    }
}

/// A stored run, without its results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub id: i64,
    /// Scorecard tag.
    pub scorecard: String,
    /// What started it.
    pub trigger: Trigger,
    /// When evaluation began.
    pub started_at: DateTime<Utc>,
    /// When evaluation ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// Entities evaluated.
    pub entity_count: i64,
}

/// An entity's latest stored result in one scorecard.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredResult {
    /// The run it came from.
    pub run_id: i64,
    /// Scorecard tag.
    pub scorecard: String,
    /// The result.
    #[serde(flatten)]
    pub result: EntityResult,
}

/// Level counts of one full run, for trend charts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// Run id.
    pub run_id: i64,
    /// When the run ended.
    pub finished_at: DateTime<Utc>,
    /// Entities per level name; entities below every level count under [`NO_LEVEL`].
    pub levels: std::collections::BTreeMap<String, i64>,
    /// Entities evaluated.
    pub entities: i64,
    /// Mean percentage over the entities.
    pub mean_percentage: f64,
}

/// Daily coverage of one repository and flag.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageSeries {
    /// `owner/name`.
    pub repository: String,
    /// Flag, empty for the whole repository.
    pub flag: String,
    /// Provider.
    pub provider: String,
    /// The latest coverage, in percent.
    pub latest: Option<f64>,
    /// The last upload time seen.
    pub last_upload_at: Option<DateTime<Utc>>,
    /// One point per day with data, oldest first.
    pub points: Vec<DailyPoint>,
}

impl CoverageSeries {
    /// A series without points yet.
    pub fn empty(repository: String, flag: String, provider: String) -> Self {
        CoverageSeries {
            repository,
            flag,
            provider,
            latest: None,
            last_upload_at: None,
            points: Vec::new(),
        }
    }

    /// The change in points from the first day to the last, when there are two days.
    pub fn change(&self) -> Option<f64> {
        match (self.points.first(), self.points.last()) {
            (Some(a), Some(b)) if self.points.len() > 1 => Some(b.coverage - a.coverage),
            _ => None,
        }
    }

    /// Declining: the coverage fell `points` or more over the series (whatever its level);
    /// never with `points` 0 or less (the check is off).
    pub fn declining(&self, points: f64) -> bool {
        points > 0.0 && self.change().is_some_and(|c| -c >= points)
    }
}

/// One day's coverage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DailyPoint {
    /// The UTC day.
    pub day: NaiveDate,
    /// Coverage in percent.
    pub coverage: f64,
    /// `run` or `backfill`.
    pub source: PointSource,
}

impl DailyPoint {
    /// A stored point; the source as the store spells it.
    pub(crate) fn stored(day: NaiveDate, coverage: f64, source: &str) -> DailyPoint {
        DailyPoint {
            day,
            coverage,
            source: PointSource::parse(source),
        }
    }
}

/// One recorded delivery attempt of an alert to a webhook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    /// The alert.
    pub alert_id: i64,
    /// Webhook name.
    pub webhook: String,
    /// Attempt number, from 1.
    pub attempt: i64,
    /// HTTP status answered, if any.
    pub http_status: Option<i64>,
    /// Why the attempt failed.
    pub error: Option<String>,
    /// Whether the webhook accepted it (2xx).
    pub delivered: bool,
}

pub(crate) fn parse_trigger(s: &str) -> Trigger {
    Trigger::parse(s)
}

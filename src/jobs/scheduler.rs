//! The schedule: each scorecard every `evaluation.window` hours (default `[schedule]
//! window_hours`) or on one cron line, with random jitter, pruning old runs after each.
//!
//! The next time of a window schedule is computed from the last scheduled run in the store, so a
//! restarted server (or a replica sharing PostgreSQL) does not re-run a scorecard that ran
//! recently; the advisory lock in [`Runner::run`] keeps replicas from running it at once. The
//! scorecards due together run as one [`Runner::run_many`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use croner::Cron;
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{RunError, Runner, ScorecardInfo};
use crate::config::ScheduleConfig;
use crate::store::Trigger;

/// How often a scorecard runs.
#[derive(Clone, Debug)]
pub enum Cadence {
    /// A fixed interval after the previous scheduled run.
    Every(Duration),
    /// The occurrences of a cron line (UTC).
    Cron(Box<Cron>),
}

/// One scorecard's schedule.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Scorecard tag.
    pub scorecard: String,
    /// How often.
    pub cadence: Cadence,
    /// Largest random delay added to each run.
    pub jitter: Duration,
}

/// The `[schedule] cron` line does not parse.
#[derive(Debug, thiserror::Error)]
#[error("[schedule] cron {line:?}: {reason}")]
pub struct ScheduleError {
    line: String,
    reason: String,
}

/// One plan per scorecard from the configuration: the cron line when set, else the scorecard's
/// window, else `window_hours`.
pub fn plans(
    cfg: &ScheduleConfig,
    scorecards: &[ScorecardInfo],
) -> Result<Vec<Plan>, ScheduleError> {
    let cron = if cfg.cron.trim().is_empty() {
        None
    } else {
        let parsed: Cron = cfg
            .cron
            .trim()
            .parse()
            .map_err(|e: croner::errors::CronError| ScheduleError {
                line: cfg.cron.clone(),
                reason: e.to_string(),
            })?;
        Some(parsed)
    };
    Ok(scorecards
        .iter()
        .map(|s| Plan {
            scorecard: s.tag.clone(),
            cadence: match &cron {
                Some(c) => Cadence::Cron(Box::new(c.clone())),
                None => {
                    let hours = s.window_hours.unwrap_or(cfg.window_hours).max(1);
                    Cadence::Every(Duration::from_secs(u64::from(hours) * 3600))
                }
            },
            jitter: Duration::from_secs(cfg.jitter_secs),
        })
        .collect())
}

/// The next run time of `plan`, given the end of its last scheduled run, before jitter.
pub fn next_time(plan: &Plan, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    match &plan.cadence {
        Cadence::Every(d) => match last {
            Some(t) => (t + TimeDelta::from_std(*d).unwrap_or(TimeDelta::hours(4))).max(now),
            None => now,
        },
        // A cron line that never matches again (e.g. a past year) falls back to a day from now.
        Cadence::Cron(c) => c
            .find_next_occurrence(&now, false)
            .unwrap_or(now + TimeDelta::days(1)),
    }
}

/// Starts the schedule's task, which stops when `shutdown` turns true. The scorecards due at
/// one time run together ([`Runner::run_many`]: one fetch of their facts, their writes not
/// queued behind each other's evaluation). Runs older than `retention` are pruned after every
/// run.
pub fn spawn(
    runner: Arc<Runner>,
    plans: Vec<Plan>,
    retention: TimeDelta,
    mut shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    if plans.is_empty() {
        return Vec::new();
    }
    vec![tokio::spawn(async move {
        loop {
            let now = crate::clock::now();
            let mut next = Vec::with_capacity(plans.len());
            for plan in &plans {
                let last = match runner
                    .store()
                    .last_finished(&plan.scorecard, Trigger::Schedule)
                    .await
                {
                    Ok(last) => last,
                    Err(e) => {
                        tracing::error!(scorecard = %plan.scorecard, error = %e, "cannot read the last run");
                        None
                    }
                };
                next.push(next_time(plan, last, now));
            }
            let Some(&first) = next.iter().min() else {
                return;
            };
            let most = plans.iter().map(|p| p.jitter).max().unwrap_or_default();
            let jitter = if most.is_zero() {
                Duration::ZERO
            } else {
                rand::rng().random_range(Duration::ZERO..=most)
            };
            let wait = (first - now).to_std().unwrap_or_default() + jitter;
            tracing::debug!(wait_secs = wait.as_secs(), "next scheduled run");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wait_for_shutdown(&mut shutdown) => return,
            }
            let now = crate::clock::now();
            let due: Vec<&Plan> = plans
                .iter()
                .zip(&next)
                .filter(|(plan, at)| **at <= now + slack(plan))
                .map(|(plan, _)| plan)
                .collect();
            let tags: Vec<&str> = due.iter().map(|p| p.scorecard.as_str()).collect();
            let mut failed_window = false;
            for (scorecard, result) in runner.run_many(&tags, Trigger::Schedule).await {
                match result {
                    Ok(outcome) => {
                        // Alerts finish on their own; the schedule does not wait for webhooks.
                        drop(outcome.alerts);
                        continue;
                    }
                    Err(RunError::Busy(_)) => {
                        tracing::info!(%scorecard, "skipped: already running here or on a replica");
                    }
                    Err(e) => tracing::error!(%scorecard, error = %e, "scheduled run failed"),
                }
                let windowed = due
                    .iter()
                    .any(|p| p.scorecard == scorecard && matches!(p.cadence, Cadence::Every(_)));
                failed_window |= windowed && last_run_missing(&runner, &scorecard).await;
            }
            match runner.store().prune(crate::clock::now() - retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(runs = n, "pruned old runs"),
                Err(e) => tracing::error!(error = %e, "pruning failed"),
            }
            if failed_window {
                // A failed or skipped run still waits a whole window, not a busy loop.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                    _ = wait_for_shutdown(&mut shutdown) => return,
                }
            }
        }
    })]
}

/// How early a plan may run to join the scorecards due now: a sixteenth of its window, at most
/// a minute (the runs of one window, finished moments apart, stay one run); none for a cron
/// line, whose scorecards are due at the same instant.
fn slack(plan: &Plan) -> TimeDelta {
    match &plan.cadence {
        Cadence::Every(d) => {
            TimeDelta::from_std((*d / 16).min(Duration::from_secs(60))).unwrap_or_default()
        }
        Cadence::Cron(_) => TimeDelta::zero(),
    }
}

/// Whether the store still has no scheduled run of the scorecard (the last attempt failed).
async fn last_run_missing(runner: &Runner, scorecard: &str) -> bool {
    runner
        .store()
        .last_finished(scorecard, Trigger::Schedule)
        .await
        .map(|t| t.is_none())
        .unwrap_or(true)
}

async fn wait_for_shutdown(rx: &mut watch::Receiver<bool>) {
    // A dropped sender also means shutdown.
    let _ = rx.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn info(tag: &str, window: Option<u32>) -> ScorecardInfo {
        ScorecardInfo {
            tag: tag.into(),
            name: tag.into(),
            description: String::new(),
            window_hours: window,
            draft: false,
            levels: Vec::new(),
            colors: Default::default(),
        }
    }

    fn cfg(cron: &str) -> ScheduleConfig {
        ScheduleConfig {
            enabled: true,
            window_hours: 4,
            cron: cron.into(),
            jitter_secs: 0,
        }
    }

    #[test]
    fn windows_come_from_the_scorecard_or_the_default() {
        let p = plans(&cfg(""), &[info("a", Some(12)), info("b", None)]).unwrap();
        let now = at("2026-11-22T10:00:00Z");
        assert_eq!(
            next_time(&p[0], Some(at("2026-11-22T09:00:00Z")), now),
            at("2026-11-22T21:00:00Z")
        );
        assert_eq!(
            next_time(&p[1], Some(at("2026-11-22T09:00:00Z")), now),
            at("2026-11-22T13:00:00Z")
        );
        assert_eq!(next_time(&p[1], None, now), now, "never run: run now");
        assert_eq!(
            next_time(&p[1], Some(at("2026-11-01T00:00:00Z")), now),
            now,
            "overdue: run now"
        );
    }

    #[test]
    fn a_cron_line_wins_over_windows() {
        let p = plans(&cfg("0 */6 * * *"), &[info("a", Some(1))]).unwrap();
        let next = next_time(&p[0], None, at("2026-11-22T10:00:00Z"));
        assert_eq!(next, at("2026-11-22T12:00:00Z"));
    }

    #[test]
    fn a_bad_cron_line_is_named() {
        let err = plans(&cfg("every tuesday"), &[info("a", None)])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("[schedule] cron \"every tuesday\": "),
            "{err}"
        );
    }
}

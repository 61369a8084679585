//! The one "now" of a rubric process.
//!
//! Every date-dependent decision (exemptions, `effectiveFrom`, staleness, windows, the demo
//! fixture's timestamps) reads [`now`], so a run can be reproduced on any day by setting
//! `RUBRIC_NOW` to an RFC 3339 time (`RUBRIC_NOW=2026-11-22T06:00:00Z rubric demo`). Tests use it
//! to stay independent of the date they run on. Unset, it is the system clock.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

/// The variable that pins the clock.
pub const ENV: &str = "RUBRIC_NOW";

/// The pinned time and the system time it was read at, so a pinned clock still advances.
fn pinned() -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    static PIN: OnceLock<Option<(DateTime<Utc>, DateTime<Utc>)>> = OnceLock::new();
    *PIN.get_or_init(|| {
        let text = std::env::var(ENV).ok()?;
        match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(t) => Some((t.with_timezone(&Utc), Utc::now())),
            Err(e) => {
                tracing::warn!(
                    "{ENV}={text:?} is not an RFC 3339 time ({e}); using the system clock"
                );
                None
            }
        }
    })
}

/// The current time: the system clock, or `RUBRIC_NOW` plus the time elapsed since it was read.
pub fn now() -> DateTime<Utc> {
    match pinned() {
        Some((at, read)) => at + (Utc::now() - read),
        None => Utc::now(),
    }
}

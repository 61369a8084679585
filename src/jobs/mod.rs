//! Jobs: scheduled scorecard evaluation and alerts.

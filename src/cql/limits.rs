//! The budgets every rule evaluation runs under, set once per process from `[cql]`.
//!
//! Rules are written by many teams, so each evaluation is bounded: a step budget for the CQL
//! evaluator (lambda iterations and aggregated items) and, for `jq(...)`, a time, memory, output
//! and recursion budget enforced by the jq sandbox (see [`super::jq`]). Exceeding one is an
//! `error` outcome on that rule alone.

use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::config::CqlLimits as Limits;

static MAX_STEPS: AtomicU64 = AtomicU64::new(Limits::DEFAULT.max_steps);
static JQ_TIMEOUT_MS: AtomicU64 = AtomicU64::new(Limits::DEFAULT.jq_timeout_ms);
static JQ_MEMORY_MIB: AtomicU64 = AtomicU64::new(Limits::DEFAULT.jq_memory_mib);
static JQ_STACK_MIB: AtomicU64 = AtomicU64::new(Limits::DEFAULT.jq_stack_mib);
static JQ_MAX_OUTPUT_BYTES: AtomicU64 = AtomicU64::new(Limits::DEFAULT.jq_max_output_bytes);
static JQ_MAX_OUTPUTS: AtomicU64 = AtomicU64::new(Limits::DEFAULT.jq_max_outputs);

impl Limits {
    /// Makes these the budgets of every evaluation in this process from now on.
    pub fn install(self) {
        MAX_STEPS.store(self.max_steps.max(1), Ordering::Relaxed);
        JQ_TIMEOUT_MS.store(self.jq_timeout_ms.max(1), Ordering::Relaxed);
        JQ_MEMORY_MIB.store(self.jq_memory_mib.max(16), Ordering::Relaxed);
        JQ_STACK_MIB.store(self.jq_stack_mib.max(1), Ordering::Relaxed);
        JQ_MAX_OUTPUT_BYTES.store(self.jq_max_output_bytes.max(64), Ordering::Relaxed);
        JQ_MAX_OUTPUTS.store(self.jq_max_outputs.max(1), Ordering::Relaxed);
    }

    /// The budgets in force.
    pub fn current() -> Limits {
        Limits {
            max_steps: MAX_STEPS.load(Ordering::Relaxed),
            jq_timeout_ms: JQ_TIMEOUT_MS.load(Ordering::Relaxed),
            jq_memory_mib: JQ_MEMORY_MIB.load(Ordering::Relaxed),
            jq_stack_mib: JQ_STACK_MIB.load(Ordering::Relaxed),
            jq_max_output_bytes: JQ_MAX_OUTPUT_BYTES.load(Ordering::Relaxed),
            jq_max_outputs: JQ_MAX_OUTPUTS.load(Ordering::Relaxed),
        }
    }

    /// The step budget alone (read on every evaluation).
    pub(crate) fn max_steps() -> u64 {
        MAX_STEPS.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_toml_states_the_built_in_defaults() {
        let cfg = crate::config::Config::load_with_env(None, std::iter::empty()).unwrap();
        assert_eq!(cfg.cql, Limits::default());
    }
}

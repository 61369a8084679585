//! `rubric cql check|eval|functions`.

use super::{CliError, CliResult, Global};

/// `rubric cql ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CqlCommand {
    /// Compile an expression (or every line of a file) and report errors and warnings.
    Check {
        /// The expression.
        expr: Option<String>,
    },
}

/// Runs `rubric cql ...`.
pub async fn run(_cmd: CqlCommand, _g: &Global) -> CliResult {
    Err(CliError::Usage("rubric cql is not built yet".into()))
}

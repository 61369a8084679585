//! `rubric eval`, `rubric demo`, `rubric scorecard` and `rubric gate`.

use std::path::PathBuf;

use super::{CliError, CliResult, Global};

/// Output formats of `rubric eval`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// The JSON contract (`{"scorecards": [...]}`).
    Json,
}

/// `rubric eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Folder of entity descriptors (default from config: `entities`).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Folder of scorecards (default from config: `scorecards`).
    #[arg(long, value_name = "DIR")]
    pub scorecards: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `rubric demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `rubric scorecard ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ScorecardCommand {
    /// Parse every scorecard and compile every rule; report all errors at once.
    Validate {
        /// Folder of scorecards (default from config).
        dir: Option<PathBuf>,
    },
}

/// `rubric gate`.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// The scorecard to gate on.
    #[arg(long)]
    pub scorecard: String,
    /// The entity to gate.
    #[arg(long)]
    pub entity: String,
}

fn unbuilt(what: &str) -> CliResult {
    Err(CliError::Usage(format!("{what} is not built yet")))
}

/// Runs `rubric eval`.
pub async fn eval(_args: EvalArgs, _g: &Global) -> CliResult {
    unbuilt("rubric eval")
}

/// Runs `rubric demo`.
pub async fn demo(_args: DemoArgs, _g: &Global) -> CliResult {
    unbuilt("rubric demo")
}

/// Runs `rubric scorecard ...`.
pub async fn scorecard(_cmd: ScorecardCommand, _g: &Global) -> CliResult {
    unbuilt("rubric scorecard")
}

/// Runs `rubric gate`.
pub async fn gate(_args: GateArgs, _g: &Global) -> CliResult {
    unbuilt("rubric gate")
}

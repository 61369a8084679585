//! `rubric serve`.

use super::{CliError, CliResult, Global};

/// `rubric serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Runs `rubric serve`.
pub async fn run(_args: ServeArgs, _g: &Global) -> CliResult {
    Err(CliError::Usage("rubric serve is not built yet".into()))
}

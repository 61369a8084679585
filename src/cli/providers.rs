//! `rubric providers test` and `rubric sync`.

use super::{CliError, CliResult, Global};

/// `rubric providers ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ProvidersCommand {
    /// Check every configured provider: host reachable, token accepted, a repository readable.
    Test,
}

/// `rubric sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {}

/// Runs `rubric providers ...`.
pub async fn run(_cmd: ProvidersCommand, _g: &Global) -> CliResult {
    Err(CliError::Usage("rubric providers is not built yet".into()))
}

/// Runs `rubric sync`.
pub async fn sync(_args: SyncArgs, _g: &Global) -> CliResult {
    Err(CliError::Usage("rubric sync is not built yet".into()))
}

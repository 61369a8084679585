//! `rubric catalog`.

use super::{CliError, CliResult, Global};

/// `rubric catalog`.
#[derive(Debug, clap::Args)]
pub struct CatalogArgs {}

/// Runs `rubric catalog`.
pub async fn run(_args: CatalogArgs, _g: &Global) -> CliResult {
    Err(CliError::Usage("rubric catalog is not built yet".into()))
}

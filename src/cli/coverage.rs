//! `rubric coverage summary FILE`: parse a coverage report locally and print its totals, with
//! no server (the same parser the upload routes use, and its benchmark entry).

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::{CliError, CliResult, json_document};
use crate::coverage::{self, Format, Limits, Totals};

/// `rubric coverage ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CoverageCommand {
    /// Parse a report (LCOV, Cobertura, JaCoCo, Clover, OpenCover, dotCover, PHPUnit XML, Go
    /// cover profile, SimpleCov or Codacy JSON; gzip or not) and print `{"format", "files", "lines",
    /// "hits", "misses", "partials", "branches", "branches_hit", "coverage"}`. Exit 1 when the
    /// report is malformed, naming the line of the problem.
    Summary {
        /// The report (`-` for stdin).
        file: PathBuf,
        /// Its format (detected from its first bytes when not given).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// What `rubric coverage summary` prints.
#[derive(Serialize)]
struct Summary {
    format: Format,
    #[serde(flatten)]
    totals: Totals,
}

/// Runs `rubric coverage ...`.
pub fn run(cmd: CoverageCommand) -> CliResult {
    let CoverageCommand::Summary { file, format } = cmd;
    let input: Box<dyn std::io::Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&file).map_err(|e| {
            CliError::Usage(format!("cannot read the report {}: {e}", file.display()))
        })?)
    };
    let limits = Limits {
        max_bytes: u64::MAX,
        ..Limits::default()
    };
    match coverage::summarize(input, format, &limits) {
        Ok((totals, format)) => {
            say!("{}", json_document(&Summary { format, totals })?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}

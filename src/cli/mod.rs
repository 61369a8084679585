//! The `rubric` command line: one subcommand per job, each in its own file.

/// `println!` through [`emit`]: every command's stdout goes through it.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::emit(&format!("{}\n", format_args!($($arg)*)))
    };
}

mod catalog;
mod config;
mod coverage;
mod cql;
mod eval;
mod providers;
mod risk;
mod serve;
mod tokens;
mod upload;
mod width;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{Config, ConfigError, LOG_ENV, Loaded};

/// rubric: scorecards for internal developer portals.
#[derive(Debug, Parser)]
#[command(name = "rubric", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Clone, Debug, clap::Args)]
pub struct Global {
    /// Configuration file (defaults: the built-in plugin.toml; RUBRIC_<SECTION>_<KEY> overrides).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log as JSON lines on stderr (level from RUBRIC_LOG, default `warn`).
    #[arg(long, global = true)]
    pub log_json: bool,
    /// Refuse unknown configuration keys and RUBRIC_* variables (exit 2) instead of warning.
    #[arg(long, global = true)]
    pub strict: bool,
}

impl Global {
    /// Loads the configuration these options name.
    pub fn load_config(&self) -> Result<Config, CliError> {
        Ok(self.load_sourced()?.config)
    }

    /// Loads the configuration with the source of every value. Unknown keys and variables are
    /// warnings on stderr, or under `--strict` a configuration error.
    fn load_sourced(&self) -> Result<Loaded, CliError> {
        let loaded = Config::load(self.config.as_deref())?;
        if self.strict && !loaded.unknown.is_empty() {
            return Err(ConfigError::Unknown(loaded.unknown).into());
        }
        for unknown in &loaded.unknown {
            eprintln!("warning: {unknown}");
        }
        loaded.config.cql.install();
        Ok(loaded)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate every scorecard over the catalog and print levels, scores and rule outcomes.
    Eval(eval::EvalArgs),
    /// Run the sample catalog against a built-in offline Codecov fixture server.
    Demo(eval::DemoArgs),
    /// Check, evaluate and list CQL rule expressions.
    #[command(subcommand)]
    Cql(cql::CqlCommand),
    /// Load the catalog and show how every entity maps to its repository and coverage project.
    Catalog(catalog::CatalogArgs),
    /// Check the configured coverage providers.
    #[command(subcommand)]
    Providers(providers::ProvidersCommand),
    /// Fetch every fact the scorecards need, optionally writing them to a file.
    Sync(providers::SyncArgs),
    /// Scorecard tools.
    #[command(subcommand)]
    Scorecard(eval::ScorecardCommand),
    /// Gate a CI pipeline on a level, score or coverage: exit 0 when met, 1 when not.
    Gate(eval::GateArgs),
    /// Run the service: scheduled evaluations, history, the API and entity pages.
    Serve(serve::ServeArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Coverage reports: parse one locally and print its totals.
    #[command(subcommand)]
    Coverage(coverage::CoverageCommand),
    /// Project tokens for coverage uploads: create, list, revoke.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Upload coverage reports from CI to `rubric serve` (token in RUBRIC_UPLOAD_TOKEN).
    Upload(upload::UploadArgs),
    /// The deploy risk of a change from the coverage of the files it touches.
    Risk(risk::RiskArgs),
    /// Print the shell completion script of a shell.
    ///
    /// E.g. `rubric completions bash > ~/.local/share/bash-completion/completions/rubric`,
    /// `rubric completions zsh > ~/.zfunc/_rubric`,
    /// `rubric completions fish > ~/.config/fish/completions/rubric.fish`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The output of commands that print for people or for tools: `--format text|json`. JSON is
/// always one document on stdout (`cql check --file`: one per expression, a line each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TextFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Unusable configuration or arguments: exit code 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Unusable input named on the command line: exit code 2.
    #[error("{0}")]
    Usage(String),
    /// Anything else: exit code 1.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_) | CliError::Usage(_) => ExitCode::from(2),
            CliError::Other(_) => ExitCode::from(1),
        }
    }
}

/// What a subcommand returns.
pub type CliResult = Result<ExitCode, CliError>;

/// Parses the command line, runs the subcommand and turns its result into an exit code.
pub fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(crate::cql::jq::worker::SUBCOMMAND) {
        return crate::cql::jq::worker::main(args);
    }
    let cli = Cli::parse();
    init_tracing(cli.global.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            e.exit_code()
        }
    };
    // A task still busy (an abandoned run) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn run(cli: Cli) -> CliResult {
    let g = &cli.global;
    match cli.command {
        Command::Eval(args) => eval::eval(args, g).await,
        Command::Demo(args) => eval::demo(args, g).await,
        Command::Cql(cmd) => cql::run(cmd, g).await,
        Command::Catalog(args) => catalog::run(args, g).await,
        Command::Providers(cmd) => providers::run(cmd, g).await,
        Command::Sync(args) => providers::sync(args, g).await,
        Command::Scorecard(cmd) => eval::scorecard(cmd, g).await,
        Command::Gate(args) => eval::gate(args, g).await,
        Command::Serve(args) => serve::run(args, g).await,
        Command::Config(cmd) => config::run(cmd, g),
        Command::Coverage(cmd) => coverage::run(cmd),
        Command::Tokens(cmd) => tokens::run(cmd, g).await,
        Command::Upload(args) => upload::run(args, g).await,
        Command::Risk(args) => risk::run(args, g).await,
        Command::Completions { shell } => completions(shell),
    }
}

/// Writes to stdout, the one writer of every command: a closed pipe (`rubric eval | head`) ends
/// the output quietly instead of panicking, and the command still exits with its own code.
pub(crate) fn emit(text: &str) {
    emit_with(|out| out.write_all(text.as_bytes()));
}

/// [`emit`] for output written in pieces: `write` gets stdout, locked and buffered, and may
/// stop at the first error (a closed pipe, which ends the output quietly as in [`emit`]).
pub(crate) fn emit_with(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let _ = write(&mut out).and_then(|()| out.flush());
}

/// `value` as one pretty-printed JSON document, the form of every `--format json`.
fn json_document(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::Other(e.into()))
}

/// Prints the completion script of `shell`.
fn completions(shell: clap_complete::Shell) -> CliResult {
    // Generated whole, then written through the one writer (clap_complete panics on a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "rubric", &mut script);
    emit(&String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}

/// A folder given on the command line or in the configuration that must exist; a missing one
/// is a usage error (exit 2). `how` is the way this command takes it (`--catalog DIR`).
fn existing_dir(
    given: Option<PathBuf>,
    configured: &Path,
    what: &str,
    how: &str,
) -> Result<PathBuf, CliError> {
    let dir = given.unwrap_or_else(|| configured.to_path_buf());
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(missing(what, &dir, how))
    }
}

/// The usage error for a `what` folder (`catalog`, `scorecards`: also the configuration section)
/// that does not exist; the hint names the argument `how` of this command and the setting.
fn missing(what: &str, dir: &Path, how: &str) -> CliError {
    CliError::Usage(format!(
        "the {what} folder {} does not exist (give {how}, or set `path` in [{what}] or RUBRIC_{}_PATH)",
        dir.display(),
        what.to_uppercase()
    ))
}

/// Opens the store at `url`: an unusable URL is a usage error (exit 2); a store that cannot be
/// reached names the URL, its password hidden.
async fn open_store(url: &str) -> Result<crate::store::Store, CliError> {
    crate::store::Store::connect(url)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::BadUrl(_) => CliError::Usage(e.to_string()),
            other => CliError::Other(anyhow::anyhow!(
                "{other} ({})",
                crate::config::redact_url(url)
            )),
        })
}

fn init_tracing(json: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn"));
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

/// Whether log lines on stderr are coloured: only on a terminal, and never when `NO_COLOR` is set
/// to anything but the empty string (<https://no-color.org>). A pipe or a file gets plain text.
fn use_colour(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::use_colour;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(
            use_colour(true, Some(OsStr::new(""))),
            "empty NO_COLOR is unset"
        );
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(
            !use_colour(true, Some(OsStr::new("false"))),
            "any value disables"
        );
        assert!(!use_colour(false, None), "a pipe or file gets no escapes");
        assert!(!use_colour(false, Some(OsStr::new(""))));
        assert!(!use_colour(false, Some(OsStr::new("1"))));
    }
}

//! `rubric config show`: the effective configuration, where each value came from, and which
//! secrets are set (their last four characters, never more).

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::{CliResult, Global};
use crate::config::{Loaded, Source};
use crate::providers::secrets::{SecretSource, last_four};

/// Output formats of `rubric config show`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigFormat {
    /// `section.key = value  (source)` lines, then the secrets.
    #[default]
    Table,
    /// JSON: `{"settings": [...], "secrets": [...], "unknown": [...]}`.
    Json,
}

/// `rubric config ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print every key of the effective configuration with its source (default, file or env)
    /// and, for each variable a `*_env` key names, whether it is set (its last four characters).
    Show(ShowArgs),
}

/// `rubric config show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ConfigFormat,
}

/// Runs `rubric config ...`.
pub fn run(cmd: ConfigCommand, g: &Global) -> CliResult {
    let ConfigCommand::Show(args) = cmd;
    let loaded = g.load_sourced()?;
    let secrets = SecretSource::load(&loaded.config.http.secrets_file)?;
    let report = report(&loaded, &secrets);
    match args.format {
        ConfigFormat::Json => say!("{}", super::json_document(&report)?),
        ConfigFormat::Table => super::emit(&render(&loaded, &report.secrets)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON document of `rubric config show --format json`.
#[derive(Debug, Serialize)]
pub struct ConfigReport<'a> {
    /// Every key, in `plugin.toml` order.
    pub settings: Vec<SettingRow<'a>>,
    /// Every variable a `*_env` key names.
    pub secrets: Vec<SecretRow>,
    /// Keys and variables that name no configuration key (ignored).
    pub unknown: Vec<UnknownRow<'a>>,
}

/// One key of [`ConfigReport`].
#[derive(Debug, Serialize)]
pub struct SettingRow<'a> {
    /// `section.key`.
    pub key: &'a str,
    /// The value (passwords in URLs redacted).
    pub value: &'a toml::Value,
    /// Where it was set.
    #[serde(flatten)]
    pub source: SourceRow<'a>,
}

/// A [`Source`] in JSON: `{"source": "default" | "file" | "env"}`, with `path` or `variable`.
#[derive(Debug, Serialize)]
pub struct SourceRow<'a> {
    /// `default`, `file` or `env`.
    pub source: &'static str,
    /// The file, for `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a Path>,
    /// The variable, for `env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<&'a str>,
}

impl<'a> From<&'a Source> for SourceRow<'a> {
    fn from(source: &'a Source) -> Self {
        let (kind, path, variable) = match source {
            Source::Default => ("default", None, None),
            Source::File(path) => ("file", Some(path.as_path()), None),
            Source::Env(name) => ("env", None, Some(name.as_str())),
        };
        SourceRow {
            source: kind,
            path,
            variable,
        }
    }
}

/// One secret of [`ConfigReport`].
#[derive(Debug, Serialize)]
pub struct SecretRow {
    /// The environment variable (or secrets-file name) holding it.
    pub variable: String,
    /// The key naming the variable.
    pub key: String,
    /// Its last four characters (`…abcd`) when set, else null.
    pub last_four: Option<String>,
}

/// One ignored key or variable of [`ConfigReport`].
#[derive(Debug, Serialize)]
pub struct UnknownRow<'a> {
    /// The file's key or the variable.
    pub name: &'a str,
    /// Where it was set.
    #[serde(flatten)]
    pub source: SourceRow<'a>,
    /// The key or variable likely meant.
    pub suggestion: Option<&'a str>,
}

fn report<'a>(loaded: &'a Loaded, secrets: &SecretSource) -> ConfigReport<'a> {
    ConfigReport {
        settings: loaded
            .settings
            .iter()
            .map(|s| SettingRow {
                key: &s.key,
                value: &s.value,
                source: (&s.source).into(),
            })
            .collect(),
        secrets: loaded
            .secret_variables()
            .into_iter()
            .map(|(key, variable)| SecretRow {
                last_four: secrets.get(&variable).as_ref().map(last_four),
                variable,
                key,
            })
            .collect(),
        unknown: loaded
            .unknown
            .iter()
            .map(|u| UnknownRow {
                name: &u.name,
                source: (&u.source).into(),
                suggestion: u.suggestion.as_deref(),
            })
            .collect(),
    }
}

/// `section.key = value  (source)` lines, then a line per secret.
fn render(loaded: &Loaded, secrets: &[SecretRow]) -> String {
    let mut out = String::new();
    for s in &loaded.settings {
        out.push_str(&format!("{} = {}  ({})\n", s.key, s.value, s.source));
    }
    if !secrets.is_empty() {
        out.push_str("\n# secrets, by the variable each *_env key names (last four characters)\n");
    }
    for s in secrets {
        let shown = s
            .last_four
            .as_deref()
            .map_or("not set".to_string(), |l| format!("= {l}"));
        out.push_str(&format!("{} {shown}  ({})\n", s.variable, s.key));
    }
    out
}

//! `rubric tokens`: the project tokens CI jobs upload coverage with, one repository each,
//! stored as SHA-256 digests (a token is shown once, when it is created).

use std::process::ExitCode;

use serde::Serialize;

use super::{CliError, CliResult, Global, TextFormat, json_document};
use crate::coverage::RepoSlug;
use crate::store::Store;
use crate::store::uploads::{UploadToken, new_token};

/// `rubric tokens ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// Create a project token for one repository; the token is the last line of stdout.
    Create {
        /// The repository, `SERVICE/OWNER/REPO` (`github/acme/api`).
        #[arg(long, value_name = "SERVICE/OWNER/REPO")]
        repo: String,
        /// A name for it (shown by `list` and in upload records; default `REPO-ci`).
        #[arg(long)]
        name: Option<String>,
        /// History store URL (default `[store] url`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// List the project tokens: id, repository, name, last four characters, dates.
    List {
        /// History store URL (default `[store] url`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Output format: `json` prints `{"tokens": [{"id", "repository", "name", "last_four",
        /// "created_at", "revoked_at"}]}`.
        #[arg(long, value_enum, default_value_t)]
        format: TextFormat,
    },
    /// Revoke a project token by id: uploads with it are refused from then on.
    Revoke {
        /// The token's id (from `list`).
        id: i64,
        /// History store URL (default `[store] url`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
}

async fn open(store: Option<String>, g: &Global) -> Result<Store, CliError> {
    let url = match store {
        Some(url) => url,
        None => g.load_config()?.store.url,
    };
    super::open_store(&url).await
}

/// Runs `rubric tokens ...`.
pub async fn run(cmd: TokensCommand, g: &Global) -> CliResult {
    let now = crate::clock::now();
    let other = |e: crate::store::StoreError| CliError::Other(e.into());
    match cmd {
        TokensCommand::Create { repo, name, store } => {
            let slug = RepoSlug::parse(&repo).map_err(CliError::Usage)?;
            let store = open(store, g).await?;
            let token = new_token();
            let name = name.unwrap_or_else(|| format!("{}-ci", slug.repo));
            let id = store
                .create_upload_token(&slug.to_string(), &name, &token, now)
                .await
                .map_err(other)?;
            eprintln!(
                "token {id} ({name}) uploads coverage to {slug}; it is shown only now: keep it as a CI secret"
            );
            say!("{token}");
        }
        TokensCommand::List { store, format } => {
            let tokens = open(store, g).await?.upload_tokens().await.map_err(other)?;
            match format {
                TextFormat::Json => {
                    #[derive(Serialize)]
                    struct Listed<'a> {
                        tokens: &'a [UploadToken],
                    }
                    say!("{}", json_document(&Listed { tokens: &tokens })?);
                }
                TextFormat::Text if tokens.is_empty() => {
                    say!(
                        "no tokens (create one with `rubric tokens create --repo SERVICE/OWNER/REPO`)"
                    );
                }
                TextFormat::Text => {
                    for t in &tokens {
                        let state = match t.revoked_at {
                            Some(at) => format!("revoked {}", at.format("%Y-%m-%d")),
                            None => "active".to_string(),
                        };
                        say!(
                            "{}  {}  {}  …{}  created {}  {state}",
                            t.id,
                            t.repository,
                            t.name,
                            t.last_four,
                            t.created_at.format("%Y-%m-%d")
                        );
                    }
                }
            }
        }
        TokensCommand::Revoke { id, store } => {
            if !open(store, g)
                .await?
                .revoke_upload_token(id, now)
                .await
                .map_err(other)?
            {
                return Err(CliError::Usage(format!(
                    "no active token {id} (see `rubric tokens list`)"
                )));
            }
            say!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

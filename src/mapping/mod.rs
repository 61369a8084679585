//! Mapping: entity → git repository → coverage project.
//!
//! The rules (README.md, "Mapping rules", has the table users read):
//!
//! 1. An explicit block wins: Cortex `x-cortex-static-analysis.codecov {owner, repo, provider,
//!    flag}` (`mapped_by = descriptor`) or Backstage `codecov.io/*` annotations
//!    (`mapped_by = annotation`). Fields the block leaves out come from the git repository.
//! 2. Otherwise the git repository is the best guess (`mapped_by = discovery`).
//! 3. A flag disables discovery: `repo` and `provider` must then be given (and `owner`, or a
//!    `repo` written `org/name`); a missing one is an error on that entity, which stays in the
//!    catalog unmapped (`flag without provider`).
//! 4. `repo` may be `name` or `org/name`; provider spellings (`GITHUB`, `github_enterprise`,
//!    `BITBUCKET_SERVER`, `gh`...) map to Codecov service names; a self-hosted git host maps to
//!    its `*_enterprise` / `bitbucket_server` service.
//! 5. The configured account serving the Codecov owner (`[[codecov.accounts]] owners`) is recorded.
//! 6. No block and no repository: unmapped (`no repository`), which is not an error.
//!
//! The catalog reads descriptors and imports nothing of this module; the loaders that read
//! *and* map (`Catalog::load`, `Catalog::load_sources`, `CatalogCache::load`, ...) are defined
//! here, in [`load`], on top of the catalog's readers.

mod load;

pub use load::map_catalog;

use crate::catalog::{
    CodecovProject, CodecovSpec, Field, GitProvider, MappedBy, Repository, SourceLocation,
};
use crate::config::CodecovAccount;
use crate::diag::Diagnostic;

/// The result of mapping one entity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapping {
    /// The Codecov project, when mapped.
    pub codecov: Option<CodecovProject>,
    /// Why not, when unmapped.
    pub unmapped_reason: Option<String>,
    /// Errors (the entity stays, unmapped) and warnings, placed at the field they are about.
    pub diagnostics: Vec<Diagnostic>,
}

/// Codecov's service name for a provider written in any spelling (`GITHUB`, `github`,
/// `GITHUB_ENTERPRISE`, `ghe`, `bitbucket-server`, ...). Azure DevOps has no Codecov service.
pub fn codecov_service(provider: &str) -> Result<&'static str, String> {
    let norm: String = provider
        .trim()
        .chars()
        .map(|c| {
            if c == '-' || c == ' ' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    Ok(match norm.as_str() {
        "github" | "gh" | "github.com" => "github",
        "github_enterprise" | "ghe" | "github_server" => "github_enterprise",
        "gitlab" | "gl" | "gitlab.com" => "gitlab",
        "gitlab_enterprise" | "gle" | "gitlab_self_managed" | "gitlab_server" => {
            "gitlab_enterprise"
        }
        "bitbucket" | "bb" | "bitbucket.org" => "bitbucket",
        "bitbucket_server" | "bbs" | "bitbucket_enterprise" | "bitbucket_data_center" => {
            "bitbucket_server"
        }
        "azure" | "azure_devops" | "ado" | "azuredevops" => {
            return Err("Codecov has no Azure DevOps service (it serves github, gitlab, bitbucket and their self-hosted editions)".into());
        }
        _ => {
            return Err(format!(
                "unknown provider `{provider}` (expected GITHUB, GITLAB, BITBUCKET, GITHUB_ENTERPRISE, GITLAB_ENTERPRISE or BITBUCKET_SERVER)"
            ));
        }
    })
}

/// The Codecov service of a git repository: the provider's SaaS service, or its self-hosted
/// edition (`github_enterprise`, `gitlab_enterprise`, `bitbucket_server`) for another host.
pub fn service_for_repository(repo: &Repository) -> Result<&'static str, String> {
    let hosted = repo.is_self_hosted();
    Ok(match (repo.provider, hosted) {
        (GitProvider::Github, false) => "github",
        (GitProvider::Github, true) => "github_enterprise",
        (GitProvider::Gitlab, false) => "gitlab",
        (GitProvider::Gitlab, true) => "gitlab_enterprise",
        (GitProvider::Bitbucket, false) => "bitbucket",
        (GitProvider::Bitbucket, true) => "bitbucket_server",
        (GitProvider::Azure, _) => {
            return Err(format!(
                "Codecov has no Azure DevOps service (repository {})",
                repo.url_path()
            ));
        }
    })
}

/// The configured account serving `owner` (case-insensitive), if any.
pub fn account_for_owner<'a>(
    owner: &str,
    accounts: &'a [CodecovAccount],
) -> Option<&'a CodecovAccount> {
    accounts
        .iter()
        .find(|a| a.owners.iter().any(|o| o.eq_ignore_ascii_case(owner)))
}

fn diag_at(d: Diagnostic, at: &SourceLocation) -> Diagnostic {
    if at.file.as_os_str().is_empty() {
        d
    } else {
        d.in_file(&at.file).at(at.line, at.column)
    }
}

/// Maps one entity from its explicit block (if any) and its git repository (if any).
pub fn map_entity(
    spec: Option<&CodecovSpec>,
    repository: Option<&Repository>,
    accounts: &[CodecovAccount],
) -> Mapping {
    let mut out = Mapping::default();
    let Some(spec) = spec else {
        let Some(repo) = repository else {
            out.unmapped_reason = Some("no repository".into());
            return out;
        };
        match service_for_repository(repo) {
            Ok(service) => {
                out.codecov = Some(project(
                    service,
                    &repo.owner,
                    &repo.name,
                    None,
                    MappedBy::Discovery,
                    accounts,
                ));
            }
            Err(reason) => out.unmapped_reason = Some(reason),
        }
        return out;
    };

    let what = match spec.origin {
        MappedBy::Annotation => "codecov.io annotations",
        _ => "codecov block",
    };
    let flag = spec
        .flag
        .as_ref()
        .map(|f| f.value.trim())
        .filter(|f| !f.is_empty());

    // Split `repo`: `name`, `org/name`, or (annotations) `service/org/name`.
    let mut repo_service: Option<Field> = None;
    let mut repo_owner: Option<String> = None;
    let mut repo_name: Option<String> = None;
    if let Some(field) = &spec.repo {
        let parts: Vec<&str> = field.value.trim().trim_matches('/').split('/').collect();
        match parts.as_slice() {
            _ if parts.iter().any(|p| p.trim().is_empty()) => {
                out.diagnostics.push(diag_at(
                    Diagnostic::error(format!(
                        "{what}: `repo` is `{}`, expected `name` or `org/name`",
                        field.value
                    ))
                    .with_hint("write the repository as `my-repo` or `my-org/my-repo`"),
                    &field.at,
                ));
                out.unmapped_reason = Some("invalid repo".into());
                return out;
            }
            [name] if !name.is_empty() => repo_name = Some((*name).to_string()),
            [org, name] if !org.is_empty() && !name.is_empty() => {
                repo_owner = Some((*org).to_string());
                repo_name = Some((*name).to_string());
            }
            [first, rest @ ..] if rest.len() >= 2 && codecov_service(first).is_ok() => {
                repo_service = Some(Field {
                    value: (*first).to_string(),
                    at: field.at.clone(),
                });
                let (name, org) = rest
                    .split_last()
                    .map(|(n, o)| (*n, o.join("/")))
                    .unwrap_or_default();
                repo_owner = Some(org);
                repo_name = Some(name.to_string());
            }
            [.., name] if parts.len() > 2 && !name.is_empty() => {
                // A nested GitLab group: `group/sub/name`.
                let (name, org) = parts
                    .split_last()
                    .map(|(n, o)| (*n, o.join("/")))
                    .unwrap_or_default();
                repo_owner = Some(org);
                repo_name = Some(name.to_string());
            }
            _ => {
                out.diagnostics.push(diag_at(
                    Diagnostic::error(format!(
                        "{what}: `repo` is `{}`, expected `name` or `org/name`",
                        field.value
                    ))
                    .with_hint("write the repository as `my-repo` or `my-org/my-repo`"),
                    &field.at,
                ));
                out.unmapped_reason = Some("invalid repo".into());
                return out;
            }
        }
    }
    let explicit_owner = spec
        .owner
        .as_ref()
        .map(|f| f.value.trim().to_string())
        .filter(|s| !s.is_empty());
    if let (Some(owner), Some(from_repo), Some(field)) = (&explicit_owner, &repo_owner, &spec.owner)
        && !owner.eq_ignore_ascii_case(from_repo)
    {
        out.diagnostics.push(diag_at(
            Diagnostic::warning(format!(
                "{what}: owner `{owner}` differs from the organisation `{from_repo}` in repo; using `{owner}`"
            )),
            &field.at,
        ));
    }
    let provider = spec.provider.clone().or(repo_service);

    if let Some(flag) = flag {
        // A flag disables discovery: everything must be in the block.
        let mut missing = Vec::new();
        if explicit_owner.is_none() && repo_owner.is_none() {
            missing.push("owner");
        }
        if repo_name.is_none() {
            missing.push("repo");
        }
        if provider.is_none() {
            missing.push("provider");
        }
        if !missing.is_empty() {
            let list = missing.join(", ");
            out.diagnostics.push(diag_at(
                Diagnostic::error(format!(
                    "{what}: flag `{flag}` is set but no {list} is given: a flag disables discovery from the git repository"
                ))
                .with_hint(match spec.origin {
                    MappedBy::Annotation => "add codecov.io/repo: service/owner/repo (e.g. github/acme/platform)".to_string(),
                    _ => format!("add {} to the codecov block", missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(" and ")),
                }),
                spec.flag.as_ref().map_or(&spec.at, |f| &f.at),
            ));
            out.unmapped_reason = Some(format!("flag without {list}"));
            return out;
        }
    }

    let service = match &provider {
        Some(field) => match codecov_service(&field.value) {
            Ok(s) => s,
            Err(e) => {
                out.diagnostics.push(diag_at(
                    Diagnostic::error(format!("{what}: {e}")),
                    &field.at,
                ));
                out.unmapped_reason = Some(format!("unsupported provider {}", field.value.trim()));
                return out;
            }
        },
        None => match repository.map(service_for_repository) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                out.diagnostics.push(diag_at(
                    Diagnostic::error(format!("{what} has no provider and {e}")).with_hint(
                        "add `provider` (GITHUB, GITLAB, BITBUCKET...) to the codecov block",
                    ),
                    &spec.at,
                ));
                out.unmapped_reason = Some("no Codecov service for the repository".into());
                return out;
            }
            // Codecov's own convention: `owner/repo` without a service means GitHub.
            None => "github",
        },
    };
    let owner = explicit_owner
        .or(repo_owner)
        .or_else(|| repository.map(|r| r.owner.clone()));
    let name = repo_name.or_else(|| repository.map(|r| r.name.clone()));
    let (Some(owner), Some(name)) = (owner, name) else {
        out.diagnostics.push(diag_at(
            Diagnostic::error(format!(
                "{what} gives no repo and the entity has no git repository to take it from"
            ))
            .with_hint("add `repo: org/name` to the block"),
            &spec.at,
        ));
        out.unmapped_reason = Some(format!("{what} without repo"));
        return out;
    };
    let mut p = project(
        service,
        &owner,
        &name,
        flag.map(str::to_string),
        spec.origin,
        accounts,
    );
    if let Some(field) = &spec.account {
        let wanted = field.value.trim();
        if accounts.iter().any(|a| a.name == wanted) {
            p.account = Some(wanted.to_string());
        } else {
            let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
            out.diagnostics.push(diag_at(
                Diagnostic::warning(format!(
                    "unknown Codecov account `{wanted}`; using the default account"
                ))
                .with_hint(if names.is_empty() {
                    "configure it with [[codecov.accounts]] in plugin.toml".to_string()
                } else {
                    format!("configured accounts: {}", names.join(", "))
                }),
                &field.at,
            ));
        }
    }
    out.codecov = Some(p);
    out
}

fn project(
    service: &str,
    owner: &str,
    repo: &str,
    flag: Option<String>,
    mapped_by: MappedBy,
    accounts: &[CodecovAccount],
) -> CodecovProject {
    CodecovProject {
        service: service.to_string(),
        owner: owner.to_string(),
        repo: repo.to_string(),
        flag,
        account: account_for_owner(owner, accounts).map(|a| a.name.clone()),
        mapped_by,
    }
}

#[cfg(test)]
mod tests;

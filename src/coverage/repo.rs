//! Repositories as uploads name them: `SERVICE/OWNER/REPO`, with Codecov's service names.

use serde::Serialize;

/// The services a repository can be on, as Codecov names them.
pub const SERVICES: &[&str] = &[
    "github",
    "gitlab",
    "bitbucket",
    "github_enterprise",
    "gitlab_enterprise",
    "bitbucket_server",
];

/// A repository as `SERVICE/OWNER/REPO`: the service, the owner (GitLab subgroups keep their
/// `/`), the name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepoSlug {
    /// `github`, `gitlab`, ...
    pub service: String,
    /// `acme`, or `group/subgroup`.
    pub owner: String,
    /// `api`.
    pub repo: String,
}

impl RepoSlug {
    /// Reads `SERVICE/OWNER/REPO`; the error says what is expected.
    pub fn parse(text: &str) -> Result<RepoSlug, String> {
        let text = text.trim().trim_matches('/');
        let bad = || {
            format!(
                "{text:?} is not SERVICE/OWNER/REPO (e.g. github/acme/api; SERVICE one of {})",
                SERVICES.join(", ")
            )
        };
        let (service, rest) = text.split_once('/').ok_or_else(bad)?;
        let (owner, repo) = rest.rsplit_once('/').ok_or_else(bad)?;
        let service = service.to_ascii_lowercase();
        if !SERVICES.contains(&service.as_str()) || owner.is_empty() || repo.is_empty() {
            return Err(bad());
        }
        Ok(RepoSlug {
            service,
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }
}

impl std::fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.service, self.owner, self.repo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_service_owner_repo() {
        let slug = RepoSlug::parse("GitHub/acme/api").unwrap();
        assert_eq!(slug.to_string(), "github/acme/api");
        let nested = RepoSlug::parse("gitlab/group/sub/app").unwrap();
        assert_eq!(
            (nested.owner.as_str(), nested.repo.as_str()),
            ("group/sub", "app")
        );
        for bad in [
            "acme/api",
            "svn/acme/api",
            "github//api",
            "github/acme/",
            "",
        ] {
            let err = RepoSlug::parse(bad).unwrap_err();
            assert!(err.contains("is not SERVICE/OWNER/REPO"), "{bad}: {err}");
        }
    }
}

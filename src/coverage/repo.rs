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

impl RepoSlug {
    /// The repository a git remote URL names (`https://github.com/acme/api.git`,
    /// `git@gitlab.com:group/sub/app.git`): the service from the host (github.com, gitlab.com,
    /// bitbucket.org; other hosts naming one of them are its self-hosted edition), the owner
    /// and the name. `None` for a URL of another host or without owner and name.
    pub fn from_git_url(url: &str) -> Option<RepoSlug> {
        let url = url.trim();
        let (rest, scp) = match url.split_once("://") {
            Some((_, rest)) => (rest, false),
            // scp-like: git@host:owner/repo.git
            None => (url, true),
        };
        let (authority, path) = if scp {
            rest.split_once(':')?
        } else {
            rest.split_once('/')?
        };
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        // A port after the host (ssh://git@host:2222/owner/repo).
        let host = host.split(':').next()?.to_ascii_lowercase();
        let path = path.trim_matches('/').trim_end_matches(".git");
        let (owner, repo) = path.rsplit_once('/')?;
        let service = match host.as_str() {
            "github.com" => "github",
            "gitlab.com" => "gitlab",
            "bitbucket.org" => "bitbucket",
            h if h.contains("github") => "github_enterprise",
            h if h.contains("gitlab") => "gitlab_enterprise",
            h if h.contains("bitbucket") => "bitbucket_server",
            _ => return None,
        };
        (!owner.is_empty() && !repo.is_empty()).then(|| RepoSlug {
            service: service.to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }
}

/// Whether `pattern` (`owner/name`, `service/owner/name`, `owner/*`) names `repository`
/// (`owner/name` or `service/owner/name`).
pub fn repository_matches(pattern: &str, repository: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(owner) => repository
            .rsplit_once('/')
            .is_some_and(|(head, _)| head == owner || head.ends_with(&format!("/{owner}"))),
        None => repository == pattern || repository.ends_with(&format!("/{pattern}")),
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

    #[test]
    fn git_urls_name_their_repository() {
        let cases = [
            ("https://github.com/acme/api.git", Some("github/acme/api")),
            ("git@github.com:acme/api.git", Some("github/acme/api")),
            (
                "ssh://git@gitlab.com:2222/group/sub/app",
                Some("gitlab/group/sub/app"),
            ),
            (
                "https://user:pw@bitbucket.org/team/repo/",
                Some("bitbucket/team/repo"),
            ),
            (
                "https://github.example.com/acme/api",
                Some("github_enterprise/acme/api"),
            ),
            ("https://example.com/acme/api", None),
            ("https://github.com/acme", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(
                RepoSlug::from_git_url(url)
                    .map(|s| s.to_string())
                    .as_deref(),
                want,
                "{url}"
            );
        }
    }

    #[test]
    fn repositories_match_by_name_or_owner() {
        assert!(repository_matches("acme/api", "acme/api"));
        assert!(repository_matches("acme/api", "github/acme/api"));
        assert!(repository_matches("github/acme/api", "github/acme/api"));
        assert!(!repository_matches("acme/api", "acme/api2"));
        assert!(repository_matches("acme/*", "acme/web"));
        assert!(repository_matches("acme/*", "github/acme/web"));
        assert!(!repository_matches("acme/*", "notacme/web"));
        assert!(!repository_matches("acme/*", "github/other/acme"));
        assert!(repository_matches("group/sub/*", "gitlab/group/sub/app"));
    }
}

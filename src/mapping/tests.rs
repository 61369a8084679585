//! The mapping table, case by case.

use super::*;
use crate::diag::Severity;

fn repo(provider: GitProvider, host: &str, owner: &str, name: &str) -> Repository {
    Repository {
        provider,
        host: host.into(),
        owner: owner.into(),
        name: name.into(),
        basepath: None,
        alias: None,
    }
}

fn gh(owner: &str, name: &str) -> Repository {
    repo(GitProvider::Github, "github.com", owner, name)
}

/// A spec from `owner, repo, provider, flag` (empty string = absent).
fn spec(origin: MappedBy, owner: &str, repo: &str, provider: &str, flag: &str) -> CodecovSpec {
    let f = |s: &str| (!s.is_empty()).then(|| Field::unplaced(s));
    CodecovSpec {
        owner: f(owner),
        repo: f(repo),
        provider: f(provider),
        flag: f(flag),
        ..CodecovSpec::new(origin, SourceLocation::default())
    }
}

fn accounts() -> Vec<CodecovAccount> {
    vec![CodecovAccount {
        name: "oss".into(),
        url: Some("https://codecov.example.com".into()),
        token_env: None,
        owners: vec!["Acme-OSS".into()],
    }]
}

/// Expected: `Ok("service/owner/repo[#flag] by")` or `Err(reason)`, plus error/warning counts.
struct Case {
    name: &'static str,
    spec: Option<CodecovSpec>,
    repository: Option<Repository>,
    expect: Result<&'static str, &'static str>,
    errors: usize,
    warnings: usize,
}

fn render(p: &CodecovProject) -> String {
    let by = match p.mapped_by {
        MappedBy::Descriptor => "descriptor",
        MappedBy::Annotation => "annotation",
        MappedBy::Discovery => "discovery",
    };
    let flag = p.flag.as_ref().map(|f| format!("#{f}")).unwrap_or_default();
    let account = p
        .account
        .as_ref()
        .map(|a| format!(" @{a}"))
        .unwrap_or_default();
    format!("{}/{}/{}{flag} {by}{account}", p.service, p.owner, p.repo)
}

#[test]
fn mapping_table() {
    use MappedBy::{Annotation as A, Descriptor as D};
    let cases = vec![
        Case {
            name: "explicit block wins over the repository",
            spec: Some(spec(D, "acme", "payments-api", "GITHUB", "")),
            repository: Some(gh("other", "x")),
            expect: Ok("github/acme/payments-api descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "block repo org/name gives the owner",
            spec: Some(spec(D, "", "acme/platform", "GITHUB", "")),
            repository: None,
            expect: Ok("github/acme/platform descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "block with owner and org/name repo",
            spec: Some(spec(D, "acme", "acme/platform", "GITHUB", "billing")),
            repository: None,
            expect: Ok("github/acme/platform#billing descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "owner differs from repo org: owner wins with a warning",
            spec: Some(spec(D, "acme", "other/platform", "github", "")),
            repository: None,
            expect: Ok("github/acme/platform descriptor"),
            errors: 0,
            warnings: 1,
        },
        Case {
            name: "flag with everything",
            spec: Some(spec(D, "acme", "platform", "github", "identity")),
            repository: None,
            expect: Ok("github/acme/platform#identity descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "flag without provider is an error even with a repository",
            spec: Some(spec(D, "acme", "platform", "", "web")),
            repository: Some(gh("acme", "platform")),
            expect: Err("flag without provider"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "flag without repo",
            spec: Some(spec(D, "acme", "", "GITHUB", "web")),
            repository: Some(gh("acme", "platform")),
            expect: Err("flag without repo"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "flag without owner (repo has no org)",
            spec: Some(spec(D, "", "platform", "GITHUB", "web")),
            repository: Some(gh("acme", "platform")),
            expect: Err("flag without owner"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "flag alone",
            spec: Some(spec(D, "", "", "", "web")),
            repository: None,
            expect: Err("flag without owner, repo, provider"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "block without flag fills gaps from the repository",
            spec: Some(spec(D, "", "", "", "")),
            repository: Some(gh("acme", "ledger")),
            expect: Ok("github/acme/ledger descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "block repo name only takes the owner from the repository",
            spec: Some(spec(D, "", "ledger-v2", "", "")),
            repository: Some(repo(GitProvider::Gitlab, "gitlab.com", "acme", "ledger")),
            expect: Ok("gitlab/acme/ledger-v2 descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "block without provider and no repository defaults to github",
            spec: Some(spec(D, "acme", "x", "", "")),
            repository: None,
            expect: Ok("github/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "block without repo and no repository",
            spec: Some(spec(D, "acme", "", "GITHUB", "")),
            repository: None,
            expect: Err("codecov block without repo"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "provider GITHUB_ENTERPRISE",
            spec: Some(spec(D, "acme", "x", "GITHUB_ENTERPRISE", "")),
            repository: None,
            expect: Ok("github_enterprise/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "provider github_enterprise",
            spec: Some(spec(D, "acme", "x", "github_enterprise", "")),
            repository: None,
            expect: Ok("github_enterprise/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "provider GITLAB",
            spec: Some(spec(D, "acme", "x", "GITLAB", "")),
            repository: None,
            expect: Ok("gitlab/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "provider GITLAB_ENTERPRISE",
            spec: Some(spec(D, "acme", "x", "GITLAB_ENTERPRISE", "")),
            repository: None,
            expect: Ok("gitlab_enterprise/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "provider BITBUCKET",
            spec: Some(spec(D, "acme", "x", "BITBUCKET", "")),
            repository: None,
            expect: Ok("bitbucket/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "provider BITBUCKET_SERVER",
            spec: Some(spec(D, "acme", "x", "BITBUCKET_SERVER", "")),
            repository: None,
            expect: Ok("bitbucket_server/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "provider alias ghe",
            spec: Some(spec(D, "acme", "x", "ghe", "")),
            repository: None,
            expect: Ok("github_enterprise/acme/x descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "provider AZURE_DEVOPS has no Codecov service",
            spec: Some(spec(D, "acme", "x", "AZURE_DEVOPS", "")),
            repository: None,
            expect: Err("unsupported provider AZURE_DEVOPS"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "unknown provider",
            spec: Some(spec(D, "acme", "x", "SVN", "")),
            repository: None,
            expect: Err("unsupported provider SVN"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "bad repo",
            spec: Some(spec(D, "acme", "a//b", "GITHUB", "")),
            repository: None,
            expect: Err("invalid repo"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "annotation service/owner/repo",
            spec: Some(spec(A, "", "github/acme/checkout-web", "", "")),
            repository: Some(gh("acme", "checkout-web")),
            expect: Ok("github/acme/checkout-web annotation"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "annotation owner/repo takes the service from the repository",
            spec: Some(spec(A, "", "acme/web", "", "")),
            repository: Some(repo(GitProvider::Gitlab, "gitlab.com", "acme", "web")),
            expect: Ok("gitlab/acme/web annotation"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "annotation owner/repo without a repository means github",
            spec: Some(spec(A, "", "acme/web", "", "")),
            repository: None,
            expect: Ok("github/acme/web annotation"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "annotation service + owner + repo name",
            spec: Some(spec(A, "acme", "web", "gitlab", "")),
            repository: None,
            expect: Ok("gitlab/acme/web annotation"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "annotation flag with service/owner/repo",
            spec: Some(spec(A, "", "bitbucket/acme/web", "", "ui")),
            repository: None,
            expect: Ok("bitbucket/acme/web#ui annotation"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "annotation flag without service",
            spec: Some(spec(A, "", "acme/web", "", "ui")),
            repository: Some(gh("acme", "web")),
            expect: Err("flag without provider"),
            errors: 1,
            warnings: 0,
        },
        Case {
            name: "nested gitlab group in repo",
            spec: Some(spec(D, "", "group/sub/app", "GITLAB", "")),
            repository: None,
            expect: Ok("gitlab/group/sub/app descriptor"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "discovery github.com",
            spec: None,
            repository: Some(gh("acme", "ledger")),
            expect: Ok("github/acme/ledger discovery"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "discovery gitlab.com",
            spec: None,
            repository: Some(repo(GitProvider::Gitlab, "gitlab.com", "acme", "s")),
            expect: Ok("gitlab/acme/s discovery"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "discovery bitbucket.org",
            spec: None,
            repository: Some(repo(GitProvider::Bitbucket, "bitbucket.org", "acme", "s")),
            expect: Ok("bitbucket/acme/s discovery"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "discovery self-hosted GitHub",
            spec: None,
            repository: Some(repo(
                GitProvider::Github,
                "github.acme.example",
                "acme",
                "s",
            )),
            expect: Ok("github_enterprise/acme/s discovery"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "discovery self-hosted GitLab",
            spec: None,
            repository: Some(repo(GitProvider::Gitlab, "git.acme.example", "acme", "s")),
            expect: Ok("gitlab_enterprise/acme/s discovery"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "discovery Bitbucket Server",
            spec: None,
            repository: Some(repo(
                GitProvider::Bitbucket,
                "bitbucket.acme.example",
                "PROJ",
                "s",
            )),
            expect: Ok("bitbucket_server/PROJ/s discovery"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "discovery Azure DevOps is unmapped, not an error",
            spec: None,
            repository: Some(repo(GitProvider::Azure, "dev.azure.com", "proj", "s")),
            expect: Err("Codecov has no Azure DevOps service (repository dev.azure.com/proj/s)"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "nothing: unmapped, not an error",
            spec: None,
            repository: None,
            expect: Err("no repository"),
            errors: 0,
            warnings: 0,
        },
        Case {
            name: "account by owner, case-insensitive",
            spec: None,
            repository: Some(gh("acme-oss", "lib")),
            expect: Ok("github/acme-oss/lib discovery @oss"),
            errors: 0,
            warnings: 0,
        },
    ];
    let accounts = accounts();
    let mut failures = Vec::new();
    for case in &cases {
        let m = map_entity(case.spec.as_ref(), case.repository.as_ref(), &accounts);
        let got: Result<String, String> = match (&m.codecov, &m.unmapped_reason) {
            (Some(p), None) => Ok(render(p)),
            (None, Some(r)) => Err(r.clone()),
            other => Err(format!("inconsistent result {other:?}")),
        };
        let want = case.expect.map(str::to_string).map_err(str::to_string);
        let errors = m
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let warnings = m.diagnostics.len() - errors;
        if got != want || errors != case.errors || warnings != case.warnings {
            failures.push(format!(
                "{}: got {got:?} ({errors} errors, {warnings} warnings {:?}), want {want:?} ({} errors, {} warnings)",
                case.name,
                m.diagnostics.iter().map(|d| d.message.as_str()).collect::<Vec<_>>(),
                case.errors,
                case.warnings
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn provider_spellings() {
    for (input, want) in [
        ("GITHUB", Ok("github")),
        ("github", Ok("github")),
        ("GitHub", Ok("github")),
        ("GITHUB_ENTERPRISE", Ok("github_enterprise")),
        ("github-enterprise", Ok("github_enterprise")),
        ("GITLAB", Ok("gitlab")),
        ("GITLAB_ENTERPRISE", Ok("gitlab_enterprise")),
        ("BITBUCKET", Ok("bitbucket")),
        ("BITBUCKET_SERVER", Ok("bitbucket_server")),
        ("bbs", Ok("bitbucket_server")),
        ("AZURE_DEVOPS", Err(())),
        ("perforce", Err(())),
    ] {
        assert_eq!(codecov_service(input).map_err(|_| ()), want, "{input}");
    }
}

#[test]
fn account_named_by_the_entity_and_unknown_account_warns() {
    let mut s = spec(MappedBy::Annotation, "", "acme/web", "github", "");
    s.account = Some(Field::unplaced("oss"));
    let m = map_entity(Some(&s), None, &accounts());
    assert_eq!(m.codecov.unwrap().account.as_deref(), Some("oss"));
    s.account = Some(Field::unplaced("nope"));
    let m = map_entity(Some(&s), None, &accounts());
    assert_eq!(m.codecov.unwrap().account, None);
    assert_eq!(m.diagnostics.len(), 1);
    assert!(m.diagnostics[0].hint.as_deref().unwrap().contains("oss"));
}

#[test]
fn errors_point_at_the_field() {
    let mut s = spec(MappedBy::Descriptor, "acme", "platform", "", "web");
    s.flag = Some(Field {
        value: "web".into(),
        at: SourceLocation {
            file: "a/cortex.yaml".into(),
            line: 7,
            column: 13,
        },
    });
    let m = map_entity(Some(&s), None, &[]);
    let d = &m.diagnostics[0];
    assert_eq!((d.line, d.column), (7, 13));
    assert_eq!(
        d.file.as_deref(),
        Some(std::path::Path::new("a/cortex.yaml"))
    );
    assert!(
        d.message
            .contains("flag `web` is set but no provider is given"),
        "{}",
        d.message
    );
}

/// Mapping each file's entities as it is read (what every loader does) gives what mapping the
/// whole catalog after reading it gives: the same entities, and the same diagnostics in the
/// same order with the same source lines.
#[test]
fn mapping_as_files_are_read_equals_mapping_afterwards() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        "entities",
        "tests/fixtures/catalog/mixed",
        "tests/fixtures/eval",
    ] {
        let dir = root.join(dir);
        let mut after = crate::catalog::Catalog::read_dir(&dir, &[]);
        map_catalog(&mut after, &accounts());
        let during = crate::catalog::Catalog::load_with_accounts(&dir, &accounts());
        assert!(!during.entities.is_empty(), "{}", dir.display());
        assert_eq!(during.entities, after.entities, "{}", dir.display());
        assert_eq!(during.diagnostics, after.diagnostics, "{}", dir.display());
    }
}

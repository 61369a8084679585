//! Helpers shared by the providers integration tests: entities, configuration, fact checks.

use std::path::PathBuf;

use rubric::catalog::{
    Catalog, CodecovProject, Entity, GitProvider, MappedBy, Repository, SourceLocation,
};
use rubric::config::Config;
use rubric::facts::{Fact, FactKey, FactStatus};

/// An entity mapped to `service/owner/repo` (with an optional flag), or unmapped.
pub fn entity(tag: &str, project: Option<(&str, &str, &str, Option<&str>)>) -> Entity {
    let codecov = project.map(|(service, owner, repo, flag)| CodecovProject {
        service: service.into(),
        owner: owner.into(),
        repo: repo.into(),
        flag: flag.map(str::to_string),
        account: None,
        mapped_by: MappedBy::Descriptor,
    });
    let repository = project.map(|(service, owner, repo, _)| Repository {
        provider: if service == "gitlab" {
            GitProvider::Gitlab
        } else {
            GitProvider::Github
        },
        host: format!("{service}.com"),
        owner: owner.into(),
        name: repo.into(),
        basepath: None,
        alias: None,
    });
    Entity {
        unmapped_reason: codecov.is_none().then(|| "no repository".into()),
        repository,
        codecov,
        source: SourceLocation {
            file: PathBuf::from("test.yaml"),
            line: 1,
            column: 1,
        },
        ..Entity::new(tag)
    }
}

/// A catalog of these entities.
pub fn catalog(entities: Vec<Entity>) -> Catalog {
    Catalog::from_entities(entities, vec![])
}

/// The default configuration pointed at `url`, with fast retries for tests.
pub fn config(url: &str) -> Config {
    let mut cfg =
        Config::load_with_env(None, Vec::<(String, String)>::new()).expect("defaults load");
    cfg.codecov.url = url.to_string();
    cfg.codecov.token_env = "RUBRIC_TEST_NO_SUCH_TOKEN".into();
    cfg.codecov.rate_limit_per_sec = 1000;
    cfg.codecov.rate_limit_burst = 100;
    cfg.http.backoff_base_ms = 5;
    cfg.http.max_retries = 2;
    cfg.http.retry_budget_ms = 3000;
    cfg.http.connect_timeout_ms = 1000;
    cfg.http.read_timeout_ms = 2000;
    cfg.http.request_timeout_ms = 3000;
    cfg
}

/// `codecov.<function>()` with optional args.
pub fn key(function: &str, args: &[(&str, serde_json::Value)]) -> FactKey {
    args.iter()
        .fold(FactKey::new("codecov", "codecov", function), |k, (n, v)| {
            k.with_arg(n, v.clone())
        })
}

/// The number in an ok fact.
pub fn number(f: &Fact) -> f64 {
    match (&f.status, &f.value) {
        (FactStatus::Ok, rubric::value::Value::Number(n)) => *n,
        _ => panic!("expected an ok number, got {f:?}"),
    }
}

/// The reason of a no-data fact.
pub fn no_data(f: &Fact) -> &str {
    match &f.status {
        FactStatus::NoData(r) => r,
        _ => panic!("expected no data, got {f:?}"),
    }
}

/// The reason of an error fact.
pub fn error(f: &Fact) -> &str {
    match &f.status {
        FactStatus::Error(r) => r,
        _ => panic!("expected an error, got {f:?}"),
    }
}

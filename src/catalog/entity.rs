//! The entity model every later stage reads: one `Entity` per descriptor, whatever its format.

use std::path::PathBuf;

use serde::Serialize;

/// Where something was read from: file, 1-based line and column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceLocation {
    /// The descriptor file (relative to the catalog folder when read from files), or a URL.
    pub file: PathBuf,
    /// 1-based line; 0 when unknown (e.g. from an HTTP source).
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
}

/// The descriptor format an entity was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DescriptorFormat {
    /// Cortex `cortex.yaml` (`openapi: 3.0.1`, `info.x-cortex-*`).
    Cortex,
    /// Backstage `catalog-info.yaml` (`apiVersion: backstage.io/v1alpha1`).
    Backstage,
}

/// An owner of an entity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// `group`, `user`, `email`, `slack` (Cortex) or the Backstage ref's kind (`group`, `user`).
    pub kind: String,
    /// Team name (`my-org/my-team`), email address, Slack channel or Backstage ref name.
    pub name: String,
    /// The git provider of a group owner (`GITHUB`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// A link on an entity (`x-cortex-link`, Backstage `metadata.links`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Display name.
    pub name: String,
    /// Link type (`runbook`, `documentation`, ...); empty when not given.
    #[serde(rename = "type")]
    pub kind: String,
    /// Target URL.
    pub url: String,
}

/// A git hosting provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GitProvider {
    /// github.com or GitHub Enterprise (see `Repository::host`).
    Github,
    /// gitlab.com or self-managed GitLab.
    Gitlab,
    /// bitbucket.org or Bitbucket Server.
    Bitbucket,
    /// Azure DevOps.
    Azure,
}

/// The entity's git repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Repository {
    /// The hosting provider.
    pub provider: GitProvider,
    /// The host, e.g. `github.com` or `github.example.com` for a self-hosted one.
    pub host: String,
    /// Organisation, group, workspace or project.
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Folder inside a monorepo, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basepath: Option<String>,
    /// Cortex `alias` (which configured git account), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

impl Repository {
    /// Whether the host is a self-hosted one (not the provider's public SaaS host).
    pub fn is_self_hosted(&self) -> bool {
        !matches!(
            self.host.as_str(),
            "github.com" | "gitlab.com" | "bitbucket.org" | "dev.azure.com"
        )
    }

    /// `host/owner/name`, as Datadog's `repository_url` wants it.
    pub fn url_path(&self) -> String {
        format!("{}/{}/{}", self.host, self.owner, self.name)
    }
}

/// How an entity was mapped to its Codecov project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MappedBy {
    /// An explicit `x-cortex-static-analysis.codecov` block.
    Descriptor,
    /// Backstage `codecov.io/*` annotations.
    Annotation,
    /// Best guess from the git repository.
    Discovery,
}

/// The Codecov project an entity's coverage comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodecovProject {
    /// Codecov service name: `github`, `gitlab`, `bitbucket`, `github_enterprise`,
    /// `gitlab_enterprise` or `bitbucket_server`.
    pub service: String,
    /// Owner (organisation) on that service.
    pub owner: String,
    /// Repository name (without the owner).
    pub repo: String,
    /// The Codecov flag for a monorepo package, when given.
    pub flag: Option<String>,
    /// The configured Codecov account that serves this owner (`None`: the default account).
    pub account: Option<String>,
    /// How the mapping was made.
    pub mapped_by: MappedBy,
}

impl CodecovProject {
    /// `service/owner/repo`, plus `, flag F` when there is one: used in explanations.
    pub fn describe(&self) -> String {
        match &self.flag {
            Some(flag) => format!("{}/{}/{}, flag {flag}", self.service, self.owner, self.repo),
            None => format!("{}/{}/{}", self.service, self.owner, self.repo),
        }
    }
}

/// One catalog entity (a service, library, domain, team...).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entity {
    /// The unique tag: `x-cortex-tag`, or a Backstage entity's `metadata.name`.
    pub tag: String,
    /// Backstage full ref `kind:namespace/name` (lower-cased kind), when from Backstage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backstage_ref: Option<String>,
    /// Human title (`info.title`, `metadata.title`), falling back to the tag.
    pub name: String,
    /// The descriptor format.
    pub format: DescriptorFormat,
    /// Backstage `kind` (`Component`, `System`, ...) or `service`/`domain`/`team` for Cortex.
    pub kind: String,
    /// `x-cortex-type` (default `service`) or Backstage `spec.type`.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// Description, when given.
    pub description: Option<String>,
    /// `x-cortex-groups` or Backstage `metadata.tags`.
    pub groups: Vec<String>,
    /// Owners.
    pub owners: Vec<Owner>,
    /// Links.
    pub links: Vec<Link>,
    /// Tags of entities this one depends on (`x-cortex-dependency`, `spec.dependsOn`).
    pub dependencies: Vec<String>,
    /// Tags of parent entities (`x-cortex-parents`, Backstage `spec.system`/`spec.domain`).
    pub parents: Vec<String>,
    /// Lifecycle (`spec.lifecycle`, or Cortex custom `lifecycle`), when given.
    pub lifecycle: Option<String>,
    /// Custom metadata with its YAML types (`x-cortex-custom-metadata`, Backstage annotations
    /// and labels are not custom data).
    pub custom: serde_json::Map<String, serde_json::Value>,
    /// The raw descriptor document, for `entity.descriptor()` and `jq`.
    pub descriptor: serde_json::Value,
    /// The git repository, when known.
    pub repository: Option<Repository>,
    /// The Codecov project, when mapped.
    pub codecov: Option<CodecovProject>,
    /// Why the entity has no Codecov project (`no repository`, ...), when unmapped.
    pub unmapped_reason: Option<String>,
    /// Whether it is unmapped because its Codecov block or annotations are wrong (e.g. a flag
    /// without a provider): an error on the entity, so its coverage rules get `error` outcomes,
    /// not `no_data`.
    pub mapping_failed: bool,
    /// Where the entity was read from.
    pub source: SourceLocation,
}

/// A string read from a descriptor, with where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The value.
    pub value: String,
    /// Where it was read (line 0 when unknown).
    pub at: SourceLocation,
}

impl Field {
    /// A field with no known position.
    pub fn unplaced(value: impl Into<String>) -> Field {
        Field {
            value: value.into(),
            at: SourceLocation::default(),
        }
    }
}

/// An explicit Codecov mapping: a Cortex `codecov` block or Backstage `codecov.io/*` annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecovSpec {
    /// `Descriptor` for a Cortex block, `Annotation` for Backstage annotations.
    pub origin: MappedBy,
    /// Where the block (or the annotations map) starts.
    pub at: SourceLocation,
    /// Codecov owner (organisation).
    pub owner: Option<Field>,
    /// Repository, `name` or `org/name` (Backstage `codecov.io/repo` may also be `service/org/name`).
    pub repo: Option<Field>,
    /// Provider or Codecov service, in any spelling.
    pub provider: Option<Field>,
    /// Codecov flag.
    pub flag: Option<Field>,
    /// Account named by the entity (`codecov.io/account`).
    pub account: Option<Field>,
}

impl CodecovSpec {
    /// An empty spec of this origin at this place.
    pub fn new(origin: MappedBy, at: SourceLocation) -> Self {
        CodecovSpec {
            origin,
            at,
            owner: None,
            repo: None,
            provider: None,
            flag: None,
            account: None,
        }
    }
}

/// Where the fields the mapping used were read, so messages can point at them.
/// Paths are as shown in messages (the catalog folder joined with the file, or a URL).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MappingSources {
    /// The explicit Codecov block or annotations as read, the mapping stage's input.
    #[serde(skip)]
    pub spec: Option<CodecovSpec>,
    /// The explicit Codecov block (Cortex) or the annotations map (Backstage), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codecov: Option<SourceLocation>,
    /// Each field given in that block: `owner`, `repo`, `provider`, `flag`, `account`.
    pub fields: std::collections::BTreeMap<String, SourceLocation>,
    /// The git repository value (`x-cortex-git.*.repository`, a project slug or source location).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<SourceLocation>,
}

impl Entity {
    /// A Cortex `service` with this tag and nothing else: no repository, so unmapped
    /// (`no repository`). Loaders fill the rest; tests and tools set what they need with
    /// struct-update syntax (`Entity { groups, ..Entity::new("api") }`).
    pub fn new(tag: &str) -> Entity {
        Entity {
            tag: tag.to_string(),
            backstage_ref: None,
            name: tag.to_string(),
            format: DescriptorFormat::Cortex,
            kind: "service".into(),
            entity_type: "service".into(),
            description: None,
            groups: Vec::new(),
            owners: Vec::new(),
            links: Vec::new(),
            dependencies: Vec::new(),
            parents: Vec::new(),
            lifecycle: None,
            custom: serde_json::Map::new(),
            descriptor: serde_json::Value::Null,
            repository: None,
            codecov: None,
            unmapped_reason: Some("no repository".into()),
            mapping_failed: false,
            source: SourceLocation::default(),
        }
    }
}

//! Descriptor readers: one YAML/JSON document (a [`Node`] tree) → one [`Entity`] plus its
//! explicit Codecov mapping, with errors and warnings placed at the offending node.

use std::path::{Path, PathBuf};

use super::{
    CodecovSpec, DescriptorFormat, Entity, Field, GitProvider, Link, MappedBy, Owner, Repository,
    SourceLocation,
};
use crate::diag::suggest;
use crate::yaml::{self, Node, NodeValue};

/// What one document turned out to be.
#[derive(Debug)]
pub(crate) enum Document {
    /// An entity (not yet mapped) and its explicit Codecov block or annotations.
    Entity(Box<ReadEntity>),
    /// A Backstage `kind: Location`: targets to follow, each with where it was written.
    Location(Vec<Field>),
    /// Not an entity (errors or warnings say why).
    Skipped,
}

/// An entity read from a document, before mapping.
#[derive(Debug)]
pub(crate) struct ReadEntity {
    pub entity: Entity,
    pub spec: Option<CodecovSpec>,
    /// Where the git repository was read (the `repository` value or the annotation).
    pub repo_at: Option<SourceLocation>,
}

/// Where messages go while reading one file: the shared [`yaml::Reader`] (reached through
/// `Deref`), the path recorded on entities, and where the current document's errors start.
pub(crate) struct Ctx<'a> {
    reader: yaml::Reader<'a>,
    /// The path recorded as the entity's source (relative to the catalog folder, or a URL).
    pub rel: &'a Path,
    errors_before: usize,
}

impl<'a> std::ops::Deref for Ctx<'a> {
    type Target = yaml::Reader<'a>;

    fn deref(&self) -> &Self::Target {
        &self.reader
    }
}

impl std::ops::DerefMut for Ctx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.reader
    }
}

impl<'a> Ctx<'a> {
    /// `display` is the path shown in messages (the catalog folder joined with `rel`, or a
    /// URL); source lines are attached by the caller.
    pub fn new(display: &'a Path, rel: &'a Path) -> Self {
        Ctx {
            reader: yaml::Reader::new(display, None),
            rel,
            errors_before: 0,
        }
    }

    fn at(&self, n: &Node) -> SourceLocation {
        SourceLocation {
            file: self.file.to_path_buf(),
            line: n.line,
            column: n.column,
        }
    }

    fn begin(&mut self) {
        self.errors_before = self.error_count();
    }

    fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    fn failed(&self) -> bool {
        self.error_count() > self.errors_before
    }

    fn field(&self, n: &Node) -> Option<Field> {
        n.scalar_text().map(|value| Field {
            value,
            at: self.at(n),
        })
    }

    /// A string (or other scalar, printed) at `key`; wrong types are schema errors.
    fn string(&mut self, map: &Node, key: &str, path: &str) -> Option<String> {
        self.reader
            .field(map, key, Node::scalar_text, |found| {
                format!("`{path}` must be a string, found {found}")
            })
            .ok()
            .flatten()
    }

    /// A list at `key` (a missing or null key is an empty list).
    fn list<'n>(&mut self, map: &'n Node, key: &str, path: &str) -> &'n [Node] {
        self.reader
            .field(map, key, Node::as_seq, |found| {
                format!("`{path}` must be a list, found {found}")
            })
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// A map at `key` (`None` when missing or null).
    fn map<'n>(&mut self, map: &'n Node, key: &str, path: &str) -> Option<&'n Node> {
        self.reader
            .field(
                map,
                key,
                |v| v.as_map().map(|_| v),
                |found| format!("`{path}` must be a map, found {found}"),
            )
            .ok()
            .flatten()
    }

    /// A list of strings at `key`.
    fn strings(&mut self, map: &Node, key: &str, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.list(map, key, path) {
            let wrong = |found: &str| format!("`{path}` must be a list of strings, found {found}");
            if let Ok(s) = self.reader.expect(item, Node::scalar_text, wrong) {
                out.push(s);
            }
        }
        out
    }
}

/// Reads one document.
pub(crate) fn read_document(doc: &Node, ctx: &mut Ctx<'_>) -> Document {
    ctx.begin();
    if doc.as_map().is_none() {
        ctx.error(
            doc,
            format!("a descriptor must be a map, found {}", doc.type_name()),
            None,
        );
        return Document::Skipped;
    }
    let read = if doc.get("apiVersion").is_some()
        || (doc.get("kind").is_some() && doc.get("metadata").is_some())
    {
        read_backstage(doc, ctx)
    } else if doc.get("openapi").is_some() || doc.get("info").is_some() {
        read_cortex(doc, ctx).map(|e| Document::Entity(Box::new(e)))
    } else {
        ctx.warn(
            doc,
            "document is neither a Cortex descriptor nor a Backstage entity; skipped",
            Some("a Cortex descriptor has `openapi: 3.0.1` and `info.x-cortex-tag`; a Backstage entity has `apiVersion`, `kind` and `metadata.name`".into()),
        );
        return Document::Skipped;
    };
    match read {
        Some(d) if !ctx.failed() => d,
        _ => Document::Skipped,
    }
}

/// Known `x-cortex-*` keys under `info` (unknown ones are warnings with a suggestion).
const CORTEX_KEYS: &[&str] = &[
    "x-cortex-tag",
    "x-cortex-type",
    "x-cortex-definition",
    "x-cortex-groups",
    "x-cortex-owners",
    "x-cortex-team",
    "x-cortex-git",
    "x-cortex-custom-metadata",
    "x-cortex-static-analysis",
    "x-cortex-link",
    "x-cortex-dependency",
    "x-cortex-parents",
    "x-cortex-children",
    "x-cortex-domain-parents",
    "x-cortex-oncall",
    "x-cortex-slack",
    "x-cortex-microsoft-teams",
    "x-cortex-issues",
    "x-cortex-apm",
    "x-cortex-alerts",
    "x-cortex-dashboards",
    "x-cortex-infra",
    "x-cortex-k8s",
    "x-cortex-ci-cd",
    "x-cortex-slos",
    "x-cortex-serverless",
    "x-cortex-rollbar",
    "x-cortex-sentry",
    "x-cortex-bugsnag",
    "x-cortex-firehydrant",
    "x-cortex-snyk",
    "x-cortex-checkmarx",
    "x-cortex-wiz",
    "x-cortex-veracode",
    "x-cortex-mend",
    "x-cortex-semgrep",
    "x-cortex-launch-darkly",
    "x-cortex-servicenow",
    "x-cortex-incident-io",
    "x-cortex-coralogix",
    "x-cortex-opsgenie",
    "x-cortex-pagerduty",
    "x-cortex-victorops",
    "x-cortex-xmatters",
    "x-cortex-service-groups",
    "x-cortex-dependencies",
    "x-cortex-catalog",
    "x-cortex-relationships",
    "x-cortex-image",
    "x-cortex-lifecycle",
];

/// Known keys of `x-cortex-static-analysis.codecov`.
const CODECOV_BLOCK_KEYS: &[&str] = &["owner", "repo", "provider", "flag"];

/// Known `codecov.io/*` annotations and the repository annotations mapping reads.
pub(crate) const ANNOTATION_KEYS: &[&str] = &[
    "codecov.io/repo",
    "codecov.io/owner",
    "codecov.io/service",
    "codecov.io/flag",
    "codecov.io/account",
    "github.com/project-slug",
    "gitlab.com/project-slug",
    "backstage.io/source-location",
];

/// Keys of an OpenAPI `info` object: never reported as typos of x-cortex-* keys.
const OPENAPI_INFO_KEYS: &[&str] = &[
    "title",
    "description",
    "version",
    "summary",
    "termsOfService",
    "contact",
    "license",
];

fn read_cortex(doc: &Node, ctx: &mut Ctx<'_>) -> Option<ReadEntity> {
    let Some(info) = doc.get("info") else {
        ctx.error(
            doc,
            "Cortex descriptor has no `info` block",
            Some("put the x-cortex-* keys under `info:`".into()),
        );
        return None;
    };
    if info.as_map().is_none() {
        ctx.error(
            info,
            format!("`info` must be a map, found {}", info.type_name()),
            None,
        );
        return None;
    }
    let tag = match info.get("x-cortex-tag") {
        None => {
            let hint = info
                .as_map()
                .into_iter()
                .flatten()
                .find(|(k, _)| suggest(&k.key_text(), ["x-cortex-tag"]).is_some())
                .map(|(k, _)| format!("did you mean x-cortex-tag? (found `{}`)", k.key_text()))
                .unwrap_or_else(|| "add `x-cortex-tag: my-service` under `info`".into());
            ctx.error(
                doc.entry("info").map_or(doc, |(k, _)| k),
                "Cortex descriptor has no `info.x-cortex-tag`",
                Some(hint),
            );
            return None;
        }
        Some(v) => match v.scalar_text().map(|s| s.trim().to_string()) {
            Some(t) if !t.is_empty() => t,
            _ => {
                ctx.error(
                    v,
                    format!(
                        "`x-cortex-tag` must be a non-empty string, found {}",
                        v.type_name()
                    ),
                    None,
                );
                return None;
            }
        },
    };
    for (k, _) in info.as_map().into_iter().flatten() {
        let key = k.key_text();
        if key.starts_with("x-cortex-") && !CORTEX_KEYS.contains(&key.as_ref()) {
            let hint =
                suggest(&key, CORTEX_KEYS.iter().copied()).map(|s| format!("did you mean {s}?"));
            ctx.warn(k, format!("unknown Cortex key `{key}`"), hint);
        } else if !key.starts_with("x-cortex-")
            && !OPENAPI_INFO_KEYS.contains(&key.as_ref())
            && let Some(s) = suggest(&key, CORTEX_KEYS.iter().copied())
        {
            ctx.warn(
                k,
                format!("unknown key `{key}` under info"),
                Some(format!("did you mean {s}?")),
            );
        }
    }
    let entity_type = ctx
        .string(info, "x-cortex-type", "info.x-cortex-type")
        .unwrap_or_else(|| "service".into());
    let name = ctx
        .string(info, "title", "info.title")
        .unwrap_or_else(|| tag.clone());
    let description = ctx.string(info, "description", "info.description");
    let groups = ctx.strings(info, "x-cortex-groups", "x-cortex-groups");

    let mut owners = Vec::new();
    for item in ctx.list(info, "x-cortex-owners", "x-cortex-owners") {
        if let Some(o) = cortex_owner(item, ctx) {
            owners.push(o);
        }
    }
    let mut links = Vec::new();
    for item in ctx.list(info, "x-cortex-link", "x-cortex-link") {
        if item.as_map().is_none() {
            ctx.error(
                item,
                format!(
                    "an `x-cortex-link` entry must be a map with name, type and url, found {}",
                    item.type_name()
                ),
                None,
            );
            continue;
        }
        let url = ctx.string(item, "url", "x-cortex-link[].url");
        match url {
            Some(url) => links.push(Link {
                name: ctx
                    .string(item, "name", "x-cortex-link[].name")
                    .unwrap_or_else(|| url.clone()),
                kind: ctx
                    .string(item, "type", "x-cortex-link[].type")
                    .unwrap_or_default(),
                url,
            }),
            None => {
                ctx.error(item, "an `x-cortex-link` entry has no `url`", None);
            }
        }
    }
    let dependencies = tag_list(info, "x-cortex-dependency", ctx);
    let parents = tag_list(info, "x-cortex-parents", ctx);

    let mut custom = serde_json::Map::new();
    if let Some(m) = ctx.map(info, "x-cortex-custom-metadata", "x-cortex-custom-metadata") {
        for (k, v) in m.as_map().into_iter().flatten() {
            custom.insert(k.key_text().into_owned(), v.to_json());
        }
    }
    let lifecycle = custom
        .get("lifecycle")
        .and_then(|v| v.as_str())
        .map(str::to_string);

    let (repository, repo_at) = ctx
        .map(info, "x-cortex-git", "x-cortex-git")
        .and_then(|git| cortex_git(git, ctx))
        .unzip();

    let mut spec = None;
    if let Some(sa) = ctx.map(info, "x-cortex-static-analysis", "x-cortex-static-analysis") {
        if let Some((k, block)) = sa.entry("codecov") {
            if block.as_map().is_none() {
                ctx.error(
                    block,
                    format!(
                        "`x-cortex-static-analysis.codecov` must be a map, found {}",
                        block.type_name()
                    ),
                    None,
                );
            } else {
                let mut s = CodecovSpec::new(MappedBy::Descriptor, ctx.at(k));
                for (bk, bv) in block.as_map().into_iter().flatten() {
                    let key = bk.key_text();
                    let field = match bv.value {
                        NodeValue::Seq(_) | NodeValue::Map(_) => {
                            ctx.error(
                                bv,
                                format!(
                                    "`codecov.{key}` must be a string, found {}",
                                    bv.type_name()
                                ),
                                None,
                            );
                            None
                        }
                        _ => ctx.field(bv),
                    };
                    match key.as_ref() {
                        "owner" => s.owner = field,
                        "repo" | "repository" => s.repo = field,
                        "provider" => s.provider = field,
                        "flag" => s.flag = field,
                        other => {
                            let hint = suggest(other, CODECOV_BLOCK_KEYS.iter().copied())
                                .map(|s| format!("did you mean {s}?"));
                            ctx.warn(bk, format!("unknown key `{other}` in the codecov block (known: owner, repo, provider, flag)"), hint);
                        }
                    }
                }
                spec = Some(s);
            }
        } else {
            for (k, _) in sa.as_map().into_iter().flatten() {
                if let Some(s) = suggest(&k.key_text(), ["codecov"]) {
                    ctx.warn(
                        k,
                        format!("unknown static analysis tool `{}`", k.key_text()),
                        Some(format!("did you mean {s}?")),
                    );
                }
            }
        }
    }

    Some(ReadEntity {
        entity: Entity {
            tag,
            backstage_ref: None,
            name,
            format: DescriptorFormat::Cortex,
            kind: entity_type.clone(),
            entity_type,
            description,
            groups,
            owners,
            links,
            dependencies,
            parents,
            lifecycle,
            custom,
            descriptor: doc.to_json(),
            repository,
            codecov: None,
            unmapped_reason: None,
            mapping_failed: false,
            source: SourceLocation {
                file: ctx.rel.to_path_buf(),
                line: doc.line,
                column: doc.column,
            },
        },
        spec,
        repo_at,
    })
}

fn tag_list(info: &Node, key: &str, ctx: &mut Ctx<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for item in ctx.list(info, key, key) {
        let tag = match &item.value {
            NodeValue::Map(_) => item.get("tag").and_then(Node::scalar_text),
            NodeValue::Str(s) => Some(s.clone()),
            _ => None,
        };
        match tag {
            Some(t) => out.push(t),
            None => {
                ctx.error(
                    item,
                    format!(
                        "a `{key}` entry must be a map with a `tag`, found {}",
                        item.type_name()
                    ),
                    Some("write `- tag: other-service`".into()),
                );
            }
        }
    }
    out
}

fn cortex_owner(item: &Node, ctx: &mut Ctx<'_>) -> Option<Owner> {
    if item.as_map().is_none() {
        ctx.error(
            item,
            format!(
                "an owner must be a map with a `type`, found {}",
                item.type_name()
            ),
            Some("e.g. `- type: group` and `name: my-org/my-team`".into()),
        );
        return None;
    }
    let Some(kind) = ctx.string(item, "type", "x-cortex-owners[].type") else {
        ctx.error(
            item,
            "an owner has no `type`",
            Some("use type: group, email, slack or user".into()),
        );
        return None;
    };
    let kind = kind.to_ascii_lowercase();
    let (key, name) = match kind.as_str() {
        "group" | "team" => ("name", ctx.string(item, "name", "x-cortex-owners[].name")),
        "email" | "user" => (
            "email",
            ctx.string(item, "email", "x-cortex-owners[].email")
                .or_else(|| ctx.string(item, "name", "x-cortex-owners[].name")),
        ),
        "slack" => (
            "channel",
            ctx.string(item, "channel", "x-cortex-owners[].channel")
                .or_else(|| ctx.string(item, "name", "x-cortex-owners[].name")),
        ),
        other => {
            let t = item.get("type").unwrap_or(item);
            ctx.error(
                t,
                format!("unknown owner type `{other}`"),
                Some("use group, email, slack or user".into()),
            );
            return None;
        }
    };
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        ctx.error(item, format!("a `{kind}` owner has no `{key}`"), None);
        return None;
    };
    Some(Owner {
        kind,
        name,
        provider: ctx.string(item, "provider", "x-cortex-owners[].provider"),
    })
}

/// Splits `org/name` (or `group/sub/name`) into owner and name.
fn split_repo(s: &str) -> Option<(String, String)> {
    let s = s.trim().trim_matches('/').trim_end_matches(".git");
    let (owner, name) = s.rsplit_once('/')?;
    if owner.is_empty() || name.is_empty() || owner.split('/').any(str::is_empty) {
        return None;
    }
    Some((owner.to_string(), name.to_string()))
}

fn cortex_git(git: &Node, ctx: &mut Ctx<'_>) -> Option<(Repository, SourceLocation)> {
    let mut found: Option<(Repository, SourceLocation)> = None;
    for (k, v) in git.as_map().into_iter().flatten() {
        let key = k.key_text();
        let (provider, host) = match key.as_ref() {
            "github" => (GitProvider::Github, "github.com"),
            "gitlab" => (GitProvider::Gitlab, "gitlab.com"),
            "bitbucket" => (GitProvider::Bitbucket, "bitbucket.org"),
            "azure" | "azure-devops" | "azuredevops" => (GitProvider::Azure, "dev.azure.com"),
            other => {
                let hint = suggest(other, ["github", "gitlab", "bitbucket", "azure"])
                    .map(|s| format!("did you mean {s}?"));
                ctx.warn(
                    k,
                    format!("unknown git provider `{other}` in x-cortex-git"),
                    hint.or(Some("use github, gitlab, bitbucket or azure".into())),
                );
                continue;
            }
        };
        if v.as_map().is_none() {
            ctx.error(
                v,
                format!(
                    "`x-cortex-git.{key}` must be a map with `repository`, found {}",
                    v.type_name()
                ),
                None,
            );
            continue;
        }
        let path = format!("x-cortex-git.{key}");
        let Some(repository) = ctx.string(v, "repository", &format!("{path}.repository")) else {
            ctx.error(
                v,
                format!("`{path}` has no `repository`"),
                Some("write `repository: my-org/my-repo`".into()),
            );
            continue;
        };
        let (owner, name) = if provider == GitProvider::Azure {
            match ctx.string(v, "project", &format!("{path}.project")) {
                Some(project) => (project, repository),
                None => match split_repo(&repository) {
                    Some(pair) => pair,
                    None => {
                        ctx.error(
                            v,
                            format!("`{path}` needs `project` and `repository`"),
                            None,
                        );
                        continue;
                    }
                },
            }
        } else {
            match split_repo(&repository) {
                Some(pair) => pair,
                None => {
                    let at = v.get("repository").unwrap_or(v);
                    ctx.error(
                        at,
                        format!("`{path}.repository` is `{repository}`, expected `org/name`"),
                        Some(
                            "write the repository with its organisation, e.g. `acme/payments-api`"
                                .into(),
                        ),
                    );
                    continue;
                }
            }
        };
        let repo = Repository {
            provider,
            host: host.to_string(),
            owner,
            name,
            basepath: ctx.string(v, "basepath", &format!("{path}.basepath")),
            alias: ctx.string(v, "alias", &format!("{path}.alias")),
        };
        if found.is_some() {
            ctx.warn(
                k,
                format!(
                    "x-cortex-git has more than one provider; using the first, ignoring `{key}`"
                ),
                None,
            );
        } else {
            found = Some((repo, ctx.at(v.get("repository").unwrap_or(v))));
        }
    }
    found
}

/// A Backstage entity ref `[kind:][namespace/]name` → (kind, namespace, name).
pub(crate) fn parse_ref(s: &str, default_kind: &str) -> (String, String, String) {
    let s = s.trim();
    let (kind, rest) = match s.split_once(':') {
        Some((k, r)) if !k.contains('/') => (k.to_ascii_lowercase(), r),
        _ => (default_kind.to_string(), s),
    };
    let (ns, name) = match rest.split_once('/') {
        Some((n, r)) => (n.to_string(), r.to_string()),
        None => ("default".to_string(), rest.to_string()),
    };
    (kind, ns, name)
}

/// How an entity refers to another: its tag (the name) in the default namespace, else the full ref.
fn ref_as_tag(s: &str, default_kind: &str) -> String {
    let (kind, ns, name) = parse_ref(s, default_kind);
    if ns == "default" {
        name
    } else {
        format!("{kind}:{ns}/{name}")
    }
}

fn read_backstage(doc: &Node, ctx: &mut Ctx<'_>) -> Option<Document> {
    let api = ctx.string(doc, "apiVersion", "apiVersion");
    if let Some(api) = &api
        && !api.starts_with("backstage.io/")
    {
        let at = doc.get("apiVersion").unwrap_or(doc);
        ctx.warn(
            at,
            format!(
                "apiVersion `{api}` is not a backstage.io version; reading it as a Backstage entity"
            ),
            None,
        );
    }
    let Some(kind) = ctx.string(doc, "kind", "kind") else {
        ctx.error(
            doc,
            "Backstage entity has no `kind`",
            Some("e.g. `kind: Component`".into()),
        );
        return None;
    };
    let spec = ctx.map(doc, "spec", "spec");
    if kind.eq_ignore_ascii_case("location") {
        let mut targets = Vec::new();
        if let Some(spec) = spec {
            if let Some(t) = spec.get("target").and_then(|n| ctx.field(n)) {
                targets.push(t);
            }
            for item in ctx.list(spec, "targets", "spec.targets") {
                match ctx.field(item) {
                    Some(t) => targets.push(t),
                    None => {
                        ctx.error(
                            item,
                            format!(
                                "a Location target must be a string, found {}",
                                item.type_name()
                            ),
                            None,
                        );
                    }
                }
            }
        }
        return Some(Document::Location(targets));
    }
    let Some(metadata) = ctx.map(doc, "metadata", "metadata") else {
        ctx.error(
            doc,
            "Backstage entity has no `metadata`",
            Some("add `metadata:` with `name: my-service`".into()),
        );
        return None;
    };
    let name = match ctx.string(metadata, "name", "metadata.name") {
        Some(n) if !n.trim().is_empty() => n.trim().to_string(),
        _ => {
            ctx.error(
                metadata,
                "Backstage entity has no `metadata.name`",
                Some("add `name: my-service` under metadata".into()),
            );
            return None;
        }
    };
    let namespace = ctx
        .string(metadata, "namespace", "metadata.namespace")
        .unwrap_or_else(|| "default".into());
    let kind_lower = kind.to_ascii_lowercase();
    let title = ctx.string(metadata, "title", "metadata.title");
    let description = ctx.string(metadata, "description", "metadata.description");
    let groups = ctx.strings(metadata, "tags", "metadata.tags");
    let mut links = Vec::new();
    for item in ctx.list(metadata, "links", "metadata.links") {
        if item.as_map().is_none() {
            ctx.error(
                item,
                format!(
                    "a `metadata.links` entry must be a map with `url`, found {}",
                    item.type_name()
                ),
                None,
            );
            continue;
        }
        match ctx.string(item, "url", "metadata.links[].url") {
            Some(url) => links.push(Link {
                name: ctx
                    .string(item, "title", "metadata.links[].title")
                    .unwrap_or_else(|| url.clone()),
                kind: ctx
                    .string(item, "type", "metadata.links[].type")
                    .unwrap_or_default(),
                url,
            }),
            None => {
                ctx.error(item, "a `metadata.links` entry has no `url`", None);
            }
        }
    }

    let mut owners = Vec::new();
    let mut dependencies = Vec::new();
    let mut parents = Vec::new();
    let mut entity_type = kind_lower.clone();
    let mut lifecycle = None;
    if let Some(spec) = spec {
        if let Some(t) = ctx.string(spec, "type", "spec.type") {
            entity_type = t;
        }
        lifecycle = ctx.string(spec, "lifecycle", "spec.lifecycle");
        if let Some(owner) = ctx.string(spec, "owner", "spec.owner") {
            let (k, ns, n) = parse_ref(&owner, "group");
            let name = if ns == "default" {
                n
            } else {
                format!("{ns}/{n}")
            };
            owners.push(Owner {
                kind: k,
                name,
                provider: None,
            });
        }
        for d in ctx.strings(spec, "dependsOn", "spec.dependsOn") {
            dependencies.push(ref_as_tag(&d, "component"));
        }
        for (key, default_kind) in [
            ("system", "system"),
            ("domain", "domain"),
            ("subcomponentOf", "component"),
            ("parent", "group"),
        ] {
            if let Some(p) = ctx.string(spec, key, &format!("spec.{key}")) {
                parents.push(ref_as_tag(&p, default_kind));
            }
        }
    }

    let mut codecov = None;
    let mut repository = None;
    let mut repo_at = None;
    if let Some(ann) = ctx.map(metadata, "annotations", "metadata.annotations") {
        let (spec, repo) = backstage_annotations(ann, ctx);
        codecov = spec;
        (repository, repo_at) = repo.unzip();
    }

    Some(Document::Entity(Box::new(ReadEntity {
        entity: Entity {
            tag: name.clone(),
            backstage_ref: Some(format!("{kind_lower}:{namespace}/{name}")),
            name: title.unwrap_or_else(|| name.clone()),
            format: DescriptorFormat::Backstage,
            kind,
            entity_type,
            description,
            groups,
            owners,
            links,
            dependencies,
            parents,
            lifecycle,
            custom: serde_json::Map::new(),
            descriptor: doc.to_json(),
            repository,
            codecov: None,
            unmapped_reason: None,
            mapping_failed: false,
            source: SourceLocation {
                file: ctx.rel.to_path_buf(),
                line: doc.line,
                column: doc.column,
            },
        },
        spec: codecov,
        repo_at,
    })))
}

fn backstage_annotations(
    ann: &Node,
    ctx: &mut Ctx<'_>,
) -> (Option<CodecovSpec>, Option<(Repository, SourceLocation)>) {
    let mut spec = CodecovSpec::new(MappedBy::Annotation, ctx.at(ann));
    let mut any = false;
    let mut slug: Option<(GitProvider, &str, String, &Node)> = None;
    let mut source: Option<(String, &Node)> = None;
    for (k, v) in ann.as_map().into_iter().flatten() {
        let key = k.key_text();
        let field = ctx.field(v);
        let codecov_slot = match key.as_ref() {
            "codecov.io/repo" => Some(&mut spec.repo),
            "codecov.io/owner" => Some(&mut spec.owner),
            "codecov.io/service" => Some(&mut spec.provider),
            "codecov.io/flag" => Some(&mut spec.flag),
            "codecov.io/account" => Some(&mut spec.account),
            _ => None,
        };
        if let Some(slot) = codecov_slot {
            *slot = field;
            any = true;
            continue;
        }
        match key.as_ref() {
            "github.com/project-slug" => {
                if slug.is_none() {
                    slug = field.map(|f| (GitProvider::Github, "github.com", f.value, v));
                }
            }
            "gitlab.com/project-slug" => {
                if slug.is_none() {
                    slug = field.map(|f| (GitProvider::Gitlab, "gitlab.com", f.value, v));
                }
            }
            "backstage.io/source-location" => source = field.map(|f| (f.value, v)),
            other => {
                if let Some(s) = suggest(other, ANNOTATION_KEYS.iter().copied()) {
                    ctx.warn(
                        k,
                        format!("unknown annotation `{other}`"),
                        Some(format!("did you mean {s}?")),
                    );
                } else if other.starts_with("codecov.io/") {
                    ctx.warn(k, format!("unknown annotation `{other}`"), Some("known: codecov.io/repo, codecov.io/owner, codecov.io/service, codecov.io/flag, codecov.io/account".into()));
                }
            }
        }
    }
    let from_source = source.and_then(|(s, node)| match parse_source_location(&s) {
        Ok(r) => Some((r, ctx.at(node))),
        Err(e) => {
            ctx.warn(
                node,
                format!("backstage.io/source-location `{s}`: {e}; not used for discovery"),
                None,
            );
            None
        }
    });
    let repository = match slug {
        Some((provider, host, value, node)) => match split_repo(&value) {
            Some((owner, name)) => {
                // A self-hosted host of the same provider, when the source location names one.
                let host = from_source
                    .as_ref()
                    .map(|(r, _)| r)
                    .filter(|r| {
                        r.provider == provider
                            && r.owner.eq_ignore_ascii_case(&owner)
                            && r.name.eq_ignore_ascii_case(&name)
                    })
                    .map_or(host.to_string(), |r| r.host.clone());
                let basepath = from_source.as_ref().and_then(|(r, _)| r.basepath.clone());
                let repo = Repository {
                    provider,
                    host,
                    owner,
                    name,
                    basepath,
                    alias: None,
                };
                Some((repo, ctx.at(node)))
            }
            None => {
                ctx.warn(
                    node,
                    format!("project slug `{value}` is not `org/name`; not used for discovery"),
                    None,
                );
                from_source
            }
        },
        None => from_source,
    };
    (any.then_some(spec), repository)
}

/// The repository of a Backstage `backstage.io/source-location` (`url:https://host/org/repo/...`).
pub(crate) fn parse_source_location(s: &str) -> Result<Repository, String> {
    let url = s.trim();
    let url = url.strip_prefix("url:").unwrap_or(url);
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("expected `url:https://host/org/repo`")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host
        .rsplit_once('@')
        .map_or(host, |(_, h)| h)
        .to_ascii_lowercase();
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let provider = if host == "dev.azure.com" || host.ends_with(".visualstudio.com") {
        GitProvider::Azure
    } else if host.contains("gitlab") {
        GitProvider::Gitlab
    } else if host.contains("bitbucket") {
        GitProvider::Bitbucket
    } else if host.contains("github") {
        GitProvider::Github
    } else {
        return Err(format!("cannot tell the git provider of host `{host}`"));
    };
    let strip = |s: &str| s.trim_end_matches(".git").to_string();
    let base = |rest: &[&str]| -> Option<String> {
        // `tree/<branch>/<path>` or `blob/<branch>/<path>`.
        (rest.len() > 2).then(|| rest[2..].join("/"))
    };
    let (owner, name, basepath) = match provider {
        GitProvider::Github => match segs.as_slice() {
            [o, n, rest @ ..] => ((*o).to_string(), strip(n), base(rest)),
            _ => return Err("expected `https://host/org/repo`".into()),
        },
        GitProvider::Gitlab => {
            let cut = segs.iter().position(|s| *s == "-").unwrap_or(segs.len());
            let project = &segs[..cut];
            if project.len() < 2 {
                return Err("expected `https://host/group/project`".into());
            }
            let after = &segs[(cut + 1).min(segs.len())..];
            (
                project[..project.len() - 1].join("/"),
                strip(project[project.len() - 1]),
                base(after),
            )
        }
        GitProvider::Bitbucket => match segs.as_slice() {
            ["projects", p, "repos", n, rest @ ..] => (
                (*p).to_string(),
                strip(n),
                (rest.len() > 1).then(|| rest[1..].join("/")),
            ),
            ["scm", p, n, ..] => ((*p).to_string(), strip(n), None),
            [o, n, rest @ ..] => ((*o).to_string(), strip(n), base(rest)),
            _ => return Err("expected `https://host/workspace/repo`".into()),
        },
        GitProvider::Azure => match segs.iter().position(|s| *s == "_git") {
            Some(i) if i >= 1 && i + 1 < segs.len() => {
                (segs[i - 1].to_string(), strip(segs[i + 1]), None)
            }
            _ => return Err("expected `https://dev.azure.com/org/project/_git/repo`".into()),
        },
    };
    Ok(Repository {
        provider,
        host,
        owner,
        name,
        basepath: basepath.filter(|b| !b.is_empty()),
        alias: None,
    })
}

/// The path of a Location target relative to the file that names it (`None` for URLs).
pub(crate) fn location_target_path(file_dir: &Path, target: &str) -> Option<PathBuf> {
    let t = target.trim();
    if t.contains("://") {
        return None;
    }
    Some(normalize(&file_dir.join(t)))
}

/// `a/b/../c/./d` → `a/c/d`, without touching the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_locations_of_every_host() {
        let cases = [
            (
                "url:https://github.com/acme/web/tree/main/packages/ui",
                "github github.com acme web packages/ui",
            ),
            (
                "url:https://github.com/acme/web/",
                "github github.com acme web -",
            ),
            (
                "https://github.acme.example/acme/web.git",
                "github github.acme.example acme web -",
            ),
            (
                "url:https://gitlab.com/group/sub/app/-/tree/main/svc",
                "gitlab gitlab.com group/sub app svc",
            ),
            (
                "url:https://git.gitlab.acme.example/group/app",
                "gitlab git.gitlab.acme.example group app -",
            ),
            (
                "url:https://bitbucket.org/ws/repo/src/main/",
                "bitbucket bitbucket.org ws repo -",
            ),
            (
                "url:https://bitbucket.acme.example/projects/PROJ/repos/repo/browse/lib",
                "bitbucket bitbucket.acme.example PROJ repo lib",
            ),
            (
                "url:https://dev.azure.com/org/proj/_git/repo",
                "azure dev.azure.com proj repo -",
            ),
        ];
        for (input, want) in cases {
            let r = parse_source_location(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let got = format!(
                "{} {} {} {} {}",
                serde_json::to_value(r.provider).unwrap().as_str().unwrap(),
                r.host,
                r.owner,
                r.name,
                r.basepath.as_deref().unwrap_or("-")
            );
            assert_eq!(got, want, "{input}");
        }
        assert!(parse_source_location("url:https://git.acme.example/a/b").is_err());
        assert!(parse_source_location("file:./here").is_err());
    }

    #[test]
    fn refs_parse_with_defaults() {
        assert_eq!(
            parse_ref("group:default/web-team", "group"),
            ("group".into(), "default".into(), "web-team".into())
        );
        assert_eq!(
            parse_ref("jdoe", "user"),
            ("user".into(), "default".into(), "jdoe".into())
        );
        assert_eq!(
            parse_ref("Component:ops/api", "x"),
            ("component".into(), "ops".into(), "api".into())
        );
        assert_eq!(
            ref_as_tag("component:default/payments-api", "component"),
            "payments-api"
        );
        assert_eq!(ref_as_tag("system:ops/core", "system"), "system:ops/core");
    }

    #[test]
    fn key_suggestions_only_for_near_keys() {
        assert_eq!(
            suggest("x-cortex-static-analysys", CORTEX_KEYS.iter().copied()),
            Some("x-cortex-static-analysis")
        );
        assert_eq!(
            suggest("codecov.io/rep", ANNOTATION_KEYS.iter().copied()),
            Some("codecov.io/repo")
        );
        assert_eq!(
            suggest("backstage.io/techdocs-ref", ANNOTATION_KEYS.iter().copied()),
            None
        );
    }
}

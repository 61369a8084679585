//! Catalog loading over real files: the sample catalog, both formats, bad input.

use std::path::{Path, PathBuf};

use rubric::catalog::{Catalog, DescriptorFormat, GitProvider, MappedBy};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("entities")
}

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/catalog")
        .join(name)
}

fn mapping(c: &Catalog, tag: &str) -> String {
    let e = c.get(tag).unwrap_or_else(|| panic!("no entity {tag}"));
    match (&e.codecov, &e.unmapped_reason) {
        (Some(p), None) => format!("{:?} {}", p.mapped_by, p.describe()),
        (None, Some(r)) => format!("unmapped: {r}"),
        other => panic!("{tag}: inconsistent mapping {other:?}"),
    }
}

#[test]
fn sample_catalog_loads_nine_entities_mapped() {
    let c = Catalog::load(&sample());
    assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
    let mut tags: Vec<&str> = c.entities.iter().map(|e| e.tag.as_str()).collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        [
            "billing-core",
            "checkout-web",
            "identity",
            "ledger",
            "legacy-reports",
            "notifications",
            "payments-api",
            "payments-domain",
            "search-indexer"
        ]
    );
    let table: Vec<String> = [
        "payments-api",
        "ledger",
        "payments-domain",
        "billing-core",
        "identity",
        "legacy-reports",
        "checkout-web",
        "notifications",
        "search-indexer",
    ]
    .iter()
    .map(|t| format!("{t}: {}", mapping(&c, t)))
    .collect();
    assert_eq!(
        table,
        [
            "payments-api: Descriptor github/acme/payments-api",
            "ledger: Discovery github/acme/ledger",
            "payments-domain: unmapped: no repository",
            "billing-core: Descriptor github/acme/platform, flag billing",
            "identity: Descriptor github/acme/platform, flag identity",
            "legacy-reports: unmapped: no repository",
            "checkout-web: Annotation github/acme/checkout-web",
            "notifications: Discovery github/acme/notifications",
            "search-indexer: Discovery gitlab/acme/search-indexer",
        ]
    );
}

#[test]
fn sample_entities_keep_every_field() {
    let c = Catalog::load(&sample());
    let p = c.get("payments-api").unwrap();
    assert_eq!(p.format, DescriptorFormat::Cortex);
    assert_eq!(p.name, "Payments API");
    assert_eq!(p.entity_type, "service");
    assert_eq!(p.groups, ["payments", "tier1"]);
    assert_eq!(p.owners.len(), 2);
    assert_eq!(
        (p.owners[0].kind.as_str(), p.owners[0].name.as_str()),
        ("group", "acme/payments-team")
    );
    assert_eq!(p.owners[0].provider.as_deref(), Some("GITHUB"));
    assert_eq!(
        (p.owners[1].kind.as_str(), p.owners[1].name.as_str()),
        ("slack", "payments-oncall")
    );
    assert_eq!(p.parents, ["payments-domain"]);
    assert_eq!(p.dependencies, ["ledger"]);
    assert_eq!(p.links[0].url, "https://runbooks.acme.example/payments-api");
    assert_eq!(p.custom["openVulns"], serde_json::json!(0));
    assert_eq!(p.custom["hasCodeowners"], serde_json::json!(true));
    assert_eq!(p.custom["tier"], serde_json::json!("tier1"));
    assert_eq!(p.descriptor["info"]["x-cortex-tag"], "payments-api");
    let r = p.repository.as_ref().unwrap();
    assert_eq!(
        (
            r.provider,
            r.host.as_str(),
            r.owner.as_str(),
            r.name.as_str()
        ),
        (GitProvider::Github, "github.com", "acme", "payments-api")
    );
    assert_eq!(p.source.file, Path::new("payments/cortex.yaml"));
    assert_eq!((p.source.line, p.source.column), (2, 1));

    let b = c.get("billing-core").unwrap();
    assert_eq!(
        b.repository.as_ref().unwrap().basepath.as_deref(),
        Some("packages/billing")
    );
    let id = c.get("identity").unwrap();
    assert_eq!(id.source.file, Path::new("platform/cortex.yaml"));
    assert_eq!(id.source.line, 26);

    let w = c.get("component:default/checkout-web").unwrap();
    assert_eq!(w.tag, "checkout-web");
    assert_eq!(w.format, DescriptorFormat::Backstage);
    assert_eq!(w.kind, "Component");
    assert_eq!(w.entity_type, "website");
    assert_eq!(w.lifecycle.as_deref(), Some("production"));
    assert_eq!(w.groups, ["web", "payments"]);
    assert_eq!(
        (w.owners[0].kind.as_str(), w.owners[0].name.as_str()),
        ("group", "web-team")
    );
    assert_eq!(w.parents, ["payments-domain"]);
    assert_eq!(w.dependencies, ["payments-api"]);
    assert_eq!(w.codecov.as_ref().unwrap().mapped_by, MappedBy::Annotation);
    let s = c.get("search-indexer").unwrap();
    assert_eq!(
        (s.owners[0].kind.as_str(), s.owners[0].name.as_str()),
        ("user", "jdoe")
    );
    assert_eq!(s.source.line, 34);
}

fn messages(c: &Catalog) -> Vec<String> {
    c.diagnostics
        .iter()
        .map(|d| {
            let file = d.file.as_ref().map(|f| {
                f.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(f)
                    .display()
                    .to_string()
            });
            format!(
                "{:?} {}:{}:{} {}",
                d.severity,
                file.unwrap_or_default(),
                d.line,
                d.column,
                d.message
            )
        })
        .collect()
}

#[test]
fn malformed_file_next_to_good_ones_leaves_every_good_entity_mapped() {
    // `outside/extra.yaml`, named by a Location target, is read because its folder is allowed.
    let c = Catalog::load_with_roots(&fixtures("mixed"), &[fixtures("outside")], &[]);
    let msgs = messages(&c);
    let mut tags: Vec<&str> = c.entities.iter().map(|e| e.tag.as_str()).collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        ["extra", "flag-no-provider", "ghe-service", "good"],
        "{msgs:#?}"
    );

    // The malformed file: one error with file, line, column and the offending line.
    let broken: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.file.as_ref().is_some_and(|f| f.ends_with("broken.yaml")))
        .collect();
    assert_eq!(broken.len(), 1, "{msgs:#?}");
    let b = broken[0];
    assert!(b.is_error());
    assert!(b.line >= 4 && b.column >= 1, "{b}");
    assert!(b.source_line.is_some(), "{b}");
    assert!(b.message.starts_with("malformed YAML"), "{b}");
    let text = b.to_string();
    assert!(text.contains("broken.yaml:"), "{text}");
    assert!(text.contains(" | "), "{text}");

    assert_eq!(mapping(&c, "good"), "Discovery github/acme/good");
    assert_eq!(
        mapping(&c, "ghe-service"),
        "Discovery github_enterprise/platform/ghe-service"
    );
    assert_eq!(
        mapping(&c, "flag-no-provider"),
        "unmapped: flag without provider"
    );
    assert_eq!(
        mapping(&c, "extra"),
        "unmapped: flag without owner, repo, provider"
    );
    assert!(c.has_errors());
}

#[test]
fn yaml_types_are_kept_as_yaml_1_2_gives_them() {
    let c = Catalog::load(&fixtures("mixed"));
    let g = c.get("good").unwrap();
    assert_eq!(
        serde_json::Value::Object(g.custom.clone()),
        serde_json::json!({
            "enabled": "no", "mode": "0755", "ratio": 0.75, "count": 12, "on": true,
            "nothing": null, "list": ["a", 1]
        })
    );
    assert_eq!(
        g.descriptor["info"]["x-cortex-custom-metadata"]["enabled"],
        "no"
    );
}

#[test]
fn every_problem_is_reported_at_its_place() {
    let c = Catalog::load(&fixtures("mixed"));
    let msgs = messages(&c);
    let has = |needle: &str| msgs.iter().any(|m| m.contains(needle));
    for needle in [
        "Error tests/fixtures/catalog/mixed/flag.yml:11:13 codecov block: flag `web` is set but no provider is given",
        "Error tests/fixtures/catalog/mixed/flag.yml:14:1 Cortex descriptor has no `info.x-cortex-tag`",
        "Error tests/fixtures/catalog/mixed/flag.yml:22:7 a `group` owner has no `name`",
        "Warning tests/fixtures/catalog/mixed/flag.yml:28:3 unknown Cortex key `x-cortex-static-analysys`",
        "Error tests/fixtures/catalog/mixed/flag.yml:31:20 `x-cortex-groups` must be a list",
        "Warning tests/fixtures/catalog/mixed/team/catalog-info.yaml:7:5 unknown annotation `codecov.io/rpeo`",
        "Error tests/fixtures/catalog/mixed/team/catalog-info.yaml:12:1 duplicate tag `good`: also defined at",
        "Error tests/fixtures/catalog/mixed/team/catalog-info.yaml:26:7 Location target `./does-not-exist.yaml` does not exist",
        "Error tests/fixtures/catalog/mixed/team/catalog-info.yaml:25:7 Location target `../../outside/extra.yaml` is outside the catalog folder (it leads to ",
        "Warning tests/fixtures/catalog/mixed/notes.yaml:2:1 document is neither a Cortex descriptor nor a Backstage entity",
    ] {
        assert!(has(needle), "missing {needle:?} in {msgs:#?}");
    }
    let hint = |needle: &str| {
        c.diagnostics
            .iter()
            .find(|d| d.message.contains(needle))
            .and_then(|d| d.hint.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        hint("x-cortex-static-analysys"),
        "did you mean x-cortex-static-analysis?"
    );
    assert_eq!(hint("codecov.io/rpeo"), "did you mean codecov.io/repo?");
    assert!(hint("no `info.x-cortex-tag`").contains("did you mean x-cortex-tag?"));
    // Every diagnostic with a line carries its source line for the caret.
    for d in &c.diagnostics {
        if d.line > 0 {
            assert!(d.source_line.is_some(), "{d}");
        }
    }
}

#[test]
fn a_missing_folder_is_one_error() {
    let c = Catalog::load(Path::new("/definitely/not/here"));
    assert!(c.entities.is_empty());
    assert_eq!(c.diagnostics.len(), 1);
    assert!(c.diagnostics[0].is_error());
    assert!(
        c.diagnostics[0]
            .message
            .contains("cannot read the catalog folder")
    );
}

#[test]
fn the_fields_mapping_used_keep_their_positions() {
    let c = Catalog::load(&sample());
    let at = |l: &rubric::catalog::SourceLocation| {
        let f = l
            .file
            .strip_prefix(sample())
            .unwrap_or(&l.file)
            .display()
            .to_string();
        format!("{f}:{}:{}", l.line, l.column)
    };
    let b = c.mapping_sources("billing-core").unwrap();
    assert_eq!(at(b.codecov.as_ref().unwrap()), "platform/cortex.yaml:16:5");
    assert_eq!(at(&b.fields["flag"]), "platform/cortex.yaml:20:13");
    assert_eq!(at(&b.fields["repo"]), "platform/cortex.yaml:18:13");
    assert_eq!(
        at(b.repository.as_ref().unwrap()),
        "platform/cortex.yaml:13:19"
    );
    let w = c.mapping_sources("component:default/checkout-web").unwrap();
    assert_eq!(at(&w.fields["repo"]), "web/catalog-info.yaml:12:22");
    assert_eq!(
        at(w.repository.as_ref().unwrap()),
        "web/catalog-info.yaml:13:30"
    );
    let l = c.mapping_sources("ledger").unwrap();
    assert!(l.codecov.is_none() && l.fields.is_empty());
    assert!(l.repository.is_some());
    assert!(
        c.mapping_sources("legacy-reports")
            .unwrap()
            .repository
            .is_none()
    );
}

#[test]
fn hostile_input_never_panics_and_each_file_is_one_problem_at_most() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let bomb = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n";
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("binary.yaml", vec![0xff, 0xfe, 0x00, 0x41, 0x80]),
        ("list.yaml", b"- a\n- b\n".to_vec()),
        ("scalar.yaml", b"just text\n".to_vec()),
        ("deep.yaml", deep.into_bytes()),
        ("bomb.yaml", bomb.as_bytes().to_vec()),
        ("tabs.yaml", b"openapi: 3.0.1\ninfo:\n\tx-cortex-tag: t\n".to_vec()),
        ("dupkey.yaml", b"openapi: 3.0.1\ninfo:\n  x-cortex-tag: a\n  x-cortex-tag: b\n".to_vec()),
        ("nulls.yaml", b"openapi: 3.0.1\ninfo:\n  x-cortex-tag: ok\n  x-cortex-owners: ~\n  x-cortex-git: ~\n  x-cortex-groups: [~]\n".to_vec()),
        ("weird-types.yml", b"apiVersion: 3\nkind: [Component]\nmetadata: 7\n".to_vec()),
        ("bom.yaml", "\u{feff}openapi: 3.0.1\ninfo:\n  x-cortex-tag: bom\n".as_bytes().to_vec()),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let c = Catalog::load(dir.path());
    let tags: Vec<&str> = c.entities.iter().map(|e| e.tag.as_str()).collect();
    assert_eq!(tags, ["bom"], "{:#?}", c.diagnostics);
    for (name, _) in &files {
        let n = c
            .diagnostics
            .iter()
            .filter(|d| d.file.as_ref().is_some_and(|f| f.ends_with(name)) && d.is_error())
            .count();
        let expected = usize::from(*name != "bom.yaml");
        assert!(n >= expected, "{name}: {n} errors\n{:#?}", c.diagnostics);
    }
    let text: String = c.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(text.contains("not valid UTF-8"), "{text}");
}

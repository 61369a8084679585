//! The catalog as a provider: facts answered from the entity and its catalog (`entity.tag()`,
//! `custom("k")`, `git`, ...), source [`Source::Catalog`]. They are in memory, so they are
//! also answered during evaluation, with computed arguments (`hasGroup(g)` in a lambda).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::Provider;
use crate::catalog::{Catalog, Entity};
use crate::facts::{Fact, FactKey, Source};
use crate::value::Value;

/// The catalog provider.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatalogProvider;

impl Provider for CatalogProvider {
    fn source(&self) -> Source {
        Source::Catalog
    }

    fn answer<'a>(
        &'a self,
        key: &'a FactKey,
        entity: &'a Entity,
        catalog: &'a Catalog,
    ) -> BoxFuture<'a, Fact> {
        Box::pin(std::future::ready(resolve(key, entity, catalog)))
    }

    fn lookup(&self, key: &FactKey, entity: &Entity, catalog: &Catalog) -> Option<Fact> {
        Some(resolve(key, entity, catalog))
    }
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(Arc::new(
        fields
            .into_iter()
            .map(|(k, v)| (Arc::from(k), v))
            .collect::<BTreeMap<_, _>>(),
    ))
}

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> Value {
    Value::List(items.into_iter().map(Value::string).collect())
}

/// Another entity as a value: `{tag, name, type}` (just `{tag}` when it is not in the catalog).
fn entity_ref(tag: &str, catalog: &Catalog) -> Value {
    match catalog.get(tag) {
        Some(e) => object([
            ("tag", Value::string(&e.tag)),
            ("name", Value::string(&e.name)),
            ("type", Value::string(&e.entity_type)),
        ]),
        None => object([
            ("tag", Value::string(tag)),
            ("name", Value::string(tag)),
            ("type", Value::Null),
        ]),
    }
}

/// Resolves a [`FactKey`] whose source is `catalog` from the entity and its catalog. Unknown
/// keys give an error fact (never a panic).
pub fn resolve(key: &FactKey, entity: &Entity, catalog: &Catalog) -> Fact {
    let origin = || format!("catalog entity {}", entity.tag);
    match (key.namespace.as_str(), key.function.as_str()) {
        ("entity", "tag") => Fact::ok(Value::string(&entity.tag)),
        ("entity", "name") => Fact::ok(Value::string(&entity.name)),
        ("entity", "type") => Fact::ok(Value::string(&entity.entity_type)),
        ("entity", "description") => Fact::ok(entity.description.as_deref().map(Value::string)),
        ("entity", "descriptor") => Fact::ok(Value::from_json(&entity.descriptor)),
        ("entity", "groups") => Fact::ok(strings(&entity.groups)),
        ("entity", "parents") => Fact::ok(Value::List(
            entity
                .parents
                .iter()
                .map(|p| entity_ref(p, catalog))
                .collect(),
        )),
        ("", "groups") => Fact::ok(Value::List(
            entity
                .groups
                .iter()
                .map(|g| object([("name", Value::string(g))]))
                .collect(),
        )),
        ("", "hasGroup") => match key.arg_str("group") {
            Some(g) => Fact::ok(entity.groups.contains(&g)),
            None => Fact::error("hasGroup needs a string group name"),
        },
        ("", "custom") => match key.arg_str("key") {
            Some(k) => match entity.custom.get(&k) {
                Some(v) => Fact::ok(Value::from_json(v)).from_origin(origin()),
                None => Fact::no_data(format!("entity {} has no custom key {k:?}", entity.tag)),
            },
            None => Fact::error("custom needs a string key"),
        },
        ("", "links") => {
            let kind = key.arg_str("type");
            Fact::ok(Value::List(
                entity
                    .links
                    .iter()
                    .filter(|l| {
                        kind.as_deref()
                            .is_none_or(|k| l.kind.eq_ignore_ascii_case(k))
                    })
                    .map(|l| {
                        object([
                            ("name", Value::string(&l.name)),
                            ("type", Value::string(&l.kind)),
                            ("url", Value::string(&l.url)),
                        ])
                    })
                    .collect(),
            ))
        }
        ("ownership", "") => {
            if entity.owners.is_empty() {
                Fact::no_data(format!("entity {} has no owners", entity.tag))
            } else {
                Fact::ok(object([("owners", owners(entity, |_| true))]))
            }
        }
        ("ownership", "teams") => Fact::ok(owners(entity, |k| k == "group" || k == "team")),
        ("ownership", "allOwners") => Fact::ok(owners(entity, |_| true)),
        ("dependencies", "out") => Fact::ok(Value::List(
            entity
                .dependencies
                .iter()
                .map(|d| entity_ref(d, catalog))
                .collect(),
        )),
        ("dependencies", "in") => Fact::ok(Value::List(
            catalog
                .entities
                .iter()
                .filter(|e| {
                    e.dependencies
                        .iter()
                        .any(|d| *d == entity.tag || Some(d) == entity.backstage_ref.as_ref())
                })
                .map(|e| entity_ref(&e.tag, catalog))
                .collect(),
        )),
        ("git", f) => match &entity.repository {
            None => Fact::no_data(format!("entity {} has no git repository", entity.tag)),
            Some(r) => {
                let provider = serde_json::to_value(r.provider)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let repository = format!("{}/{}", r.owner, r.name);
                let origin = r.url_path();
                match f {
                    "" => Fact::ok(object([
                        ("provider", Value::string(&provider)),
                        ("host", Value::string(&r.host)),
                        ("owner", Value::string(&r.owner)),
                        ("name", Value::string(&r.name)),
                        ("repository", Value::string(&repository)),
                        ("basepath", r.basepath.as_deref().map(Value::string).into()),
                    ])),
                    "repository" => Fact::ok(Value::string(&repository)),
                    "provider" => Fact::ok(Value::string(&provider)),
                    _ => return Fact::error(format!("data source git is not configured ({key})")),
                }
                .from_origin(origin)
            }
        },
        _ => Fact::error(format!("the catalog has no fact {key}")),
    }
}

fn owners(entity: &Entity, keep: impl Fn(&str) -> bool) -> Value {
    Value::List(
        entity
            .owners
            .iter()
            .filter(|o| keep(&o.kind))
            .map(|o| {
                object([
                    ("name", Value::string(&o.name)),
                    ("type", Value::string(&o.kind)),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Owner;
    use serde_json::json;

    pub(crate) fn entity(tag: &str) -> Entity {
        Entity {
            groups: vec!["payments".into()],
            owners: vec![Owner {
                kind: "group".into(),
                name: "acme/pay".into(),
                provider: None,
            }],
            custom: json!({"tier": "tier1", "openVulns": 2, "cost": {"compute": 4.5}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            descriptor: json!({"info": {"x-cortex-tag": tag}}),
            ..Entity::new(tag)
        }
    }

    #[test]
    fn catalog_keys_resolve_from_the_entity() {
        let mut api = entity("api");
        api.dependencies = vec!["db".into()];
        let mut db = entity("db");
        db.entity_type = "database".into();
        let cat = Catalog::from_entities(vec![api.clone(), db.clone()], vec![]);
        let k = |ns: &str, f: &str| FactKey::new("catalog", ns, f);
        let cases = [
            (k("entity", "tag"), &api, Fact::ok("api")),
            (k("entity", "type"), &db, Fact::ok("database")),
            (k("entity", "description"), &api, Fact::ok(Value::Null)),
            (
                k("", "hasGroup").with_arg("group", json!("payments")),
                &api,
                Fact::ok(true),
            ),
            (
                k("", "hasGroup").with_arg("group", json!("x")),
                &api,
                Fact::ok(false),
            ),
            (
                k("", "custom").with_arg("key", json!("openVulns")),
                &api,
                Fact::ok(2.0).from_origin("catalog entity api"),
            ),
            (
                k("", "custom").with_arg("key", json!("nope")),
                &api,
                Fact::no_data("entity api has no custom key \"nope\""),
            ),
            (
                k("git", ""),
                &api,
                Fact::no_data("entity api has no git repository"),
            ),
            (
                k("", "bogus"),
                &api,
                Fact::error("the catalog has no fact bogus()"),
            ),
        ];
        for (key, e, want) in cases {
            assert_eq!(resolve(&key, e, &cat), want, "{key}");
        }
        let deps_in = resolve(&k("dependencies", "in"), &db, &cat).value;
        assert_eq!(
            deps_in.to_json(),
            json!([{"tag": "api", "name": "api", "type": "service"}])
        );
    }
}

//! Explanations: failure messages rendered with handlebars (`{{entity.tag}}`,
//! `{{context.evaluation.captures.code-cov}}`), strict, unescaped (they are markdown).

use std::collections::BTreeMap;

use handlebars::{Context, Handlebars, RenderErrorReason};
use serde::Serialize;
use serde_json::json;

use crate::catalog::{
    CodecovProject, DescriptorFormat, Entity, Link, Owner, Repository, SourceLocation,
};
use crate::value::Value;

/// The failure-message templates of one scorecard, compiled once.
#[derive(Clone, Debug)]
pub struct FailureTemplates {
    registry: Handlebars<'static>,
}

/// A template that does not parse: the reason and its 1-based line and column in the template.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateProblem {
    /// What is wrong.
    pub message: String,
    /// Line and column inside the template, when known.
    pub position: Option<(usize, usize)>,
}

impl Default for FailureTemplates {
    fn default() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        FailureTemplates { registry }
    }
}

impl FailureTemplates {
    /// Compiles `template` under `name`.
    pub fn add(&mut self, name: &str, template: &str) -> Result<(), TemplateProblem> {
        self.registry
            .register_template_string(name, template)
            .map_err(|e| TemplateProblem {
                message: e.reason().to_string(),
                position: e.pos(),
            })
    }

    /// Whether a template was compiled under `name`.
    pub fn has(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }

    /// The messages of one entity: the entity is made template data once, when its first
    /// message is rendered, and shared by the rest.
    pub fn for_entity<'a>(&'a self, entity: &'a Entity) -> EntityMessages<'a> {
        EntityMessages {
            templates: self,
            entity,
            context: None,
        }
    }

    /// Renders template `name` for `entity` with the rule's captures (see
    /// [`EntityMessages::render`]).
    pub fn render(
        &self,
        name: &str,
        entity: &Entity,
        captures: &BTreeMap<String, Value>,
    ) -> Result<String, String> {
        self.for_entity(entity).render(name, captures)
    }
}

/// The failure messages of one entity ([`FailureTemplates::for_entity`]).
pub struct EntityMessages<'a> {
    templates: &'a FailureTemplates,
    entity: &'a Entity,
    /// The template data ([`template_data`]), made at the first message.
    context: Option<Context>,
}

impl EntityMessages<'_> {
    /// Renders template `name` with the rule's captures. A value that is missing
    /// (`{{entity.custom.tier}}` on an entity without `tier`) or null (a capture of missing data)
    /// renders as "unknown", and the message ends by naming what was missing.
    pub fn render(
        &mut self,
        name: &str,
        captures: &BTreeMap<String, Value>,
    ) -> Result<String, String> {
        let registry = &self.templates.registry;
        let entity = self.entity;
        let context = self
            .context
            .get_or_insert_with(|| Context::from(template_data(entity, &BTreeMap::new())));
        if let Some(at) = context.data_mut().pointer_mut(CAPTURES) {
            *at = captures_data(captures);
        }
        let mut missing: Vec<String> = captures
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| format!("context.evaluation.captures.{k}"))
            .collect();
        // Strict mode names one missing variable per try: fill it in and try again, a bounded
        // number of times (each try fills a different path, or the loop ends). The filled-in
        // values are this message's alone, so they go into a copy of the shared data.
        let mut filled: Option<Context> = None;
        loop {
            match registry.render_with_context(name, filled.as_ref().unwrap_or(context)) {
                Ok(text) if missing.is_empty() => return Ok(text),
                Ok(text) => return Ok(format!("{text} (missing: {})", missing.join(", "))),
                Err(e) => match e.reason() {
                    RenderErrorReason::MissingVariable(Some(path))
                        if missing.len() < MAX_MISSING
                            && !missing.contains(path)
                            && fill_in(
                                filled.get_or_insert_with(|| context.clone()).data_mut(),
                                path,
                            ) =>
                    {
                        missing.push(path.clone());
                    }
                    reason => return Err(format!("failureMessage cannot be rendered: {reason}")),
                },
            }
        }
    }
}

/// Where the captures are in the template data.
const CAPTURES: &str = "/context/evaluation/captures";

/// What a missing or null value renders as in a failure message.
const UNKNOWN: &str = "unknown";

/// How many missing values one message may name before rendering gives up.
const MAX_MISSING: usize = 16;

/// Sets the value at handlebars `path` (`entity.custom.tier`, `a.[0]`) to [`UNKNOWN`], creating
/// objects on the way; false when a step is not an object (a list, a string), so it cannot be.
fn fill_in(data: &mut serde_json::Value, path: &str) -> bool {
    let mut at = data;
    let mut steps = path.split('.').peekable();
    while let Some(step) = steps.next() {
        let step = step.trim_start_matches('[').trim_end_matches(']');
        let Some(map) = at.as_object_mut() else {
            return false;
        };
        if steps.peek().is_none() {
            map.insert(step.to_string(), json!(UNKNOWN));
            return true;
        }
        at = map.entry(step).or_insert_with(|| json!({}));
    }
    false
}

/// What a template sees: `entity` (tag, name, type, groups, custom, ...: every field but the
/// raw descriptor) and `context.evaluation.captures` (null captures as "unknown").
pub fn template_data(entity: &Entity, captures: &BTreeMap<String, Value>) -> serde_json::Value {
    let entity_json = serde_json::to_value(TemplateEntity::from(entity))
        .unwrap_or_else(|_| json!({"tag": entity.tag}));
    json!({"entity": entity_json, "context": {"evaluation": {"captures": captures_data(captures)}}})
}

/// The captures as template data: null ones as "unknown".
fn captures_data(captures: &BTreeMap<String, Value>) -> serde_json::Value {
    captures
        .iter()
        .map(|(k, v)| {
            let v = if v.is_null() {
                json!(UNKNOWN)
            } else {
                v.to_json()
            };
            (k.clone(), v)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// An entity as templates see it: [`Entity`]'s fields and names, borrowed, without the raw
/// descriptor (often most of an entity, and not for messages). The order is the one templates
/// have always seen (`{{#each entity}}`): the entity's, with `source` where the descriptor was
/// (it was removed from the entity's JSON by swapping the last field in).
#[derive(Serialize)]
struct TemplateEntity<'a> {
    tag: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backstage_ref: &'a Option<String>,
    name: &'a str,
    format: DescriptorFormat,
    kind: &'a str,
    #[serde(rename = "type")]
    entity_type: &'a str,
    description: &'a Option<String>,
    groups: &'a [String],
    owners: &'a [Owner],
    links: &'a [Link],
    dependencies: &'a [String],
    parents: &'a [String],
    lifecycle: &'a Option<String>,
    custom: &'a serde_json::Map<String, serde_json::Value>,
    source: &'a SourceLocation,
    repository: &'a Option<Repository>,
    codecov: &'a Option<CodecovProject>,
    unmapped_reason: &'a Option<String>,
    mapping_failed: bool,
}

impl<'a> From<&'a Entity> for TemplateEntity<'a> {
    fn from(entity: &'a Entity) -> Self {
        // Every field named: a field added to `Entity` does not compile here until it is
        // given to templates (or left out on purpose, as the descriptor is).
        let Entity {
            tag,
            backstage_ref,
            name,
            format,
            kind,
            entity_type,
            description,
            groups,
            owners,
            links,
            dependencies,
            parents,
            lifecycle,
            custom,
            descriptor: _,
            repository,
            codecov,
            unmapped_reason,
            mapping_failed,
            source,
        } = entity;
        TemplateEntity {
            tag,
            backstage_ref,
            name,
            format: *format,
            kind,
            entity_type,
            description,
            groups,
            owners,
            links,
            dependencies,
            parents,
            lifecycle,
            custom,
            source,
            repository,
            codecov,
            unmapped_reason,
            mapping_failed: *mapping_failed,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal entity for tests.
    pub fn entity(tag: &str) -> Entity {
        Entity {
            groups: vec!["payments".into()],
            ..Entity::new(tag)
        }
    }

    #[test]
    fn renders_entity_and_hyphenated_captures_unescaped() {
        let mut t = FailureTemplates::default();
        t.add(
            "r0",
            "{{entity.tag}} is at {{context.evaluation.captures.code-cov}}% <b>&</b>",
        )
        .unwrap();
        let captures = BTreeMap::from([("code-cov".to_string(), Value::Number(42.5))]);
        assert_eq!(
            t.render("r0", &entity("api"), &captures).unwrap(),
            "api is at 42.5% <b>&</b>"
        );
    }

    #[test]
    fn missing_and_null_values_render_as_unknown_and_are_named() {
        let mut t = FailureTemplates::default();
        t.add(
            "r0",
            "{{entity.tag}} (tier {{entity.custom.tier}}) is at {{context.evaluation.captures.cov}}%, \
             owner {{entity.owner.name}}",
        )
        .unwrap();
        let captures = BTreeMap::from([("cov".to_string(), Value::Null)]);
        assert_eq!(
            t.render("r0", &entity("api"), &captures).unwrap(),
            "api (tier unknown) is at unknown%, owner unknown (missing: \
             context.evaluation.captures.cov, entity.custom.tier, entity.owner.name)"
        );
        t.add("r1", "{{entity.tag}} is fine").unwrap();
        assert_eq!(
            t.render("r1", &entity("api"), &BTreeMap::new()).unwrap(),
            "api is fine"
        );
    }

    #[test]
    fn a_path_through_a_list_or_text_cannot_be_filled_and_is_reported() {
        let mut t = FailureTemplates::default();
        t.add("r0", "{{entity.tag.length}}").unwrap();
        let err = t
            .render("r0", &entity("api"), &BTreeMap::new())
            .unwrap_err();
        assert!(
            err.starts_with("failureMessage cannot be rendered:"),
            "{err}"
        );
        assert!(err.contains("entity.tag.length"), "{err}");
    }

    #[test]
    fn templates_see_every_field_of_the_entity_but_its_descriptor() {
        use crate::catalog::{GitProvider, MappedBy};
        let full = Entity {
            backstage_ref: Some("component:default/api".into()),
            description: Some("The API".into()),
            owners: vec![Owner {
                kind: "group".into(),
                name: "acme/payments".into(),
                provider: Some("GITHUB".into()),
            }],
            links: vec![Link {
                name: "Runbook".into(),
                kind: "runbook".into(),
                url: "https://runbooks.example/api".into(),
            }],
            dependencies: vec!["db".into()],
            parents: vec!["payments".into()],
            lifecycle: Some("production".into()),
            custom: json!({"tier": "tier1", "oncall": {"rota": ["a", "b"]}})
                .as_object()
                .cloned()
                .unwrap(),
            descriptor: json!({"openapi": "3.0.1", "info": {"x-cortex-tag": "api"}}),
            repository: Some(Repository {
                provider: GitProvider::Github,
                host: "github.com".into(),
                owner: "acme".into(),
                name: "api".into(),
                basepath: Some("svc".into()),
                alias: None,
            }),
            codecov: Some(CodecovProject {
                service: "github".into(),
                owner: "acme".into(),
                repo: "api".into(),
                flag: Some("unit".into()),
                account: None,
                mapped_by: MappedBy::Descriptor,
            }),
            unmapped_reason: None,
            mapping_failed: true,
            source: SourceLocation {
                file: "api/cortex.yaml".into(),
                line: 2,
                column: 1,
            },
            ..entity("api")
        };
        // What templates were given before: the entity's JSON less its descriptor.
        let mut expected = serde_json::to_value(&full).unwrap();
        expected.as_object_mut().unwrap().remove("descriptor");
        let data = template_data(&full, &BTreeMap::new());
        // The same fields in the same order (`{{#each entity}}` walks them in order).
        assert_eq!(
            serde_json::to_string(&data["entity"]).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }

    #[test]
    fn the_messages_of_one_entity_do_not_share_captures_or_filled_in_values() {
        let mut t = FailureTemplates::default();
        t.add(
            "r0",
            "{{entity.custom.tier}} at {{context.evaluation.captures.cov}}",
        )
        .unwrap();
        t.add(
            "r1",
            "{{entity.custom.tier}} at {{context.evaluation.captures.cov}}",
        )
        .unwrap();
        let api = entity("api");
        let mut messages = t.for_entity(&api);
        let cov = BTreeMap::from([("cov".to_string(), Value::Number(42.0))]);
        assert_eq!(
            messages.render("r0", &cov).unwrap(),
            "unknown at 42 (missing: entity.custom.tier)"
        );
        assert_eq!(
            messages.render("r1", &BTreeMap::new()).unwrap(),
            "unknown at unknown (missing: entity.custom.tier, context.evaluation.captures.cov)"
        );
        assert_eq!(
            messages.render("r0", &cov).unwrap(),
            t.render("r0", &api, &cov).unwrap()
        );
    }

    #[test]
    fn bad_syntax_is_reported_with_its_position() {
        let mut t = FailureTemplates::default();
        let problem = t.add("r1", "line\n{{#if x}} no end").unwrap_err();
        assert!(problem.position.is_some(), "{problem:?}");
        assert!(!t.has("r1"));
    }
}

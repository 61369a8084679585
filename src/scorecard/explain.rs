//! Explanations: failure messages rendered with handlebars (`{{entity.tag}}`,
//! `{{context.evaluation.captures.code-cov}}`), strict, unescaped (they are markdown).

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::{HelperTemplate, Parameter, TemplateElement};
use handlebars::{Context, Handlebars, Path, PathSeg, RenderErrorReason, Template};
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
    /// What the templates read of the entity: the template data holds that alone.
    reads: EntityFields,
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
        FailureTemplates {
            registry,
            reads: EntityFields::default(),
        }
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
            })?;
        if let Some(compiled) = self.registry.get_template(name) {
            self.reads.template(compiled, true);
        }
        Ok(())
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
            .get_or_insert_with(|| Context::from(data(entity, &self.templates.reads, None)));
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
    data(entity, &EntityFields::whole(), Some(captures))
}

/// The template data with the entity's fields that `reads` names (the rest no template of
/// the scorecard can see), and `captures` (none: an empty object).
fn data(
    entity: &Entity,
    reads: &EntityFields,
    captures: Option<&BTreeMap<String, Value>>,
) -> serde_json::Value {
    let entity_json = serde_json::to_value(TemplateEntity::from(entity).only(reads))
        .unwrap_or_else(|_| json!({"tag": entity.tag}));
    let captures = captures.map_or_else(|| json!({}), captures_data);
    json!({"entity": entity_json, "context": {"evaluation": {"captures": captures}}})
}

/// The fields of the entity that failure templates can read: those they name
/// (`{{entity.tag}}`, `{{#each entity.custom}}`), or all of them when a template may see the
/// entity whole (`{{#each entity}}`, `{{this}}`, `@root`, `../`, partials, decorators, block
/// helpers other than `if`, `unless`, `each` and `with`). Building only those for each entity
/// is most of the cost of a failure message saved; what a template renders is the same, since
/// nothing it can reach is left out.
#[derive(Clone, Debug, Default)]
struct EntityFields {
    whole: bool,
    named: BTreeSet<String>,
}

impl EntityFields {
    fn whole() -> EntityFields {
        EntityFields {
            whole: true,
            named: BTreeSet::new(),
        }
    }

    fn has(&self, field: &str) -> bool {
        self.whole || self.named.contains(field)
    }

    /// Takes note of what `template` reads; `at_root` while its data is the root of the
    /// template data (`entity` and `context`), not a part of it (inside `each` or `with`).
    fn template(&mut self, template: &Template, at_root: bool) {
        for element in &template.elements {
            self.element(element, at_root);
        }
    }

    fn element(&mut self, element: &TemplateElement, at_root: bool) {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(h)
            | TemplateElement::HtmlExpression(h)
            | TemplateElement::HelperBlock(h) => self.helper(h, at_root),
            // Partials and decorators can reach any data.
            _ => self.whole = true,
        }
    }

    fn helper(&mut self, h: &HelperTemplate, at_root: bool) {
        // A helper's name read as a path is harmless: only `entity` and `this` matter.
        for p in std::iter::once(&h.name)
            .chain(&h.params)
            .chain(h.hash.values())
        {
            self.parameter(p, at_root);
        }
        if h.template.is_none() && h.inverse.is_none() {
            return;
        }
        let name = match &h.name {
            Parameter::Name(n) => n.as_str(),
            _ => "",
        };
        let inner_at_root = match name {
            "if" | "unless" => at_root,
            // Their block sees their first parameter: a part of the data (checked above).
            "each" | "with" => false,
            _ => {
                self.whole = true;
                at_root
            }
        };
        if let Some(t) = &h.template {
            self.template(t, inner_at_root);
        }
        if let Some(t) = &h.inverse {
            self.template(t, at_root);
        }
    }

    fn parameter(&mut self, p: &Parameter, at_root: bool) {
        match p {
            Parameter::Literal(_) | Parameter::Path(Path::Local(_)) => {}
            Parameter::Subexpression(s) => self.element(&s.element, at_root),
            Parameter::Name(n) => self.path(&[PathSeg::Named(n.clone())], at_root),
            Parameter::Path(Path::Relative((segs, _))) => self.path(segs, at_root),
            // A kind this version does not know: assume it may reach anything.
            _ => self.whole = true,
        }
    }

    fn path(&mut self, segs: &[PathSeg], at_root: bool) {
        let mut names = Vec::with_capacity(segs.len());
        for seg in segs {
            match seg {
                PathSeg::Named(n) => names.push(n.trim_start_matches('[').trim_end_matches(']')),
                // `@root`, `../`: out of the current data, anywhere.
                _ => {
                    self.whole = true;
                    return;
                }
            }
        }
        match names.as_slice() {
            // `this` (dropped from paths) at the root.
            [] if at_root => self.whole = true,
            ["entity"] => self.whole = true,
            ["entity", field, ..] => {
                self.named.insert((*field).to_string());
            }
            _ => {}
        }
    }
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
/// descriptor (often most of an entity, and not for messages), and of those only the ones in
/// `only` (see [`EntityFields`]). The order is the one templates have always seen
/// (`{{#each entity}}`): the entity's, with `source` where the descriptor was (it was removed
/// from the entity's JSON by swapping the last field in).
struct TemplateEntity<'a> {
    only: &'a EntityFields,
    tag: &'a str,
    backstage_ref: &'a Option<String>,
    name: &'a str,
    format: DescriptorFormat,
    kind: &'a str,
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
        static WHOLE: EntityFields = EntityFields {
            whole: true,
            named: BTreeSet::new(),
        };
        TemplateEntity {
            only: &WHOLE,
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

impl<'a> TemplateEntity<'a> {
    /// The entity with only the fields `reads` names.
    fn only(self, reads: &'a EntityFields) -> Self {
        TemplateEntity {
            only: reads,
            ..self
        }
    }
}

impl Serialize for TemplateEntity<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        macro_rules! fields {
            ($($name:literal: $value:expr),* $(,)?) => {
                $(if self.only.has($name) {
                    map.serialize_entry($name, $value)?;
                })*
            };
        }
        fields!("tag": self.tag);
        if self.backstage_ref.is_some() {
            fields!("backstage_ref": self.backstage_ref);
        }
        fields!(
            "name": self.name,
            "format": &self.format,
            "kind": self.kind,
            "type": self.entity_type,
            "description": self.description,
            "groups": self.groups,
            "owners": self.owners,
            "links": self.links,
            "dependencies": self.dependencies,
            "parents": self.parents,
            "lifecycle": self.lifecycle,
            "custom": self.custom,
            "source": self.source,
            "repository": self.repository,
            "codecov": self.codecov,
            "unmapped_reason": self.unmapped_reason,
            "mapping_failed": &self.mapping_failed,
        );
        map.end()
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

    /// Templates that read named fields, parts through `each` and `with`, and the entity whole
    /// in every way handlebars allows.
    const READING: &[&str] = &[
        "{{entity.tag}} in {{entity.custom.tier}}",
        "{{#each entity.groups}}{{this}}, {{/each}}",
        "{{#with entity.codecov}}{{owner}}/{{repo}} {{flag}}{{/with}}",
        "{{#if entity.lifecycle}}{{entity.lifecycle}}{{else}}{{entity.kind}}{{/if}}",
        "{{#each entity}}{{@key}} {{/each}}",
        "{{#each this}}{{#each this}}{{@key}} {{/each}}{{/each}}",
        "{{#with entity}}{{name}}{{/with}}",
        "{{lookup entity \"name\"}}",
        "{{#with context}}{{../entity.name}}{{/with}}",
        "{{@root.entity.name}} {{len entity.groups}}",
        "{{#each entity.groups}}{{@root.entity.name}}{{/each}}",
        "{{entity.[name]}} {{entity.missing.field}}",
        "{{#with (lookup this \"entity\")}}{{name}}{{/with}}",
        "{{#*inline \"p\"}}{{entity.tag}}{{/inline}}{{> p}}",
    ];

    #[test]
    fn templates_render_the_same_from_the_fields_they_read_as_from_the_whole_entity() {
        let mut api = entity("api");
        api.name = "The API".into();
        api.lifecycle = Some("production".into());
        api.custom = json!({"tier": "tier1"}).as_object().cloned().unwrap();
        for template in READING {
            let mut read = FailureTemplates::default();
            read.add("r", template).unwrap();
            let mut whole = read.clone();
            whole.reads = EntityFields::whole();
            let captures = BTreeMap::new();
            assert_eq!(
                read.render("r", &api, &captures),
                whole.render("r", &api, &captures),
                "{template}"
            );
        }
    }

    #[test]
    fn the_fields_templates_read_are_found_and_anything_wider_is_the_whole_entity() {
        let reads = |templates: &[&str]| {
            let mut t = FailureTemplates::default();
            for (i, template) in templates.iter().enumerate() {
                t.add(&i.to_string(), template).unwrap();
            }
            let named: Vec<String> = t.reads.named.iter().cloned().collect();
            (t.reads.whole, named)
        };
        assert_eq!(
            reads(&READING[..4]),
            (
                false,
                ["codecov", "custom", "groups", "kind", "lifecycle", "tag"]
                    .map(String::from)
                    .to_vec()
            )
        );
        for wide in READING[4..11].iter().chain(&READING[12..]) {
            assert!(reads(&[wide]).0, "{wide}");
        }
        assert_eq!(reads(&["no fields"]), (false, Vec::new()));
        let data = data(&entity("api"), &reads_of("{{entity.tag}}"), None);
        assert_eq!(
            data,
            json!({"entity": {"tag": "api"}, "context": {"evaluation": {"captures": {}}}})
        );
    }

    fn reads_of(template: &str) -> EntityFields {
        let mut t = FailureTemplates::default();
        t.add("r", template).unwrap();
        t.reads
    }

    #[test]
    fn bad_syntax_is_reported_with_its_position() {
        let mut t = FailureTemplates::default();
        let problem = t.add("r1", "line\n{{#if x}} no end").unwrap_err();
        assert!(problem.position.is_some(), "{problem:?}");
        assert!(!t.has("r1"));
    }
}

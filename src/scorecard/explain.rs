//! Explanations: failure messages rendered with handlebars (`{{entity.tag}}`,
//! `{{context.evaluation.captures.code-cov}}`), strict, unescaped (they are markdown).

use std::collections::BTreeMap;

use handlebars::{Handlebars, RenderErrorReason};
use serde_json::json;

use crate::catalog::Entity;
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

    /// Renders template `name` for `entity` with the rule's captures. A value that is missing
    /// (`{{entity.custom.tier}}` on an entity without `tier`) or null (a capture of missing data)
    /// renders as "unknown", and the message ends by naming what was missing.
    pub fn render(
        &self,
        name: &str,
        entity: &Entity,
        captures: &BTreeMap<String, Value>,
    ) -> Result<String, String> {
        let mut missing: Vec<String> = captures
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| format!("context.evaluation.captures.{k}"))
            .collect();
        let mut data = template_data(entity, captures);
        // Strict mode names one missing variable per try: fill it in and try again, a bounded
        // number of times (each try fills a different path, or the loop ends).
        loop {
            match self.registry.render(name, &data) {
                Ok(text) if missing.is_empty() => return Ok(text),
                Ok(text) => return Ok(format!("{text} (missing: {})", missing.join(", "))),
                Err(e) => match e.reason() {
                    RenderErrorReason::MissingVariable(Some(path))
                        if missing.len() < MAX_MISSING
                            && !missing.contains(path)
                            && fill_in(&mut data, path) =>
                    {
                        missing.push(path.clone());
                    }
                    reason => return Err(format!("failureMessage cannot be rendered: {reason}")),
                },
            }
        }
    }
}

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

/// What a template sees: `entity` (tag, name, type, groups, custom, ...) and
/// `context.evaluation.captures` (null captures as "unknown").
pub fn template_data(entity: &Entity, captures: &BTreeMap<String, Value>) -> serde_json::Value {
    let mut entity_json =
        serde_json::to_value(entity).unwrap_or_else(|_| json!({"tag": entity.tag}));
    if let Some(map) = entity_json.as_object_mut() {
        map.remove("descriptor");
    }
    let captures: serde_json::Map<String, serde_json::Value> = captures
        .iter()
        .map(|(k, v)| {
            let v = if v.is_null() {
                json!(UNKNOWN)
            } else {
                v.to_json()
            };
            (k.clone(), v)
        })
        .collect();
    json!({"entity": entity_json, "context": {"evaluation": {"captures": captures}}})
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
    fn bad_syntax_is_reported_with_its_position() {
        let mut t = FailureTemplates::default();
        let problem = t.add("r1", "line\n{{#if x}} no end").unwrap_err();
        assert!(problem.position.is_some(), "{problem:?}");
        assert!(!t.has("r1"));
    }
}

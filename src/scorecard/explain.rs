//! Explanations: failure messages rendered with handlebars (`{{entity.tag}}`,
//! `{{context.evaluation.captures.code-cov}}`), strict, unescaped (they are markdown).

use std::collections::BTreeMap;

use handlebars::Handlebars;
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

    /// Renders template `name` for `entity` with the rule's captures; an unknown variable is an
    /// error naming it (strict mode).
    pub fn render(
        &self,
        name: &str,
        entity: &Entity,
        captures: &BTreeMap<String, Value>,
    ) -> Result<String, String> {
        self.registry
            .render(name, &template_data(entity, captures))
            .map_err(|e| format!("failureMessage cannot be rendered: {}", e.reason()))
    }
}

/// What a template sees: `entity` (tag, name, type, groups, custom, ...) and
/// `context.evaluation.captures`.
pub fn template_data(entity: &Entity, captures: &BTreeMap<String, Value>) -> serde_json::Value {
    let mut entity_json =
        serde_json::to_value(entity).unwrap_or_else(|_| json!({"tag": entity.tag}));
    if let Some(map) = entity_json.as_object_mut() {
        map.remove("descriptor");
    }
    let captures: serde_json::Map<String, serde_json::Value> = captures
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
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
    fn unknown_variables_and_bad_syntax_are_reported() {
        let mut t = FailureTemplates::default();
        t.add("r0", "{{context.evaluation.captures.missing}}")
            .unwrap();
        let err = t
            .render("r0", &entity("api"), &BTreeMap::new())
            .unwrap_err();
        assert!(err.contains("missing"), "{err}");
        let problem = t.add("r1", "line\n{{#if x}} no end").unwrap_err();
        assert!(problem.position.is_some(), "{problem:?}");
        assert!(!t.has("r1"));
    }
}

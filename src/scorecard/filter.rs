//! Scorecard and rule filters on entity types and groups (the CQL `query` part is evaluated
//! with the rules, in [`super::Scorecard::evaluate`]).

use super::model::FilterSpec;
use crate::catalog::Entity;

/// Why `entity` is outside the type and group parts of `filter`, or `None` when it is inside.
pub fn excluded_by(filter: &FilterSpec, entity: &Entity) -> Option<String> {
    if let Some(types) = &filter.types
        && !types.selects(std::iter::once(entity.entity_type.as_str()))
    {
        return Some(format!(
            "type `{}` is not {}",
            entity.entity_type,
            types.describe()
        ));
    }
    if let Some(groups) = &filter.groups
        && !groups.selects(entity.groups.iter().map(String::as_str))
    {
        let has = if entity.groups.is_empty() {
            "no groups".to_string()
        } else {
            format!("groups {}", entity.groups.join(", "))
        };
        return Some(format!("{has}, needs {}", groups.describe()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorecard::explain::tests::entity;
    use crate::scorecard::model::Selector;

    #[test]
    fn types_and_groups_include_and_exclude() {
        let e = entity("api");
        let only_domains = FilterSpec {
            types: Some(Selector::Include(vec!["domain".into()])),
            ..Default::default()
        };
        assert_eq!(
            excluded_by(&only_domains, &e).as_deref(),
            Some("type `service` is not one of domain")
        );
        let no_payments = FilterSpec {
            groups: Some(Selector::Exclude(vec!["payments".into()])),
            ..Default::default()
        };
        assert_eq!(
            excluded_by(&no_payments, &e).as_deref(),
            Some("groups payments, needs none of payments")
        );
        let services = FilterSpec {
            types: Some(Selector::Include(vec!["Service".into()])),
            groups: Some(Selector::Include(vec!["payments".into(), "web".into()])),
            query: None,
        };
        assert_eq!(excluded_by(&services, &e), None);
    }
}

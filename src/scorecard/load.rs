//! Reads scorecard and exemption YAML into the model, with a positioned diagnostic for every
//! problem: a bad rule becomes an `error` outcome, a bad scorecard is left out, nothing stops
//! the others.

use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::model::{
    Exemption, ExemptionSettings, FilterSpec, Ladder, Level, Notifications, RuleSpec,
    ScorecardSpec, Selector, TextPosition,
};
use crate::diag::{Diagnostic, suggest};
use crate::yaml::{self, Node, NodeValue};

const SCORECARD_KEYS: &[&str] = &[
    "tag",
    "name",
    "description",
    "draft",
    "notifications",
    "exemptions",
    "evaluation",
    "ladder",
    "rules",
    "filter",
];
const RULE_KEYS: &[&str] = &[
    "title",
    "description",
    "expression",
    "weight",
    "level",
    "failureMessage",
    "identifier",
    "effectiveFrom",
    "filter",
];
const FILTER_KEYS: &[&str] = &["kind", "types", "groups", "query"];
const SELECTOR_KEYS: &[&str] = &["include", "exclude"];
const LADDER_KEYS: &[&str] = &["name", "levels"];
const LEVEL_KEYS: &[&str] = &["name", "rank", "color", "description"];
const NOTIFICATION_KEYS: &[&str] = &["enabled", "scoreDropNotificationsEnabled"];
const EXEMPTION_SETTING_KEYS: &[&str] = &["enabled", "autoApprove"];
const EVALUATION_KEYS: &[&str] = &["window"];
const EXEMPTION_KEYS: &[&str] = &[
    "entity",
    "rule",
    "reason",
    "requested_by",
    "until",
    "permanent",
];

/// The shared [`yaml::Reader`] (reached through `Deref`) with the scorecard's own field rules
/// and wording.
struct Reader<'a> {
    yaml: yaml::Reader<'a>,
    src: &'a str,
}

impl<'a> std::ops::Deref for Reader<'a> {
    type Target = yaml::Reader<'a>;

    fn deref(&self) -> &Self::Target {
        &self.yaml
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.yaml
    }
}

impl<'a> Reader<'a> {
    fn new(file: &'a Path, src: &'a str) -> Self {
        Reader {
            yaml: yaml::Reader::new(file, Some(src)),
            src,
        }
    }

    /// Warns about keys of `map` that are not in `known`, suggesting the closest known key.
    fn check_keys(&mut self, map: &Node, known: &[&str], what: &str) {
        for (key, _) in map.as_map().unwrap_or_default() {
            let Some(name) = key.scalar_text() else {
                continue;
            };
            if known.contains(&name.as_str()) {
                continue;
            }
            let hint =
                suggest(&name, known.iter().copied()).map(|k| format!("did you mean `{k}`?"));
            self.warn(
                key,
                format!("unknown key `{name}` in {what}; it is ignored"),
                hint,
            );
        }
    }

    /// A required map node, or an error.
    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Result<&'n Node, String> {
        self.expect(
            node,
            |n| n.as_map().map(|_| n),
            |found| format!("{what} must be a mapping, not {found}"),
        )
    }

    /// An optional string field; numbers and booleans are taken as their text.
    fn opt_string(
        &mut self,
        parent: &Node,
        key: &str,
        what: &str,
    ) -> Result<Option<String>, String> {
        self.field(parent, key, Node::scalar_text, |found| {
            format!("`{key}` of {what} must be text, not {found}")
        })
    }

    fn opt_bool(&mut self, parent: &Node, key: &str, what: &str) -> Result<Option<bool>, String> {
        self.field(parent, key, Node::as_bool, |found| {
            format!("`{key}` of {what} must be true or false, not {found}")
        })
    }

    fn opt_number<'n>(
        &mut self,
        parent: &'n Node,
        key: &str,
        what: &str,
    ) -> Result<Option<(f64, &'n Node)>, String> {
        self.field(
            parent,
            key,
            |n| Some((n.as_f64()?, n)),
            |found| format!("`{key}` of {what} must be a number, not {found}"),
        )
    }

    /// Where the text of a scalar starts: after an opening quote, or on the first line of a
    /// block scalar.
    fn text_position(&self, node: &Node) -> TextPosition {
        let lines: Vec<&str> = self.src.lines().collect();
        let line_text = lines
            .get(node.line.saturating_sub(1))
            .copied()
            .unwrap_or("");
        let first = line_text.chars().nth(node.column.saturating_sub(1));
        match first {
            Some('\'' | '"') => TextPosition {
                line: node.line,
                column: node.column + 1,
                block_indent: None,
            },
            Some('|' | '>') => {
                let next = lines
                    .iter()
                    .enumerate()
                    .skip(node.line)
                    .find(|(_, l)| !l.trim().is_empty());
                match next {
                    Some((i, l)) => {
                        let indent = l.chars().take_while(|c| *c == ' ').count();
                        TextPosition {
                            line: i + 1,
                            column: indent + 1,
                            block_indent: Some(indent),
                        }
                    }
                    None => TextPosition {
                        line: node.line,
                        column: node.column,
                        block_indent: None,
                    },
                }
            }
            _ => {
                // The parser may point at the block's first content line: then the line
                // before ends with the block indicator.
                let previous = lines[..node.line.saturating_sub(1)]
                    .iter()
                    .rev()
                    .find(|l| !l.trim().is_empty());
                let is_block = previous.is_some_and(|p| {
                    let p = p
                        .trim_end()
                        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
                    p.ends_with('|') || p.ends_with('>')
                });
                let block_indent = is_block.then(|| node.column.saturating_sub(1));
                TextPosition {
                    line: node.line,
                    column: node.column,
                    block_indent,
                }
            }
        }
    }
}

/// Moves a diagnostic about an expression (positions relative to the expression text) to the
/// scorecard file, keeping the file's line for the caret.
pub fn embed_diagnostic(d: Diagnostic, file: &Path, src: &str, at: TextPosition) -> Diagnostic {
    let mut d = d.embedded_in(file, at.line, at.column, at.block_indent);
    if let Some(text) = src.lines().nth(d.line.saturating_sub(1)) {
        let width = d.width;
        d = d.with_source_line(text, width);
    }
    d
}

/// Parses one scorecard file. `None` when the scorecard cannot be used at all (malformed YAML,
/// no tag, a broken ladder); rule problems only mark their rule.
pub fn parse_scorecard(src: &str, file: &Path) -> (Option<ScorecardSpec>, Vec<Diagnostic>) {
    let root = match yaml::parse_document(src, file) {
        Ok(root) => root,
        Err(d) => return (None, vec![*d]),
    };
    let mut r = Reader::new(file, src);
    let spec = read_scorecard(&mut r, &root).ok();
    (spec, r.yaml.diags)
}

fn read_scorecard(r: &mut Reader, root: &Node) -> Result<ScorecardSpec, String> {
    if root.value == NodeValue::Null {
        return Err(r.error(root, "the scorecard file is empty", None));
    }
    let root = r.map(root, "a scorecard")?;
    r.check_keys(root, SCORECARD_KEYS, "the scorecard");
    let tag = match r.opt_string(root, "tag", "the scorecard")? {
        Some(tag) if !tag.trim().is_empty() => tag,
        _ => return Err(r.error(root, "the scorecard has no `tag`", None)),
    };
    let name = r
        .opt_string(root, "name", "the scorecard")?
        .unwrap_or_else(|| tag.clone());
    let description = r.opt_string(root, "description", "the scorecard")?;
    let draft = r.opt_bool(root, "draft", "the scorecard")?.unwrap_or(false);

    let mut notifications = Notifications::default();
    if let Some(node) = root
        .get("notifications")
        .filter(|n| n.value != NodeValue::Null)
    {
        let node = r.map(node, "`notifications`")?;
        r.check_keys(node, NOTIFICATION_KEYS, "`notifications`");
        notifications.enabled = r.opt_bool(node, "enabled", "`notifications`")?;
        notifications.score_drop = r
            .opt_bool(node, "scoreDropNotificationsEnabled", "`notifications`")?
            .unwrap_or(false);
    }
    let mut exemption_settings = ExemptionSettings::default();
    if let Some(node) = root
        .get("exemptions")
        .filter(|n| n.value != NodeValue::Null)
    {
        let node = r.map(node, "`exemptions`")?;
        r.check_keys(node, EXEMPTION_SETTING_KEYS, "`exemptions`");
        exemption_settings.enabled = r.opt_bool(node, "enabled", "`exemptions`")?.unwrap_or(true);
        exemption_settings.auto_approve = r
            .opt_bool(node, "autoApprove", "`exemptions`")?
            .unwrap_or(false);
    }
    let mut evaluation_window_hours = None;
    if let Some(node) = root
        .get("evaluation")
        .filter(|n| n.value != NodeValue::Null)
    {
        let node = r.map(node, "`evaluation`")?;
        r.check_keys(node, EVALUATION_KEYS, "`evaluation`");
        if let Some((hours, at)) = r.opt_number(node, "window", "`evaluation`")? {
            if hours < 1.0 || hours.fract() != 0.0 {
                return Err(r.error(
                    at,
                    "`evaluation.window` must be a whole number of hours, at least 1",
                    None,
                ));
            }
            evaluation_window_hours = Some(hours as u64);
        }
    }
    let ladder = match root.get("ladder").filter(|n| n.value != NodeValue::Null) {
        Some(node) => read_ladder(r, node)?,
        None => None,
    };
    let filter = match root.get("filter").filter(|n| n.value != NodeValue::Null) {
        Some(node) => read_filter(r, node, "the scorecard filter")?,
        None => None,
    };
    let mut rules = Vec::new();
    match root.get("rules") {
        None
        | Some(Node {
            value: NodeValue::Null,
            ..
        }) => {
            r.warn(root, format!("scorecard `{tag}` has no rules"), None);
        }
        Some(Node {
            value: NodeValue::Seq(items),
            ..
        }) => {
            for item in items {
                rules.push(read_rule(r, item, ladder.as_ref()));
            }
        }
        Some(node) => {
            return Err(r.error(
                node,
                format!("`rules` must be a list, not {}", node.type_name()),
                None,
            ));
        }
    }
    warn_duplicate_rule_names(r, &rules, root);
    Ok(ScorecardSpec {
        file: r.file.to_path_buf(),
        tag,
        name,
        description,
        draft,
        notifications,
        exemption_settings,
        evaluation_window_hours,
        ladder,
        rules,
        filter,
    })
}

fn warn_duplicate_rule_names(r: &mut Reader, rules: &[RuleSpec], root: &Node) {
    let items = match root.get("rules") {
        Some(Node {
            value: NodeValue::Seq(items),
            ..
        }) => items.as_slice(),
        _ => &[],
    };
    for (i, rule) in rules.iter().enumerate() {
        if let (Some(id), Some(item)) = (&rule.identifier, items.get(i))
            && rules[..i]
                .iter()
                .any(|other| other.identifier.as_ref() == Some(id))
        {
            r.warn(item, format!("two rules have the identifier `{id}`"), None);
        }
        if rules[..i].iter().any(|other| other.title == rule.title)
            && let Some(item) = items.get(i)
        {
            r.warn(
                item,
                format!("two rules are titled `{}`", rule.title),
                Some("exemptions name rules by identifier or title: give each rule its own".into()),
            );
        }
    }
}

fn read_ladder(r: &mut Reader, node: &Node) -> Result<Option<Ladder>, String> {
    let node = r.map(node, "`ladder`")?;
    r.check_keys(node, LADDER_KEYS, "`ladder`");
    let name = r.opt_string(node, "name", "`ladder`")?;
    let items = match node.get("levels") {
        None
        | Some(Node {
            value: NodeValue::Null,
            ..
        }) => return Ok(None),
        Some(Node {
            value: NodeValue::Seq(items),
            ..
        }) => items,
        Some(other) => {
            return Err(r.error(
                other,
                format!("`ladder.levels` must be a list, not {}", other.type_name()),
                None,
            ));
        }
    };
    let mut levels: Vec<Level> = Vec::new();
    for item in items {
        let item = r.map(item, "a ladder level")?;
        r.check_keys(item, LEVEL_KEYS, "a ladder level");
        let Some(level_name) = r.opt_string(item, "name", "a ladder level")? else {
            return Err(r.error(item, "a ladder level has no `name`", None));
        };
        let rank = match r.opt_number(item, "rank", "a ladder level")? {
            Some((rank, at)) if rank < 1.0 || rank.fract() != 0.0 => {
                return Err(r.error(
                    at,
                    "a level's `rank` must be a whole number, at least 1 (1 = lowest)",
                    None,
                ));
            }
            Some((rank, _)) => rank as i64,
            None => {
                return Err(r.error(
                    item,
                    format!("level `{level_name}` has no `rank` (1 = lowest)"),
                    None,
                ));
            }
        };
        if let Some(other) = levels.iter().find(|l| l.name == level_name) {
            return Err(r.error(
                item,
                format!("level `{}` is defined twice", other.name),
                None,
            ));
        }
        if let Some(other) = levels.iter().find(|l| l.rank == rank) {
            return Err(r.error(
                item,
                format!(
                    "levels `{}` and `{level_name}` both have rank {rank}",
                    other.name
                ),
                None,
            ));
        }
        levels.push(Level {
            name: level_name,
            rank,
            color: r.opt_string(item, "color", "a ladder level")?,
            description: r.opt_string(item, "description", "a ladder level")?,
        });
    }
    levels.sort_by_key(|l| l.rank);
    Ok((!levels.is_empty()).then_some(Ladder { name, levels }))
}

fn read_selector(r: &mut Reader, node: &Node, what: &str) -> Result<Option<Selector>, String> {
    if node.value == NodeValue::Null {
        return Ok(None);
    }
    let node = r.map(node, what)?;
    r.check_keys(node, SELECTOR_KEYS, what);
    let list = |r: &mut Reader, key: &str| -> Result<Option<Vec<String>>, String> {
        match node.get(key) {
            None
            | Some(Node {
                value: NodeValue::Null,
                ..
            }) => Ok(None),
            Some(Node {
                value: NodeValue::Seq(items),
                ..
            }) => items
                .iter()
                .map(|i| {
                    i.scalar_text()
                        .ok_or_else(|| r.error(i, format!("{what}: `{key}` must list names"), None))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(r.error(
                other,
                format!("{what}: `{key}` must be a list, not {}", other.type_name()),
                None,
            )),
        }
    };
    match (list(r, "include")?, list(r, "exclude")?) {
        (Some(_), Some(_)) => Err(r.error(
            node,
            format!("{what} sets both `include` and `exclude`; set one"),
            None,
        )),
        (Some(inc), None) => Ok(Some(Selector::Include(inc))),
        (None, Some(exc)) => Ok(Some(Selector::Exclude(exc))),
        (None, None) => Ok(None),
    }
}

fn read_filter(r: &mut Reader, node: &Node, what: &str) -> Result<Option<FilterSpec>, String> {
    let node = r.map(node, what)?;
    for (key, _) in node.as_map().unwrap_or_default() {
        if let Some(old @ ("category" | "entityType")) = key.scalar_text().as_deref() {
            r.warn(
                key,
                format!("`{old}` in {what} is an old Cortex filter form and is ignored"),
                Some("use `kind: GENERIC` with `types: {include: [service]}`".into()),
            );
        }
    }
    let known: Vec<&str> = FILTER_KEYS
        .iter()
        .copied()
        .chain(["category", "entityType"])
        .collect();
    r.check_keys(node, &known, what);
    if let Some(kind) = r.opt_string(node, "kind", what)?
        && kind != "GENERIC"
        && let Some(at) = node.get("kind")
    {
        r.warn(
            at,
            format!("{what} has kind `{kind}`; rubric reads it as GENERIC"),
            None,
        );
    }
    let types = match node.get("types") {
        Some(n) => read_selector(r, n, &format!("`types` of {what}"))?,
        None => None,
    };
    let groups = match node.get("groups") {
        Some(n) => read_selector(r, n, &format!("`groups` of {what}"))?,
        None => None,
    };
    let query = match (r.opt_string(node, "query", what)?, node.get("query")) {
        (Some(q), Some(at)) if !q.trim().is_empty() => Some((q, r.text_position(at))),
        _ => None,
    };
    let filter = FilterSpec {
        types,
        groups,
        query,
    };
    Ok((filter != FilterSpec::default()).then_some(filter))
}

/// Reads one rule; problems are recorded on the rule (it gets an `error` outcome) and as errors.
fn read_rule(r: &mut Reader, item: &Node, ladder: Option<&Ladder>) -> RuleSpec {
    let mut rule = RuleSpec {
        title: String::new(),
        description: None,
        expression: String::new(),
        expression_at: TextPosition {
            line: item.line,
            column: item.column,
            block_indent: None,
        },
        weight: 1.0,
        level: None,
        failure_message: None,
        failure_message_at: TextPosition {
            line: item.line,
            column: item.column,
            block_indent: None,
        },
        identifier: None,
        effective_from: None,
        filter: None,
        line: item.line,
        problem: None,
    };
    if let Err(problem) = fill_rule(r, item, ladder, &mut rule) {
        rule.problem = Some(problem);
    }
    if rule.title.is_empty() {
        rule.title = if rule.expression.is_empty() {
            format!("rule at line {}", item.line)
        } else {
            rule.expression.clone()
        };
    }
    rule
}

/// Reads the fields of one rule. Each field is read on its own, so that one bad field does not
/// hide another's problem (`scorecard validate` reports them all); the problems, joined, are
/// the rule's error reason.
fn fill_rule(
    r: &mut Reader,
    item: &Node,
    ladder: Option<&Ladder>,
    rule: &mut RuleSpec,
) -> Result<(), String> {
    let item = r.map(item, "a rule")?;
    r.check_keys(item, RULE_KEYS, "a rule");
    let problems: Vec<String> = [
        rule_texts(r, item, rule),
        rule_expression(r, item, rule),
        rule_weight(r, item, rule),
        rule_level(r, item, ladder, rule),
        rule_effective_from(r, item, rule),
        rule_filter(r, item, rule),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn rule_texts(r: &mut Reader, item: &Node, rule: &mut RuleSpec) -> Result<(), String> {
    rule.title = r.opt_string(item, "title", "a rule")?.unwrap_or_default();
    rule.identifier = r.opt_string(item, "identifier", "a rule")?;
    rule.description = r.opt_string(item, "description", "a rule")?;
    rule.failure_message = r.opt_string(item, "failureMessage", "a rule")?;
    if let Some(at) = item.get("failureMessage") {
        rule.failure_message_at = r.text_position(at);
    }
    Ok(())
}

fn rule_expression(r: &mut Reader, item: &Node, rule: &mut RuleSpec) -> Result<(), String> {
    match (
        r.opt_string(item, "expression", "a rule")?,
        item.get("expression"),
    ) {
        (Some(expr), Some(at)) if !expr.trim().is_empty() => {
            rule.expression = expr;
            rule.expression_at = r.text_position(at);
            Ok(())
        }
        _ => Err(r.error(item, "the rule has no `expression`", None)),
    }
}

fn rule_weight(r: &mut Reader, item: &Node, rule: &mut RuleSpec) -> Result<(), String> {
    if let Some((weight, at)) = r.opt_number(item, "weight", "a rule")? {
        if !(weight >= 0.0 && weight.is_finite()) {
            return Err(r.error(at, "a rule's `weight` must be 0 or more", None));
        }
        rule.weight = weight;
    }
    Ok(())
}

fn rule_level(
    r: &mut Reader,
    item: &Node,
    ladder: Option<&Ladder>,
    rule: &mut RuleSpec,
) -> Result<(), String> {
    let Some(level) = r.opt_string(item, "level", "a rule")? else {
        if ladder.is_some() {
            let title = if rule.title.is_empty() {
                &rule.expression
            } else {
                &rule.title
            };
            r.warn(
                item,
                format!("rule `{title}` has no `level`: it counts for points only"),
                None,
            );
        }
        return Ok(());
    };
    let names = ladder
        .map(|l| l.levels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    if !names.contains(&level.as_str()) {
        let at = item.get("level").unwrap_or(item);
        let message = match ladder {
            None => format!("the rule names level `{level}` but the scorecard has no ladder"),
            Some(_) => format!(
                "level `{level}` is not in the ladder ({})",
                names.join(", ")
            ),
        };
        let hint = suggest(&level, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
        return Err(r.error(at, message, hint));
    }
    rule.level = Some(level);
    Ok(())
}

fn rule_effective_from(r: &mut Reader, item: &Node, rule: &mut RuleSpec) -> Result<(), String> {
    if let Some(text) = r.opt_string(item, "effectiveFrom", "a rule")? {
        let Some(t) = parse_time(&text) else {
            let at = item.get("effectiveFrom").unwrap_or(item);
            return Err(r.error(
                at,
                format!("`effectiveFrom` {text:?} is not a date (2026-01-31 or RFC 3339)"),
                None,
            ));
        };
        rule.effective_from = Some(t);
    }
    Ok(())
}

fn rule_filter(r: &mut Reader, item: &Node, rule: &mut RuleSpec) -> Result<(), String> {
    if let Some(node) = item.get("filter").filter(|n| n.value != NodeValue::Null) {
        rule.filter = read_filter(r, node, "the rule filter")?;
    }
    Ok(())
}

/// `2026-01-31`, `2026-01-31T10:00:00Z` or `2026-01-31T10:00:00` (UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Parses an exemptions file (`exemptions: [{entity, rule, reason, requested_by, until |
/// permanent}]`, or the list itself) for `spec`. Bad entries are errors and are left out.
pub fn parse_exemptions(
    src: &str,
    file: &Path,
    spec: &ScorecardSpec,
) -> (Vec<Exemption>, Vec<Diagnostic>) {
    let root = match yaml::parse_document(src, file) {
        Ok(root) => root,
        Err(d) => return (Vec::new(), vec![*d]),
    };
    let mut r = Reader::new(file, src);
    let items = match (&root.value, root.get("exemptions")) {
        (NodeValue::Seq(items), _) => items.as_slice(),
        (
            NodeValue::Map(_),
            Some(Node {
                value: NodeValue::Seq(items),
                ..
            }),
        ) => {
            r.check_keys(&root, &["exemptions"], "the exemptions file");
            items.as_slice()
        }
        (NodeValue::Null, _) => &[],
        _ => {
            r.error(
                &root,
                "an exemptions file must have `exemptions:` with a list of entries",
                None,
            );
            return (Vec::new(), r.yaml.diags);
        }
    };
    let mut out = Vec::new();
    for item in items {
        if let Ok(e) = read_exemption(&mut r, item, spec) {
            out.push(e);
        }
    }
    if !spec.exemption_settings.enabled && !out.is_empty() {
        r.warn(
            &root,
            format!(
                "scorecard `{}` has `exemptions.enabled: false`: these exemptions are ignored",
                spec.tag
            ),
            None,
        );
        out.clear();
    }
    (out, r.yaml.diags)
}

fn read_exemption(r: &mut Reader, item: &Node, spec: &ScorecardSpec) -> Result<Exemption, String> {
    let item = r.map(item, "an exemption")?;
    r.check_keys(item, EXEMPTION_KEYS, "an exemption");
    let entity = r
        .opt_string(item, "entity", "an exemption")?
        .ok_or_else(|| r.error(item, "the exemption has no `entity`", None))?;
    let rule = r.opt_string(item, "rule", "an exemption")?.ok_or_else(|| {
        r.error(
            item,
            "the exemption has no `rule` (identifier or title)",
            None,
        )
    })?;
    if !spec.rules.iter().any(|x| x.is_named(&rule)) {
        let at = item.get("rule").unwrap_or(item);
        let names = spec
            .rules
            .iter()
            .flat_map(|x| [Some(x.title.as_str()), x.identifier.as_deref()])
            .flatten();
        let hint = suggest(&rule, names).map(|n| format!("did you mean `{n}`?"));
        r.error(
            at,
            format!("scorecard `{}` has no rule `{rule}`", spec.tag),
            hint,
        );
        return Err(rule);
    }
    let reason = r
        .opt_string(item, "reason", "an exemption")?
        .ok_or_else(|| r.error(item, "the exemption has no `reason`", None))?;
    let requested_by = r.opt_string(item, "requested_by", "an exemption")?;
    let permanent = r
        .opt_bool(item, "permanent", "an exemption")?
        .unwrap_or(false);
    let until = match r.opt_string(item, "until", "an exemption")? {
        Some(text) => match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                let at = item.get("until").unwrap_or(item);
                return Err(r.error(
                    at,
                    format!("`until` {text:?} is not a date (YYYY-MM-DD)"),
                    None,
                ));
            }
        },
        None => None,
    };
    match (until, permanent) {
        (Some(_), true) => Err(r.error(
            item,
            "the exemption has both `until` and `permanent: true`; keep one",
            None,
        )),
        (None, false) => Err(r.error(
            item,
            "the exemption needs `until: YYYY-MM-DD` or `permanent: true`",
            None,
        )),
        _ => Ok(Exemption {
            entity,
            rule,
            reason,
            requested_by,
            until,
            file: r.file.to_path_buf(),
            line: item.line,
            column: item.column,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"tag: cov
name: Coverage
draft: true
ladder:
  name: L
  levels:
    - name: Silver
      rank: 2
    - name: Bronze
      rank: 1
      color: '#c38b5f'
rules:
  - title: Mapped
    expression: codecov != null
    level: Bronze
  - title: High
    expression: 'codecov.codeCoverage() >= 80'
    level: Silver
    weight: 3
    identifier: high-cov
    effectiveFrom: 2027-01-01
    filter:
      kind: GENERIC
      groups:
        include: [payments]
filter:
  kind: GENERIC
  types:
    exclude: [domain]
  query: entity.tag() != "x"
"#;

    fn parse(src: &str) -> (Option<ScorecardSpec>, Vec<Diagnostic>) {
        parse_scorecard(src, Path::new("scorecards/cov.yaml"))
    }

    #[test]
    fn reads_the_cortex_format() {
        let (spec, diags) = parse(GOOD);
        assert!(diags.is_empty(), "{diags:?}");
        let spec = spec.unwrap();
        assert_eq!(spec.tag, "cov");
        assert!(spec.draft);
        let ladder = spec.ladder.unwrap();
        assert_eq!(
            ladder
                .levels
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>(),
            ["Bronze", "Silver"]
        );
        assert_eq!(spec.rules[0].weight, 1.0);
        let high = &spec.rules[1];
        assert_eq!(high.weight, 3.0);
        assert_eq!(
            high.expression_at,
            TextPosition {
                line: 17,
                column: 18,
                block_indent: None
            }
        );
        assert_eq!(
            high.effective_from.unwrap().to_rfc3339(),
            "2027-01-01T00:00:00+00:00"
        );
        assert_eq!(
            high.filter.as_ref().unwrap().groups,
            Some(Selector::Include(vec!["payments".into()]))
        );
        let filter = spec.filter.unwrap();
        assert_eq!(filter.types, Some(Selector::Exclude(vec!["domain".into()])));
        assert_eq!(filter.query.unwrap().1.line, 30);
    }

    #[test]
    fn unknown_keys_are_warnings_with_a_suggestion() {
        let src = "tag: a\nrules:\n  - title: x\n    expresion: codecov != null\n    failureMesage: hi\n    expression: 'true'\n";
        let (spec, diags) = parse(src);
        assert!(spec.is_some());
        let texts: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(
            texts[0].starts_with("warning: unknown key `expresion` in a rule; it is ignored"),
            "{texts:?}"
        );
        assert!(texts[0].contains("cov.yaml:4:5"), "{texts:?}");
        assert!(texts[0].contains("did you mean `expression`?"), "{texts:?}");
        assert!(
            texts[1].contains("did you mean `failureMessage`?"),
            "{texts:?}"
        );
    }

    #[test]
    fn a_bad_rule_is_marked_and_the_others_load() {
        let src = "tag: a\nladder:\n  levels:\n    - name: Bronze\n      rank: 1\nrules:\n  - title: x\n    expression: a\n    level: Bronse\n  - title: y\n    expression: b\n    level: Bronze\n  - title: z\n";
        let (spec, diags) = parse(src);
        let spec = spec.unwrap();
        assert_eq!(spec.rules.len(), 3);
        assert_eq!(
            spec.rules[0].problem.as_deref(),
            Some("level `Bronse` is not in the ladder (Bronze)")
        );
        assert_eq!(spec.rules[1].problem, None);
        assert_eq!(
            spec.rules[2].problem.as_deref(),
            Some("the rule has no `expression`")
        );
        let first = diags[0].to_string();
        assert!(first.contains("cov.yaml:9:12"), "{first}");
        assert!(first.contains("did you mean `Bronze`?"), "{first}");
    }

    #[test]
    fn every_problem_of_a_rule_is_reported_at_once() {
        let src = "tag: a\nladder:\n  levels:\n    - name: Bronze\n      rank: 1\nrules:\n  - title: x\n    expression: a\n    level: Bronz\n    weight: -1\n    effectiveFrom: soon\n";
        let (spec, diags) = parse(src);
        let problem = spec.unwrap().rules[0].problem.clone().unwrap();
        assert_eq!(
            problem,
            "a rule's `weight` must be 0 or more; level `Bronz` is not in the ladder (Bronze); \
             `effectiveFrom` \"soon\" is not a date (2026-01-31 or RFC 3339)"
        );
        let errors: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("cov.yaml:10:13"), "{errors:?}");
        assert!(errors[1].contains("cov.yaml:9:12"), "{errors:?}");
        assert!(errors[2].contains("cov.yaml:11:20"), "{errors:?}");
    }

    #[test]
    fn malformed_or_tagless_scorecards_are_left_out() {
        let (spec, diags) = parse("tag: a\nrules: [\n");
        assert!(spec.is_none());
        assert!(diags[0].line > 0 && diags[0].file.is_some(), "{diags:?}");
        let (spec, diags) = parse("name: x\nrules: []\n");
        assert!(spec.is_none());
        assert_eq!(diags[0].message, "the scorecard has no `tag`");
        let (spec, _) = parse(
            "tag: a\nladder:\n  levels:\n    - name: A\n      rank: 1\n    - name: B\n      rank: 1\n",
        );
        assert!(spec.is_none());
    }

    #[test]
    fn block_expressions_point_into_the_block() {
        let src = "tag: a\nrules:\n  - title: x\n    expression: |\n      codecov != null\n        AND x\n";
        let (spec, _) = parse(src);
        let at = spec.unwrap().rules[0].expression_at;
        assert_eq!(
            at,
            TextPosition {
                line: 5,
                column: 7,
                block_indent: Some(6)
            }
        );
        let d = Diagnostic::error("bad").at_offset("codecov != null\n  AND x\n", 22, 1);
        let d = embed_diagnostic(d, Path::new("a.yaml"), src, at);
        assert_eq!((d.line, d.column), (6, 13));
        assert_eq!(d.source_line.as_deref(), Some("        AND x"));
    }

    #[test]
    fn exemptions_read_and_check_rule_names() {
        let (spec, _) = parse(GOOD);
        let spec = spec.unwrap();
        let src = "exemptions:\n  - entity: a\n    rule: high-cov\n    reason: migrating\n    requested_by: jane\n    until: 2026-12-31\n  - entity: b\n    rule: Mapped\n    reason: legacy\n    permanent: true\n  - entity: c\n    rule: Hihg\n    reason: r\n    permanent: true\n  - entity: d\n    rule: Mapped\n    reason: r\n";
        let (list, diags) = parse_exemptions(src, Path::new("cov.exemptions.yaml"), &spec);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].until_text(), "2026-12-31");
        assert_eq!(list[1].until, None);
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(
            diags[0].to_string().contains("did you mean `High`?"),
            "{}",
            diags[0]
        );
        assert!(diags[1].message.contains("needs `until"), "{}", diags[1]);
    }
}

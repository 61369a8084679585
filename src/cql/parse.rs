//! Parsing: source text → [`Expr`], with pest (grammar/cql.pest) and a Pratt parser for precedence.

use std::sync::LazyLock;

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::{Arg, ArgValue, BinaryOp, Expr, ExprKind, Span, UnaryOp};
use crate::diag::{Diagnostic, Kind};

/// The pest parser generated from grammar/cql.pest (private: users see [`Expr`]s and diagnostics).
#[allow(missing_docs)]
mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/cql.pest"]
    pub(super) struct CqlParser;
}

use grammar::{CqlParser, Rule};

/// Size limits that keep hostile or generated input from exhausting the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest source accepted, in bytes.
    pub max_len: usize,
    /// Deepest nesting of brackets (`(`, `[`) and runs of prefix operators.
    pub max_nesting: usize,
    /// Deepest syntax tree (each operator, call and property read is a level).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 16 * 1024,
            max_nesting: 64,
            max_depth: 256,
        }
    }
}

/// Operators loosest first; each `.op` binds tighter than the one before.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or, Assoc::Left))
        .op(Op::infix(Rule::and, Assoc::Left))
        .op(Op::prefix(Rule::not))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::rem, Assoc::Left))
        .op(Op::prefix(Rule::neg))
});

type Result<T> = std::result::Result<T, Box<Diagnostic>>;

/// Parses one expression with the default [`Limits`].
pub fn parse(src: &str) -> Result<Expr> {
    parse_with(src, &Limits::default())
}

/// Parses one expression within `limits`.
pub fn parse_with(src: &str, limits: &Limits) -> Result<Expr> {
    if src.len() > limits.max_len {
        return Err(Diagnostic::error(format!(
            "expression is too long: {} bytes, the limit is {}",
            src.len(),
            limits.max_len
        ))
        .with_kind(Kind::Limit)
        .at_offset(src, limits.max_len, 1)
        .into());
    }
    prescan(src, limits)?;
    let mut pairs = CqlParser::parse(Rule::rule, src).map_err(|e| parse_error(src, e))?;
    let rule = pairs
        .next()
        .expect("the rule production always yields one pair");
    let expr_pair = rule.into_inner().next().expect("rule holds one expr");
    let expr = build_expr(src, expr_pair)?;
    if expr.depth() > limits.max_depth {
        return Err(Diagnostic::error(format!(
            "expression is too deeply nested: more than {} levels",
            limits.max_depth
        ))
        .with_kind(Kind::Limit)
        .at_offset(src, 0, 1)
        .with_hint("split the rule into simpler rules")
        .into());
    }
    Ok(expr)
}

/// Rejects nesting beyond the limit before pest (which recurses) sees it, and finds unclosed
/// brackets so the error can name them.
fn prescan(src: &str, limits: &Limits) -> Result<()> {
    let mut open: Vec<(usize, char)> = Vec::new();
    let mut prefix_run = 0usize;
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '\'' => {
                prefix_run = 0;
                let mut escaped = false;
                for (_, d) in chars.by_ref() {
                    match d {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        d if d == c => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek().map(|&(_, d)| d) == Some('*') => {
                chars.next();
                let mut star = false;
                for (_, d) in chars.by_ref() {
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
            }
            c if c.is_whitespace() => {}
            '!' | '-' => {
                prefix_run += 1;
                if prefix_run > limits.max_nesting {
                    return Err(too_deep(src, i, limits).into());
                }
            }
            '(' | '[' => {
                prefix_run = 0;
                open.push((i, c));
                if open.len() > limits.max_nesting {
                    return Err(too_deep(src, i, limits).into());
                }
            }
            ')' | ']' => {
                prefix_run = 0;
                open.pop();
            }
            _ => prefix_run = 0,
        }
    }
    Ok(())
}

fn too_deep(src: &str, offset: usize, limits: &Limits) -> Diagnostic {
    Diagnostic::error(format!(
        "expression nests deeper than {} levels",
        limits.max_nesting
    ))
    .with_kind(Kind::Limit)
    .at_offset(src, offset, 1)
    .with_hint("split the rule into simpler rules")
}

/// The first unclosed `(` or `[`, if any (strings and comments skipped).
fn unclosed_bracket(src: &str) -> Option<(usize, char)> {
    let mut open: Vec<(usize, char)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in src.char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' => open.push((i, c)),
            ')' | ']' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.first().copied()
}

/// Turns pest's error into a diagnostic that names what was expected in words.
fn parse_error(src: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let rest = &src[pos..];
    if let Some(d) = legacy_form(src, pos) {
        return d.with_kind(Kind::Unsupported);
    }
    let found = describe_token(rest);
    let expected = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => expected_words(positives),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let width = token_width(rest);
    let mut d = Diagnostic::error(format!("expected {expected}, found {found}"))
        .with_kind(Kind::Syntax)
        .at_offset(src, pos, width);
    let before = src[..pos].trim_end();
    let last_word = before
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if last_word.eq_ignore_ascii_case("not") {
        let at = before.len() - last_word.len();
        return Diagnostic::error(format!("`{last_word}` is not a CQL operator"))
            .with_kind(Kind::Syntax)
            .at_offset(src, at, last_word.len())
            .with_hint("write `!` (e.g. `!(a == b)`)");
    }
    if rest.starts_with("&&") || rest.starts_with("||") {
        let word = if rest.starts_with("&&") { "AND" } else { "OR" };
        d.message = format!("`{}` is not a CQL operator", &rest[..2]);
        d = d.with_hint(format!("write `{word}`"));
    } else if let Some((at, c)) = unclosed_bracket(src) {
        let close = if c == '(' { ')' } else { ']' };
        let (line, col, _) = crate::diag::locate(src, at);
        d = d.with_hint_at(format!("expected `{close}` to close the `{c}`"), line, col);
    }
    d
}

/// CQL v1 forms, rejected with the v2 form named.
fn legacy_form(src: &str, pos: usize) -> Option<Diagnostic> {
    let rest = &src[pos..];
    let before = src[..pos].trim_end();
    if rest.starts_with('=') && !rest.starts_with("==") && !rest.starts_with("=>") {
        let lhs = before
            .rsplit(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        let hint = match lhs {
            "tag" => "write `entity.tag() == ...`",
            "description" => "write `entity.description() == ...`",
            _ => "write `==` instead of `=`",
        };
        return Some(
            Diagnostic::error("`=` is CQL v1; CQL v2 compares with `==`")
                .at_offset(src, pos, 1)
                .with_hint(hint),
        );
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if word.eq_ignore_ascii_case("includes") {
        return Some(
            Diagnostic::error("`includes` is CQL v1 and is not supported")
                .at_offset(src, pos, word.len())
                .with_hint(
                    "write `hasGroup(\"name\")` for groups, or `list.any(x => x == \"name\")`",
                ),
        );
    }
    None
}

fn expected_words(positives: &[Rule]) -> String {
    let mut words: Vec<&str> = Vec::new();
    let mut add = |w: &'static str| {
        if !words.contains(&w) {
            words.push(w);
        }
    };
    let only_ident = positives.iter().all(|r| *r == Rule::ident);
    for r in positives {
        match r {
            Rule::ident if only_ident => add("a name"),
            Rule::EOI => add("end of input"),
            Rule::or | Rule::and => add("`AND` / `OR`"),
            Rule::eq | Rule::ne | Rule::lt | Rule::le | Rule::gt | Rule::ge => add("a comparison"),
            Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::rem => add("an operator"),
            Rule::postfix => add("`.`"),
            Rule::args => add("`(`"),
            Rule::string | Rule::dq_inner | Rule::sq_inner | Rule::escape | Rule::unicode_esc => {
                add("a string")
            }
            _ => add("an expression"),
        }
    }
    match words.as_slice() {
        [] => "an expression".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn describe_token(rest: &str) -> String {
    match rest.chars().next() {
        None => "end of input".to_string(),
        Some(_) => format!("`{}`", &rest[..token_width_bytes(rest)]),
    }
}

fn token_width_bytes(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    match chars.next() {
        None => 0,
        Some((_, c)) if c.is_alphanumeric() || c == '_' => rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(rest.len(), |(i, _)| i),
        Some((_, c)) => {
            let two = rest.get(..2);
            if matches!(two, Some("==" | "!=" | "<=" | ">=" | "&&" | "||" | "=>")) {
                2
            } else {
                c.len_utf8()
            }
        }
    }
}

fn token_width(rest: &str) -> usize {
    rest[..token_width_bytes(rest)].chars().count().max(1)
}

/// A pair's span without the blanks pest may have consumed after it.
fn span_of(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    s.start()..s.start() + s.as_str().trim_end().len()
}

fn build_expr(src: &str, pair: Pair<'_, Rule>) -> Result<Expr> {
    build_pratt(src, pair.into_inner())
}

fn build_pratt(src: &str, pairs: Pairs<'_, Rule>) -> Result<Expr> {
    PRATT
        .map_primary(|p| build_operand(src, p))
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let span = op.as_span().start()..rhs.span.end;
            let kind = match op.as_rule() {
                Rule::neg => match rhs.kind {
                    // `-5` is the number -5 (but `-(5)` stays a negation, so printing round-trips).
                    ExprKind::Number(n) if src.as_bytes().get(rhs.span.start) != Some(&b'(') => {
                        ExprKind::Number(-n)
                    }
                    _ => ExprKind::Unary {
                        op: UnaryOp::Neg,
                        expr: Box::new(rhs),
                    },
                },
                _ => ExprKind::Unary {
                    op: UnaryOp::Not,
                    expr: Box::new(rhs),
                },
            };
            Ok(Expr { kind, span })
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let op = match op.as_rule() {
                Rule::or => BinaryOp::Or,
                Rule::and => BinaryOp::And,
                Rule::eq => BinaryOp::Eq,
                Rule::ne => BinaryOp::Ne,
                Rule::lt => BinaryOp::Lt,
                Rule::le => BinaryOp::Le,
                Rule::gt => BinaryOp::Gt,
                Rule::ge => BinaryOp::Ge,
                Rule::add => BinaryOp::Add,
                Rule::sub => BinaryOp::Sub,
                Rule::mul => BinaryOp::Mul,
                Rule::div => BinaryOp::Div,
                _ => BinaryOp::Rem,
            };
            let span = lhs.span.start..rhs.span.end;
            Ok(Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            })
        })
        .parse(pairs)
}

/// `operand = { primary ~ postfix* }`: folds the postfix chain left to right.
fn build_operand(src: &str, pair: Pair<'_, Rule>) -> Result<Expr> {
    let start = pair.as_span().start();
    let mut inner = pair.into_inner();
    let first = inner.next().expect("operand starts with a primary");
    let mut expr = build_primary(src, first)?;
    for post in inner {
        let end = span_of(&post).end;
        let mut parts = post.into_inner();
        let name = parts
            .next()
            .expect("postfix has a name")
            .as_str()
            .to_string();
        let kind = match parts.next() {
            Some(args) => ExprKind::Method {
                target: Box::new(expr),
                name,
                args: build_args(src, args)?,
            },
            None => ExprKind::Member {
                target: Box::new(expr),
                name,
            },
        };
        expr = Expr {
            kind,
            span: start..end,
        };
    }
    Ok(expr)
}

fn build_primary(src: &str, pair: Pair<'_, Rule>) -> Result<Expr> {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::number => {
            let n: f64 = pair.as_str().parse().map_err(|_| {
                Diagnostic::error(format!("`{}` is not a number", pair.as_str()))
                    .with_kind(Kind::Syntax)
                    .at_offset(src, span.start, span.len())
            })?;
            ExprKind::Number(n)
        }
        Rule::string => {
            let inner = pair.into_inner().next().expect("string has an inner part");
            ExprKind::String(unescape(src, inner.as_str(), inner.as_span().start())?)
        }
        Rule::literal => match pair.as_str() {
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            _ => ExprKind::Null,
        },
        Rule::list => ExprKind::List(
            pair.into_inner()
                .map(|p| build_expr(src, p))
                .collect::<Result<_>>()?,
        ),
        Rule::ident => ExprKind::Ident(pair.as_str().to_string()),
        Rule::call => {
            let mut parts = pair.into_inner();
            let name = parts.next().expect("call has a name").as_str().to_string();
            let args = build_args(src, parts.next().expect("call has arguments"))?;
            ExprKind::Call { name, args }
        }
        Rule::paren => {
            let inner = build_expr(src, pair.into_inner().next().expect("paren holds an expr"))?;
            return Ok(Expr {
                kind: inner.kind,
                span,
            });
        }
        r => unreachable!("grammar: {r:?} is not a primary"),
    };
    Ok(Expr { kind, span })
}

fn build_args(src: &str, pair: Pair<'_, Rule>) -> Result<Vec<Arg>> {
    pair.into_inner()
        .map(|p| {
            let span = span_of(&p);
            match p.as_rule() {
                Rule::named_arg => {
                    let mut parts = p.into_inner();
                    let name = parts
                        .next()
                        .expect("named arg has a name")
                        .as_str()
                        .to_string();
                    let value = build_expr(src, parts.next().expect("named arg has a value"))?;
                    Ok(Arg {
                        name: Some(name),
                        value: ArgValue::Expr(value),
                        span,
                    })
                }
                Rule::lambda => {
                    let mut parts = p.into_inner();
                    let param = parts
                        .next()
                        .expect("lambda has a parameter")
                        .as_str()
                        .to_string();
                    let body = build_expr(src, parts.next().expect("lambda has a body"))?;
                    Ok(Arg {
                        name: None,
                        value: ArgValue::Lambda { param, body },
                        span,
                    })
                }
                _ => Ok(Arg {
                    name: None,
                    value: ArgValue::Expr(build_expr(src, p)?),
                    span,
                }),
            }
        })
        .collect()
}

/// Resolves escapes in the text between the quotes (`at` is its byte offset, for errors).
fn unescape(src: &str, text: &str, at: usize) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, 'n')) => out.push('\n'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, 't')) => out.push('\t'),
            Some((_, 'u')) => {
                let hex: String = chars
                    .by_ref()
                    .skip(1)
                    .take_while(|&(_, c)| c != '}')
                    .map(|(_, c)| c)
                    .collect();
                let ch = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        Diagnostic::error(format!("`\\u{{{hex}}}` is not a Unicode character"))
                            .with_kind(Kind::Syntax)
                            .at_offset(src, at + i, hex.len() + 4)
                    })?;
                out.push(ch);
            }
            Some((_, c)) => out.push(c),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses and prints canonically (fully showing the tree's shape through parentheses).
    fn shape(src: &str) -> String {
        sexpr(&parse(src).unwrap_or_else(|d| panic!("{src}: {d}")))
    }

    fn sexpr(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs))
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => format!("(! {})", sexpr(expr)),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => format!("(- {})", sexpr(expr)),
            _ => e.to_string(),
        }
    }

    #[test]
    fn precedence_table() {
        let cases = [
            ("a OR b AND c", "(OR a (AND b c))"),
            ("a and b or c", "(OR (AND a b) c)"),
            (
                "!entity.tag() == \"production\"",
                "(! (== entity.tag() \"production\"))",
            ),
            ("!a AND b", "(AND (! a) b)"),
            ("!(a AND b)", "(! (AND a b))"),
            ("1 + 2 * 3 >= 7", "(>= (+ 1 (* 2 3)) 7)"),
            ("-5 * 2", "(* -5 2)"),
            ("a - -5", "(- a -5)"),
            ("-(5)", "(- 5)"),
            ("-x.y", "(- x.y)"),
            ("1 - 2 - 3", "(- (- 1 2) 3)"),
            (
                "codecov.codeCoverage() >= 95",
                "(>= codecov.codeCoverage() 95)",
            ),
            ("x Or y", "(OR x y)"),
            ("android AND oracle", "(AND android oracle)"),
        ];
        for (src, want) in cases {
            assert_eq!(shape(src), want, "{src}");
        }
    }

    #[test]
    fn literals_and_postfix_chains() {
        let cases = [
            ("'it''s'", None),
            (r#"'a\'b'"#, Some(r#""a'b""#)),
            (r#""tab\there""#, Some(r#""tab\there""#)),
            (r#""\u{1F600}""#, Some("\"😀\"")),
            (
                "custom(\"cloud-cost\") .cost.compute.actual",
                Some("custom(\"cloud-cost\").cost.compute.actual"),
            ),
            ("[\"CRITICAL\", 'HIGH']", Some("[\"CRITICAL\", \"HIGH\"]")),
            (
                "git.numOfVulnerabilities(severity=[\"CRITICAL\"])",
                Some("git.numOfVulnerabilities(severity = [\"CRITICAL\"])"),
            ),
            (
                "entity.parents().any(x => x.type == 'domain')",
                Some("entity.parents().any(x => x.type == \"domain\")"),
            ),
            (
                "l.filter((pr) => pr.status == \"OPEN\").length",
                Some("l.filter(pr => pr.status == \"OPEN\").length"),
            ),
            ("1 /* one */ + 2", Some("1 + 2")),
            ("0.25", Some("0.25")),
            ("(-5).abs", Some("(-5).abs")),
        ];
        for (src, want) in cases {
            match want {
                None => assert!(parse(src).is_err(), "{src} should not parse"),
                Some(w) => assert_eq!(parse(src).unwrap().to_string(), w, "{src}"),
            }
        }
    }

    /// (source, line, column, message, hint)
    #[test]
    fn errors_are_pinned() {
        let cases: &[(&str, usize, usize, &str, Option<&str>)] = &[
            (
                "codecov.codeCoverage( >= 95",
                1,
                23,
                "expected an expression, found `>=`",
                Some("expected `)` to close the `(` at 1:21"),
            ),
            (
                "codecov.codeCoverage() >=",
                1,
                26,
                "expected an expression, found end of input",
                None,
            ),
            (
                "a == 1 &&  b",
                1,
                8,
                "`&&` is not a CQL operator",
                Some("write `AND`"),
            ),
            (
                "tag = \"x\"",
                1,
                5,
                "`=` is CQL v1; CQL v2 compares with `==`",
                Some("write `entity.tag() == ...`"),
            ),
            (
                "groups includes (\"a\")",
                1,
                8,
                "`includes` is CQL v1 and is not supported",
                Some("write `hasGroup(\"name\")` for groups, or `list.any(x => x == \"name\")`"),
            ),
            (
                "a.\n  b.",
                2,
                5,
                "expected a name, found end of input",
                None,
            ),
            ("\"abc", 1, 1, "expected an expression, found `\"`", None),
        ];
        for (src, line, col, msg, hint) in cases {
            let d = parse(src).expect_err(src);
            assert_eq!(
                (d.line, d.column, d.message.as_str()),
                (*line, *col, *msg),
                "{src}"
            );
            assert_eq!(d.hint.as_deref(), *hint, "{src}");
        }
    }

    #[test]
    fn not_keyword_names_the_cql_operator() {
        let d = parse("a AND NOT hasGroup('x')").expect_err("NOT is no operator");
        assert_eq!(
            (d.line, d.column, d.message.as_str()),
            (1, 7, "`NOT` is not a CQL operator")
        );
        assert_eq!(d.hint.as_deref(), Some("write `!` (e.g. `!(a == b)`)"));
    }

    #[test]
    fn limits_hold_on_both_sides() {
        let limits = Limits {
            max_len: 100,
            max_nesting: 4,
            max_depth: 8,
        };
        let ok = |s: &str| parse_with(s, &limits).is_ok();
        assert!(ok("((((1))))"));
        assert!(!ok("(((((1)))))"));
        assert!(ok("!!!!a"));
        assert!(!ok("!!!!!a"));
        assert!(ok(&"1".repeat(100)));
        assert!(!ok(&"1".repeat(101)));
        // depth: a + 1 + 1 ... (n additions nest n + 1 levels)
        assert!(ok("a + 1 + 1 + 1 + 1 + 1 + 1 + 1"));
        assert!(!ok("a + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1"));
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).is_err());
        let bangs = format!("{}a", "!".repeat(10_000));
        assert!(parse(&bangs).is_err());
    }
}

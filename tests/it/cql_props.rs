//! Property tests of the CQL front end: printing any syntax tree and parsing it back gives the
//! same tree, and no input (arbitrary text or token soup) makes the parser, compiler or
//! evaluator panic. These stand in for a cargo-fuzz target (see docs/readme/cql.md).

use chrono::Utc;
use proptest::prelude::*;
use rubric::cql::ast::{Arg, ArgValue, BinaryOp, Expr, ExprKind, UnaryOp};
use rubric::cql::parse::parse;
use rubric::cql::{Program, Registry, SlotTable};
use rubric::facts::Fact;
use rubric::value::Value;

fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: 0..0 }
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_filter("keywords are not names", |s| {
        !["and", "or"].contains(&s.to_lowercase().as_str())
            && !["true", "false", "null"].contains(&s.as_str())
    })
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1000i64..1000).prop_map(|n| n as f64),
        (-1.0e6f64..1.0e6),
        Just(0.1),
        Just(1.0e21),
        Just(1.0e-7),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(e(ExprKind::Null)),
        any::<bool>().prop_map(|b| e(ExprKind::Bool(b))),
        number().prop_map(|n| e(ExprKind::Number(n))),
        any::<String>().prop_map(|s| e(ExprKind::String(s))),
        name().prop_map(|n| e(ExprKind::Ident(n))),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    prop::sample::select(vec![
        Or, And, Eq, Ne, Lt, Le, Gt, Ge, Add, Sub, Mul, Div, Rem,
    ])
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        let arg = (
            proptest::option::of(name()),
            inner.clone(),
            proptest::option::of(name()),
        )
            .prop_map(
                |(named, value, lambda): (Option<String>, Expr, Option<String>)| match (
                    named, lambda,
                ) {
                    (Some(n), _) => Arg {
                        name: Some(n),
                        value: ArgValue::Expr(value),
                        span: 0..0,
                    },
                    (None, Some(param)) => Arg {
                        name: None,
                        value: ArgValue::Lambda { param, body: value },
                        span: 0..0,
                    },
                    (None, None) => Arg {
                        name: None,
                        value: ArgValue::Expr(value),
                        span: 0..0,
                    },
                },
            );
        let args = prop::collection::vec(arg, 0..3).boxed();
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|items| e(ExprKind::List(items))),
            (name(), args.clone()).prop_map(|(name, args)| e(ExprKind::Call { name, args })),
            (inner.clone(), name()).prop_map(|(t, name)| e(ExprKind::Member {
                target: Box::new(t),
                name
            })),
            (inner.clone(), name(), args).prop_map(|(t, name, args)| e(ExprKind::Method {
                target: Box::new(t),
                name,
                args
            })),
            (inner.clone(), any::<bool>()).prop_map(|(x, not)| {
                let op = if not { UnaryOp::Not } else { UnaryOp::Neg };
                e(ExprKind::Unary {
                    op,
                    expr: Box::new(x),
                })
            }),
            (inner.clone(), binary_op(), inner).prop_map(|(l, op, r)| e(ExprKind::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r)
            })),
        ]
    })
}

/// Tokens of the language, glued at random: input that gets further into the parser and
/// compiler than random bytes do.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "codecov",
        ".",
        "codeCoverage",
        "(",
        ")",
        "[",
        "]",
        ",",
        ">=",
        "==",
        "!=",
        "<",
        "!",
        "-",
        "+",
        "*",
        "/",
        "%",
        "AND",
        "or",
        "x",
        "=>",
        "=",
        "flag",
        "\"a\"",
        "'b'",
        "95",
        "1.5",
        "null",
        "true",
        "custom",
        "entity",
        "tag",
        "any",
        "filter",
        "map",
        "length",
        "jq",
        "\".a\"",
        "duration",
        "\"P1D\"",
        "fromNow",
        "matches",
        "\"a.*\"",
        "captures",
        "/* c */",
        " ",
        "sonarqube",
        "hasGroup",
        "sum",
        "timestamp",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..24).prop_map(|t| t.join(""))
}

/// Compiles and, when that works, evaluates with every fact null (ok) and then every fact an
/// error: neither may panic.
fn exercise(src: &str) {
    let mut slots = SlotTable::new();
    if let Ok(c) = Program::compile(src, Registry::standard(), &mut slots) {
        let nulls: Vec<Fact> = slots.keys().iter().map(|_| Fact::ok(Value::Null)).collect();
        let _ = c.program.evaluate(&nulls, Utc::now());
        let errors: Vec<Fact> = slots.keys().iter().map(|_| Fact::error("down")).collect();
        let _ = c.program.verdict(&errors, Utc::now());
        let _ = c.program.evaluate(&[], Utc::now());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(tree in expr()) {
        let printed = tree.to_string();
        let parsed = parse(&printed).map_err(|d| TestCaseError::fail(format!("{printed}\n{d}")))?;
        prop_assert_eq!(&parsed, &tree, "printed as {}", printed);
        prop_assert_eq!(parsed.to_string(), printed);
    }

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        exercise(&src);
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        exercise(&src);
    }
}

/// Inputs that once broke something, kept as regression tests.
#[test]
fn regressions() {
    for src in [
        "", " ", "(", "\"", "'\\", "/*", "!", "-", "a.", "f(x =", "x => 1", "[1,", "1 = 2", "\u{0}",
    ] {
        exercise(src);
        assert!(
            Program::compile(src, Registry::standard(), &mut SlotTable::new()).is_err(),
            "{src:?}"
        );
    }
}

//! Compilation: [`Expr`] → a tree of [`Node`]s with every function resolved to a fact slot or a
//! built-in, checked against the [`Registry`] (names, arity, named parameters, types).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::ast::{Arg, ArgValue, BinaryOp, Expr, ExprKind, Span, UnaryOp};
use super::duration;
use super::jq::{self, JqFilter};
use super::parse;
use super::registry::{Builtin, FnKind, Function, Method, Param, Registry, Ty};
use crate::diag::{Diagnostic, Kind, suggest};
use crate::facts::{FactKey, Source};
use crate::value::Value;
use chrono::{DateTime, Utc};

/// Interns [`FactKey`]s to slot indexes, shared by all the rules of a scorecard so that each
/// fact is fetched once and every rule reads it by index.
#[derive(Clone, Debug, Default)]
pub struct SlotTable {
    keys: Vec<FactKey>,
    index: HashMap<FactKey, usize>,
}

impl SlotTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys, by slot: `facts[i]` must answer `keys()[i]`.
    pub fn keys(&self) -> &[FactKey] {
        &self.keys
    }

    /// How many slots there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no rule needs any fact.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The slot of `key`, adding it when new.
    pub fn intern(&mut self, key: FactKey) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.keys.len();
        self.index.insert(key.clone(), i);
        self.keys.push(key);
        i
    }

    /// The slot of `key`, if a rule needs it.
    pub fn get(&self, key: &FactKey) -> Option<usize> {
        self.index.get(key).copied()
    }
}

/// A compact source span (byte offsets) carried by compiled nodes for runtime messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct At {
    pub start: u32,
    pub end: u32,
}

impl From<&Span> for At {
    fn from(s: &Span) -> Self {
        At {
            start: s.start as u32,
            end: s.end as u32,
        }
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator that holds exactly when this one does not.
    pub fn inverse(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            op => op,
        }
    }
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl ArithOp {
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
        }
    }
}

/// A compiled expression node. Names are resolved: facts are slot indexes, lambda parameters are
/// environment indexes.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(Value),
    Slot(u32),
    Local(u32),
    List(Box<[Node]>),
    Not(Box<Node>, At),
    Neg(Box<Node>, At),
    And(Box<Node>, Box<Node>, At),
    Or(Box<Node>, Box<Node>, At),
    /// `x == null` (`is_null`) / `x != null`; `id` indexes the comparison table.
    NullCheck {
        expr: Box<Node>,
        is_null: bool,
        id: u32,
    },
    /// `fact op constant`, the shape of most rules, fused.
    SlotCmp {
        op: CmpOp,
        slot: u32,
        rhs: Value,
        id: u32,
        at: At,
    },
    Cmp {
        op: CmpOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        id: u32,
        at: At,
    },
    Arith {
        op: ArithOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        at: At,
    },
    Member {
        target: Box<Node>,
        name: Arc<str>,
        at: At,
    },
    /// `list.any(x => ...)` and friends; the item is bound to environment slot `local`.
    Lambda {
        kind: LambdaKind,
        list: Box<Node>,
        body: Box<Node>,
        local: u32,
        at: At,
    },
    Aggregate {
        kind: AggKind,
        list: Box<Node>,
        at: At,
    },
    Regex {
        kind: RegexKind,
        target: Box<Node>,
        re: Arc<regex::Regex>,
        at: At,
    },
    FromNow {
        target: Box<Node>,
        at: At,
    },
    /// `duration(x)` / `timestamp(x)` of a computed string.
    Convert {
        to: Builtin,
        arg: Box<Node>,
        at: At,
    },
    Jq {
        input: Box<Node>,
        filter: Arc<JqFilter>,
        at: At,
    },
    Capture {
        name: Arc<str>,
        expr: Box<Node>,
    },
    /// A catalog function with computed arguments (`hasGroup(g)` in a lambda), answered
    /// during evaluation: `key` holds its constant arguments, `args` the computed ones.
    Lookup(Box<LookupCall>),
}

/// The parts of a [`Node::Lookup`].
#[derive(Clone, Debug)]
pub(crate) struct LookupCall {
    pub key: FactKey,
    pub args: Vec<(&'static str, Node)>,
    /// The call as written, for explanations.
    pub text: Arc<str>,
    pub at: At,
}

/// List methods taking a lambda.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LambdaKind {
    Any,
    All,
    Filter,
    Map,
}

/// List methods folding numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggKind {
    Sum,
    Average,
    Min,
    Max,
}

/// Regex methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegexKind {
    /// `string.matches(re)`: whole string.
    Matches,
    /// `string.matchesIn(re)`: anywhere.
    MatchesIn,
    /// `list.anyMatch(re)`: some item, whole string.
    AnyMatch,
}

/// What explanations need to know about one comparison: its operator, whether an odd number of
/// `!` enclose it, and the source text of each side.
#[derive(Clone, Debug)]
pub(crate) struct CmpInfo {
    pub op: CmpOp,
    pub negated: bool,
    pub lhs: String,
    pub rhs: String,
    pub lhs_const: bool,
    pub rhs_const: bool,
}

/// The output of the compiler, before it is wrapped as a [`super::Program`].
pub(crate) struct Output {
    pub root: Node,
    pub cmps: Vec<CmpInfo>,
    pub slots: Vec<usize>,
    pub slot_text: Vec<(usize, String)>,
    pub warnings: Vec<Diagnostic>,
}

type Result<T> = std::result::Result<T, Box<Diagnostic>>;

/// Whether rubric answers a data source (itself, as for `builtin`, or through a provider).
fn implemented(source: &str) -> bool {
    source == "builtin" || !matches!(Source::named(source), Source::Other(_))
}

/// CQL v1 bare names and their v2 forms.
const LEGACY_NAMES: &[(&str, &str)] = &[
    ("tag", "entity.tag()"),
    ("description", "entity.description()"),
    ("name", "entity.name()"),
    ("type", "entity.type()"),
    ("entity_descriptor", "entity.descriptor()"),
    ("owners_is_set", "ownership != null"),
];

pub(crate) fn compile(src: &str, reg: &Registry, slots: &mut SlotTable) -> Result<Output> {
    let expr = parse::parse(src)?;
    let mut c = Compiler {
        src,
        reg,
        slots,
        warnings: Vec::new(),
        cmps: Vec::new(),
        used: BTreeSet::new(),
        slot_text: Vec::new(),
        negated: false,
        locals: Vec::new(),
    };
    let (root, ty) = c.expr(&expr)?;
    if !matches!(ty, Ty::Bool | Ty::Any) {
        c.warn(
            &expr.span,
            format!("this expression is a {ty}; a rule must be true or false"),
            None,
        );
    }
    Ok(Output {
        root,
        cmps: c.cmps,
        slots: c.used.into_iter().collect(),
        slot_text: c.slot_text,
        warnings: c.warnings,
    })
}

struct Compiler<'a> {
    src: &'a str,
    reg: &'a Registry,
    slots: &'a mut SlotTable,
    warnings: Vec<Diagnostic>,
    cmps: Vec<CmpInfo>,
    used: BTreeSet<usize>,
    slot_text: Vec<(usize, String)>,
    /// Whether an odd number of `!` enclose the node being compiled.
    negated: bool,
    /// Lambda parameters in scope, innermost last.
    locals: Vec<String>,
}

/// One `.name` or `.name(args)` of a postfix chain.
struct Seg<'e> {
    name: &'e str,
    args: Option<&'e [Arg]>,
    /// The whole chain up to and including this segment.
    expr: &'e Expr,
    /// Where the name is (errors about the name point here).
    name_span: Span,
}

fn is_const(n: &Node) -> bool {
    matches!(n, Node::Const(_))
}

impl<'a> Compiler<'a> {
    fn error(&self, kind: Kind, span: &Span, message: impl Into<String>) -> Diagnostic {
        let width = self.src[span.clone()].chars().count();
        Diagnostic::error(message)
            .at_offset(self.src, span.start, width)
            .with_kind(kind)
    }

    fn warn(&mut self, span: &Span, message: impl Into<String>, hint: Option<String>) {
        let width = self.src[span.clone()].chars().count();
        let mut d = Diagnostic::warning(message).at_offset(self.src, span.start, width);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.warnings.push(d);
    }

    fn text(&self, span: &Span) -> String {
        self.src[span.clone()].to_string()
    }

    /// How an operand is named in explanations: its source text, looking through
    /// `captures("name", expr)` (which only records the value) to the expression it wraps.
    fn operand_text(&self, e: &Expr) -> String {
        if let ExprKind::Call { name, args } = &e.kind
            && name == "captures"
            && let [
                _,
                Arg {
                    value: ArgValue::Expr(inner),
                    ..
                },
            ] = args.as_slice()
        {
            return self.operand_text(inner);
        }
        self.text(&e.span)
    }

    fn expr(&mut self, e: &Expr) -> Result<(Node, Ty)> {
        match &e.kind {
            ExprKind::Null => Ok((Node::Const(Value::Null), Ty::Null)),
            ExprKind::Bool(b) => Ok((Node::Const(Value::Bool(*b)), Ty::Bool)),
            ExprKind::Number(n) => Ok((Node::Const(Value::Number(*n)), Ty::Number)),
            ExprKind::String(s) => Ok((Node::Const(Value::string(s)), Ty::String)),
            ExprKind::List(items) => {
                let nodes = items
                    .iter()
                    .map(|i| self.expr(i).map(|(n, _)| n))
                    .collect::<Result<Vec<_>>>()?;
                if nodes.iter().all(is_const) {
                    let values: Vec<Value> = nodes
                        .into_iter()
                        .map(|n| {
                            if let Node::Const(v) = n {
                                v
                            } else {
                                Value::Null
                            }
                        })
                        .collect();
                    Ok((Node::Const(Value::List(values.into())), Ty::List))
                } else {
                    Ok((Node::List(nodes.into()), Ty::List))
                }
            }
            ExprKind::Ident(_)
            | ExprKind::Call { .. }
            | ExprKind::Member { .. }
            | ExprKind::Method { .. } => self.chain(e),
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => {
                if matches!(&expr.kind, ExprKind::Binary { op, .. } if op.is_comparison())
                    && !self.src[expr.span.clone()].starts_with('(')
                {
                    let inner = self.text(&expr.span);
                    self.warn(
                        &e.span,
                        format!("`!` applies to the whole comparison: this reads as `!({inner})`"),
                        Some(format!("write `!({inner})` to make that plain")),
                    );
                }
                self.negated = !self.negated;
                let inner = self.expr(expr);
                self.negated = !self.negated;
                let (node, ty) = inner?;
                self.expect_bool(ty, &expr.span, "`!`")?;
                Ok((Node::Not(Box::new(node), At::from(&e.span)), Ty::Bool))
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => {
                let (node, ty) = self.expr(expr)?;
                if !matches!(ty, Ty::Any | Ty::Null | Ty::Number | Ty::Duration) {
                    return Err(self
                        .error(Kind::Type, &e.span, format!("cannot negate a {ty}"))
                        .into());
                }
                Ok((
                    Node::Neg(Box::new(node), At::from(&e.span)),
                    if ty == Ty::Null { Ty::Any } else { ty },
                ))
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, *op, lhs, rhs),
        }
    }

    fn expect_bool(&self, ty: Ty, span: &Span, what: &str) -> Result<()> {
        if ty.conflicts_with(Ty::Bool) {
            return Err(self
                .error(
                    Kind::Type,
                    span,
                    format!("{what} needs true or false, but this is a {ty}"),
                )
                .into());
        }
        Ok(())
    }

    fn binary(&mut self, e: &Expr, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Result<(Node, Ty)> {
        let at = At::from(&e.span);
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let (l, lt) = self.expr(lhs)?;
                let (r, rt) = self.expr(rhs)?;
                self.expect_bool(lt, &lhs.span, &format!("`{}`", op.symbol()))?;
                self.expect_bool(rt, &rhs.span, &format!("`{}`", op.symbol()))?;
                let node = if op == BinaryOp::And {
                    Node::And(Box::new(l), Box::new(r), at)
                } else {
                    Node::Or(Box::new(l), Box::new(r), at)
                };
                Ok((node, Ty::Bool))
            }
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => {
                let cop = match op {
                    BinaryOp::Eq => CmpOp::Eq,
                    BinaryOp::Ne => CmpOp::Ne,
                    BinaryOp::Lt => CmpOp::Lt,
                    BinaryOp::Le => CmpOp::Le,
                    BinaryOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                self.comparison(e, cop, lhs, rhs)
            }
            _ => {
                let aop = match op {
                    BinaryOp::Add => ArithOp::Add,
                    BinaryOp::Sub => ArithOp::Sub,
                    BinaryOp::Mul => ArithOp::Mul,
                    BinaryOp::Div => ArithOp::Div,
                    _ => ArithOp::Rem,
                };
                let (l, lt) = self.expr(lhs)?;
                let (r, rt) = self.expr(rhs)?;
                let ty = arith_type(aop, lt, rt).ok_or_else(|| {
                    self.error(
                        Kind::Type,
                        &e.span,
                        format!("cannot apply `{}` to a {lt} and a {rt}", aop.symbol()),
                    )
                })?;
                Ok((
                    Node::Arith {
                        op: aop,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                        at,
                    },
                    ty,
                ))
            }
        }
    }

    fn comparison(&mut self, e: &Expr, op: CmpOp, lhs: &Expr, rhs: &Expr) -> Result<(Node, Ty)> {
        let id = self.cmps.len() as u32;
        let null_side = match (&lhs.kind, &rhs.kind) {
            (_, ExprKind::Null) => Some(lhs),
            (ExprKind::Null, _) => Some(rhs),
            _ => None,
        };
        if let Some(other) = null_side.filter(|_| matches!(op, CmpOp::Eq | CmpOp::Ne)) {
            // `x == null` / `x != null` are null checks, never "a comparison with null".
            self.cmps.push(CmpInfo {
                op,
                negated: self.negated,
                lhs: self.operand_text(other),
                rhs: "null".into(),
                lhs_const: false,
                rhs_const: true,
            });
            let (node, _) = self.expr(other)?;
            return Ok((
                Node::NullCheck {
                    expr: Box::new(node),
                    is_null: op == CmpOp::Eq,
                    id,
                },
                Ty::Bool,
            ));
        }
        self.cmps.push(CmpInfo {
            op,
            negated: self.negated,
            lhs: self.operand_text(lhs),
            rhs: self.operand_text(rhs),
            lhs_const: false,
            rhs_const: false,
        });
        let (l, lt) = self.expr(lhs)?;
        let (r, rt) = self.expr(rhs)?;
        if lt.conflicts_with(rt) {
            let mut d = self.error(
                Kind::Type,
                &e.span,
                format!("cannot compare a {lt} with a {rt}"),
            );
            let number_text = |x: &Expr| match &x.kind {
                ExprKind::String(s) if s.trim().parse::<f64>().is_ok() => {
                    Some(s.trim().to_string())
                }
                _ => None,
            };
            if let Some(n) = number_text(lhs).or_else(|| number_text(rhs)) {
                d = d.with_hint(format!("write the number without quotes: {n}"));
            }
            return Err(d.into());
        }
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            for (t, s) in [(lt, &lhs.span), (rt, &rhs.span)] {
                if matches!(t, Ty::Bool | Ty::List | Ty::Object | Ty::Null) {
                    return Err(self
                        .error(
                            Kind::Type,
                            s,
                            format!("`{}` cannot order a {t}", op.symbol()),
                        )
                        .into());
                }
            }
        }
        let info = &mut self.cmps[id as usize];
        info.lhs_const = is_const(&l);
        info.rhs_const = is_const(&r);
        // The common shape `fact op constant` gets one fused node: no recursion, no copies.
        if let (Node::Slot(slot), Node::Const(rhs)) = (&l, &r) {
            let node = Node::SlotCmp {
                op,
                slot: *slot,
                rhs: rhs.clone(),
                id,
                at: At::from(&e.span),
            };
            return Ok((node, Ty::Bool));
        }
        Ok((
            Node::Cmp {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
                id,
                at: At::from(&e.span),
            },
            Ty::Bool,
        ))
    }

    /// Resolves `root.seg.seg(args)...`: namespaces and functions against the registry, the rest
    /// as property reads and methods on values.
    fn name_span(&self, target: &Expr, name: &str, whole: &Expr) -> Span {
        let after = target.span.end;
        let start = self.src[after..whole.span.end]
            .find(name)
            .map_or(after, |i| after + i);
        start..start + name.len()
    }

    fn chain(&mut self, e: &Expr) -> Result<(Node, Ty)> {
        let mut segs: Vec<Seg<'_>> = Vec::new();
        let mut root = e;
        loop {
            match &root.kind {
                ExprKind::Member { target, name } => {
                    segs.push(Seg {
                        name,
                        args: None,
                        expr: root,
                        name_span: self.name_span(target, name, root),
                    });
                    root = target;
                }
                ExprKind::Method { target, name, args } => {
                    segs.push(Seg {
                        name,
                        args: Some(args),
                        expr: root,
                        name_span: self.name_span(target, name, root),
                    });
                    root = target;
                }
                _ => break,
            }
        }
        segs.reverse();
        let (node, ty, used) = match &root.kind {
            ExprKind::Ident(name) => self.root_name(root, name, &segs)?,
            ExprKind::Call { name, args } => {
                let f = self.reg.function("", name).ok_or_else(|| {
                    let mut d =
                        self.error(Kind::Name, &root.span, format!("unknown function {name}"));
                    let globals = self.reg.names_in("");
                    if let Some(s) = suggest(name, globals) {
                        d = d.with_hint(format!("did you mean {s}?"));
                    }
                    d
                })?;
                let (n, t) = self.call(f, args, root)?;
                (n, t, 0)
            }
            _ => {
                let (n, t) = self.expr(root)?;
                (n, t, 0)
            }
        };
        // A value from a source rubric has no data for is always null: methods rubric does not
        // know (Cortex's `semver(v).isStable()`) are accepted on it and stay null.
        let opaque = matches!(&node, Node::Slot(s)
            if matches!(self.slots.keys()[*s as usize].source, Source::Other(_)));
        segs[used..].iter().try_fold((node, ty), |(n, t), seg| {
            if opaque && seg.args.is_some() && self.reg.methods_named(seg.name).next().is_none() {
                let at = At::from(&seg.expr.span);
                return Ok((
                    Node::Member {
                        target: Box::new(n),
                        name: Arc::from(seg.name),
                        at,
                    },
                    Ty::Any,
                ));
            }
            self.value_op(n, t, seg)
        })
    }

    /// A chain starting at a bare name: a lambda parameter, a namespace, or a v1 form.
    /// Returns the node, its type and how many segments it consumed.
    fn root_name(
        &mut self,
        root: &Expr,
        name: &str,
        segs: &[Seg<'_>],
    ) -> Result<(Node, Ty, usize)> {
        if let Some(i) = self.locals.iter().rposition(|l| l == name) {
            return Ok((Node::Local(i as u32), Ty::Any, 0));
        }
        let reg = self.reg;
        let Some(ns) = reg.namespace(name) else {
            if let Some((_, v2)) = LEGACY_NAMES.iter().find(|(v1, _)| *v1 == name) {
                return Err(self
                    .error(Kind::Unsupported, &root.span, format!("`{name}` is CQL v1"))
                    .with_hint(format!("in CQL v2 write `{v2}`"))
                    .into());
            }
            if reg.function("", name).is_some() {
                return Err(self
                    .error(Kind::Type, &root.span, format!("{name} is a function"))
                    .with_hint(format!("call it: `{name}(...)`"))
                    .into());
            }
            // An unknown namespace: a data source rubric has never heard of.
            let hint = suggest(name, reg.namespaces().iter().map(|n| n.name))
                .map(|s| format!("did you mean {s}?"));
            self.warn(
                &root.span,
                format!("unknown namespace {name}: rules using it get an error outcome"),
                hint,
            );
            return self.unimplemented(root, name, name, segs);
        };
        let Some(first) = segs.first() else {
            let Some(ty) = ns.bare else {
                return Err(self
                    .error(
                        Kind::Type,
                        &root.span,
                        format!("`{name}` is a namespace, not a value"),
                    )
                    .with_hint(format!(
                        "call one of its functions, e.g. {}",
                        self.example_in(name)
                    ))
                    .into());
            };
            if !implemented(ns.source) {
                self.not_configured(&root.span, ns.source);
            }
            let slot = self.slot(FactKey::new(ns.source, name, ""), &root.span);
            return Ok((Node::Slot(slot), ty, 0));
        };
        // `codecov.pullRequest(1).patchCoverage()`: a dotted function spans two segments.
        if reg.has_chain(name, first.name)
            && let Some(second) = segs.get(1)
        {
            let dotted = format!("{}.{}", first.name, second.name);
            match reg.function(name, &dotted) {
                Some(f) if second.args.is_some_and(|a| a.is_empty()) => {
                    let args = first.args.unwrap_or(&[]);
                    let (n, t) = self.call(f, args, second.expr)?;
                    return Ok((n, t, 2));
                }
                Some(_) => {}
                None => {
                    let mut d = self.error(
                        Kind::Name,
                        &second.name_span,
                        format!("unknown function {name}.{dotted}"),
                    );
                    if let Some(s) = suggest(second.name, reg.chain_names(name, first.name)) {
                        d = d.with_hint(format!("did you mean {name}.{}.{s}?", first.name));
                    }
                    return Err(d.into());
                }
            }
        }
        match (reg.function(name, first.name), first.args) {
            (Some(f), Some(args)) => {
                let (n, t) = self.call(f, args, first.expr)?;
                Ok((n, t, 1))
            }
            (Some(f), None) => Err(self
                .error(
                    Kind::Type,
                    &first.name_span,
                    format!("{} is a function", f.qualified_name()),
                )
                .with_hint(format!("call it: `{}()`", f.qualified_name()))
                .into()),
            (None, _) if !ns.implemented => {
                self.not_configured(&root.span, ns.source);
                self.unimplemented(root, ns.source, name, segs)
            }
            (None, _) => {
                let mut d = self.error(
                    Kind::Name,
                    &first.name_span,
                    format!("unknown function {name}.{}", first.name),
                );
                if let Some(s) = suggest(first.name, reg.names_in(name)) {
                    d = d.with_hint(format!("did you mean {name}.{s}?"));
                }
                Err(d.into())
            }
        }
    }

    fn example_in(&self, ns: &str) -> String {
        self.reg
            .functions()
            .iter()
            .find(|f| f.namespace == ns)
            .map_or_else(
                || format!("{ns}.f()"),
                |f| format!("{}()", f.qualified_name()),
            )
    }

    fn not_configured(&mut self, span: &Span, source: &str) {
        self.warn(
            span,
            format!("rubric has no data source {source}: rules using it get an error outcome"),
            None,
        );
    }

    /// A call into a namespace rubric knows of but has no data for (or has never heard of): a
    /// fact whose source is that namespace, so that evaluation says it is not configured.
    fn unimplemented(
        &mut self,
        root: &Expr,
        source: &str,
        ns: &str,
        segs: &[Seg<'_>],
    ) -> Result<(Node, Ty, usize)> {
        let (function, args, used, span) = match segs.first() {
            Some(Seg {
                name,
                args: Some(args),
                expr,
                ..
            }) => (*name, *args, 1, &expr.span),
            _ => ("", &[][..], 0, &root.span),
        };
        let mut key = FactKey::new(source, ns, function);
        for (i, a) in args.iter().enumerate() {
            let name = a.name.clone().unwrap_or_else(|| format!("arg{i}"));
            let json = match &a.value {
                ArgValue::Expr(x) => match self.expr(x) {
                    Ok((Node::Const(v), _)) => v.to_json(),
                    _ => serde_json::Value::String(self.text(&a.span)),
                },
                ArgValue::Lambda { .. } => serde_json::Value::String(self.text(&a.span)),
            };
            key = key.with_arg(&name, json);
        }
        let slot = self.slot(key, span);
        Ok((Node::Slot(slot), Ty::Any, used))
    }

    fn slot(&mut self, key: FactKey, span: &Span) -> u32 {
        let slot = self.slots.intern(key);
        if self.used.insert(slot) {
            self.slot_text.push((slot, self.text(span)));
        }
        slot as u32
    }

    /// Binds arguments to parameters and compiles a registered function call.
    fn call(&mut self, f: &Function, args: &[Arg], call: &Expr) -> Result<(Node, Ty)> {
        let fname = f.qualified_name();
        let mut bound: Vec<Option<(Node, Ty, &Arg)>> = (0..f.params.len()).map(|_| None).collect();
        let mut positional = 0usize;
        for arg in args {
            let idx = match &arg.name {
                Some(n) => f.params.iter().position(|p| p.name == n).ok_or_else(|| {
                    let mut d = self.error(
                        Kind::Name,
                        &arg.span,
                        format!("{fname} has no parameter `{n}`"),
                    );
                    d = match suggest(n, f.params.iter().map(|p| p.name)) {
                        Some(s) => d.with_hint(format!("did you mean `{s}`?")),
                        None if f.params.is_empty() => {
                            d.with_hint(format!("{fname} takes no arguments"))
                        }
                        None => d.with_hint(format!("parameters: {}", param_list(f.params))),
                    };
                    d
                })?,
                None => {
                    positional += 1;
                    if positional > f.params.len() {
                        return Err(self
                            .error(
                                Kind::Argument,
                                &arg.span,
                                format!(
                                    "{fname} takes {}, got {}",
                                    count(f.params.len()),
                                    args.len()
                                ),
                            )
                            .with_hint(format!("signature: {}", f.signature()))
                            .into());
                    }
                    positional - 1
                }
            };
            if bound[idx].is_some() {
                return Err(self
                    .error(
                        Kind::Argument,
                        &arg.span,
                        format!("argument `{}` given twice", f.params[idx].name),
                    )
                    .into());
            }
            let ArgValue::Expr(x) = &arg.value else {
                return Err(self
                    .error(
                        Kind::Argument,
                        &arg.span,
                        format!("{fname} does not take a lambda"),
                    )
                    .into());
            };
            let (node, ty) = self.expr(x)?;
            let p = &f.params[idx];
            if ty.conflicts_with(p.ty) && p.ty != Ty::Any {
                return Err(self
                    .error(
                        Kind::Type,
                        &arg.span,
                        format!(
                            "argument `{}` of {fname} must be a {}, but this is a {ty}",
                            p.name, p.ty
                        ),
                    )
                    .into());
            }
            bound[idx] = Some((node, ty, arg));
        }
        for (p, b) in f.params.iter().zip(&bound) {
            if p.required && b.is_none() {
                return Err(self
                    .error(
                        Kind::Argument,
                        &call.span,
                        format!("{fname} needs argument `{}`", p.name),
                    )
                    .with_hint(format!("signature: {}", f.signature()))
                    .into());
            }
        }
        match f.kind {
            FnKind::Fact => {
                let source = Source::named(f.source);
                let mut key = FactKey::new(source.clone(), f.namespace, f.name);
                let mut computed = Vec::new();
                for (p, b) in f.params.iter().zip(bound) {
                    let json = match b {
                        Some((Node::Const(v), _, _)) => v.to_json(),
                        // No data will be fetched for a source rubric lacks: the text keys it.
                        Some((_, _, arg)) if !implemented(f.source) => {
                            serde_json::Value::String(self.text(&arg.span))
                        }
                        // The catalog is in memory: it answers computed arguments too.
                        Some((node, _, _)) if source == Source::Catalog => {
                            computed.push((p.name, node));
                            continue;
                        }
                        Some((_, _, arg)) => {
                            return Err(self
                                .error(Kind::Argument, &arg.span, format!("argument `{}` of {fname} must be a constant", p.name))
                                .with_hint("facts are fetched before evaluation, so their arguments cannot depend on other values").into());
                        }
                        None => match p.default {
                            Some(d) => serde_json::from_str(d).unwrap_or(serde_json::Value::Null),
                            None => continue,
                        },
                    };
                    key = key.with_arg(p.name, json);
                }
                if !implemented(f.source) {
                    self.not_configured(&call.span, f.source);
                }
                if !computed.is_empty() {
                    let call = LookupCall {
                        key,
                        args: computed,
                        text: Arc::from(self.text(&call.span)),
                        at: At::from(&call.span),
                    };
                    return Ok((Node::Lookup(Box::new(call)), f.returns));
                }
                let slot = self.slot(key, &call.span);
                Ok((Node::Slot(slot), f.returns))
            }
            FnKind::Builtin(b) => self.builtin(b, bound, call),
        }
    }

    fn builtin(
        &mut self,
        b: Builtin,
        args: Vec<Option<(Node, Ty, &Arg)>>,
        call: &Expr,
    ) -> Result<(Node, Ty)> {
        let at = At::from(&call.span);
        let mut args = args
            .into_iter()
            .map(|a| a.expect("required parameters are bound"));
        let (first, _, first_arg) = args.next().expect("every builtin has a parameter");
        match b {
            Builtin::Duration | Builtin::Timestamp => {
                let parse = |text: &str| match b {
                    Builtin::Duration => duration::parse(text).map(Value::Duration),
                    _ => parse_timestamp(text).map(Value::Timestamp),
                };
                let ty = if b == Builtin::Duration {
                    Ty::Duration
                } else {
                    Ty::Timestamp
                };
                match first {
                    Node::Const(Value::String(text)) => {
                        let v = parse(&text)
                            .map_err(|m| self.error(Kind::Argument, &first_arg.span, m))?;
                        Ok((Node::Const(v), ty))
                    }
                    node => Ok((
                        Node::Convert {
                            to: b,
                            arg: Box::new(node),
                            at,
                        },
                        ty,
                    )),
                }
            }
            Builtin::Jq => {
                let (filter, _, filter_arg) = args.next().expect("jq has a filter");
                let Node::Const(Value::String(code)) = filter else {
                    return Err(self
                        .error(
                            Kind::Argument,
                            &filter_arg.span,
                            "the jq filter must be a constant string",
                        )
                        .into());
                };
                let compiled = jq::compile(&code)
                    .map_err(|m| self.error(Kind::Argument, &filter_arg.span, m))?;
                Ok((
                    Node::Jq {
                        input: Box::new(first),
                        filter: compiled,
                        at,
                    },
                    Ty::Any,
                ))
            }
            Builtin::Captures => {
                let Node::Const(Value::String(name)) = first else {
                    return Err(self
                        .error(
                            Kind::Argument,
                            &first_arg.span,
                            "the capture name must be a constant string",
                        )
                        .into());
                };
                let (value, ty, _) = args.next().expect("captures has a value");
                Ok((
                    Node::Capture {
                        name: Arc::from(&*name),
                        expr: Box::new(value),
                    },
                    ty,
                ))
            }
        }
    }

    /// `.name` or `.name(args)` applied to a computed value.
    fn value_op(&mut self, node: Node, ty: Ty, seg: &Seg<'_>) -> Result<(Node, Ty)> {
        let at = At::from(&seg.expr.span);
        let Some(args) = seg.args else {
            if matches!(ty, Ty::Bool | Ty::Number | Ty::Duration | Ty::Timestamp)
                || (matches!(ty, Ty::List | Ty::String) && seg.name != "length")
            {
                return Err(self
                    .error(
                        Kind::Name,
                        &seg.name_span,
                        format!("a {ty} has no property `{}`", seg.name),
                    )
                    .into());
            }
            let out = if seg.name == "length" && matches!(ty, Ty::List | Ty::String) {
                Ty::Number
            } else {
                Ty::Any
            };
            return Ok((
                Node::Member {
                    target: Box::new(node),
                    name: Arc::from(seg.name),
                    at,
                },
                out,
            ));
        };
        let reg = self.reg;
        let candidates: Vec<&Method> = reg.methods_named(seg.name).collect();
        if candidates.is_empty() {
            let mut d = self.error(
                Kind::Name,
                &seg.name_span,
                format!("unknown method {}", seg.name),
            );
            let mut names: Vec<&str> = reg.methods().iter().map(|m| m.name).collect();
            names.dedup();
            if let Some(s) = suggest(seg.name, names) {
                d = d.with_hint(format!("did you mean {s}?"));
            }
            return Err(d.into());
        }
        let Some(m) = candidates
            .iter()
            .find(|m| m.receiver == ty || matches!(ty, Ty::Any | Ty::Null))
            .copied()
        else {
            let on: Vec<&str> = candidates.iter().map(|m| m.receiver.name()).collect();
            return Err(self
                .error(
                    Kind::Type,
                    &seg.name_span,
                    format!(
                        "`.{}()` is a method of {}, not of a {ty}",
                        seg.name,
                        on.join(" and ")
                    ),
                )
                .into());
        };
        if args.len() != m.params.len() && !(m.property && args.is_empty()) {
            return Err(self
                .error(
                    Kind::Argument,
                    &seg.name_span,
                    format!(
                        "`.{}()` takes {}, got {}",
                        m.name,
                        count(m.params.len()),
                        args.len()
                    ),
                )
                .into());
        }
        if let Some(named) = args.iter().find(|a| a.name.is_some()) {
            return Err(self
                .error(
                    Kind::Argument,
                    &named.span,
                    format!("`.{}()` takes no named arguments", m.name),
                )
                .into());
        }
        let target = Box::new(node);
        match m.name {
            "length" => Ok((
                Node::Member {
                    target,
                    name: Arc::from("length"),
                    at,
                },
                Ty::Number,
            )),
            "any" | "all" | "filter" | "map" => {
                let ArgValue::Lambda { param, body } = &args[0].value else {
                    return Err(self
                        .error(
                            Kind::Argument,
                            &args[0].span,
                            format!("`.{}()` needs a lambda", m.name),
                        )
                        .with_hint(format!("e.g. `.{}(x => x.type == \"service\")`", m.name))
                        .into());
                };
                self.locals.push(param.clone());
                let compiled = self.expr(body);
                self.locals.pop();
                let (body_node, body_ty) = compiled?;
                let kind = match m.name {
                    "any" => LambdaKind::Any,
                    "all" => LambdaKind::All,
                    "filter" => LambdaKind::Filter,
                    _ => LambdaKind::Map,
                };
                if kind != LambdaKind::Map {
                    self.expect_bool(
                        body_ty,
                        &body.span,
                        &format!("the lambda of `.{}()`", m.name),
                    )?;
                }
                let local = self.locals.len() as u32;
                Ok((
                    Node::Lambda {
                        kind,
                        list: target,
                        body: Box::new(body_node),
                        local,
                        at,
                    },
                    m.returns,
                ))
            }
            "sum" | "average" | "min" | "max" => {
                let kind = match m.name {
                    "sum" => AggKind::Sum,
                    "average" => AggKind::Average,
                    "min" => AggKind::Min,
                    _ => AggKind::Max,
                };
                Ok((
                    Node::Aggregate {
                        kind,
                        list: target,
                        at,
                    },
                    Ty::Number,
                ))
            }
            "matches" | "matchesIn" | "anyMatch" => {
                let arg = &args[0];
                let pattern = match &arg.value {
                    ArgValue::Expr(x) => match self.expr(x)? {
                        (Node::Const(Value::String(p)), _) => p,
                        _ => {
                            return Err(self
                                .error(
                                    Kind::Argument,
                                    &arg.span,
                                    "the regex must be a constant string",
                                )
                                .into());
                        }
                    },
                    ArgValue::Lambda { .. } => {
                        return Err(self
                            .error(
                                Kind::Argument,
                                &arg.span,
                                "the regex must be a constant string",
                            )
                            .into());
                    }
                };
                let (kind, anchored) = match m.name {
                    "matches" => (RegexKind::Matches, true),
                    "matchesIn" => (RegexKind::MatchesIn, false),
                    _ => (RegexKind::AnyMatch, true),
                };
                let re = compile_regex(&pattern, anchored)
                    .map_err(|msg| self.error(Kind::Argument, &arg.span, msg))?;
                Ok((
                    Node::Regex {
                        kind,
                        target,
                        re: Arc::new(re),
                        at,
                    },
                    Ty::Bool,
                ))
            }
            _ => Ok((Node::FromNow { target, at }, Ty::Duration)),
        }
    }
}

/// Compiles a rule's regex: anchored at both ends for whole-string matches, size-limited.
fn compile_regex(pattern: &str, anchored: bool) -> std::result::Result<regex::Regex, String> {
    let full = if anchored {
        format!(r"\A(?:{pattern})\z")
    } else {
        pattern.to_string()
    };
    regex::RegexBuilder::new(&full)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            format!(
                "invalid regex `{pattern}`: {}",
                last.trim_start_matches("error: ")
            )
        })
}

/// RFC 3339 text to a UTC timestamp.
pub(crate) fn parse_timestamp(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp: {e}"))
}

fn count(n: usize) -> String {
    match n {
        0 => "no arguments".into(),
        1 => "1 argument".into(),
        n => format!("{n} arguments"),
    }
}

fn param_list(params: &[Param]) -> String {
    params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// The result type of an arithmetic operator, or `None` when the operands cannot be combined.
fn arith_type(op: ArithOp, l: Ty, r: Ty) -> Option<Ty> {
    use Ty::*;
    Some(match (op, l, r) {
        (_, Any | Null, _) | (_, _, Any | Null) => Any,
        (_, Number, Number) => Number,
        (ArithOp::Add, String, String) => String,
        (ArithOp::Add | ArithOp::Sub, Duration, Duration) => Duration,
        (ArithOp::Add | ArithOp::Sub, Timestamp, Duration) => Timestamp,
        (ArithOp::Add, Duration, Timestamp) => Timestamp,
        (ArithOp::Sub, Timestamp, Timestamp) => Duration,
        (ArithOp::Mul, Duration, Number) | (ArithOp::Mul, Number, Duration) => Duration,
        _ => return None,
    })
}

//! The syntax tree of a CQL expression, and its printer (which re-parses to the same tree).

use std::fmt;
use std::ops::Range;

/// Byte range of a node in the source.
pub type Span = Range<usize>;

/// An expression with its source span. Equality ignores spans, so a printed and re-parsed tree
/// compares equal to the original.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is in the source.
    pub span: Span,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true`, `false`
    Bool(bool),
    /// `95`, `-0.5`
    Number(f64),
    /// `"text"`, `'text'` (escapes resolved)
    String(String),
    /// `[a, b]`
    List(Vec<Expr>),
    /// A bare name: a namespace (`codecov`), a lambda parameter (`x`).
    Ident(String),
    /// A global call: `custom("key")`.
    Call {
        /// The function name.
        name: String,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// A property read: `target.name`.
    Member {
        /// The value read from.
        target: Box<Expr>,
        /// The property.
        name: String,
    },
    /// A method or namespaced call: `target.name(args)`.
    Method {
        /// The value or namespace the method is called on.
        target: Box<Expr>,
        /// The method name.
        name: String,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `!x`, `-x`
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `a op b`
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
}

/// One argument of a call. Equality ignores the span, as for [`Expr`].
#[derive(Clone, Debug)]
pub struct Arg {
    /// The parameter name when given as `name = value`.
    pub name: Option<String>,
    /// The value.
    pub value: ArgValue,
    /// Where the whole argument is.
    pub span: Span,
}

impl PartialEq for Arg {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.value == other.value
    }
}

/// An argument's value: an expression or a lambda.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    /// An ordinary expression.
    Expr(Expr),
    /// `x => body`
    Lambda {
        /// The parameter name.
        param: String,
        /// The body.
        body: Expr,
    },
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `!`
    Not,
    /// `-`
    Neg,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `OR`
    Or,
    /// `AND`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Whether this is one of `== != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// Binding strength (higher binds tighter); the Pratt table in parse.rs uses the same order.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => prec::OR,
            BinaryOp::And => prec::AND,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => prec::CMP,
            BinaryOp::Add | BinaryOp::Sub => prec::SUM,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => prec::PRODUCT,
        }
    }
}

/// Precedence levels, loosest first.
pub mod prec {
    /// `OR`
    pub const OR: u8 = 1;
    /// `AND`
    pub const AND: u8 = 2;
    /// prefix `!`
    pub const NOT: u8 = 3;
    /// `== != < <= > >=`
    pub const CMP: u8 = 4;
    /// `+ -`
    pub const SUM: u8 = 5;
    /// `* / %`
    pub const PRODUCT: u8 = 6;
    /// prefix `-`
    pub const NEG: u8 = 7;
    /// literals, names, calls, parentheses, postfix chains
    pub const ATOM: u8 = 8;
}

impl Expr {
    /// How tightly this expression binds when printed (see [`prec`]).
    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary { op, .. } => op.precedence(),
            ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => prec::NOT,
            ExprKind::Unary {
                op: UnaryOp::Neg, ..
            } => prec::NEG,
            ExprKind::Number(n) if n.is_sign_negative() => prec::NEG,
            _ => prec::ATOM,
        }
    }

    /// The deepest nesting of this tree (a leaf is 1), computed without recursion.
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((e, d)) = stack.pop() {
            max = max.max(d);
            for_each_child(e, &mut |c| stack.push((c, d + 1)));
        }
        max
    }
}

/// Calls `f` on every direct child expression (lambda bodies included).
pub fn for_each_child<'a>(e: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    let args = |args: &'a [Arg], f: &mut dyn FnMut(&'a Expr)| {
        for a in args {
            match &a.value {
                ArgValue::Expr(x) | ArgValue::Lambda { body: x, .. } => f(x),
            }
        }
    };
    match &e.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::Ident(_) => {}
        ExprKind::List(items) => items.iter().for_each(&mut *f),
        ExprKind::Call { args: a, .. } => args(a, f),
        ExprKind::Member { target, .. } => f(target),
        ExprKind::Method {
            target, args: a, ..
        } => {
            f(target);
            args(a, f);
        }
        ExprKind::Unary { expr, .. } => f(expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            f(lhs);
            f(rhs);
        }
    }
}

/// Writes a string literal in double quotes with CQL escapes.
pub fn write_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn write_child(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if e.precedence() < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn write_args(f: &mut fmt::Formatter<'_>, args: &[Arg]) -> fmt::Result {
    f.write_str("(")?;
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        if let Some(n) = &a.name {
            write!(f, "{n} = ")?;
        }
        match &a.value {
            ArgValue::Expr(e) => write!(f, "{e}")?,
            ArgValue::Lambda { param, body } => write!(f, "{param} => {body}")?,
        }
    }
    f.write_str(")")
}

/// Prints canonical CQL: `AND`/`OR` in upper case, double-quoted strings, parentheses only where
/// precedence needs them (and around a `!` operand of a tighter operator, to stay unambiguous).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Null => f.write_str("null"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Number(n) => write!(f, "{n}"),
            ExprKind::String(s) => write_string(f, s),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            ExprKind::Ident(n) => f.write_str(n),
            ExprKind::Call { name, args } => {
                f.write_str(name)?;
                write_args(f, args)
            }
            ExprKind::Member { target, name } => {
                write_child(f, target, prec::ATOM)?;
                write!(f, ".{name}")
            }
            ExprKind::Method { target, name, args } => {
                write_child(f, target, prec::ATOM)?;
                write!(f, ".{name}")?;
                write_args(f, args)
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => {
                f.write_str("!")?;
                write_child(f, expr, prec::NOT)
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => {
                f.write_str("-")?;
                // `-(5)` must not print as `-5`, which would re-parse as the literal -5.
                let min = if matches!(expr.kind, ExprKind::Number(_)) {
                    prec::ATOM + 1
                } else {
                    prec::NEG
                };
                write_child(f, expr, min)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                write_child(f, lhs, p)?;
                write!(f, " {} ", op.symbol())?;
                write_child(f, rhs, p + 1)
            }
        }
    }
}

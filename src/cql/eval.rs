//! Evaluation of compiled nodes over prefetched facts: one evaluator, generic over a tracer, so
//! the fast path (verdict only, no allocation for scalar rules) and the explaining path share
//! every semantic rule.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::compile::{
    AggKind, ArithOp, At, CmpOp, LambdaKind, LookupCall, Node, RegexKind, parse_timestamp,
};
use super::duration;
use super::registry::Builtin;
use crate::facts::{Fact, FactKey, FactStatus, Lookup};
use crate::value::Value;

/// "No fact": the value did not come straight from a fact slot.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// A value and the slot it came from (for explaining nulls).
pub(crate) struct Out<'a> {
    pub v: Cow<'a, Value>,
    pub slot: u32,
}

impl<'a> Out<'a> {
    fn owned(v: Value) -> Self {
        Out {
            v: Cow::Owned(v),
            slot: NO_SLOT,
        }
    }

    #[inline]
    fn bool(b: bool) -> Self {
        Out::owned(Value::Bool(b))
    }
}

/// Why evaluation stopped: data, rendered to text only on the explaining path.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ErrorKind {
    /// `"a" < 1`
    Compare {
        op: CmpOp,
        lhs: &'static str,
        rhs: &'static str,
    },
    /// `1 AND true`, `!5`
    NotBoolean { op: &'static str, got: &'static str },
    /// `"a" * 2`
    Arith {
        op: ArithOp,
        lhs: &'static str,
        rhs: &'static str,
    },
    /// `1 / 0`
    DivisionByZero,
    /// `(5).x`
    NoProperty { ty: &'static str },
    /// `5.any(x => x)`
    NotAList { got: &'static str },
    /// A fact slot the caller did not supply.
    MissingFact(u32),
    /// The rule used up its step budget (`[cql] max_steps`); `repeated` when it had done so
    /// often enough before that it was not given a budget this time.
    Budget { steps: u64, repeated: bool },
    /// Anything else, already in words.
    Other(String),
}

/// A runtime error with the span of the expression that raised it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EvalError {
    pub kind: ErrorKind,
    pub at: At,
}

impl EvalError {
    fn new(kind: ErrorKind, at: At) -> Self {
        EvalError { kind, at }
    }

    /// The sentence for people (`src` is the rule, to quote the failing part).
    pub fn message(&self, src: &str) -> String {
        let text = src
            .get(self.at.start as usize..self.at.end as usize)
            .unwrap_or("");
        match &self.kind {
            ErrorKind::Compare { op, lhs, rhs } => {
                format!(
                    "cannot compare a {lhs} with a {rhs} (`{}` in `{text}`)",
                    op.symbol()
                )
            }
            ErrorKind::NotBoolean { op, got } => {
                format!("{op} needs true or false, got a {got} in `{text}`")
            }
            ErrorKind::Arith { op, lhs, rhs } => {
                format!(
                    "cannot apply `{}` to a {lhs} and a {rhs} in `{text}`",
                    op.symbol()
                )
            }
            ErrorKind::DivisionByZero => format!("division by zero in `{text}`"),
            ErrorKind::NoProperty { ty } => format!("a {ty} has no such property: `{text}`"),
            ErrorKind::NotAList { got } => {
                format!("a list was expected, found a {got} in `{text}`")
            }
            ErrorKind::MissingFact(slot) => format!("fact {slot} was not supplied for `{text}`"),
            ErrorKind::Budget {
                steps,
                repeated: false,
            } => format!(
                "rule took more than {steps} steps (`[cql] max_steps`); stopped in `{text}`"
            ),
            ErrorKind::Budget {
                steps,
                repeated: true,
            } => format!(
                "rule took more than {steps} steps (`[cql] max_steps`) for {} entities before \
                 this one, so it is not evaluated again in this process",
                super::OVER_BUDGET_LIMIT
            ),
            ErrorKind::Other(m) => format!("{m} in `{text}`"),
        }
    }
}

pub(crate) type EvalResult<'a> = Result<Out<'a>, EvalError>;

/// What the evaluator reports as it goes. The fast path only keeps two slot numbers.
pub(crate) trait Trace {
    /// The first fact with an error that was read, and the first null from a fact with no data
    /// that was used by a comparison, operator or method.
    fn flags(&mut self) -> &mut Flags;

    /// A comparison (or null check) was evaluated.
    fn compared(&mut self, _id: u32, _lhs: &Out<'_>, _rhs: &Out<'_>, _result: bool) {}
}

/// The two facts a verdict depends on when the result is not true.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flags {
    pub error: u32,
    pub nodata: u32,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            error: NO_SLOT,
            nodata: NO_SLOT,
        }
    }
}

impl Trace for Flags {
    fn flags(&mut self) -> &mut Flags {
        self
    }
}

/// A fact answered during evaluation by the [`Lookup`] (a catalog call with computed
/// arguments). Its slot number is `facts.len()` plus its index.
#[derive(Debug)]
pub(crate) struct Looked {
    pub text: std::sync::Arc<str>,
    pub key: FactKey,
    pub fact: Fact,
}

/// How many looked-up facts with a value one evaluation keeps for its explanation (a lambda
/// may look up thousands); facts without a value are always kept, as they decide outcomes.
const KEPT_LOOKUPS: usize = 64;

/// The facts an evaluation read, by slot: the prefetched ones, then those looked up.
#[derive(Clone, Copy)]
pub(crate) struct Read<'x> {
    pub facts: &'x [Fact],
    pub looked: &'x [Looked],
}

impl<'x> Read<'x> {
    /// The fact at `slot`, if there is one.
    pub fn get(&self, slot: u32) -> Option<&'x Fact> {
        let slot = slot as usize;
        match slot.checked_sub(self.facts.len()) {
            None => self.facts.get(slot),
            Some(i) => self.looked.get(i).map(|l| &l.fact),
        }
    }
}

/// One evaluation: the facts, the time, the lambda environment and the tracer.
pub(crate) struct Ctx<'a, T> {
    pub facts: &'a [Fact],
    /// Answers catalog calls whose arguments are computed.
    pub lookup: &'a dyn Lookup,
    /// What `lookup` answered, for explanations and the rule's inputs.
    pub looked: Vec<Looked>,
    pub now: DateTime<Utc>,
    pub env: Vec<Value>,
    pub trace: T,
    pub captures: Option<BTreeMap<String, Value>>,
    /// Steps left in the budget: each lambda iteration and each aggregated item is one.
    pub steps: u64,
    /// The rule used up its budget too often before and was given none (see [`super::Program`]).
    pub refused: bool,
}

impl<'a, T: Trace> Ctx<'a, T> {
    /// Spends `n` steps of the budget, or stops the evaluation when it is used up.
    #[inline]
    fn spend(&mut self, n: u64, at: At) -> Result<(), EvalError> {
        match self.steps.checked_sub(n) {
            Some(left) => {
                self.steps = left;
                Ok(())
            }
            None => Err(EvalError::new(
                ErrorKind::Budget {
                    steps: super::Limits::max_steps(),
                    repeated: self.refused,
                },
                at,
            )),
        }
    }

    /// The facts read so far, by slot.
    pub fn read(&self) -> Read<'_> {
        Read {
            facts: self.facts,
            looked: &self.looked,
        }
    }

    /// Answers a catalog call with computed arguments through the [`Lookup`].
    fn look_up(&mut self, call: &'a LookupCall) -> EvalResult<'a> {
        self.spend(1, call.at)?;
        let mut key = call.key.clone();
        for (name, node) in &call.args {
            let out = self.eval(node)?;
            if out.v.is_null() {
                return Ok(self.propagate_null(&out));
            }
            key = key.with_arg(name, out.v.to_json());
        }
        let fact = self.lookup.lookup(&key);
        let value = fact.value.clone();
        if matches!(fact.status, FactStatus::Ok) && self.looked.len() >= KEPT_LOOKUPS {
            return Ok(Out::owned(value));
        }
        let slot = u32::try_from(self.facts.len() + self.looked.len()).unwrap_or(NO_SLOT);
        if matches!(fact.status, FactStatus::Error(_)) {
            let flags = self.trace.flags();
            if flags.error == NO_SLOT {
                flags.error = slot;
            }
        }
        self.looked.push(Looked {
            text: call.text.clone(),
            key,
            fact,
        });
        Ok(Out {
            v: Cow::Owned(value),
            slot,
        })
    }

    /// Marks a null operand that came from a fact with no data (or an error).
    fn null_used(&mut self, out: &Out<'_>) {
        if out.slot != NO_SLOT && out.v.is_null() {
            let no_data = matches!(
                self.read().get(out.slot).map(|f| &f.status),
                Some(FactStatus::NoData(_))
            );
            let flags = self.trace.flags();
            if no_data && flags.nodata == NO_SLOT {
                flags.nodata = out.slot;
            }
        }
    }

    /// A null operand makes the whole call or method null: records why (as [`Self::null_used`])
    /// and returns that null, keeping the slot it came from for the explanation.
    fn propagate_null(&mut self, out: &Out<'_>) -> Out<'a> {
        self.null_used(out);
        Out {
            v: Cow::Owned(Value::Null),
            slot: out.slot,
        }
    }

    /// Evaluates a node; borrowed values are returned without copying.
    pub fn eval(&mut self, node: &'a Node) -> EvalResult<'a> {
        match node {
            Node::Const(v) => Ok(Out {
                v: Cow::Borrowed(v),
                slot: NO_SLOT,
            }),
            Node::Slot(s) => {
                let Some(fact) = self.facts.get(*s as usize) else {
                    return Err(EvalError::new(ErrorKind::MissingFact(*s), At::default()));
                };
                if matches!(fact.status, FactStatus::Error(_)) {
                    let flags = self.trace.flags();
                    if flags.error == NO_SLOT {
                        flags.error = *s;
                    }
                }
                Ok(Out {
                    v: Cow::Borrowed(&fact.value),
                    slot: *s,
                })
            }
            Node::Local(i) => Ok(Out::owned(
                self.env.get(*i as usize).cloned().unwrap_or_default(),
            )),
            Node::Not(x, at) => {
                let out = self.eval(x)?;
                match out.v.as_ref() {
                    Value::Bool(b) => Ok(Out::bool(!b)),
                    // `!null` stays null (and the verdict explains the null).
                    Value::Null => {
                        self.null_used(&out);
                        Ok(out)
                    }
                    v => Err(EvalError::new(
                        ErrorKind::NotBoolean {
                            op: "`!`",
                            got: v.type_name(),
                        },
                        *at,
                    )),
                }
            }
            Node::And(l, r, at) => {
                if !self.truth(l, "`AND`", *at)? {
                    return Ok(Out::bool(false));
                }
                Ok(Out::bool(self.truth(r, "`AND`", *at)?))
            }
            Node::Or(l, r, at) => {
                if self.truth(l, "`OR`", *at)? {
                    return Ok(Out::bool(true));
                }
                Ok(Out::bool(self.truth(r, "`OR`", *at)?))
            }
            Node::NullCheck { expr, is_null, id } => {
                let out = self.eval(expr)?;
                let result = out.v.is_null() == *is_null;
                let null = Out {
                    v: Cow::Owned(Value::Null),
                    slot: NO_SLOT,
                };
                self.trace.compared(*id, &out, &null, result);
                Ok(Out::bool(result))
            }
            Node::SlotCmp {
                op,
                slot,
                rhs,
                id,
                at,
            } => {
                let Some(fact) = self.facts.get(*slot as usize) else {
                    return Err(EvalError::new(ErrorKind::MissingFact(*slot), *at));
                };
                let result = match (&fact.value, rhs) {
                    (Value::Number(a), Value::Number(b)) => compare_numbers(*op, *a, *b),
                    (l, r) => {
                        if matches!(fact.status, FactStatus::Error(_)) {
                            let flags = self.trace.flags();
                            if flags.error == NO_SLOT {
                                flags.error = *slot;
                            }
                        }
                        if l.is_null() {
                            self.null_used(&Out {
                                v: Cow::Borrowed(l),
                                slot: *slot,
                            });
                            false
                        } else {
                            compare(*op, l, r).ok_or_else(|| {
                                EvalError::new(
                                    ErrorKind::Compare {
                                        op: *op,
                                        lhs: l.type_name(),
                                        rhs: r.type_name(),
                                    },
                                    *at,
                                )
                            })?
                        }
                    }
                };
                self.trace.compared(
                    *id,
                    &Out {
                        v: Cow::Borrowed(&fact.value),
                        slot: *slot,
                    },
                    &Out {
                        v: Cow::Borrowed(rhs),
                        slot: NO_SLOT,
                    },
                    result,
                );
                Ok(Out::bool(result))
            }
            Node::Cmp {
                op,
                lhs,
                rhs,
                id,
                at,
            } => {
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                let result = if l.v.is_null() || r.v.is_null() {
                    self.null_used(&l);
                    self.null_used(&r);
                    false
                } else {
                    compare(*op, &l.v, &r.v).ok_or_else(|| {
                        EvalError::new(
                            ErrorKind::Compare {
                                op: *op,
                                lhs: l.v.type_name(),
                                rhs: r.v.type_name(),
                            },
                            *at,
                        )
                    })?
                };
                self.trace.compared(*id, &l, &r, result);
                Ok(Out::bool(result))
            }
            Node::Arith { op, lhs, rhs, at } => {
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                if l.v.is_null() || r.v.is_null() {
                    self.null_used(&l);
                    self.null_used(&r);
                    let slot = if l.v.is_null() { l.slot } else { r.slot };
                    return Ok(Out {
                        v: Cow::Owned(Value::Null),
                        slot,
                    });
                }
                arith(*op, &l.v, &r.v, *at).map(Out::owned)
            }
            Node::Member { target, name, at } => {
                let out = self.eval(target)?;
                let slot = out.slot;
                match out.v {
                    Cow::Borrowed(v) => member(v, name, *at).map(|v| match v {
                        Field::Borrowed(f) => Out {
                            v: Cow::Borrowed(f),
                            slot,
                        },
                        Field::Owned(f) => Out {
                            v: Cow::Owned(f),
                            slot,
                        },
                    }),
                    Cow::Owned(v) => member(&v, name, *at).map(|f| Out {
                        v: Cow::Owned(f.into_owned()),
                        slot,
                    }),
                }
            }
            _ => self.eval_cold(node),
        }
    }

    /// The arms of [`Ctx::eval`] that rules use less often, kept out of its stack frame so
    /// that deep expressions recurse in little stack (debug builds above all).
    #[inline(never)]
    fn eval_cold(&mut self, node: &'a Node) -> EvalResult<'a> {
        match node {
            Node::Lookup(call) => self.look_up(call),
            Node::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items.iter() {
                    values.push(self.eval(item)?.v.into_owned());
                }
                Ok(Out::owned(Value::List(values.into())))
            }
            Node::Neg(x, at) => {
                let out = self.eval(x)?;
                match out.v.as_ref() {
                    Value::Number(n) => Ok(Out::owned(Value::Number(-n))),
                    Value::Duration(d) => Ok(Out::owned(Value::Duration(-*d))),
                    Value::Null => {
                        self.null_used(&out);
                        Ok(out)
                    }
                    v => Err(EvalError::new(
                        ErrorKind::Other(format!("cannot negate a {}", v.type_name())),
                        *at,
                    )),
                }
            }
            Node::Lambda {
                kind,
                list,
                body,
                local,
                at,
            } => {
                let out = self.eval(list)?;
                let items = match out.v.as_ref() {
                    Value::List(items) => items.clone(),
                    Value::Null => return Ok(self.propagate_null(&out)),
                    v => {
                        return Err(EvalError::new(
                            ErrorKind::NotAList { got: v.type_name() },
                            *at,
                        ));
                    }
                };
                let depth = *local as usize;
                self.env.truncate(depth);
                let mut kept = Vec::new();
                for item in items.iter() {
                    self.spend(1, *at)?;
                    self.env.push(item.clone());
                    let result = match kind {
                        LambdaKind::Map => self.eval(body).map(|o| o.v.into_owned()),
                        _ => self.truth(body, "a lambda", *at).map(Value::Bool),
                    };
                    self.env.truncate(depth);
                    let result = result?;
                    match (kind, result) {
                        (LambdaKind::Any, Value::Bool(true)) => return Ok(Out::bool(true)),
                        (LambdaKind::All, Value::Bool(false)) => return Ok(Out::bool(false)),
                        (LambdaKind::Filter, Value::Bool(true)) => kept.push(item.clone()),
                        (LambdaKind::Map, v) => kept.push(v),
                        _ => {}
                    }
                }
                Ok(match kind {
                    LambdaKind::Any => Out::bool(false),
                    LambdaKind::All => Out::bool(true),
                    LambdaKind::Filter | LambdaKind::Map => Out::owned(Value::List(kept.into())),
                })
            }
            Node::Aggregate { kind, list, at } => {
                let out = self.eval(list)?;
                let items = match out.v.as_ref() {
                    Value::List(items) => items,
                    Value::Null => return Ok(self.propagate_null(&out)),
                    v => {
                        return Err(EvalError::new(
                            ErrorKind::NotAList { got: v.type_name() },
                            *at,
                        ));
                    }
                };
                self.spend(items.len() as u64, *at)?;
                let mut numbers = Vec::with_capacity(items.len());
                for item in items.iter() {
                    match item {
                        Value::Number(n) => numbers.push(*n),
                        Value::Null => {}
                        v => {
                            return Err(EvalError::new(
                                ErrorKind::Other(format!(
                                    "a list of numbers was expected, found a {}",
                                    v.type_name()
                                )),
                                *at,
                            ));
                        }
                    }
                }
                let result = match kind {
                    AggKind::Sum => Some(numbers.iter().sum()),
                    AggKind::Average if numbers.is_empty() => None,
                    AggKind::Average => Some(numbers.iter().sum::<f64>() / numbers.len() as f64),
                    AggKind::Min => numbers.iter().copied().reduce(f64::min),
                    AggKind::Max => numbers.iter().copied().reduce(f64::max),
                };
                Ok(Out::owned(result.map_or(Value::Null, Value::Number)))
            }
            Node::Regex {
                kind,
                target,
                re,
                at,
            } => {
                let out = self.eval(target)?;
                let result = match (kind, out.v.as_ref()) {
                    (_, Value::Null) => return Ok(self.propagate_null(&out)),
                    (RegexKind::Matches | RegexKind::MatchesIn, Value::String(s)) => re.is_match(s),
                    (RegexKind::AnyMatch, Value::List(items)) => items
                        .iter()
                        .any(|i| matches!(i, Value::String(s) if re.is_match(s))),
                    (RegexKind::AnyMatch, v) => {
                        return Err(EvalError::new(
                            ErrorKind::NotAList { got: v.type_name() },
                            *at,
                        ));
                    }
                    (_, v) => {
                        return Err(EvalError::new(
                            ErrorKind::Other(format!(
                                "a regex needs a string, found a {}",
                                v.type_name()
                            )),
                            *at,
                        ));
                    }
                };
                Ok(Out::bool(result))
            }
            Node::FromNow { target, at } => {
                let out = self.eval(target)?;
                let t = match out.v.as_ref() {
                    Value::Timestamp(t) => *t,
                    Value::String(s) => {
                        parse_timestamp(s).map_err(|m| EvalError::new(ErrorKind::Other(m), *at))?
                    }
                    Value::Null => return Ok(self.propagate_null(&out)),
                    v => {
                        return Err(EvalError::new(
                            ErrorKind::Other(format!(
                                ".fromNow() needs a timestamp, found a {}",
                                v.type_name()
                            )),
                            *at,
                        ));
                    }
                };
                Ok(Out::owned(Value::Duration(t - self.now)))
            }
            Node::Convert { to, arg, at } => {
                let out = self.eval(arg)?;
                let text = match out.v.as_ref() {
                    Value::String(s) => s.clone(),
                    Value::Null => return Ok(self.propagate_null(&out)),
                    v => {
                        return Err(EvalError::new(
                            ErrorKind::Other(format!(
                                "a string was expected, found a {}",
                                v.type_name()
                            )),
                            *at,
                        ));
                    }
                };
                let v = match to {
                    Builtin::Duration => duration::parse(&text).map(Value::Duration),
                    _ => parse_timestamp(&text).map(Value::Timestamp),
                };
                v.map(Out::owned)
                    .map_err(|m| EvalError::new(ErrorKind::Other(m), *at))
            }
            Node::Jq { input, filter, at } => {
                let out = self.eval(input)?;
                let v = filter
                    .run(&out.v)
                    .map_err(|m| EvalError::new(ErrorKind::Other(m), *at))?;
                // jq over a fact's missing data gives null: keep the fact it came from, so the
                // verdict stays `no_data` with its reason (a default such as `. // 0` is a value).
                let slot = if v.is_null() && out.v.is_null() {
                    out.slot
                } else {
                    NO_SLOT
                };
                Ok(Out {
                    v: Cow::Owned(v),
                    slot,
                })
            }
            Node::Capture { name, expr } => {
                let out = self.eval(expr)?;
                if let Some(captures) = self.captures.as_mut() {
                    captures.insert(name.to_string(), out.v.as_ref().clone());
                }
                Ok(out)
            }
            _ => unreachable!("eval handles the other nodes"),
        }
    }

    /// Evaluates an operand of `AND`/`OR`: null counts as false (and is explained).
    fn truth(&mut self, node: &'a Node, op: &'static str, at: At) -> Result<bool, EvalError> {
        let out = self.eval(node)?;
        match out.v.as_ref() {
            Value::Bool(b) => Ok(*b),
            Value::Null => {
                self.null_used(&out);
                Ok(false)
            }
            v => Err(EvalError::new(
                ErrorKind::NotBoolean {
                    op,
                    got: v.type_name(),
                },
                at,
            )),
        }
    }
}

/// A property read's result: borrowed from its target when possible.
enum Field<'v> {
    Borrowed(&'v Value),
    Owned(Value),
}

impl Field<'_> {
    fn into_owned(self) -> Value {
        match self {
            Field::Borrowed(v) => v.clone(),
            Field::Owned(v) => v,
        }
    }
}

/// `target.name`: object fields (missing → null), `.length` of lists and strings; null stays null.
fn member<'v>(target: &'v Value, name: &str, at: At) -> Result<Field<'v>, EvalError> {
    match target {
        Value::Object(map) => Ok(map
            .get(name)
            .map_or(Field::Owned(Value::Null), Field::Borrowed)),
        Value::Null => Ok(Field::Owned(Value::Null)),
        Value::List(items) if name == "length" => {
            Ok(Field::Owned(Value::Number(items.len() as f64)))
        }
        Value::String(s) if name == "length" => {
            Ok(Field::Owned(Value::Number(s.chars().count() as f64)))
        }
        v => Err(EvalError::new(
            ErrorKind::NoProperty { ty: v.type_name() },
            at,
        )),
    }
}

/// Compares two numbers (NaN compares false with everything, as in IEEE 754).
#[inline]
fn compare_numbers(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

/// Compares two non-null values; `None` when their types cannot be compared with `op`.
pub(crate) fn compare(op: CmpOp, l: &Value, r: &Value) -> Option<bool> {
    let ord = match (l, r) {
        (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
        (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
        (Value::Bool(_), Value::Bool(_))
        | (Value::List(_), Value::List(_))
        | (Value::Object(_), Value::Object(_)) => {
            return match op {
                CmpOp::Eq => Some(l == r),
                CmpOp::Ne => Some(l != r),
                _ => None,
            };
        }
        _ => return None,
    };
    // NaN compares false with everything, as in IEEE 754.
    let Some(ord) = ord else {
        return Some(op == CmpOp::Ne);
    };
    Some(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

fn arith(op: ArithOp, l: &Value, r: &Value, at: At) -> Result<Value, EvalError> {
    use ArithOp::*;
    let mismatch = || {
        EvalError::new(
            ErrorKind::Arith {
                op,
                lhs: l.type_name(),
                rhs: r.type_name(),
            },
            at,
        )
    };
    Ok(match (op, l, r) {
        (Div | Rem, Value::Number(_), Value::Number(b)) if *b == 0.0 => {
            return Err(EvalError::new(ErrorKind::DivisionByZero, at));
        }
        (Add, Value::Number(a), Value::Number(b)) => Value::Number(a + b),
        (Sub, Value::Number(a), Value::Number(b)) => Value::Number(a - b),
        (Mul, Value::Number(a), Value::Number(b)) => Value::Number(a * b),
        (Div, Value::Number(a), Value::Number(b)) => Value::Number(a / b),
        (Rem, Value::Number(a), Value::Number(b)) => Value::Number(a % b),
        (Add, Value::String(a), Value::String(b)) => Value::string(format!("{a}{b}")),
        (Add, Value::Duration(a), Value::Duration(b)) => {
            Value::Duration(a.checked_add(b).ok_or_else(mismatch)?)
        }
        (Sub, Value::Duration(a), Value::Duration(b)) => {
            Value::Duration(a.checked_sub(b).ok_or_else(mismatch)?)
        }
        (Add, Value::Timestamp(t), Value::Duration(d))
        | (Add, Value::Duration(d), Value::Timestamp(t)) => {
            Value::Timestamp(t.checked_add_signed(*d).ok_or_else(mismatch)?)
        }
        (Sub, Value::Timestamp(t), Value::Duration(d)) => {
            Value::Timestamp(t.checked_sub_signed(*d).ok_or_else(mismatch)?)
        }
        (Sub, Value::Timestamp(a), Value::Timestamp(b)) => Value::Duration(*a - *b),
        (Mul, Value::Duration(d), Value::Number(n))
        | (Mul, Value::Number(n), Value::Duration(d)) => {
            let ms = d.num_milliseconds() as f64 * n;
            if !ms.is_finite() || ms.abs() > 9.0e15 {
                return Err(mismatch());
            }
            Value::Duration(chrono::TimeDelta::milliseconds(ms as i64))
        }
        _ => return Err(mismatch()),
    })
}

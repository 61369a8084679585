//! Typed values that rules compute with and that facts carry.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

/// A CQL value. Cloning is cheap: compound values are shared.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// No value; the fact or expression that produced it says why.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Every number is a 64-bit float, as in JSON.
    Number(f64),
    /// UTF-8 text.
    String(Arc<str>),
    /// An ordered list.
    List(Arc<[Value]>),
    /// String-keyed fields, in key order.
    Object(Arc<BTreeMap<Arc<str>, Value>>),
    /// A signed span of time (`duration("P1W")`).
    Duration(TimeDelta),
    /// A point in time.
    Timestamp(DateTime<Utc>),
}

impl Value {
    /// The type's name as messages show it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Object(_) => "object",
            Value::Duration(_) => "duration",
            Value::Timestamp(_) => "timestamp",
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A string value.
    pub fn string(s: impl AsRef<str>) -> Self {
        Value::String(Arc::from(s.as_ref()))
    }

    /// Converts JSON (as YAML descriptors and provider APIs give it) into a value.
    pub fn from_json(json: &serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Number),
            serde_json::Value::String(s) => Value::string(s),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(Arc::new(
                map.iter()
                    .map(|(k, v)| (Arc::from(k.as_str()), Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// Converts into JSON; durations become ISO-8601 strings, timestamps RFC 3339 strings.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_json(*n),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Value::Duration(d) => serde_json::Value::String(iso_duration(*d)),
            Value::Timestamp(t) => serde_json::Value::String(t.to_rfc3339()),
        }
    }
}

/// A number as JSON: integral values as integers (`412`, not `412.0`), as CQL prints them, so
/// that fact keys, facts files and API bodies agree with what people wrote.
fn number_json(n: f64) -> serde_json::Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact in f64
    if n.fract() == 0.0 && n.abs() < EXACT {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// `PT90S`-style rendering of a duration (seconds precision, sign in front).
fn iso_duration(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    let sign = if secs < 0 { "-" } else { "" };
    let secs = secs.unsigned_abs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let mut out = format!("{sign}P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 || days == 0 {
        out.push_str(&format!("T{rest}S"));
    }
    out
}

/// Renders as CQL would print it: strings quoted, numbers without a trailing `.0`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Object(_) => write!(f, "{}", self.to_json()),
            Value::Duration(d) => write!(f, "duration({:?})", iso_duration(*d)),
            Value::Timestamp(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::string(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_keeps_types() {
        let j = json!({"a": [1, 2.5, "x", null, true], "b": {"c": 3}});
        assert_eq!(Value::from_json(&j).to_json(), j);
        // Integral numbers are integers, so fact keys read `id=412`, not `id=412.0`.
        assert_eq!(Value::Number(412.0).to_json().to_string(), "412");
        assert_eq!(Value::Number(-0.5).to_json().to_string(), "-0.5");
    }

    #[test]
    fn displays_like_cql() {
        assert_eq!(Value::Number(87.3).to_string(), "87.3");
        assert_eq!(Value::Number(95.0).to_string(), "95");
        assert_eq!(Value::string("a\"b").to_string(), r#""a\"b""#);
        assert_eq!(
            Value::Duration(TimeDelta::days(-7)).to_string(),
            r#"duration("-P7D")"#
        );
    }
}

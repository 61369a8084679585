//! `jq(value, ".filter")`: a real jq implementation (the jaq crates), filters compiled once and
//! cached for the whole process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde::Deserialize;

use crate::value::Value;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// A compiled jq filter, shareable across threads.
pub struct JqFilter {
    code: String,
    filter: Filter,
}

impl fmt::Debug for JqFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JqFilter({:?})", self.code)
    }
}

/// Compiled filters by source text.
static CACHE: LazyLock<Mutex<HashMap<String, Arc<JqFilter>>>> = LazyLock::new(Default::default);

/// Most filters a process keeps compiled; beyond it the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// Compiles `code` (or takes it from the cache); the error says what jaq rejected.
pub fn compile(code: &str) -> Result<Arc<JqFilter>, String> {
    if let Some(f) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).get(code) {
        return Ok(f.clone());
    }
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|errs| format!("invalid jq filter `{code}`: {}", describe_errors(&errs)))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| format!("invalid jq filter `{code}`: {}", describe_errors(&errs)))?;
    let compiled = Arc::new(JqFilter {
        code: code.to_string(),
        filter,
    });
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(code.to_string(), compiled.clone());
    Ok(compiled)
}

/// jaq's errors are nested lists per file; the innermost debug text names the problem.
fn describe_errors<T: fmt::Debug>(errs: &T) -> String {
    let text = format!("{errs:?}");
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    if text.chars().count() > 200 {
        format!("{}...", text.chars().take(197).collect::<String>())
    } else {
        text
    }
}

impl JqFilter {
    /// Runs the filter: no output is null, one output is the value, several are a list.
    pub fn run(&self, input: &Value) -> Result<Value, String> {
        let input = Val::deserialize(input.to_json()).map_err(|e| format!("jq input: {e}"))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = Vec::new();
        for out in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            let v = out.map_err(|e| {
                // jaq renders the error value as JSON; an error message is a JSON string.
                let text = e.to_string();
                let text = serde_json::from_str::<String>(&text).unwrap_or(text);
                format!("jq `{}` failed: {text}", self.code)
            })?;
            let json: serde_json::Value = serde_json::from_str(&v.to_string())
                .map_err(|e| format!("jq `{}` gave a value that is not JSON: {e}", self.code))?;
            outputs.push(Value::from_json(&json));
            if outputs.len() > 100_000 {
                return Err(format!("jq `{}` gave too many outputs", self.code));
            }
        }
        Ok(match outputs.len() {
            0 => Value::Null,
            1 => outputs.pop().unwrap_or_default(),
            _ => Value::List(outputs.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_real_jq() {
        let doc = Value::from_json(
            &json!({"info": {"x-cortex-custom-metadata": {"coverage": "87.5"}}, "l": [1, 2, 3]}),
        );
        let cases: &[(&str, Result<Value, &str>)] = &[
            (
                ".info[\"x-cortex-custom-metadata\"].coverage | tonumber",
                Ok(Value::Number(87.5)),
            ),
            (".l | map(. * 2) | add", Ok(Value::Number(12.0))),
            (".l[]", Ok(Value::from_json(&json!([1, 2, 3])))),
            ("empty", Ok(Value::Null)),
            (".info | not", Ok(Value::Bool(false))),
        ];
        for (code, want) in cases {
            let got = compile(code).and_then(|f| f.run(&doc));
            assert_eq!(got, want.clone().map_err(str::to_string), "{code}");
        }
        assert!(
            compile(".[")
                .unwrap_err()
                .starts_with("invalid jq filter `.[`")
        );
        assert!(
            compile("nosuchfn")
                .unwrap_err()
                .starts_with("invalid jq filter `nosuchfn`")
        );
        assert!(
            compile(".l | tonumber")
                .unwrap()
                .run(&doc)
                .unwrap_err()
                .starts_with("jq `.l | tonumber` failed")
        );
        assert!(Arc::ptr_eq(
            &compile(".l").unwrap(),
            &compile(".l").unwrap()
        ));
    }
}

//! `jq(value, ".filter")`: a real jq implementation (the jaq crates), run in a sandbox.
//!
//! Filters come from rules anyone may write, so they never run in rubric's own process:
//! [`compile`] checks a filter here (bounded in size and nesting, so the parser's recursion is
//! too), and [`JqFilter::run`] sends it with its input to a worker process ([`sandbox`]) that
//! has no environment, no files, no `halt`, `env`, `$ENV` or `input`, an address-space limit,
//! a bounded stack and a wall-clock budget ([`super::Limits`]). A filter that loops, recurses
//! without end or builds gigabytes ends its worker, never rubric, and becomes an error naming
//! the budget it broke.

mod sandbox;
pub mod worker;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, bome};
use jaq_core::{Compiler, Error, Native, data};
use jaq_json::Val;

use crate::value::Value;

pub use sandbox::use_worker;

type Data = data::JustLut<Val>;
type Filter = jaq_core::Filter<Data>;

/// Longest filter text accepted.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting of brackets, braces and parentheses accepted (jaq's parser recurses on them).
pub const MAX_FILTER_NESTING: usize = 64;

/// A checked jq filter, shareable across threads.
pub struct JqFilter {
    code: String,
}

impl fmt::Debug for JqFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JqFilter({:?})", self.code)
    }
}

/// Checked filters by source text.
static CACHE: LazyLock<Mutex<HashMap<String, Arc<JqFilter>>>> = LazyLock::new(Default::default);

/// Most filters a process keeps checked; beyond it the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// Checks `code` (or takes it from the cache); the error says what is wrong with it.
pub fn compile(code: &str) -> Result<Arc<JqFilter>, String> {
    if let Some(f) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).get(code) {
        return Ok(f.clone());
    }
    build(code)?;
    let checked = Arc::new(JqFilter {
        code: code.to_string(),
    });
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(code.to_string(), checked.clone());
    Ok(checked)
}

/// Parses and compiles `code` with the sandboxed definitions.
fn build(code: &str) -> Result<Filter, String> {
    check_shape(code)?;
    let arena = Arena::default();
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|errs| format!("invalid jq filter `{code}`: {}", describe_errors(&errs)))?;
    Compiler::default()
        .with_funs(functions())
        .compile(modules)
        .map_err(|errs| format!("invalid jq filter `{code}`: {}", describe_errors(&errs)))
}

/// Refuses filters too long or too deeply nested to parse safely.
fn check_shape(code: &str) -> Result<(), String> {
    if code.len() > MAX_FILTER_LEN {
        return Err(format!(
            "jq filter is {} bytes long; the most is {MAX_FILTER_LEN}",
            code.len()
        ));
    }
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for c in code.chars() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            // String interpolation `\(...)` nests too: count its parenthesis.
            (_, '"') => in_string = !in_string,
            (false, '(' | '[' | '{') => depth += 1,
            (false, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    if deepest > MAX_FILTER_NESTING {
        return Err(format!(
            "jq filter nests {deepest} levels deep; the most is {MAX_FILTER_NESTING}"
        ));
    }
    Ok(())
}

/// Native functions that reach outside the filter, answered with an error instead.
const REFUSED: &[&str] = &["env", "halt", "input", "inputs", "input_filename"];

/// jaq's native functions, with those in [`REFUSED`] replaced by one that fails with a reason
/// (kept by name and arity, so the standard definitions built on them still compile).
fn functions() -> impl Iterator<Item = Fun<Data>> {
    jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .map(|(name, arity, native): Fun<Data>| {
            if REFUSED.contains(&name) {
                (name, arity, Native::<Data>::new(refused))
            } else {
                (name, arity, native)
            }
        })
}

fn refused<'a>(_: jaq_core::Cv<'a, Data>) -> jaq_core::ValXs<'a, Val> {
    bome(Err(Error::str(
        "this jq function reaches outside the filter (environment, input, halt) and is not available in rubric",
    )))
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
    /// The filter text.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Runs the filter in the sandbox: no output is null, one output is the value, several are
    /// a list. Any budget broken is an error that names it.
    pub fn run(&self, input: &Value) -> Result<Value, String> {
        sandbox::run(&self.code, input).map_err(|e| format!("jq filter `{}` {e}", self.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_checks_filters_without_running_them() {
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
        // `$ENV` is not defined, and modules cannot be loaded.
        assert!(
            compile("$ENV.HOME")
                .unwrap_err()
                .starts_with("invalid jq filter")
        );
        assert!(
            compile("import \"/etc/passwd\" as p; .")
                .unwrap_err()
                .starts_with("invalid jq filter")
        );
        // The refused functions still compile (the standard library builds on them).
        assert!(compile("halt_error").is_ok() && compile("env.HOME").is_ok());
        assert!(Arc::ptr_eq(
            &compile(".l").unwrap(),
            &compile(".l").unwrap()
        ));
    }

    #[test]
    fn filters_too_long_or_too_deep_are_refused_before_parsing() {
        let deep = format!("{}.{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            compile(&deep).unwrap_err(),
            "jq filter is 20001 bytes long; the most is 4096"
        );
        let nested = format!("{}.{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(
            compile(&nested).unwrap_err(),
            "jq filter nests 100 levels deep; the most is 64"
        );
        // Brackets inside strings do not count.
        assert!(compile(&format!("\"{}\"", "[".repeat(200))).is_ok());
    }
}

//! rubric's side of the jq sandbox: a pool of worker processes ([`super::worker`]), reused
//! across rules, replaced when one ends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, RwLock};

use serde::Deserialize;

use super::worker::SUBCOMMAND;
use crate::cql::Limits;
use crate::value::Value;

/// Idle workers, each started under the limits it records.
static POOL: Mutex<Vec<Worker>> = Mutex::new(Vec::new());

/// Filters that broke a budget that ends their worker (time, memory, stack), with how many
/// times in a row and the last reason. From [`BROKEN_LIMIT`] on they are not run again: a
/// filter that loops for one entity loops for all, and each try costs a worker and the budget.
static BROKEN: Mutex<Option<HashMap<String, (u32, String)>>> = Mutex::new(None);

/// Fatal breaks in a row after which a filter is refused for the rest of the process.
const BROKEN_LIMIT: u32 = 3;

/// The `rubric` executable that runs workers, when set by [`use_worker`].
static PROGRAM: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Runs workers from `program` (a `rubric` binary). Needed only where the current executable
/// is not `rubric` and has no `rubric` beside it (or one directory up, as for Cargo's test
/// binaries): a program that embeds the library, for example.
pub fn use_worker(program: impl Into<PathBuf>) {
    *PROGRAM.write().unwrap_or_else(|p| p.into_inner()) = Some(program.into());
}

/// The `rubric` binary to start workers from.
fn program() -> Result<PathBuf, String> {
    if let Some(p) = PROGRAM.read().unwrap_or_else(|p| p.into_inner()).clone() {
        return Ok(p);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the jq sandbox: {e}"))?;
    let name = format!("rubric{}", std::env::consts::EXE_SUFFIX);
    if exe.file_name().is_some_and(|n| n == name.as_str()) {
        return Ok(exe);
    }
    let dir = exe.parent().unwrap_or(Path::new("."));
    [dir.join(&name), dir.join("..").join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "cannot find the jq sandbox: no `{name}` beside {} (the embedding program calls \
                 rubric::cql::jq::use_worker)",
                exe.display()
            )
        })
}

/// A running worker.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    limits: Limits,
}

/// A worker's answer to one request.
#[derive(Deserialize)]
#[serde(untagged)]
enum Reply {
    Ok { ok: Vec<serde_json::Value> },
    Err { error: String, fatal: bool },
}

/// Runs `filter` on `input` in a worker; the error completes "jq filter `...` ...".
pub(super) fn run(filter: &str, input: &Value) -> Result<Value, String> {
    if let Some(reason) = refused(filter) {
        return Err(reason);
    }
    let limits = Limits::current();
    let mut worker = take(limits)?;
    let result = match worker.call(filter, input) {
        Ok(Reply::Ok { ok: outputs }) => {
            give_back(worker);
            let mut values: Vec<Value> = outputs.iter().map(Value::from_json).collect();
            Ok(match values.len() {
                0 => Value::Null,
                1 => values.pop().unwrap_or_default(),
                _ => Value::List(values.into()),
            })
        }
        Ok(Reply::Err {
            error,
            fatal: false,
        }) => {
            give_back(worker);
            Err(error)
        }
        Ok(Reply::Err { error, fatal: true }) => {
            worker.end();
            return Err(broke(filter, error));
        }
        Err(()) => return Err(broke(filter, worker.death())),
    };
    forgive(filter);
    result
}

/// Why `filter` is not run again, once it broke its budget [`BROKEN_LIMIT`] times in a row.
fn refused(filter: &str) -> Option<String> {
    let broken = BROKEN.lock().unwrap_or_else(|p| p.into_inner());
    let (times, reason) = broken.as_ref()?.get(filter)?;
    (*times >= BROKEN_LIMIT)
        .then(|| format!("{reason} {times} times in a row, so it is not run again in this process"))
}

/// Records a fatal break of `filter` and returns its reason.
fn broke(filter: &str, reason: String) -> String {
    let mut broken = BROKEN.lock().unwrap_or_else(|p| p.into_inner());
    let broken = broken.get_or_insert_with(HashMap::new);
    if broken.len() >= 1024 {
        broken.clear();
    }
    let entry = broken
        .entry(filter.to_string())
        .or_insert((0, String::new()));
    *entry = (entry.0 + 1, reason.clone());
    reason
}

/// A run that ended normally clears `filter`'s record of breaks.
fn forgive(filter: &str) {
    let mut broken = BROKEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(b) = broken.as_mut() {
        b.remove(filter);
    }
}

/// An idle worker started under `limits`, or a new one.
fn take(limits: Limits) -> Result<Worker, String> {
    let idle = {
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        // Workers started under other limits (the configuration was installed later) retire.
        let (current, stale): (Vec<Worker>, Vec<Worker>) =
            pool.drain(..).partition(|w| w.limits == limits);
        *pool = current;
        let idle = pool.pop();
        drop(pool);
        stale.into_iter().for_each(Worker::end);
        idle
    };
    match idle {
        Some(w) => Ok(w),
        None => Worker::start(limits),
    }
}

fn give_back(worker: Worker) {
    let most = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if pool.len() < most {
        pool.push(worker);
    } else {
        drop(pool);
        worker.end();
    }
}

impl Worker {
    fn start(limits: Limits) -> Result<Worker, String> {
        let program = program()?;
        let limits_json = serde_json::to_string(&limits).unwrap_or_default();
        let mut child = Command::new(&program)
            .arg(SUBCOMMAND)
            .arg(limits_json)
            // Nothing of rubric's environment (tokens) reaches a filter.
            .env_clear()
            // One malloc arena: the address-space limit then measures what the filter builds.
            .env("MALLOC_ARENA_MAX", "1")
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the jq sandbox {}: {e}", program.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("cannot talk to the jq sandbox".into());
        };
        Ok(Worker {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            limits,
        })
    }

    /// Sends one request and reads the answer; `Err` when the worker ended.
    fn call(&mut self, filter: &str, input: &Value) -> Result<Reply, ()> {
        let request = serde_json::json!({"filter": filter, "input": input.to_json()});
        let mut line = request.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).map_err(|_| ())?;
        self.stdin.flush().map_err(|_| ())?;
        let mut answer = String::new();
        match self.stdout.read_line(&mut answer) {
            Ok(n) if n > 0 => serde_json::from_str(&answer).map_err(|_| ()),
            _ => Err(()),
        }
    }

    /// Why a worker ended in the middle of a request (it is reaped here).
    fn death(mut self) -> String {
        let status = self.child.wait();
        let mut stderr = String::new();
        if let Some(err) = self.child.stderr.take() {
            let _ = err.take(64 * 1024).read_to_string(&mut stderr);
        }
        let l = self.limits;
        if stderr.contains("has overflowed its stack") {
            format!(
                "recursed deeper than its stack allows ({} MiB, `[cql] jq_stack_mib`)",
                l.jq_stack_mib
            )
        } else if stderr.contains("memory allocation of") || stderr.contains("out of memory") {
            format!(
                "built more than its memory budget ({} MiB, `[cql] jq_memory_mib`)",
                l.jq_memory_mib
            )
        } else {
            match status {
                Ok(s) => format!("stopped the jq sandbox ({s})"),
                Err(e) => format!("stopped the jq sandbox ({e})"),
            }
        }
    }

    /// Stops and reaps the worker.
    fn end(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The jq sandbox worker: `rubric __jq-worker LIMITS`, started by [`super::sandbox`].
//!
//! It reads one request per line on stdin (`{"filter": ..., "input": ...}`) and answers one line
//! on stdout: `{"ok": [outputs...]}` or `{"error": "...", "fatal": bool}`. Filters run on a
//! thread with a bounded stack (a recursion that outgrows it aborts this process, not rubric);
//! the process has an address-space limit (building more than the memory budget aborts it), no
//! environment (the parent clears it) and no core dumps. The main thread
//! times each run: past the budget it answers a fatal error and exits, since a running filter
//! cannot be stopped from outside its thread.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use jaq_core::{Ctx, Vars};
use jaq_json::Val;
use serde::Deserialize;

use super::{Data, Filter, build};
use crate::cql::Limits;

/// The hidden subcommand that starts a worker.
pub const SUBCOMMAND: &str = "__jq-worker";

/// Most compiled filters a worker keeps.
const CACHE_LIMIT: usize = 512;

/// How long compiling one (size-bounded) filter may take before the worker gives up.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Request {
    filter: String,
    input: serde_json::Value,
}

/// What the evaluating thread tells the timing thread.
enum Progress {
    /// Compiled; the run (and its clock) starts now.
    Started,
    /// Finished: the outputs as one JSON array text, or why not.
    Done(Result<String, String>),
}

/// Runs a worker until stdin closes. `args` are the arguments after the subcommand: the
/// [`Limits`] as JSON.
pub fn main(mut args: impl Iterator<Item = String>) -> ExitCode {
    let limits: Limits = match args.next().map(|a| serde_json::from_str(&a)) {
        Some(Ok(l)) => l,
        _ => {
            eprintln!("usage: rubric {SUBCOMMAND} LIMITS_JSON (started by rubric itself)");
            return ExitCode::from(2);
        }
    };
    confine();
    // Panics are answered as errors; their default report would only fill the stderr pipe.
    std::panic::set_hook(Box::new(|_| {}));
    let (requests, inbox) = mpsc::channel::<Request>();
    let (progress, outbox) = mpsc::channel::<Progress>();
    let spawned = std::thread::Builder::new()
        .name("jq".into())
        .stack_size(usize::try_from(limits.jq_stack_mib << 20).unwrap_or(usize::MAX))
        .spawn(move || evaluate_all(&inbox, &progress, limits));
    if spawned.is_err() {
        return ExitCode::from(1);
    }
    // Warm up (the standard library's definitions), then cap the address space at what the
    // process uses now plus the budget.
    let warm = Request {
        filter: ".".into(),
        input: serde_json::Value::Null,
    };
    if answer(&requests, &outbox, warm, COMPILE_TIMEOUT).is_err() {
        return ExitCode::from(1);
    }
    cap_memory(limits.jq_memory_mib << 20);

    let timeout = Duration::from_millis(limits.jq_timeout_ms);
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (answer, fatal) = match serde_json::from_str::<Request>(&line) {
            Err(e) => (
                error(
                    &format!("sent a request the sandbox cannot read: {e}"),
                    false,
                ),
                false,
            ),
            Ok(request) => match answer(&requests, &outbox, request, timeout) {
                Ok(outputs) => (format!("{{\"ok\":{outputs}}}"), false),
                Err((message, fatal)) => (error(&message, fatal), fatal),
            },
        };
        let written = writeln!(stdout, "{answer}").and_then(|()| stdout.flush());
        if fatal || written.is_err() {
            break;
        }
    }
    // A filter may still be running on its thread: end the process without waiting for it.
    std::process::exit(0)
}

/// Hands one request to the evaluating thread and times it; a fatal error ends the worker.
fn answer(
    requests: &mpsc::Sender<Request>,
    outbox: &mpsc::Receiver<Progress>,
    request: Request,
    timeout: Duration,
) -> Result<String, (String, bool)> {
    let gone = || ("stopped the jq sandbox".to_string(), true);
    requests.send(request).map_err(|_| gone())?;
    match outbox.recv_timeout(COMPILE_TIMEOUT) {
        Ok(Progress::Started) => {}
        Ok(Progress::Done(result)) => return result.map_err(|m| (m, false)),
        Err(RecvTimeoutError::Timeout) => return Err(("took too long to compile".into(), true)),
        Err(RecvTimeoutError::Disconnected) => return Err(gone()),
    }
    match outbox.recv_timeout(timeout) {
        Ok(Progress::Done(result)) => result.map_err(|m| (m, false)),
        Ok(Progress::Started) => Err(gone()),
        Err(RecvTimeoutError::Timeout) => Err((
            format!(
                "ran longer than {} ms (`[cql] jq_timeout_ms`)",
                timeout.as_millis()
            ),
            true,
        )),
        Err(RecvTimeoutError::Disconnected) => Err(gone()),
    }
}

fn error(message: &str, fatal: bool) -> String {
    serde_json::json!({"error": message, "fatal": fatal}).to_string()
}

/// The evaluating thread: compiles (cached) and runs each request in turn.
fn evaluate_all(
    inbox: &mpsc::Receiver<Request>,
    progress: &mpsc::Sender<Progress>,
    limits: Limits,
) {
    let mut cache: HashMap<String, Filter> = HashMap::new();
    for request in inbox {
        let result = catch_unwind(AssertUnwindSafe(|| {
            run_one(&mut cache, &request, progress, limits)
        }))
        .unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("failed inside jq: {why}"))
        });
        if progress.send(Progress::Done(result)).is_err() {
            return;
        }
    }
}

fn run_one(
    cache: &mut HashMap<String, Filter>,
    request: &Request,
    progress: &mpsc::Sender<Progress>,
    limits: Limits,
) -> Result<String, String> {
    if !cache.contains_key(&request.filter) {
        let filter = build(&request.filter)?;
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(request.filter.clone(), filter);
    }
    let filter = &cache[&request.filter];
    let input =
        Val::deserialize(&request.input).map_err(|e| format!("got an unusable input: {e}"))?;
    let _ = progress.send(Progress::Started);
    let ctx = Ctx::<Data>::new(&filter.lut, Vars::new([]));
    let mut text = String::from("[");
    let mut count = 0u64;
    for out in filter.id.run((ctx, input)) {
        let value = out.map_err(|e| match e.get_err() {
            // jaq renders the error value as JSON; an error message is a JSON string.
            Ok(err) => {
                let shown = err.to_string();
                let shown = serde_json::from_str::<String>(&shown).unwrap_or(shown);
                format!("failed: {shown}")
            }
            Err(_) => "tried to halt".to_string(),
        })?;
        count += 1;
        if count > limits.jq_max_outputs {
            return Err(format!(
                "gave more than {} outputs (`[cql] jq_max_outputs`)",
                limits.jq_max_outputs
            ));
        }
        if count > 1 {
            text.push(',');
        }
        text.push_str(&value.to_string());
        if text.len() as u64 > limits.jq_max_output_bytes {
            return Err(format!(
                "gave a result larger than {} bytes (`[cql] jq_max_output_bytes`)",
                limits.jq_max_output_bytes
            ));
        }
    }
    text.push(']');
    Ok(text)
}

/// No core dumps. (The worker needs no death signal: its parent's end closes stdin, and a
/// filter still running is stopped by the timer at most one budget later. `PR_SET_PDEATHSIG`
/// would be wrong anyway: it fires when the spawning *thread* ends.)
fn confine() {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = setrlimit(Resource::Core, none);
}

/// Caps the address space at the current size plus `budget` bytes.
fn cap_memory(budget: u64) {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let Some(now) = address_space_bytes() else {
        return;
    };
    let cap = now.saturating_add(budget);
    let _ = setrlimit(
        Resource::As,
        Rlimit {
            current: Some(cap),
            maximum: Some(cap),
        },
    );
}

/// `VmSize` of this process, from /proc.
fn address_space_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

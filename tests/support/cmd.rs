//! The one way the tests run the `rubric` binary: [`rubric()`] builds the command (from the crate
//! root, with no `RUBRIC_*`, `CODECOV_TOKEN` or `COLUMNS` variable of the caller's environment), and
//! [`Rubric::run`] waits for it, bounded, returning a [`Run`] with its exit code and output.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::assert::{Assert, OutputAssertExt};

use super::BOUND;

/// A `rubric` command line being built.
pub struct Rubric {
    cmd: Command,
    bound: Duration,
}

/// `rubric`, run from the crate root with a clean environment: every `RUBRIC_*` variable,
/// `CODECOV_TOKEN` and `COLUMNS` (tables are then as wide as piped output is by default) removed
/// (set the ones a test needs with [`Rubric::env`]).
pub fn rubric() -> Rubric {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rubric"));
    cmd.current_dir(super::root());
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("RUBRIC_")) {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("CODECOV_TOKEN");
    cmd.env_remove("COLUMNS");
    Rubric { cmd, bound: BOUND }
}

impl Rubric {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Sets each `(key, value)`.
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        for (k, v) in vars {
            self.cmd.env(k, v);
        }
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// How long [`run`](Self::run) waits before it kills the process and fails the test.
    pub fn bound(mut self, bound: Duration) -> Self {
        self.bound = bound;
        self
    }

    /// Runs to the end (within the bound), capturing stdout and stderr.
    pub fn run(self) -> Run {
        let bound = self.bound;
        self.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .finish_within(bound)
    }

    /// [`run`](Self::run) off the async runtime, which keeps serving the test's fake servers.
    pub async fn run_async(self) -> Run {
        tokio::task::spawn_blocking(move || self.run())
            .await
            .expect("the command thread finishes")
    }

    /// Runs to the end (within the bound) and hands the output to `assert_cmd`'s assertions.
    pub fn assert(self) -> Assert {
        self.run().output.assert()
    }

    pub fn stdout(mut self, cfg: Stdio) -> Self {
        self.cmd.stdout(cfg);
        self
    }

    /// Feeds the file at `path` to stdin.
    pub fn stdin_file(mut self, path: impl AsRef<Path>) -> Self {
        self.cmd
            .stdin(std::fs::File::open(path).expect("the stdin file opens"));
        self
    }

    pub fn stderr(mut self, cfg: Stdio) -> Self {
        self.cmd.stderr(cfg);
        self
    }

    /// Starts the process without waiting for it.
    pub fn spawn(mut self) -> Running {
        let child = self.cmd.spawn().expect("rubric starts");
        Running { child }
    }

    /// The command for `tokio::process` (for a long-running `rubric serve`).
    pub fn into_tokio(self) -> tokio::process::Command {
        tokio::process::Command::from(self.cmd)
    }

    /// Starts `rubric serve ...` (give `--bind 127.0.0.1:0`) and waits, within the bound, for it
    /// to announce its address; returns the process (killed when dropped) and its base URL.
    pub async fn listen(self) -> (tokio::process::Child, String) {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let bound = self.bound;
        let mut child = self
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .into_tokio()
            .kill_on_drop(true)
            .spawn()
            .expect("start rubric serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let url = tokio::time::timeout(bound, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("rubric serve: http://") {
                    return format!("http://{}", rest.split_whitespace().next().unwrap());
                }
            }
            panic!("rubric serve exited before listening");
        })
        .await
        .unwrap_or_else(|_| panic!("rubric serve listens within {bound:?}"));
        // Keep draining stderr so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        (child, url)
    }
}

/// A started `rubric` process.
pub struct Running {
    pub child: Child,
}

impl Running {
    /// Waits for the end (reading what is left of stdout and stderr); past `bound` kills the
    /// process and fails the test.
    pub fn finish_within(self, bound: Duration) -> Run {
        let pid = self.child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(self.child.wait_with_output());
        });
        match rx.recv_timeout(bound) {
            Ok(output) => Run {
                output: output.expect("rubric runs"),
            },
            Err(_) => {
                if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                panic!("rubric (pid {pid}) did not finish within {bound:?}");
            }
        }
    }

    /// [`finish_within`](Self::finish_within) the default bound.
    pub fn finish(self) -> Run {
        self.finish_within(BOUND)
    }
}

/// How a `rubric` run ended: its [`Output`] (`status`, `stdout`, `stderr`) and helpers.
pub struct Run {
    pub output: Output,
}

impl std::ops::Deref for Run {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Run {
    /// The exit code (-1 when a signal ended it).
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// stdout then stderr.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.text()))
    }

    /// Asserts the exit code (showing the output when it differs); returns the run.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code(), code, "{}", self.text());
        self
    }
}

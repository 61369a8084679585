//! Running a benchmark's subject as a child process, so that its time and memory are its own.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One child process's run.
pub struct Measured {
    /// Wall time, in seconds.
    pub seconds: f64,
    /// Resident high-water mark (`VmHWM`), in MB.
    pub peak_rss_mb: f64,
    /// What it printed.
    pub stdout: String,
}

/// Runs `cmd`, polling its `VmHWM` until it ends.
pub fn measure(mut cmd: Command) -> Result<Measured, String> {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let status_file = format!("/proc/{}/status", child.id());
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = started.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap_or_default();
    if !status.success() {
        let stderr = child
            .stderr
            .take()
            .map(|e| std::io::read_to_string(e).unwrap_or_default())
            .unwrap_or_default();
        return Err(format!("{status}: {stderr}"));
    }
    Ok(Measured {
        seconds,
        peak_rss_mb: peak_kb as f64 / 1024.0,
        stdout,
    })
}

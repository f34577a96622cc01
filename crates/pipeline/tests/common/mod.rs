//! What the pipeline tests share.
#![allow(dead_code)] // Each test file uses its own part.

use std::time::{Duration, Instant};

/// How long a test waits for something that should happen at once: generous, so a
/// loaded machine does not fail it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// Spins for about `micros` microseconds: stands in for per-item work without sleeping.
pub(crate) fn work(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// The names of this process's threads that a pipeline started (`pipeline-…`,
/// truncated by Linux to 15 bytes).
pub(crate) fn pipeline_threads() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| name.starts_with("pipeline-"))
        .collect()
}

/// Waits until `check` holds, for [`PATIENCE`] at most; false if it never did.
pub(crate) fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::yield_now();
    }
    check()
}

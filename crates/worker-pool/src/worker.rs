//! A worker thread's loop.

use std::time::Instant;

use crate::job::Job;
use crate::pool::Shared;
use crate::queue::PopError;
use crate::stats::WorkerStats;

/// Takes jobs from the queue and runs them until the queue is closed and empty, or,
/// above `min_workers`, until it has been idle for `keep_alive`.
pub(crate) fn run(shared: &Shared, index: usize, stats: &WorkerStats) {
    let config = &shared.config;
    if let Some(job) = shared.crew.take_first(index) {
        run_one(shared, index, stats, job);
    }
    loop {
        // Only a worker above the minimum waits with a time limit (Java's rule, checked
        // anew each time): at the minimum, it waits for work however long it takes.
        let may_retire = config.scales() && shared.crew.live() > config.min_workers;
        let deadline = may_retire
            .then(|| Instant::now().checked_add(config.keep_alive))
            .flatten();
        match shared.queue.pop(deadline) {
            Ok(job) => run_one(shared, index, stats, job),
            Err(PopError::TimedOut) => {
                if shared
                    .crew
                    .try_retire(index, config.min_workers, &shared.counts)
                {
                    return;
                }
            }
            Err(PopError::Closed) => break,
        }
    }
    shared.crew.exit(index, &shared.counts);
}

/// Runs one job, counting and (if it is sampled) timing it.
fn run_one(shared: &Shared, index: usize, stats: &WorkerStats, job: Job) {
    stats.started();
    let queued_at = job.queued_at;
    let started = queued_at.map(|_| Instant::now());
    let outcome = shared.run(job, Some(index));
    if let (Some(queued_at), Some(started)) = (queued_at, started) {
        let ended = Instant::now();
        stats
            .timings
            .lock()
            .record(started - queued_at, ended - started);
    }
    stats.ended(&outcome);
}

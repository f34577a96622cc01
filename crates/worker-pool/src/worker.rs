//! A worker thread's loop.

use std::time::Instant;

use crate::job::Job;
use crate::local::{Local, OwnQueue};
use crate::pool::Shared;
use crate::queue::PopError;
use crate::stats::WorkerStats;

/// Runs jobs — its own queue's first, then the shared queue's, then other workers' — until
/// the shared queue is closed and no queue has a job left, or, above `min_workers`,
/// until it has been idle for `keep_alive`. `queue` is its own, registered by the crew.
pub(crate) fn run(shared: &Shared, index: usize, stats: &WorkerStats, own: OwnQueue) {
    let local = Local::new(shared, index, stats, own);
    let retired = local.enter(|| {
        if let Some(job) = shared.crew.take_first(index) {
            local.run(job);
        }
        work(&local)
    });
    if !retired {
        shared.crew.exit(index, shared);
    }
}

/// The loop of [`run`]; returns whether the worker retired (rather than ran out of work
/// in a shutdown).
fn work(local: &Local<'_>) -> bool {
    let (shared, config) = (local.shared, &local.shared.config);
    loop {
        // A busy worker's jobs mostly come from its own queue: run them straight from it.
        // Through `next`, whose `Result` each job was moved in and out of, a tiny job
        // took a third longer (1M from one submitter: 68 ms, now 50, 2-core machine).
        while let Some(job) = local.pop_own() {
            local.run(job);
        }
        let next = match local.next() {
            Err(PopError::TimedOut) => {
                // Only a worker above the minimum waits with a time limit (Java's rule,
                // checked anew each time): at the minimum, it waits however long it takes.
                let may_retire = config.scales() && shared.crew.live() > config.min_workers;
                let deadline = may_retire
                    .then(|| Instant::now().checked_add(config.keep_alive))
                    .flatten();
                local.sleep(deadline)
            }
            next => next,
        };
        match next {
            Ok(job) => local.run(job),
            Err(PopError::TimedOut) => {
                if shared
                    .crew
                    .try_retire(local.index, config.min_workers, shared)
                {
                    return true;
                }
            }
            Err(PopError::Closed) => match local.last_look() {
                Some(job) => local.run(job),
                None => return false,
            },
        }
    }
}

/// Runs one job, counting it.
pub(crate) fn run_one(shared: &Shared, index: usize, stats: &WorkerStats, job: Job) {
    stats.started();
    let outcome = shared.run(job, Some((index, stats)));
    stats.ended(&outcome);
}

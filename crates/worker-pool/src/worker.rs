//! A worker thread's loop.

use std::time::Instant;

use crate::job::Job;
use crate::local::{Local, OwnQueue};
use crate::pool::Shared;
use crate::queue::PopError;
use crate::stats::WorkerStats;

/// Runs jobs — its own queue's first, then the shared queue's, then other workers' — until
/// the shared queue is closed and no queue has a job left, or, above `min_workers`,
/// until it has been idle for `keep_alive`, or, above `max_workers` (after a resize),
/// until its own queue is empty. `queue` is its own, registered by the crew.
pub(crate) fn run(shared: &Shared, index: usize, stats: &WorkerStats, own: OwnQueue) {
    shared.thread_hook(
        shared.config.on_thread_start.as_ref(),
        "on_thread_start",
        index,
    );
    let local = Local::new(shared, index, stats, own);
    let retired = local.enter(|| {
        if let Some(job) = shared.crew.take_first(index) {
            local.run(job);
        }
        work(&local)
    });
    // Before the crew counts it out: a shutdown returns after every exit hook.
    shared.thread_hook(
        shared.config.on_thread_exit.as_ref(),
        "on_thread_exit",
        index,
    );
    shared.crew.exit(index, retired, shared);
}

/// The loop of [`run`]; returns once the worker retired (true) or ran out of work in a
/// shutdown (false).
fn work(local: &Local<'_>) -> bool {
    let (shared, crew) = (local.shared, &local.shared.crew);
    loop {
        // A busy worker's jobs mostly come from its own queue: run them straight from it.
        // Through `next`, whose `Result` each job was moved in and out of, a tiny job
        // took a third longer (1M from one submitter: 68 ms, now 50, 2-core machine).
        while let Some(job) = local.pop_own() {
            local.run(job);
        }
        // Above a lowered maximum, a worker retires between jobs (Java's rule): never
        // while one runs.
        if crew.live() > crew.max() && crew.try_retire(local.index, crew.max(), shared) {
            return true;
        }
        let next = match local.next() {
            Err(PopError::TimedOut) => {
                // Taken before the limits are read: a resize after this wakes the sleep.
                let watch = shared.wake.watch();
                if crew.live() > crew.max() && crew.try_retire(local.index, crew.max(), shared) {
                    return true;
                }
                // Only a worker above the minimum waits with a time limit (Java's rule,
                // checked anew each time): at the minimum, it waits however long it takes,
                // until a job comes or a resize wakes it.
                // Out of work: whoever waits for the jobs it ended to end is woken now,
                // not only when its next job ends (see `idle`).
                shared.idle.wake_waiters_fenced();
                let may_retire = crew.live() > crew.min();
                let deadline = may_retire
                    .then(|| Instant::now().checked_add(shared.config.keep_alive))
                    .flatten();
                local.sleep(deadline, &watch)
            }
            next => next,
        };
        match next {
            Ok(job) => local.run(job),
            Err(PopError::TimedOut) => {
                if crew.try_retire(local.index, crew.min(), shared) {
                    return true;
                }
            }
            // Woken by a resize: the limits are read again.
            Err(PopError::Woken) => {}
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

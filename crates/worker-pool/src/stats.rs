//! What the pool counts: per-worker counters and latency histograms, and the snapshot
//! [`Stats`] that adds them up.

use std::time::Duration;

use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;

use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex};
use crate::task::Outcome;

/// The longest latency a histogram tells apart (one hour, in nanoseconds); longer ones
/// are recorded as this.
const MAX_NANOS: u64 = 3_600_000_000_000;
/// Significant decimal digits: 2 keeps each histogram near 40 KiB and every percentile
/// within 1%.
const SIGNIFICANT_DIGITS: u8 = 2;

/// A snapshot of a pool's state and counters, from [`WorkerPool::stats`](crate::WorkerPool::stats).
///
/// Counters are read one by one while the pool runs, so a snapshot taken under load can
/// be off by the jobs that moved meanwhile; once the pool is idle it is exact:
/// `submitted == completed + cancelled + timed_out + discarded + handed_back + queued`
/// (jobs running are in `busy`, not yet `completed`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Worker threads alive.
    pub workers: usize,
    /// Workers running a job now.
    pub busy: usize,
    /// Workers waiting for a job.
    pub idle: usize,
    /// Jobs waiting to start: in the shared queue, the workers' own queues and beside the
    /// queue (kept by [`purge`](crate::WorkerPool::purge)). A job cancelled through its
    /// handle while queued is not counted here from its cancel on, though it holds its
    /// place in the queue until a worker or `purge` takes it out.
    pub queued: usize,
    /// Submitters waiting for room in the full queue now (at most
    /// [`max_blocked_submitters`](crate::Builder::max_blocked_submitters)).
    pub blocked_submitters: usize,
    /// Jobs the pool accepted (rejected ones not included).
    pub submitted: u64,
    /// Jobs that ran to the end, returning or panicking (a panic counts here and in
    /// `panicked`; a group job's `Err` here and in `failed`).
    pub completed: u64,
    /// Group jobs that returned an error.
    pub failed: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs cancelled before they started (they did not run), or that ran on after a
    /// cancel (their result was dropped). A job cancelled through its handle while
    /// queued counts here from its cancel on; one of a cancelled group when a worker (or
    /// [`purge`](crate::WorkerPool::purge)) skips it.
    pub cancelled: u64,
    /// Jobs whose deadline passed, before they started or before they returned.
    pub timed_out: u64,
    /// Submissions the pool refused (full queue, time-out, shut down).
    pub rejected: u64,
    /// Jobs evicted from a full queue under [`Rejection::DropOldest`](crate::Rejection::DropOldest).
    pub discarded: u64,
    /// Jobs taken out of the queue by [`shutdown_now`](crate::WorkerPool::shutdown_now).
    pub handed_back: u64,
    /// Jobs run on the submitting thread under [`Rejection::CallerRuns`](crate::Rejection::CallerRuns).
    pub caller_ran: u64,
    /// Time from submission to start, over the sampled jobs.
    pub queue_wait: Latency,
    /// Time from start to end, over the sampled jobs.
    pub run_time: Latency,
}

/// Percentiles of a latency over the jobs sampled (one in
/// [`sample_timings`](crate::Builder::sample_timings)), each within 1%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Latency {
    /// How many jobs were measured.
    pub samples: u64,
    /// The median.
    pub p50: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The largest measured.
    pub max: Duration,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        Latency {
            samples: histogram.len(),
            p50: Duration::from_nanos(histogram.value_at_quantile(0.50)),
            p99: Duration::from_nanos(histogram.value_at_quantile(0.99)),
            max: Duration::from_nanos(histogram.max()),
        }
    }
}

/// The sampled latencies of some jobs.
#[derive(Debug, Clone)]
pub(crate) struct Timings {
    queue_wait: Histogram<u64>,
    run_time: Histogram<u64>,
}

impl Timings {
    pub(crate) fn new() -> Timings {
        let histogram = || {
            Histogram::new_with_bounds(1, MAX_NANOS, SIGNIFICANT_DIGITS)
                .expect("constant, valid histogram bounds")
        };
        Timings {
            queue_wait: histogram(),
            run_time: histogram(),
        }
    }

    pub(crate) fn record(&mut self, queue_wait: Duration, run_time: Duration) {
        self.queue_wait.saturating_record(nanos(queue_wait));
        self.run_time.saturating_record(nanos(run_time));
    }

    fn add(&mut self, other: &Timings) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.queue_wait.add(&other.queue_wait);
        let _ = self.run_time.add(&other.run_time);
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// One worker's counters. Only the worker writes them (a load and a store, no
/// read-modify-write), on cache lines of their own; `stats()` reads them.
#[derive(Debug)]
pub(crate) struct WorkerStats {
    busy: CachePadded<AtomicBool>,
    counts: CachePadded<Counts<AtomicU64>>,
    pub(crate) timings: Mutex<Timings>,
}

/// The per-job counters, generic over the cell so the same fields serve as live atomics
/// and as plain totals.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counts<C> {
    taken: C,
    completed: C,
    failed: C,
    panicked: C,
    cancelled: C,
    timed_out: C,
    /// Jobs that ended (ran, were skipped or abandoned), by `wait_idle` generation slot.
    ended: [C; 2],
}

impl WorkerStats {
    pub(crate) fn new() -> WorkerStats {
        WorkerStats {
            busy: CachePadded::new(AtomicBool::new(false)),
            counts: CachePadded::new(Counts::default()),
            timings: Mutex::new(Timings::new()),
        }
    }

    /// The worker took a job from the queue and is about to run it.
    pub(crate) fn started(&self) {
        self.busy.store(true, Ordering::Relaxed);
        bump(&self.counts.taken);
    }

    /// The job ended as `outcome`.
    pub(crate) fn ended(&self, outcome: &Outcome) {
        match self.counts.cells(outcome) {
            Some((first, second)) => {
                bump(first);
                if let Some(second) = second {
                    bump(second);
                }
            }
            // Withdrawn: counted as taken (and cancelled) when it was cancelled in the
            // queue, so `started` counted it twice.
            None => {
                let taken = &self.counts.taken;
                taken.store(taken.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
            }
        }
        self.busy.store(false, Ordering::Relaxed);
    }

    /// A job of generation slot `slot` ended here (see [`Idle`](crate::idle::Idle)).
    /// `Release`: the waiter that reads it reads the job's submission after.
    pub(crate) fn ended_in(&self, slot: u8) {
        let cell = &self.counts.ended[usize::from(slot)];
        cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// The jobs of `slot` that ended here.
    pub(crate) fn ended_jobs_in(&self, slot: usize) -> u64 {
        self.counts.ended[slot].load(Ordering::Acquire)
    }
}

/// Adds one to a counter that only this thread writes.
fn bump(cell: &AtomicU64) {
    cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Adds one to a counter that several threads add to.
fn bump_shared(cell: &AtomicU64) {
    cell.fetch_add(1, Ordering::Relaxed);
}

impl Counts<AtomicU64> {
    /// The counters a job that ended as `outcome` adds one to; none for a withdrawn job,
    /// counted when it was cancelled.
    fn cells(&self, outcome: &Outcome) -> Option<(&AtomicU64, Option<&AtomicU64>)> {
        Some(match outcome {
            Outcome::Completed => (&self.completed, None),
            Outcome::Failed => (&self.completed, Some(&self.failed)),
            Outcome::Panicked(_) => (&self.completed, Some(&self.panicked)),
            Outcome::Cancelled => (&self.cancelled, None),
            Outcome::TimedOut => (&self.timed_out, None),
            Outcome::Withdrawn => return None,
        })
    }

    fn read(&self) -> Counts<u64> {
        let read = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        Counts {
            taken: read(&self.taken),
            completed: read(&self.completed),
            failed: read(&self.failed),
            panicked: read(&self.panicked),
            cancelled: read(&self.cancelled),
            timed_out: read(&self.timed_out),
            ended: [read(&self.ended[0]), read(&self.ended[1])],
        }
    }

    /// Adds `other`; several threads may add at once.
    fn absorb(&self, other: &Counts<u64>) {
        let add = |cell: &AtomicU64, count| cell.fetch_add(count, Ordering::Relaxed);
        add(&self.taken, other.taken);
        add(&self.completed, other.completed);
        add(&self.failed, other.failed);
        add(&self.panicked, other.panicked);
        add(&self.cancelled, other.cancelled);
        add(&self.timed_out, other.timed_out);
        // `Release`, as the worker's own: a waiter reads these after a worker exited.
        for (cell, count) in self.ended.iter().zip(other.ended) {
            cell.fetch_add(count, Ordering::Release);
        }
    }
}

/// The pool's count of jobs cancelled through their handle while queued: they count as
/// cancelled, and leave `queued`, at once — not when a worker (or `purge`, or a shutdown)
/// later takes them out of the queue and skips them. Every job's result slot holds the
/// ledger and keeps it up to date, under the slot's lock (see `handle::Tracking`): so a
/// job's withdrawal is counted before anything can take it out of the queue, and once.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Withdrawn jobs still in one of the pool's queues (or on their way out of one).
    ghosts: AtomicUsize,
    /// Every withdrawn job, ever.
    withdrawn: AtomicU64,
}

impl Ledger {
    /// A queued job was cancelled through its handle.
    pub(crate) fn withdraw(&self) {
        self.ghosts.fetch_add(1, Ordering::Relaxed);
        self.withdrawn.fetch_add(1, Ordering::Relaxed);
    }

    /// A withdrawn job left the queues (see [`PoolCounts::queued`] for the ordering).
    pub(crate) fn remove(&self) {
        self.ghosts.fetch_sub(1, Ordering::Release);
    }
}

/// What the pool counts outside its workers: refusals, evictions, jobs handed back or run
/// on callers' threads, and the totals of workers that exited.
#[derive(Debug)]
pub(crate) struct PoolCounts {
    rejected: CachePadded<AtomicU64>,
    /// Submitters waiting for room now: a gauge, touched only when the queue is full.
    blocked: AtomicUsize,
    discarded: AtomicU64,
    handed_back: AtomicU64,
    caller_ran: AtomicU64,
    /// Counters of exited workers, of jobs run on callers' threads, and of jobs `purge`
    /// skipped.
    elsewhere: Counts<AtomicU64>,
    /// The jobs cancelled while queued, which every job's result slot holds.
    pub(crate) ledger: Arc<Ledger>,
    /// Timings of exited workers.
    retired_timings: Mutex<Timings>,
}

impl PoolCounts {
    pub(crate) fn new() -> PoolCounts {
        PoolCounts {
            rejected: CachePadded::new(AtomicU64::new(0)),
            blocked: AtomicUsize::new(0),
            discarded: AtomicU64::new(0),
            handed_back: AtomicU64::new(0),
            caller_ran: AtomicU64::new(0),
            elsewhere: Counts::default(),
            ledger: Arc::new(Ledger::default()),
            retired_timings: Mutex::new(Timings::new()),
        }
    }

    pub(crate) fn rejected(&self) {
        bump_shared(&self.rejected);
    }

    /// Counts a submitter that is about to wait for room, unless `max` already wait;
    /// returns whether it may wait (and then must call [`stop_waiting`](PoolCounts::stop_waiting)).
    pub(crate) fn start_waiting(&self, max: Option<usize>) -> bool {
        let before = self.blocked.fetch_add(1, Ordering::Relaxed);
        if max.is_some_and(|max| before >= max) {
            self.blocked.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// A submitter counted by [`start_waiting`](PoolCounts::start_waiting) stopped waiting.
    pub(crate) fn stop_waiting(&self) {
        self.blocked.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn discarded(&self) {
        bump_shared(&self.discarded);
    }

    pub(crate) fn handed_back(&self, count: usize) {
        self.handed_back.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Counts a job that ran on the submitting thread (`CallerRuns`).
    pub(crate) fn caller_ran(&self, outcome: &Outcome) {
        bump_shared(&self.caller_ran);
        self.ended_elsewhere(outcome);
    }

    /// Counts a job that ended off the workers: run on a caller's thread, or skipped
    /// there by `purge`. A withdrawn job was counted when it was cancelled.
    pub(crate) fn ended_elsewhere(&self, outcome: &Outcome) {
        let Some((first, second)) = self.elsewhere.cells(outcome) else {
            return;
        };
        bump_shared(&self.elsewhere.taken);
        bump_shared(first);
        if let Some(second) = second {
            bump_shared(second);
        }
    }

    /// A job of generation slot `slot` ended off the workers: on a caller's thread, or
    /// abandoned.
    pub(crate) fn ended_off_worker(&self, slot: u8) {
        self.elsewhere.ended[usize::from(slot)].fetch_add(1, Ordering::Release);
    }

    /// The jobs of `slot` that ended off the live workers (see
    /// [`ended_off_worker`](PoolCounts::ended_off_worker)), and on the exited ones.
    pub(crate) fn ended_elsewhere_in(&self, slot: usize) -> u64 {
        self.elsewhere.ended[slot].load(Ordering::Acquire)
    }

    /// Keeps an exiting worker's totals.
    pub(crate) fn retire(&self, worker: &WorkerStats) {
        self.elsewhere.absorb(&worker.counts.read());
        let timings = worker.timings.lock();
        self.retired_timings.lock().add(&timings);
    }

    /// The jobs queued, of those `in_queues` counts in the pool's queues: the withdrawn
    /// ones still in a queue are not queued any more. Those on their way out of one (in
    /// a worker's hands) are in neither count, hence the saturation.
    ///
    /// The withdrawn jobs are read first, with `Acquire`: a job taken out of a queue
    /// leaves the ledger (`Release`) only after it left the queue, so once the count
    /// shows it gone, so does the queue's length. Read the other way round, a job a
    /// worker just took could still be in a stale length, and no longer among the
    /// withdrawn: counted as queued after its cancel returned (loom found it).
    pub(crate) fn queued(&self, in_queues: impl FnOnce() -> usize) -> usize {
        let ghosts = self.ledger.ghosts.load(Ordering::Acquire);
        in_queues().saturating_sub(ghosts)
    }

    /// Adds everything up. `workers` are the live workers' stats; `queued` the jobs
    /// queued ([`queued`](PoolCounts::queued)).
    pub(crate) fn snapshot<'a>(
        &self,
        workers: impl IntoIterator<Item = &'a WorkerStats>,
        queued: usize,
    ) -> Stats {
        let mut counts = self.elsewhere.read();
        // Withdrawn jobs count as taken from the queue and cancelled, from their cancel on.
        let withdrawn = self.ledger.withdrawn.load(Ordering::Relaxed);
        counts.taken += withdrawn;
        counts.cancelled += withdrawn;
        let mut timings = self.retired_timings.lock().clone();
        let (mut live, mut busy) = (0, 0);
        for worker in workers {
            live += 1;
            busy += usize::from(worker.busy.load(Ordering::Relaxed));
            counts.add(&worker.counts.read());
            timings.add(&worker.timings.lock());
        }
        let read = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        let (discarded, handed_back) = (read(&self.discarded), read(&self.handed_back));
        Stats {
            workers: live,
            busy,
            idle: live - busy,
            queued,
            blocked_submitters: self.blocked.load(Ordering::Relaxed),
            submitted: counts.taken + queued as u64 + discarded + handed_back,
            completed: counts.completed,
            failed: counts.failed,
            panicked: counts.panicked,
            cancelled: counts.cancelled,
            timed_out: counts.timed_out,
            rejected: read(&self.rejected),
            discarded,
            handed_back,
            caller_ran: read(&self.caller_ran),
            queue_wait: Latency::of(&timings.queue_wait),
            run_time: Latency::of(&timings.run_time),
        }
    }
}

impl Counts<u64> {
    fn add(&mut self, other: &Counts<u64>) {
        self.taken += other.taken;
        self.completed += other.completed;
        self.failed += other.failed;
        self.panicked += other.panicked;
        self.cancelled += other.cancelled;
        self.timed_out += other.timed_out;
        self.ended[0] += other.ended[0];
        self.ended[1] += other.ended[1];
    }
}

//! Helpers shared by the worker-pool integration tests: bounded waits, a job that holds
//! a worker until released, counting jobs, stats polling, panic payloads and the names of
//! live threads.
//!
//! No helper orders threads by sleeping: a wait polls what it waits for, under a bound
//! generous enough for a loaded machine, and fails the test instead of hanging.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::any::Any;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use patterns_core::{CancelReason, CancelToken};
use worker_pool::{Builder, Group, JobHandle, Rejection, Stats, WorkerPool};

/// The longest any wait in these tests may take before the test fails instead of hanging.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// Retries `attempt` (yielding in between) until it returns `Some`; fails the test after
/// [`PATIENCE`].
pub(crate) fn eventually<R>(what: &str, mut attempt: impl FnMut() -> Option<R>) -> R {
    let give_up = Instant::now() + PATIENCE;
    loop {
        if let Some(done) = attempt() {
            return done;
        }
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        thread::yield_now();
    }
}

/// Waits until `cond` holds; fails the test after [`PATIENCE`].
pub(crate) fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    eventually(what, || cond().then_some(()));
}

/// Polls the pool's stats until `cond` holds, and returns that snapshot.
pub(crate) fn stats_when(
    pool: &WorkerPool,
    what: &str,
    mut cond: impl FnMut(&Stats) -> bool,
) -> Stats {
    eventually(what, || Some(pool.stats()).filter(|stats| cond(stats)))
}

/// Polls the stats until no job is queued or running and `ended` jobs have left a
/// worker (completed, cancelled or timed out): the point from which the counters are
/// exact.
pub(crate) fn settled(pool: &WorkerPool, ended: u64) -> Stats {
    stats_when(pool, &format!("{ended} jobs to end"), |s| {
        s.queued == 0 && s.busy == 0 && s.completed + s.cancelled + s.timed_out == ended
    })
}

/// Receives from `rx`, failing the test after [`PATIENCE`] instead of hanging.
pub(crate) fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|error| panic!("waiting for {what}: {error}"))
}

/// A job that holds one worker until released. Dropping it releases the worker too, so
/// a failing test does not leave the pool stuck.
#[derive(Debug)]
pub(crate) struct Blocker {
    gate: CancelToken,
    handle: Option<JobHandle<()>>,
}

/// Calls `submit` with a sender on which the job it submits says that it runs, and
/// returns what `submit` returned once the job has said so.
pub(crate) fn once_started<R>(what: &str, submit: impl FnOnce(mpsc::Sender<()>) -> R) -> R {
    let (started, running) = mpsc::channel();
    let submitted = submit(started);
    recv(&running, what);
    submitted
}

/// What a gated job does first: say that it runs, then wait for its gate to open.
#[derive(Debug)]
pub(crate) struct Gated {
    started: mpsc::Sender<()>,
    gate: CancelToken,
}

impl Gated {
    /// Tells the test that the job runs, and waits until the gate opens.
    pub(crate) fn enter(self) {
        self.started.send(()).unwrap();
        self.gate.wait();
    }
}

/// Calls `submit` with the [`Gated`] start of a job behind `gate`, and returns what
/// `submit` returned once the job runs (and waits for the gate). The job, which starts
/// with [`Gated::enter`], may be submitted by any submitting method.
pub(crate) fn submit_gated<R>(gate: &CancelToken, submit: impl FnOnce(Gated) -> R) -> R {
    once_started("the gated job to start", |started| {
        submit(Gated {
            started,
            gate: gate.clone(),
        })
    })
}

/// Submits a job that waits on a gate, and returns once a worker runs it. The submit
/// waits for room whatever the pool's policy, so that the blocker runs on a worker even
/// where a worker must first be waiting to take it (a hand-off pool).
pub(crate) fn occupy(pool: &WorkerPool) -> Blocker {
    let gate = CancelToken::new();
    let handle = submit_gated(&gate, |gated| {
        pool.submit_timeout(move || gated.enter(), PATIENCE)
            .expect("the pool takes the blocker")
    });
    Blocker {
        gate,
        handle: Some(handle),
    }
}

/// Occupies `n` workers at once.
pub(crate) fn occupy_all(pool: &WorkerPool, n: usize) -> Vec<Blocker> {
    (0..n).map(|_| occupy(pool)).collect()
}

impl Blocker {
    /// Lets the job return, and waits until it has.
    pub(crate) fn release(mut self) {
        self.gate.cancel();
        let handle = self.handle.take().expect("released once");
        assert_eq!(handle.join(), Ok(()), "the blocker returns normally");
    }

    /// Lets the job return without waiting for it.
    pub(crate) fn open(&self) {
        self.gate.cancel();
    }
}

impl Drop for Blocker {
    fn drop(&mut self) {
        self.gate.cancel();
    }
}

/// The text of a panic payload, as `catch_unwind` hands it over.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        panic!("a panic payload that is not text")
    }
}

/// The names of this process's live threads that start with `prefix`. The kernel keeps
/// the first 15 bytes of a name, so prefixes should be short.
pub(crate) fn threads_named(prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for task in fs::read_dir("/proc/self/task").expect("Linux /proc") {
        // A thread may exit between listing and reading: skip it.
        let Ok(task) = task else { continue };
        let Ok(name) = fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        let name = name.trim_end();
        if name.starts_with(prefix) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    names
}

/// A thread name no other thread of this test binary has (at most 15 bytes).
pub(crate) fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Waits until the thread named `name` sleeps in the kernel (state `S`: blocked on a
/// lock, a condition or a park), and returns true; or returns false as soon as `finished`
/// says it ended without ever being seen asleep. Proves that a call blocks, where the
/// only alternative is to guess how long it would take to return if it did not.
pub(crate) fn seen_asleep(name: &str, mut finished: impl FnMut() -> bool) -> bool {
    eventually(&format!("thread {name} to sleep or end"), || {
        if thread_state(name) == Some('S') {
            Some(true)
        } else {
            finished().then_some(false)
        }
    })
}

/// The state letter of the live thread named `name` (see proc(5)), if there is one.
fn thread_state(name: &str) -> Option<char> {
    for task in fs::read_dir("/proc/self/task").ok()? {
        let Ok(task) = task else { continue };
        let comm = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = fs::read_to_string(task.path().join("stat")).ok()?;
        return stat[stat.rfind(')')? + 2..].chars().next();
    }
    None
}

/// A job that adds one to `ran`.
fn counting_job(ran: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let ran = ran.clone();
    move || {
        ran.fetch_add(1, Ordering::SeqCst);
    }
}

/// Executes `n` jobs on `pool`, each adding one to the count returned.
pub(crate) fn execute_counting(pool: &WorkerPool, n: usize) -> Arc<AtomicUsize> {
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        pool.execute(counting_job(&ran))
            .expect("the pool takes the counting job");
    }
    ran
}

/// Submits `n` jobs to `group`, each adding one to the count returned and succeeding.
pub(crate) fn group_counting<E: Send + 'static>(
    group: &Group<'_, E>,
    n: usize,
) -> Arc<AtomicUsize> {
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let job = counting_job(&ran);
        group
            .submit(move |_| {
                job();
                Ok(())
            })
            .expect("the group takes the counting job");
    }
    ran
}

/// A pool that scales between `min` and `max` workers, retiring idle extras after
/// `keep_alive`, with a queue of one place: one queued job makes it full.
pub(crate) fn scaling(min: usize, max: usize, keep_alive: Duration) -> Builder {
    WorkerPool::builder()
        .min_workers(min)
        .max_workers(max)
        .queue_capacity(1)
        .keep_alive(keep_alive)
}

/// A pool of one worker whose queue holds `capacity` jobs, under `rejection`.
pub(crate) fn single(capacity: usize, rejection: Rejection) -> WorkerPool {
    WorkerPool::builder()
        .workers(1)
        .queue_capacity(capacity)
        .rejection(rejection)
        .build()
        .unwrap()
}

/// Submits a job that waits for its token to fire and returns `value` with the reason;
/// returns its handle once the job runs.
pub(crate) fn until_cancelled<T: Send + 'static>(
    pool: &WorkerPool,
    value: T,
) -> JobHandle<(T, CancelReason)> {
    once_started("the job to start", |started| {
        pool.submit_with(move |cx| {
            started.send(()).unwrap();
            (value, cx.token().wait())
        })
        .unwrap()
    })
}

/// Counts its drops in the counter it shares.
#[derive(Debug)]
pub(crate) struct DropFlag(Arc<AtomicUsize>);

impl DropFlag {
    /// A flag, and the count of its drops (0 or 1).
    pub(crate) fn new() -> (DropFlag, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        (DropFlag(drops.clone()), drops)
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A value whose drop panics with `message`: the captures of a job whose drop goes wrong.
#[derive(Debug)]
pub(crate) struct PanicOnDrop(pub(crate) &'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// A pool builder whose `on_panic` hook records every message it is given, and those
/// messages.
pub(crate) fn recording_panics(builder: Builder) -> (Builder, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = {
        let seen = seen.clone();
        move |panic: worker_pool::JobPanic<'_>| seen.lock().unwrap().push(panic.message.to_owned())
    };
    (builder.on_panic(hook), seen)
}

/// Runs `attempt` with a deadline of 1 ms, then 10 ms, … up to 10 s, until it returns
/// true: it submits a job with that deadline and says whether the job started before
/// the deadline passed, which a loaded machine may not manage in a millisecond. Fails
/// the test if no attempt's job started in time.
pub(crate) fn with_growing_deadlines(mut attempt: impl FnMut(Duration) -> bool) {
    for millis in [1, 10, 100, 1000, 10_000] {
        if attempt(Duration::from_millis(millis)) {
            return;
        }
    }
    panic!("no job started before its deadline, even with 10 s to do it");
}

/// The identity that holds whenever no job is moving (running jobs are in `busy`).
pub(crate) fn assert_adds_up(stats: &Stats) {
    assert_eq!(
        stats.submitted,
        stats.completed
            + stats.cancelled
            + stats.timed_out
            + stats.discarded
            + stats.handed_back
            + stats.queued as u64
            + stats.busy as u64,
        "{stats:?}"
    );
}

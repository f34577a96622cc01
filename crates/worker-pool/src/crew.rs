//! The pool's worker threads: starting, retiring, joining, and their stats.

use std::io;
use std::time::Instant;

use crate::builder::Builder;
use crate::error::ResizeError;
use crate::job::Job;
use crate::pool::Shared;
use crate::queue::Queue;
use crate::stats::{PoolCounts, Stats, WorkerStats};
use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::sync::thread::{self, JoinHandle, ThreadId};
use crate::sync::{Arc, Condvar, Mutex};
use crate::wait::wait_until;
use crate::worker;

/// The set of workers, and the pool's open/closed state, under one lock: taken to start,
/// retire or join a worker, to resize, and to read the stats, never per job.
#[derive(Debug)]
pub(crate) struct Crew {
    state: Mutex<State>,
    /// Signalled when a worker exits.
    exited: Condvar,
    /// `state.live`, readable without the lock (the submit path's "may it grow?").
    live: AtomicUsize,
    /// `state.closed`, readable without the lock (a push onto a worker's own queue).
    closed: AtomicBool,
    /// The workers kept even when idle, and the most there may be: the builder's, until
    /// a resize. Written under the lock, read without it.
    min: AtomicUsize,
    max: AtomicUsize,
    /// Whether the pool may have no worker while it is open (built with `min_workers(0)`):
    /// then a job queued while none is alive must start one. Fixed at build, so that the
    /// submit path of every other pool skips the fence this takes (see `Shared::admit`).
    idles_out: bool,
}

#[derive(Debug)]
struct State {
    /// The live workers and those leaving in a shutdown, by worker index. A retired
    /// worker gives up its index at once, so that the live workers' indices stay below
    /// `max_workers`.
    members: Vec<Option<Member>>,
    /// Workers that have not decided to exit: what the limits count.
    live: usize,
    /// Worker threads that have not exited yet (`live`, those leaving in a shutdown and
    /// those in `retiring`, which may still run their exit hook): what `join` waits for.
    threads: usize,
    /// Workers that retired and have not exited yet.
    retiring: Vec<JoinHandle<()>>,
    /// A shutdown has begun: no worker starts any more.
    closed: bool,
    /// Workers that exited, to be joined.
    exited: Vec<JoinHandle<()>>,
    /// The pool was dropped by one of its own jobs, so no one outside will join the
    /// workers: the last one to exit joins the others.
    orphaned: bool,
}

#[derive(Debug)]
struct Member {
    stats: Arc<WorkerStats>,
    thread: ThreadId,
    handle: JoinHandle<()>,
    /// The job a worker started by `grow` runs first; it takes it from here, as the
    /// thread cannot be handed a value whose return a failed spawn would lose.
    first: Option<Job>,
}

/// A change of the limits, as asked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resize {
    Workers(usize),
    Min(usize),
    Max(usize),
}

impl Resize {
    /// The setting's name, for an error.
    fn setting(self) -> &'static str {
        match self {
            Resize::Workers(_) => "workers",
            Resize::Min(_) => "min_workers",
            Resize::Max(_) => "max_workers",
        }
    }
}

/// Which limit a new worker must stay within.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    /// `min_workers`: a pool that did not prestart its workers starts them one job at a
    /// time.
    Min,
    /// `max_workers`: a full queue makes the pool grow.
    Max,
}

impl Crew {
    pub(crate) fn new(config: &Builder) -> Crew {
        Crew {
            state: Mutex::new(State {
                members: Vec::with_capacity(config.max_workers),
                live: 0,
                threads: 0,
                retiring: Vec::new(),
                closed: false,
                exited: Vec::new(),
                orphaned: false,
            }),
            exited: Condvar::new(),
            live: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            min: AtomicUsize::new(config.min_workers),
            max: AtomicUsize::new(config.max_workers),
            idles_out: config.min_workers == 0,
        }
    }

    pub(crate) fn min(&self) -> usize {
        self.min.load(Ordering::Relaxed)
    }

    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    fn limit(&self, limit: Limit) -> usize {
        match limit {
            Limit::Min => self.min(),
            Limit::Max => self.max(),
        }
    }

    /// Whether fewer workers are alive than `limit` allows (read without the lock).
    #[inline]
    fn below(&self, limit: Limit) -> bool {
        self.live() < self.limit(limit)
    }

    pub(crate) fn idles_out(&self) -> bool {
        self.idles_out
    }

    /// Starts the workers a prestarting pool begins with.
    pub(crate) fn prestart(&self, shared: &Arc<Shared>) -> io::Result<()> {
        let mut state = self.state.lock();
        while state.live < self.min() {
            self.spawn_locked(shared, &mut state, &mut None)?;
        }
        Ok(())
    }

    /// Starts a worker with `job` as its first, if the pool is open and below `limit`
    /// (Java's rules: below the minimum a job starts a worker of its own; at a full
    /// queue, the job that found it full is the new worker's); gives the job back if it
    /// did not. Inlined down to the look at the count, so that the usual submit (the
    /// pool at its minimum, or the queue not full) passes no job in and out of a call.
    #[inline]
    pub(crate) fn grow(&self, shared: &Arc<Shared>, job: Job, limit: Limit) -> Result<(), Job> {
        if !self.below(limit) {
            return Err(job);
        }
        self.grow_locked(shared, job, limit)
    }

    #[cold]
    fn grow_locked(&self, shared: &Arc<Shared>, job: Job, limit: Limit) -> Result<(), Job> {
        let mut state = self.state.lock();
        if state.closed || state.live >= self.limit(limit) {
            return Err(job);
        }
        // A thread that cannot start leaves the pool as it is: the job waits for the
        // workers there are, under the pool's policy.
        let mut job = Some(job);
        match self.spawn_locked(shared, &mut state, &mut job) {
            Ok(()) => Ok(()),
            Err(_) => Err(job.expect("a thread that did not start did not take its job")),
        }
    }

    /// A job was queued while no worker may have been alive (a pool that idles out):
    /// starts one if none is. The caller fenced between its push and its look at `live`,
    /// the other side of `try_retire`'s.
    pub(crate) fn start_one_if_none(&self, shared: &Arc<Shared>) {
        let mut state = self.state.lock();
        if !state.closed && state.live == 0 {
            // A thread that cannot start: the job waits for the next submit to try again
            // (or is handed back by `shutdown_now`, or run by `shutdown`'s last look).
            let _ = self.spawn_locked(shared, &mut state, &mut None);
        }
    }

    /// Starts a worker that runs `first` (taken on success) before it turns to the queue.
    fn spawn_locked(
        &self,
        shared: &Arc<Shared>,
        state: &mut State,
        first: &mut Option<Job>,
    ) -> io::Result<()> {
        let index = state
            .members
            .iter()
            .position(Option::is_none)
            .unwrap_or(state.members.len());
        let stats = Arc::new(WorkerStats::new());
        let queue = shared.locals.register(index);
        let mut builder = thread::Builder::new().name(format!("{}-{index}", shared.config.name));
        if let Some(bytes) = shared.config.stack_size {
            builder = builder.stack_size(bytes);
        }
        let spawned = builder.spawn({
            let shared = shared.clone();
            let stats = stats.clone();
            move || worker::run(&shared, index, &stats, queue)
        });
        let handle = spawned.inspect_err(|_| shared.locals.unregister(index))?;
        let member = Member {
            stats,
            thread: handle.thread().id(),
            handle,
            first: first.take(),
        };
        if index == state.members.len() {
            state.members.push(Some(member));
        } else {
            state.members[index] = Some(member);
        }
        state.live += 1;
        state.threads += 1;
        self.live.store(state.live, Ordering::Relaxed);
        Ok(())
    }

    /// The job worker `index` was started for, if any.
    pub(crate) fn take_first(&self, index: usize) -> Option<Job> {
        let mut state = self.state.lock();
        state.members[index].as_mut()?.first.take()
    }

    /// Retires worker `index` if more than `limit` are alive; returns whether it did (the
    /// worker must then exit, with nothing left in its own queue). The last worker of a
    /// pool that idles out stays if a job came meanwhile: it decrements `live`, fences,
    /// and looks at the queue, while a submitter pushes, fences, and looks at `live`
    /// (Dekker's pattern), so one of them sees the other, and the job finds a worker.
    pub(crate) fn try_retire(&self, index: usize, limit: usize, shared: &Shared) -> bool {
        let mut state = self.state.lock();
        if state.live <= limit {
            return false;
        }
        state.live -= 1;
        self.live.store(state.live, Ordering::Relaxed);
        if state.live == 0 {
            fence(Ordering::SeqCst);
            if shared.has_waiting_jobs() {
                state.live += 1;
                self.live.store(state.live, Ordering::Relaxed);
                return false;
            }
        }
        let handle = Crew::release(&mut state, index, shared);
        state.retiring.push(handle);
        // The workers that retired before this one have exited, or are about to: join
        // them now (outside the lock), so that a pool that grows and shrinks for ever
        // does not keep every dead thread's stack until it shuts down. This one is joined
        // by the next worker to retire, or by the shutdown.
        let retired = std::mem::take(&mut state.exited);
        drop(state);
        for handle in retired {
            // As in `join`: a worker catches every job's panic.
            let _ = handle.join();
        }
        true
    }

    /// Worker `index` is exiting, `retired` or at the end of a shutdown, its exit hook
    /// run. If the pool was dropped by one of its jobs and this is the last worker, it
    /// joins the others (its own thread, which cannot join itself, ends right after,
    /// detached).
    pub(crate) fn exit(&self, index: usize, retired: bool, shared: &Shared) {
        let mut state = self.state.lock();
        let me = thread::current().id();
        let handle = if retired {
            let at = state
                .retiring
                .iter()
                .position(|handle| handle.thread().id() == me)
                .expect("a retired worker is among the retiring");
            state.retiring.swap_remove(at)
        } else {
            state.live -= 1;
            self.live.store(state.live, Ordering::Relaxed);
            Crew::release(&mut state, index, shared)
        };
        state.exited.push(handle);
        state.threads -= 1;
        self.exited.notify_all();
        if !(state.orphaned && state.threads == 0) {
            return;
        }
        let exited = std::mem::take(&mut state.exited);
        drop(state);
        for handle in exited {
            if handle.thread().id() != me {
                // As in `join`: a worker catches every job's panic.
                let _ = handle.join();
            }
        }
    }

    /// Frees worker `index`'s slot and own queue, and moves its counts to the pool's:
    /// once it has run its last job. Returns its thread, to be joined.
    fn release(state: &mut State, index: usize, shared: &Shared) -> JoinHandle<()> {
        let member = state.members[index]
            .take()
            .expect("a worker leaves once, from its own slot");
        shared.locals.unregister(index);
        shared.counts.retire(&member.stats);
        member.handle
    }

    /// The pool's last handle is being dropped on one of its own workers, which cannot
    /// wait for the others: from now on the last worker to exit joins them.
    pub(crate) fn orphan(&self) {
        self.state.lock().orphaned = true;
    }

    /// Sets the limits, starting workers up to the new minimum at once. Under the lock, so
    /// that concurrent resizes each see the other's limits.
    pub(crate) fn resize(&self, shared: &Arc<Shared>, to: Resize) -> Result<(), ResizeError> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(ResizeError::ShutDown);
        }
        let (min, max) = match to {
            Resize::Workers(n) => (n, n),
            Resize::Min(n) => (n, self.max()),
            Resize::Max(n) => (self.min(), n),
        };
        if max == 0 {
            return Err(ResizeError::ZeroWorkers(to.setting()));
        }
        if min > max {
            return Err(ResizeError::MinAboveMax { min, max });
        }
        if min == 0 && !self.idles_out {
            return Err(ResizeError::ZeroMin);
        }
        self.min.store(min, Ordering::Relaxed);
        self.max.store(max, Ordering::Relaxed);
        // Every idle worker reads the limits again: above a lower maximum it retires, above
        // a lower minimum it starts its keep-alive (busy ones do so when next idle).
        shared.wake_idle();
        while state.live < min {
            self.spawn_locked(shared, &mut state, &mut None)
                .map_err(ResizeError::Spawn)?;
        }
        Ok(())
    }

    /// Begins the shutdown: no worker starts from now on, and the queue takes no job.
    pub(crate) fn close(&self, queue: &Queue) {
        // Both under the lock: once `is_closed` reads true every submit is refused, and
        // `grow` (which checks `closed` under the lock) cannot start a worker for a job
        // that found the queue full just before it closed.
        let mut state = self.state.lock();
        state.closed = true;
        self.closed.store(true, Ordering::SeqCst);
        // Orders the store before the close of the queue, which exiting workers see, and
        // before `shutdown_now`'s look at the workers' queues: the other side of
        // `local`'s closing protocol.
        fence(Ordering::SeqCst);
        queue.close();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Whether every worker thread has exited (not only decided to).
    pub(crate) fn all_exited(&self) -> bool {
        self.state.lock().threads == 0
    }

    /// Waits until every worker has exited (or `deadline`), then joins their threads.
    /// Returns whether all exited. On a worker of this pool it returns false at once: a
    /// thread cannot join itself.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        let me = thread::current().id();
        let mut state = self.state.lock();
        let on_worker = state.members.iter().flatten().any(|m| m.thread == me)
            || state.retiring.iter().any(|h| h.thread().id() == me);
        if on_worker {
            return false;
        }
        while state.threads > 0 {
            let (next, expired) = wait_until(&self.exited, state, deadline);
            if expired {
                return false;
            }
            state = next;
        }
        let exited = std::mem::take(&mut state.exited);
        drop(state);
        for handle in exited {
            // A worker catches every job's panic; an `Err` here would be a bug of ours
            // that already printed its message, and the thread is gone either way.
            let _ = handle.join();
        }
        true
    }

    /// The jobs of `wait_idle` generation slot `slot` that ended, on live workers, exited
    /// ones and elsewhere: under the lock, so that a worker's count moves to the pool's
    /// (as it exits) before or after, not during.
    pub(crate) fn ended(&self, counts: &PoolCounts, slot: usize) -> u64 {
        let state = self.state.lock();
        let on_live: u64 = state
            .members
            .iter()
            .flatten()
            .map(|member| member.stats.ended_jobs_in(slot))
            .sum();
        on_live + counts.ended_elsewhere_in(slot)
    }

    /// Adds up the stats of the live workers and of the pool.
    pub(crate) fn stats(&self, counts: &PoolCounts, queued: usize) -> Stats {
        let state = self.state.lock();
        counts.snapshot(
            state.members.iter().flatten().map(|member| &*member.stats),
            queued,
        )
    }
}

//! The pool's worker threads: starting, retiring, joining, and their stats.

use std::io;
use std::time::Instant;

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
/// retire or join a worker and to read the stats, never per job.
#[derive(Debug)]
pub(crate) struct Crew {
    state: Mutex<State>,
    /// Signalled when a worker exits.
    exited: Condvar,
    /// `state.live`, readable without the lock (the submit path's "may it grow?").
    live: AtomicUsize,
    /// `state.closed`, readable without the lock (a push onto a worker's own queue).
    closed: AtomicBool,
}

#[derive(Debug)]
struct State {
    /// By worker index; a retired worker's index is reused.
    members: Vec<Option<Member>>,
    live: usize,
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

impl Crew {
    pub(crate) fn new(max_workers: usize) -> Crew {
        Crew {
            state: Mutex::new(State {
                members: Vec::with_capacity(max_workers),
                live: 0,
                closed: false,
                exited: Vec::new(),
                orphaned: false,
            }),
            exited: Condvar::new(),
            live: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Starts a worker.
    pub(crate) fn spawn(&self, shared: &Arc<Shared>) -> io::Result<()> {
        let mut state = self.state.lock();
        self.spawn_locked(shared, &mut state, &mut None)
    }

    /// Starts an extra worker with `job` as its first, if the pool scales and is below
    /// its maximum (Java's rule: the job that found the queue full is the new worker's);
    /// gives the job back if it did not.
    pub(crate) fn grow(&self, shared: &Arc<Shared>, job: Job) -> Result<(), Job> {
        let max = shared.config.max_workers;
        if !shared.config.scales() || self.live.load(Ordering::Relaxed) >= max {
            return Err(job);
        }
        let mut state = self.state.lock();
        if state.closed || state.live >= max {
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
        self.live.store(state.live, Ordering::Relaxed);
        Ok(())
    }

    /// The job worker `index` was started for, if any.
    pub(crate) fn take_first(&self, index: usize) -> Option<Job> {
        let mut state = self.state.lock();
        state.members[index].as_mut()?.first.take()
    }

    /// Retires worker `index` if more than `min` are alive; returns whether it did (the
    /// worker must then exit without calling [`exit`](Crew::exit)).
    pub(crate) fn try_retire(&self, index: usize, min: usize, shared: &Shared) -> bool {
        let mut state = self.state.lock();
        if state.live <= min {
            return false;
        }
        // The workers that retired before this one have exited, or are about to: join
        // them now (outside the lock), so that a pool that grows and shrinks for ever
        // does not keep every dead thread's stack until it shuts down. This one is joined
        // by the next worker to retire, or by the shutdown.
        let retired = std::mem::take(&mut state.exited);
        self.exit_locked(index, shared, &mut state);
        drop(state);
        for handle in retired {
            // As in `join`: a worker catches every job's panic.
            let _ = handle.join();
        }
        true
    }

    /// Worker `index` is exiting. If the pool was dropped by one of its jobs and this is
    /// the last worker, it joins the others (its own thread, which cannot join itself,
    /// ends right after, detached).
    pub(crate) fn exit(&self, index: usize, shared: &Shared) {
        let mut state = self.state.lock();
        self.exit_locked(index, shared, &mut state);
        if !(state.orphaned && state.live == 0) {
            return;
        }
        let exited = std::mem::take(&mut state.exited);
        drop(state);
        let me = thread::current().id();
        for handle in exited {
            if handle.thread().id() != me {
                // As in `join`: a worker catches every job's panic.
                let _ = handle.join();
            }
        }
    }

    /// The pool's last handle is being dropped on one of its own workers, which cannot
    /// wait for the others: from now on the last worker to exit joins them.
    pub(crate) fn orphan(&self) {
        self.state.lock().orphaned = true;
    }

    fn exit_locked(&self, index: usize, shared: &Shared, state: &mut State) {
        let member = state.members[index]
            .take()
            .expect("a worker exits once, from its own slot");
        shared.locals.unregister(index);
        shared.counts.retire(&member.stats);
        state.exited.push(member.handle);
        state.live -= 1;
        self.live.store(state.live, Ordering::Relaxed);
        self.exited.notify_all();
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

    /// Waits until every worker has exited (or `deadline`), then joins their threads.
    /// Returns whether all exited. On a worker of this pool it returns false at once: a
    /// thread cannot join itself.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        let me = thread::current().id();
        let mut state = self.state.lock();
        if state
            .members
            .iter()
            .flatten()
            .any(|member| member.thread == me)
        {
            return false;
        }
        while state.live > 0 {
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

    /// Adds up the stats of the live workers and of the pool.
    pub(crate) fn stats(&self, counts: &PoolCounts, queued: usize) -> Stats {
        let state = self.state.lock();
        counts.snapshot(
            state.members.iter().flatten().map(|member| &*member.stats),
            queued,
        )
    }
}

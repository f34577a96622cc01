//! A job's result slot, shared by the job and its [`JobHandle`].

use core::fmt;
use std::time::Instant;

use patterns_core::CancelToken;

use crate::error::JobError;
use crate::stats::Ledger;
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::task::Outcome;
use crate::wait::wait_until;

/// Where a job's result meets its handle.
///
/// The phase moves `Queued → Running → Done`, or straight from `Queued` to `Done` when
/// the job is cancelled, times out or is abandoned before it starts; `Done` is final, so
/// a result that arrives after a cancel or a time-out fixed the handle is dropped.
///
/// Beside the phase, the slot tracks whether the job is in the pool's queues (see
/// [`Tracking`]), so that a cancel while it is queued is counted at once, and once.
pub(crate) struct Slot<R> {
    state: Mutex<State<R>>,
    /// Signalled when the phase becomes `Done` while the handle waits.
    done: Condvar,
    /// The job's deadline (`submit_with_timeout`): past it the handle reads `TimedOut`.
    deadline: Option<Instant>,
    /// The pool's count of withdrawn jobs.
    ledger: Arc<Ledger>,
}

struct State<R> {
    phase: Phase<R>,
    tracking: Tracking,
    /// Whether the handle is blocked on `done` (so only then is it signalled).
    waiting: bool,
}

/// Where a job stands in the pool's count of queued jobs. Changed only under the slot's
/// lock, with the [`Ledger`] beside it, so that every withdrawal is counted once, and
/// taken back once: whatever takes the job out of a queue (a worker starting it, `purge`,
/// an eviction, `shutdown_now`, a drop) goes through the slot, and the lock orders it
/// after the cancel that withdrew it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tracking {
    /// In one of the pool's queues, counted as queued.
    Queued,
    /// Cancelled through the handle while queued: counted as cancelled at once and no
    /// longer as queued (one of the ledger's ghosts), though still in a queue until
    /// something takes it out.
    Withdrawn,
    /// Out of the queues: started, handed back, evicted, or taken out once withdrawn.
    Out,
}

enum Phase<R> {
    Queued,
    /// Running, with the token to fire if the handle cancels it or it times out.
    Running(Option<CancelToken>),
    Done(Result<R, JobError>),
    /// The handle took the result; whether the job was skipped, and why (`None` for a
    /// value or a panic).
    Taken(Option<Skip>),
}

/// Why a job was resolved without running to the end: all that `start` and `finish`
/// need to know of an error once the handle has taken it (a panic's payload went with
/// the handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    TimedOut,
    /// Cancelled, or abandoned (shut down, discarded): not run, counted as cancelled.
    Cancelled,
}

impl Skip {
    fn of(error: &JobError) -> Option<Skip> {
        match error {
            JobError::Panicked(_) => None,
            JobError::TimedOut => Some(Skip::TimedOut),
            JobError::Cancelled | JobError::ShutDown | JobError::Discarded => Some(Skip::Cancelled),
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Skip::TimedOut => Outcome::TimedOut,
            Skip::Cancelled => Outcome::Cancelled,
        }
    }
}

impl<R> Slot<R> {
    /// A slot for a job that is about to be queued; a cancel while it is goes to `ledger`.
    pub(crate) fn new(deadline: Option<Instant>, ledger: Arc<Ledger>) -> Slot<R> {
        Slot {
            state: Mutex::new(State {
                phase: Phase::Queued,
                tracking: Tracking::Queued,
                waiting: false,
            }),
            done: Condvar::new(),
            deadline,
            ledger,
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// The job is about to run: `Ok` if it should, or how it ended while queued.
    pub(crate) fn start(&self, token: Option<&CancelToken>) -> Result<(), Outcome> {
        let mut state = self.state.lock();
        if self.leave_queues(&mut state) {
            return Err(Outcome::Withdrawn);
        }
        match &state.phase {
            Phase::Queued if self.past_deadline() => {
                self.resolve(&mut state, Err(JobError::TimedOut));
                Err(Outcome::TimedOut)
            }
            Phase::Queued => {
                state.phase = Phase::Running(token.cloned());
                Ok(())
            }
            Phase::Done(Err(error)) => Err(skipped(error)),
            Phase::Taken(Some(skip)) => Err(skip.outcome()),
            Phase::Running(_) | Phase::Done(Ok(_)) | Phase::Taken(None) => {
                unreachable!("a job starts once, from its queue")
            }
        }
    }

    /// The job returned (or panicked) with `result`.
    pub(crate) fn finish(&self, result: Result<R, JobError>) -> Outcome {
        let outcome = match &result {
            Ok(_) => Outcome::Completed,
            Err(JobError::Panicked(payload)) => Outcome::Panicked(payload.to_string()),
            Err(error) => skipped(error),
        };
        let mut state = self.state.lock();
        if !matches!(state.phase, Phase::Running(_)) {
            // Cancelled or timed out while it ran: the handle already has its answer, and
            // a job that returned counts as that answer says.
            let answered = match &state.phase {
                Phase::Done(Err(JobError::TimedOut)) | Phase::Taken(Some(Skip::TimedOut)) => {
                    Outcome::TimedOut
                }
                _ => Outcome::Cancelled,
            };
            drop(state);
            return match outcome {
                Outcome::Completed => answered,
                other => other,
            };
        }
        if self.past_deadline() {
            self.resolve(&mut state, Err(JobError::TimedOut));
            // The handle reads TimedOut; a panic still counts (and goes to the hook) as
            // one, as when the handle noticed the deadline first.
            return match outcome {
                Outcome::Completed => Outcome::TimedOut,
                other => other,
            };
        }
        self.resolve(&mut state, result);
        outcome
    }

    /// The job leaves the pool unrun (shut down or discarded).
    pub(crate) fn resolve_unstarted(&self, why: JobError) {
        let mut state = self.state.lock();
        self.leave_queues(&mut state);
        if matches!(state.phase, Phase::Queued) {
            self.resolve(&mut state, Err(why));
        }
    }

    /// The job leaves the pool's queues without running (see [`Task::release`]): returns
    /// whether it had been withdrawn.
    ///
    /// [`Task::release`]: crate::task::Task::release
    pub(crate) fn release(&self) -> bool {
        let mut state = self.state.lock();
        self.leave_queues(&mut state)
    }

    /// Whether the job, started now, would only be skipped: resolved before it ran (by
    /// a cancel, a time-out noticed by the handle, an abandonment) or past its deadline.
    /// Once true, true for ever.
    pub(crate) fn doomed(&self) -> bool {
        let state = self.state.lock();
        match state.phase {
            Phase::Queued => self.past_deadline(),
            Phase::Done(_) | Phase::Taken(_) => true,
            Phase::Running(_) => false,
        }
    }

    /// Marks the job out of the queues; returns whether it was withdrawn, which the
    /// ledger then stops counting among the jobs still queued.
    fn leave_queues(&self, state: &mut State<R>) -> bool {
        let withdrawn = state.tracking == Tracking::Withdrawn;
        if withdrawn {
            self.ledger.remove();
        }
        state.tracking = Tracking::Out;
        withdrawn
    }

    /// Fixes the handle as cancelled, unless the job already ended; fires a running job's
    /// token. Returns whether this call cancelled it. A job cancelled while queued is
    /// withdrawn: counted as cancelled, and no longer as queued, from now on.
    pub(crate) fn cancel(&self) -> bool {
        let mut state = self.state.lock();
        let token = match &mut state.phase {
            Phase::Queued => {
                if state.tracking == Tracking::Queued {
                    state.tracking = Tracking::Withdrawn;
                    self.ledger.withdraw();
                }
                None
            }
            Phase::Running(token) => token.take(),
            Phase::Done(_) | Phase::Taken(_) => return false,
        };
        self.resolve(&mut state, Err(JobError::Cancelled));
        drop(state);
        // Outside the lock: the token's callbacks are the user's code.
        if let Some(token) = token {
            token.cancel();
        }
        true
    }

    /// Whether the handle has its answer: a result, or a cancel or a time-out.
    pub(crate) fn is_finished(&self) -> bool {
        let mut state = self.state.lock();
        let expired = self.time_out_if_due(&mut state);
        let finished = matches!(state.phase, Phase::Done(_));
        drop(state);
        fire(expired);
        finished
    }

    /// Takes the result, waiting for it until `until` (forever if `None`). `None` if it
    /// did not come in time.
    pub(crate) fn take(&self, until: Option<Instant>) -> Option<Result<R, JobError>> {
        let mut state = self.state.lock();
        loop {
            let expired = self.time_out_if_due(&mut state);
            if let Phase::Done(_) = state.phase {
                let taken = match &state.phase {
                    Phase::Done(Err(error)) => Phase::Taken(Skip::of(error)),
                    _ => Phase::Taken(None),
                };
                let Phase::Done(result) = std::mem::replace(&mut state.phase, taken) else {
                    unreachable!("matched just above")
                };
                drop(state);
                fire(expired);
                return Some(result);
            }
            let wake = match (until, self.deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            state.waiting = true;
            let (next, passed) = wait_until(&self.done, state, wake);
            state = next;
            state.waiting = false;
            // Past the job's deadline instead, the next round fixes it as timed out.
            if passed && until.is_some_and(|until| Instant::now() >= until) {
                return None;
            }
        }
    }

    /// Past the deadline, a job that has not returned is fixed as timed out; returns its
    /// token, for the caller to fire once it has let go of the lock.
    fn time_out_if_due(&self, state: &mut MutexGuard<'_, State<R>>) -> Option<CancelToken> {
        if !matches!(state.phase, Phase::Queued | Phase::Running(_)) || !self.past_deadline() {
            return None;
        }
        let token = match &mut state.phase {
            Phase::Running(token) => token.take(),
            _ => None,
        };
        self.resolve(state, Err(JobError::TimedOut));
        token
    }

    fn resolve(&self, state: &mut State<R>, result: Result<R, JobError>) {
        state.phase = Phase::Done(result);
        if state.waiting {
            self.done.notify_all();
        }
    }
}

/// Fires the token of a job that just timed out. Its deadline is the job's, so reading it
/// fires it with `DeadlineExceeded` (and runs its callbacks, which is why no lock is held).
fn fire(expired: Option<CancelToken>) {
    if let Some(token) = expired {
        let _ = token.is_cancelled();
    }
}

/// What a job resolved as before it ran tells which counter it goes to.
fn skipped(error: &JobError) -> Outcome {
    match error {
        JobError::TimedOut => Outcome::TimedOut,
        _ => Outcome::Cancelled,
    }
}

/// The handle of one submitted job: wait for its result, or cancel it.
///
/// Dropping the handle detaches the job: it still runs, and its result is dropped.
///
/// # Examples
///
/// ```
/// use worker_pool::{JobError, WorkerPool};
///
/// let pool = WorkerPool::new(2).unwrap();
/// let answer = pool.submit(|| 6 * 7).unwrap();
/// assert_eq!(answer.join(), Ok(42));
///
/// let oops = pool.submit(|| -> u32 { panic!("no answer") }).unwrap();
/// assert_eq!(oops.join(), Err(JobError::Panicked("no answer".into())));
/// ```
#[must_use = "dropping a handle detaches the job; `join` it to get its result"]
pub struct JobHandle<R> {
    slot: Arc<Slot<R>>,
}

impl<R> JobHandle<R> {
    pub(crate) fn new(slot: Arc<Slot<R>>) -> JobHandle<R> {
        JobHandle { slot }
    }

    /// Waits for the job and returns its result.
    ///
    /// # Errors
    ///
    /// [`JobError::Panicked`] with the panic's payload (for
    /// [`resume_unwind`](std::panic::resume_unwind), or its text); [`JobError::Cancelled`] after
    /// [`cancel`](JobHandle::cancel); [`JobError::TimedOut`] at the job's deadline, if it
    /// has one and has not returned by then; [`JobError::ShutDown`] if the pool shut
    /// down before running it; [`JobError::Discarded`] if a newer job evicted it.
    pub fn join(self) -> Result<R, JobError> {
        self.slot
            .take(None)
            .expect("an untimed wait ends with the result")
    }

    /// The result if the job has finished, else the handle back. Never blocks.
    ///
    /// # Errors
    ///
    /// The inner `Result` holds the job's errors, as for [`join`](JobHandle::join).
    pub fn try_join(self) -> Result<Result<R, JobError>, JobHandle<R>> {
        self.join_deadline(Instant::now())
    }

    /// Waits up to `timeout` for the result; gives the handle back if it did not come.
    ///
    /// # Errors
    ///
    /// The inner `Result` holds the job's errors, as for [`join`](JobHandle::join).
    pub fn join_timeout(
        self,
        timeout: std::time::Duration,
    ) -> Result<Result<R, JobError>, JobHandle<R>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.join_deadline(deadline),
            None => Ok(self.join()),
        }
    }

    /// Waits until `deadline` for the result; gives the handle back if it did not come.
    ///
    /// # Errors
    ///
    /// The inner `Result` holds the job's errors, as for [`join`](JobHandle::join).
    pub fn join_deadline(self, deadline: Instant) -> Result<Result<R, JobError>, JobHandle<R>> {
        match self.slot.take(Some(deadline)) {
            Some(result) => Ok(result),
            None => Err(self),
        }
    }

    /// Whether [`join`](JobHandle::join) would return at once.
    pub fn is_finished(&self) -> bool {
        self.slot.is_finished()
    }

    /// Cancels the job: if it has not started, it never runs; if it is running, its
    /// token fires (a job that ignores its token runs on, and its result is dropped).
    /// Either way the handle reads [`JobError::Cancelled`] from now on.
    ///
    /// A job cancelled while queued counts as cancelled in the pool's
    /// [stats](crate::WorkerPool::stats), and no longer as queued, by the time this
    /// returns (once: not again when a worker reaches it and skips it). It keeps its
    /// place in the queue, and what it captured, until then, or until
    /// [`purge`](crate::WorkerPool::purge).
    ///
    /// Returns `false` if the job had already finished (its result stands).
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }
}

impl<R> fmt::Debug for JobHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

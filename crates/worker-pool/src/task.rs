//! The kinds of job: a closure plus whatever reports its result, and what running one
//! comes to.

use core::fmt;
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use patterns_core::CancelToken;

use crate::builder::{JobPanic, PanicHook};
use crate::context::JobContext;
use crate::error::{JobError, PanicPayload, NOT_TEXT};
use crate::handle::{JobHandle, Slot};
use crate::stats::{Ledger, WorkerStats};
use crate::sync::Arc;

/// What running (or skipping) one job came to, for the pool's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It returned (an `Err` of a group job counts as `Failed` instead).
    Completed,
    /// It returned an error (group jobs only).
    Failed,
    /// It panicked, with this message.
    Panicked(String),
    /// It was cancelled before it started and did not run.
    Cancelled,
    /// Its deadline passed: before it started (it did not run) or before it returned.
    TimedOut,
    /// It was cancelled through its handle while queued, and counted as cancelled then
    /// (see [`Ledger`](crate::stats::Ledger)): skipped, and counted no more.
    Withdrawn,
}

/// What a task sees of the worker running it.
pub(crate) struct RunEnv<'a> {
    /// The pool's token, fired by `shutdown_now`: the token of jobs that have none of
    /// their own.
    pub(crate) root: &'a CancelToken,
    /// The worker's index; `None` on a caller's thread.
    pub(crate) worker: Option<usize>,
    /// The worker's stats, where a sampled job's timings go; `None` on a caller's thread.
    pub(crate) stats: Option<&'a WorkerStats>,
    /// The pool's [`on_panic`](crate::Builder::on_panic) hook.
    pub(crate) hook: Option<&'a PanicHook>,
}

impl fmt::Debug for RunEnv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunEnv")
            .field("worker", &self.worker)
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl RunEnv<'_> {
    /// Drops what a job that is not going to run holds (it was cancelled or timed out
    /// while queued): a panic there is reported to the hook, never passed on, so the job
    /// still counts as what stopped it.
    pub(crate) fn drop_unrun<V>(&self, value: V) {
        if let Err(message) = catch(|| drop(value)) {
            report_unrun(self.hook, &message, self.worker);
        }
    }
}

/// Hands `message`, a panic while dropping a job that never ran, to `hook`.
pub(crate) fn report_unrun(hook: Option<&PanicHook>, message: &str, worker: Option<usize>) {
    report(
        hook,
        &format!("dropping a job that never ran: {message}"),
        worker,
    );
}

/// Hands a panic's `message` to `hook`, if the pool has one. A panicking hook must not
/// take the worker (or the caller) down; nothing to do with its panic.
pub(crate) fn report(hook: Option<&PanicHook>, message: &str, worker: Option<usize>) {
    if let Some(hook) = hook {
        let _ = catch(|| hook(JobPanic { message, worker }));
    }
}

/// One kind of job: a closure plus whatever reports its result. Exactly one of `run` and
/// `abandon` is called.
pub(crate) trait Task: Send + Sized {
    /// Runs the job (or skips it, if it was cancelled while queued) and reports its result.
    fn run(self, env: &RunEnv<'_>) -> Outcome;

    /// Drops the job unrun, resolving whatever waits for it with `why`.
    fn abandon(self, why: JobError);

    /// Whether the job, if run now, would only be skipped: cancelled, past its deadline,
    /// its group failed. Once true, true for ever. What [`purge`](crate::WorkerPool::purge)
    /// takes out of the queue.
    fn doomed(&self) -> bool {
        false
    }

    /// The job leaves the pool's queues unrun (handed back by `shutdown_now`, evicted):
    /// whether it had been withdrawn (cancelled through its handle while queued, and
    /// counted then). From now on a cancel does not count it so.
    fn release(&self) -> bool {
        false
    }
}

/// Runs `f`, turning a panic into its message.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = panic_message(&*payload);
        // A payload's own drop may panic too (`panic_any` of such a value): that must
        // not unwind the worker either. Its payload is leaked rather than dropped, as
        // dropping it could panic again.
        if let Err(nested) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
            std::mem::forget(nested);
        }
        message
    })
}

/// Runs a job's closure, keeping its panic's payload for the job's handle (or group).
pub(crate) fn catch_payload<R>(f: impl FnOnce() -> R) -> Result<R, PanicPayload> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(PanicPayload::new)
}

/// The message of a panic payload: what `panic!` was given, when that was text.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    patterns_core::panic_message(payload)
        .unwrap_or(NOT_TEXT)
        .to_owned()
}

/// A fire-and-forget job ([`execute`](crate::WorkerPool::execute)): no result slot.
pub(crate) struct Detached<F>(pub(crate) F);

impl<F: FnOnce() + Send> Task for Detached<F> {
    fn run(self, _env: &RunEnv<'_>) -> Outcome {
        match catch(self.0) {
            Ok(()) => Outcome::Completed,
            Err(message) => Outcome::Panicked(message),
        }
    }

    fn abandon(self, _why: JobError) {}
}

/// A job's closure, called with or without its context.
pub(crate) trait Call<R>: Send {
    fn call(self, cx: &JobContext<'_>) -> R;
}

/// A closure that takes no context ([`submit`](crate::WorkerPool::submit)).
pub(crate) struct Plain<F>(pub(crate) F);

impl<F: FnOnce() -> R + Send, R> Call<R> for Plain<F> {
    fn call(self, _cx: &JobContext<'_>) -> R {
        (self.0)()
    }
}

/// A closure that reads its context ([`submit_with`](crate::WorkerPool::submit_with)).
pub(crate) struct WithContext<F>(pub(crate) F);

impl<F: FnOnce(&JobContext<'_>) -> R + Send, R> Call<R> for WithContext<F> {
    fn call(self, cx: &JobContext<'_>) -> R {
        (self.0)(cx)
    }
}

/// A job whose result goes to a [`JobHandle`](crate::JobHandle).
pub(crate) struct Attached<C, R> {
    pub(crate) call: C,
    pub(crate) slot: Arc<Slot<R>>,
    /// The job's own token (a child of the pool's), for jobs that read a context.
    pub(crate) token: Option<CancelToken>,
}

impl<C: Call<R>, R: Send> Attached<C, R> {
    /// The job and its handle; a cancel while it is queued goes to `ledger`.
    pub(crate) fn new(
        call: C,
        token: Option<CancelToken>,
        deadline: Option<Instant>,
        ledger: &Arc<Ledger>,
    ) -> (Attached<C, R>, JobHandle<R>) {
        let slot = Arc::new(Slot::new(deadline, Arc::clone(ledger)));
        let handle = JobHandle::new(slot.clone());
        (Attached { call, slot, token }, handle)
    }
}

impl<C: Call<R>, R: Send> Task for Attached<C, R> {
    fn run(self, env: &RunEnv<'_>) -> Outcome {
        let Attached { call, slot, token } = self;
        if let Err(skipped) = slot.start(token.as_ref()) {
            env.drop_unrun((call, token));
            return skipped;
        }
        let cx = JobContext::new(
            token.as_ref().unwrap_or(env.root),
            slot.deadline(),
            env.worker,
        );
        match catch_payload(|| call.call(&cx)) {
            Ok(value) => slot.finish(Ok(value)),
            Err(payload) => slot.finish(Err(JobError::Panicked(payload))),
        }
    }

    fn abandon(self, why: JobError) {
        self.slot.resolve_unstarted(why);
    }

    fn doomed(&self) -> bool {
        self.slot.doomed()
    }

    fn release(&self) -> bool {
        self.slot.release()
    }
}

//! A blocked operation's meeting point with the thread that completes or aborts it.

use core::cell::Cell;
use core::fmt;
use std::time::Instant;

use patterns_core::Backoff;

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{thread, Arc, Parker};
use crate::wait::Wait;

/// `Context::state` while the owner waits.
const WAITING: usize = 0;
/// The wait was aborted: a time-out, a cancel, or the owner's own re-check.
const ABORTED: usize = 1;
/// The channel closed while the owner waited.
const CLOSED: usize = 2;
/// The first value of `state` that names an operation: an operation id (`Operation`) is
/// the address of something the waiting thread owns, so never 0, 1 or 2.
const FIRST_OPERATION: usize = 3;

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selected {
    Waiting,
    Aborted,
    Closed,
    /// A peer picked this registered operation: the value is ready to take, or the slot
    /// free to fill (the owner must retry the operation to find out which it got).
    Operation(Operation),
}

/// Which side of a channel an operation waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Senders,
    Receivers,
}

/// Whether a wait spins before it parks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spin {
    First,
    Never,
}

/// Identifies one registered operation of a waiting thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operation(usize);

impl Operation {
    /// The id of an operation whose state lives at `anchor`, which stays put while the
    /// operation is registered.
    pub(crate) fn hook<T: ?Sized>(anchor: &T) -> Operation {
        let id = (anchor as *const T).cast::<()>() as usize;
        debug_assert!(id >= FIRST_OPERATION);
        Operation(id)
    }
}

impl Selected {
    fn encode(self) -> usize {
        match self {
            Selected::Waiting => WAITING,
            Selected::Aborted => ABORTED,
            Selected::Closed => CLOSED,
            Selected::Operation(Operation(id)) => id,
        }
    }

    fn decode(state: usize) -> Selected {
        match state {
            WAITING => Selected::Waiting,
            ABORTED => Selected::Aborted,
            CLOSED => Selected::Closed,
            id => Selected::Operation(Operation(id)),
        }
    }
}

/// One blocking operation's wait: a state that moves once from `Waiting` to what ended
/// the wait, and the thread to unpark when it moves.
///
/// ## Memory ordering
///
/// `try_select` is the only way out of `Waiting` and succeeds once: the thread that wins
/// it owns the wake-up. It is `AcqRel`, and the waiter reads the state with `Acquire`, so
/// whatever the selecting thread did before selecting is visible to the woken owner.
#[derive(Clone)]
pub(crate) struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    state: AtomicUsize,
    parker: Parker,
    thread_id: thread::ThreadId,
}

impl Context {
    /// Runs `f` with a context for the current thread, in `Waiting`: the thread's cached
    /// one, so blocking does not allocate a context or ask for `thread::current()`.
    ///
    /// As crossbeam-channel's `Context::with`, but a context goes back to the cache only if
    /// no other thread still holds a clone of it. A peer that selected it may still be
    /// unparking it, which is harmless: every wait already tolerates a spurious wake-up.
    /// But a [`CancelToken`](patterns_core::CancelToken) callback may still be running
    /// after its registration is dropped (see `on_cancel`), and its `try_select(Aborted)`
    /// would abort whichever wait the context served next.
    pub(crate) fn with<R>(f: impl FnOnce(&Context) -> R) -> R {
        crate::sync::thread_local! {
            /// The thread's idle context, unshared and in `Waiting`; `None` while a wait
            /// uses it (a re-entrant wait, say from a select's closure, then makes its own),
            /// or after a panic or a shared context kept it from coming back.
            // Not `const { … }`, which clippy would like: loom's `thread_local!` does not
            // accept it, and the lazy initialization is a branch beside a park.
            #[allow(clippy::missing_const_for_thread_local)]
            static CACHED: Cell<Option<Context>> = Cell::new(None);
        }
        let mut f = Some(f);
        let mut run = |cx: &Context| (f.take().expect("`f` runs once"))(cx);
        CACHED
            .try_with(|cached| {
                let mut cx = cached.take().unwrap_or_else(Context::new);
                let result = run(&cx);
                if cx.reset() {
                    cached.set(Some(cx));
                }
                result
            })
            // The thread-local is being destroyed: fall back to a context of our own.
            .unwrap_or_else(|_| run(&Context::new()))
    }

    /// Readies a context whose wait has ended for the owner's next wait: back to
    /// `Waiting`. False, and unchanged, if another thread still holds it.
    fn reset(&mut self) -> bool {
        // `get_mut` acquires every other holder's release of its clone, so whatever they
        // did to the state is ordered before this store.
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.state.store(WAITING, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// A fresh context for the current thread, in `Waiting`.
    fn new() -> Context {
        Context {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(WAITING),
                parker: Parker::new(),
                thread_id: thread::current().id(),
            }),
        }
    }

    /// Moves `Waiting` to `selected`. On failure returns what it had already moved to.
    pub(crate) fn try_select(&self, selected: Selected) -> Result<(), Selected> {
        self.inner
            .state
            .compare_exchange(
                WAITING,
                selected.encode(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(Selected::decode)
    }

    /// The current state.
    pub(crate) fn selected(&self) -> Selected {
        Selected::decode(self.inner.state.load(Ordering::Acquire))
    }

    /// Wakes the owner (if it is not parked yet, its next park returns at once).
    pub(crate) fn unpark(&self) {
        self.inner.parker.unpark();
    }

    /// Parks the owner until [`unpark`](Context::unpark), or spuriously.
    pub(crate) fn park(&self) {
        self.inner.parker.park();
    }

    /// True if the owner is the current thread.
    pub(crate) fn is_current_thread(&self) -> bool {
        self.inner.thread_id == thread::current().id()
    }

    /// Waits until selected, or until `wait`'s limit or `wake_at` (a select's timer
    /// operand coming due), when it tries to abort. Returns what ended the wait; once the
    /// state left `Waiting` for an operation, the owner must act on it even past its
    /// deadline.
    ///
    /// With `spin`, it first spins briefly: right for a rendezvous, whose partner often
    /// arrives within microseconds. The ring spins before it registers instead: once a
    /// waiter is registered, every peer operation pays for a wake-up attempt.
    pub(crate) fn wait_until(
        &self,
        wait: Wait<'_>,
        spin: Spin,
        wake_at: Option<Instant>,
    ) -> Selected {
        if spin == Spin::First {
            let backoff = Backoff::new();
            while !backoff.is_completed() {
                let selected = self.selected();
                if selected != Selected::Waiting {
                    return selected;
                }
                backoff.snooze();
            }
        }
        // The token's callback aborts and wakes us; it is unregistered when this returns.
        let _on_cancel = wait.token().map(|token| {
            let cx = self.clone();
            token.on_cancel(move |_| {
                if cx.try_select(Selected::Aborted).is_ok() {
                    cx.unpark();
                }
            })
        });
        loop {
            let selected = self.selected();
            if selected != Selected::Waiting {
                return selected;
            }
            let due = wake_at.is_some_and(|at| Instant::now() >= at);
            if due || wait.interrupted().is_some() {
                return match self.try_select(Selected::Aborted) {
                    Ok(()) => Selected::Aborted,
                    Err(selected) => selected,
                };
            }
            wait.park(&self.inner.parker, wake_at);
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("selected", &self.selected())
            .finish()
    }
}

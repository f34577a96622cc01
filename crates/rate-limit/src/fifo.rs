//! Blocking waits served in order, for the limiters that cannot reserve ahead (the
//! token bucket, the windows and the concurrency limits): one queue of waiters, the first of which polls the limiter.
//!
//! A blocking call joins the back of the queue and parks until it is at the front; there
//! it tries the limiter, sleeping for the `retry_after` it is told, until it is admitted,
//! its deadline would be passed, or its token fires; then it leaves the queue and wakes
//! the next. While anyone waits, `try_` calls are refused (see [`Fifo::is_waited_on`]),
//! so the front waiter gets the capacity that comes back before any later call: a large
//! `acquire_n` is not starved by small calls.

use std::collections::VecDeque;
use std::time::Instant;

use patterns_core::{CancelToken, Clock};

use crate::error::AcquireError;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, Parker};

#[derive(Debug, Default)]
pub(crate) struct Fifo {
    queue: Mutex<Queue>,
    /// `queue.waiters.len()`, readable without the lock: the `try_` path's question.
    waiting: AtomicUsize,
}

#[derive(Debug, Default)]
struct Queue {
    next_id: u64,
    waiters: VecDeque<(u64, Arc<Parker>)>,
}

impl Fifo {
    /// True while a blocking call waits: `try_` calls must then refuse, so as not to take
    /// what the first waiter is waiting for.
    #[inline]
    pub(crate) fn is_waited_on(&self) -> bool {
        self.waiting() > 0
    }

    /// How many blocking calls wait.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Waits its turn, then calls `attempt` until it admits, sleeping on `clock` until the
    /// instant it returns each time it refuses, or, when it returns `None`, until
    /// [`wake_front`](Fifo::wake_front). (An instant, not a duration: a duration
    /// added to a later reading of the clock would overshoot by the time between the two
    /// readings — a whole window if the clock moved on in between, which loom found.)
    ///
    /// # Errors
    ///
    /// [`AcquireError::Timeout`] when the next retry would come after `deadline` (or the
    /// deadline passes while the call waits its turn), [`AcquireError::Cancelled`] when
    /// `cancel` fires. The call leaves the queue either way.
    pub(crate) fn acquire(
        &self,
        clock: &dyn Clock,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
        mut attempt: impl FnMut() -> Result<(), Option<Instant>>,
    ) -> Result<(), AcquireError> {
        let parker = Arc::new(Parker::new());
        let id = self.join(&parker);
        let _wake = cancel.map(|token| {
            let parker = Arc::clone(&parker);
            token.on_cancel(move |_| parker.unpark())
        });
        let waits = Waits {
            clock,
            deadline,
            cancel,
            parker: &parker,
        };
        let result = self
            .turn(id, &waits)
            .and_then(|()| waits.serve(&mut attempt));
        self.leave(id);
        result
    }

    /// A blocking call for the limiters that queue: admitted at once when nobody waits
    /// and `admit` (which says, when it refuses, the instant it would admit) lets it in;
    /// failed at once when that instant is past `deadline`; otherwise in turn, as
    /// [`acquire`](Fifo::acquire).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Fifo::acquire).
    pub(crate) fn admit_in_turn(
        &self,
        clock: &dyn Clock,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
        mut admit: impl FnMut() -> Result<(), Instant>,
    ) -> Result<(), AcquireError> {
        if !self.is_waited_on() {
            match admit() {
                Ok(()) => return Ok(()),
                Err(ready) if deadline.is_some_and(|deadline| ready > deadline) => {
                    let needed = ready.saturating_duration_since(clock.now());
                    return Err(AcquireError::Timeout { needed });
                }
                Err(_) => {}
            }
        }
        self.acquire(clock, deadline, cancel, || admit().map_err(Some))
    }

    /// A blocking call for the limits that hand out permits: `take` at once when nobody
    /// waits, otherwise in turn, as [`acquire`](Fifo::acquire), until `take` gives a
    /// permit (each release wakes the front with [`wake_front`](Fifo::wake_front)).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Cancelled`] at once if `cancel` has fired; as
    /// [`acquire`](Fifo::acquire).
    pub(crate) fn take_in_turn<P>(
        &self,
        clock: &dyn Clock,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
        mut take: impl FnMut() -> Option<P>,
    ) -> Result<P, AcquireError> {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(AcquireError::Cancelled);
        }
        if !self.is_waited_on() {
            if let Some(permit) = take() {
                return Ok(permit);
            }
        }
        let mut taken = None;
        self.acquire(clock, deadline, cancel, || {
            taken = take();
            taken.as_ref().map(|_| ()).ok_or(None)
        })?;
        Ok(taken.expect("the wait ended admitted, with a permit"))
    }

    /// Wakes the call at the front of the queue, if any, to try again: for a release of
    /// what it waits for.
    ///
    /// It takes the queue's lock even when nobody seems to wait: a waiter joins under the
    /// lock and then looks for what it waits for, and the releaser has made it available
    /// before it locks, so one of the two sees the other. Checking `waiting` without the
    /// lock instead loses the wake-up when each side reads the other's old value (loom
    /// found it: the store-buffer pattern).
    pub(crate) fn wake_front(&self) {
        if let Some((_, front)) = self.queue.lock().waiters.front() {
            front.unpark();
        }
    }

    fn join(&self, parker: &Arc<Parker>) -> u64 {
        let mut queue = self.queue.lock();
        let id = queue.next_id;
        queue.next_id += 1;
        queue.waiters.push_back((id, Arc::clone(parker)));
        self.waiting.fetch_add(1, Ordering::Release);
        id
    }

    /// Parks until call `id` is at the front of the queue.
    fn turn(&self, id: u64, waits: &Waits<'_>) -> Result<(), AcquireError> {
        let joined = waits.clock.now();
        loop {
            if self.queue.lock().waiters.front().map(|(front, _)| *front) == Some(id) {
                return Ok(());
            }
            waits.park(None, joined)?;
        }
    }

    /// Takes call `id` out of the queue, and wakes the call at the front if that changed.
    fn leave(&self, id: u64) {
        let mut queue = self.queue.lock();
        let was_front = queue.waiters.front().map(|(front, _)| *front) == Some(id);
        queue.waiters.retain(|(waiter, _)| *waiter != id);
        self.waiting.fetch_sub(1, Ordering::Release);
        if was_front {
            if let Some((_, next)) = queue.waiters.front() {
                next.unpark();
            }
        }
    }
}

/// How one blocking call may wait.
struct Waits<'a> {
    clock: &'a dyn Clock,
    deadline: Option<Instant>,
    cancel: Option<&'a CancelToken>,
    parker: &'a Parker,
}

impl Waits<'_> {
    /// At the front: tries until admitted.
    fn serve(
        &self,
        attempt: &mut impl FnMut() -> Result<(), Option<Instant>>,
    ) -> Result<(), AcquireError> {
        let began = self.clock.now();
        loop {
            let ready = match attempt() {
                Ok(()) => return Ok(()),
                // Nothing comes back with time: wait for `wake_front`.
                Err(None) => {
                    self.park(None, began)?;
                    continue;
                }
                Err(Some(ready)) => ready,
            };
            let now = self.clock.now();
            if self.deadline.is_some_and(|deadline| ready > deadline) {
                let needed = ready.saturating_duration_since(now);
                return Err(AcquireError::Timeout { needed });
            }
            while self.clock.now() < ready {
                self.park(Some(ready), now)?;
            }
        }
    }

    /// Parks once: until `until` (or the deadline), an unpark, or spuriously. `since` is
    /// when the wait began, for the error of a deadline passed.
    fn park(&self, until: Option<Instant>, since: Instant) -> Result<(), AcquireError> {
        if self.cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(AcquireError::Cancelled);
        }
        match (until, self.deadline) {
            (_, Some(deadline)) if self.clock.now() >= deadline => Err(AcquireError::Timeout {
                needed: self.clock.now().saturating_duration_since(since),
            }),
            (Some(until), deadline) => {
                self.clock
                    .park_until(deadline.map_or(until, |d| d.min(until)));
                Ok(())
            }
            (None, Some(deadline)) => {
                self.clock.park_until(deadline);
                Ok(())
            }
            (None, None) => {
                self.parker.park();
                Ok(())
            }
        }
    }
}

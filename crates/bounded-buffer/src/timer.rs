//! Timer flavors, for [`after`](crate::after) and [`tick`](crate::tick): receivers that
//! deliver the instant a deadline passed, with no thread behind them.
//!
//! Nothing sends to a timer. A receive that finds nothing due parks until the next due
//! instant (or its own limit, or the close), and a [`Select`](crate::Select) with a timer
//! operand parks until that instant at the latest, then tries again: the due instant is
//! the timer's readiness, read off the clock.

use core::fmt;
use std::time::{Duration, Instant};

use crate::context::{Context, Operation, Selected, Spin};
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::wait::{Failure, Wait};
use crate::waker::SyncWaker;

/// A timer: what it delivers, when, and whether it is closed. The value is the instant
/// the delivery was due, made into a `T` by `deliver` (the identity: timers are only made
/// as `Receiver<Instant>`).
pub(crate) struct Timer<T> {
    schedule: Schedule,
    deliver: fn(Instant) -> T,
    closed: AtomicBool,
    /// Receivers parked on the timer, woken only by the close: a due instant wakes them
    /// through their park's time-out.
    receivers: SyncWaker,
}

enum Schedule {
    /// One delivery, at `due` (never, if that instant is past what `Instant` can hold).
    Once {
        due: Option<Instant>,
        delivered: AtomicBool,
    },
    /// A delivery at every `start + k * period`, k ≥ 1; a due instant not received
    /// before the next one passes is dropped, as Go's ticker drops ticks for a slow
    /// receiver, so the ticks keep their phase.
    Every {
        start: Instant,
        period: Duration,
        /// The next due instant, in nanoseconds after `start`.
        next: AtomicU64,
    },
}

impl<T> Timer<T> {
    pub(crate) fn once(due: Option<Instant>, deliver: fn(Instant) -> T) -> Self {
        Timer::new(
            Schedule::Once {
                due,
                delivered: AtomicBool::new(false),
            },
            deliver,
        )
    }

    pub(crate) fn every(start: Instant, period: Duration, deliver: fn(Instant) -> T) -> Self {
        Timer::new(
            Schedule::Every {
                start,
                period,
                next: AtomicU64::new(nanos(period)),
            },
            deliver,
        )
    }

    fn new(schedule: Schedule, deliver: fn(Instant) -> T) -> Self {
        Timer {
            schedule,
            deliver,
            closed: AtomicBool::new(false),
            receivers: SyncWaker::new(),
        }
    }

    /// The next delivery's due instant; `None` once a one-shot timer has delivered.
    pub(crate) fn due(&self) -> Option<Instant> {
        match &self.schedule {
            Schedule::Once { due, delivered } => due.filter(|_| !delivered.load(Ordering::Acquire)),
            Schedule::Every { start, next, .. } => {
                start.checked_add(Duration::from_nanos(next.load(Ordering::Acquire)))
            }
        }
    }

    /// Takes the delivery that is due now, if any; `Err(Closed)` once closed.
    pub(crate) fn try_recv(&self) -> Result<T, Failure> {
        if self.is_closed() {
            return Err(Failure::Closed);
        }
        let now = Instant::now();
        let due = match &self.schedule {
            Schedule::Once { due, delivered } => due.filter(|&due| {
                now >= due
                    && delivered
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
            }),
            Schedule::Every {
                start,
                period,
                next,
            } => loop {
                let offset = next.load(Ordering::Acquire);
                match start.checked_add(Duration::from_nanos(offset)) {
                    Some(due) if now >= due => {}
                    _ => break None,
                }
                // The first due instant after now: missed ticks are dropped.
                let period = nanos(*period).max(1);
                let elapsed = nanos(now - *start);
                let following = (elapsed / period + 1).saturating_mul(period);
                if next
                    .compare_exchange(offset, following, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    break start.checked_add(Duration::from_nanos(offset));
                }
            },
        };
        due.map(self.deliver).ok_or(Failure::WouldBlock)
    }

    pub(crate) fn recv(&self, wait: Option<Wait<'_>>) -> Result<T, Failure> {
        loop {
            match self.try_recv() {
                Err(Failure::WouldBlock) => {}
                done => return done,
            }
            let wait = wait.ok_or(Failure::WouldBlock)?;
            if let Some(interrupt) = wait.interrupted() {
                return Err(Failure::Interrupted(interrupt));
            }
            Context::with(|cx| {
                let oper = Operation::hook(cx);
                if !self.register(oper, cx) {
                    return; // due or closed just now: retry at once
                }
                if cx.wait_until(wait, Spin::Never, self.due()) != Selected::Operation(oper) {
                    self.unregister(oper);
                }
            });
        }
    }

    /// Registers a parked receive, to be woken by the close; false (and unregistered) if
    /// a delivery is due or the timer closed meanwhile.
    pub(crate) fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.receivers.register(oper, cx);
        let ready = self.is_closed() || self.due().is_some_and(|due| Instant::now() >= due);
        if ready {
            self.receivers.unregister(oper);
        }
        !ready
    }

    pub(crate) fn unregister(&self, oper: Operation) {
        self.receivers.unregister(oper);
    }

    /// What decides readiness: the close, the schedule's state, and whether it is due —
    /// as a select's version (see `Array::version`).
    pub(crate) fn version(&self) -> [usize; 2] {
        let state = match &self.schedule {
            Schedule::Once { delivered, .. } => usize::from(delivered.load(Ordering::Acquire)),
            Schedule::Every { next, .. } => next.load(Ordering::Acquire) as usize,
        };
        let due = self.due().is_some_and(|due| Instant::now() >= due);
        [state, usize::from(due) | usize::from(self.is_closed()) << 1]
    }

    /// 1 if a delivery is due now, else 0.
    pub(crate) fn len(&self) -> usize {
        let due = self.due().is_some_and(|due| Instant::now() >= due);
        usize::from(due && !self.is_closed())
    }

    pub(crate) fn close(&self) -> bool {
        if self.closed.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.receivers.close();
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// `duration` in nanoseconds, saturating (584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl<T> fmt::Debug for Timer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("due", &self.due())
            .field("closed", &self.is_closed())
            .finish()
    }
}

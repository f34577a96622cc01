//! The threads blocked on one side of a channel, and the cheap check before waking one.

use core::fmt;

use crate::context::{Context, Operation, Selected};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Mutex;

/// The threads parked on one side of a ring channel (its senders, or its receivers),
/// behind a flag that lets the other side skip the lock when nobody waits.
///
/// ## Memory ordering
///
/// A lost wake-up needs a waiter that registered and then saw no progress, and a peer that
/// made progress and then saw no waiter. Both sides are `SeqCst`: the waiter stores
/// `is_empty = false` then re-reads the channel's head and tail; the peer's compare-and-swap
/// on head or tail is followed by its load of `is_empty`. In the single total order of
/// `SeqCst` operations one of the two reads sees the other's write. loom does not model that
/// total order across locations, so under loom each side adds the `SeqCst` fence that makes
/// it explicit ([`publish_fence`]).
pub(crate) struct SyncWaker {
    waiters: Mutex<Vec<Waiter>>,
    is_empty: AtomicBool,
}

struct Waiter {
    oper: Operation,
    cx: Context,
}

impl SyncWaker {
    pub(crate) fn new() -> Self {
        SyncWaker {
            waiters: Mutex::new(Vec::new()),
            is_empty: AtomicBool::new(true),
        }
    }

    /// Registers a waiting operation. The caller re-checks the channel afterwards.
    pub(crate) fn register(&self, oper: Operation, cx: &Context) {
        let mut waiters = self.waiters.lock();
        waiters.push(Waiter {
            oper,
            cx: cx.clone(),
        });
        self.is_empty.store(false, Ordering::SeqCst);
        drop(waiters);
        publish_fence();
    }

    /// Removes a registered operation that was not selected.
    pub(crate) fn unregister(&self, oper: Operation) {
        let mut waiters = self.waiters.lock();
        if let Some(at) = waiters.iter().position(|w| w.oper == oper) {
            waiters.remove(at);
        }
        self.is_empty.store(waiters.is_empty(), Ordering::SeqCst);
    }

    /// Wakes up to `count` waiters, oldest first, after progress that lets that many of
    /// them proceed.
    #[inline]
    pub(crate) fn notify(&self, count: usize) {
        publish_fence();
        if !self.is_empty.load(Ordering::SeqCst) {
            self.notify_slow(count);
        }
    }

    #[cold]
    fn notify_slow(&self, mut count: usize) {
        let mut waiters = self.waiters.lock();
        let mut at = 0;
        while count > 0 && at < waiters.len() {
            let waiter = &waiters[at];
            if waiter
                .cx
                .try_select(Selected::Operation(waiter.oper))
                .is_ok()
            {
                waiter.cx.unpark();
                waiters.remove(at);
                count -= 1;
            } else {
                at += 1; // aborting on its own; it unregisters itself
            }
        }
        self.is_empty.store(waiters.is_empty(), Ordering::SeqCst);
    }

    /// Wakes every waiter with `Closed`.
    pub(crate) fn close(&self) {
        let mut waiters = self.waiters.lock();
        for waiter in waiters.drain(..) {
            if waiter.cx.try_select(Selected::Closed).is_ok() {
                waiter.cx.unpark();
            }
        }
        self.is_empty.store(true, Ordering::SeqCst);
    }
}

/// Stands, under loom, for the ordering that `SeqCst` read-modify-writes give on real
/// hardware and in the C++ model (see [`SyncWaker`]); compiles to nothing otherwise.
#[inline(always)]
pub(crate) fn publish_fence() {
    #[cfg(loom)]
    crate::sync::atomic::fence(Ordering::SeqCst);
}

impl fmt::Debug for SyncWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncWaker")
            .field("waiters", &self.waiters.lock().len())
            .finish()
    }
}

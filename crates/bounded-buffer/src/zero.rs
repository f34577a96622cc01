//! The rendezvous flavor, for capacity 0: a send completes only when a receiver takes the
//! value, hand to hand.
//!
//! Whichever side arrives first parks in the channel's list of waiters with a *packet*: a
//! blocked sender's holds its value, a receiver's waits for one. The side that arrives
//! second takes the oldest waiter of the other kind, selects its context (the waiter can
//! no longer time out or be cancelled), and moves the value through the packet. Everything
//! about pairing happens under one lock; the value itself moves outside it.
//!
//! A [`Select`](crate::Select) pairs the same way, but completes later: the value of a
//! select's send exists only once its `SelectedOperation` completes. So a partner may
//! find a packet still [`EMPTY`] — it waits for the select to fill it — or see it
//! [`DECLINED`] when the select's operation was dropped unfinished, and then looks for
//! another partner.

use core::fmt;
use std::collections::VecDeque;

use patterns_core::Backoff;

use crate::context::{Context, Operation, Selected, Side, Spin};
use crate::sync::atomic::{AtomicU8, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::wait::{Failure, Interrupt, Wait};

/// A packet's state while its value is still to come: a receiver's, or a selecting
/// sender's until it completes.
const EMPTY: u8 = 0;
/// The packet holds the value.
const READY: u8 = 1;
/// The select that was to fill the packet gave up: its partner looks again.
const DECLINED: u8 = 2;

pub(crate) struct Zero<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    /// Parked senders, oldest first, each with its value in its packet (a select's send:
    /// an empty packet, filled when it completes).
    senders: VecDeque<Waiter<T>>,
    /// Parked receivers, oldest first, each with an empty packet.
    receivers: VecDeque<Waiter<T>>,
    closed: bool,
    /// Moves on at every change of the waiters or of `closed`: whether either side is
    /// ready depends on nothing else, so a non-blocking select that reads the same
    /// version before and after trying knows nothing changed in between.
    version: usize,
}

struct Waiter<T> {
    oper: Operation,
    cx: Context,
    packet: Arc<Packet<T>>,
}

/// Where a value crosses between a parked thread and its partner.
///
/// ## Memory ordering
///
/// The value is written under the packet's lock before the `Release` store of `READY`,
/// and read under it after an `Acquire` load of `READY`.
pub(crate) struct Packet<T> {
    msg: Mutex<Option<T>>,
    state: AtomicU8,
}

impl<T> Packet<T> {
    fn new(msg: Option<T>) -> Arc<Self> {
        let state = if msg.is_some() { READY } else { EMPTY };
        Arc::new(Packet {
            msg: Mutex::new(msg),
            state: AtomicU8::new(state),
        })
    }

    /// The value of a send packet that no receiver took.
    pub(crate) fn take_back(&self) -> T {
        self.take()
    }

    fn take(&self) -> T {
        self.msg
            .lock()
            .take()
            .expect("a ready packet holds the value")
    }

    fn fill(&self, msg: T) {
        *self.msg.lock() = Some(msg);
        self.state.store(READY, Ordering::Release);
    }

    /// Waits, spinning and yielding, until the packet is filled (true) or declined: for
    /// a partner that is running and about to do either — a select that was selected and
    /// now completes (or drops) its operation.
    fn wait_settled(&self) -> bool {
        let backoff = Backoff::new();
        loop {
            match self.state.load(Ordering::Acquire) {
                EMPTY => backoff.snooze(),
                state => return state == READY,
            }
        }
    }

    /// The value a partner put in, taken by the receiver that owns `cx` after it was
    /// selected; the partner unparks it once the value is in. `None` if the partner, a
    /// select, declined instead.
    fn wait_filled(&self, cx: &Context) -> Option<T> {
        let backoff = Backoff::new();
        loop {
            match self.state.load(Ordering::Acquire) {
                READY => return Some(self.take()),
                DECLINED => return None,
                _ if backoff.is_completed() => cx.park(),
                _ => backoff.snooze(),
            }
        }
    }
}

/// What a select found ready on a rendezvous channel.
pub(crate) enum Claim<T> {
    /// The channel is closed.
    Closed,
    /// A receive took this value from a blocked sender.
    Value(T),
    /// A send paired with a receiver, which waits for the value.
    Partner(Pairing<T>),
}

/// A select's send paired with a receiver that waits for the value: [`complete`] hands it
/// over; dropped unfinished, the pairing is declined and the receiver looks again.
///
/// [`complete`]: Pairing::complete
pub(crate) struct Pairing<T> {
    packet: Arc<Packet<T>>,
    /// The receiver to unpark: a parked one the select chose. `None` when the receiver
    /// chose the select's registered send, and spins on the packet.
    wake: Option<Context>,
}

impl<T> Pairing<T> {
    pub(crate) fn complete(self, msg: T) {
        self.packet.fill(msg);
        if let Some(cx) = &self.wake {
            cx.unpark();
        }
    }
}

impl<T> Drop for Pairing<T> {
    fn drop(&mut self) {
        // Only this side fills or declines the packet: no race with `complete`.
        if self.packet.state.load(Ordering::Relaxed) == EMPTY {
            self.packet.state.store(DECLINED, Ordering::Release);
            if let Some(cx) = &self.wake {
                cx.unpark();
            }
        }
    }
}

impl<T> Zero<T> {
    pub(crate) fn new() -> Self {
        Zero {
            inner: Mutex::new(Inner {
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                closed: false,
                version: 0,
            }),
        }
    }

    pub(crate) fn send(&self, msg: T, wait: Option<Wait<'_>>) -> Result<(), (T, Failure)> {
        let mut inner = self.inner.lock();
        if let Some(receiver) = inner.select_oldest(Side::Receivers) {
            drop(inner);
            receiver.packet.fill(msg);
            receiver.cx.unpark();
            return Ok(());
        }
        let wait = match may_wait(&inner, wait) {
            Ok(wait) => wait,
            Err(failure) => return Err((msg, failure)),
        };
        let packet = Packet::new(Some(msg));
        let parked = Context::with(|cx| self.park(inner, Side::Senders, &packet, wait, cx));
        match parked {
            // A receiver has taken, or is taking, the value: one that pairs with a blocked
            // sender always takes it (a select's receive too, when it claims).
            Ok(()) => Ok(()),
            Err(failure) => Err((packet.take_back(), failure)),
        }
    }

    pub(crate) fn recv(&self, wait: Option<Wait<'_>>) -> Result<T, Failure> {
        loop {
            let mut inner = self.inner.lock();
            if let Some(sender) = inner.select_oldest(Side::Senders) {
                drop(inner);
                match take_from(sender) {
                    Some(msg) => return Ok(msg),
                    None => continue, // a select declined: look again
                }
            }
            let wait = may_wait(&inner, wait)?;
            let packet = Packet::new(None);
            // The sender unparks `cx` once the value is in, so the context must stay ours
            // until `wait_filled` has it.
            let received = Context::with(|cx| {
                self.park(inner, Side::Receivers, &packet, wait, cx)?;
                Ok::<_, Failure>(packet.wait_filled(cx))
            })?;
            if let Some(msg) = received {
                return Ok(msg);
            }
        }
    }

    /// Parks the current thread, which owns `cx`, in `side`'s waiters with `packet` until
    /// a partner selects it or the wait ends (then it unregisters and fails).
    fn park(
        &self,
        mut inner: MutexGuard<'_, Inner<T>>,
        side: Side,
        packet: &Arc<Packet<T>>,
        wait: Wait<'_>,
        cx: &Context,
    ) -> Result<(), Failure> {
        let oper = Operation::hook(cx);
        inner.push(side, oper, cx, packet);
        drop(inner);
        let selected = cx.wait_until(wait, Spin::First, None);
        if selected == Selected::Operation(oper) {
            return Ok(());
        }
        self.inner.lock().unregister(oper);
        Err(match selected {
            Selected::Closed => Failure::Closed,
            _ => Failure::Interrupted(wait.interrupted().unwrap_or(Interrupt::TimedOut)),
        })
    }

    /// A select's try on `side`: a partner of another thread to pair with now, or the
    /// close; `None` if neither.
    pub(crate) fn claim(&self, side: Side) -> Option<Claim<T>> {
        loop {
            let mut inner = self.inner.lock();
            if inner.closed {
                return Some(Claim::Closed);
            }
            match side {
                Side::Senders => {
                    let receiver = inner.select_oldest(Side::Receivers)?;
                    return Some(Claim::Partner(Pairing {
                        packet: receiver.packet,
                        wake: Some(receiver.cx),
                    }));
                }
                Side::Receivers => {
                    let sender = inner.select_oldest(Side::Senders)?;
                    drop(inner);
                    if let Some(msg) = take_from(sender) {
                        return Some(Claim::Value(msg));
                    }
                }
            }
        }
    }

    /// Registers a select's operation on `side` (a send with an empty packet, which the
    /// select fills if it completes), unless it could complete now (a partner of another
    /// thread waits) or the channel is closed: then `None`, and the select retries.
    pub(crate) fn register(
        &self,
        side: Side,
        oper: Operation,
        cx: &Context,
    ) -> Option<Arc<Packet<T>>> {
        let mut inner = self.inner.lock();
        let other = match side {
            Side::Senders => &inner.receivers,
            Side::Receivers => &inner.senders,
        };
        if inner.closed || other.iter().any(|w| !w.cx.is_current_thread()) {
            return None;
        }
        let packet = Packet::new(None);
        inner.push(side, oper, cx, &packet);
        Some(packet)
    }

    /// Removes a select's registered operation that was not selected.
    pub(crate) fn unregister(&self, oper: Operation) {
        self.inner.lock().unregister(oper);
    }

    /// What a registered select operation, now selected by a partner, completes with:
    /// a receive's value (`None` if the partner, a select, declined), or a send's
    /// pairing with the receiver that waits on its packet.
    pub(crate) fn accept(
        &self,
        side: Side,
        packet: Arc<Packet<T>>,
        cx: &Context,
    ) -> Option<Claim<T>> {
        match side {
            Side::Receivers => packet.wait_filled(cx).map(Claim::Value),
            Side::Senders => Some(Claim::Partner(Pairing { packet, wake: None })),
        }
    }

    /// See `Inner::version`.
    pub(crate) fn version(&self) -> usize {
        self.inner.lock().version
    }

    pub(crate) fn close(&self) -> bool {
        let mut inner = self.inner.lock();
        if inner.closed {
            return false;
        }
        inner.closed = true;
        inner.version += 1;
        let inner = &mut *inner;
        for waiter in inner.senders.drain(..).chain(inner.receivers.drain(..)) {
            if waiter.cx.try_select(Selected::Closed).is_ok() {
                waiter.cx.unpark();
            }
        }
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }
}

/// Takes the value of a sender this thread selected, and wakes it: at once from a
/// blocked sender; from a selecting one once it has filled its packet — it must be woken
/// first to do so — or `None` if it declines.
fn take_from<T>(sender: Waiter<T>) -> Option<T> {
    if sender.packet.state.load(Ordering::Acquire) != READY {
        sender.cx.unpark();
        if !sender.packet.wait_settled() {
            return None;
        }
    }
    let msg = sender.packet.take();
    sender.cx.unpark();
    Some(msg)
}

impl<T> Inner<T> {
    fn waiters(&mut self, side: Side) -> &mut VecDeque<Waiter<T>> {
        match side {
            Side::Senders => &mut self.senders,
            Side::Receivers => &mut self.receivers,
        }
    }

    fn push(&mut self, side: Side, oper: Operation, cx: &Context, packet: &Arc<Packet<T>>) {
        self.version += 1;
        self.waiters(side).push_back(Waiter {
            oper,
            cx: cx.clone(),
            packet: Arc::clone(packet),
        });
    }

    /// Pops the oldest waiter on `side` that can still be selected, and selects it.
    /// Waiters that are aborting (timed out, cancelled) are skipped; they unregister
    /// themselves.
    fn select_oldest(&mut self, side: Side) -> Option<Waiter<T>> {
        let waiters = self.waiters(side);
        let at = waiters.iter().position(|w| {
            !w.cx.is_current_thread() && w.cx.try_select(Selected::Operation(w.oper)).is_ok()
        })?;
        let waiter = waiters.remove(at);
        self.version += 1;
        waiter
    }

    fn unregister(&mut self, oper: Operation) {
        for side in [Side::Senders, Side::Receivers] {
            let waiters = self.waiters(side);
            if let Some(at) = waiters.iter().position(|w| w.oper == oper) {
                waiters.remove(at);
                self.version += 1;
            }
        }
    }
}

/// Whether the operation may park: not on a closed channel, not for a `try_`, not past its
/// limit.
fn may_wait<'a, T>(inner: &Inner<T>, wait: Option<Wait<'a>>) -> Result<Wait<'a>, Failure> {
    if inner.closed {
        return Err(Failure::Closed);
    }
    let wait = wait.ok_or(Failure::WouldBlock)?;
    match wait.interrupted() {
        Some(interrupt) => Err(Failure::Interrupted(interrupt)),
        None => Ok(wait),
    }
}

impl<T> fmt::Debug for Zero<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("Zero")
            .field("parked_senders", &inner.senders.len())
            .field("parked_receivers", &inner.receivers.len())
            .field("closed", &inner.closed)
            .finish()
    }
}

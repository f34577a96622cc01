//! The rendezvous flavor, for capacity 0: a send completes only when a receiver takes the
//! value, hand to hand.
//!
//! Whichever side arrives first parks in the channel's list of waiters with a *packet*: a
//! sender's holds its value, a receiver's waits for one. The side that arrives second takes
//! the oldest waiter of the other kind, selects its context (the waiter can no longer time
//! out or be cancelled), and moves the value through the packet. Everything about pairing
//! happens under one lock; the value itself moves outside it.

use core::fmt;
use std::collections::VecDeque;

use patterns_core::Backoff;

use crate::context::{Context, Operation, Selected, Side, Spin};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::wait::{Failure, Interrupt, Wait};

pub(crate) struct Zero<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    /// Parked senders, oldest first, each with its value in its packet.
    senders: VecDeque<Waiter<T>>,
    /// Parked receivers, oldest first, each with an empty packet.
    receivers: VecDeque<Waiter<T>>,
    closed: bool,
}

struct Waiter<T> {
    oper: Operation,
    cx: Context,
    packet: Arc<Packet<T>>,
}

/// Where a value crosses between a parked thread and its partner.
pub(crate) struct Packet<T> {
    msg: Mutex<Option<T>>,
    /// Set once a partner has put a value into a receiver's packet.
    ready: AtomicBool,
}

impl<T> Packet<T> {
    /// The value of a select's send packet that no receiver took.
    pub(crate) fn take_back(&self) -> T {
        self.msg
            .lock()
            .take()
            .expect("an unselected sender still holds its value")
    }

    fn new(msg: Option<T>) -> Arc<Self> {
        Arc::new(Packet {
            msg: Mutex::new(msg),
            ready: AtomicBool::new(false),
        })
    }

    /// The value a selecting sender put in, taken by the receiver that owns `cx` after
    /// it was selected; the sender unparks it once the value is in.
    pub(crate) fn wait_ready(&self, cx: &Context) -> T {
        let backoff = Backoff::new();
        while !self.ready.load(Ordering::Acquire) {
            if backoff.is_completed() {
                cx.park();
            } else {
                backoff.snooze();
            }
        }
        self.msg
            .lock()
            .take()
            .expect("a ready packet holds the value")
    }
}

impl<T> Zero<T> {
    pub(crate) fn new() -> Self {
        Zero {
            inner: Mutex::new(Inner {
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                closed: false,
            }),
        }
    }

    pub(crate) fn send(&self, msg: T, wait: Option<Wait<'_>>) -> Result<(), (T, Failure)> {
        let mut inner = self.inner.lock();
        if let Some(receiver) = select_oldest(&mut inner.receivers) {
            drop(inner);
            *receiver.packet.msg.lock() = Some(msg);
            receiver.packet.ready.store(true, Ordering::Release);
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
            Ok(_) => Ok(()), // a receiver has taken, or is taking, the value
            Err(failure) => Err((packet.take_back(), failure)),
        }
    }

    pub(crate) fn recv(&self, wait: Option<Wait<'_>>) -> Result<T, Failure> {
        let mut inner = self.inner.lock();
        if let Some(sender) = select_oldest(&mut inner.senders) {
            drop(inner);
            let msg = sender
                .packet
                .msg
                .lock()
                .take()
                .expect("a parked sender holds its value");
            sender.cx.unpark();
            return Ok(msg);
        }
        let wait = may_wait(&inner, wait)?;
        let packet = Packet::new(None);
        // The sender unparks `cx` once the value is in, so the context must stay ours
        // until `wait_ready` has it.
        Context::with(|cx| {
            self.park(inner, Side::Receivers, &packet, wait, cx)?;
            Ok(packet.wait_ready(cx))
        })
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
        let selected = cx.wait_until(wait, Spin::First);
        if selected == Selected::Operation(oper) {
            return Ok(());
        }
        unregister(self.inner.lock().waiters(side), oper);
        Err(match selected {
            Selected::Closed => Failure::Closed,
            _ => Failure::Interrupted(wait.interrupted().unwrap_or(Interrupt::TimedOut)),
        })
    }

    /// Registers a select's receive, unless it could complete now (a sender of another
    /// thread waits) or the channel is closed: then `None`, and the caller retries.
    pub(crate) fn register_recv(&self, oper: Operation, cx: &Context) -> Option<Arc<Packet<T>>> {
        let mut inner = self.inner.lock();
        if inner.closed || has_partner(&inner.senders) {
            return None;
        }
        let packet = Packet::new(None);
        inner.push(Side::Receivers, oper, cx, &packet);
        Some(packet)
    }

    /// Registers a select's send of `msg`, unless it could complete now or the channel is
    /// closed: then the value comes back, and the caller retries.
    pub(crate) fn register_send(
        &self,
        msg: T,
        oper: Operation,
        cx: &Context,
    ) -> Result<Arc<Packet<T>>, T> {
        let mut inner = self.inner.lock();
        if inner.closed || has_partner(&inner.receivers) {
            return Err(msg);
        }
        let packet = Packet::new(Some(msg));
        inner.push(Side::Senders, oper, cx, &packet);
        Ok(packet)
    }

    /// Removes a select's registered operation that was not selected.
    pub(crate) fn unregister(&self, oper: Operation) {
        let mut inner = self.inner.lock();
        unregister(&mut inner.senders, oper);
        unregister(&mut inner.receivers, oper);
    }

    pub(crate) fn close(&self) -> bool {
        let mut inner = self.inner.lock();
        if inner.closed {
            return false;
        }
        inner.closed = true;
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

impl<T> Inner<T> {
    fn waiters(&mut self, side: Side) -> &mut VecDeque<Waiter<T>> {
        match side {
            Side::Senders => &mut self.senders,
            Side::Receivers => &mut self.receivers,
        }
    }

    fn push(&mut self, side: Side, oper: Operation, cx: &Context, packet: &Arc<Packet<T>>) {
        self.waiters(side).push_back(Waiter {
            oper,
            cx: cx.clone(),
            packet: Arc::clone(packet),
        });
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

/// True if a waiter of another thread could pair with the current one now.
fn has_partner<T>(waiters: &VecDeque<Waiter<T>>) -> bool {
    waiters.iter().any(|w| !w.cx.is_current_thread())
}

/// Pops the oldest waiter that can still be selected, and selects it. Waiters that are
/// aborting (timed out, cancelled) are skipped; they unregister themselves.
fn select_oldest<T>(waiters: &mut VecDeque<Waiter<T>>) -> Option<Waiter<T>> {
    let at = waiters.iter().position(|w| {
        !w.cx.is_current_thread() && w.cx.try_select(Selected::Operation(w.oper)).is_ok()
    })?;
    waiters.remove(at)
}

fn unregister<T>(waiters: &mut VecDeque<Waiter<T>>, oper: Operation) {
    if let Some(at) = waiters.iter().position(|w| w.oper == oper) {
        waiters.remove(at);
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

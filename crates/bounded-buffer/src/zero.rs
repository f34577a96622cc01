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

use crate::context::{Context, Operation, Selected, Spin};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, Mutex};
use crate::wait::{Failure, Wait};

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
        if inner.closed {
            return Err((msg, Failure::Closed));
        }
        let Some(wait) = wait else {
            return Err((msg, Failure::WouldBlock));
        };
        if let Some(interrupt) = wait.interrupted() {
            return Err((msg, Failure::Interrupted(interrupt)));
        }
        let cx = Context::new();
        let oper = Operation::hook(&cx);
        let packet = Packet::new(Some(msg));
        inner.senders.push_back(Waiter {
            oper,
            cx: cx.clone(),
            packet: Arc::clone(&packet),
        });
        drop(inner);

        let selected = cx.wait_until(wait, Spin::First);
        if selected == Selected::Operation(oper) {
            return Ok(()); // a receiver has taken, or is taking, the value
        }
        unregister(&mut self.inner.lock().senders, oper);
        let msg = packet.take_back();
        match selected {
            Selected::Closed => Err((msg, Failure::Closed)),
            _ => Err((
                msg,
                Failure::Interrupted(
                    wait.interrupted()
                        .unwrap_or(crate::wait::Interrupt::TimedOut),
                ),
            )),
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
        if inner.closed {
            return Err(Failure::Closed);
        }
        let Some(wait) = wait else {
            return Err(Failure::WouldBlock);
        };
        if let Some(interrupt) = wait.interrupted() {
            return Err(Failure::Interrupted(interrupt));
        }
        let cx = Context::new();
        let oper = Operation::hook(&cx);
        let packet = Packet::new(None);
        inner.receivers.push_back(Waiter {
            oper,
            cx: cx.clone(),
            packet: Arc::clone(&packet),
        });
        drop(inner);

        let selected = cx.wait_until(wait, Spin::First);
        if selected == Selected::Operation(oper) {
            return Ok(packet.wait_ready(&cx));
        }
        unregister(&mut self.inner.lock().receivers, oper);
        match selected {
            Selected::Closed => Err(Failure::Closed),
            _ => Err(Failure::Interrupted(
                wait.interrupted()
                    .unwrap_or(crate::wait::Interrupt::TimedOut),
            )),
        }
    }

    /// Registers a select's receive, unless it could complete now (a sender of another
    /// thread waits) or the channel is closed: then `None`, and the caller retries.
    pub(crate) fn register_recv(&self, oper: Operation, cx: &Context) -> Option<Arc<Packet<T>>> {
        let mut inner = self.inner.lock();
        if inner.closed || inner.senders.iter().any(|w| !w.cx.is_current_thread()) {
            return None;
        }
        let packet = Packet::new(None);
        inner.receivers.push_back(Waiter {
            oper,
            cx: cx.clone(),
            packet: Arc::clone(&packet),
        });
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
        if inner.closed || inner.receivers.iter().any(|w| !w.cx.is_current_thread()) {
            return Err(msg);
        }
        let packet = Packet::new(Some(msg));
        inner.senders.push_back(Waiter {
            oper,
            cx: cx.clone(),
            packet: Arc::clone(&packet),
        });
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

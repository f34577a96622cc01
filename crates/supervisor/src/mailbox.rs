//! The supervisor thread's inbox: child threads report readiness and exits into it,
//! handles post their calls, a parent token posts `Stop`. One lock, one parker.

use std::collections::VecDeque;

use patterns_core::sync::{Arc, Condvar, Mutex, Parker};

use crate::error::ChildError;
use crate::event::ChildInfo;
use crate::spec::ChildSpec;

/// How a child's body ended, as its thread saw it.
#[derive(Debug)]
pub(crate) enum Outcome {
    Ok,
    Err(String),
    Panic(String),
}

pub(crate) enum Msg {
    Ready { id: u64, gen: u64 },
    Exited { id: u64, gen: u64, outcome: Outcome },
    Call(Call),
    Stop,
}

pub(crate) enum Call {
    Which(Reply<Vec<ChildInfo>>),
    Terminate(String, Reply<Result<(), ChildError>>),
    Restart(String, Reply<Result<(), ChildError>>),
    Start(ChildSpec, Reply<Result<(), ChildError>>),
    Delete(String, Reply<Result<(), ChildError>>),
}

/// The supervisor has ended: nothing reads its mailbox any more.
#[derive(Debug)]
pub(crate) struct Closed;

#[derive(Default)]
struct Inbox {
    queue: VecDeque<Msg>,
    /// The supervisor thread's parker, installed by that thread before it first looks.
    parker: Option<Arc<Parker>>,
    /// Set when the supervisor thread ends: sends fail from then on.
    closed: bool,
}

/// The supervisor's inbox.
#[derive(Default)]
pub(crate) struct Mailbox {
    inbox: Mutex<Inbox>,
}

impl Mailbox {
    /// Queues `msg` and wakes the supervisor; fails (dropping `msg`, outside the lock)
    /// once the supervisor has ended.
    pub(crate) fn send(&self, msg: Msg) -> Result<(), Closed> {
        let mut inbox = self.inbox.lock();
        if inbox.closed {
            drop(inbox);
            drop(msg);
            return Err(Closed);
        }
        inbox.queue.push_back(msg);
        if let Some(parker) = &inbox.parker {
            parker.unpark();
        }
        Ok(())
    }

    pub(crate) fn install(&self, parker: Arc<Parker>) {
        self.inbox.lock().parker = Some(parker);
    }

    pub(crate) fn try_recv(&self) -> Option<Msg> {
        self.inbox.lock().queue.pop_front()
    }

    /// Closes the inbox and returns what was left in it (their replies are dropped, which
    /// tells the callers the supervisor stopped).
    pub(crate) fn close(&self) -> VecDeque<Msg> {
        let mut inbox = self.inbox.lock();
        inbox.closed = true;
        inbox.parker = None;
        std::mem::take(&mut inbox.queue)
    }
}

enum Slot<T> {
    Empty,
    Full(T),
    Gone,
}

struct OneShot<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

/// The sending half of a one-shot reply: dropping it unsent tells the waiter no answer
/// will come.
pub(crate) struct Reply<T> {
    shared: Arc<OneShot<T>>,
}

/// The waiting half of a one-shot reply.
pub(crate) struct Pending<T> {
    shared: Arc<OneShot<T>>,
}

pub(crate) fn oneshot<T>() -> (Reply<T>, Pending<T>) {
    let shared = Arc::new(OneShot {
        slot: Mutex::new(Slot::Empty),
        ready: Condvar::new(),
    });
    (
        Reply {
            shared: Arc::clone(&shared),
        },
        Pending { shared },
    )
}

impl<T> Reply<T> {
    pub(crate) fn send(self, value: T) {
        *self.shared.slot.lock() = Slot::Full(value);
        self.shared.ready.notify_all();
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        let mut slot = self.shared.slot.lock();
        if matches!(*slot, Slot::Empty) {
            *slot = Slot::Gone;
            drop(slot);
            self.shared.ready.notify_all();
        }
    }
}

impl<T: Send + 'static> Pending<T> {
    /// The answer, or `None` if the replier went away without one or `token` fired
    /// first (a late answer is then dropped).
    pub(crate) fn wait_unless(self, token: &patterns_core::CancelToken) -> Option<T> {
        let shared = Arc::clone(&self.shared);
        let registration = token.on_cancel(move |_| {
            let mut slot = shared.slot.lock();
            if matches!(*slot, Slot::Empty) {
                *slot = Slot::Gone;
                drop(slot);
                shared.ready.notify_all();
            }
        });
        let answer = self.wait();
        drop(registration);
        answer
    }
}

impl<T> Pending<T> {
    /// The answer, or `None` if the replier went away without one.
    pub(crate) fn wait(self) -> Option<T> {
        let mut slot = self.shared.slot.lock();
        loop {
            match std::mem::replace(&mut *slot, Slot::Gone) {
                Slot::Full(value) => return Some(value),
                Slot::Gone => return None,
                Slot::Empty => {
                    *slot = Slot::Empty;
                    slot = self.shared.ready.wait(slot);
                }
            }
        }
    }
}

//! Who is calling: a handle call made on the supervisor's own thread (from an event
//! listener) or from one of its children can deadlock, because the supervisor serves
//! calls one at a time and may be waiting for the caller. Each supervisor thread and each
//! child thread records what it is in a thread-local, and the handle checks it.

use std::cell::RefCell;

use patterns_core::sync::atomic::{AtomicBool, Ordering};
use patterns_core::sync::Arc;
use patterns_core::CancelToken;

use crate::mailbox::Mailbox;

/// What the current thread is to one supervisor.
pub(crate) enum Role {
    /// The supervisor's own thread (event listeners run on it).
    Supervisor(usize),
    /// A child's thread: its supervisor's mailbox, whether it has signalled ready, and
    /// the token the supervisor fires to stop this run.
    Child {
        mailbox: usize,
        ready: Arc<AtomicBool>,
        token: CancelToken,
    },
}

patterns_core::sync::thread_local! {
    // Not `const { … }`: loom's `thread_local!` does not accept it.
    #[allow(clippy::missing_const_for_thread_local)]
    static ROLE: RefCell<Option<Role>> = RefCell::new(None);
}

/// The identity of a mailbox (its address, stable while any `Arc` to it lives).
pub(crate) fn key(mailbox: &Mailbox) -> usize {
    std::ptr::from_ref(mailbox) as usize
}

/// Records the current thread's role, for the rest of its life.
pub(crate) fn set(role: Role) {
    let _ = ROLE.try_with(|r| *r.borrow_mut() = Some(role));
}

/// How the current thread stands to the supervisor owning `mailbox`.
pub(crate) enum Caller {
    /// An unrelated thread: calls wait for their answer.
    Outside,
    /// The supervisor's own thread, or a child whose start is pending (the supervisor
    /// waits for it): any call would deadlock.
    Blocking,
    /// A running child: its call is answered unless its token fires first (the
    /// supervisor then waits for this child to stop, and cannot answer).
    Child(CancelToken),
}

pub(crate) fn caller(mailbox: &Mailbox) -> Caller {
    let me = key(mailbox);
    ROLE.try_with(|r| match &*r.borrow() {
        Some(Role::Supervisor(m)) if *m == me => Caller::Blocking,
        Some(Role::Child {
            mailbox,
            ready,
            token,
        }) if *mailbox == me => {
            if ready.load(Ordering::Acquire) {
                Caller::Child(token.clone())
            } else {
                Caller::Blocking
            }
        }
        _ => Caller::Outside,
    })
    .unwrap_or(Caller::Outside)
}

//! [`CancelToken`]: cancellation and deadlines that propagate from parents to children.

use core::fmt;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock};
use crate::error::CancelReason;
use crate::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, Parker, UnmodeledArc};

/// `Node::state` before the token fires.
const ACTIVE: u8 = 0;
/// `Node::state` after `cancel`.
const CANCELLED: u8 = 1;
/// `Node::state` after the deadline was observed to have passed.
const DEADLINE_EXCEEDED: u8 = 2;

/// A cancellation signal shared by the threads working on one task: Go's `context`, for
/// threads.
///
/// Clones share one signal. Once a token fires — [`cancel`](CancelToken::cancel) is called
/// on it or on an ancestor, or its deadline passes — it stays fired, with a
/// [`CancelReason`] saying which. Work checks it with [`is_cancelled`](CancelToken::is_cancelled)
/// or [`check`](CancelToken::check), waits for it with [`wait`](CancelToken::wait), and code
/// that blocks elsewhere (a channel, a rate limiter) hooks a wake-up onto it with
/// [`on_cancel`](CancelToken::on_cancel).
///
/// # Guarantees
///
/// * **Trees.** [`child`](CancelToken::child) makes a token that fires when its parent
///   fires (with the parent's reason), and that can be cancelled alone without touching the
///   parent. A child's deadline is the earlier of its own and its parent's. A child made
///   from a fired parent is born fired. When the last handle to a child (and to its own
///   children and registrations) is dropped, it unregisters from its parent: long-lived
///   parents do not accumulate dead children.
/// * **Exactly once.** A token fires once; every callback registered with `on_cancel` runs
///   exactly once if the token fires — on the firing thread, in registration order, or at
///   once on the registering thread if it had already fired — and never if it is
///   unregistered first. A panicking callback does not stop the others: the panic resumes
///   from `cancel` after all have run.
/// * **Deadlines are observed, not timed.** No background thread watches the clock. A token
///   past its deadline reads as fired with [`CancelReason::DeadlineExceeded`] to every
///   check, and the first check that sees it fires the callbacks. Blocking code therefore
///   bounds its own wait by [`deadline`](CancelToken::deadline), as [`wait`](CancelToken::wait)
///   does; the workspace's `_cancellable` operations all do.
/// * **Memory ordering.** Everything a thread did before `cancel` happens-before whatever a
///   thread does after it observes the token fired.
///
/// # Examples
///
/// ```
/// use patterns_core::{CancelReason, CancelToken};
/// use std::thread;
/// use std::time::Duration;
///
/// let job = CancelToken::with_timeout(Duration::from_secs(60));
/// let step = job.child();
/// let worker = {
///     let step = step.clone();
///     thread::spawn(move || {
///         let mut rounds = 0u64;
///         while !step.is_cancelled() {
///             rounds += 1; // a slice of real work
///             if rounds == 1_000 {
///                 break;
///             }
///         }
///         step.wait() // park until the whole job is called off
///     })
/// };
/// job.cancel();
/// assert_eq!(worker.join().unwrap(), CancelReason::Cancelled);
/// assert!(step.is_cancelled());
/// ```
pub struct CancelToken {
    node: Arc<Node>,
}

struct Node {
    /// `ACTIVE`, then `CANCELLED` or `DEADLINE_EXCEEDED` forever; only `fire_one`'s
    /// compare-and-swap writes it, so exactly one thread runs the listeners.
    state: AtomicU8,
    /// The earliest of this token's own deadline and its ancestors'.
    deadline: Option<Instant>,
    /// The clock `deadline` is read on, inherited by children.
    clock: UnmodeledArc<dyn Clock>,
    /// Live handles to this node: `CancelToken`s (registrations hold one) and children's
    /// parent links. At zero the node detaches from its parent (`CancelToken::drop`).
    handles: AtomicUsize,
    listeners: Mutex<Listeners>,
}

/// A child's hold on its parent: one of the parent's `handles`, and the key under which
/// the parent lists the child. Released by `CancelToken::drop`, never by dropping it.
struct ParentLink {
    node: Arc<Node>,
    key: u64,
}

struct Listeners {
    /// Set under the lock by the thread that fired the node, after it took `entries`:
    /// whoever finds it set knows no one will run a listener it would add.
    fired: bool,
    next_key: u64,
    /// Ordered by key, which is registration order.
    entries: BTreeMap<u64, Listener>,
    /// `None` for roots, children born fired, and nodes already detached.
    parent: Option<ParentLink>,
}

enum Listener {
    Callback(Box<dyn FnOnce(CancelReason) + Send>),
    Child(Arc<Node>),
}

impl CancelToken {
    /// A token with no deadline, on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::root(UnmodeledArc::new(SystemClock), None)
    }

    /// A token that fires with [`CancelReason::DeadlineExceeded`] once the system clock
    /// reaches `deadline`, unless cancelled first.
    #[must_use]
    pub fn with_deadline(deadline: Instant) -> Self {
        Self::root(UnmodeledArc::new(SystemClock), Some(deadline))
    }

    /// A token whose deadline is `timeout` from now on the system clock. A timeout too
    /// large to represent means no deadline.
    #[must_use]
    pub fn with_timeout(timeout: Duration) -> Self {
        Self::root(
            UnmodeledArc::new(SystemClock),
            Instant::now().checked_add(timeout),
        )
    }

    /// A token with no deadline whose descendants' deadlines are read on `clock`: with a
    /// [`ManualClock`](crate::ManualClock), tests move deadlines past without sleeping.
    ///
    /// ```
    /// use patterns_core::{CancelReason, CancelToken, ManualClock};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let token = CancelToken::with_clock(clock.clone()).child_with_timeout(Duration::from_secs(5));
    /// assert_eq!(token.reason(), None);
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(token.reason(), Some(CancelReason::DeadlineExceeded));
    /// ```
    #[must_use]
    pub fn with_clock(clock: impl Clock) -> Self {
        Self::root(UnmodeledArc::new(clock), None)
    }

    fn root(clock: UnmodeledArc<dyn Clock>, deadline: Option<Instant>) -> Self {
        Self::from_node(Node::new(ACTIVE, deadline, clock, None))
    }

    fn from_node(node: Node) -> Self {
        CancelToken {
            node: Arc::new(node),
        }
    }

    /// A token that fires when this one does, and can also be cancelled on its own.
    #[must_use]
    pub fn child(&self) -> CancelToken {
        self.child_at(None)
    }

    /// A child (see [`child`](CancelToken::child)) that also fires at `deadline`, read on
    /// this token's clock; the earlier of it and this token's deadline applies.
    #[must_use]
    pub fn child_with_deadline(&self, deadline: Instant) -> CancelToken {
        self.child_at(Some(deadline))
    }

    /// A child (see [`child`](CancelToken::child)) that also fires `timeout` from now on
    /// this token's clock. A timeout too large to represent adds no deadline.
    #[must_use]
    pub fn child_with_timeout(&self, timeout: Duration) -> CancelToken {
        self.child_at(self.node.clock.now().checked_add(timeout))
    }

    fn child_at(&self, own_deadline: Option<Instant>) -> CancelToken {
        let deadline = earliest(own_deadline, self.node.deadline);
        let clock = UnmodeledArc::clone(&self.node.clock);
        let mut listeners = self.node.listeners.lock();
        if listeners.fired {
            drop(listeners);
            // `fired` is set after the state's compare-and-swap, under the lock we held.
            let state = self.node.state.load(Ordering::Acquire);
            return Self::from_node(Node::new(state, deadline, clock, None));
        }
        let key = listeners.next_key;
        listeners.next_key += 1;
        self.node.handles.fetch_add(1, Ordering::Relaxed);
        let parent = ParentLink {
            node: Arc::clone(&self.node),
            key,
        };
        let child = Arc::new(Node::new(ACTIVE, deadline, clock, Some(parent)));
        listeners
            .entries
            .insert(key, Listener::Child(Arc::clone(&child)));
        CancelToken { node: child }
    }

    /// Fires the token and all its descendants with [`CancelReason::Cancelled`], running
    /// their callbacks on this thread. Does nothing if the token had already fired.
    ///
    /// # Panics
    ///
    /// If a callback panics, the panic resumes here after every other callback has run.
    pub fn cancel(&self) {
        self.node.fire(CancelReason::Cancelled);
    }

    /// True once the token has fired, or its deadline has passed.
    #[inline]
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }

    /// Why the token has fired, or `None` while it has not.
    #[inline]
    #[must_use]
    pub fn reason(&self) -> Option<CancelReason> {
        match decode(self.node.state.load(Ordering::Acquire)) {
            None if self.node.deadline.is_some() => self.observe_deadline(),
            reason => reason,
        }
    }

    /// The slow path of `reason` for a live token with a deadline: reads the clock.
    #[cold]
    fn observe_deadline(&self) -> Option<CancelReason> {
        let deadline = self.node.deadline?;
        if self.node.clock.now() < deadline {
            return None;
        }
        self.node.fire(CancelReason::DeadlineExceeded);
        // A concurrent `cancel` may have won: report what the token says.
        decode(self.node.state.load(Ordering::Acquire))
    }

    /// `Ok(())` while the token has not fired, else `Err(reason)`, for `?` in job code.
    ///
    /// # Errors
    ///
    /// [`CancelReason::Cancelled`] after a cancel, [`CancelReason::DeadlineExceeded`] past
    /// the deadline.
    pub fn check(&self) -> Result<(), CancelReason> {
        self.reason().map_or(Ok(()), Err)
    }

    /// The instant at which the token fires by itself, if it has a deadline (its own or an
    /// ancestor's), on [`clock`](CancelToken::clock).
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// Time left until the deadline, zero once it passed; `None` without a deadline.
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.node.deadline?;
        Some(deadline.saturating_duration_since(self.node.clock.now()))
    }

    /// The clock the deadline is read on.
    #[must_use]
    pub fn clock(&self) -> &dyn Clock {
        &*self.node.clock
    }

    /// Blocks until the token fires, and returns why. Uses no CPU while it waits.
    pub fn wait(&self) -> CancelReason {
        match self.wait_until(None) {
            Some(reason) => reason,
            None => unreachable!("a wait without a limit returns only when the token fired"),
        }
    }

    /// Blocks until the token fires or `timeout` passes on its clock; `None` on time-out.
    #[must_use]
    pub fn wait_timeout(&self, timeout: Duration) -> Option<CancelReason> {
        self.wait_until(self.node.clock.now().checked_add(timeout))
    }

    /// Blocks until the token fires or its clock reaches `deadline`; `None` on time-out.
    #[must_use]
    pub fn wait_deadline(&self, deadline: Instant) -> Option<CancelReason> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, limit: Option<Instant>) -> Option<CancelReason> {
        // A cancel that is about to land costs less to spin for than to park for.
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Some(reason) = self.reason() {
                return Some(reason);
            }
            backoff.snooze();
        }
        let parker = Arc::new(Parker::new());
        let _wake = {
            let parker = Arc::clone(&parker);
            self.on_cancel(move |_| parker.unpark())
        };
        let until = earliest(limit, self.node.deadline);
        loop {
            if let Some(reason) = self.reason() {
                return Some(reason);
            }
            match until {
                None => parker.park(),
                Some(at) if self.node.clock.now() >= at => return self.reason(),
                Some(at) => self.node.clock.park_until(at),
            }
        }
    }

    /// Registers `callback` to run once when the token fires, with the reason.
    ///
    /// It runs on the thread that fires the token (inside `cancel`, or the check that
    /// first sees the deadline passed), so it should be short and must not block: wake a
    /// thread, notify a condition variable, set a flag. If the token has already fired,
    /// it runs at once, on this thread, before `on_cancel` returns.
    ///
    /// Dropping the returned registration unregisters the callback. A thread that parks
    /// waiting for the callback's wake-up must tolerate a stray one after it stopped
    /// waiting: the callback may already be running when the registration is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use patterns_core::CancelToken;
    /// use std::sync::mpsc;
    ///
    /// let token = CancelToken::new();
    /// let (tx, rx) = mpsc::channel();
    /// let registration = token.on_cancel(move |reason| tx.send(reason).unwrap());
    /// token.cancel();
    /// assert_eq!(rx.try_recv().unwrap(), patterns_core::CancelReason::Cancelled);
    /// assert!(!registration.unregister()); // it has already run
    /// ```
    pub fn on_cancel<F>(&self, callback: F) -> CancelRegistration
    where
        F: FnOnce(CancelReason) + Send + 'static,
    {
        // A deadline that passed fires the token here, so the callback runs now, not never.
        let _ = self.reason();
        let mut listeners = self.node.listeners.lock();
        if listeners.fired {
            drop(listeners);
            let state = self.node.state.load(Ordering::Acquire);
            callback(decode(state).expect("a fired token has a reason"));
            return CancelRegistration {
                token: None,
                key: 0,
            };
        }
        let key = listeners.next_key;
        listeners.next_key += 1;
        listeners
            .entries
            .insert(key, Listener::Callback(Box::new(callback)));
        drop(listeners);
        CancelRegistration {
            token: Some(self.clone()),
            key,
        }
    }

    /// How many callbacks and live children are registered to fire with this token: for
    /// diagnostics and leak checks. Zero once the token has fired.
    #[must_use]
    pub fn listeners(&self) -> usize {
        self.node.listeners.lock().entries.len()
    }
}

impl Node {
    fn new(
        state: u8,
        deadline: Option<Instant>,
        clock: UnmodeledArc<dyn Clock>,
        parent: Option<ParentLink>,
    ) -> Self {
        Node {
            state: AtomicU8::new(state),
            deadline,
            clock,
            handles: AtomicUsize::new(1),
            listeners: Mutex::new(Listeners {
                fired: state != ACTIVE,
                next_key: 0,
                entries: BTreeMap::new(),
                parent,
            }),
        }
    }

    /// Fires this node and its descendants, depth first without recursion (a long chain
    /// of children must not overflow the stack). Runs every callback even if some panic,
    /// then resumes the first panic.
    fn fire(&self, reason: CancelReason) {
        let mut children = Vec::new();
        let mut panic = None;
        self.fire_one(reason, &mut children, &mut panic);
        while let Some(child) = children.pop() {
            child.fire_one(reason, &mut children, &mut panic);
        }
        if let Some(payload) = panic {
            panic::resume_unwind(payload);
        }
    }

    fn fire_one(
        &self,
        reason: CancelReason,
        children: &mut Vec<Arc<Node>>,
        panic: &mut Option<Box<dyn std::any::Any + Send>>,
    ) {
        let code = match reason {
            CancelReason::Cancelled => CANCELLED,
            CancelReason::DeadlineExceeded => DEADLINE_EXCEEDED,
        };
        if self
            .state
            .compare_exchange(ACTIVE, code, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return; // fired already, by another thread or an earlier deadline
        }
        let entries = {
            let mut listeners = self.listeners.lock();
            listeners.fired = true;
            std::mem::take(&mut listeners.entries)
        };
        for listener in entries.into_values() {
            match listener {
                Listener::Callback(callback) => {
                    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| callback(reason)))
                    {
                        panic.get_or_insert(payload);
                    }
                }
                Listener::Child(child) => children.push(child),
            }
        }
    }
}

#[inline]
fn decode(state: u8) -> Option<CancelReason> {
    match state {
        ACTIVE => None,
        CANCELLED => Some(CancelReason::Cancelled),
        _ => Some(CancelReason::DeadlineExceeded),
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl Clone for CancelToken {
    fn clone(&self) -> Self {
        // Relaxed as in `Arc::clone`: a new handle is made from a live one, which keeps
        // the count above zero; only the decrement needs to order.
        self.node.handles.fetch_add(1, Ordering::Relaxed);
        CancelToken {
            node: Arc::clone(&self.node),
        }
    }
}

impl Drop for CancelToken {
    fn drop(&mut self) {
        // Releasing the last handle of a child releases its hold on the parent, which may
        // be the parent's last: walk up in a loop, so a long chain cannot overflow the stack.
        let mut released = self.node.release();
        while let Some(ParentLink { node, key }) = released {
            let removed = node.listeners.lock().entries.remove(&key);
            drop(removed); // after the parent's lock is released
            released = node.release();
        }
    }
}

impl Node {
    /// Gives up one handle. At the last, nobody can cancel this node directly any more or
    /// observe it but through its parent, so it returns its link for the caller to detach.
    fn release(&self) -> Option<ParentLink> {
        if self.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return None;
        }
        self.listeners.lock().parent.take()
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("reason", &decode(self.node.state.load(Ordering::Acquire)))
            .field("deadline", &self.node.deadline)
            .field("listeners", &self.listeners())
            .finish()
    }
}

/// A callback registered with [`CancelToken::on_cancel`]; dropping it unregisters the
/// callback if it has not run.
#[must_use = "dropping a registration unregisters its callback"]
pub struct CancelRegistration {
    /// `None` once unregistered, or when the callback ran inside `on_cancel`.
    token: Option<CancelToken>,
    key: u64,
}

impl CancelRegistration {
    /// Unregisters the callback. Returns true if it was still registered, so it will
    /// never run; false if it has run or is running on the firing thread.
    pub fn unregister(mut self) -> bool {
        self.remove()
    }

    fn remove(&mut self) -> bool {
        let Some(token) = self.token.take() else {
            return false;
        };
        let removed = token.node.listeners.lock().entries.remove(&self.key);
        removed.is_some()
    }
}

impl Drop for CancelRegistration {
    fn drop(&mut self) {
        self.remove();
    }
}

impl fmt::Debug for CancelRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelRegistration")
            .field("armed", &self.token.is_some())
            .finish()
    }
}

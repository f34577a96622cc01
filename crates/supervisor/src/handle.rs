//! Handles to a running supervisor.

use std::fmt;

use patterns_core::panic_message;
use patterns_core::sync::atomic::{AtomicU64, Ordering};
use patterns_core::sync::{thread, Arc, Mutex};

use crate::error::{ChildError, SupervisorError};
use crate::event::{ChildInfo, ShutdownReport};
use crate::mailbox::{oneshot, Call, Mailbox, Msg, Reply};
use crate::reentry::{self, Caller};
use crate::spec::{ChildSpec, ChildTemplate};

type Exit = Result<ShutdownReport, SupervisorError>;

struct Joined {
    thread: Option<thread::JoinHandle<Exit>>,
    exit: Option<Exit>,
}

/// A running supervisor. Every call is served by the supervisor's thread, in the order
/// the calls arrive; a call that stops or starts a child returns once that is done.
///
/// Dropping the handle shuts the supervisor down and waits for it, as
/// [`shutdown`](SupervisorHandle::shutdown) does — except when it is dropped by one of
/// the supervisor's own children or its event listener: the supervisor then shuts down
/// and its thread ends on its own, detached.
///
/// # Calls from inside the supervisor
///
/// A child's body or an event listener may hold a handle to its own supervisor (through
/// an `Arc`, say). The supervisor serves one call at a time and waits synchronously for
/// starts and stops, so some of those calls can never be answered; they return an error
/// instead of deadlocking:
///
/// * from an event listener (it runs on the supervisor's thread), every call returns
///   [`ChildError::WouldDeadlock`];
/// * from a child whose start is pending (before its [`ready`](crate::ChildContext::ready)),
///   every call returns [`ChildError::WouldDeadlock`];
/// * from a running child, a call waits for its answer unless the child's token fires
///   first (the supervisor is then stopping that child, and waits for it): it returns
///   [`ChildError::WouldDeadlock`], and the call may still take effect later (so
///   `terminate_child` of the caller itself returns that error, and does stop it);
/// * [`shutdown`](Self::shutdown) and [`join`](Self::join) from either return
///   [`SupervisorError::WouldDeadlock`] without waiting (`shutdown` still starts the
///   shutdown).
///
/// Calls from other threads, including children of *other* supervisors, are not
/// affected.
///
/// # Calls across supervisors: cycles are not detected
///
/// The check above is per supervisor: a handle knows only whether its caller is *its own*
/// supervisor's thread, event listener or child. A wait that goes round through another
/// supervisor is not seen, and can deadlock. Say supervisor A's child `a` calls B's handle
/// synchronously while B's child `b` calls A's — `a` runs `b_sup.terminate_child("b")`
/// as `b` runs `a_sup.terminate_child("a")`: B fires `b`'s token and waits for `b` to
/// return, `b` waits for A's answer, A fires `a`'s token and waits for `a`, `a` waits for
/// B's answer. To A, `b` is an outside caller, and to B so is `a`: both wait without
/// watching their own tokens. Under [`Shutdown::Timeout`](crate::Shutdown::Timeout) the
/// cycle ends when a stop times out and its child is abandoned
/// ([`ExitReason::Killed`](crate::ExitReason::Killed)); under
/// [`Infinity`](crate::Shutdown::Infinity) it never ends. The same goes for a pair of
/// *starts* (each child calling the other supervisor before its `ready`: the
/// [start timeouts](crate::ChildSpec::start_timeout) end it, again by abandoning a
/// thread if the call does not return), and for a tree: a grandchild calling an
/// ancestor's handle while that ancestor stops the subtree is a child of the inner
/// supervisor only, so its call waits, and so does the subtree's shutdown.
///
/// To stay clear of it:
///
/// * make calls that cross supervisors from a thread that is a child of neither — a
///   coordinator owning the handles — and have children send it requests through a
///   channel instead of calling and waiting themselves;
/// * or let calls go one way only: if A's children call B, nothing under B (directly or
///   through anything B's children wait on) calls A;
/// * never call another supervisor before `ready`, or in a body that must return
///   promptly when its token fires;
/// * keep [`Shutdown::Timeout`](crate::Shutdown::Timeout) and start timeouts finite, so
///   that a cycle that does happen costs an abandoned thread and an error instead of a
///   hung tree.
#[must_use = "dropping the handle shuts the supervisor down"]
pub struct SupervisorHandle {
    name: String,
    mailbox: Arc<Mailbox>,
    joined: Mutex<Joined>,
}

impl SupervisorHandle {
    pub(crate) fn new(
        name: String,
        mailbox: Arc<Mailbox>,
        thread: thread::JoinHandle<Exit>,
    ) -> Self {
        SupervisorHandle {
            name,
            mailbox,
            joined: Mutex::new(Joined {
                thread: Some(thread),
                exit: None,
            }),
        }
    }

    /// The supervisor's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    fn call<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Call,
    ) -> Result<T, ChildError> {
        let token = match reentry::caller(&self.mailbox) {
            Caller::Outside => None,
            Caller::Blocking => return Err(ChildError::WouldDeadlock),
            Caller::Child(token) if token.is_cancelled() => return Err(ChildError::WouldDeadlock),
            Caller::Child(token) => Some(token),
        };
        let (reply, pending) = oneshot();
        self.mailbox
            .send(Msg::Call(make(reply)))
            .map_err(|_| ChildError::SupervisorStopped)?;
        match token {
            None => pending.wait().ok_or(ChildError::SupervisorStopped),
            Some(token) => pending.wait_unless(&token).ok_or(if token.is_cancelled() {
                ChildError::WouldDeadlock
            } else {
                ChildError::SupervisorStopped
            }),
        }
    }

    /// Whether waiting for the supervisor's thread would deadlock: the caller is that
    /// thread (an event listener) or one of its children, which it stops before it ends.
    fn reentrant(&self) -> bool {
        !matches!(reentry::caller(&self.mailbox), Caller::Outside)
    }

    /// Every child in start order: name, state, restart count, last exit reason.
    ///
    /// # Errors
    ///
    /// [`ChildError::SupervisorStopped`] once the supervisor has ended;
    /// [`ChildError::WouldDeadlock`] (see [above](Self#calls-from-inside-the-supervisor)).
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, ChildError> {
        self.call(Call::Which)
    }

    /// Stops a child under its shutdown spec and keeps it stopped (no restart; a pending
    /// restart is cancelled); a temporary child, or any child of a dynamic supervisor, is
    /// then forgotten. Stopping a stopped child succeeds.
    ///
    /// # Errors
    ///
    /// [`ChildError::UnknownChild`], [`ChildError::SupervisorStopped`],
    /// [`ChildError::WouldDeadlock`].
    pub fn terminate_child(&self, name: &str) -> Result<(), ChildError> {
        self.call(|reply| Call::Terminate(name.to_owned(), reply))?
    }

    /// Starts a stopped child again and waits until it is ready (up to its
    /// [start timeout](crate::ChildSpec::start_timeout)). Does not count toward the
    /// restart intensity, nor as one of its restarts.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`] if it runs, [`ChildError::Restarting`] if a restart is
    /// pending, [`ChildError::StartFailed`] or [`ChildError::StartTimeout`] (it stays
    /// stopped), [`ChildError::UnknownChild`], [`ChildError::SupervisorStopped`],
    /// [`ChildError::WouldDeadlock`] (see [above](Self#calls-from-inside-the-supervisor)).
    pub fn restart_child(&self, name: &str) -> Result<(), ChildError> {
        self.call(|reply| Call::Restart(name.to_owned(), reply))?
    }

    /// Adds a child after the others and starts it, waiting until it is ready (up to its
    /// [start timeout](crate::ChildSpec::start_timeout)).
    ///
    /// # Errors
    ///
    /// [`ChildError::AlreadyRunning`] if a child of that name runs,
    /// [`ChildError::AlreadyPresent`] if one is present but not running,
    /// [`ChildError::Invalid`] for a bad spec, [`ChildError::StartFailed`] or
    /// [`ChildError::StartTimeout`] (the spec is not kept),
    /// [`ChildError::SupervisorStopped`], [`ChildError::WouldDeadlock`].
    pub fn start_child(&self, spec: ChildSpec) -> Result<(), ChildError> {
        self.call(|reply| Call::Start(spec, reply))?
    }

    /// Forgets a stopped child's spec.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`], [`ChildError::Restarting`], [`ChildError::UnknownChild`],
    /// [`ChildError::SupervisorStopped`], [`ChildError::WouldDeadlock`].
    pub fn delete_child(&self, name: &str) -> Result<(), ChildError> {
        self.call(|reply| Call::Delete(name.to_owned(), reply))?
    }

    /// Shuts the supervisor down — children stopped one at a time in reverse start
    /// order, each under its shutdown spec — and waits until its thread has ended.
    /// Calling it again, or after the supervisor gave up, returns the same result.
    ///
    /// Called from one of this supervisor's own children or from its event listener, it
    /// starts the shutdown but does not wait (the supervisor waits for that child, or
    /// runs that listener): it returns [`SupervisorError::WouldDeadlock`] at once, and a
    /// later `shutdown`, [`join`](Self::join) or drop from another thread collects the
    /// result.
    ///
    /// # Errors
    ///
    /// The supervisor's own failure, if it had given up before the shutdown
    /// ([`SupervisorError::IntensityExceeded`]); [`SupervisorError::WouldDeadlock`] as
    /// above.
    pub fn shutdown(&self) -> Result<ShutdownReport, SupervisorError> {
        let _ = self.mailbox.send(Msg::Stop);
        self.wait()
    }

    /// Waits until the supervisor ends — shut down (by [`shutdown`](Self::shutdown) from
    /// another thread, or its cancel token) or given up.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::IntensityExceeded`] if it gave up;
    /// [`SupervisorError::WouldDeadlock`] when called from one of its own children or its
    /// event listener (the supervisor is then shut down, and not waited for).
    pub fn join(self) -> Result<ShutdownReport, SupervisorError> {
        self.wait()
    }

    fn would_deadlock(&self) -> SupervisorError {
        SupervisorError::WouldDeadlock {
            supervisor: self.name.clone(),
        }
    }

    fn wait(&self) -> Exit {
        if self.reentrant() {
            // Joining would wait for the caller; a join from elsewhere still can.
            return Err(self.would_deadlock());
        }
        let mut joined = self.joined.lock();
        if let Some(thread) = joined.thread.take() {
            let exit = thread.join().unwrap_or_else(|payload| {
                Err(SupervisorError::Panicked {
                    supervisor: self.name.clone(),
                    message: panic_message(&*payload)
                        .unwrap_or("non-string panic payload")
                        .to_owned(),
                })
            });
            joined.exit = Some(exit);
        }
        joined
            .exit
            .clone()
            .expect("a joined supervisor's exit is kept")
    }
}

impl Drop for SupervisorHandle {
    fn drop(&mut self) {
        if self.joined.lock().thread.is_some() {
            if self.reentrant() {
                // Dropped by one of its children or its event listener: the supervisor
                // shuts down and ends on its own; its thread is detached, not joined.
                let _ = self.mailbox.send(Msg::Stop);
                return;
            }
            let _ = self.shutdown();
        }
    }
}

impl fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorHandle")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A running dynamic supervisor: children of one [`ChildTemplate`], started at run time
/// with their own argument.
#[must_use = "dropping the handle shuts the supervisor down"]
pub struct DynamicHandle<A> {
    handle: SupervisorHandle,
    template: ChildTemplate<A>,
    next: AtomicU64,
}

impl<A: Send + Sync + 'static> DynamicHandle<A> {
    pub(crate) fn new(handle: SupervisorHandle, template: ChildTemplate<A>) -> Self {
        DynamicHandle {
            handle,
            template,
            next: AtomicU64::new(0),
        }
    }

    /// Starts a child running the template with `arg`, and waits until it is ready (up to
    /// the template's start timeout); returns its name (`<prefix>-<n>`).
    ///
    /// # Errors
    ///
    /// [`ChildError::StartFailed`], [`ChildError::StartTimeout`] (the child is not kept),
    /// [`ChildError::SupervisorStopped`], [`ChildError::WouldDeadlock`] (as for
    /// [`SupervisorHandle`](SupervisorHandle#calls-from-inside-the-supervisor)).
    pub fn start_child(&self, arg: A) -> Result<String, ChildError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("{}-{n}", self.template.prefix());
        self.handle
            .start_child(self.template.instantiate(name.clone(), arg))
            .map(|()| name)
    }

    /// Stops a child and forgets it.
    ///
    /// # Errors
    ///
    /// [`ChildError::UnknownChild`], [`ChildError::SupervisorStopped`],
    /// [`ChildError::WouldDeadlock`].
    pub fn terminate_child(&self, name: &str) -> Result<(), ChildError> {
        self.handle.terminate_child(name)
    }

    /// Every child, in start order.
    ///
    /// # Errors
    ///
    /// [`ChildError::SupervisorStopped`], [`ChildError::WouldDeadlock`].
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, ChildError> {
        self.handle.which_children()
    }

    /// As [`SupervisorHandle::shutdown`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::shutdown`].
    pub fn shutdown(&self) -> Result<ShutdownReport, SupervisorError> {
        self.handle.shutdown()
    }

    /// As [`SupervisorHandle::join`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::join`].
    pub fn join(self) -> Result<ShutdownReport, SupervisorError> {
        self.handle.join()
    }
}

impl<A> fmt::Debug for DynamicHandle<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicHandle")
            .field("handle", &self.handle)
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

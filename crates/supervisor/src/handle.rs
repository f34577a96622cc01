//! Handles to a running supervisor.

use std::fmt;

use patterns_core::panic_message;
use patterns_core::sync::atomic::{AtomicU64, Ordering};
use patterns_core::sync::{thread, Arc, Mutex};

use crate::error::{ChildError, SupervisorError};
use crate::event::{ChildInfo, ShutdownReport};
use crate::mailbox::{oneshot, Call, Mailbox, Msg, Reply};
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
/// [`shutdown`](SupervisorHandle::shutdown) does.
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

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Call) -> Result<T, ChildError> {
        let (reply, pending) = oneshot();
        self.mailbox
            .send(Msg::Call(make(reply)))
            .map_err(|_| ChildError::SupervisorStopped)?;
        pending.wait().ok_or(ChildError::SupervisorStopped)
    }

    /// Every child in start order: name, state, restart count, last exit reason.
    ///
    /// # Errors
    ///
    /// [`ChildError::SupervisorStopped`] once the supervisor has ended.
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, ChildError> {
        self.call(Call::Which)
    }

    /// Stops a child under its shutdown spec and keeps it stopped (no restart; a pending
    /// restart is cancelled); a temporary child, or any child of a dynamic supervisor, is
    /// then forgotten. Stopping a stopped child succeeds.
    ///
    /// # Errors
    ///
    /// [`ChildError::UnknownChild`], [`ChildError::SupervisorStopped`].
    pub fn terminate_child(&self, name: &str) -> Result<(), ChildError> {
        self.call(|reply| Call::Terminate(name.to_owned(), reply))?
    }

    /// Starts a stopped child again and waits until it is ready. Does not count toward
    /// the restart intensity, nor as one of its restarts.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`] if it runs, [`ChildError::Restarting`] if a restart is
    /// pending, [`ChildError::StartFailed`] (it stays stopped),
    /// [`ChildError::UnknownChild`], [`ChildError::SupervisorStopped`].
    pub fn restart_child(&self, name: &str) -> Result<(), ChildError> {
        self.call(|reply| Call::Restart(name.to_owned(), reply))?
    }

    /// Adds a child after the others and starts it, waiting until it is ready.
    ///
    /// # Errors
    ///
    /// [`ChildError::AlreadyRunning`] if a child of that name runs,
    /// [`ChildError::AlreadyPresent`] if one is present but not running,
    /// [`ChildError::Invalid`] for a bad spec, [`ChildError::StartFailed`] (the spec is
    /// not kept), [`ChildError::SupervisorStopped`].
    pub fn start_child(&self, spec: ChildSpec) -> Result<(), ChildError> {
        self.call(|reply| Call::Start(spec, reply))?
    }

    /// Forgets a stopped child's spec.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`], [`ChildError::Restarting`], [`ChildError::UnknownChild`],
    /// [`ChildError::SupervisorStopped`].
    pub fn delete_child(&self, name: &str) -> Result<(), ChildError> {
        self.call(|reply| Call::Delete(name.to_owned(), reply))?
    }

    /// Shuts the supervisor down — children stopped one at a time in reverse start
    /// order, each under its shutdown spec — and waits until its thread has ended.
    /// Calling it again, or after the supervisor gave up, returns the same result.
    ///
    /// # Errors
    ///
    /// The supervisor's own failure, if it had given up before the shutdown
    /// ([`SupervisorError::IntensityExceeded`]).
    pub fn shutdown(&self) -> Result<ShutdownReport, SupervisorError> {
        let _ = self.mailbox.send(Msg::Stop);
        self.wait()
    }

    /// Waits until the supervisor ends — shut down (by [`shutdown`](Self::shutdown) from
    /// another thread, or its cancel token) or given up.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::IntensityExceeded`] if it gave up.
    pub fn join(self) -> Result<ShutdownReport, SupervisorError> {
        self.wait()
    }

    fn wait(&self) -> Exit {
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

    /// Starts a child running the template with `arg`, and waits until it is ready;
    /// returns its name (`<prefix>-<n>`).
    ///
    /// # Errors
    ///
    /// [`ChildError::StartFailed`], [`ChildError::SupervisorStopped`].
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
    /// [`ChildError::UnknownChild`], [`ChildError::SupervisorStopped`].
    pub fn terminate_child(&self, name: &str) -> Result<(), ChildError> {
        self.handle.terminate_child(name)
    }

    /// Every child, in start order.
    ///
    /// # Errors
    ///
    /// [`ChildError::SupervisorStopped`].
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

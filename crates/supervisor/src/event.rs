//! What a supervisor reports: exit reasons, events, child states.

use std::fmt;
use std::time::Duration;

/// How a child's run ended (Erlang's exit reasons, for threads).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitReason {
    /// The body returned `Ok(())` on its own: a normal exit.
    Normal,
    /// The body returned (`Ok` or `Err`) after the supervisor fired its token to stop
    /// it, while it ran or during its start: a shutdown exit.
    Shutdown,
    /// The body returned `Err` on its own; the error's `Display` text.
    Error(String),
    /// The body panicked; the panic's text (`"non-string panic payload"` when it had
    /// none).
    Panic(String),
    /// The child missed its heartbeat; its token fired and it returned.
    Hung,
    /// The child was told to stop and did not return within its
    /// [`Shutdown::Timeout`](crate::Shutdown::Timeout) (or was
    /// [`BrutalKill`](crate::Shutdown::BrutalKill)ed while still running): its thread was
    /// abandoned (see [`Shutdown`](crate::Shutdown)).
    Killed,
    /// The child did not call [`ready`](crate::ChildContext::ready), fail or return within
    /// its [start timeout](crate::ChildSpec::start_timeout), this long: a failed start.
    StartTimeout(Duration),
}

impl ExitReason {
    /// Whether the exit is abnormal — an error, a panic, a missed heartbeat, a kill or a
    /// start timeout —
    /// the exits after which a [`Transient`](crate::Restart::Transient) child is
    /// restarted.
    #[must_use]
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal exit"),
            ExitReason::Shutdown => f.write_str("shut down"),
            ExitReason::Error(e) => write!(f, "error: {e}"),
            ExitReason::Panic(m) => write!(f, "panicked: {m}"),
            ExitReason::Hung => f.write_str("missed its heartbeat"),
            ExitReason::Killed => f.write_str("did not stop in time and was abandoned"),
            ExitReason::StartTimeout(d) => write!(f, "did not signal ready within {d:?}"),
        }
    }
}

/// Something a supervisor did, delivered to [`on_event`](crate::Builder::on_event) on
/// the supervisor's thread, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A child called [`ready`](crate::ChildContext::ready) (or returned `Ok` before it
    /// did): it runs.
    ChildStarted {
        /// The child.
        child: String,
        /// Its restart count at this start.
        restarts: u32,
    },
    /// A child failed its start (an error or a panic before `ready`, or its
    /// [start timeout](crate::ChildSpec::start_timeout) passed).
    ChildStartFailed {
        /// The child.
        child: String,
        /// How it ended.
        reason: ExitReason,
    },
    /// A child's run ended.
    ChildExited {
        /// The child.
        child: String,
        /// How it ended.
        reason: ExitReason,
    },
    /// The supervisor restarted a child and it is running again.
    ChildRestarted {
        /// The child.
        child: String,
        /// Its restart count, this restart included (1 for the first).
        attempt: u32,
        /// The backoff delay waited before this start.
        after: Duration,
    },
    /// More than `max_restarts` within `period`: the supervisor gives up.
    IntensityExceeded {
        /// The limit.
        max_restarts: u32,
        /// The window.
        period: Duration,
    },
    /// The supervisor begins stopping its children, in reverse start order.
    ShutdownStarted,
    /// Every child is stopped or abandoned; the supervisor's thread is about to end.
    ShutdownCompleted {
        /// Children whose threads were abandoned and were still running at the end.
        abandoned: usize,
    },
}

/// Where a child is, as [`which_children`](crate::SupervisorHandle::which_children)
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildState {
    /// Its thread runs and it has signalled ready.
    Running,
    /// It exited and will be restarted: a backoff delay runs, or its restart failed to
    /// start and will be retried.
    Restarting,
    /// Not running and not to be restarted (terminated, or exited under a restart type
    /// that does not restart); `restart_child` starts it again.
    Stopped,
}

/// One child, as [`which_children`](crate::SupervisorHandle::which_children) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildInfo {
    /// Its name.
    pub name: String,
    /// Where it is.
    pub state: ChildState,
    /// How many times the supervisor has restarted it (attempts, failed starts included;
    /// `restart_child` calls excluded).
    pub restarts: u32,
    /// How its last run ended, if one did.
    pub last_exit: Option<ExitReason>,
}

/// How a requested shutdown went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Children whose threads did not stop within their shutdown timeout and were
    /// abandoned, still running when the supervisor ended, in the order they were
    /// abandoned.
    pub abandoned: Vec<String>,
}

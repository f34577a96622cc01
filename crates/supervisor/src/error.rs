//! The crate's errors: bad settings, failed starts, refused handle calls, and why a
//! supervisor gave up.

use std::time::Duration;

use crate::event::ExitReason;

/// A setting a supervisor or a child spec was built with is out of range. Returned by
/// [`Builder::start`](crate::Builder::start) (inside [`StartError::Build`]) and by
/// [`SupervisorHandle::start_child`](crate::SupervisorHandle::start_child) (inside
/// [`ChildError::Invalid`]) before any thread starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two children share a name; names identify children in every handle call.
    #[error("two children are named {0:?}")]
    DuplicateChild(String),
    /// A child's name is empty.
    #[error("a child has an empty name")]
    EmptyName,
    /// The intensity period is zero: no window to count restarts in.
    #[error("the restart intensity period is zero")]
    ZeroPeriod,
    /// A child's heartbeat interval is zero.
    #[error("child {0:?} has a zero heartbeat interval")]
    ZeroHeartbeat(String),
    /// A child's [start timeout](crate::ChildSpec::start_timeout) is zero: no start could
    /// meet it.
    #[error("child {0:?} has a zero start timeout")]
    ZeroStartTimeout(String),
    /// A backoff's minimum exceeds its maximum, its multiplier is below 1 or not finite,
    /// or its jitter is outside `0.0..=1.0`.
    #[error("invalid restart backoff: {0}")]
    Backoff(&'static str),
    /// A dynamic supervisor was given static children: its children all come from its
    /// template, at run time.
    #[error("a dynamic supervisor cannot have static children")]
    StaticChildrenInDynamic,
}

/// A supervisor did not start. Every child it had started was stopped first, in reverse
/// start order, each under its [`Shutdown`](crate::Shutdown), and the supervisor's thread
/// is gone. A child's thread that outlived its shutdown spec (or was
/// [`BrutalKill`](crate::Shutdown::BrutalKill)ed) was abandoned and may still run, with
/// its token fired; for the child whose start failed, `StartTimeout { abandoned, .. }`
/// says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting is out of range.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A child failed its start: it returned an error or panicked before
    /// [`ready`](crate::ChildContext::ready).
    #[error("child {child:?} failed to start: {reason}")]
    ChildStart {
        /// The child's name.
        child: String,
        /// How it ended.
        reason: ExitReason,
    },
    /// A child did not call [`ready`](crate::ChildContext::ready) (nor fail, nor return)
    /// within its [start timeout](crate::ChildSpec::start_timeout): its token was fired
    /// and it was waited for under its [`Shutdown`](crate::Shutdown).
    #[error("child {child:?} did not signal ready within {timeout:?}{}", abandoned_note(*.abandoned))]
    StartTimeout {
        /// The child's name.
        child: String,
        /// Its start timeout.
        timeout: Duration,
        /// Whether its thread then outlived its shutdown spec too and was abandoned (see
        /// [`Shutdown`](crate::Shutdown)): it still runs, detached, with its token fired.
        abandoned: bool,
    },
    /// The operating system refused a thread.
    #[error("cannot spawn the supervisor thread: {0}")]
    Spawn(String),
}

/// The end of a start timeout's message: whether the thread was abandoned.
fn abandoned_note(abandoned: bool) -> &'static str {
    if abandoned {
        "; its thread did not stop in time either and was abandoned"
    } else {
        ""
    }
}

/// A [`SupervisorHandle`](crate::SupervisorHandle) call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChildError {
    /// No child has that name (a temporary child is forgotten when it exits).
    #[error("no child is named {0:?}")]
    UnknownChild(String),
    /// `start_child` with the name of a child that is running.
    #[error("child {0:?} is already running")]
    AlreadyRunning(String),
    /// `start_child` with the name of a child that is present but not running (stopped,
    /// or waiting for a restart): `restart_child` or `delete_child` it instead.
    #[error("child {0:?} is already present (not running); restart or delete it")]
    AlreadyPresent(String),
    /// `restart_child` or `delete_child` of a running child: terminate it first.
    #[error("child {0:?} is running")]
    Running(String),
    /// `restart_child` or `delete_child` of a child whose restart is pending (a backoff
    /// delay, or a failed restart waiting to be retried): terminate it first.
    #[error("child {0:?} is waiting to be restarted")]
    Restarting(String),
    /// The child failed the start that the call asked for.
    #[error("child {child:?} failed to start: {reason}")]
    StartFailed {
        /// The child's name.
        child: String,
        /// How it ended.
        reason: ExitReason,
    },
    /// The start the call asked for did not signal ready within the child's
    /// [start timeout](crate::ChildSpec::start_timeout) (see
    /// [`StartError::StartTimeout`]).
    #[error("child {child:?} did not signal ready within {timeout:?}{}", abandoned_note(*.abandoned))]
    StartTimeout {
        /// The child's name.
        child: String,
        /// Its start timeout.
        timeout: Duration,
        /// Whether its thread was abandoned after outliving its shutdown spec too.
        abandoned: bool,
    },
    /// The spec given to `start_child` is invalid.
    #[error(transparent)]
    Invalid(#[from] BuildError),
    /// The supervisor has shut down or given up; nothing it supervised runs any more.
    #[error("the supervisor is not running")]
    SupervisorStopped,
    /// The call came from inside the supervisor — its event listener, a child whose
    /// start is pending, or a child the supervisor is stopping — and could never be
    /// answered (see [`SupervisorHandle`](crate::SupervisorHandle#calls-from-inside-the-supervisor)).
    #[error("calling the supervisor from here would deadlock")]
    WouldDeadlock,
}

/// How a supervisor ended other than by a requested shutdown. Under a parent supervisor
/// this is the supervisor's exit as a child: an abnormal exit, which the parent handles
/// as any other child failure (escalation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// More than `max_restarts` restarts within `period`: the supervisor stopped every
    /// child, in reverse start order, and exited.
    #[error(
        "supervisor {supervisor:?} gave up: more than {max_restarts} restarts within {period:?}"
    )]
    IntensityExceeded {
        /// The supervisor's name.
        supervisor: String,
        /// Its restart limit.
        max_restarts: u32,
        /// Its window.
        period: Duration,
    },
    /// `shutdown` or `join` was called from one of the supervisor's own children or its
    /// event listener, which the supervisor must stop or finish before it can end: the
    /// shutdown was started, but not waited for.
    #[error("supervisor {supervisor:?} cannot be waited for from its own child or listener")]
    WouldDeadlock {
        /// The supervisor's name.
        supervisor: String,
    },
    /// The supervisor's own thread panicked (a bug in this crate: user callbacks' panics
    /// are caught). Its children may still run.
    #[error("supervisor {supervisor:?} panicked: {message}")]
    Panicked {
        /// The supervisor's name.
        supervisor: String,
        /// The panic's text.
        message: String,
    },
}

impl SupervisorError {
    /// The process exit code a root supervisor's failure should end the process with, so
    /// that the host's service manager (systemd, Kubernetes) restarts it: 75
    /// (`EX_TEMPFAIL`, "try again later") when intensity was exceeded, 70 (`EX_SOFTWARE`)
    /// for a panic. Both are non-zero, so `Restart=on-failure` applies.
    ///
    /// ```
    /// use std::time::Duration;
    /// use supervisor::SupervisorError;
    ///
    /// let e = SupervisorError::IntensityExceeded {
    ///     supervisor: "root".into(),
    ///     max_restarts: 3,
    ///     period: Duration::from_secs(5),
    /// };
    /// assert_eq!(e.exit_code(), 75);
    /// ```
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            SupervisorError::IntensityExceeded { .. } => 75,
            SupervisorError::Panicked { .. } | SupervisorError::WouldDeadlock { .. } => 70,
        }
    }
}

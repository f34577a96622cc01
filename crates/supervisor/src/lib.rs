//! Erlang/OTP-style supervision of threads.
//!
//! A supervisor starts its children — closures, each on its own named thread — in order,
//! watches them, and restarts them when they fail, so that the long-running parts of a
//! program keep running: OTP's `supervisor` (strategies, restart types, restart
//! intensity, ordered starts and shutdowns, supervision trees) for OS threads, with
//! Akka's restart backoff and a heartbeat for children that hang instead of failing.
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use supervisor::{ChildSpec, ChildState, Event, ExitReason, Restart, Strategy, Supervisor};
//!
//! let (crash, crashes) = mpsc::channel::<()>();
//! let crashes = std::sync::Mutex::new(crashes);
//! let (events_tx, events) = mpsc::channel();
//! let events_tx = std::sync::Mutex::new(events_tx);
//!
//! let sup = Supervisor::builder("app")
//!     .strategy(Strategy::OneForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .on_event(move |e| { let _ = events_tx.lock().unwrap().send(e.clone()); })
//!     .child(ChildSpec::new("worker", move |ctx| {
//!         ctx.ready();
//!         // Fail when told to, or stop when the supervisor says so.
//!         loop {
//!             if ctx.is_stopping() {
//!                 return Ok(());
//!             }
//!             if crashes.lock().unwrap().recv_timeout(Duration::from_millis(1)).is_ok() {
//!                 return Err("lost the connection");
//!             }
//!         }
//!     }))
//!     .child(ChildSpec::new("once", |ctx| { ctx.ready(); Ok::<(), String>(()) })
//!         .restart(Restart::Temporary))
//!     .start()
//!     .unwrap();
//!
//! crash.send(()).unwrap();
//! // The worker is restarted: wait for the event.
//! while !matches!(events.recv().unwrap(), Event::ChildRestarted { .. }) {}
//! let worker = &sup.which_children().unwrap()[0];
//! assert_eq!((worker.state, worker.restarts), (ChildState::Running, 1));
//! assert_eq!(worker.last_exit, Some(ExitReason::Error("lost the connection".into())));
//!
//! let report = sup.shutdown().unwrap();
//! assert!(report.abandoned.is_empty());
//! ```
//!
//! # The pieces
//!
//! * [`Supervisor::builder`] → [`Builder`]: [`Strategy`] (`OneForOne`, `OneForAll`,
//!   `RestForOne`), [`intensity`](Builder::intensity) (default
//!   [`DEFAULT_MAX_RESTARTS`] in [`DEFAULT_PERIOD`]: 3 in 5 s, Elixir's),
//!   [`backoff`](Builder::backoff), [`clock`](Builder::clock),
//!   [`on_event`](Builder::on_event), children; [`start`](Builder::start) →
//!   [`SupervisorHandle`]; [`start_dynamic`](Builder::start_dynamic) → [`DynamicHandle`]
//!   (OTP's `simple_one_for_one`); [`into_child`](Builder::into_child) makes a supervisor
//!   the child of another (a supervision tree).
//! * [`ChildSpec`]: a name, a body `Fn(&ChildContext) -> Result<(), E>`, a [`Restart`]
//!   type (`Permanent`, `Transient`, `Temporary`), a [`Shutdown`] (`Timeout(d)`,
//!   `Infinity`, `BrutalKill`), a [start timeout](ChildSpec::start_timeout), an optional
//!   heartbeat and [`RestartBackoff`].
//! * Each run's [`ChildContext`]: [`ready`](ChildContext::ready),
//!   [`cancel_token`](ChildContext::cancel_token), [`is_stopping`](ChildContext::is_stopping),
//!   [`restart_count`](ChildContext::restart_count), [`heartbeat`](ChildContext::heartbeat).
//! * [`Event`]s, [`ExitReason`]s, [`ChildInfo`]; errors [`BuildError`], [`StartError`],
//!   [`ChildError`], [`SupervisorError`] (with [`exit_code`](SupervisorError::exit_code)
//!   for the hand-off to systemd or Kubernetes).
//!
//! # Guarantees
//!
//! * **Ordered, synchronous starts.** Children start one at a time in order, each
//!   waited for until it calls `ready` (or returns `Ok`), for at most its
//!   [`start_timeout`](ChildSpec::start_timeout) (default [`DEFAULT_START_TIMEOUT`],
//!   5 s). A child that fails its start (`Err` or a panic before `ready`) stops those
//!   already started, in reverse, and `start` returns [`StartError::ChildStart`]; one
//!   whose timeout passes has its token fired, is joined or abandoned under its
//!   [`Shutdown`], and fails the start the same way, with [`StartError::StartTimeout`].
//! * **Ordered shutdown.** Children are stopped one at a time in reverse start order:
//!   token fired, then a wait under the child's [`Shutdown`]; a child that outlives its
//!   timeout is *abandoned* (see [`Shutdown`]): reported as
//!   [`ExitReason::Killed`] and in [`ShutdownReport::abandoned`], never restarted.
//! * **Restart types and strategies as in OTP.** A group restart (`OneForAll`,
//!   `RestForOne`) stops the affected children in reverse start order and starts them
//!   again in start order, and counts as one restart. Temporary children are never
//!   restarted and are forgotten when they exit, also when a sibling brings them down.
//! * **Intensity.** More than `max_restarts` restarts within `period` (a restart exactly
//!   `period` after another still counts both) and the supervisor does not perform that
//!   restart: it stops every child in reverse order and ends with
//!   [`SupervisorError::IntensityExceeded`] — a child failure to its parent.
//! * **Failed restarts are retried later**, after the next backoff delay, never in a
//!   loop that blocks the supervisor; each failed start counts toward intensity, and the
//!   child reads [`ChildState::Restarting`] meanwhile.
//! * **Exits racing a shutdown are never restarted**; `restart_child` does not count
//!   toward intensity; `terminate_child` of a stopped child succeeds.
//! * **Panics** in a child are caught and are abnormal exits carrying the panic's text.
//! * **Threads.** Every child thread is joined when its run ends, except abandoned ones
//!   (joined later if they return while the supervisor lives); the supervisor's thread is
//!   joined by [`SupervisorHandle::shutdown`], [`join`](SupervisorHandle::join) or drop
//!   (a handle dropped by its own child or event listener leaves it detached, to end on
//!   its own).
//! * **Calls from inside the supervisor** — its event listener, its children — return
//!   [`ChildError::WouldDeadlock`] / [`SupervisorError::WouldDeadlock`] where they could
//!   never be answered, instead of deadlocking (see
//!   [`SupervisorHandle`](SupervisorHandle#calls-from-inside-the-supervisor)). **Cycles
//!   through two supervisors are not detected**: A's child calling B's handle while B's
//!   child calls A's (or a grandchild calling an ancestor that is stopping it) can
//!   deadlock, or end only when a shutdown or start timeout abandons a thread — make
//!   such calls from a thread outside both, or one way only (see
//!   [`SupervisorHandle`](SupervisorHandle#calls-across-supervisors-cycles-are-not-detected)).
//! * **Time** is read only through the [`Clock`](patterns_core::Clock), so backoff,
//!   intensity, heartbeats, start and shutdown timeouts are testable on a
//!   [`ManualClock`](patterns_core::ManualClock).

mod builder;
mod context;
mod error;
mod event;
mod handle;
mod mailbox;
mod reentry;
mod runtime;
mod spec;

pub use crate::builder::{Builder, Supervisor, DEFAULT_MAX_RESTARTS, DEFAULT_PERIOD};
pub use crate::context::ChildContext;
pub use crate::error::{BuildError, ChildError, StartError, SupervisorError};
pub use crate::event::{ChildInfo, ChildState, Event, ExitReason, ShutdownReport};
pub use crate::handle::{DynamicHandle, SupervisorHandle};
pub use crate::spec::{
    BoxError, ChildSpec, ChildTemplate, Restart, RestartBackoff, Shutdown, Strategy,
    DEFAULT_START_TIMEOUT,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

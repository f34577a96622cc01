//! Building and starting a supervisor.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use patterns_core::sync::{thread, Arc, UnmodeledArc};
use patterns_core::{CancelToken, Clock, SystemClock};

use crate::context::ChildContext;
use crate::error::{BuildError, StartError};
use crate::event::Event;
use crate::handle::{DynamicHandle, SupervisorHandle};
use crate::mailbox::{oneshot, Mailbox};
use crate::runtime::{self, Config, EventFn};
use crate::spec::{BoxError, ChildSpec, ChildTemplate, RestartBackoff, Shutdown, Strategy};

/// The default restart intensity: at most 3 restarts…
pub const DEFAULT_MAX_RESTARTS: u32 = 3;
/// …within 5 seconds (Elixir's default; OTP's is 1 in 5 s).
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5);

/// The entry point: [`Supervisor::builder`].
#[derive(Debug)]
pub struct Supervisor(());

impl Supervisor {
    /// A builder for a supervisor named `name` (its thread is `supervisor-<name>`),
    /// [`OneForOne`](Strategy::OneForOne), at most [`DEFAULT_MAX_RESTARTS`] restarts in
    /// [`DEFAULT_PERIOD`], no backoff, on the system clock.
    #[must_use]
    pub fn builder(name: impl Into<String>) -> Builder {
        Builder {
            name: name.into(),
            strategy: Strategy::OneForOne,
            max_restarts: DEFAULT_MAX_RESTARTS,
            period: DEFAULT_PERIOD,
            backoff: RestartBackoff::none(),
            clock: UnmodeledArc::new(SystemClock),
            on_event: None,
            token: None,
            children: Vec::new(),
        }
    }
}

/// Settings and children of a supervisor; [`start`](Builder::start) runs it. Clones are
/// independent builders (a parent restarting a child supervisor builds it again from
/// one).
#[derive(Clone)]
pub struct Builder {
    name: String,
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    backoff: RestartBackoff,
    clock: UnmodeledArc<dyn Clock>,
    on_event: Option<EventFn>,
    token: Option<CancelToken>,
    children: Vec<ChildSpec>,
}

impl Builder {
    /// What a failure does to siblings (default [`OneForOne`](Strategy::OneForOne)).
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Restart intensity: more than `max_restarts` restarts within any `period` (edge
    /// included) and the supervisor gives up — it stops every child in reverse start
    /// order and ends with [`SupervisorError::IntensityExceeded`](crate::SupervisorError::IntensityExceeded).
    /// `max_restarts = 0` gives up at the first failure that would restart. A zero
    /// `period` is a [`BuildError::ZeroPeriod`].
    #[must_use]
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// The restart backoff of children without their own (default: none).
    #[must_use]
    pub fn backoff(mut self, backoff: RestartBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The clock that backoff, intensity, heartbeats, start and shutdown timeouts read (default
    /// [`SystemClock`]); a [`ManualClock`](patterns_core::ManualClock) tests them without
    /// sleeping.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = UnmodeledArc::new(clock);
        self
    }

    /// Called on the supervisor's thread for every [`Event`], in order. Keep it short: the
    /// supervisor does nothing else meanwhile. A panic in it is caught and ignored.
    #[must_use]
    pub fn on_event(mut self, on_event: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(UnmodeledArc::new(on_event));
        self
    }

    /// A token whose firing shuts the supervisor down, as [`SupervisorHandle::shutdown`]
    /// would (how a parent stops a child supervisor).
    #[must_use]
    pub fn cancel_token(mut self, token: &CancelToken) -> Self {
        self.token = Some(token.clone());
        self
    }

    /// Adds a child; children start in the order they are added.
    #[must_use]
    pub fn child(mut self, spec: ChildSpec) -> Self {
        self.children.push(spec);
        self
    }

    /// Adds children, in order.
    #[must_use]
    pub fn children(mut self, specs: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(specs);
        self
    }

    /// This supervisor as a child of another (a supervision tree): the child's run starts
    /// the supervisor, is ready once all its children are, and ends when it does — with
    /// `Ok` when its parent stops it (its token fires, and the supervisor shuts down in
    /// order), with the [`SupervisorError`](crate::SupervisorError) as an abnormal exit
    /// when it gives up, which the parent handles as any child failure (escalation). A
    /// failed start is a failed start of the child. [`Permanent`](crate::Restart::Permanent),
    /// [`Shutdown::Infinity`], and no [start timeout](ChildSpec::start_timeout)
    /// (`Duration::MAX`: its start lasts as long as its children's starts, each bounded by
    /// its own timeout); change any of them on the returned spec.
    #[must_use]
    pub fn into_child(self, name: impl Into<String>) -> ChildSpec {
        ChildSpec::new(name, move |ctx: &ChildContext| -> Result<(), BoxError> {
            let handle = self.clone().cancel_token(ctx.cancel_token()).start()?;
            ctx.ready();
            handle.join().map(drop).map_err(Into::into)
        })
        .shutdown(Shutdown::Infinity)
        .start_timeout(Duration::MAX)
    }

    fn validate(&self) -> Result<(), BuildError> {
        if self.period.is_zero() {
            return Err(BuildError::ZeroPeriod);
        }
        self.backoff.validate()?;
        let mut names = HashSet::new();
        for spec in &self.children {
            spec.validate()?;
            if !names.insert(spec.name.as_str()) {
                return Err(BuildError::DuplicateChild(spec.name.clone()));
            }
        }
        Ok(())
    }

    /// Starts the supervisor's thread, which starts the children one at a time in order,
    /// each waited for until it is [`ready`](ChildContext::ready); returns once all are.
    ///
    /// # Errors
    ///
    /// [`StartError::Build`] for bad settings (nothing started);
    /// [`StartError::ChildStart`] if a child failed its start, or
    /// [`StartError::StartTimeout`] if one did not signal ready within its
    /// [start timeout](ChildSpec::start_timeout) — either way the children started before
    /// it were stopped in reverse order and the supervisor's thread has ended;
    /// [`StartError::Spawn`] if no thread could be made.
    pub fn start(self) -> Result<SupervisorHandle, StartError> {
        self.validate()?;
        self.launch(false)
    }

    /// Starts a dynamic supervisor (OTP's `simple_one_for_one`): no children at first;
    /// [`DynamicHandle::start_child`] adds them at run time, each running `template`
    /// with its own argument. Failures are handled one for one; a child that stops for
    /// good (terminated, or exited and not restarted) is forgotten.
    ///
    /// # Errors
    ///
    /// As [`start`](Builder::start); also [`BuildError::StaticChildrenInDynamic`] if
    /// the builder has children.
    pub fn start_dynamic<A: Send + Sync + 'static>(
        self,
        template: ChildTemplate<A>,
    ) -> Result<DynamicHandle<A>, StartError> {
        if !self.children.is_empty() {
            return Err(BuildError::StaticChildrenInDynamic.into());
        }
        self.validate()?;
        template.validate()?;
        let handle = self.launch(true)?;
        Ok(DynamicHandle::new(handle, template))
    }

    fn launch(self, dynamic: bool) -> Result<SupervisorHandle, StartError> {
        let cfg = Config {
            name: self.name.clone(),
            strategy: self.strategy,
            max_restarts: self.max_restarts,
            period: self.period,
            backoff: self.backoff,
            clock: self.clock,
            on_event: self.on_event,
            dynamic,
        };
        let mailbox = Arc::new(Mailbox::default());
        let (reply, pending) = oneshot();
        let children = self.children;
        let token = self.token;
        let thread = {
            let mailbox = Arc::clone(&mailbox);
            thread::Builder::new()
                .name(format!("supervisor-{}", self.name))
                .spawn(move || runtime::run(cfg, children, mailbox, token, reply))
                .map_err(|e| StartError::Spawn(e.to_string()))?
        };
        match pending.wait() {
            Some(Ok(())) => Ok(SupervisorHandle::new(self.name, mailbox, thread)),
            Some(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            None => {
                let _ = thread.join();
                Err(StartError::Spawn(
                    "the supervisor thread panicked while starting".into(),
                ))
            }
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("strategy", &self.strategy)
            .field("max_restarts", &self.max_restarts)
            .field("period", &self.period)
            .field("backoff", &self.backoff)
            .field("clock", &self.clock)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

//! What to supervise and how: strategies, restart types, shutdown specs, backoff, child
//! specs.

use std::fmt;
use std::time::Duration;

use patterns_core::sync::UnmodeledArc;

use crate::context::ChildContext;
use crate::error::BuildError;

/// A child's error, boxed: any `E: Into<BoxError>` works (`String`, `&str`, `io::Error`,
/// your own error types).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub(crate) type ChildFn = UnmodeledArc<dyn Fn(&ChildContext) -> Result<(), BoxError> + Send + Sync>;

/// What a failure does to the failed child's siblings (OTP's strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the failed child is restarted.
    #[default]
    OneForOne,
    /// Every other child is stopped (in reverse start order), then all are started again
    /// in start order.
    OneForAll,
    /// The children started after the failed one are stopped (in reverse start order),
    /// then the failed child and they are started again in start order.
    RestForOne,
}

/// When a child is restarted (OTP's restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always, whatever the exit.
    #[default]
    Permanent,
    /// Only after an abnormal exit ([`ExitReason::is_abnormal`](crate::ExitReason::is_abnormal)):
    /// an error, a panic, a missed heartbeat, a kill.
    Transient,
    /// Never; its spec is forgotten when it exits, also when a sibling's failure brings
    /// it down.
    Temporary,
}

/// How a child is stopped. A thread cannot be killed in Rust, so every form starts by
/// firing the child's [`cancel_token`](ChildContext::cancel_token); they differ in how
/// long the supervisor then waits for the thread to return.
///
/// **Abandoning** a thread means: the supervisor stops waiting, records the exit as
/// [`ExitReason::Killed`](crate::ExitReason::Killed), reports it ([`Event::ChildExited`](crate::Event::ChildExited),
/// [`ShutdownReport::abandoned`](crate::ShutdownReport::abandoned)) and never restarts
/// or counts that run again. The thread itself keeps running, detached, with its token
/// fired, holding whatever it holds, until it returns on its own (then the supervisor,
/// if still alive, joins it) or the process exits. A replacement (after a heartbeat
/// miss) may therefore run beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Fire the token, wait up to this long for the thread to return, then abandon it.
    Timeout(Duration),
    /// Fire the token and wait for as long as it takes (OTP's `infinity`, the usual
    /// choice for a child that is itself a supervisor).
    Infinity,
    /// Fire the token and do not wait: unless the thread had already returned, it is
    /// abandoned at once (OTP's `brutal_kill`, as close as threads get).
    BrutalKill,
}

impl Default for Shutdown {
    /// `Timeout(5 s)`, OTP's default for workers.
    fn default() -> Self {
        Shutdown::Timeout(Duration::from_secs(5))
    }
}

/// How long a child's start may take, by default, before it is treated as a failed
/// start: 5 seconds (see [`ChildSpec::start_timeout`]).
///
/// OTP puts no limit on a child's `start_link` beyond the child's own init timeout, which
/// a `gen_server` leaves infinite. Here a start is a closure that must call
/// [`ready`](ChildContext::ready), and one that forgets to (or blocks before it) would
/// otherwise hold the supervisor's start — and every handle call queued behind it —
/// forever, without a word. Five seconds is generous for a worker (connect, bind, load a
/// file) and matches the default [`Shutdown::Timeout`], so a worker gets as long to start
/// as to stop; a child that needs longer says so, and a supervisor made a child with
/// [`Builder::into_child`](crate::Builder::into_child) waits without limit (its start is
/// bounded by its own children's start timeouts), as OTP's `infinity` shutdown is the
/// default for supervisors.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(5);

/// Delays between restarts (Akka's backoff supervisor): the `n`th consecutive restart
/// waits `min × multiplierⁿ⁻¹`, plus up to `jitter` of that at random, capped at `max`;
/// a child that ran for `reset_after` before it failed starts again from `min`.
///
/// The default is no delay at all ([`RestartBackoff::none`]), as in OTP.
///
/// ```
/// use std::time::Duration;
/// use supervisor::RestartBackoff;
///
/// let b = RestartBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// assert_eq!(b.delay(1, 0.0), Duration::from_millis(100));
/// assert_eq!(b.delay(3, 0.0), Duration::from_millis(400));
/// assert_eq!(b.delay(10, 0.0), Duration::from_secs(1)); // capped
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartBackoff {
    min: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
    reset_after: Duration,
}

impl RestartBackoff {
    /// Exponential backoff from `min` to `max`, doubling, without jitter, reset after
    /// 30 s of stable running.
    #[must_use]
    pub fn new(min: Duration, max: Duration) -> Self {
        RestartBackoff {
            min,
            max,
            multiplier: 2.0,
            jitter: 0.0,
            reset_after: Duration::from_secs(30),
        }
    }

    /// No delay: restarts happen at once.
    #[must_use]
    pub fn none() -> Self {
        RestartBackoff::new(Duration::ZERO, Duration::ZERO)
    }

    /// The growth factor per consecutive restart (at least 1; default 2).
    #[must_use]
    pub fn multiplier(mut self, factor: f64) -> Self {
        self.multiplier = factor;
        self
    }

    /// The random part, as a fraction of the delay in `0.0..=1.0` (default 0): a delay
    /// `d` becomes a uniform pick in `d..=d × (1 + jitter)`, still capped at `max`.
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// How long a child must run before a failure counts as a first failure again
    /// (default 30 s).
    #[must_use]
    pub fn reset_after(mut self, stable: Duration) -> Self {
        self.reset_after = stable;
        self
    }

    /// The stable period after which the sequence restarts from `min`.
    #[must_use]
    pub fn stable_period(&self) -> Duration {
        self.reset_after
    }

    /// The delay before the `attempt`th consecutive restart (1-based; 0 means none),
    /// with `unit` in `0.0..1.0` as the random draw for the jitter.
    #[must_use]
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        if attempt == 0 || self.max.is_zero() {
            return Duration::ZERO;
        }
        let exponent = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
        let base = self.min.as_secs_f64() * self.multiplier.powi(exponent);
        let jittered = base * (1.0 + self.jitter * unit.clamp(0.0, 1.0));
        let capped = jittered.min(self.max.as_secs_f64());
        if capped >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(capped)
        }
    }

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        if self.min > self.max {
            return Err(BuildError::Backoff("min exceeds max"));
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(BuildError::Backoff(
                "multiplier must be finite and at least 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(BuildError::Backoff("jitter must be within 0.0..=1.0"));
        }
        Ok(())
    }
}

impl Default for RestartBackoff {
    fn default() -> Self {
        RestartBackoff::none()
    }
}

/// One child: a name, a body, and how to restart and stop it.
///
/// The body is a closure `Fn(&ChildContext) -> Result<(), E>` run on a thread of its own,
/// named after the child; it is called again for every restart. It calls
/// [`ctx.ready()`](ChildContext::ready) once it has started (the supervisor waits for
/// that, up to the [start timeout](ChildSpec::start_timeout), before it starts the next
/// child), watches
/// [`ctx.cancel_token()`](ChildContext::cancel_token) to know when to stop, and returns.
///
/// ```
/// use std::time::Duration;
/// use supervisor::{ChildSpec, Restart, Shutdown};
///
/// let spec = ChildSpec::new("flusher", |ctx| {
///     ctx.ready();
///     ctx.cancel_token().wait();
///     Ok::<(), std::io::Error>(())
/// })
/// .restart(Restart::Transient)
/// .shutdown(Shutdown::Timeout(Duration::from_secs(1)));
/// assert_eq!(spec.name(), "flusher");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) name: String,
    pub(crate) body: ChildFn,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) start_timeout: Duration,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) backoff: Option<RestartBackoff>,
}

impl ChildSpec {
    /// A [`Permanent`](Restart::Permanent) child with the default
    /// [`Shutdown`] (5 s), the default [start timeout](ChildSpec::start_timeout)
    /// ([`DEFAULT_START_TIMEOUT`], 5 s), no heartbeat, and the supervisor's backoff.
    pub fn new<F, E>(name: impl Into<String>, body: F) -> Self
    where
        F: Fn(&ChildContext) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        ChildSpec {
            name: name.into(),
            body: UnmodeledArc::new(move |ctx: &ChildContext| body(ctx).map_err(Into::into)),
            restart: Restart::default(),
            shutdown: Shutdown::default(),
            start_timeout: DEFAULT_START_TIMEOUT,
            heartbeat: None,
            backoff: None,
        }
    }

    /// Its restart type.
    #[must_use]
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How it is stopped.
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// How long each start may take (default [`DEFAULT_START_TIMEOUT`], 5 s, whose
    /// documentation says why): from the spawn of the child's thread until it calls
    /// [`ctx.ready()`](ChildContext::ready), fails, or returns, on the supervisor's
    /// [clock](crate::Builder::clock).
    ///
    /// When it expires the start has failed: the child's token fires, the supervisor
    /// waits for the thread under the child's [`Shutdown`] (joined if it returns in time,
    /// else *abandoned*, as after a shutdown timeout), and the failure is handled as any
    /// failed start — [`StartError::StartTimeout`](crate::StartError::StartTimeout) from
    /// [`Builder::start`](crate::Builder::start) (the children already started are stopped,
    /// in reverse order), [`ChildError::StartTimeout`](crate::ChildError::StartTimeout)
    /// from `start_child` and `restart_child`, a retried restart (counted toward
    /// intensity) after a failure. The reason recorded is
    /// [`ExitReason::StartTimeout`](crate::ExitReason::StartTimeout). A `ready` that
    /// reaches the supervisor before it sees the deadline pass wins: the child started.
    /// A shutdown during the start fires the token at once and waits under the
    /// [`Shutdown`] from then, not for the rest of this timeout: the start then fails with
    /// [`ExitReason::Shutdown`](crate::ExitReason::Shutdown) (or
    /// [`Killed`](crate::ExitReason::Killed) if the thread was abandoned).
    ///
    /// `Duration::MAX` (any timeout the clock cannot add) waits without limit, as OTP
    /// does. A zero timeout is a [`BuildError::ZeroStartTimeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use supervisor::{ChildSpec, StartError, Supervisor};
    ///
    /// let err = Supervisor::builder("app")
    ///     .child(
    ///         ChildSpec::new("forgetful", |ctx| {
    ///             // Never calls `ctx.ready()`; returns once told to stop.
    ///             ctx.cancel_token().wait();
    ///             Ok::<(), String>(())
    ///         })
    ///         .start_timeout(Duration::from_millis(50)),
    ///     )
    ///     .start()
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     StartError::StartTimeout {
    ///         child: "forgetful".into(),
    ///         timeout: Duration::from_millis(50),
    ///         abandoned: false,
    ///     }
    /// );
    /// assert_eq!(err.to_string(), "child \"forgetful\" did not signal ready within 50ms");
    /// ```
    #[must_use]
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Requires a [`ctx.heartbeat()`](ChildContext::heartbeat) in every `interval`
    /// after `ready`: a child that lets a whole interval pass without one is treated as
    /// hung — its token fires, it is stopped under its shutdown spec, and restarted as
    /// after an abnormal exit ([`ExitReason::Hung`](crate::ExitReason::Hung)). A miss is
    /// noticed at most two intervals after the last beat. A zero interval is a
    /// [`BuildError::ZeroHeartbeat`].
    #[must_use]
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// Its own restart backoff, instead of the supervisor's.
    #[must_use]
    pub fn backoff(mut self, backoff: RestartBackoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        if self.name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        if self.heartbeat == Some(Duration::ZERO) {
            return Err(BuildError::ZeroHeartbeat(self.name.clone()));
        }
        if self.start_timeout.is_zero() {
            return Err(BuildError::ZeroStartTimeout(self.name.clone()));
        }
        if let Some(backoff) = &self.backoff {
            backoff.validate()?;
        }
        Ok(())
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("start_timeout", &self.start_timeout)
            .field("heartbeat", &self.heartbeat)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

type TemplateFn<A> = UnmodeledArc<dyn Fn(&ChildContext, &A) -> Result<(), BoxError> + Send + Sync>;

/// The one spec of a dynamic supervisor (OTP's `simple_one_for_one`): every child runs
/// the same body with its own argument, given to
/// [`DynamicHandle::start_child`](crate::DynamicHandle::start_child).
pub struct ChildTemplate<A> {
    prefix: String,
    body: TemplateFn<A>,
    restart: Restart,
    shutdown: Shutdown,
    start_timeout: Duration,
    heartbeat: Option<Duration>,
    backoff: Option<RestartBackoff>,
}

impl<A: Send + Sync + 'static> ChildTemplate<A> {
    /// Children named `<prefix>-1`, `<prefix>-2`, … in the order they are started;
    /// [`Permanent`](Restart::Permanent), default shutdown and start timeout.
    pub fn new<F, E>(prefix: impl Into<String>, body: F) -> Self
    where
        F: Fn(&ChildContext, &A) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        ChildTemplate {
            prefix: prefix.into(),
            body: UnmodeledArc::new(move |ctx: &ChildContext, arg: &A| {
                body(ctx, arg).map_err(Into::into)
            }),
            restart: Restart::default(),
            shutdown: Shutdown::default(),
            start_timeout: DEFAULT_START_TIMEOUT,
            heartbeat: None,
            backoff: None,
        }
    }

    /// The children's restart type.
    #[must_use]
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How each child is stopped.
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// How long each child's start may take (see [`ChildSpec::start_timeout`]; default
    /// [`DEFAULT_START_TIMEOUT`]).
    #[must_use]
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// A heartbeat interval for every child (see [`ChildSpec::heartbeat`]).
    #[must_use]
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// The children's restart backoff.
    #[must_use]
    pub fn backoff(mut self, backoff: RestartBackoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        if self.prefix.is_empty() {
            return Err(BuildError::EmptyName);
        }
        if self.heartbeat == Some(Duration::ZERO) {
            return Err(BuildError::ZeroHeartbeat(self.prefix.clone()));
        }
        if self.start_timeout.is_zero() {
            return Err(BuildError::ZeroStartTimeout(self.prefix.clone()));
        }
        if let Some(backoff) = &self.backoff {
            backoff.validate()?;
        }
        Ok(())
    }

    pub(crate) fn instantiate(&self, name: String, arg: A) -> ChildSpec {
        let body = UnmodeledArc::clone(&self.body);
        ChildSpec {
            name,
            body: UnmodeledArc::new(move |ctx: &ChildContext| body(ctx, &arg)),
            restart: self.restart,
            shutdown: self.shutdown,
            start_timeout: self.start_timeout,
            heartbeat: self.heartbeat,
            backoff: self.backoff,
        }
    }
}

impl<A> Clone for ChildTemplate<A> {
    fn clone(&self) -> Self {
        ChildTemplate {
            prefix: self.prefix.clone(),
            body: UnmodeledArc::clone(&self.body),
            restart: self.restart,
            shutdown: self.shutdown,
            start_timeout: self.start_timeout,
            heartbeat: self.heartbeat,
            backoff: self.backoff,
        }
    }
}

impl<A> fmt::Debug for ChildTemplate<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildTemplate")
            .field("prefix", &self.prefix)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("start_timeout", &self.start_timeout)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

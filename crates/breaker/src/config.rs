//! The builder, and the settings it checks.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use patterns_core::Clock;

use crate::breaker::CircuitBreaker;
use crate::error::ConfigError;
use crate::event::Event;
use crate::sync::UnmodeledArc;
use crate::timeline::Timeline;

/// The largest count window.
pub(crate) const MAX_COUNT_WINDOW: usize = 1 << 20;

/// Buckets of a time window (fewer when the window is shorter than this many
/// nanoseconds).
pub(crate) const TIME_BUCKETS: u64 = 10;

/// The most stripes a breaker's window is split into.
pub(crate) const MAX_STRIPES: usize = 64;

/// The sliding window over which the failure and slow-call rates are computed while the
/// breaker is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `n` results.
    ///
    /// From one thread, exactly the last `n`. Results are kept per stripe (see
    /// [`Builder::stripes`]), each stripe holding the last `n` results recorded by the
    /// threads that use it, and the rates are computed over the union: with several
    /// threads the window holds between `n` and `stripes × n` of the most recent results.
    Count(usize),
    /// The results of the last `d`, in ten buckets of `d / 10`: a result counts for at
    /// least `d − d / 10` and at most `d` after it was recorded (it leaves when its
    /// bucket does).
    ///
    /// Buckets are whole nanoseconds, `d / 10` rounded down, so the window is `d`
    /// rounded down to a multiple of ten nanoseconds (up to 9 ns shorter); a window
    /// under 10 ns has one bucket per nanosecond.
    Time(Duration),
}

/// How long an open breaker waits before it lets trial calls through: exponential, from
/// `initial` up to `max`, with optional jitter.
///
/// The wait of the `k`-th opening since the breaker was last closed (`k = 0` for the
/// opening that left closed, `1` for the first re-opening from half-open, …) is
/// `min(initial × multiplier^k, max)`, shortened by up to `jitter` of itself at random
/// (jitter never lengthens it, so `max` is a true cap). Only closing the breaker
/// (automatically from half-open, by [`transition_to_closed`](CircuitBreaker::transition_to_closed))
/// or [`reset`](CircuitBreaker::reset) starts again from `initial`: a breaker taken
/// through disabled, metrics-only or forced open and then opened continues the exponent
/// where it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
}

impl ExponentialBackoff {
    /// Waits of `initial`, then twice as long on each re-opening, up to `max`, with no
    /// jitter.
    #[must_use]
    pub fn new(initial: Duration, max: Duration) -> Self {
        ExponentialBackoff {
            initial,
            max,
            multiplier: 2.0,
            jitter: 0.0,
        }
    }

    /// The factor each re-opening multiplies the wait by: finite and at least 1.
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// The fraction (in `[0, 1]`) by which each wait may be shortened at random, so that
    /// many breakers opened together do not probe together.
    #[must_use]
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |setting, expected| Err(ConfigError::Backoff { setting, expected });
        if self.initial.is_zero() {
            return fail("initial", "nonzero");
        }
        if self.max < self.initial {
            return fail("max", "at least the initial wait");
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return fail("multiplier", "finite and at least 1");
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return fail("jitter", "between 0 and 1");
        }
        Ok(())
    }
}

/// The open wait, as built.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OpenWait {
    Fixed(u64),
    Exponential {
        initial: f64,
        max: f64,
        multiplier: f64,
        jitter: f64,
    },
}

impl OpenWait {
    /// The wait, in nanoseconds, of an opening after `openings` others since closed.
    pub(crate) fn nanos(&self, openings: u32) -> u64 {
        match *self {
            OpenWait::Fixed(nanos) => nanos,
            OpenWait::Exponential {
                initial,
                max,
                multiplier,
                jitter,
            } => {
                let exponent = i32::try_from(openings.min(4096)).unwrap_or(4096);
                let mut wait = (initial * multiplier.powi(exponent)).min(max);
                if jitter > 0.0 {
                    wait *= 1.0 - jitter * fastrand::f64();
                }
                // `as` saturates; at least 1 ns, so that an open episode is never empty.
                (wait as u64).max(1)
            }
        }
    }
}

/// The window, as built.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WindowKind {
    Count(usize),
    Time { bucket_nanos: u64, buckets: u64 },
}

/// Decides whether an error of some type counts as a failure: `None` when the error is
/// not of its type.
type Classifier = Box<dyn Fn(&dyn Any) -> Option<bool> + Send + Sync>;
/// A listener's panic, caught.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Propagates a listener's `panic`, once the breaker's state is consistent: resumed,
/// unless the thread is already unwinding (a permit dropped by a panic), where a second
/// panic would abort; then it is dropped.
#[inline]
pub(crate) fn resume(panic: Option<Panic>) {
    if let Some(panic) = panic {
        if !crate::sync::thread::panicking() {
            resume_unwind(panic);
        }
    }
}

/// Keeps the first of two listener panics.
#[inline]
pub(crate) fn keep(first: &mut Option<Panic>, second: Option<Panic>) {
    if first.is_none() {
        *first = second;
    }
}

/// An event listener.
pub(crate) type Listener = UnmodeledArc<dyn Fn(&Event) + Send + Sync>;

/// A breaker's settings, checked.
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) failure_rate: f64,
    pub(crate) slow_rate: f64,
    /// `u64::MAX` when slow-call detection is off.
    pub(crate) slow_nanos: u64,
    /// Whether calls are timed: slow-call detection is on, or listeners want durations.
    pub(crate) timed: bool,
    /// Whether a result needs the time: timed, or a time window.
    pub(crate) stamped: bool,
    pub(crate) window: WindowKind,
    pub(crate) minimum_calls: u64,
    pub(crate) open_wait: OpenWait,
    pub(crate) half_open_calls: u32,
    pub(crate) max_half_open: Option<u64>,
    pub(crate) classifiers: Vec<Classifier>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) stripes: usize,
}

impl Config {
    /// Whether `error` counts as a failure: the first classifier for its type decides;
    /// with none, every error does.
    pub(crate) fn is_failure(&self, error: &dyn Any) -> bool {
        self.classifiers
            .iter()
            .find_map(|classify| classify(error))
            .unwrap_or(true)
    }

    /// Whether `failures` (or slow calls) out of `calls` reach `threshold` percent.
    #[inline]
    pub(crate) fn reaches(count: u64, calls: u64, threshold: f64) -> bool {
        count as f64 * 100.0 >= threshold * calls as f64
    }

    /// Delivers `event` to every listener. A listener's panic is caught, the other
    /// listeners still get the event, and the first panic is returned: the caller makes
    /// the breaker's state consistent first, then resumes it ([`resume`]).
    #[inline]
    pub(crate) fn emit(&self, event: Event) -> Option<Panic> {
        let mut panic = None;
        for listener in &self.listeners {
            if let Err(caught) = catch_unwind(AssertUnwindSafe(|| listener(&event))) {
                panic.get_or_insert(caught);
            }
        }
        panic
    }

    #[inline]
    pub(crate) fn has_listeners(&self) -> bool {
        !self.listeners.is_empty()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("failure_rate", &self.failure_rate)
            .field("slow_rate", &self.slow_rate)
            .field(
                "slow_call_duration",
                &(self.slow_nanos != u64::MAX).then(|| Duration::from_nanos(self.slow_nanos)),
            )
            .field("window", &self.window)
            .field("minimum_calls", &self.minimum_calls)
            .field("open_wait", &self.open_wait)
            .field("half_open_calls", &self.half_open_calls)
            .field("stripes", &self.stripes)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`CircuitBreaker`], from [`CircuitBreaker::builder`].
///
/// The defaults are resilience4j's, but for slow-call detection, which is off until
/// [`slow_call_duration`](Builder::slow_call_duration) or
/// [`slow_call_rate_threshold`](Builder::slow_call_rate_threshold) turns it on: trip at
/// 50% failures over a count window of the last 100 calls once 100 are in; wait 60 s in
/// open; 10 trial calls in half-open, with no limit on how long half-open lasts; every
/// error is a failure; the system clock.
pub struct Builder {
    name: String,
    failure_rate: f64,
    slow_rate: Option<f64>,
    slow_duration: Option<Duration>,
    window: Window,
    minimum_calls: usize,
    open_wait: Result<Duration, ExponentialBackoff>,
    half_open_calls: u32,
    max_half_open: Option<Duration>,
    classifiers: Vec<Classifier>,
    listeners: Vec<Listener>,
    timeline: Option<Timeline>,
    stripes: Option<usize>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("failure_rate", &self.failure_rate)
            .field("slow_rate", &self.slow_rate)
            .field("slow_duration", &self.slow_duration)
            .field("window", &self.window)
            .field("minimum_calls", &self.minimum_calls)
            .field("open_wait", &self.open_wait)
            .field("half_open_calls", &self.half_open_calls)
            .field("max_half_open", &self.max_half_open)
            .field("classifiers", &self.classifiers.len())
            .field("listeners", &self.listeners.len())
            .field("stripes", &self.stripes)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            name: String::from("breaker"),
            failure_rate: 50.0,
            slow_rate: None,
            slow_duration: None,
            window: Window::Count(100),
            minimum_calls: 100,
            open_wait: Ok(Duration::from_secs(60)),
            half_open_calls: 10,
            max_half_open: None,
            classifiers: Vec::new(),
            listeners: Vec::new(),
            timeline: None,
            stripes: None,
        }
    }
}

impl Builder {
    /// The breaker's name, for logs and `Debug` (default `"breaker"`).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Open when failures make up at least `percent` of the window (in `(0, 100]`;
    /// default 50).
    #[must_use]
    pub fn failure_rate_threshold(mut self, percent: f64) -> Self {
        self.failure_rate = percent;
        self
    }

    /// Open when slow calls make up at least `percent` of the window (in `(0, 100]`;
    /// default 100). Turns slow-call detection on (with a slow-call duration of 60 s
    /// unless [`slow_call_duration`](Builder::slow_call_duration) says otherwise).
    #[must_use]
    pub fn slow_call_rate_threshold(mut self, percent: f64) -> Self {
        self.slow_rate = Some(percent);
        self
    }

    /// A call is slow when it takes strictly longer than `duration` from admission to its
    /// result (nonzero; a duration beyond `u64::MAX - 1` nanoseconds, some 584 years,
    /// counts as that). Turns slow-call detection on (with a slow-call rate threshold of
    /// 100% unless [`slow_call_rate_threshold`](Builder::slow_call_rate_threshold) says
    /// otherwise).
    ///
    /// Slow-call detection is off by default, where resilience4j has it on at 100% over
    /// 60 s (which seldom fires): timing a call costs two readings of the clock, about
    /// 20 ns here, more than the rest of the call's bookkeeping. With detection off and
    /// no listener, calls are not timed, and a count window reads no clock at all.
    #[must_use]
    pub fn slow_call_duration(mut self, duration: Duration) -> Self {
        self.slow_duration = Some(duration);
        self
    }

    /// The window the rates are computed over while closed (default `Count(100)`).
    #[must_use]
    pub fn sliding_window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// Results needed in the window before the rates are judged (nonzero; default 100;
    /// clipped to the size of a count window).
    #[must_use]
    pub fn minimum_calls(mut self, calls: usize) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// A fixed wait in open before trial calls are let through (nonzero; default 60 s).
    /// Replaces a [`backoff`](Builder::backoff).
    #[must_use]
    pub fn wait_in_open(mut self, wait: Duration) -> Self {
        self.open_wait = Ok(wait);
        self
    }

    /// A wait in open that grows with each re-opening, and starts over once the breaker
    /// closes or is reset (see [`ExponentialBackoff`]). Replaces a [`wait_in_open`](Builder::wait_in_open).
    #[must_use]
    pub fn backoff(mut self, backoff: ExponentialBackoff) -> Self {
        self.open_wait = Err(backoff);
        self
    }

    /// Trial calls let through in each half-open episode (nonzero; default 10). The
    /// episode decides once all of their results are in.
    #[must_use]
    pub fn half_open_calls(mut self, calls: u32) -> Self {
        self.half_open_calls = calls;
        self
    }

    /// The longest a half-open episode may last: a call arriving after it re-opens the
    /// breaker (default: no limit). Trial calls that never report back then cannot keep
    /// the breaker half-open.
    #[must_use]
    pub fn max_wait_in_half_open(mut self, wait: Duration) -> Self {
        self.max_half_open = Some(wait);
        self
    }

    /// Which errors of type `E` count as failures: `true` records a failure, `false`
    /// ignores the call (it neither fails nor succeeds). Errors of types with no
    /// classifier are failures; with several classifiers for one type, the first added
    /// decides. A classifier that panics ignores the call and the panic propagates to the
    /// caller.
    #[must_use]
    pub fn record_error<E: 'static>(
        mut self,
        classify: impl Fn(&E) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.classifiers.push(Box::new(move |error: &dyn Any| {
            error.downcast_ref::<E>().map(&classify)
        }));
        self
    }

    /// The clock to read time from (default: the system's, through the CPU's counter).
    /// Tests pass a [`ManualClock`](patterns_core::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.timeline = Some(Timeline::given(clock));
        self
    }

    /// Adds a listener, called synchronously with every [`Event`] on the thread where it
    /// happened. Keep it cheap.
    ///
    /// No listener runs under the breaker's transition lock, so a listener may read the
    /// breaker it listens to, from any event: [`state`](CircuitBreaker::state),
    /// [`metrics`](CircuitBreaker::metrics), [`name`](CircuitBreaker::name),
    /// [`memory_bytes`](CircuitBreaker::memory_bytes). Transitions (and `Reset`) are
    /// delivered in the order they happened, under a lock of their own that the next
    /// transition waits for: so a listener of a `StateTransition` or a `Reset` **must
    /// not** call [`call`](CircuitBreaker::call),
    /// [`try_acquire`](CircuitBreaker::try_acquire), a `transition_to_*` or
    /// [`reset`](CircuitBreaker::reset) on the same breaker, which may deadlock. From the
    /// other events (`Success`, `Error`, `Ignored`, `SlowCall`, `NotPermitted`, delivered
    /// under no lock) any call is allowed.
    ///
    /// A listener that panics does not break the breaker: the other listeners still get
    /// the event, the call's result is recorded (a half-open slot used or given back) and
    /// any transition completed, and then the panic propagates to the caller whose call
    /// emitted the event (it is dropped if that thread is already unwinding).
    #[must_use]
    pub fn on_event(mut self, listener: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners.push(UnmodeledArc::new(listener));
        self
    }

    /// How many stripes the closed-state window is split into, rounded up to a power of
    /// two, at most 64 (default: four per core, at most 32). Each thread records into
    /// one stripe, so more stripes mean less contention and more memory; keyed breakers
    /// that are each called by few threads at a time may want 1.
    #[must_use]
    pub fn stripes(mut self, stripes: usize) -> Self {
        self.stripes = Some(stripes);
        self
    }

    /// Checks every setting and builds the breaker, closed.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Threshold`] for a threshold outside `(0, 100]`;
    /// [`ConfigError::Zero`] for a zero window, slow-call duration, open wait, minimum
    /// calls, half-open calls, maximum half-open wait or stripe count;
    /// [`ConfigError::WindowTooLarge`] for a count window over 2²⁰ calls;
    /// [`ConfigError::Backoff`] for a backoff whose initial wait is zero, whose maximum
    /// is below it, whose multiplier is below 1 or whose jitter is outside `[0, 1]`.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        let (config, timeline) = self.check()?;
        Ok(CircuitBreaker::from_config(config, timeline))
    }

    fn check(self) -> Result<(Config, Timeline), ConfigError> {
        let percent = |setting, value: f64| {
            if value > 0.0 && value <= 100.0 {
                Ok(value)
            } else {
                Err(ConfigError::Threshold { setting, value })
            }
        };
        let nonzero = |setting, zero: bool| {
            if zero {
                Err(ConfigError::Zero { setting })
            } else {
                Ok(())
            }
        };
        let failure_rate = percent("failure_rate_threshold", self.failure_rate)?;
        let slow_on = self.slow_rate.is_some() || self.slow_duration.is_some();
        let slow_rate = percent("slow_call_rate_threshold", self.slow_rate.unwrap_or(100.0))?;
        let slow_duration = self.slow_duration.unwrap_or(Duration::from_secs(60));
        nonzero("slow_call_duration", slow_duration.is_zero())?;
        nonzero("minimum_calls", self.minimum_calls == 0)?;
        nonzero("half_open_calls", self.half_open_calls == 0)?;
        nonzero(
            "max_wait_in_half_open",
            self.max_half_open.is_some_and(|d| d.is_zero()),
        )?;
        nonzero("stripes", self.stripes == Some(0))?;
        let (window, minimum_calls) = match self.window {
            Window::Count(n) => {
                nonzero("sliding_window", n == 0)?;
                if n > MAX_COUNT_WINDOW {
                    return Err(ConfigError::WindowTooLarge {
                        requested: n,
                        max: MAX_COUNT_WINDOW,
                    });
                }
                (WindowKind::Count(n), self.minimum_calls.min(n))
            }
            Window::Time(d) => {
                nonzero("sliding_window", d.is_zero())?;
                let nanos = nanos(d);
                let buckets = TIME_BUCKETS.min(nanos);
                (
                    WindowKind::Time {
                        bucket_nanos: nanos / buckets,
                        buckets,
                    },
                    self.minimum_calls,
                )
            }
        };
        let open_wait = match self.open_wait {
            Ok(wait) => {
                nonzero("wait_in_open", wait.is_zero())?;
                OpenWait::Fixed(nanos(wait))
            }
            Err(backoff) => {
                backoff.check()?;
                OpenWait::Exponential {
                    initial: nanos(backoff.initial) as f64,
                    max: nanos(backoff.max) as f64,
                    multiplier: backoff.multiplier,
                    jitter: backoff.jitter,
                }
            }
        };
        let stripes = self
            .stripes
            .unwrap_or_else(default_stripes)
            .min(MAX_STRIPES)
            .next_power_of_two();
        let timed = slow_on || !self.listeners.is_empty();
        let config = Config {
            name: self.name,
            failure_rate,
            slow_rate,
            // `u64::MAX` is the "off" sentinel: a longer duration saturates below it.
            slow_nanos: if slow_on {
                nanos(slow_duration).min(u64::MAX - 1)
            } else {
                u64::MAX
            },
            timed,
            stamped: timed || matches!(window, WindowKind::Time { .. }),
            window,
            minimum_calls: minimum_calls as u64,
            open_wait,
            half_open_calls: self.half_open_calls,
            max_half_open: self.max_half_open.map(nanos),
            classifiers: self.classifiers,
            listeners: self.listeners,
            stripes,
        };
        Ok((config, self.timeline.unwrap_or_else(Timeline::system)))
    }
}

/// A duration in nanoseconds, saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Four stripes per core, at most 32; one under loom, whose models check the protocol
/// between the state word and a stripe, not the spreading of threads over stripes.
fn default_stripes() -> usize {
    if cfg!(loom) {
        return 1;
    }
    // tidy: allow(std-path): std's OnceLock for a constant of the machine; loom need not model it.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| {
        // tidy: allow(std-path): a property of the machine, not a synchronization.
        std::thread::available_parallelism().map_or(1, |n| n.get())
    });
    (cores * 4).min(32)
}

//! The circuit breaker: its state word, its transitions, and the permits it hands out.

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::config::{keep, resume, Builder, Config, Panic, WindowKind};
use crate::error::{BreakerError, Rejected, TransitionError};
use crate::event::Event;
use crate::metrics::Metrics;
use crate::state::{self, State};
use crate::sync::atomic::{fence, AtomicU64, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::timeline::Timeline;
use crate::window::{home_index, Outcome, Stripe, Tally};

/// A circuit breaker: calls to a dependency pass while it is healthy, and are refused at
/// once, without running, while it is not.
///
/// Build one with [`CircuitBreaker::builder`]. Clones share one breaker. See the [crate
/// documentation](crate) for the states, the guarantees and an example.
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

/// What the fast path reads: the state word and, beside it, what a refusal or a calm
/// success needs. Written only by transitions (and `calm` once per episode and epoch),
/// so it stays in every core's cache.
#[derive(Debug)]
struct Hot {
    /// `generation << 3 | state`: see `state.rs`. Stored only under `control`'s lock.
    word: AtomicU64,
    /// While open: the last instant (nanoseconds on the timeline) still inside the wait.
    open_until: AtomicU64,
    /// `(generation << 32) | epoch` (both truncated to 32 bits) of the last evaluation
    /// that found the window past its minimum and under both thresholds: while it still
    /// matches, a fast success cannot raise either rate and skips the evaluation.
    calm: AtomicU64,
}

pub(crate) struct Inner {
    hot: CachePadded<Hot>,
    stripes: Box<[CachePadded<Stripe>]>,
    control: Mutex<Control>,
    /// The current half-open episode's trial results, written under `control` and read
    /// by `metrics` without it (so that a listener may call `metrics`).
    trials: Mutex<Trials>,
    /// Taken before `control` is given back by a thread that has state transitions to
    /// deliver, and held while the listeners run: transitions reach the listeners in the
    /// order they happened, and no listener runs under `control`.
    emitting: Mutex<()>,
    config: Config,
    timeline: Timeline,
}

/// What transitions and half-open episodes need, behind one lock.
#[derive(Debug, Default)]
struct Control {
    /// Openings since the breaker was last closed: the backoff's exponent.
    openings: u32,
    /// When the current half-open episode began.
    half_open_since: u64,
    /// Trial permits out or recorded in this episode (a returned permit gives its slot
    /// back).
    issued: u32,
}

/// A half-open episode's trial results.
#[derive(Debug, Default, Clone, Copy)]
struct Trials {
    /// The episode's state word.
    word: u64,
    /// Trial results in, of which failed and slow.
    tally: Tally,
}

/// An admitted call not yet recorded: the episode it belongs to and when it began.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    word: u64,
    start: u64,
}

impl CircuitBreaker {
    /// A builder with resilience4j's defaults (see [`Builder`]).
    #[must_use]
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn from_config(config: Config, timeline: Timeline) -> CircuitBreaker {
        let stripes = (0..config.stripes)
            .map(|_| Stripe::new(config.window))
            .collect();
        CircuitBreaker {
            inner: Arc::new(Inner {
                hot: CachePadded::new(Hot {
                    word: AtomicU64::new(State::Closed.code()),
                    open_until: AtomicU64::new(0),
                    calm: AtomicU64::new(u64::MAX),
                }),
                stripes,
                control: Mutex::new(Control::default()),
                trials: Mutex::new(Trials::default()),
                emitting: Mutex::new(()),
                config,
                timeline,
            }),
        }
    }

    /// The breaker's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// Runs `f` if the breaker admits a call, and records its result: `Ok` is a success,
    /// an `Err` a failure unless a [`record_error`](Builder::record_error) classifier
    /// ignores it. A panic in `f` is recorded as a failure and resumed; a panic in the
    /// classifier ignores the call and propagates. A panic in a listener propagates once
    /// the result is recorded (see [`Builder::on_event`]).
    ///
    /// `E: 'static` because classifiers find the error's type by downcasting it (as
    /// [`Any`](std::any::Any)).
    ///
    /// # Errors
    ///
    /// [`BreakerError::Rejected`] without running `f` when the breaker is open, forced
    /// open, or half-open with every trial out; [`BreakerError::Inner`] with `f`'s error.
    ///
    /// # Examples
    ///
    /// ```
    /// use breaker::{BreakerError, CircuitBreaker, Window};
    ///
    /// let breaker = CircuitBreaker::builder()
    ///     .sliding_window(Window::Count(2))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(breaker.call(|| Ok::<_, ()>(1)), Ok(1));
    /// assert_eq!(breaker.call(|| Err::<(), _>("down")), Err(BreakerError::Inner("down")));
    /// // 1 failure in 2 calls: 50%, the threshold. The breaker is open.
    /// assert!(breaker.call(|| Ok::<_, ()>(2)).unwrap_err().is_rejected());
    /// ```
    #[inline]
    pub fn call<T, E: 'static>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, BreakerError<E>> {
        let inner = &*self.inner;
        let guard = Guard {
            inner,
            ticket: Some(inner.acquire()?),
        };
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(value)) => {
                resume(guard.finish(Outcome::Success));
                Ok(value)
            }
            Ok(Err(error)) => {
                let failure =
                    inner.config.classifiers.is_empty() || inner.config.is_failure(&error);
                resume(guard.finish(if failure {
                    Outcome::Failure
                } else {
                    Outcome::Ignored
                }));
                Err(BreakerError::Inner(error))
            }
            Err(panic) => {
                // The call's own panic propagates; a listener's, if any, is dropped.
                drop(guard.finish(Outcome::Failure));
                resume_unwind(panic)
            }
        }
    }

    /// As [`call`](CircuitBreaker::call), with `fallback` producing the value instead
    /// when the call is refused or fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use breaker::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// let price = breaker.call_with_fallback(|| Err::<u32, _>("timeout"), |_| 0);
    /// assert_eq!(price, 0);
    /// ```
    pub fn call_with_fallback<T, E: 'static>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        fallback: impl FnOnce(BreakerError<E>) -> T,
    ) -> T {
        self.call(f).unwrap_or_else(fallback)
    }

    /// Asks for one call's permit, for code that cannot be wrapped in a closure: report
    /// its result with [`Permit::success`], [`Permit::failure`] or [`Permit::ignore`].
    /// The call's duration runs from here to that report. A permit dropped without a
    /// report counts as ignored (and gives its half-open slot back).
    ///
    /// # Errors
    ///
    /// [`Rejected`] when the breaker is open, forced open, or half-open with every trial
    /// out.
    ///
    /// # Examples
    ///
    /// ```
    /// use breaker::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// let permit = breaker.try_acquire().unwrap();
    /// // … the call …
    /// permit.success();
    /// assert_eq!(breaker.metrics().successes, 1);
    /// ```
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let inner = &*self.inner;
        Ok(Permit {
            guard: Guard {
                inner,
                ticket: Some(inner.acquire()?),
            },
        })
    }

    /// The current state.
    ///
    /// Timed moves happen when a call arrives: an open breaker whose wait has passed
    /// reads [`State::Open`] until the next call makes it half-open.
    #[must_use]
    pub fn state(&self) -> State {
        State::from_code(state::code(self.inner.hot.word.load(Ordering::Acquire)))
    }

    /// Closes the breaker (a new, empty window).
    ///
    /// # Errors
    ///
    /// [`TransitionError`] if it is already closed.
    pub fn transition_to_closed(&self) -> Result<(), TransitionError> {
        self.inner.transition_to(State::Closed)
    }

    /// Opens the breaker, for the open wait the backoff gives next.
    ///
    /// # Errors
    ///
    /// [`TransitionError`] if it is already open.
    pub fn transition_to_open(&self) -> Result<(), TransitionError> {
        self.inner.transition_to(State::Open)
    }

    /// Starts a half-open episode now, without waiting for the open wait to pass.
    ///
    /// # Errors
    ///
    /// [`TransitionError`] unless the breaker is open.
    pub fn transition_to_half_open(&self) -> Result<(), TransitionError> {
        self.inner.transition_to(State::HalfOpen)
    }

    /// Disables the breaker: every call passes, nothing is recorded or emitted.
    ///
    /// # Errors
    ///
    /// [`TransitionError`] if it is already disabled.
    pub fn transition_to_disabled(&self) -> Result<(), TransitionError> {
        self.inner.transition_to(State::Disabled)
    }

    /// Forces the breaker open: every call is refused until another manual transition.
    ///
    /// # Errors
    ///
    /// [`TransitionError`] if it is already forced open.
    pub fn transition_to_forced_open(&self) -> Result<(), TransitionError> {
        self.inner.transition_to(State::ForcedOpen)
    }

    /// Records calls without ever opening (a new, empty window).
    ///
    /// # Errors
    ///
    /// [`TransitionError`] if it is already metrics-only.
    pub fn transition_to_metrics_only(&self) -> Result<(), TransitionError> {
        self.inner.transition_to(State::MetricsOnly)
    }

    /// Closes the breaker with an empty window and starts the backoff over, from any
    /// state; emits [`Event::Reset`]. Results of calls admitted before it are discarded.
    /// The totals in [`metrics`](CircuitBreaker::metrics) are kept.
    pub fn reset(&self) {
        self.inner.reset();
    }

    /// A snapshot of the window and the counters (see [`Metrics`]). Takes each stripe's
    /// lock in turn: meant for monitoring, not for every call. It takes no other lock, so
    /// a listener may call it.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.inner.metrics()
    }

    /// About how many bytes this breaker occupies: its shared state and its stripes'
    /// windows (one byte per result of a count window per stripe, 240 bytes per stripe
    /// of a time window, and 256 per stripe for the stripe itself).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let config = &self.inner.config;
        std::mem::size_of::<Inner>()
            + config.stripes
                * (std::mem::size_of::<CachePadded<Stripe>>() + Stripe::heap_bytes(config.window))
            + config.name.len()
    }

    /// Whether forgetting this breaker would change nothing a new one would do: closed,
    /// an empty window, and no other handle or permit on it.
    pub(crate) fn is_idle(&self) -> bool {
        Arc::strong_count(&self.inner) == 1 && self.inner.window_is_empty()
    }

    /// Whether no other handle or permit is on this breaker.
    pub(crate) fn is_unused(&self) -> bool {
        Arc::strong_count(&self.inner) == 1
    }

    /// Failures and slow calls in a closed breaker's window, `None` if it is not closed
    /// or is shared: how much a keyed breaker would forget by dropping it.
    pub(crate) fn eviction_cost(&self) -> Option<u64> {
        if Arc::strong_count(&self.inner) != 1 {
            return None;
        }
        let word = self.inner.hot.word.load(Ordering::Acquire);
        if state::code(word) != state::CLOSED {
            return None;
        }
        let tally = self.inner.exact_window(word);
        Some(tally.failures + tally.slow)
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.config.name)
            .field("state", &self.state())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Inner {
    #[inline]
    fn stripe(&self) -> &Stripe {
        &self.stripes[home_index() & (self.stripes.len() - 1)]
    }

    /// The time bucket `now` falls in (0 for a count window).
    #[inline]
    fn epoch(&self, now: u64) -> u64 {
        match self.config.window {
            WindowKind::Count(_) => 0,
            WindowKind::Time { bucket_nanos, .. } => now / bucket_nanos,
        }
    }

    /// Admits a call or refuses it. The fast path (closed, metrics-only, disabled) is one
    /// load of the state word and, unless disabled, one reading of the clock.
    #[inline]
    fn acquire(&self) -> Result<Ticket, Rejected> {
        let word = self.hot.word.load(Ordering::Acquire);
        match state::code(word) {
            state::CLOSED | state::METRICS_ONLY => Ok(Ticket {
                word,
                start: if self.config.timed {
                    self.timeline.now()
                } else {
                    0
                },
            }),
            state::DISABLED => Ok(Ticket { word, start: 0 }),
            _ => self.acquire_slow(word),
        }
    }

    #[cold]
    fn acquire_slow(&self, mut word: u64) -> Result<Ticket, Rejected> {
        loop {
            let now = self.timeline.now();
            match state::code(word) {
                state::CLOSED | state::METRICS_ONLY => return Ok(Ticket { word, start: now }),
                state::DISABLED => return Ok(Ticket { word, start: 0 }),
                state::FORCED_OPEN => return Err(self.reject(State::ForcedOpen, None)),
                state::OPEN => {
                    let until = self.hot.open_until.load(Ordering::Acquire);
                    if now <= until {
                        return Err(self.reject(State::Open, Some(retry_after(until, now))));
                    }
                }
                _ => {}
            }
            // Open past its wait, or half-open: decide under the lock.
            let mut control = self.control.lock();
            let current = self.hot.word.load(Ordering::Acquire);
            if current != word {
                drop(control);
                word = current;
                continue;
            }
            let mut event = None;
            if state::code(word) == state::OPEN {
                (word, event) = self.transition(&mut control, word, State::HalfOpen, now);
            } else if let Some(max) = self.config.max_half_open {
                if now.saturating_sub(control.half_open_since) > max {
                    let (_, event) = self.transition(&mut control, word, State::Open, now);
                    let until = self.hot.open_until.load(Ordering::Relaxed);
                    let panic = self.deliver(control, &[event]);
                    let rejected = self.reject(State::Open, Some(retry_after(until, now)));
                    resume(panic);
                    return Err(rejected);
                }
            }
            // Half-open, in episode `word`.
            if control.issued < self.config.half_open_calls {
                control.issued += 1;
                let ticket = Ticket { word, start: now };
                if let Some(panic) = self.deliver(control, &[event]) {
                    // A listener panicked on the transition into half-open: the trial
                    // never reaches the caller, so its slot comes back (as an ignored
                    // call) before the panic propagates.
                    drop(self.finish(ticket, Outcome::Ignored));
                    resume_unwind(panic);
                }
                return Ok(ticket);
            }
            let panic = self.deliver(control, &[event]);
            let rejected = self.reject(State::HalfOpen, None);
            resume(panic);
            return Err(rejected);
        }
    }

    /// Counts a refused call and emits `NotPermitted` (a listener's panic propagates,
    /// after the count).
    fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.stripe().rejected.fetch_add(1, Ordering::Relaxed);
        resume(self.config.emit(Event::NotPermitted));
        Rejected { retry_after, state }
    }

    /// Gives `control` back and delivers the transitions made under it (`None`s are
    /// skipped). The emission lock is taken before `control` is released, so that
    /// transitions reach the listeners in the order they happened, and the listeners
    /// run without `control`: they may read the breaker (`metrics`, `state`). Returns
    /// the first listener panic, for the caller to resume once its own state is
    /// consistent.
    fn deliver(&self, control: MutexGuard<'_, Control>, events: &[Option<Event>]) -> Option<Panic> {
        if !self.config.has_listeners() || events.iter().all(Option::is_none) {
            drop(control);
            return None;
        }
        let order = self.emitting.lock();
        drop(control);
        let mut panic = None;
        for event in events.iter().flatten() {
            keep(&mut panic, self.config.emit(*event));
        }
        drop(order);
        panic
    }

    /// Records the result of the call admitted with `ticket`, then returns the first
    /// panic of a listener, if one panicked: the result is recorded (and a half-open
    /// slot used or given back) whatever the listeners do, and the caller resumes the
    /// panic afterwards.
    #[inline]
    #[must_use]
    fn finish(&self, ticket: Ticket, outcome: Outcome) -> Option<Panic> {
        let code = state::code(ticket.word);
        if code == state::DISABLED {
            return None;
        }
        // A half-open ticket was always stamped (on the slow path); a closed one only
        // when the breaker times calls.
        let stamped = self.config.stamped || code == state::HALF_OPEN;
        let now = if stamped { self.timeline.now() } else { 0 };
        let nanos = if self.config.timed || code == state::HALF_OPEN {
            now.saturating_sub(ticket.start)
        } else {
            0
        };
        let slow = outcome != Outcome::Ignored && nanos > self.config.slow_nanos;
        let mut panic = None;
        if self.config.has_listeners() {
            // Emitted before the result is recorded, so that a call's events come in
            // order (outcome, slow, then the transition its result causes); a panic is
            // caught and returned once the result is in.
            let duration = Duration::from_nanos(nanos);
            panic = self.config.emit(match outcome {
                Outcome::Success => Event::Success { duration },
                Outcome::Failure => Event::Error { duration },
                Outcome::Ignored => Event::Ignored,
            });
            if slow {
                keep(&mut panic, self.config.emit(Event::SlowCall { duration }));
            }
        }
        if code == state::HALF_OPEN {
            self.stripe().count(outcome);
            keep(&mut panic, self.finish_trial(ticket.word, outcome, slow));
            return panic;
        }
        let generation = state::generation(ticket.word);
        let epoch = self.epoch(now);
        let own = self.stripe();
        let Some(own_tally) = own.record(outcome, slow, (ticket.word, generation), epoch, || {
            self.hot.word.load(Ordering::Acquire)
        }) else {
            return panic;
        };
        if code == state::METRICS_ONLY {
            return panic;
        }
        if outcome == Outcome::Success
            && !slow
            && self.hot.calm.load(Ordering::Relaxed) == calm_tag(generation, epoch)
        {
            return panic;
        }
        keep(
            &mut panic,
            self.evaluate(ticket.word, own, own_tally, epoch),
        );
        panic
    }

    /// Judges the window of closed episode `word` after a result: opens the breaker when
    /// a rate reaches its threshold with at least the minimum calls in. Returns a
    /// listener's panic on that transition.
    fn evaluate(&self, word: u64, own: &Stripe, own_tally: Tally, epoch: u64) -> Option<Panic> {
        // Dekker's pattern: the own stripe's totals were published (relaxed stores,
        // before this) and the other stripes' are read (relaxed loads, after). Between
        // two results recorded at once on different stripes, the SeqCst fences order
        // one evaluation after the other, and the later one reads the earlier one's
        // totals: of results recorded concurrently, the last evaluation sees them all.
        // Without it, two failures could each miss the other, both judge the window
        // calm, and calm successes then skip judging (`Hot::calm`): a breaker at its
        // threshold that stays closed. Calm successes do not come here and pay nothing.
        fence(Ordering::SeqCst);
        let generation = state::generation(word);
        let mut tally = own_tally;
        for stripe in self.stripes.iter() {
            if !std::ptr::eq(&**stripe, own) {
                let other = stripe.tally(generation, epoch, self.config.window);
                tally.calls += other.calls;
                tally.failures += other.failures;
                tally.slow += other.slow;
            }
        }
        if tally.calls < self.config.minimum_calls {
            return None;
        }
        if Config::reaches(tally.failures, tally.calls, self.config.failure_rate)
            || Config::reaches(tally.slow, tally.calls, self.config.slow_rate)
        {
            // The clock is read here, not reused from the result: a call that is not
            // timed did not read it.
            let now = self.timeline.now();
            let mut control = self.control.lock();
            if self.hot.word.load(Ordering::Acquire) == word {
                let (_, event) = self.transition(&mut control, word, State::Open, now);
                return self.deliver(control, &[event]);
            }
        } else {
            let tag = calm_tag(generation, epoch);
            if self.hot.calm.load(Ordering::Relaxed) != tag {
                self.hot.calm.store(tag, Ordering::Relaxed);
            }
        }
        None
    }

    /// Records a half-open trial's result; the last of the episode's trials decides it.
    /// Returns a listener's panic on that transition.
    fn finish_trial(&self, word: u64, outcome: Outcome, slow: bool) -> Option<Panic> {
        let now = self.timeline.now();
        let mut control = self.control.lock();
        if self.hot.word.load(Ordering::Acquire) != word {
            return None; // the episode is over: a stale trial
        }
        let trials = match outcome {
            Outcome::Ignored => {
                control.issued -= 1;
                return None;
            }
            Outcome::Success | Outcome::Failure => {
                let mut trials = self.trials.lock();
                debug_assert_eq!(trials.word, word);
                trials.tally.calls += 1;
                trials.tally.failures += u64::from(outcome == Outcome::Failure);
                trials.tally.slow += u64::from(slow);
                trials.tally
            }
        };
        if trials.calls < u64::from(self.config.half_open_calls) {
            return None;
        }
        let to = if Config::reaches(trials.failures, trials.calls, self.config.failure_rate)
            || Config::reaches(trials.slow, trials.calls, self.config.slow_rate)
        {
            State::Open
        } else {
            State::Closed
        };
        let (_, event) = self.transition(&mut control, word, to, now);
        self.deliver(control, &[event])
    }

    /// Moves from episode `word` (the current one: the caller checked, under `control`)
    /// to a new episode of `to`. Returns the new word and the event to deliver (none for
    /// a move to the same state, which only `reset` makes) with [`deliver`](Self::deliver).
    fn transition(
        &self,
        control: &mut Control,
        word: u64,
        to: State,
        now: u64,
    ) -> (u64, Option<Event>) {
        debug_assert_eq!(self.hot.word.load(Ordering::Relaxed), word);
        let from = State::from_code(state::code(word));
        let next = state::next(word, to);
        match to {
            State::Open => {
                let wait = self.config.open_wait.nanos(control.openings);
                control.openings = control.openings.saturating_add(1);
                self.hot
                    .open_until
                    .store(now.saturating_add(wait), Ordering::Relaxed);
            }
            State::HalfOpen => {
                control.half_open_since = now;
                control.issued = 0;
                // Before the word: whoever reads the new word reads these trials.
                *self.trials.lock() = Trials {
                    word: next,
                    tally: Tally::default(),
                };
            }
            State::Closed => control.openings = 0,
            State::Disabled | State::ForcedOpen | State::MetricsOnly => {}
        }
        // Release: a thread that reads the new word reads `open_until` as stored above.
        self.hot.word.store(next, Ordering::Release);
        (
            next,
            (from != to).then_some(Event::StateTransition { from, to }),
        )
    }

    fn transition_to(&self, to: State) -> Result<(), TransitionError> {
        let now = self.timeline.now();
        let mut control = self.control.lock();
        let word = self.hot.word.load(Ordering::Acquire);
        let from = State::from_code(state::code(word));
        if !from.may_become(to) {
            return Err(TransitionError { from, to });
        }
        let (_, event) = self.transition(&mut control, word, to, now);
        resume(self.deliver(control, &[event]));
        Ok(())
    }

    fn reset(&self) {
        let now = self.timeline.now();
        let mut control = self.control.lock();
        let word = self.hot.word.load(Ordering::Acquire);
        control.openings = 0;
        let (_, event) = self.transition(&mut control, word, State::Closed, now);
        resume(self.deliver(control, &[event, Some(Event::Reset)]));
    }

    /// The window of episode `word`, exactly, taking each stripe's lock.
    fn exact_window(&self, word: u64) -> Tally {
        let generation = state::generation(word);
        let epoch = self.epoch(self.timeline.now());
        let mut tally = Tally::default();
        for stripe in self.stripes.iter() {
            let t = stripe.exact_tally(generation, epoch);
            tally.calls += t.calls;
            tally.failures += t.failures;
            tally.slow += t.slow;
        }
        tally
    }

    fn window_is_empty(&self) -> bool {
        let word = self.hot.word.load(Ordering::Acquire);
        state::code(word) == state::CLOSED && self.exact_window(word).calls == 0
    }

    fn metrics(&self) -> Metrics {
        // Without `control`, so that a listener may call it.
        let (word, window, minimum) = loop {
            let word = self.hot.word.load(Ordering::Acquire);
            match state::code(word) {
                state::HALF_OPEN => {
                    let trials = *self.trials.lock();
                    if trials.word == word {
                        break (word, trials.tally, u64::from(self.config.half_open_calls));
                    }
                    // The episode ended meanwhile: look again.
                }
                state::CLOSED | state::METRICS_ONLY => {
                    break (word, self.exact_window(word), self.config.minimum_calls)
                }
                _ => break (word, Tally::default(), u64::MAX),
            }
        };
        let rate = |count: u64| {
            (window.calls >= minimum).then(|| count as f64 * 100.0 / window.calls as f64)
        };
        let mut metrics = Metrics {
            state: State::from_code(state::code(word)),
            failure_rate: rate(window.failures),
            slow_call_rate: rate(window.slow),
            buffered_calls: window.calls,
            failed_calls: window.failures,
            slow_calls: window.slow,
            not_permitted_calls: 0,
            successes: 0,
            failures: 0,
            ignored: 0,
        };
        for stripe in self.stripes.iter() {
            let totals = stripe.totals();
            metrics.successes += totals.successes;
            metrics.failures += totals.failures;
            metrics.ignored += totals.ignored;
            metrics.not_permitted_calls += stripe.rejected.load(Ordering::Relaxed);
        }
        metrics
    }
}

/// The time from `now` to the first instant after `until` (open ends strictly after its
/// wait), saturating: `until` may be `u64::MAX` for a wait of `Duration::MAX`.
#[inline]
fn retry_after(until: u64, now: u64) -> Duration {
    Duration::from_nanos(until - now).saturating_add(Duration::from_nanos(1))
}

/// The tag `Hot::calm` holds for a calm window of `generation` at `epoch`.
#[inline]
fn calm_tag(generation: u64, epoch: u64) -> u64 {
    (generation << 32) | (epoch & 0xffff_ffff)
}

/// An admitted call's ticket, recorded as ignored if dropped unrecorded (a dropped
/// permit, or a panic in the classifier).
struct Guard<'a> {
    inner: &'a Inner,
    ticket: Option<Ticket>,
}

impl Guard<'_> {
    /// Records the result; returns a listener's panic, for the caller to resume.
    #[inline]
    #[must_use]
    fn finish(mut self, outcome: Outcome) -> Option<Panic> {
        let ticket = self.ticket.take()?;
        self.inner.finish(ticket, outcome)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            // A listener's panic propagates from here, unless the thread is already
            // unwinding (the classifier's panic, or the caller's with a permit out).
            resume(self.inner.finish(ticket, Outcome::Ignored));
        }
    }
}

/// Permission for one call, from [`CircuitBreaker::try_acquire`]: report the call's
/// result with exactly one of its methods.
///
/// Dropping it unreported counts the call as ignored: it is neither a success nor a
/// failure, it emits [`Event::Ignored`], and in half-open it gives its trial slot back so
/// that another call can take it. A result reported for a permit issued before the
/// breaker's last state change counts in the totals but never in the window of the
/// episode that followed.
#[must_use = "a permit dropped without a result counts as ignored"]
pub struct Permit<'a> {
    guard: Guard<'a>,
}

impl Permit<'_> {
    /// The call succeeded.
    pub fn success(self) {
        resume(self.guard.finish(Outcome::Success));
    }

    /// The call failed.
    pub fn failure(self) {
        resume(self.guard.finish(Outcome::Failure));
    }

    /// The call neither succeeded nor failed for the breaker's purposes (e.g. the
    /// caller's own error); the same as dropping the permit.
    pub fn ignore(self) {
        resume(self.guard.finish(Outcome::Ignored));
    }

    /// The state the permit was issued in: [`State::Closed`], [`State::HalfOpen`] (a
    /// trial call), [`State::MetricsOnly`] or [`State::Disabled`].
    #[must_use]
    pub fn state(&self) -> State {
        let word = self.guard.ticket.map_or(0, |t| t.word);
        State::from_code(state::code(word))
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

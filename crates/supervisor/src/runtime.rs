//! The supervisor's thread: it owns every child's state and runs one event loop over its
//! mailbox — children's readiness and exits, handle calls, `Stop` — with timer wake-ups
//! (restart backoff, heartbeat checks, shutdown deadlines) computed from the clock.
//!
//! Starts and stops are synchronous, as in OTP: while the supervisor waits for one
//! child's `Ready` or `Exited`, every other message is set aside (`deferred`) and handled
//! after, in arrival order (Erlang's selective receive).

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use patterns_core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use patterns_core::sync::{thread, Arc, Parker, UnmodeledArc};
use patterns_core::{panic_message, CancelToken, Clock};

use crate::context::ChildContext;
use crate::error::{ChildError, StartError, SupervisorError};
use crate::event::{ChildInfo, ChildState, Event, ExitReason, ShutdownReport};
use crate::mailbox::{Call, Mailbox, Msg, Outcome, Reply};
use crate::reentry::{self, Role};
use crate::spec::{ChildFn, ChildSpec, Restart, RestartBackoff, Shutdown, Strategy};

pub(crate) type EventFn = UnmodeledArc<dyn Fn(&Event) + Send + Sync>;

/// What the supervisor thread runs with.
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) backoff: RestartBackoff,
    pub(crate) clock: UnmodeledArc<dyn Clock>,
    pub(crate) on_event: Option<EventFn>,
    pub(crate) dynamic: bool,
}

struct Child {
    spec: ChildSpec,
    /// Stable for the child's life in this supervisor.
    id: u64,
    /// Incremented by each start: messages from an earlier run are told apart.
    gen: u64,
    restarts: u32,
    /// Consecutive restarts since the child last ran for its backoff's stable period.
    consecutive: u32,
    last_exit: Option<ExitReason>,
    state: State,
}

enum State {
    Running(Run),
    Restarting {
        at: Instant,
        after: Duration,
        /// Children restarted together (a group restart) share a batch.
        batch: u64,
    },
    Stopped,
}

struct Run {
    gen: u64,
    token: CancelToken,
    thread: thread::JoinHandle<()>,
    started_at: Instant,
    beats: Arc<AtomicU64>,
    seen: u64,
    check_at: Option<Instant>,
}

/// A thread the supervisor stopped waiting for.
struct Abandoned {
    id: u64,
    gen: u64,
    name: String,
    thread: thread::JoinHandle<()>,
}

#[derive(Clone, Copy)]
enum Cause {
    Shutdown,
    Hung,
}

/// Why a start failed: how the run ended, and whether its thread was abandoned (after a
/// start timeout, when it then outlived its shutdown spec too).
pub(crate) struct StartFailure {
    reason: ExitReason,
    abandoned: bool,
}

impl StartFailure {
    fn into_start_error(self, child: String) -> StartError {
        match self.reason {
            ExitReason::StartTimeout(timeout) => StartError::StartTimeout {
                child,
                timeout,
                abandoned: self.abandoned,
            },
            reason => StartError::ChildStart { child, reason },
        }
    }

    fn into_child_error(self, child: String) -> ChildError {
        match self.reason {
            ExitReason::StartTimeout(timeout) => ChildError::StartTimeout {
                child,
                timeout,
                abandoned: self.abandoned,
            },
            reason => ChildError::StartFailed { child, reason },
        }
    }
}

#[derive(Clone, Copy)]
enum Wait {
    Now,
    Until(Instant),
    Forever,
}

impl Wait {
    /// Whichever of the two ends first.
    fn earlier(self, other: Wait) -> Wait {
        match (self, other) {
            (Wait::Now, _) | (_, Wait::Now) => Wait::Now,
            (Wait::Forever, w) | (w, Wait::Forever) => w,
            (Wait::Until(a), Wait::Until(b)) => Wait::Until(a.min(b)),
        }
    }
}

/// A start in progress, as [`Runtime::expect`] sees it: a `Stop` fires its token and
/// ends the wait by the child's shutdown spec, as it would for a running child.
struct Starting<'a> {
    token: &'a CancelToken,
    shutdown: Shutdown,
}

pub(crate) struct Runtime {
    cfg: Config,
    mailbox: Arc<Mailbox>,
    parker: Arc<Parker>,
    children: Vec<Child>,
    next_id: u64,
    next_batch: u64,
    /// Restart instants within the intensity period, oldest first.
    window: VecDeque<Instant>,
    deferred: VecDeque<Msg>,
    abandoned: Vec<Abandoned>,
    stop_requested: bool,
    /// When the start in progress must have ended since a stop fired its token: its
    /// shutdown spec's wait, from the stop.
    start_stopped_by: Option<Wait>,
    rng: u64,
}

/// The supervisor thread's body.
pub(crate) fn run(
    cfg: Config,
    specs: Vec<ChildSpec>,
    mailbox: Arc<Mailbox>,
    token: Option<CancelToken>,
    started: Reply<Result<(), StartError>>,
) -> Result<ShutdownReport, SupervisorError> {
    let parker = Arc::new(Parker::new());
    mailbox.install(Arc::clone(&parker));
    // Handle calls from this thread (an event listener) are refused, not deadlocked.
    reentry::set(Role::Supervisor(reentry::key(&mailbox)));
    let _link = token.map(|token| {
        let mailbox = Arc::clone(&mailbox);
        token.on_cancel(move |_| {
            let _ = mailbox.send(Msg::Stop);
        })
    });
    let seed = RandomState::new().build_hasher().finish() | 1;
    let mut rt = Runtime {
        cfg,
        mailbox,
        parker,
        children: Vec::new(),
        next_id: 0,
        next_batch: 0,
        window: VecDeque::new(),
        deferred: VecDeque::new(),
        abandoned: Vec::new(),
        stop_requested: false,
        start_stopped_by: None,
        rng: seed,
    };
    for spec in specs {
        rt.push(spec);
    }
    let ids: Vec<u64> = rt.children.iter().map(|c| c.id).collect();
    for id in ids {
        if rt.stop_requested {
            // A parent stopped this supervisor mid-start: the rest are not started, and
            // the event loop shuts down the ones that are.
            break;
        }
        if let Err(failure) = rt.start(id) {
            let child = rt.children[rt.index(id).unwrap_or(0)].spec.name.clone();
            rt.stop_started();
            rt.finish();
            started.send(Err(failure.into_start_error(child)));
            return Ok(ShutdownReport::default());
        }
    }
    started.send(Ok(()));
    let result = rt.event_loop();
    rt.finish();
    result
}

/// Drops `value` — a spec, and with it what the child's body captured — on the
/// supervisor's thread, where a panicking `Drop` must not end the supervisor.
fn discard<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// A child thread's body: runs the child, catches its panic, reports how it ended.
fn child_main(ctx: ChildContext, body: ChildFn) {
    reentry::set(Role::Child {
        mailbox: reentry::key(&ctx.mailbox),
        ready: Arc::clone(&ctx.ready_sent),
        token: ctx.token.clone(),
    });
    // The error's `Display` and `Drop` are user code too: they run inside the
    // `catch_unwind`, so that however the body ends, its `Exited` is sent.
    let result = catch_unwind(AssertUnwindSafe(|| match body(&ctx) {
        Ok(()) => Outcome::Ok,
        Err(error) => Outcome::Err(error.to_string()),
    }));
    let outcome = match result {
        Ok(Outcome::Ok) => {
            ctx.ready(); // a body that returns at once has still started
            Outcome::Ok
        }
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = panic_message(&*payload)
                .unwrap_or("non-string panic payload")
                .to_owned();
            // A payload whose `Drop` panics in turn is forgotten, not propagated.
            if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                std::mem::forget(again);
            }
            Outcome::Panic(message)
        }
    };
    let _ = ctx.mailbox.send(Msg::Exited {
        id: ctx.id,
        gen: ctx.gen,
        outcome,
    });
}

impl Outcome {
    /// The exit reason of a run that ended on its own.
    fn reason(self) -> ExitReason {
        match self {
            Outcome::Ok => ExitReason::Normal,
            Outcome::Err(e) => ExitReason::Error(e),
            Outcome::Panic(m) => ExitReason::Panic(m),
        }
    }
}

impl Runtime {
    fn emit(&self, event: Event) {
        if let Some(on_event) = &self.cfg.on_event {
            // A panicking callback must not take the children's supervisor down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| on_event(&event)));
        }
    }

    fn now(&self) -> Instant {
        self.cfg.clock.now()
    }

    fn random(&mut self) -> f64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn push(&mut self, spec: ChildSpec) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.children.push(Child {
            spec,
            id,
            gen: 0,
            restarts: 0,
            consecutive: 0,
            last_exit: None,
            state: State::Stopped,
        });
        id
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.children.iter().position(|c| c.id == id)
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.name == name)
    }

    fn remove(&mut self, id: u64) {
        if let Some(idx) = self.index(id) {
            discard(self.children.remove(idx));
        }
    }

    // ---- the mailbox ----

    fn wait(&self, until: Wait) {
        match until {
            Wait::Now => {}
            Wait::Forever => self.parker.park(),
            Wait::Until(deadline) => self.cfg.clock.park_until(deadline),
        }
    }

    /// The wait for a stopped child's thread under its shutdown spec, from now.
    fn stop_wait(&self, shutdown: Shutdown) -> Wait {
        match shutdown {
            Shutdown::Timeout(d) => self.after(d),
            Shutdown::Infinity => Wait::Forever,
            Shutdown::BrutalKill => Wait::Now,
        }
    }

    /// `d` from now on the clock; forever if the clock cannot add it.
    fn after(&self, d: Duration) -> Wait {
        self.now().checked_add(d).map_or(Wait::Forever, Wait::Until)
    }

    fn expired(&self, until: Wait) -> bool {
        match until {
            Wait::Now => true,
            Wait::Forever => false,
            Wait::Until(deadline) => self.now() >= deadline,
        }
    }

    /// The next message in arrival order, or `None` once `until` has passed.
    fn next(&mut self, until: Wait) -> Option<Msg> {
        if let Some(msg) = self.deferred.pop_front() {
            return Some(msg);
        }
        loop {
            if let Some(msg) = self.mailbox.try_recv() {
                return Some(msg);
            }
            if self.expired(until) {
                return None;
            }
            self.wait(until);
        }
    }

    /// The `Ready` (if `ready` is set) or `Exited` of run `gen` of child `id`, setting
    /// every other message aside; `None` once `until` has passed.
    ///
    /// While a start is awaited, `starting` is the start in progress: a `Stop` fires its
    /// token, so that a start blocked on its token ends instead of holding the shutdown
    /// up, and the wait then ends by the child's shutdown spec if not sooner. A message of
    /// the run already queued behind the `Stop` is the child's own, as in
    /// [`stop`](Runtime::stop): the token fires only once the mailbox is drained.
    fn expect(
        &mut self,
        id: u64,
        gen: u64,
        ready: bool,
        mut until: Wait,
        starting: Option<Starting<'_>>,
    ) -> Option<Msg> {
        let matches = |msg: &Msg| match *msg {
            Msg::Ready { id: i, gen: g } => ready && i == id && g == gen,
            Msg::Exited { id: i, gen: g, .. } => i == id && g == gen,
            _ => false,
        };
        if let Some(pos) = self.deferred.iter().position(matches) {
            return self.deferred.remove(pos);
        }
        loop {
            while let Some(msg) = self.mailbox.try_recv() {
                if matches(&msg) {
                    return Some(msg);
                }
                if matches!(msg, Msg::Stop) {
                    self.stop_requested = true;
                } else {
                    self.deferred.push_back(msg);
                }
            }
            if let Some(start) = &starting {
                if self.stop_requested && !start.token.is_cancelled() {
                    until = until.earlier(self.stop_start(start));
                }
            }
            if self.expired(until) {
                return None;
            }
            self.wait(until);
        }
    }

    // ---- starting and stopping one child ----

    /// Fires the token of the start in progress for a stop; the end of the wait for it.
    fn stop_start(&mut self, start: &Starting<'_>) -> Wait {
        start.token.cancel();
        let by = self.stop_wait(start.shutdown);
        self.start_stopped_by = Some(by);
        by
    }

    /// Starts child `id` and waits for its `ready`, up to its start timeout; why it failed
    /// if it did (its state is then left as it was).
    ///
    /// A timed-out start is stopped as a running child would be: token fired, then a wait
    /// under its shutdown spec; a thread that outlives that too is abandoned.
    fn start(&mut self, id: u64) -> Result<(), StartFailure> {
        let idx = self.index(id).expect("start of a child that is present");
        let mailbox = Arc::clone(&self.mailbox);
        let child = &mut self.children[idx];
        child.gen += 1;
        let gen = child.gen;
        let token = CancelToken::new();
        let beats = Arc::new(AtomicU64::new(0));
        let ctx = ChildContext {
            name: child.spec.name.clone(),
            token: token.clone(),
            restarts: child.restarts,
            mailbox,
            id,
            gen,
            ready_sent: Arc::new(AtomicBool::new(false)),
            beats: Arc::clone(&beats),
        };
        let body = UnmodeledArc::clone(&child.spec.body);
        let name = child.spec.name.clone();
        let heartbeat = child.spec.heartbeat;
        let start_timeout = child.spec.start_timeout;
        let shutdown = child.spec.shutdown;
        let restarts = child.restarts;
        let spawned = thread::Builder::new()
            .name(name.clone())
            .spawn(move || child_main(ctx, body));
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => {
                let reason = ExitReason::Error(format!("cannot spawn a thread: {e}"));
                self.children[idx].last_exit = Some(reason.clone());
                self.emit(Event::ChildStartFailed {
                    child: name,
                    reason: reason.clone(),
                });
                return Err(StartFailure {
                    reason,
                    abandoned: false,
                });
            }
        };
        let starting = Starting {
            token: &token,
            shutdown,
        };
        self.start_stopped_by = None;
        let mut until = self.after(start_timeout);
        if self.stop_requested {
            until = until.earlier(self.stop_start(&starting));
        }
        match self.expect(id, gen, true, until, Some(starting)) {
            Some(Msg::Ready { .. }) => {
                let now = self.now();
                let idx = self.index(id).expect("the child being started is present");
                self.children[idx].state = State::Running(Run {
                    gen,
                    token,
                    thread,
                    started_at: now,
                    beats,
                    seen: 0,
                    check_at: heartbeat.and_then(|interval| now.checked_add(interval)),
                });
                self.emit(Event::ChildStarted {
                    child: name,
                    restarts,
                });
                Ok(())
            }
            Some(Msg::Exited { outcome, .. }) => {
                let _ = thread.join();
                // A start that returns after a stop fired its token was stopped, as a
                // running child that returns then is (nothing else fires it here).
                let reason = match outcome {
                    Outcome::Panic(m) => ExitReason::Panic(m),
                    _ if token.is_cancelled() => ExitReason::Shutdown,
                    outcome => outcome.reason(),
                };
                let idx = self.index(id).expect("the child being started is present");
                self.children[idx].last_exit = Some(reason.clone());
                self.emit(Event::ChildStartFailed {
                    child: name,
                    reason: reason.clone(),
                });
                Err(StartFailure {
                    reason,
                    abandoned: false,
                })
            }
            Some(_) => unreachable!("`expect` returns only the messages it waits for"),
            None => {
                // The start timed out, or a stop's wait for it ran out: stop the run as a
                // running child is stopped, within the stop's deadline if there was one. A
                // late `Ready` is set aside and ignored; only the thread's `Exited` counts.
                let stopped_by = self.start_stopped_by.take();
                token.cancel();
                let until = stopped_by.unwrap_or_else(|| self.stop_wait(shutdown));
                let exited = match self.expect(id, gen, false, until, None) {
                    Some(Msg::Exited { outcome, .. }) => {
                        let _ = thread.join();
                        Some(outcome)
                    }
                    _ => {
                        self.abandoned.push(Abandoned {
                            id,
                            gen,
                            name: name.clone(),
                            thread,
                        });
                        None
                    }
                };
                let abandoned = exited.is_none();
                let reason = match (stopped_by, exited) {
                    (None, _) => ExitReason::StartTimeout(start_timeout),
                    (Some(_), Some(Outcome::Panic(m))) => ExitReason::Panic(m),
                    (Some(_), Some(_)) => ExitReason::Shutdown,
                    (Some(_), None) => ExitReason::Killed,
                };
                let idx = self.index(id).expect("the child being started is present");
                self.children[idx].last_exit = Some(reason.clone());
                self.emit(Event::ChildStartFailed {
                    child: name,
                    reason: reason.clone(),
                });
                Err(StartFailure { reason, abandoned })
            }
        }
    }

    /// Stops child `id` if it runs, under its shutdown spec, and returns how it ended;
    /// its state becomes `Stopped`.
    fn stop(&mut self, id: u64, cause: Cause) -> Option<ExitReason> {
        let idx = self.index(id)?;
        let child = &mut self.children[idx];
        let State::Running(run) = std::mem::replace(&mut child.state, State::Stopped) else {
            return None;
        };
        let shutdown = child.spec.shutdown;
        let name = child.spec.name.clone();
        let Run {
            gen, token, thread, ..
        } = run;
        // An exit already on its way is the child's own, not a shutdown.
        let reason = if let Some(Msg::Exited { outcome, .. }) =
            self.expect(id, gen, false, Wait::Now, None)
        {
            let _ = thread.join();
            outcome.reason()
        } else {
            token.cancel();
            let until = self.stop_wait(shutdown);
            match self.expect(id, gen, false, until, None) {
                Some(Msg::Exited { outcome, .. }) => {
                    let _ = thread.join();
                    match (outcome, cause) {
                        (Outcome::Panic(m), _) => ExitReason::Panic(m),
                        (_, Cause::Shutdown) => ExitReason::Shutdown,
                        (_, Cause::Hung) => ExitReason::Hung,
                    }
                }
                _ => {
                    self.abandoned.push(Abandoned {
                        id,
                        gen,
                        name: name.clone(),
                        thread,
                    });
                    ExitReason::Killed
                }
            }
        };
        if let Some(idx) = self.index(id) {
            self.children[idx].last_exit = Some(reason.clone());
        }
        self.emit(Event::ChildExited {
            child: name,
            reason: reason.clone(),
        });
        Some(reason)
    }

    /// Joins an abandoned thread whose exit just arrived.
    fn reap(&mut self, id: u64, gen: u64) {
        if let Some(pos) = self
            .abandoned
            .iter()
            .position(|a| a.id == id && a.gen == gen)
        {
            let _ = self.abandoned.remove(pos).thread.join();
        }
    }

    /// Stops the children started so far, in reverse (a failed initial start).
    fn stop_started(&mut self) {
        let ids: Vec<u64> = self.children.iter().rev().map(|c| c.id).collect();
        for id in ids {
            self.stop(id, Cause::Shutdown);
        }
    }

    /// Closes the mailbox: calls still queued get "supervisor stopped".
    fn finish(&mut self) {
        discard(std::mem::take(&mut self.deferred));
        discard(self.mailbox.close());
        discard(std::mem::take(&mut self.children));
    }

    // ---- the event loop ----

    fn event_loop(&mut self) -> Result<ShutdownReport, SupervisorError> {
        loop {
            if self.stop_requested {
                return Ok(self.shutdown());
            }
            self.timers()?;
            if self.stop_requested {
                continue;
            }
            let until = self.next_deadline().map_or(Wait::Forever, Wait::Until);
            let Some(msg) = self.next(until) else {
                continue;
            };
            match msg {
                Msg::Stop => self.stop_requested = true,
                Msg::Ready { .. } => {}
                Msg::Exited { id, gen, outcome } => self.exited(id, gen, outcome)?,
                Msg::Call(call) => self.call(call),
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.children
            .iter()
            .filter_map(|c| match &c.state {
                State::Running(run) => run.check_at,
                State::Restarting { at, .. } => Some(*at),
                State::Stopped => None,
            })
            .min()
    }

    /// A run ended on its own.
    fn exited(&mut self, id: u64, gen: u64, outcome: Outcome) -> Result<(), SupervisorError> {
        let current = self.index(id).filter(
            |&idx| matches!(&self.children[idx].state, State::Running(run) if run.gen == gen),
        );
        let Some(idx) = current else {
            self.reap(id, gen);
            return Ok(());
        };
        let child = &mut self.children[idx];
        let State::Running(run) = std::mem::replace(&mut child.state, State::Stopped) else {
            unreachable!("checked above");
        };
        let _ = run.thread.join();
        let reason = outcome.reason();
        child.last_exit = Some(reason.clone());
        let name = child.spec.name.clone();
        self.emit(Event::ChildExited {
            child: name,
            reason: reason.clone(),
        });
        self.after_exit(id, &reason, run.started_at)
    }

    /// Applies the restart type, intensity and strategy to a child that stopped.
    fn after_exit(
        &mut self,
        id: u64,
        reason: &ExitReason,
        started_at: Instant,
    ) -> Result<(), SupervisorError> {
        let Some(idx) = self.index(id) else {
            return Ok(());
        };
        let restart = match self.children[idx].spec.restart {
            Restart::Permanent => true,
            Restart::Transient => reason.is_abnormal(),
            Restart::Temporary => false,
        };
        if !restart {
            if self.children[idx].spec.restart == Restart::Temporary || self.cfg.dynamic {
                self.remove(id);
            }
            return Ok(());
        }
        if self.stop_requested {
            // An exit racing a shutdown is never restarted.
            return Ok(());
        }
        self.count_restart()?;
        let now = self.now();
        let delay = self.next_delay(idx, now.saturating_duration_since(started_at));
        let strategy = if self.cfg.dynamic {
            Strategy::OneForOne
        } else {
            self.cfg.strategy
        };
        let group: Vec<u64> = match strategy {
            Strategy::OneForOne => vec![id],
            Strategy::OneForAll => self.children.iter().map(|c| c.id).collect(),
            Strategy::RestForOne => self.children[idx..].iter().map(|c| c.id).collect(),
        };
        let members: Vec<u64> = group
            .iter()
            .copied()
            .filter(|&g| {
                g == id
                    || self
                        .index(g)
                        .is_some_and(|i| !matches!(self.children[i].state, State::Stopped))
            })
            .collect();
        for &other in members.iter().rev() {
            if other != id {
                self.stop(other, Cause::Shutdown);
            }
        }
        self.schedule(&members, now, delay);
        Ok(())
    }

    /// The backoff delay before the next restart of child `idx`, which ran for `ran`.
    fn next_delay(&mut self, idx: usize, ran: Duration) -> Duration {
        let backoff = self.children[idx].spec.backoff.unwrap_or(self.cfg.backoff);
        let unit = self.random();
        let child = &mut self.children[idx];
        if ran >= backoff.stable_period() {
            child.consecutive = 0;
        }
        child.consecutive = child.consecutive.saturating_add(1);
        backoff.delay(child.consecutive, unit)
    }

    /// Marks `members` as restarting together after `delay`; temporary ones are dropped.
    fn schedule(&mut self, members: &[u64], now: Instant, delay: Duration) {
        let batch = self.next_batch;
        self.next_batch += 1;
        let at = now.checked_add(delay).unwrap_or(now);
        for &m in members {
            let Some(i) = self.index(m) else { continue };
            if self.children[i].spec.restart == Restart::Temporary {
                discard(self.children.remove(i));
                continue;
            }
            self.children[i].state = State::Restarting {
                at,
                after: delay,
                batch,
            };
        }
    }

    /// Counts one restart; gives up if that makes more than `max_restarts` within
    /// `period` (the window includes its edge).
    fn count_restart(&mut self) -> Result<(), SupervisorError> {
        let now = self.now();
        self.window.push_back(now);
        while let Some(&oldest) = self.window.front() {
            if now.saturating_duration_since(oldest) > self.cfg.period {
                self.window.pop_front();
            } else {
                break;
            }
        }
        if self.window.len() > self.cfg.max_restarts as usize {
            self.emit(Event::IntensityExceeded {
                max_restarts: self.cfg.max_restarts,
                period: self.cfg.period,
            });
            self.shutdown();
            return Err(SupervisorError::IntensityExceeded {
                supervisor: self.cfg.name.clone(),
                max_restarts: self.cfg.max_restarts,
                period: self.cfg.period,
            });
        }
        Ok(())
    }

    /// Heartbeat checks and restarts that are due.
    fn timers(&mut self) -> Result<(), SupervisorError> {
        let now = self.now();
        let mut hung = Vec::new();
        for child in &mut self.children {
            let State::Running(run) = &mut child.state else {
                continue;
            };
            let (Some(check_at), Some(interval)) = (run.check_at, child.spec.heartbeat) else {
                continue;
            };
            if check_at > now {
                continue;
            }
            let beats = run.beats.load(Ordering::Relaxed);
            if beats != run.seen {
                run.seen = beats;
                run.check_at = now.checked_add(interval);
            } else {
                hung.push((child.id, run.started_at));
            }
        }
        for (id, started_at) in hung {
            if let Some(reason) = self.stop(id, Cause::Hung) {
                self.after_exit(id, &reason, started_at)?;
            }
        }
        // Each batch due now is tried once per turn of the loop, so messages are served
        // between retries of a start that keeps failing.
        let mut due: Vec<u64> = Vec::new();
        for child in &self.children {
            if let State::Restarting { at, batch, .. } = child.state {
                if at <= now && !due.contains(&batch) {
                    due.push(batch);
                }
            }
        }
        for batch in due {
            if self.stop_requested {
                break;
            }
            let members: Vec<u64> = self
                .children
                .iter()
                .filter(|c| matches!(c.state, State::Restarting { batch: b, .. } if b == batch))
                .map(|c| c.id)
                .collect();
            self.restart_batch(&members)?;
        }
        Ok(())
    }

    /// Starts a batch of restarting children in start order. If one fails its start, the
    /// ones already started are stopped again, the failure counts toward intensity, and
    /// the whole batch is retried after the next backoff delay.
    fn restart_batch(&mut self, members: &[u64]) -> Result<(), SupervisorError> {
        let mut started = Vec::new();
        for &m in members {
            let Some(idx) = self.index(m) else { continue };
            let State::Restarting { after, .. } = self.children[idx].state else {
                continue;
            };
            if self.stop_requested {
                // The rest of the batch stays pending; the shutdown cancels it.
                return Ok(());
            }
            self.children[idx].restarts = self.children[idx].restarts.saturating_add(1);
            match self.start(m) {
                Ok(()) => {
                    started.push(m);
                    let child = &self.children[self.index(m).expect("just started")];
                    let event = Event::ChildRestarted {
                        child: child.spec.name.clone(),
                        attempt: child.restarts,
                        after,
                    };
                    self.emit(event);
                }
                Err(_) => {
                    for &s in started.iter().rev() {
                        self.stop(s, Cause::Shutdown);
                    }
                    if self.stop_requested {
                        return Ok(());
                    }
                    self.count_restart()?;
                    let now = self.now();
                    let idx = self
                        .index(m)
                        .expect("a failed start leaves the child present");
                    let delay = self.next_delay(idx, Duration::ZERO);
                    self.schedule(members, now, delay);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Stops every child in reverse start order and cancels pending restarts.
    fn shutdown(&mut self) -> ShutdownReport {
        self.stop_requested = true;
        self.emit(Event::ShutdownStarted);
        let ids: Vec<u64> = self.children.iter().rev().map(|c| c.id).collect();
        for id in ids {
            let Some(idx) = self.index(id) else { continue };
            match self.children[idx].state {
                State::Running(_) => {
                    self.stop(id, Cause::Shutdown);
                }
                State::Restarting { .. } => self.children[idx].state = State::Stopped,
                State::Stopped => {}
            }
        }
        // Abandoned threads that have returned since are joined.
        let mut rest = VecDeque::new();
        while let Some(msg) = self
            .deferred
            .pop_front()
            .or_else(|| self.mailbox.try_recv())
        {
            match msg {
                Msg::Exited { id, gen, .. } => self.reap(id, gen),
                other => rest.push_back(other),
            }
        }
        self.deferred = rest;
        let abandoned: Vec<String> = self.abandoned.iter().map(|a| a.name.clone()).collect();
        self.emit(Event::ShutdownCompleted {
            abandoned: abandoned.len(),
        });
        ShutdownReport { abandoned }
    }

    // ---- handle calls ----

    fn call(&mut self, call: Call) {
        match call {
            Call::Which(reply) => reply.send(self.infos()),
            Call::Terminate(name, reply) => reply.send(self.terminate(&name)),
            Call::Restart(name, reply) => reply.send(self.restart_child(&name)),
            Call::Start(spec, reply) => reply.send(self.start_child(spec)),
            Call::Delete(name, reply) => reply.send(self.delete(&name)),
        }
    }

    fn infos(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo {
                name: c.spec.name.clone(),
                state: match c.state {
                    State::Running(_) => ChildState::Running,
                    State::Restarting { .. } => ChildState::Restarting,
                    State::Stopped => ChildState::Stopped,
                },
                restarts: c.restarts,
                last_exit: c.last_exit.clone(),
            })
            .collect()
    }

    fn terminate(&mut self, name: &str) -> Result<(), ChildError> {
        let idx = self
            .find(name)
            .ok_or_else(|| ChildError::UnknownChild(name.to_owned()))?;
        let id = self.children[idx].id;
        match self.children[idx].state {
            State::Running(_) => {
                self.stop(id, Cause::Shutdown);
            }
            State::Restarting { .. } => self.children[idx].state = State::Stopped,
            State::Stopped => {}
        }
        if let Some(idx) = self.index(id) {
            if self.children[idx].spec.restart == Restart::Temporary || self.cfg.dynamic {
                discard(self.children.remove(idx));
            }
        }
        Ok(())
    }

    fn restart_child(&mut self, name: &str) -> Result<(), ChildError> {
        let idx = self
            .find(name)
            .ok_or_else(|| ChildError::UnknownChild(name.to_owned()))?;
        match self.children[idx].state {
            State::Running(_) => Err(ChildError::Running(name.to_owned())),
            State::Restarting { .. } => Err(ChildError::Restarting(name.to_owned())),
            State::Stopped => {
                let id = self.children[idx].id;
                self.start(id)
                    .map_err(|failure| failure.into_child_error(name.to_owned()))
            }
        }
    }

    fn start_child(&mut self, spec: ChildSpec) -> Result<(), ChildError> {
        spec.validate()?;
        if let Some(idx) = self.find(&spec.name) {
            return Err(match self.children[idx].state {
                State::Running(_) => ChildError::AlreadyRunning(spec.name),
                _ => ChildError::AlreadyPresent(spec.name),
            });
        }
        let name = spec.name.clone();
        let id = self.push(spec);
        self.start(id).map_err(|failure| {
            self.remove(id);
            failure.into_child_error(name)
        })
    }

    fn delete(&mut self, name: &str) -> Result<(), ChildError> {
        let idx = self
            .find(name)
            .ok_or_else(|| ChildError::UnknownChild(name.to_owned()))?;
        match self.children[idx].state {
            State::Running(_) => Err(ChildError::Running(name.to_owned())),
            State::Restarting { .. } => Err(ChildError::Restarting(name.to_owned())),
            State::Stopped => {
                discard(self.children.remove(idx));
                Ok(())
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn random_draws_stay_in_the_unit_interval() {
        let (reply, _pending) = crate::mailbox::oneshot::<()>();
        drop(reply);
        let mut rt = Runtime {
            cfg: Config {
                name: "t".into(),
                strategy: Strategy::OneForOne,
                max_restarts: 3,
                period: Duration::from_secs(5),
                backoff: RestartBackoff::none(),
                clock: UnmodeledArc::new(patterns_core::SystemClock),
                on_event: None,
                dynamic: false,
            },
            mailbox: Arc::new(Mailbox::default()),
            parker: Arc::new(Parker::new()),
            children: Vec::new(),
            next_id: 0,
            next_batch: 0,
            window: VecDeque::new(),
            deferred: VecDeque::new(),
            abandoned: Vec::new(),
            stop_requested: false,
            start_stopped_by: None,
            rng: 1,
        };
        for _ in 0..10_000 {
            let u = rt.random();
            assert!((0.0..1.0).contains(&u));
        }
    }
}

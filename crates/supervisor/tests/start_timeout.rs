//! Start timeouts: a child that never signals `ready` fails its start once its
//! `start_timeout` passes on the supervisor's clock — token fired, thread joined or
//! abandoned under its shutdown spec — instead of blocking the supervisor forever. Time
//! moves only on a `ManualClock`; every wait on a thread is bounded by `PATIENCE`.

mod common;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patterns_core::ManualClock;
use supervisor::{
    BuildError, ChildContext, ChildError, ChildSpec, ChildState, Event, ExitReason, Shutdown,
    StartError, Supervisor, DEFAULT_START_TIMEOUT,
};

use common::{eventually, ordered_log, wait_for, Log, PATIENCE};

const TIMEOUT: Duration = Duration::from_secs(2);
const HOUR: Duration = Duration::from_secs(3600);

/// Runs `f` on its own thread; its result arrives on the returned receiver.
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// A sender that child bodies (`Fn + Sync`) can share.
fn shared<T>(tx: Sender<T>) -> Arc<Mutex<Sender<T>>> {
    Arc::new(Mutex::new(tx))
}

/// Waits until the supervisor parks on the manual clock (for a start's or a stop's
/// deadline); panics after `PATIENCE`.
fn until_parked(clock: &ManualClock) {
    assert!(
        eventually(|| clock.sleepers() == 1),
        "the supervisor never parked on the clock"
    );
}

/// A child that is ready at once and logs `stop:<name>` when its token fires.
fn steady(name: &'static str, log: &Arc<Mutex<Vec<String>>>) -> ChildSpec {
    let log = Arc::clone(log);
    ChildSpec::new(name, move |ctx: &ChildContext| {
        log.lock().unwrap().push(format!("start:{name}"));
        ctx.ready();
        ctx.cancel_token().wait();
        log.lock().unwrap().push(format!("stop:{name}"));
        Ok::<(), String>(())
    })
}

/// What a test sees of a [`stubborn`] child, and how it lets it go.
struct Stubborn {
    /// Lets the body return.
    release: Sender<()>,
    /// A message when the body began.
    began: Receiver<()>,
    /// A message when its token fired.
    fired: Receiver<()>,
    /// A message when the body returned.
    ended: Receiver<()>,
}

impl Stubborn {
    /// Lets the (abandoned) body return, and waits until it has.
    fn release(&self) {
        self.release.send(()).unwrap();
        self.ended.recv_timeout(PATIENCE).unwrap();
    }
}

/// A child named `stubborn` that neither signals `ready` nor looks at its token, until
/// the test releases it.
fn stubborn() -> (ChildSpec, Stubborn) {
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let (began_tx, began) = mpsc::channel();
    let began_tx = shared(began_tx);
    let (fired_tx, fired) = mpsc::channel();
    let fired_tx = shared(fired_tx);
    let (ended_tx, ended) = mpsc::channel();
    let ended_tx = shared(ended_tx);
    let spec = ChildSpec::new("stubborn", move |ctx: &ChildContext| {
        let fired_tx = Arc::clone(&fired_tx);
        let _watch = ctx.cancel_token().on_cancel(move |_| {
            let _ = fired_tx.lock().unwrap().send(());
        });
        let _ = began_tx.lock().unwrap().send(());
        released.lock().unwrap().recv_timeout(PATIENCE).unwrap();
        let _ = ended_tx.lock().unwrap().send(());
        Ok::<(), String>(())
    });
    let seen = Stubborn {
        release,
        began,
        fired,
        ended,
    };
    (spec, seen)
}

/// The initial start: a child that never calls `ready` (but returns once its token
/// fires) fails the start when its timeout passes; the child started before it is
/// stopped, and the forgetful child's thread is joined, not abandoned.
#[test]
fn a_child_that_never_signals_ready_fails_the_start_after_its_timeout() {
    let clock = ManualClock::new();
    let log = ordered_log();
    let (began_tx, began) = mpsc::channel();
    let began_tx = shared(began_tx);
    let forgetful = {
        let log = Arc::clone(&log);
        ChildSpec::new("forgetful", move |ctx: &ChildContext| {
            let _ = began_tx.lock().unwrap().send(());
            ctx.cancel_token().wait(); // never calls `ready`
            log.lock().unwrap().push("cancelled:forgetful".to_owned());
            Ok::<(), String>(())
        })
        .start_timeout(TIMEOUT)
    };
    let (events, rx) = Log::new();
    let builder = Supervisor::builder("forgetful")
        .clock(clock.clone())
        .on_event(events.hook())
        .child(steady("a", &log))
        .child(forgetful);
    let started = on_thread(move || builder.start().map(drop));

    // "a" is running once the forgetful child's body runs; the supervisor then parks
    // until the forgetful child's deadline.
    began.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock);
    clock.advance(TIMEOUT);

    let err = started.recv_timeout(PATIENCE).unwrap().unwrap_err();
    assert_eq!(
        err,
        StartError::StartTimeout {
            child: "forgetful".into(),
            timeout: TIMEOUT,
            abandoned: false,
        }
    );
    assert_eq!(
        err.to_string(),
        "child \"forgetful\" did not signal ready within 2s"
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["start:a", "cancelled:forgetful", "stop:a"]
    );
    wait_for(&rx, |e| {
        *e == Event::ChildStartFailed {
            child: "forgetful".into(),
            reason: ExitReason::StartTimeout(TIMEOUT),
        }
    });
}

/// A child that calls `ready` before its deadline has started, however close to the
/// deadline; the timeout plays no part once it runs.
#[test]
fn a_child_ready_just_before_its_timeout_still_starts() {
    let clock = ManualClock::new();
    let (go, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let (began_tx, began) = mpsc::channel();
    let began_tx = shared(began_tx);
    let slow = ChildSpec::new("slow", move |ctx: &ChildContext| {
        let _ = began_tx.lock().unwrap().send(());
        gate.lock().unwrap().recv_timeout(PATIENCE).unwrap();
        ctx.ready();
        ctx.cancel_token().wait();
        Ok::<(), String>(())
    })
    .start_timeout(TIMEOUT);
    let builder = Supervisor::builder("slow").clock(clock.clone()).child(slow);
    let started = on_thread(move || builder.start());

    began.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock);
    // A millisecond short of the deadline: the supervisor is not woken by the clock.
    clock.advance(TIMEOUT - Duration::from_millis(1));
    go.send(()).unwrap();
    let sup = started.recv_timeout(PATIENCE).unwrap().unwrap();

    clock.advance(HOUR);
    let children = sup.which_children().unwrap();
    assert_eq!(children[0].state, ChildState::Running);
    assert_eq!(children[0].last_exit, None);
    assert!(sup.shutdown().unwrap().abandoned.is_empty());
}

/// A child that ignores its token after its start timed out is waited for under its
/// shutdown timeout, then abandoned, and the error says so.
#[test]
fn a_timed_out_start_that_ignores_its_token_is_abandoned_after_its_shutdown_timeout() {
    let clock = ManualClock::new();
    let (spec, seen) = stubborn();
    let stubborn = spec
        .start_timeout(TIMEOUT)
        .shutdown(Shutdown::Timeout(Duration::from_secs(10)));
    let builder = Supervisor::builder("stubborn")
        .clock(clock.clone())
        .child(stubborn);
    let started = on_thread(move || builder.start().map(drop));

    seen.began.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock);
    clock.advance(TIMEOUT);
    // The token fires; the supervisor then parks until the shutdown deadline (its
    // earlier sleep has ended by then: the token fires after it).
    seen.fired.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock);
    clock.advance(Duration::from_secs(10));

    let err = started.recv_timeout(PATIENCE).unwrap().unwrap_err();
    assert_eq!(
        err,
        StartError::StartTimeout {
            child: "stubborn".into(),
            timeout: TIMEOUT,
            abandoned: true,
        }
    );
    assert_eq!(
        err.to_string(),
        "child \"stubborn\" did not signal ready within 2s; \
         its thread did not stop in time either and was abandoned"
    );
    // The abandoned thread still runs, detached, until it returns on its own.
    seen.release();
}

/// `start_child` of a child that never signals ready returns `StartTimeout` and does
/// not keep the spec; the supervisor goes on serving calls, and a thread it abandoned
/// (under `BrutalKill`) is reported by the shutdown while it still runs.
#[test]
fn start_child_that_times_out_is_not_kept_and_its_abandoned_thread_is_reported() {
    let clock = ManualClock::new();
    let log = ordered_log();
    let sup = Arc::new(
        Supervisor::builder("dyn")
            .clock(clock.clone())
            .child(steady("a", &log))
            .start()
            .unwrap(),
    );
    let (spec, seen) = stubborn();
    let stubborn = spec.start_timeout(TIMEOUT).shutdown(Shutdown::BrutalKill);
    let result = {
        let sup = Arc::clone(&sup);
        on_thread(move || sup.start_child(stubborn))
    };

    seen.began.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock);
    clock.advance(TIMEOUT);
    assert_eq!(
        result.recv_timeout(PATIENCE).unwrap(),
        Err(ChildError::StartTimeout {
            child: "stubborn".into(),
            timeout: TIMEOUT,
            abandoned: true,
        })
    );
    let names: Vec<String> = sup
        .which_children()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["a"]);

    let report = sup.shutdown().unwrap();
    assert_eq!(report.abandoned, ["stubborn"]);
    assert_eq!(*log.lock().unwrap(), ["start:a", "stop:a"]);
    seen.release();
}

/// A shutdown that arrives while a start waits for `ready` fires the starting run's
/// token and stops it within the child's shutdown spec — not after the rest of its start
/// timeout — and a run that ignores its token is abandoned and reported `Killed`, as a
/// running child would be (a review found the shutdown waiting out the start timeout
/// first: an hour here).
#[test]
fn a_shutdown_during_a_start_stops_it_within_its_shutdown_spec() {
    let clock = ManualClock::new();
    let sup = Arc::new(
        Supervisor::builder("dyn")
            .clock(clock.clone())
            .start()
            .unwrap(),
    );
    let (spec, seen) = stubborn();
    let stubborn = spec
        .start_timeout(HOUR)
        .shutdown(Shutdown::Timeout(TIMEOUT));
    let started = {
        let sup = Arc::clone(&sup);
        on_thread(move || sup.start_child(stubborn))
    };
    seen.began.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock); // on the start's hour
    let report = {
        let sup = Arc::clone(&sup);
        on_thread(move || sup.shutdown())
    };
    seen.fired.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock); // on the stop's deadline
    clock.advance(TIMEOUT);

    assert_eq!(
        started.recv_timeout(PATIENCE).unwrap(),
        Err(ChildError::StartFailed {
            child: "stubborn".into(),
            reason: ExitReason::Killed,
        })
    );
    let report = report.recv_timeout(PATIENCE).unwrap().unwrap();
    assert_eq!(report.abandoned, ["stubborn"]);
    seen.release();
}

/// A restart that times out is a failed restart: it counts toward intensity and is
/// retried, and the retry that signals ready runs.
#[test]
fn a_restart_that_times_out_is_retried() {
    let clock = ManualClock::new();
    let (fail, fails) = mpsc::channel::<()>();
    let fails = Mutex::new(fails);
    let (began_tx, began) = mpsc::channel();
    let began_tx = shared(began_tx);
    let flaky = ChildSpec::new("flaky", move |ctx: &ChildContext| {
        match ctx.restart_count() {
            0 => {
                ctx.ready();
                fails.lock().unwrap().recv_timeout(PATIENCE).unwrap();
                Err("boom")
            }
            1 => {
                // The first restart hangs in its start until its token fires.
                let _ = began_tx.lock().unwrap().send(());
                ctx.cancel_token().wait();
                Err("cancelled in start")
            }
            _ => {
                ctx.ready();
                ctx.cancel_token().wait();
                Ok(())
            }
        }
    })
    .start_timeout(TIMEOUT);
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("flaky")
        .clock(clock.clone())
        .intensity(10, HOUR)
        .on_event(events.hook())
        .child(flaky)
        .start()
        .unwrap();

    fail.send(()).unwrap();
    began.recv_timeout(PATIENCE).unwrap();
    until_parked(&clock);
    clock.advance(TIMEOUT);
    wait_for(
        &rx,
        |e| matches!(e, Event::ChildRestarted { child, attempt: 2, .. } if child == "flaky"),
    );
    let start_failures: Vec<Event> = events
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::ChildStartFailed { .. }))
        .collect();
    assert_eq!(
        start_failures,
        [Event::ChildStartFailed {
            child: "flaky".into(),
            reason: ExitReason::StartTimeout(TIMEOUT),
        }]
    );
    let child = &sup.which_children().unwrap()[0];
    assert_eq!((child.state, child.restarts), (ChildState::Running, 2));
    assert!(sup.shutdown().unwrap().abandoned.is_empty());
}

/// The default is documented, a zero timeout is refused, and `into_child` waits without
/// limit (its start is its children's starts).
#[test]
fn start_timeout_settings() {
    assert_eq!(DEFAULT_START_TIMEOUT, Duration::from_secs(5));
    let zero = Supervisor::builder("zero")
        .child(
            ChildSpec::new("z", |ctx: &ChildContext| {
                ctx.ready();
                Ok::<(), String>(())
            })
            .start_timeout(Duration::ZERO),
        )
        .start()
        .map(drop);
    assert_eq!(
        zero,
        Err(StartError::Build(BuildError::ZeroStartTimeout("z".into())))
    );
    let spec = Supervisor::builder("inner").into_child("inner");
    assert!(format!("{spec:?}").contains(&format!("start_timeout: {:?}", Duration::MAX)));
}

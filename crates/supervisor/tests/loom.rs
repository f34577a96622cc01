//! loom models of the supervisor's races, through the public API, exhaustive over every
//! interleaving up to `LOOM_MAX_PREEMPTIONS` preemptions.
//!
//! Loom has no model of time, so the models keep off every timed path: children stop
//! under `Shutdown::Infinity` and start without a limit (`start_timeout(Duration::MAX)`),
//! no heartbeat, no backoff (the supervisor then waits only on its parker, a loom
//! `Notify`); start timeouts are tested on a `ManualClock` in `tests/start_timeout.rs`.
//! Every thread — main, the supervisor, each run of each child, a caller — is a loom
//! thread; loom allows 5 in all, over a whole execution.
//!
//! Run with `cargo xtask loom supervisor`, or:
//! `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" cargo test -p supervisor --test loom --release`.
#![cfg(loom)]

use std::time::Duration;

use patterns_core::sync::atomic::{AtomicUsize, Ordering};
use patterns_core::sync::{thread, Arc, Mutex};
use supervisor::{
    ChildContext, ChildError, ChildSpec, ChildState, Event, ExitReason, Shutdown, Strategy,
    Supervisor,
};

const HOUR: Duration = Duration::from_secs(3600);

/// The bound `cargo xtask loom` (and CI) sets; a higher one is a deep run.
const DEFAULT_PREEMPTIONS: usize = 2;

/// A model explored at `LOOM_MAX_PREEMPTIONS`, but at most `cap` in a default run.
fn capped(cap: usize) -> loom::model::Builder {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(match model.preemption_bound {
        Some(bound) if bound > DEFAULT_PREEMPTIONS => bound,
        Some(bound) => bound.min(cap),
        None => cap,
    });
    model
}

/// A child fails right after its first start while the caller shuts the supervisor down:
/// whichever the supervisor sees first, nothing starts once the shutdown began, and the
/// shutdown completes with nothing abandoned.
#[test]
fn a_child_failure_racing_shutdown_is_not_restarted_after_it_began() {
    capped(2).check(|| {
        let (events, hook) = recorder();
        let sup = Supervisor::builder("m")
            .intensity(5, HOUR)
            .on_event(hook)
            .child(
                ChildSpec::new("c", |ctx: &ChildContext| {
                    ctx.ready();
                    if ctx.restart_count() == 0 {
                        return Err("boom");
                    }
                    ctx.cancel_token().wait();
                    Ok(())
                })
                .shutdown(Shutdown::Infinity)
                .start_timeout(Duration::MAX),
            )
            .start()
            .unwrap();
        let report = sup.shutdown().unwrap();
        assert!(report.abandoned.is_empty());
        assert_nothing_started_after_shutdown_began(&events.lock());
    });
}

/// Records every event, for the assertions after the run.
fn recorder() -> (
    Arc<Mutex<Vec<Event>>>,
    impl Fn(&Event) + Send + Sync + 'static,
) {
    let events: Arc<Mutex<Vec<Event>>> = Arc::new(Mutex::new(Vec::new()));
    let hook = {
        let events = Arc::clone(&events);
        move |e: &Event| events.lock().push(e.clone())
    };
    (events, hook)
}

/// No child started (or restarted) once the shutdown began, and it completed with
/// nothing abandoned.
fn assert_nothing_started_after_shutdown_began(events: &[Event]) {
    let began = events
        .iter()
        .position(|e| *e == Event::ShutdownStarted)
        .expect("shutdown started");
    assert!(
        !events[began..]
            .iter()
            .any(|e| matches!(e, Event::ChildStarted { .. } | Event::ChildRestarted { .. })),
        "{events:?}"
    );
    assert!(
        matches!(
            events.last(),
            Some(Event::ShutdownCompleted { abandoned: 0 })
        ),
        "{events:?}"
    );
}

/// `start_child` of a child that never signals ready on its own (it waits for its
/// token) races `shutdown`. Either the call is never served (`SupervisorStopped`, the
/// child never ran), or the start was in progress: the shutdown fired the starting run's
/// token, the start failed, and the shutdown completed. Either way no run is left
/// running and nothing started.
#[test]
fn a_shutdown_racing_a_start_in_progress_cancels_it() {
    capped(2).check(|| {
        let (events, hook) = recorder();
        let sup = Arc::new(Supervisor::builder("s").on_event(hook).start().unwrap());
        let runs = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let spec = {
            let runs = Arc::clone(&runs);
            let running = Arc::clone(&running);
            ChildSpec::new("slow", move |ctx: &ChildContext| {
                runs.fetch_add(1, Ordering::SeqCst);
                running.fetch_add(1, Ordering::SeqCst);
                ctx.cancel_token().wait(); // no `ready` before its token fires
                running.fetch_sub(1, Ordering::SeqCst);
                Err::<(), _>("stopped while starting")
            })
            .shutdown(Shutdown::Infinity)
            .start_timeout(Duration::MAX)
        };
        let starter = {
            let sup = Arc::clone(&sup);
            thread::spawn(move || sup.start_child(spec))
        };
        let report = sup.shutdown().unwrap();
        let started = starter.join().unwrap();
        assert!(report.abandoned.is_empty());
        assert_eq!(running.load(Ordering::SeqCst), 0, "a run is left running");
        match started {
            Err(ChildError::SupervisorStopped) => assert_eq!(runs.load(Ordering::SeqCst), 0),
            Err(ChildError::StartFailed { child, reason }) => {
                assert_eq!(child, "slow");
                assert_eq!(reason, ExitReason::Shutdown);
                assert_eq!(runs.load(Ordering::SeqCst), 1);
            }
            other => panic!("{other:?}"),
        }
        let events = events.lock();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::ChildStarted { child, .. } if child == "slow")),
            "{events:?}"
        );
        assert_nothing_started_after_shutdown_began(&events);
    });
}

/// A one-for-all restart of `a` and `b` races a shutdown. `a`'s restarted run signals
/// ready only once its token fires, which before the shutdown's own stop can only be
/// the supervisor receiving `Stop` during that start: so whenever `a` is restarted, the
/// shutdown has begun by the time the batch moves on, and `b` must not start again (the
/// group restart stops midway). `b` runs exactly once in every interleaving.
#[test]
fn a_shutdown_stops_a_group_restart_midway() {
    capped(2).check(|| {
        let (events, hook) = recorder();
        let b_runs = Arc::new(AtomicUsize::new(0));
        let a = ChildSpec::new("a", |ctx: &ChildContext| {
            if ctx.restart_count() == 0 {
                ctx.ready();
                return Err("boom");
            }
            // Ready (by returning `Ok`) only once the token fired.
            ctx.cancel_token().wait();
            Ok(())
        })
        .shutdown(Shutdown::Infinity)
        .start_timeout(Duration::MAX);
        let b = {
            let b_runs = Arc::clone(&b_runs);
            ChildSpec::new("b", move |ctx: &ChildContext| {
                b_runs.fetch_add(1, Ordering::SeqCst);
                ctx.ready();
                ctx.cancel_token().wait();
                Ok::<(), String>(())
            })
            .shutdown(Shutdown::Infinity)
            .start_timeout(Duration::MAX)
        };
        let sup = Supervisor::builder("g")
            .strategy(Strategy::OneForAll)
            .intensity(5, HOUR)
            .on_event(hook)
            .child(a)
            .child(b)
            .start()
            .unwrap();
        let report = sup.shutdown().unwrap();
        assert!(report.abandoned.is_empty());
        assert_eq!(b_runs.load(Ordering::SeqCst), 1, "{:?}", events.lock());
        assert_nothing_started_after_shutdown_began(&events.lock());
    });
}

/// `restart_child` races `terminate_child` on a running child: terminate always
/// succeeds; restart succeeds exactly when it came second (and the child then runs),
/// and is refused with `Running` when it came first (and the child ends stopped).
#[test]
fn restart_child_racing_terminate_child() {
    capped(2).check(|| {
        let sup = Arc::new(
            Supervisor::builder("r")
                .child(
                    ChildSpec::new("c", |ctx: &ChildContext| {
                        ctx.ready();
                        ctx.cancel_token().wait();
                        Ok::<(), String>(())
                    })
                    .shutdown(Shutdown::Infinity)
                    .start_timeout(Duration::MAX),
                )
                .start()
                .unwrap(),
        );
        let terminator = {
            let sup = Arc::clone(&sup);
            thread::spawn(move || sup.terminate_child("c"))
        };
        let restarted = sup.restart_child("c");
        assert_eq!(terminator.join().unwrap(), Ok(()));
        let state = sup.which_children().unwrap()[0].state;
        match restarted {
            Ok(()) => assert_eq!(state, ChildState::Running),
            Err(ChildError::Running(_)) => assert_eq!(state, ChildState::Stopped),
            Err(other) => panic!("{other:?}"),
        }
        assert!(sup.shutdown().unwrap().abandoned.is_empty());
    });
}

//! loom models of the supervisor's races, through the public API, exhaustive over every
//! interleaving up to `LOOM_MAX_PREEMPTIONS` preemptions.
//!
//! Loom has no model of time, so the models keep off every timed path: children stop
//! under `Shutdown::Infinity`, no heartbeat, no backoff (the supervisor then waits only on
//! its parker, a loom `Notify`). Every thread — main, the supervisor, its children, a
//! caller — is a loom thread; loom allows 5 in all.
//!
//! Run with `cargo xtask loom supervisor`, or:
//! `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" cargo test -p supervisor --test loom --release`.
#![cfg(loom)]

use std::time::Duration;

use patterns_core::sync::{thread, Arc, Mutex};
use supervisor::{ChildContext, ChildError, ChildSpec, ChildState, Event, Shutdown, Supervisor};

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
        let events: Arc<Mutex<Vec<Event>>> = Arc::new(Mutex::new(Vec::new()));
        let hook = {
            let events = Arc::clone(&events);
            move |e: &Event| events.lock().push(e.clone())
        };
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
                .shutdown(Shutdown::Infinity),
            )
            .start()
            .unwrap();
        let report = sup.shutdown().unwrap();
        assert!(report.abandoned.is_empty());
        let events = events.lock();
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
        assert!(matches!(
            events.last(),
            Some(Event::ShutdownCompleted { abandoned: 0 })
        ));
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
                    .shutdown(Shutdown::Infinity),
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

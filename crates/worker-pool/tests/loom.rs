//! loom models of the pool's shutdown, scaling, cancel and wait-for-all protocols,
//! exhaustive over every interleaving of their threads up to `LOOM_MAX_PREEMPTIONS`
//! preemptions.
//!
//! Each pool worker is a loom thread, so the models stay at 1–2 workers, a queue of 1–2
//! and at most 3 threads including main. Every pool times each job
//! (`sample_timings(1)`): the default samples at random, and an execution that takes a
//! different path when replayed would confuse the model checker. Loom has no time: no
//! model waits on a deadline, except the zero keep-alive of the scaling model, whose
//! timed pop is past its deadline before it starts and so only tries once.
//!
//! Run with `cargo xtask loom worker-pool`.
#![cfg(loom)]

use std::time::Duration;

use patterns_core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use patterns_core::sync::{thread, Arc, Condvar, Mutex};
use patterns_core::CancelToken;
use worker_pool::{Builder, GroupError, JobError, SubmitError, WorkerPool};

/// A pool of `workers` fixed workers and a queue of `capacity`, timing every job.
fn pool(workers: usize, capacity: usize) -> WorkerPool {
    builder()
        .workers(workers)
        .queue_capacity(capacity)
        .build()
        .unwrap()
}

fn builder() -> Builder {
    WorkerPool::builder().sample_timings(1).name("loom")
}

/// A one-shot signal that a job waits on where the pool cannot see it: only another
/// worker can run the job that raises it.
struct Signal {
    raised: Mutex<bool>,
    changed: Condvar,
}

impl Signal {
    fn new() -> Signal {
        Signal {
            raised: Mutex::new(false),
            changed: Condvar::new(),
        }
    }

    fn raise(&self) {
        *self.raised.lock() = true;
        self.changed.notify_all();
    }

    fn wait(&self) {
        let mut raised = self.raised.lock();
        while !*raised {
            raised = self.changed.wait(raised);
        }
    }
}

/// A model explored at `LOOM_MAX_PREEMPTIONS` preemptions, but never more than `cap`:
/// for the models whose schedules grow too many above it (each says how many).
fn capped(cap: usize) -> loom::model::Builder {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(model.preemption_bound.map_or(cap, |bound| bound.min(cap)));
    model
}

/// How many times each job ran, by job id.
fn run_counts(jobs: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..jobs).map(|_| AtomicUsize::new(0)).collect())
}

fn counts(runs: &[AtomicUsize]) -> Vec<usize> {
    runs.iter()
        .map(|runs| runs.load(Ordering::SeqCst))
        .collect()
}

/// A submitter races `shutdown` with two jobs on a one-place queue (so the second may
/// wait for room, and be woken by the close): each job is either accepted and run
/// exactly once, by the time `shutdown` returns, or refused with `ShutDown` and handed
/// back unrun.
#[test]
fn shutdown_racing_submit_runs_accepted_jobs_once_and_hands_back_the_rest() {
    loom::model(|| {
        let pool = Arc::new(pool(1, 1));
        let runs = run_counts(2);
        let submitter = {
            let pool = Arc::clone(&pool);
            let runs = Arc::clone(&runs);
            thread::spawn(move || {
                let (mut accepted, mut refused) = (Vec::new(), Vec::new());
                for id in 0..2 {
                    let runs = Arc::clone(&runs);
                    let job = move || {
                        runs[id].fetch_add(1, Ordering::SeqCst);
                        id
                    };
                    match pool.submit(job) {
                        Ok(handle) => accepted.push((id, handle)),
                        Err(SubmitError::ShutDown(job)) => refused.push((id, job)),
                        Err(other) => panic!("job {id}: {other:?} from a blocking submit"),
                    }
                }
                (accepted, refused)
            })
        };
        pool.shutdown();
        let (accepted, refused) = submitter.join().unwrap();

        assert_eq!(accepted.len() + refused.len(), 2);
        // Accepted means queued before the close, which `shutdown` drained: every
        // accepted job has run, once; no refused one has.
        let ran = counts(&runs);
        for (id, _) in &accepted {
            assert_eq!(ran[*id], 1, "accepted job {id} ran {} times", ran[*id]);
        }
        for (id, _) in &refused {
            assert_eq!(ran[*id], 0, "refused job {id} ran");
        }
        // Once refused, always refused: job 0 refused means job 1 is too.
        assert!(refused
            .iter()
            .all(|(id, _)| accepted.iter().all(|(a, _)| a < id)));
        for (id, handle) in accepted {
            assert_eq!(handle.join(), Ok(id));
        }
        // The refused closures come back whole.
        for (id, job) in refused {
            assert_eq!(job(), id);
        }
        assert_eq!(counts(&runs), [1, 1]);
        let stats = pool.stats();
        assert_eq!((stats.workers, stats.queued), (0, 0));
        assert_eq!(stats.submitted + stats.rejected, 2);
        assert_eq!(stats.completed, stats.submitted);
    });
}

/// `shutdown_now` races the worker taking two queued jobs: each job either runs on the
/// worker or is handed back as a `PendingJob`, exactly once, never both and never
/// neither; those handed back come in submission order; and every handle resolves —
/// with the value, or with `ShutDown` once its pending job is dropped.
///
/// The drain and the worker both take from the queue, so the worker may take job 1
/// after the drain took job 0: the jobs handed back need not be the last submitted.
#[test]
fn shutdown_now_racing_a_worker_runs_or_hands_back_each_job_once() {
    loom::model(|| {
        let pool = pool(1, 2);
        let started = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..2)
            .map(|id| {
                let started = Arc::clone(&started);
                pool.submit(move || {
                    started.lock().push(id);
                    id
                })
                .unwrap()
            })
            .collect();
        let pending = pool.shutdown_now();
        pool.shutdown(); // joins the worker
        assert!(pool.is_terminated());

        let by_worker = started.lock().clone();
        assert!(by_worker.windows(2).all(|w| w[0] < w[1]), "{by_worker:?}");
        let handed_back: Vec<usize> = (0..2).filter(|id| !by_worker.contains(id)).collect();
        assert_eq!(
            pending.len(),
            handed_back.len(),
            "the worker ran {by_worker:?}"
        );
        let stats = pool.stats();
        assert_eq!(stats.handed_back, pending.len() as u64);
        assert_eq!(stats.completed, by_worker.len() as u64);

        // Run the first job handed back here (its handle gets the value), drop the other.
        let mut pending = pending.into_iter();
        let ran_here = pending.next().map(|job| job.run()).map(|()| handed_back[0]);
        drop(pending);
        let mut ran = by_worker.clone();
        ran.extend(ran_here);
        assert_eq!(
            *started.lock(),
            ran,
            "the first job handed back is the oldest"
        );
        for (id, handle) in handles.into_iter().enumerate() {
            let expected = if ran.contains(&id) {
                Ok(id)
            } else {
                Err(JobError::ShutDown)
            };
            assert_eq!(
                handle.join(),
                expected,
                "job {id}; the worker ran {by_worker:?}"
            );
        }
    });
}

/// `shutdown_now` races the worker taking a job that runs until its token fires: if the
/// worker took it, `shutdown_now` fires its token, so it returns and its handle gets the
/// value it returned after the shutdown; if not, it comes back unrun, and dropping it
/// resolves the handle as `ShutDown`. Either way the worker exits and nothing hangs.
#[test]
fn shutdown_now_fires_the_token_of_the_job_it_races() {
    loom::model(|| {
        let pool = pool(1, 1);
        let handle = pool
            .submit_with(|cx| {
                cx.token().wait();
                1
            })
            .unwrap();
        let pending = pool.shutdown_now();
        let handed_back = pending.len();
        drop(pending);
        pool.shutdown();
        match handed_back {
            0 => assert_eq!(handle.join(), Ok(1)),
            1 => assert_eq!(handle.join(), Err(JobError::ShutDown)),
            n => panic!("{n} jobs handed back, of one"),
        }
        let stats = pool.stats();
        assert_eq!(stats.completed + stats.handed_back, 1);
    });
}

/// An extra worker retires (keep-alive zero: as soon as it finds the queue empty) while
/// a new job arrives: whichever way it goes, a worker is left for every queued job, so
/// each handle resolves with its value (a stranded job would leave `join` blocked, which
/// loom reports as a deadlock).
///
/// The second submit finds the one-place queue full unless the first worker has taken
/// job 0, and then starts the extra worker. Once both jobs are done both workers go idle
/// and one of them may retire; job 2 races that, and needs the one that must stay.
///
/// The heaviest model (three jobs, up to three threads): some of its schedules outrun
/// loom's default 1,000 branches (the pool's drop closes a channel per queue and
/// wake-up), so it allows 10,000; at 3 preemptions (`--deep`) it then runs for more than
/// 15 minutes, so it stays at 2 at most.
#[test]
fn scale_down_racing_submit_strands_no_job() {
    let mut model = capped(2);
    model.max_branches = 10_000;
    model.check(|| {
        let pool = builder()
            .min_workers(1)
            .max_workers(2)
            .keep_alive(Duration::ZERO)
            .queue_capacity(1)
            .build()
            .unwrap();
        let runs = run_counts(3);
        let submit = |id: usize| {
            let runs = Arc::clone(&runs);
            pool.submit(move || {
                runs[id].fetch_add(1, Ordering::SeqCst);
                id
            })
            .unwrap()
        };
        let (first, second) = (submit(0), submit(1));
        assert_eq!((first.join(), second.join()), (Ok(0), Ok(1)));
        assert_eq!(submit(2).join(), Ok(2));
        pool.shutdown();
        assert!(pool.is_terminated());
        assert_eq!(counts(&runs), [1, 1, 1]);
        let stats = pool.stats();
        assert_eq!((stats.submitted, stats.completed), (3, 3));
    });
}

/// What a cancellable job saw: whether it started, and its token.
#[derive(Default)]
struct Seen {
    started: AtomicBool,
    token: Mutex<Option<CancelToken>>,
}

/// `JobHandle::cancel` races the worker starting the job. Cancel lost (the job had
/// finished): the handle has the value. Cancel won: the handle reads `Cancelled`, and if
/// the job started anyway it was running, so its token has fired.
#[test]
fn cancel_racing_job_start_never_runs_a_cancelled_job_unsignalled() {
    loom::model(|| {
        let pool = pool(1, 1);
        let seen = Arc::new(Seen::default());
        let handle = {
            let seen = Arc::clone(&seen);
            pool.submit_with(move |cx| {
                *seen.token.lock() = Some(cx.token().clone());
                seen.started.store(true, Ordering::SeqCst);
                7
            })
            .unwrap()
        };
        let cancelled = handle.cancel();
        let result = handle.join();
        pool.shutdown(); // the job, if it runs, has ended
        let started = seen.started.load(Ordering::SeqCst);
        let stats = pool.stats();
        if cancelled {
            assert_eq!(result, Err(JobError::Cancelled));
            if started {
                let token = seen.token.lock().take().unwrap();
                assert!(
                    token.is_cancelled(),
                    "a job ran after its cancel, unsignalled"
                );
            }
            assert_eq!((stats.cancelled, stats.completed), (1, 0));
        } else {
            assert_eq!(result, Ok(7));
            assert!(started);
            assert_eq!((stats.cancelled, stats.completed), (0, 1));
        }
    });
}

/// A scope's jobs borrow a counter from the caller's stack: `scope` returns only once
/// both have run (the second waits for room on a one-place queue), and their writes are
/// visible to the caller after it, even through relaxed loads; no job runs after it.
///
/// This is the model for the lifetime erasure of scoped jobs (`Job::new_scoped`). The
/// first job is small enough to be stored in the job itself, the second is boxed and has
/// a handle, which outlives the scope and still reads the value.
#[test]
fn scope_returns_after_its_borrowing_jobs_ran() {
    loom::model(|| {
        let pool = pool(1, 1);
        let hits = AtomicUsize::new(0);
        let in_scope = Arc::new(AtomicBool::new(true));
        let late = Arc::new(AtomicBool::new(false));
        let handle = pool.scope(|s| {
            let hits = &hits;
            s.execute(move || {
                hits.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
            let (in_scope, late) = (Arc::clone(&in_scope), Arc::clone(&late));
            s.submit(move || {
                hits.fetch_add(1, Ordering::Relaxed);
                if !in_scope.load(Ordering::SeqCst) {
                    late.store(true, Ordering::SeqCst);
                }
                7
            })
            .unwrap()
        });
        in_scope.store(false, Ordering::SeqCst);
        assert_eq!(hits.load(Ordering::Relaxed), 2);
        assert_eq!(handle.join(), Ok(7));
        pool.shutdown();
        assert!(
            !late.load(Ordering::SeqCst),
            "a job ran after its scope returned"
        );
    });
}

/// What the second job of a group did.
#[derive(Default)]
struct Sibling {
    started: AtomicBool,
    saw_cancel: AtomicBool,
}

/// One job of a group fails while its sibling is queued behind it: `wait` returns the
/// failure, and only after the sibling is done, which never ran (the token fired before
/// it started) or, had it run, saw the token. One worker, so the sibling is still queued
/// when the first job fails; the race is the worker against `submit` and `wait`.
#[test]
fn group_failure_skips_the_queued_sibling() {
    loom::model(|| {
        let pool = pool(1, 2);
        let group = pool.group();
        let sibling = Arc::new(Sibling::default());
        group.submit(|_| Err("first")).unwrap();
        {
            let sibling = Arc::clone(&sibling);
            group
                .submit(move |cx| {
                    sibling
                        .saw_cancel
                        .store(cx.is_cancelled(), Ordering::SeqCst);
                    sibling.started.store(true, Ordering::SeqCst);
                    Ok(())
                })
                .unwrap();
        }
        let token = group.token().clone();
        assert_eq!(group.wait(), Err(GroupError::Failed("first")));
        assert!(token.is_cancelled());
        // Read before the shutdown: `wait` must have waited for the sibling.
        let started = sibling.started.load(Ordering::SeqCst);
        assert!(!started || sibling.saw_cancel.load(Ordering::SeqCst));
        pool.shutdown();
        assert_eq!(
            started,
            sibling.started.load(Ordering::SeqCst),
            "wait returned early"
        );
        // One worker runs the failing job to its end before it takes the sibling.
        assert!(!started, "the sibling ran after the group failed");
        let stats = pool.stats();
        assert_eq!((stats.completed, stats.failed, stats.cancelled), (1, 1, 1));
    });
}

/// A job submits a job, which goes onto its worker's own queue, and waits for it: only
/// the other worker can run it, and must be woken for it if it went to sleep on the
/// empty shared queue. A lost wake-up would leave both workers waiting for ever, which
/// loom reports as a deadlock.
///
/// Three threads that each take many locks (the pool's, the scope's, the queues'): at
/// 2 preemptions this and the next model run for more than 5 minutes each, so they stay
/// at 1, where a missing fence on either side of the wake-up, a push that does not
/// announce itself and a thief blind to batches each deadlock the model.
#[test]
fn an_idle_worker_steals_the_job_a_busy_one_queued_for_itself() {
    capped(1).check(|| {
        let pool = pool(2, 1);
        let child_ran = Signal::new();
        pool.scope(|s| {
            let child_ran = &child_ran;
            s.execute(move || {
                s.execute(move || child_ran.raise()).unwrap();
                child_ran.wait();
            })
            .unwrap();
        });
        pool.shutdown(); // the counts are exact once the workers exited
        let stats = pool.stats();
        assert_eq!((stats.completed, stats.queued), (2, 0));
    });
}

/// `shutdown_now` races a worker that takes queued jobs in a batch (the first to run,
/// the rest onto its own queue): every job runs or is handed back, exactly once; and
/// since `shutdown_now` waits for a batch on its way between the two queues, at most
/// one job — the one the worker was taking at that moment — starts after the tokens
/// fired. A job left between the queues would start after it, unsignalled by the drain.
#[test]
fn shutdown_now_hands_back_the_rest_of_a_batch_the_worker_took() {
    loom::model(|| {
        // A batch is a queue's capacity over twice the most workers: 2 here.
        let pool = pool(1, 4);
        let late = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let late = Arc::clone(&late);
                pool.submit_with(move |cx| {
                    if cx.is_cancelled() {
                        late.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .unwrap()
            })
            .collect();
        let pending = pool.shutdown_now();
        let handed_back = pending.len();
        drop(pending);
        pool.shutdown();
        let stats = pool.stats();
        assert_eq!(stats.completed + handed_back as u64, 3);
        assert_eq!(stats.handed_back, handed_back as u64);
        let late = late.load(Ordering::SeqCst);
        assert!(
            late <= 1,
            "{late} jobs started after shutdown_now fired the tokens"
        );
        let resolved = handles.into_iter().filter_map(|h| h.join().err()).count();
        assert_eq!(resolved, handed_back, "each job handed back reads ShutDown");
    });
}

/// A worker takes both queued jobs in one batch (if it finds both queued) and runs the first, which waits until
/// the second has run: the other worker must steal the second from the first's own
/// queue, woken for it if it sleeps. A lost wake-up (or a thief that does not look at
/// own queues filled by batches) deadlocks.
#[test]
fn the_rest_of_a_batch_is_stolen_when_its_first_job_waits_for_it() {
    capped(1).check(|| {
        // A batch is a queue's capacity over twice the most workers: 2 here.
        let pool = pool(2, 8);
        let second_ran = Arc::new(Signal::new());
        let first = {
            let second_ran = Arc::clone(&second_ran);
            pool.submit(move || second_ran.wait()).unwrap()
        };
        pool.execute(move || second_ran.raise()).unwrap();
        assert_eq!(first.join(), Ok(()));
        pool.shutdown();
        assert_eq!(pool.stats().completed, 2);
    });
}

/// A graceful `shutdown` races a job that submits a child onto its own queue and waits
/// for it (without a handle, so only the other worker can run it): the child is refused
/// with `ShutDown`, or accepted and run — never accepted after the other worker took its
/// last look and exited, which would leave the parent, and `shutdown`, waiting for ever.
///
/// Not exhaustive: at 1 preemption it misses the bugs it is for, and at 2 the whole
/// space takes more than 5 minutes (schedules of over 1,000 branches). It explores at 2
/// for 60 seconds (`LOOM_MAX_DURATION` sets another limit): a push that does not check
/// for the close, or a worker that exits without a last look, deadlocks within 3.
#[test]
fn shutdown_racing_a_job_s_own_submit_refuses_or_runs_the_child() {
    let mut model = capped(2);
    model.max_branches = 20_000;
    model.max_duration = model.max_duration.or(Some(Duration::from_secs(60)));
    model.check(|| {
        let pool = Arc::new(pool(2, 1));
        let parent = {
            let inner = Arc::clone(&pool);
            pool.submit(move || {
                let child_ran = Arc::new(Signal::new());
                let signal = Arc::clone(&child_ran);
                match inner.execute(move || signal.raise()) {
                    Ok(()) => {
                        child_ran.wait();
                        true
                    }
                    Err(SubmitError::ShutDown(_)) => false,
                    Err(other) => panic!("{other:?} for a job's own submit"),
                }
            })
            .unwrap()
        };
        pool.shutdown();
        let child_ran = parent.join().unwrap();
        let stats = pool.stats();
        assert_eq!(stats.completed, 1 + u64::from(child_ran));
    });
}

/// `JobHandle::cancel` races the worker taking the job: the job is counted exactly once,
/// as run or as cancelled, and a job cancelled while still queued (one that never
/// started) counted as cancelled, and left `queued`, by the time `cancel` returned — not
/// when the worker later skipped it, which must not count it again.
#[test]
fn cancel_racing_the_worker_counts_the_job_once() {
    loom::model(|| {
        let pool = pool(1, 1);
        let started = Arc::new(AtomicBool::new(false));
        let handle = {
            let started = Arc::clone(&started);
            pool.submit(move || {
                started.store(true, Ordering::SeqCst);
                7
            })
            .unwrap()
        };
        let cancelled = handle.cancel();
        let at_cancel = pool.stats();
        let result = handle.join();
        pool.shutdown();
        let started = started.load(Ordering::SeqCst);
        let stats = pool.stats();
        assert_eq!((stats.submitted, stats.queued), (1, 0));
        assert_eq!(stats.completed + stats.cancelled, 1, "{stats:?}");
        if !cancelled {
            assert_eq!(result, Ok(7));
            assert_eq!(stats.completed, 1);
            return;
        }
        assert_eq!(result, Err(JobError::Cancelled));
        assert_eq!(stats.cancelled, 1);
        if !started {
            assert_eq!(
                (at_cancel.cancelled, at_cancel.queued),
                (1, 0),
                "{at_cancel:?}"
            );
        }
    });
}

/// `purge` races the worker for a queue holding a job and a cancelled one: the cancelled
/// job is skipped once — by the purge or by the worker — and counted once, as cancelled;
/// the other runs once, wherever the purge left it.
#[test]
fn purge_racing_the_worker_skips_the_cancelled_job_once() {
    loom::model(|| {
        let pool = Arc::new(pool(1, 2));
        let runs = run_counts(2);
        let submit = |id: usize| {
            let runs = Arc::clone(&runs);
            pool.submit(move || {
                runs[id].fetch_add(1, Ordering::SeqCst);
                id
            })
            .unwrap()
        };
        let (first, second) = (submit(0), submit(1));
        let cancelled = second.cancel();
        let purger = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.purge())
        };
        assert_eq!(first.join(), Ok(0));
        let second = second.join();
        let purged = purger.join().unwrap();
        pool.shutdown();
        let ran = counts(&runs);
        assert_eq!(ran[0], 1);
        if cancelled {
            assert_eq!(second, Err(JobError::Cancelled));
        } else {
            assert_eq!((second, purged), (Ok(1), 0));
        }
        assert!(
            purged <= 1 && (purged == 0 || ran[1] == 0),
            "purged {purged}, ran {ran:?}"
        );
        let stats = pool.stats();
        assert_eq!(stats.submitted, 2);
        let expected = if cancelled { (1, 1) } else { (2, 0) };
        assert_eq!((stats.completed, stats.cancelled), expected, "{stats:?}");
    });
}

/// A graceful `shutdown` races a `purge` that holds the queued jobs on their way to the
/// place it keeps them: the worker must not exit before it has them, so both run, once.
/// A worker whose last look skipped the kept jobs would leave a handle waiting for ever,
/// which loom reports as a deadlock.
#[test]
fn shutdown_racing_a_purge_runs_the_jobs_it_kept() {
    loom::model(|| {
        let pool = Arc::new(pool(1, 2));
        let runs = run_counts(2);
        let handles: Vec<_> = (0..2)
            .map(|id| {
                let runs = Arc::clone(&runs);
                pool.submit(move || {
                    runs[id].fetch_add(1, Ordering::SeqCst);
                    id
                })
                .unwrap()
            })
            .collect();
        let purger = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.purge())
        };
        pool.shutdown();
        assert_eq!(purger.join().unwrap(), 0);
        for (id, handle) in handles.into_iter().enumerate() {
            assert_eq!(handle.join(), Ok(id));
        }
        assert_eq!(counts(&runs), [1, 1]);
        assert!(pool.is_terminated());
    });
}

/// `purge` takes the only queued job while the worker goes to sleep on the empty queue:
/// the purge must wake it for the job it kept, or nobody runs it (a deadlock to loom).
#[test]
fn purge_wakes_a_sleeping_worker_for_the_job_it_kept() {
    loom::model(|| {
        let pool = Arc::new(pool(1, 1));
        let handle = pool.submit(|| 5).unwrap();
        let purger = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.purge())
        };
        assert_eq!(handle.join(), Ok(5));
        assert_eq!(purger.join().unwrap(), 0);
        pool.shutdown();
        assert_eq!(pool.stats().completed, 1);
    });
}

/// Two submitters find the one-place queue full while the only worker's job is released,
/// freeing a place: with at most one blocked submitter, each is accepted (and runs once)
/// or refused at once as `Overloaded` with its job — never both refused, never `Full` —
/// and the count of blocked submitters ends at zero.
///
/// Three threads that may all block in the channel at once (two submitters on a full
/// queue, the worker on its empty side) plus the job's own wait: at 2 preemptions this
/// runs for more than 3 minutes, so it stays at 1 (15 s), where a cap off by one (both
/// refused) and a count that leaks fail it. Its longest schedules (every thread blocking
/// and waking, then the pool's drop closing its channels) take more than loom's default
/// 1,000 branches.
#[test]
fn blocked_submitter_cap_racing_a_slot_freeing() {
    let mut model = capped(1);
    model.max_branches = 10_000;
    model.check(|| {
        let pool = Arc::new(
            builder()
                .workers(1)
                .queue_capacity(1)
                .max_blocked_submitters(1)
                .build()
                .unwrap(),
        );
        let (started, gate) = (Arc::new(Signal::new()), Arc::new(Signal::new()));
        let held = {
            let (started, gate) = (Arc::clone(&started), Arc::clone(&gate));
            pool.submit(move || {
                started.raise();
                gate.wait();
                0
            })
            .unwrap()
        };
        started.wait();
        // Fills the queue.
        let queued = pool.submit(|| 1).unwrap();
        // Accepted, or refused as overloaded with the job back.
        let submit = |pool: &WorkerPool, value: i32| match pool.submit(move || value) {
            Ok(handle) => Ok(handle),
            Err(SubmitError::Overloaded(job)) => Err(job),
            Err(other) => panic!("{other:?} from a blocking submit under the cap"),
        };
        let submitter = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || submit(&pool, 2))
        };
        gate.raise();
        let mine = submit(&pool, 3);
        let theirs = submitter.join().unwrap();
        let mut refused = 0;
        for (value, outcome) in [(2, theirs), (3, mine)] {
            match outcome {
                Ok(handle) => assert_eq!(handle.join(), Ok(value)),
                Err(job) => {
                    refused += 1;
                    assert_eq!(job(), value);
                }
            }
        }
        assert!(refused <= 1, "both refused, with room coming");
        assert_eq!((held.join(), queued.join()), (Ok(0), Ok(1)));
        let stats = pool.stats();
        assert_eq!((stats.rejected, stats.blocked_submitters), (refused, 0));
    });
}

/// In a pool that idles out (`min_workers(0)`), a job is queued while the only worker
/// retires: the worker re-checks the queue after counting itself out, the submitter
/// checks for a live worker after its push (Dekker's pattern), so the job finds a
/// worker — the retiring one stays, or a new one starts. Either check missing strands
/// the second job, and its `join` waits for ever (a deadlock to loom).
#[test]
fn the_last_worker_retiring_races_a_submit_and_the_job_still_runs() {
    loom::model(|| {
        let pool = builder()
            .min_workers(0)
            .max_workers(1)
            .keep_alive(Duration::ZERO)
            .queue_capacity(1)
            .build()
            .unwrap();
        assert_eq!(pool.stats().workers, 0, "nothing starts before a job");
        assert_eq!(pool.submit(|| 0).unwrap().join(), Ok(0));
        assert_eq!(pool.submit(|| 1).unwrap().join(), Ok(1));
        pool.shutdown();
        assert!(pool.is_terminated());
        assert_eq!(pool.stats().completed, 2);
    });
}

/// A lower maximum races the idle workers going to sleep (with no time limit: they are
/// at the minimum): each reads the limits after taking the resize's watch, so one that
/// sleeps through the resize is woken by it, and exactly one of the two retires. Without
/// the wake-up, both sleep for ever and so does the wait for the exit hook.
#[test]
fn a_lower_maximum_wakes_a_sleeping_worker_to_retire() {
    loom::model(|| {
        let exited = Arc::new(Signal::new());
        let pool = {
            let exited = Arc::clone(&exited);
            builder()
                .workers(2)
                .on_thread_exit(move |_| exited.raise())
                .build()
                .unwrap()
        };
        pool.set_workers(1).unwrap();
        exited.wait();
        assert_eq!(pool.stats().workers, 1);
        assert_eq!(pool.submit(|| 2).unwrap().join(), Ok(2));
        pool.shutdown();
        assert!(pool.is_terminated());
    });
}

/// `wait_idle` races the end of the only job: it returns only once the job's closure has
/// returned, and it is woken — by the job's end, or by the worker's fenced look before it
/// sleeps — whichever way the waiter's count of itself and the worker's count of the end
/// cross. Without the worker's last look, the two can miss each other: both sleep.
#[test]
fn wait_idle_racing_the_job_s_end_returns_after_it() {
    loom::model(|| {
        let pool = pool(1, 1);
        let ran = Arc::new(AtomicBool::new(false));
        {
            let ran = Arc::clone(&ran);
            pool.execute(move || ran.store(true, Ordering::Relaxed))
                .unwrap();
        }
        assert!(pool.wait_idle());
        assert!(ran.load(Ordering::Relaxed), "returned before the job ended");
        pool.shutdown();
    });
}

/// A hand-off pool (`queue_capacity(0)`): a `try_submit` races the only worker getting
/// ready to take a job. It hands the job over (which then runs once) or refuses it as
/// full with the job back — never queues it, never loses it — and a blocking submit
/// after it waits until the worker takes its job.
#[test]
fn a_hand_off_submit_is_taken_by_a_waiting_worker_or_handed_back() {
    loom::model(|| {
        let pool = pool(1, 0);
        match pool.try_submit(|| 1) {
            Ok(handle) => assert_eq!(handle.join(), Ok(1)),
            Err(SubmitError::Full(job)) => assert_eq!(job(), 1),
            Err(other) => panic!("{other:?} from a hand-off try_submit"),
        }
        assert_eq!(pool.submit(|| 2).unwrap().join(), Ok(2));
        let stats = pool.stats();
        assert_eq!(stats.queued, 0);
        pool.shutdown();
        assert!(pool.is_terminated());
    });
}

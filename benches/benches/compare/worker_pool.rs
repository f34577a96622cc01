//! `worker-pool`: our pool beside the `threadpool` crate and rayon's `ThreadPool`, running
//! batches of independent jobs.
//!
//! * `worker-pool/tiny_1_submitter` — [`TINY_JOBS`] (1M) jobs, each one atomic increment,
//!   submitted from the benchmark's thread: the pool's own overhead per job.
//! * `worker-pool/tiny_4_submitters` — the same jobs submitted from 4 threads, 250k each:
//!   contention on the submit path.
//! * `worker-pool/medium_10us` — [`MEDIUM_JOBS`] (10k) jobs, each burning about 10 µs of
//!   CPU in a xorshift loop calibrated once (on first use) and printed to stderr: whether
//!   the overhead still shows once jobs do real work.
//!
//! Every pool has as many workers as the machine has cores
//! (`std::thread::available_parallelism()`; the value of every benchmark says how many,
//! e.g. `workers_2`) and is built once per benchmark, before the clock starts. One
//! iteration submits the batch and returns once every job has run; the clock covers both.
//! The contenders (the function ids):
//!
//! * `ours` — [`WorkerPool::execute`] per job (default settings: a queue of 4096 that makes
//!   the submitter wait when full), then the benchmark's thread parks until the last job
//!   unparks it (see [`Tally`]).
//! * `ours_scope` — [`WorkerPool::scope`] with [`Scope::execute`](worker_pool::Scope)
//!   per job; `scope` returns once all ran. With 4 submitters, the submitters are jobs
//!   of the scope, as in `rayon_scope` (below).
//! * `threadpool` — `threadpool::ThreadPool::execute` per job (an unbounded queue), then
//!   `join()`.
//! * `rayon_spawn` — `rayon::ThreadPool::spawn` per job from outside the pool (into its
//!   global injector queue), then the same park as `ours`.
//! * `rayon_scope` — `rayon::ThreadPool::scope` with `Scope::spawn` per job. Rayon runs
//!   the scope's body on one of the pool's workers, so jobs go onto that worker's own
//!   deque, which the other workers steal from: rayon's fast path, and not the same
//!   hand-off as the others', where an outside thread feeds the workers.
//!
//! With 4 submitters, `ours`, `threadpool` and `rayon_spawn` submit from 4 scoped threads
//! (`std::thread::scope`; our `WorkerPool` and rayon's `ThreadPool` are `Sync`, each
//! `threadpool` submitter gets a clone), spawned inside the clock (4 thread starts, tens
//! of µs, against an iteration of tens of ms). Rayon's scope has no outside submitters,
//! so `rayon_scope` spawns 4 submitter tasks in the scope, each spawning 250k jobs: with
//! 2 workers at most 2 of them run at once, and each pushes onto the deque of the worker
//! running it. `ours_scope` does the same: its 4 submitters are jobs of our scope, whose
//! submissions go onto their worker's own queue. On a 2-core machine the outside
//! submitters and 2 workers oversubscribe the cores, so those cases measure submitting
//! under contention and descheduling, not scaling.
//!
//! Every job is the same [`Job`] for every contender: an optional burn, then one relaxed
//! increment of a shared counter, with a compare to spot the last job. After each
//! iteration the counter is asserted to equal the batch size, so a contender that loses
//! jobs fails instead of looking fast.
//!
//! Sizes and time: sampling is flat with 10 samples, 1 s of warm-up and 3 s of
//! measurement (or 10 iterations, when those take longer), as in `bounded-buffer`. That
//! is 15 benchmarks of about 4–15 s each: a full run took 2.5 minutes on the 2-core bench
//! machine. Under `--test` each runs one iteration: about 2 seconds in all.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use worker_pool::WorkerPool;

use crate::support::flat_group;

/// Jobs per iteration of the tiny cases.
const TINY_JOBS: u64 = 1_000_000;

/// Jobs per iteration of `medium_10us`.
const MEDIUM_JOBS: u64 = 10_000;

/// The CPU time each job of `medium_10us` burns.
const MEDIUM_WORK: Duration = Duration::from_micros(10);

/// Submitting threads in `tiny_4_submitters`.
const SUBMITTERS: usize = 4;

/// Counts the jobs that ran, and wakes the benchmark's thread when the last one has.
///
/// The last job unparks the thread that made the tally (the benchmark's), which parks
/// until the count is reached: a wait that costs no job more than the compare, and
/// leaves the cores to the workers meanwhile (spinning would take one from them on a
/// 2-core machine). Contenders with their own wait (`join`, a scope) leave an unpark
/// token behind, which the next `park` consumes and the loop ignores.
struct Tally {
    hits: AtomicU64,
    waiter: Thread,
}

impl Tally {
    /// A tally for the calling thread, for the rest of the process: jobs given to a pool
    /// must be `'static`, and a `&'static` reference costs them nothing per job, where an
    /// `Arc` clone per job would. One per benchmark: a few bytes.
    fn leak() -> &'static Tally {
        Box::leak(Box::new(Tally {
            hits: AtomicU64::new(0),
            waiter: thread::current(),
        }))
    }

    /// Starts a batch. The previous batch has been waited for, so no job is in flight.
    fn reset(&self) {
        self.hits.store(0, Ordering::Relaxed);
    }

    /// Relaxed: the count is the only thing shared, and read-modify-writes of one
    /// location are totally ordered, so exactly one job sees `target`.
    fn hit(&self, target: u64) {
        if self.hits.fetch_add(1, Ordering::Relaxed) + 1 == target {
            self.waiter.unpark();
        }
    }

    /// Parks until `target` jobs have run.
    fn wait(&self, target: u64) {
        while self.hits.load(Ordering::Relaxed) < target {
            thread::park();
        }
    }

    /// Panics unless exactly `target` jobs ran.
    fn check(&self, target: u64) {
        assert_eq!(
            self.hits.load(Ordering::Relaxed),
            target,
            "jobs lost or repeated"
        );
    }
}

/// One job: `spins` rounds of [`burn`], then a hit on the tally. `Copy`, so every
/// contender's closure is the same 24 bytes moved in.
#[derive(Clone, Copy)]
struct Job {
    tally: &'static Tally,
    target: u64,
    spins: u64,
}

impl Job {
    fn run(self) {
        if self.spins != 0 {
            black_box(burn(self.spins));
        }
        self.tally.hit(self.target);
    }
}

/// `rounds` steps of xorshift64: a serial dependency chain the compiler can neither
/// vectorize nor skip.
fn burn(rounds: u64) -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15_u64);
    for _ in 0..black_box(rounds) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// The rounds of [`burn`] that take [`MEDIUM_WORK`] on this machine: the fastest of a
/// few timed runs (the machine is shared, so slower runs are interference), measured
/// once.
fn medium_spins() -> u64 {
    static SPINS: OnceLock<u64> = OnceLock::new();
    *SPINS.get_or_init(|| {
        const PROBE: u64 = 2_000_000;
        let fastest = (0..7)
            .map(|_| {
                let start = Instant::now();
                black_box(burn(PROBE));
                start.elapsed()
            })
            .min()
            .unwrap_or(Duration::from_millis(2));
        let spins =
            (PROBE as f64 * MEDIUM_WORK.as_secs_f64() / fastest.as_secs_f64()).max(1.0) as u64;
        eprintln!(
            "worker-pool/medium_10us: {spins} xorshift rounds ≈ {} µs",
            MEDIUM_WORK.as_micros()
        );
        spins
    })
}

/// The jobs `submitter` of `submitters` submits out of `jobs`.
fn share(jobs: u64, submitter: usize, submitters: usize) -> u64 {
    let (n, s) = (submitters as u64, submitter as u64);
    jobs * (s + 1) / n - jobs * s / n
}

/// Calls `submit(n)` for all `jobs`: once on this thread with one submitter, else once
/// on each of `submitters` scoped threads, with that submitter's [`share`], returning
/// when every submitter has.
fn fan_out(jobs: u64, submitters: usize, submit: impl Fn(u64) + Sync) {
    if submitters == 1 {
        submit(jobs);
    } else {
        let submit = &submit;
        thread::scope(|threads| {
            for p in 0..submitters {
                threads.spawn(move || submit(share(jobs, p, submitters)));
            }
        });
    }
}

/// A pool that runs a batch of jobs, implemented by ours and by each peer.
trait Pool: Sync + Sized {
    const NAME: &'static str;
    fn build(workers: usize) -> Self;
    /// Submits `jobs` copies of `job` (whose `target` is `jobs`) from `submitters`
    /// threads, and returns once all have run.
    fn run_batch(&self, job: Job, jobs: u64, submitters: usize);
}

/// Ours, with `execute`.
struct Ours(WorkerPool);

impl Pool for Ours {
    const NAME: &'static str = "ours";
    fn build(workers: usize) -> Self {
        Ours(WorkerPool::new(workers).unwrap())
    }
    fn run_batch(&self, job: Job, jobs: u64, submitters: usize) {
        fan_out(jobs, submitters, |n| {
            for _ in 0..n {
                if self.0.execute(move || job.run()).is_err() {
                    panic!("the pool refused a job");
                }
            }
        });
        job.tally.wait(jobs);
    }
}

/// Ours, with a scope.
struct OursScope(WorkerPool);

impl Pool for OursScope {
    const NAME: &'static str = "ours_scope";
    fn build(workers: usize) -> Self {
        OursScope(WorkerPool::new(workers).unwrap())
    }
    fn run_batch(&self, job: Job, jobs: u64, submitters: usize) {
        self.0.scope(|s| {
            let submit = move |n| {
                for _ in 0..n {
                    if s.execute(move || job.run()).is_err() {
                        panic!("the pool refused a job");
                    }
                }
            };
            if submitters == 1 {
                submit(jobs);
            } else {
                // As rayon's scope below: the submitters are jobs of the scope, whose
                // submissions go onto their worker's own queue.
                for p in 0..submitters {
                    let n = share(jobs, p, submitters);
                    if s.execute(move || submit(n)).is_err() {
                        panic!("the pool refused a job");
                    }
                }
            }
        });
    }
}

/// The `threadpool` crate: an unbounded channel behind a mutex, `join` to wait.
struct Threadpool(threadpool::ThreadPool);

impl Pool for Threadpool {
    const NAME: &'static str = "threadpool";
    fn build(workers: usize) -> Self {
        Threadpool(threadpool::ThreadPool::new(workers))
    }
    fn run_batch(&self, job: Job, jobs: u64, submitters: usize) {
        fan_out(jobs, submitters, |n| {
            // A clone per submitter, as the crate documents; with one submitter, one
            // clone per batch, nothing beside its jobs.
            let pool = self.0.clone();
            for _ in 0..n {
                pool.execute(move || job.run());
            }
        });
        self.0.join();
    }
}

/// Rayon's `ThreadPool::spawn` from outside the pool.
struct RayonSpawn(rayon::ThreadPool);

fn rayon_pool(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap()
}

impl Pool for RayonSpawn {
    const NAME: &'static str = "rayon_spawn";
    fn build(workers: usize) -> Self {
        RayonSpawn(rayon_pool(workers))
    }
    fn run_batch(&self, job: Job, jobs: u64, submitters: usize) {
        fan_out(jobs, submitters, |n| {
            for _ in 0..n {
                self.0.spawn(move || job.run());
            }
        });
        job.tally.wait(jobs);
    }
}

/// Rayon's `ThreadPool::scope`, whose body runs on one of the pool's workers.
struct RayonScope(rayon::ThreadPool);

impl Pool for RayonScope {
    const NAME: &'static str = "rayon_scope";
    fn build(workers: usize) -> Self {
        RayonScope(rayon_pool(workers))
    }
    fn run_batch(&self, job: Job, jobs: u64, submitters: usize) {
        self.0.scope(|s| {
            if submitters == 1 {
                for _ in 0..jobs {
                    s.spawn(move |_| job.run());
                }
            } else {
                // No outside thread can spawn into a rayon scope: the submitters are
                // tasks of the scope themselves (see the module's documentation).
                for p in 0..submitters {
                    s.spawn(move |s| {
                        for _ in 0..share(jobs, p, submitters) {
                            s.spawn(move |_| job.run());
                        }
                    });
                }
            }
        });
    }
}

/// The worker count for every pool: the machine's cores.
fn workers() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// `case` for contender `P`: `jobs` jobs of `spins()` rounds each from `submitters`
/// threads. `spins` is called inside the benchmark, so that `--list` does not calibrate.
fn bench<P: Pool>(c: &mut Criterion, case: &str, jobs: u64, submitters: usize, spins: fn() -> u64) {
    let workers = workers();
    // Few samples, flat sampling: iterations take milliseconds.
    let mut group = flat_group(c, format!("worker-pool/{case}"), jobs);
    let id = BenchmarkId::new(P::NAME, format!("workers_{workers}"));
    // Made on the first call of the routine, so only when the benchmark runs (not under
    // `--list`, nor when filtered out); criterion calls it again for every sample.
    let mut setup = None;
    group.bench_function(id, |b| {
        let (pool, job) = setup.get_or_insert_with(|| {
            let job = Job {
                tally: Tally::leak(),
                target: jobs,
                spins: spins(),
            };
            (P::build(workers), job)
        });
        let job = *job;
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                job.tally.reset();
                let start = Instant::now();
                pool.run_batch(job, jobs, submitters);
                elapsed += start.elapsed();
                job.tally.check(jobs);
            }
            elapsed
        });
    });
    group.finish();
}

/// `case` for every contender.
fn bench_case(c: &mut Criterion, case: &str, jobs: u64, submitters: usize, spins: fn() -> u64) {
    bench::<Ours>(c, case, jobs, submitters, spins);
    bench::<OursScope>(c, case, jobs, submitters, spins);
    bench::<Threadpool>(c, case, jobs, submitters, spins);
    bench::<RayonSpawn>(c, case, jobs, submitters, spins);
    bench::<RayonScope>(c, case, jobs, submitters, spins);
}

pub(crate) fn bench_all(c: &mut Criterion) {
    bench_case(c, "tiny_1_submitter", TINY_JOBS, 1, || 0);
    bench_case(c, "tiny_4_submitters", TINY_JOBS, SUBMITTERS, || 0);
    bench_case(c, "medium_10us", MEDIUM_JOBS, 1, medium_spins);
}

//! A job as the queue holds it: a task of any type, erased, stored in place when it is
//! small, and either run or abandoned exactly once, whatever path it leaves the pool by.

use core::fmt;
use core::mem::{self, MaybeUninit};
use std::time::Instant;

use crate::error::JobError;
use crate::scope::Count;
use crate::task::{catch, Outcome, RunEnv, Task};

/// The bytes of a task stored in the job itself: four words hold a closure that
/// captures three references or `Arc`s plus its bookkeeping (a scoped job's count, a
/// handle's slot), which is most small jobs. A larger task is boxed and the box stored
/// here instead.
///
/// Why not a `Box<dyn Task>` for every job: with one thread submitting and others
/// running, each job is allocated on one thread and freed on another, which glibc's
/// allocator serves from its locked arenas rather than the thread caches — 40% of the
/// time of a tiny job in a profile, more than the queue itself.
///
/// Why not more: a job is moved in and out of the queues by value, and a worker's own
/// queue of a job that submits many may hold hundreds of thousands; at four words plus
/// the table a job is 40 bytes.
type Storage = MaybeUninit<[usize; 4]>;

/// Whether a `T` is stored in place.
const fn fits<T>() -> bool {
    mem::size_of::<T>() <= mem::size_of::<Storage>()
        && mem::align_of::<T>() <= mem::align_of::<Storage>()
}

/// The erased task's operations, one table per task type.
struct VTable {
    /// Moves the task out of the storage and runs it.
    run: unsafe fn(&mut Storage, &RunEnv<'_>) -> Outcome,
    /// Moves the task out of the storage and abandons it.
    abandon: unsafe fn(&mut Storage, JobError),
    /// Asks the task in the storage, left in place, [`Task::doomed`].
    doomed: unsafe fn(&Storage) -> bool,
    /// Tells the task in the storage, left in place, [`Task::release`].
    release: unsafe fn(&Storage) -> bool,
    /// The storage holds a [`Scoped`] around the task.
    scoped: bool,
    /// The task is a [`Timed`] around the one submitted.
    timed: bool,
    /// Which of the two generations of [`Idle`](crate::idle::Idle) the job counts in.
    slot: u8,
}

/// The tables for `T` in generation slot `SLOT`, as constants, so that
/// `&VTableOf::<T, 0>::PLAIN` is `'static`.
struct VTableOf<T, const SLOT: u8>(T);

impl<T: Task, const SLOT: u8> VTableOf<T, SLOT> {
    const PLAIN: VTable = VTable {
        run: run::<T>,
        abandon: abandon::<T>,
        doomed: |storage| {
            // SAFETY: a `PLAIN` table is stored with a `T` (`Job::new`), and a job calls
            // its table only while it still holds the task (`Job::doomed`).
            unsafe { peek::<T>(storage) }.doomed()
        },
        release: |storage| {
            // SAFETY: as for `doomed`.
            unsafe { peek::<T>(storage) }.release()
        },
        scoped: false,
        timed: false,
        slot: SLOT,
    };

    const SCOPED: VTable = VTable {
        run: run_scoped::<T>,
        abandon: abandon_scoped::<T>,
        doomed: |storage| {
            // SAFETY: a `SCOPED` table is stored with a `Scoped<T>` (`Job::new_scoped`),
            // and a job calls its table only while it still holds the task.
            unsafe { peek::<Scoped<'_, T>>(storage) }.task.doomed()
        },
        release: |storage| {
            // SAFETY: as for `doomed`.
            unsafe { peek::<Scoped<'_, T>>(storage) }.task.release()
        },
        scoped: true,
        timed: false,
        slot: SLOT,
    };
}

impl<T: Task, const SLOT: u8> VTableOf<Timed<T>, SLOT> {
    const TIMED: VTable = VTable {
        timed: true,
        ..VTableOf::<Timed<T>, SLOT>::PLAIN
    };

    const TIMED_SCOPED: VTable = VTable {
        timed: true,
        ..VTableOf::<Timed<T>, SLOT>::SCOPED
    };
}

/// What a job is made with besides its task: whether it is timed for the stats, and the
/// generation slot it counts in for `wait_idle`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    pub(crate) sampled: bool,
    pub(crate) slot: u8,
}

/// A task of a [`Scope`](crate::Scope), with its count on the scope's latch.
///
/// Not a [`Task`] itself: a task's `run` and `abandon` take it by value, and whatever it
/// borrows from the scope's caller stays borrowed by that frame — a protected borrow, in
/// Miri's terms — until the frame returns. The count must be given up only after that,
/// as it lets the caller's frame end: so [`run_scoped`] and [`abandon_scoped`] take the
/// two apart, call the task, and drop the count once the task's frame is gone (or as
/// they unwind from it).
struct Scoped<'a, T> {
    task: T,
    count: Count<'a>,
}

/// A task sampled for the stats: its queue wait and run time go to the histograms of the
/// worker that runs it. A wrapper, so that the jobs not sampled (all but one in
/// [`sample_timings`](crate::Builder::sample_timings)) carry no timestamp.
struct Timed<T> {
    task: T,
    queued_at: Instant,
}

impl<T> Timed<T> {
    fn new(task: T) -> Timed<T> {
        Timed {
            task,
            queued_at: Instant::now(),
        }
    }
}

impl<T: Task> Task for Timed<T> {
    fn run(self, env: &RunEnv<'_>) -> Outcome {
        let started = Instant::now();
        let outcome = self.task.run(env);
        if let Some(stats) = env.stats {
            let ended = Instant::now();
            stats
                .timings
                .lock()
                .record(started - self.queued_at, ended - started);
        }
        outcome
    }

    fn abandon(self, why: JobError) {
        self.task.abandon(why);
    }

    fn doomed(&self) -> bool {
        self.task.doomed()
    }

    fn release(&self) -> bool {
        self.task.release()
    }
}

/// # Safety
///
/// As [`take`].
unsafe fn run<T: Task>(storage: &mut Storage, env: &RunEnv<'_>) -> Outcome {
    // SAFETY: passed on to our caller.
    unsafe { take::<T>(storage) }.run(env)
}

/// # Safety
///
/// As [`take`].
unsafe fn abandon<T: Task>(storage: &mut Storage, why: JobError) {
    // SAFETY: passed on to our caller.
    unsafe { take::<T>(storage) }.abandon(why);
}

/// # Safety
///
/// As [`take`], for a `Scoped<T>`.
unsafe fn run_scoped<T: Task>(storage: &mut Storage, env: &RunEnv<'_>) -> Outcome {
    // SAFETY: passed on to our caller.
    let Scoped { task, count } = unsafe { take::<Scoped<'_, T>>(storage) };
    let outcome = task.run(env);
    // After the task's frame: see `Scoped`.
    count.finish(&outcome);
    outcome
}

/// # Safety
///
/// As [`take`], for a `Scoped<T>`.
unsafe fn abandon_scoped<T: Task>(storage: &mut Storage, why: JobError) {
    // SAFETY: passed on to our caller.
    let Scoped { task, count } = unsafe { take::<Scoped<'_, T>>(storage) };
    task.abandon(why);
    drop(count);
}

/// Moves a `T` into fresh storage (in place, or boxed when it does not fit).
fn store<T>(task: T) -> Storage {
    let mut storage = Storage::uninit();
    let place = storage.as_mut_ptr().cast::<u8>();
    if fits::<T>() {
        // SAFETY: `fits` checked that a `T` fits the storage's size and alignment.
        unsafe { place.cast::<T>().write(task) };
    } else {
        // SAFETY: a pointer fits four words, at their alignment.
        unsafe { place.cast::<*mut T>().write(Box::into_raw(Box::new(task))) };
    }
    storage
}

/// Moves the `T` out of `storage`.
///
/// # Safety
///
/// `storage` must hold a `T` put there by [`store`], not taken before; afterwards it
/// holds nothing (must not be taken again).
unsafe fn take<T>(storage: &mut Storage) -> T {
    let place = storage.as_mut_ptr().cast::<u8>();
    if fits::<T>() {
        // SAFETY: `store` wrote a `T` here (the caller's contract), read once.
        unsafe { place.cast::<T>().read() }
    } else {
        // SAFETY: `store` wrote the pointer of a `Box<T>` here; it is reclaimed once.
        *unsafe { Box::from_raw(place.cast::<*mut T>().read()) }
    }
}

/// The `T` in `storage`, left in place.
///
/// # Safety
///
/// `storage` must hold a `T` put there by [`store`] and not taken since; the reference
/// must not outlive the storage's next [`take`].
unsafe fn peek<T>(storage: &Storage) -> &T {
    let place = storage.as_ptr().cast::<u8>();
    if fits::<T>() {
        // SAFETY: `store` wrote a `T` here (the caller's contract), still in place.
        unsafe { &*place.cast::<T>() }
    } else {
        // SAFETY: `store` wrote the pointer of a `Box<T>` here, not reclaimed yet.
        unsafe { &*place.cast::<*const T>().read() }
    }
}

/// A job in the queue. Dropping it unrun abandons it (with [`JobError::ShutDown`]), so
/// no path out of the pool — not even a queue dropped with jobs in it — leaves a handle
/// waiting forever.
pub(crate) struct Job {
    /// The table of the stored task's type, or `None` once the task has been taken.
    vtable: Option<&'static VTable>,
    storage: Storage,
}

impl Job {
    /// Wraps `task`, marked with `mark`.
    pub(crate) fn new<T: Task + 'static>(task: T, mark: Mark) -> Job {
        if mark.slot == 0 {
            Job::new_in::<T, 0>(task, mark.sampled)
        } else {
            Job::new_in::<T, 1>(task, mark.sampled)
        }
    }

    fn new_in<T: Task + 'static, const SLOT: u8>(task: T, sampled: bool) -> Job {
        if sampled {
            // SAFETY: the table of a `Timed<T>`, which borrows nothing (`T: 'static`).
            unsafe { Job::with(&VTableOf::<Timed<T>, SLOT>::TIMED, Timed::new(task)) }
        } else {
            // SAFETY: the table of a `T`, which borrows nothing.
            unsafe { Job::with(&VTableOf::<T, SLOT>::PLAIN, task) }
        }
    }

    /// Wraps a task of a scope, which borrows from the scope's caller, and its count on
    /// the scope's latch, erasing their lifetimes.
    ///
    /// # Safety
    ///
    /// The caller must keep everything `task` borrows alive until the task has been run
    /// or abandoned, which is what [`Scope`](crate::Scope) does: it waits for the latch
    /// that `count` holds, whose count only the end of the job gives up.
    pub(crate) unsafe fn new_scoped<'a, T: Task + 'a>(
        task: T,
        count: Count<'a>,
        mark: Mark,
    ) -> Job {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            if mark.slot == 0 {
                Job::new_scoped_in::<T, 0>(task, count, mark.sampled)
            } else {
                Job::new_scoped_in::<T, 1>(task, count, mark.sampled)
            }
        }
    }

    /// # Safety
    ///
    /// As [`new_scoped`](Job::new_scoped).
    unsafe fn new_scoped_in<'a, T: Task + 'a, const SLOT: u8>(
        task: T,
        count: Count<'a>,
        sampled: bool,
    ) -> Job {
        if sampled {
            let task = Scoped {
                task: Timed::new(task),
                count,
            };
            // SAFETY: the table of a `Scoped<Timed<T>>`; what it borrows outlives the
            // job, by the caller's contract.
            unsafe { Job::with(&VTableOf::<Timed<T>, SLOT>::TIMED_SCOPED, task) }
        } else {
            // SAFETY: as above, for a `Scoped<T>`.
            unsafe { Job::with(&VTableOf::<T, SLOT>::SCOPED, Scoped { task, count }) }
        }
    }

    /// A job holding `stored`, whose table is `vtable`.
    ///
    /// # Safety
    ///
    /// `vtable` is the table of `S` (its `run` and `abandon` take an `S`), and whatever
    /// `S` borrows outlives the job's run or abandonment (see `new_scoped`).
    unsafe fn with<S>(vtable: &'static VTable, stored: S) -> Job {
        Job {
            vtable: Some(vtable),
            storage: store(stored),
        }
    }

    /// Runs the job.
    pub(crate) fn run(mut self, env: &RunEnv<'_>) -> Outcome {
        let vtable = self.vtable.take().expect("a job is run once");
        // SAFETY: `vtable` is the table of the stored task's type (set with it in
        // `new_scoped`), and taking it out of `self.vtable` makes this the only take.
        unsafe { (vtable.run)(&mut self.storage, env) }
    }

    /// Drops the job unrun, resolving its handle with `why`.
    pub(crate) fn abandon(mut self, why: JobError) {
        self.abandon_in_place(why);
    }

    fn abandon_in_place(&mut self, why: JobError) {
        if let Some(vtable) = self.vtable.take() {
            // SAFETY: as in `run`.
            unsafe { (vtable.abandon)(&mut self.storage, why) }
        }
    }

    /// Whether the job, if run now, would only be skipped ([`Task::doomed`]).
    pub(crate) fn doomed(&self) -> bool {
        // SAFETY: the table is that of the stored task (as in `run`), which is still
        // there: `vtable` is cleared when it is taken.
        self.vtable
            .is_some_and(|vtable| unsafe { (vtable.doomed)(&self.storage) })
    }

    /// The job leaves the queues unrun: whether it had been withdrawn
    /// ([`Task::release`]).
    pub(crate) fn release(&self) -> bool {
        // SAFETY: as in `doomed`.
        self.vtable
            .is_some_and(|vtable| unsafe { (vtable.release)(&self.storage) })
    }

    /// Whether the job is a scope's, borrowing from its caller's stack: such a job must
    /// never leave the pool's control, so `shutdown_now` abandons it instead of handing
    /// it back.
    pub(crate) fn is_scoped(&self) -> bool {
        self.vtable.is_some_and(|vtable| vtable.scoped)
    }

    /// The generation slot the job counts in (see [`Idle`](crate::idle::Idle)); 0 once
    /// its task is taken.
    pub(crate) fn slot(&self) -> u8 {
        self.vtable.map_or(0, |vtable| vtable.slot)
    }

    /// The task of a job that the pool refused, as the type it was made from. A scope's
    /// job gives up its count on the scope's latch here: never the last, as whoever
    /// submits to a scope holds one (its caller before it waits, or a job of the scope).
    ///
    /// # Safety
    ///
    /// The job must have been made by [`Job::new`] or [`Job::new_scoped`] from a `T`.
    pub(crate) unsafe fn into_task<T>(mut self) -> T {
        let vtable = self
            .vtable
            .take()
            .expect("a refused job still holds its task");
        let storage = &mut self.storage;
        // SAFETY: the job holds a `T`, in a `Timed` and a `Scoped` as its table says
        // (the caller's contract), not yet taken (its table was still there), and
        // clearing the table makes this the only take.
        unsafe {
            match (vtable.scoped, vtable.timed) {
                (false, false) => take::<T>(storage),
                (false, true) => take::<Timed<T>>(storage).task,
                (true, false) => take::<Scoped<'_, T>>(storage).task,
                (true, true) => take::<Scoped<'_, Timed<T>>>(storage).task.task,
            }
        }
    }
}

impl Drop for Job {
    /// Abandons the job: the pool's own paths abandon jobs on purpose (and report a panic
    /// from their drop, see `Shared::abandon`), so a panic here — a queue dropped with
    /// jobs in it — is contained too, unreported.
    fn drop(&mut self) {
        let _ = catch(|| self.abandon_in_place(JobError::ShutDown));
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("scoped", &self.is_scoped())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeState;
    use patterns_core::CancelToken;
    use std::sync::{Arc, Mutex};

    /// Marks a probe's job, in the second slot so that the slot's tables are used too.
    fn mark(sampled: bool) -> Mark {
        Mark { sampled, slot: 1 }
    }

    /// A task that records how it ended, of any size.
    struct Probe<const N: usize> {
        log: Arc<Mutex<&'static str>>,
        _bulk: [usize; N],
    }

    impl<const N: usize> Task for Probe<N> {
        fn run(self, _env: &RunEnv<'_>) -> Outcome {
            *self.log.lock().unwrap() = "ran";
            Outcome::Completed
        }

        fn abandon(self, _why: JobError) {
            *self.log.lock().unwrap() = "abandoned";
        }

        // The probe's first word says what to answer: bit 0 doomed, bit 1 withdrawn.
        fn doomed(&self) -> bool {
            self._bulk[0] & 1 != 0
        }

        fn release(&self) -> bool {
            self._bulk[0] & 2 != 0
        }
    }

    /// How a probe of `N` words ended after `how` consumed its job, `sampled` for the
    /// stats (wrapped in a `Timed`) or not, `scoped` (with a count on a latch, which must
    /// have been given up by then) or not.
    fn ends<const N: usize>(sampled: bool, scoped: bool, how: impl FnOnce(Job)) -> &'static str {
        let log = Arc::new(Mutex::new("pending"));
        let probe = Probe::<N> {
            log: Arc::clone(&log),
            _bulk: [0; N],
        };
        if scoped {
            let scope = ScopeState::new();
            // SAFETY: the job is consumed by `how`, and its count given up, before the
            // scope's state goes out of scope (`pending` checks the second).
            how(unsafe { Job::new_scoped(probe, Count::new(&scope), mark(sampled)) });
            assert_eq!(scope.pending(), 1, "only the owner's count is left");
        } else {
            how(Job::new(probe, mark(sampled)));
        }
        let end = *log.lock().unwrap();
        end
    }

    #[test]
    fn small_and_large_tasks_run_abandon_and_drop_exactly_once() {
        assert!(fits::<Probe<2>>() && !fits::<Probe<8>>());
        let root = CancelToken::new();
        let env = RunEnv {
            root: &root,
            worker: None,
            stats: None,
            hook: None,
        };
        let run = |job: Job| assert_eq!(job.run(&env), Outcome::Completed);
        for (sampled, scoped) in [(false, false), (true, false), (false, true), (true, true)] {
            assert_eq!(ends::<2>(sampled, scoped, run), "ran");
            assert_eq!(ends::<8>(sampled, scoped, run), "ran");
            let discard = |job: Job| job.abandon(JobError::Discarded);
            assert_eq!(ends::<2>(sampled, scoped, discard), "abandoned");
            assert_eq!(ends::<8>(sampled, scoped, drop), "abandoned");
            let taken = ends::<2>(sampled, scoped, |job| {
                assert_eq!(job.is_scoped(), scoped);
                // SAFETY: the job was made from this probe type.
                let _probe = unsafe { job.into_task::<Probe<2>>() };
            });
            assert_eq!(taken, "pending");
            let taken = ends::<8>(sampled, scoped, |job| {
                // SAFETY: the job was made from this probe type.
                let _probe = unsafe { job.into_task::<Probe<8>>() };
            });
            assert_eq!(taken, "pending");
        }
    }

    /// A job of a probe of `N` words answering `flags`, wrapped as `sampled` and `scoped`
    /// say, asked whether it is doomed and released, then dropped.
    fn peeks<const N: usize>(sampled: bool, scoped: bool, flags: usize) -> (bool, bool) {
        let log = Arc::new(Mutex::new("pending"));
        let mut bulk = [0; N];
        bulk[0] = flags;
        let probe = Probe::<N> {
            log: Arc::clone(&log),
            _bulk: bulk,
        };
        let answers = |job: Job| (job.doomed(), job.release());
        let answers = if scoped {
            let scope = ScopeState::new();
            // SAFETY: the job is dropped, and its count given up, before the scope's
            // state goes out of scope.
            answers(unsafe { Job::new_scoped(probe, Count::new(&scope), mark(sampled)) })
        } else {
            answers(Job::new(probe, mark(sampled)))
        };
        assert_eq!(
            *log.lock().unwrap(),
            "abandoned",
            "the job was dropped after"
        );
        answers
    }

    #[test]
    fn doomed_and_release_ask_the_task_in_place_in_every_layout() {
        for (sampled, scoped) in [(false, false), (true, false), (false, true), (true, true)] {
            for flags in 0..4 {
                let expected = (flags & 1 != 0, flags & 2 != 0);
                assert_eq!(peeks::<2>(sampled, scoped, flags), expected);
                assert_eq!(peeks::<8>(sampled, scoped, flags), expected);
            }
        }
    }
}

//! `wait_idle`: waiting until every job submitted so far has ended, while the pool goes
//! on taking jobs.
//!
//! Jobs are counted by *generation*: each job joins the current one as it is made, and
//! counts in that generation's slot (its parity) — once when accepted, once when it
//! ends. A waiter closes the current generation (new jobs join the next) and waits until
//! every job of it and of the older one has ended: exactly the jobs submitted before it
//! came, and not those that come while it waits, which a pool that is never idle would
//! make it wait for for ever. Only two generations are ever open, so two slots do; a
//! waiter closes one only once the older has drained.
//!
//! Why not one counter of jobs in flight: a submitter and a worker would write it for
//! every job, the one cache line that all of them share. Here a submit adds to a counter
//! spread over shards (a line per few threads), and a worker counts the jobs it ended on
//! its own stats line, as it counts the rest. The waiter adds them up. A worker that ends
//! a job looks whether anyone waits (a read of a line that only waiters write) and, if
//! so, wakes them to add up again.
//!
//! That look takes no fence (it runs for every job), so it can miss a waiter that came
//! just as the job ended, while the waiter's sums miss the end. A worker that runs out of
//! work looks once more, fenced, before it sleeps: a pool that drains wakes its waiters.
//! One whose next job runs long would leave the waiter asleep until that job ends, so a
//! waiter also adds up again every [`RECHECK`] on its own.

use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};
use crate::wait::wait_until;

/// Submit counters: enough that threads rarely share one, few enough to add up quickly.
/// One under loom (shared, so written with locked adds), whose threads this would only
/// multiply the states of.
const SHARDS: usize = if cfg!(loom) { 1 } else { 16 };

/// The longest a waiter sleeps before it adds up again, in case a worker's unfenced look
/// missed it (see the module): how late `wait_idle` can return, at worst, after the
/// last job it waits for ended. Under loom, which has no time, a waiter sleeps until
/// woken, so the models check the wake-ups alone.
const RECHECK: Duration = Duration::from_millis(10);

#[derive(Debug)]
pub(crate) struct Idle {
    /// The current generation's slot: what a new job counts in.
    slot: AtomicUsize,
    /// Jobs accepted, by slot, per shard.
    submitted: [CachePadded<[AtomicU64; 2]>; SHARDS],
    /// Threads in `wait`: while there are none, an ended job wakes nobody.
    waiters: CachePadded<AtomicUsize>,
    generations: Mutex<Generations>,
    /// Signalled when jobs end while someone waits.
    changed: Condvar,
}

#[derive(Debug)]
struct Generations {
    /// The generation new jobs join.
    current: u64,
    /// Every generation below this one has drained.
    drained: u64,
}

impl Idle {
    pub(crate) fn new() -> Idle {
        Idle {
            slot: AtomicUsize::new(0),
            submitted: std::array::from_fn(|_| CachePadded::new(Default::default())),
            waiters: CachePadded::new(AtomicUsize::new(0)),
            generations: Mutex::new(Generations {
                current: 0,
                drained: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Counts a job about to be submitted; returns its slot. Before the job is queued,
    /// so that no job can end before it was counted (see `wait`'s order of reads).
    pub(crate) fn join(&self) -> u8 {
        let slot = self.slot.load(Ordering::Relaxed);
        self.add(slot, 1);
        // A slot is 0 or 1.
        slot as u8
    }

    /// A job counted by [`join`](Idle::join) was refused: it never entered the pool.
    pub(crate) fn refused(&self, slot: u8) {
        self.add(usize::from(slot), u64::MAX);
        self.wake_waiters_fenced();
    }

    /// Adds `n` (wrapping) to this thread's count of slot `slot`. A thread that has its
    /// shard to itself writes it with a plain store: a locked add per submit took a
    /// measurable part of a tiny job's submit. The job carries the count to whoever ends
    /// it (its queue's release and acquire), so a waiter that sees the end sees this too.
    #[inline]
    fn add(&self, slot: usize, n: u64) {
        let (shard, alone) = shard_of_this_thread();
        let cell = &self.submitted[shard][slot];
        if alone {
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Release,
            );
        } else {
            cell.fetch_add(n, Ordering::Release);
        }
    }

    /// After a job ended on a worker (counted on its own line): wakes the waiters, if any.
    /// Unfenced, as it runs for every job: a worker that misses a waiter that just came
    /// sees it at its next job's end, or, when out of work, at
    /// [`wake_waiters_fenced`](Idle::wake_waiters_fenced) before it sleeps.
    pub(crate) fn job_ended(&self) {
        if self.waiters.load(Ordering::Relaxed) > 0 {
            self.wake_waiters();
        }
    }

    /// As [`job_ended`](Idle::job_ended), certain to see a waiter that came before the
    /// ends this thread counted: the fence pairs with the one after the waiter counts
    /// itself (Dekker's pattern), so either the waiter's sums see the ends, or this sees
    /// the waiter.
    pub(crate) fn wake_waiters_fenced(&self) {
        fence(Ordering::SeqCst);
        self.job_ended();
    }

    fn wake_waiters(&self) {
        // Under the lock: a waiter adds up and waits under it, so the wake-up comes before
        // its sums or after it waits.
        let _generations = self.generations.lock();
        self.changed.notify_all();
    }

    /// Waits until every job counted before this call has ended, or until `deadline`;
    /// returns whether they had. `ended(slot)` adds up the jobs of a slot that ended
    /// (on workers and elsewhere).
    pub(crate) fn wait(&self, deadline: Option<Instant>, ended: impl Fn(usize) -> u64) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // Between the count of this waiter and its sums: see `wake_waiters_fenced`.
        fence(Ordering::SeqCst);
        let mut generations = self.generations.lock();
        let target = generations.current;
        let done = loop {
            if generations.drained > target {
                break true;
            }
            let oldest = generations.drained;
            if self.in_flight(oldest, &ended) == 0 {
                if oldest == target {
                    // Still the current generation (no one closed it): every job of it so
                    // far has ended, and the older ones drained before.
                    break true;
                }
                generations.drained += 1;
                continue;
            }
            if oldest == generations.current {
                // Close the current generation: new jobs join the next one, and its slot,
                // whose jobs all ended (the older generation drained).
                generations.current += 1;
                self.slot
                    .store(slot_of(generations.current), Ordering::SeqCst);
                continue;
            }
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                break false;
            }
            let recheck = now.checked_add(RECHECK);
            let until = match (deadline, recheck) {
                (Some(deadline), Some(recheck)) => Some(deadline.min(recheck)),
                (deadline, recheck) => deadline.or(recheck),
            };
            generations = wait_until(&self.changed, generations, until).0;
        };
        drop(generations);
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        done
    }

    /// The jobs of `generation` not ended yet. The ended ones are read first: a job that
    /// ended was counted as submitted before (`join`), so every job among the ended is
    /// among the submitted read after, and the difference never hides a job in flight.
    fn in_flight(&self, generation: u64, ended: &impl Fn(usize) -> u64) -> u64 {
        let slot = slot_of(generation);
        let ended = ended(slot);
        let submitted: u64 = self
            .submitted
            .iter()
            .map(|shard| shard[slot].load(Ordering::Acquire))
            .sum();
        submitted.wrapping_sub(ended)
    }
}

fn slot_of(generation: u64) -> usize {
    (generation % 2) as usize
}

/// This thread's shard, and whether no other thread shares it: the first [`SHARDS`]
/// threads to submit (to any pool) get one each, the later ones share them in turn.
fn shard_of_this_thread() -> (usize, bool) {
    if SHARDS == 1 {
        return (0, false);
    }
    crate::sync::thread_local! {
        #[allow(clippy::missing_const_for_thread_local)] // loom's macro takes no `const {}`
        static SHARD: (usize, bool) = next_shard();
    }
    SHARD.with(|shard| *shard)
}

fn next_shard() -> (usize, bool) {
    // Which counter a thread adds to is not synchronization (any assignment is correct,
    // this one spreads the threads evenly), and a loom static would outlive its model.
    // tidy: allow(std-path): see above.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (n % SHARDS, n < SHARDS)
}

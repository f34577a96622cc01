//! Time as a dependency: the system's monotonic clock, or a manual one for tests.

use core::fmt;
use std::time::{Duration, Instant};

use crate::sync::{thread, Arc, Mutex};

/// A monotonic clock that blocking and time-based logic reads and parks against.
///
/// Rate limiters, breakers, supervisors and [`CancelToken`](crate::CancelToken) deadlines
/// take a clock so that their tests can move time by hand ([`ManualClock`]) instead of
/// sleeping. [`SystemClock`] is the default everywhere.
///
/// Implementations must be monotonic: `now()` never goes backwards.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Parks the calling thread until `deadline` on this clock, or until the thread is
    /// unparked ([`Thread::unpark`](std::thread::Thread::unpark)), whichever comes first.
    ///
    /// Like [`std::thread::park`], it may also return spuriously: callers re-check their
    /// condition and the time in a loop. This is the primitive that every timed wait in the
    /// workspace is built on, so a manual clock can drive them all.
    fn park_until(&self, deadline: Instant);

    /// Blocks the calling thread until `now() >= deadline`.
    fn sleep_until(&self, deadline: Instant) {
        while self.now() < deadline {
            self.park_until(deadline);
        }
    }
}

/// The operating system's monotonic clock: [`Instant::now`] and timed parking.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn park_until(&self, deadline: Instant) {
        let now = Instant::now();
        if deadline > now {
            thread::park_timeout(deadline - now);
        }
    }
}

/// A clock that moves only when told to, for deterministic tests of time-based logic.
///
/// It starts at the real instant of its creation and stands still until
/// [`advance`](ManualClock::advance) or [`set`](ManualClock::set) moves it; each move wakes
/// every thread parked on it whose deadline has been reached. Clones share the same time.
///
/// # Examples
///
/// ```
/// use patterns_core::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// let sleeper = {
///     let clock = clock.clone();
///     std::thread::spawn(move || clock.sleep_until(start + Duration::from_secs(3600)))
/// };
/// clock.advance(Duration::from_secs(3600)); // an hour passes at once
/// sleeper.join().unwrap();
/// assert_eq!(clock.now() - start, Duration::from_secs(3600));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualState>>,
}

struct ManualState {
    now: Instant,
    /// Threads parked in `park_until`, each under a ticket so it can remove itself.
    sleepers: Vec<Sleeper>,
    next_ticket: u64,
}

struct Sleeper {
    ticket: u64,
    deadline: Instant,
    thread: thread::Thread,
}

impl ManualClock {
    /// A manual clock reading the current real instant, standing still.
    #[must_use]
    pub fn new() -> Self {
        ManualClock::starting_at(Instant::now())
    }

    /// A manual clock reading `start`, standing still.
    #[must_use]
    pub fn starting_at(start: Instant) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new(ManualState {
                now: start,
                sleepers: Vec::new(),
                next_ticket: 0,
            })),
        }
    }

    /// Moves time forward by `by`, waking every thread whose deadline is reached.
    pub fn advance(&self, by: Duration) {
        let mut state = self.inner.lock();
        let to = state.now + by;
        Self::move_to(&mut state, to);
    }

    /// Moves time to `to`, waking every thread whose deadline is reached. A `to` earlier
    /// than the current reading is ignored: the clock stays monotonic.
    pub fn set(&self, to: Instant) {
        let mut state = self.inner.lock();
        Self::move_to(&mut state, to);
    }

    /// How many threads are parked on this clock right now: lets a test wait until a
    /// thread is blocked before it moves time.
    #[must_use]
    pub fn sleepers(&self) -> usize {
        self.inner.lock().sleepers.len()
    }

    fn move_to(state: &mut ManualState, to: Instant) {
        if to <= state.now {
            return;
        }
        state.now = to;
        for sleeper in state.sleepers.iter().filter(|s| s.deadline <= to) {
            sleeper.thread.unpark();
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.inner.lock().now
    }

    fn park_until(&self, deadline: Instant) {
        let ticket = {
            let mut state = self.inner.lock();
            if state.now >= deadline {
                return;
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.sleepers.push(Sleeper {
                ticket,
                deadline,
                thread: thread::current(),
            });
            ticket
        };
        // An `advance` between the unlock and this park has already unparked us, and the
        // unpark token makes this return at once: no wake-up is lost.
        thread::park();
        self.inner.lock().sleepers.retain(|s| s.ticket != ticket);
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("ManualClock")
            .field("now", &state.now)
            .field("sleepers", &state.sleepers.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_stands_still_until_moved() {
        let clock = ManualClock::new();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_millis(5));
        assert_eq!(clock.now() - start, Duration::from_millis(5));
        clock.set(start); // backwards: ignored
        assert_eq!(clock.now() - start, Duration::from_millis(5));
        clock.set(start + Duration::from_secs(1));
        assert_eq!(clock.now() - start, Duration::from_secs(1));
    }

    #[test]
    fn park_until_a_past_deadline_returns_at_once() {
        let clock = ManualClock::new();
        clock.park_until(clock.now());
        assert_eq!(clock.sleepers(), 0);
    }

    #[test]
    fn advance_wakes_only_the_sleepers_whose_deadline_passed() {
        let clock = ManualClock::new();
        let start = clock.now();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let spawn_sleeper = |secs: u64| {
            let clock = clock.clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                clock.sleep_until(start + Duration::from_secs(secs));
                done.send(secs).unwrap();
            })
        };
        let early = spawn_sleeper(1);
        let late = spawn_sleeper(10);
        while clock.sleepers() < 2 {
            std::thread::yield_now();
        }
        clock.advance(Duration::from_secs(1));
        assert_eq!(done_rx.recv().unwrap(), 1);
        early.join().unwrap();
        assert!(done_rx.try_recv().is_err(), "the late sleeper woke early");
        clock.advance(Duration::from_secs(9));
        assert_eq!(done_rx.recv().unwrap(), 10);
        late.join().unwrap();
        assert_eq!(clock.sleepers(), 0);
    }

    #[test]
    fn system_clock_sleeps_at_least_until_the_deadline() {
        let deadline = SystemClock.now() + Duration::from_millis(20);
        SystemClock.sleep_until(deadline);
        assert!(SystemClock.now() >= deadline);
    }
}

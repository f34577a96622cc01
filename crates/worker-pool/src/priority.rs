//! A bounded priority queue of jobs: highest priority first, FIFO within a priority.

use core::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Instant;

use bounded_buffer::Receiver;

use crate::job::Job;
use crate::queue::{PopError, PushError};
use crate::sync::{Condvar, Mutex};
use crate::wait::wait_until;

/// Jobs keyed by (priority, descending; submission number, ascending): the first key is
/// the next job to run, and the last priority's first key the job to evict.
#[derive(Debug)]
pub(crate) struct PriorityQueue {
    state: Mutex<State>,
    /// Signalled when a job arrives or the queue closes.
    not_empty: Condvar,
    /// Signalled when a job leaves or the queue closes.
    not_full: Condvar,
    capacity: usize,
}

#[derive(Debug)]
struct State {
    jobs: BTreeMap<(Reverse<i32>, u64), Job>,
    next_seq: u64,
    closed: bool,
    /// Threads blocked in `pop` / `push`, so that a notification is sent only when
    /// somebody waits for it.
    poppers: usize,
    pushers: usize,
}

impl PriorityQueue {
    pub(crate) fn new(capacity: usize) -> PriorityQueue {
        PriorityQueue {
            state: Mutex::new(State {
                jobs: BTreeMap::new(),
                next_seq: 0,
                closed: false,
                poppers: 0,
                pushers: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
        }
    }

    /// Queues `job`, waiting for room until `deadline` (forever if `None`); `Full` when
    /// the deadline passes first.
    pub(crate) fn push(
        &self,
        job: Job,
        priority: i32,
        deadline: Option<Instant>,
    ) -> Result<(), PushError> {
        let mut state = self.state.lock();
        loop {
            if state.closed {
                return Err(PushError::Closed(job));
            }
            if state.jobs.len() < self.capacity {
                let seq = state.next_seq;
                state.next_seq += 1;
                state.jobs.insert((Reverse(priority), seq), job);
                if state.poppers > 0 {
                    self.not_empty.notify_one();
                }
                return Ok(());
            }
            state.pushers += 1;
            let waited = wait_until(&self.not_full, state, deadline);
            state = waited.0;
            state.pushers -= 1;
            if waited.1 {
                return Err(PushError::Full(job));
            }
        }
    }

    /// Takes the first job, waiting until `deadline` (forever if `None`), or until
    /// `watch` closes (a resize: `Err(Woken)`, see [`Wake`](crate::wake::Wake)).
    pub(crate) fn pop(
        &self,
        deadline: Option<Instant>,
        watch: Option<&Receiver<()>>,
    ) -> Result<Job, PopError> {
        let mut state = self.state.lock();
        loop {
            if let Some((_, job)) = state.jobs.pop_first() {
                self.made_room(&state);
                return Ok(job);
            }
            if state.closed {
                return Err(PopError::Closed);
            }
            // Under the lock, which `wake` takes to notify after the close: so a close
            // comes before this look, or its notification after the wait began.
            if watch.is_some_and(Receiver::is_closed) {
                return Err(PopError::Woken);
            }
            state.poppers += 1;
            let waited = wait_until(&self.not_empty, state, deadline);
            state = waited.0;
            state.poppers -= 1;
            if waited.1 {
                return Err(PopError::TimedOut);
            }
        }
    }

    /// Wakes every waiting `pop`, for it to look at its watch (closed just before).
    pub(crate) fn wake(&self) {
        let state = self.state.lock();
        if state.poppers > 0 {
            self.not_empty.notify_all();
        }
    }

    /// Takes the oldest job of the lowest priority.
    pub(crate) fn evict(&self) -> Option<Job> {
        let mut state = self.state.lock();
        let (&(lowest, _), _) = state.jobs.last_key_value()?;
        let key = *state.jobs.range((lowest, 0)..).next()?.0;
        let job = state.jobs.remove(&key);
        self.made_room(&state);
        job
    }

    /// Takes out every job that will never run ([`Job::doomed`]), in place: the others
    /// keep their order.
    pub(crate) fn remove_doomed(&self) -> Vec<Job> {
        let mut state = self.state.lock();
        let keys: Vec<_> = state
            .jobs
            .iter()
            .filter(|(_, job)| job.doomed())
            .map(|(key, _)| *key)
            .collect();
        let doomed: Vec<Job> = keys
            .iter()
            .filter_map(|key| state.jobs.remove(key))
            .collect();
        if !doomed.is_empty() && state.pushers > 0 {
            self.not_full.notify_all();
        }
        doomed
    }

    /// Takes every job, in submission order.
    pub(crate) fn drain(&self) -> Vec<Job> {
        let mut state = self.state.lock();
        let mut jobs: Vec<_> = std::mem::take(&mut state.jobs).into_iter().collect();
        self.made_room(&state);
        drop(state);
        jobs.sort_unstable_by_key(|((_, seq), _)| *seq);
        jobs.into_iter().map(|(_, job)| job).collect()
    }

    pub(crate) fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        drop(state);
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().jobs.len()
    }

    fn made_room(&self, state: &State) {
        if state.pushers > 0 {
            self.not_full.notify_one();
        }
    }
}

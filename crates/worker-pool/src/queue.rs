//! The pool's job queue: a bounded FIFO channel, or a bounded priority queue.

use std::time::Instant;

use bounded_buffer::{Receiver, SendTimeoutError, Sender, TryRecvError, TrySendError};

use crate::job::Job;
use crate::priority::PriorityQueue;

/// Why a push did not take its job, which comes back with it.
#[derive(Debug)]
pub(crate) enum PushError {
    Full(Job),
    TimedOut(Job),
    Closed(Job),
    /// Full, with as many submitters waiting as `max_blocked_submitters` allows.
    Overloaded(Job),
}

/// Why a pop came back empty-handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PopError {
    /// Nothing came before the deadline.
    TimedOut,
    /// Closed, and every queued job is taken.
    Closed,
    /// A resize woke the waiting worker, to read the limits again.
    Woken,
}

/// The queue: a `bounded-buffer` channel (FIFO, lock-free), or, when the pool has
/// priorities, a locked priority queue.
#[derive(Debug)]
pub(crate) enum Queue {
    Fifo { tx: Sender<Job>, rx: Receiver<Job> },
    Priority(PriorityQueue),
}

impl Queue {
    pub(crate) fn fifo(capacity: usize) -> Result<Queue, bounded_buffer::CapacityError> {
        let (tx, rx) = bounded_buffer::try_channel(capacity)?;
        Ok(Queue::Fifo { tx, rx })
    }

    pub(crate) fn priority(capacity: usize) -> Queue {
        Queue::Priority(PriorityQueue::new(capacity))
    }

    /// Queues `job` if there is room now. `priority` matters only to a priority queue.
    pub(crate) fn try_push(&self, job: Job, priority: i32) -> Result<(), PushError> {
        match self {
            Queue::Fifo { tx, .. } => tx.try_send(job).map_err(|error| match error {
                TrySendError::Full(job) => PushError::Full(job),
                TrySendError::Closed(job) => PushError::Closed(job),
            }),
            Queue::Priority(queue) => queue.push(job, priority, Some(Instant::now())),
        }
    }

    /// Queues `job`, waiting for room until `deadline` (forever if `None`).
    pub(crate) fn push(
        &self,
        job: Job,
        priority: i32,
        deadline: Option<Instant>,
    ) -> Result<(), PushError> {
        match (self, deadline) {
            (Queue::Fifo { tx, .. }, None) => tx
                .send(job)
                .map_err(|error| PushError::Closed(error.into_inner())),
            (Queue::Fifo { tx, .. }, Some(deadline)) => {
                tx.send_deadline(job, deadline)
                    .map_err(|error| match error {
                        SendTimeoutError::Timeout(job) => PushError::TimedOut(job),
                        SendTimeoutError::Closed(job) => PushError::Closed(job),
                    })
            }
            (Queue::Priority(queue), deadline) => {
                queue
                    .push(job, priority, deadline)
                    .map_err(|error| match error {
                        PushError::Full(job) => PushError::TimedOut(job),
                        other => other,
                    })
            }
        }
    }

    /// The FIFO queue's receiving end, to wait on beside other channels.
    pub(crate) fn receiver(&self) -> Result<&Receiver<Job>, &PriorityQueue> {
        match self {
            Queue::Fifo { rx, .. } => Ok(rx),
            Queue::Priority(queue) => Err(queue),
        }
    }

    /// Takes the next job if there is one now (`Err(TimedOut)` if not).
    pub(crate) fn try_pop(&self) -> Result<Job, PopError> {
        match self {
            Queue::Fifo { rx, .. } => rx.try_recv().map_err(|error| match error {
                TryRecvError::Empty => PopError::TimedOut,
                TryRecvError::Closed => PopError::Closed,
            }),
            Queue::Priority(queue) => queue.pop(Some(Instant::now()), None),
        }
    }

    /// Moves up to `max` jobs that are queued now into `out` (one, from a priority
    /// queue); `Err(TimedOut)` if there are none.
    pub(crate) fn try_pop_many(&self, out: &mut Vec<Job>, max: usize) -> Result<(), PopError> {
        match self {
            Queue::Fifo { rx, .. } => match rx.try_recv_many(out, max) {
                Ok(_) => Ok(()),
                Err(TryRecvError::Empty) => Err(PopError::TimedOut),
                Err(TryRecvError::Closed) => Err(PopError::Closed),
            },
            Queue::Priority(_) => self.try_pop().map(|job| out.push(job)),
        }
    }

    /// Takes the job a full queue gives up first under `DropOldest`: the oldest (of the
    /// lowest priority). `None` if the queue is empty.
    pub(crate) fn evict(&self) -> Option<Job> {
        match self {
            Queue::Fifo { rx, .. } => rx.try_recv().ok(),
            Queue::Priority(queue) => queue.evict(),
        }
    }

    /// Takes every queued job, in submission order.
    pub(crate) fn drain(&self) -> Vec<Job> {
        match self {
            Queue::Fifo { rx, .. } => rx.try_iter().collect(),
            Queue::Priority(queue) => queue.drain(),
        }
    }

    /// Stops accepting jobs; those queued stay to be taken.
    pub(crate) fn close(&self) {
        match self {
            Queue::Fifo { tx, .. } => {
                tx.close();
            }
            Queue::Priority(queue) => queue.close(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Queue::Fifo { tx, .. } => tx.len(),
            Queue::Priority(queue) => queue.len(),
        }
    }
}

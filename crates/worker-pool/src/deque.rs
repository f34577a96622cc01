//! A worker's own job queue: crossbeam's work-stealing deque, or, under loom, a locked
//! twin with the same operations.
//!
//! The twin exists because crossbeam-deque's atomics are not loom's: loom could neither
//! interleave nor check them. The models check the pool's protocol around the deque (who
//! pushes, who steals, who is woken), given a deque whose every operation is atomic —
//! which is the contract crossbeam-deque gives and tests itself.

#[cfg(not(loom))]
pub(crate) use crossbeam_deque::{Steal, Stealer, Worker};

#[cfg(loom)]
pub(crate) use twin::{Steal, Stealer, Worker};

#[cfg(loom)]
mod twin {
    use std::collections::VecDeque;

    use crate::sync::{Arc, Mutex};

    /// As `crossbeam_deque::Steal`, without the retries a lock never needs.
    #[derive(Debug)]
    pub(crate) enum Steal<T> {
        Empty,
        Success(T),
        #[allow(dead_code)] // crossbeam's has it; matched in the shared code
        Retry,
    }

    /// The owner's end; FIFO, as `Worker::new_fifo`.
    #[derive(Debug)]
    pub(crate) struct Worker<T>(Arc<Mutex<VecDeque<T>>>);

    /// A thief's end.
    #[derive(Debug)]
    pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);

    impl<T> Worker<T> {
        pub(crate) fn new_fifo() -> Worker<T> {
            Worker(Arc::new(Mutex::new(VecDeque::new())))
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(Arc::clone(&self.0))
        }

        pub(crate) fn push(&self, value: T) {
            self.0.lock().push_back(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.lock().pop_front()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal(&self) -> Steal<T> {
            self.0
                .lock()
                .pop_front()
                .map_or(Steal::Empty, Steal::Success)
        }

        /// Takes the oldest value, and moves the next `(len - 1) / 2` (at most 31) to
        /// `dest`: crossbeam's rounding, so that a thief of a two-job queue leaves one
        /// behind here as it does there.
        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            let mut source = self.0.lock();
            let Some(first) = source.pop_front() else {
                return Steal::Empty;
            };
            let batch: Vec<T> = {
                let take = (source.len() / 2).min(31);
                source.drain(..take).collect()
            };
            drop(source);
            dest.0.lock().extend(batch);
            Steal::Success(first)
        }

        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }
}

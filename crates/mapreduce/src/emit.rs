//! [`Emitter`]: what the map function emits its key–value pairs into.

use core::fmt;

/// Pairs an emitter buffers before it hands them to its mapper's containers in one call.
pub(crate) const BATCH: usize = 256;

/// A mapper's containers: where its pairs go, one at a time ([`put`](Sink::put), which
/// a map function returning its pairs reaches without an indirection) or a batch at a
/// time (from an [`Emitter`], through one dynamic call per batch).
#[allow(unreachable_pub)]
pub trait Sink<K, V> {
    /// Combines `value` into the slot of `key`.
    fn put(&mut self, key: K, value: V);

    /// Puts every pair of `batch` and leaves it empty.
    fn absorb(&mut self, batch: &mut Vec<(K, V)>) {
        for (key, value) in batch.drain(..) {
            self.put(key, value);
        }
    }
}

/// Where the map function puts its key–value pairs: [`emit`](Emitter::emit).
///
/// Each mapper has its own. Pairs are combined into the mapper's own containers (one value
/// per key with a [`combiner`](crate::MapReduce::combiner)) and split into the reducers'
/// partitions as they come, in batches of 256: nothing is shared between mappers until
/// the map phase ends.
///
/// The batch costs a store and a load per pair and one dynamic call per 256; where an
/// emit is a few instructions of work (a histogram of bytes), a map function that
/// returns its pairs ([`MapReduce::flat_map`](crate::MapReduce::flat_map)) skips both.
pub struct Emitter<'a, K, V> {
    batch: &'a mut Vec<(K, V)>,
    sink: &'a mut dyn Sink<K, V>,
}

impl<'a, K, V> Emitter<'a, K, V> {
    /// An emitter into `sink` that buffers in `batch`: the mapper's one buffer, empty, kept
    /// from chunk to chunk so that a chunk costs no allocation.
    pub(crate) fn new(batch: &'a mut Vec<(K, V)>, sink: &'a mut dyn Sink<K, V>) -> Self {
        batch.reserve(BATCH);
        Emitter { batch, sink }
    }

    /// Emits `value` under `key`.
    ///
    /// # Panics
    ///
    /// If the combiner or the partitioner panics, or with a
    /// [`dense`](crate::MapReduce::dense) container if `key` is out of its range — here
    /// or at a later emit of the same batch; the run then fails with
    /// [`MapReduceError::Panicked`](crate::MapReduceError::Panicked) in
    /// [`Phase::Map`](crate::Phase::Map).
    #[inline]
    pub fn emit(&mut self, key: K, value: V) {
        if self.batch.len() == BATCH {
            self.flush();
        }
        self.batch.push((key, value));
    }

    /// Hands the buffered pairs to the containers.
    #[inline(never)]
    pub(crate) fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.sink.absorb(self.batch);
        }
    }
}

impl<K, V> fmt::Debug for Emitter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("buffered", &self.batch.len())
            .finish_non_exhaustive()
    }
}

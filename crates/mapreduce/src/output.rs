//! What a run gives back: the reduced pairs, and where the time went.

use core::fmt;
use core::hash::Hash;
use std::collections::HashMap;
use std::time::Duration;

/// The reduced pairs of a run, one per distinct key: sorted by key with
/// [`sorted(true)`](crate::MapReduce::sorted), else in no particular order (grouped by
/// reducer). Take them as a `Vec` ([`into_vec`](Output::into_vec)) or a map
/// ([`into_map`](Output::into_map)); [`timings`](Output::timings) says how long each
/// phase took.
pub struct Output<K, O> {
    pub(crate) pairs: Vec<(K, O)>,
    pub(crate) sorted: bool,
    pub(crate) timings: Timings,
    pub(crate) reducers: Vec<ReducerStats>,
}

impl<K, O> Output<K, O> {
    /// The number of distinct keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when nothing was emitted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Whether the pairs are sorted by key.
    #[must_use]
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }

    /// The pairs, in output order.
    #[must_use]
    pub fn as_slice(&self) -> &[(K, O)] {
        &self.pairs
    }

    /// An iterator over the pairs, in output order.
    pub fn iter(&self) -> core::slice::Iter<'_, (K, O)> {
        self.pairs.iter()
    }

    /// The pairs, in output order.
    #[must_use]
    pub fn into_vec(self) -> Vec<(K, O)> {
        self.pairs
    }

    /// The pairs as a map.
    #[must_use]
    pub fn into_map(self) -> HashMap<K, O>
    where
        K: Hash + Eq,
    {
        self.pairs.into_iter().collect()
    }

    /// How long each phase took.
    #[must_use]
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// What each reducer did, in partition order.
    #[must_use]
    pub fn reducers(&self) -> &[ReducerStats] {
        &self.reducers
    }
}

impl<K, O> IntoIterator for Output<K, O> {
    type Item = (K, O);
    type IntoIter = std::vec::IntoIter<(K, O)>;

    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

impl<K, O> fmt::Debug for Output<K, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("len", &self.pairs.len())
            .field("sorted", &self.sorted)
            .field("timings", &self.timings)
            .field("reducers", &self.reducers.len())
            .finish()
    }
}

/// Where a run's time went. `map` and `reduce_phase` are wall-clock times of the two
/// phases; within the reduce phase each reducer first merges its partition across the
/// mappers, then reduces it: `merge` and `reduce` are the longest any reducer took for
/// each step (the critical path), `merge_total` the sum over reducers (the work).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// The map phase, wall clock: mapping, combining at emit time and partitioning.
    pub map: Duration,
    /// The longest merge of one partition across the mappers.
    pub merge: Duration,
    /// The merges of all partitions, added up.
    pub merge_total: Duration,
    /// Entries the merges folded in: every mapper's entries of a partition but those of
    /// the one merged into (the largest table; a dense container merges into the first
    /// mapper's slots, and counts every slot of [`DenseFrom`](crate::DenseFrom)'s, used or
    /// not), summed over partitions. The merge's work is linear in it.
    pub merged: u64,
    /// The longest reduce of one merged partition (and its sort, when sorted).
    pub reduce: Duration,
    /// The reduce phase, wall clock: merges and reduces of every partition.
    pub reduce_phase: Duration,
    /// Putting the partitions' pairs together (merging their sorted runs, when sorted).
    pub finish: Duration,
    /// The whole run.
    pub total: Duration,
}

/// One reducer's share of a run: how much it merged and how long that took, on the wall
/// clock and on its thread's CPU.
///
/// With more reducers than cores the reducers take turns on the cores, so a reducer's
/// wall-clock `merge` counts the time it waited; `merge_cpu` does not, and `merged` is
/// the work itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReducerStats {
    /// Distinct keys in its partition, after the merge.
    pub keys: usize,
    /// Entries of the other mappers it folded into the one it merged into (see
    /// [`Timings::merged`]).
    pub merged: u64,
    /// Its merge, wall clock.
    pub merge: Duration,
    /// Its merge, CPU time of its thread; `None` where the system does not keep a thread's
    /// CPU time.
    pub merge_cpu: Option<Duration>,
    /// Its reduce (and sort, when sorted), wall clock.
    pub reduce: Duration,
}

/// How far the map phase has got, given to the
/// [`progress`](crate::MapReduce::progress) callback after each chunk: totals over all
/// mappers so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Chunks mapped.
    pub chunks: u64,
    /// Items mapped (lines, records or elements).
    pub items: u64,
    /// Bytes mapped, for text, byte and file inputs (0 for item inputs).
    pub bytes: u64,
}

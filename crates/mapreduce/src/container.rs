//! Containers: where a mapper keeps its combined pairs, split into the reducers'
//! partitions, and how a reducer merges one partition across the mappers.

use core::fmt;
use core::hash::{BuildHasher, Hash};
use std::hash::RandomState;

use hashbrown::hash_table::{Entry, HashTable};

use crate::combine::Combine;
use crate::sealed::Sealed;

/// A custom partitioner: key and partition count to partition (taken modulo the count).
pub(crate) type PartitionFn<K> = dyn Fn(&K, usize) -> usize + Send + Sync;

/// Where a mapper keeps what it emitted: [`Hashed`] (the default), [`Dense`] or
/// [`DenseFrom`]. Implemented by those types only; the methods are the engine's.
pub trait Container<K, A>: Sync + Sealed {
    #[doc(hidden)]
    type Local: Send;
    #[doc(hidden)]
    type Part: Send;
    #[doc(hidden)]
    type Merged;
    #[doc(hidden)]
    fn local(&self, parts: usize) -> Self::Local;
    /// Combines one emitted pair into a mapper's containers: the hot path of the map
    /// phase, inlined into the mapper's loop.
    #[doc(hidden)]
    fn put<V, C: Combine<V, Acc = A>>(
        &self,
        local: &mut Self::Local,
        key: K,
        value: V,
        combine: &C,
        partitioner: Option<&PartitionFn<K>>,
    );
    #[doc(hidden)]
    fn split(&self, local: Self::Local, parts: usize) -> Vec<Self::Part>;
    /// The merged partition, and how many entries of other mappers were folded into the
    /// first one's.
    #[doc(hidden)]
    fn merge<F: Fn(&mut A, A)>(&self, parts: Vec<Self::Part>, merge: F) -> (Self::Merged, u64);
    #[doc(hidden)]
    fn merged_len(merged: &Self::Merged) -> usize;
    /// Calls `f` on every pair until it returns false; returns whether it never did.
    #[doc(hidden)]
    fn drain<F: FnMut(K, A) -> bool>(&self, merged: Self::Merged, f: F) -> bool;
}

/// A hash table per partition in each mapper (the default container), keyed with the
/// hasher `S` (std's [`RandomState`] unless [`MapReduce::hasher`](crate::MapReduce::hasher)
/// says otherwise). Each key is hashed once, at its emit: the hash picks the partition and
/// is stored beside the key, so merging and growing never hash again.
#[derive(Clone, Default)]
pub struct Hashed<S = RandomState> {
    pub(crate) hasher: S,
}

impl<S> fmt::Debug for Hashed<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hashed(..)")
    }
}

impl<S> Sealed for Hashed<S> {}

/// The partition of a hash among `parts`: bits 20..52 scaled to the count, away from the
/// low bits that pick a bucket and the top seven that hashbrown keeps as a tag.
#[inline]
pub(crate) fn partition_of(hash: u64, parts: usize) -> usize {
    let mid = (hash >> 20) & 0xffff_ffff;
    ((mid * parts as u64) >> 32) as usize
}

impl<K, A, S> Container<K, A> for Hashed<S>
where
    K: Hash + Eq + Send,
    A: Send,
    S: BuildHasher + Sync,
{
    type Local = Vec<HashTable<(u64, K, A)>>;
    type Part = HashTable<(u64, K, A)>;
    type Merged = HashTable<(u64, K, A)>;

    fn local(&self, parts: usize) -> Self::Local {
        (0..parts).map(|_| HashTable::new()).collect()
    }

    #[inline]
    fn put<V, C: Combine<V, Acc = A>>(
        &self,
        local: &mut Self::Local,
        key: K,
        value: V,
        combine: &C,
        partitioner: Option<&PartitionFn<K>>,
    ) {
        let parts = local.len();
        let hash = self.hasher.hash_one(&key);
        let part = match partitioner {
            None if parts == 1 => 0,
            None => partition_of(hash, parts),
            Some(partitioner) => partitioner(&key, parts) % parts,
        };
        match local[part].entry(hash, |entry| entry.1 == key, |entry| entry.0) {
            Entry::Occupied(mut entry) => combine.add(&mut entry.get_mut().2, value),
            Entry::Vacant(entry) => {
                entry.insert((hash, key, combine.first(value)));
            }
        }
    }

    fn split(&self, local: Self::Local, _parts: usize) -> Vec<Self::Part> {
        local
    }

    fn merge<F: Fn(&mut A, A)>(&self, mut parts: Vec<Self::Part>, merge: F) -> (Self::Merged, u64) {
        let Some(largest) = (0..parts.len()).max_by_key(|&i| parts[i].len()) else {
            return (HashTable::new(), 0);
        };
        let mut base = parts.swap_remove(largest);
        let mut folded = 0;
        for part in parts {
            folded += part.len() as u64;
            for (hash, key, acc) in part {
                match base.entry(hash, |entry| entry.1 == key, |entry| entry.0) {
                    Entry::Occupied(mut entry) => merge(&mut entry.get_mut().2, acc),
                    Entry::Vacant(entry) => {
                        entry.insert((hash, key, acc));
                    }
                }
            }
        }
        (base, folded)
    }

    fn merged_len(merged: &Self::Merged) -> usize {
        merged.len()
    }

    fn drain<F: FnMut(K, A) -> bool>(&self, merged: Self::Merged, mut f: F) -> bool {
        merged.into_iter().all(|(_, key, acc)| f(key, acc))
    }
}

/// A key that indexes a [`Dense`] or [`DenseFrom`] container: `from_index(k.index()) ==
/// k`, and for [`sorted`](crate::MapReduce::sorted) output, index order is key order.
pub trait DenseKey: Sized {
    /// How many indices the type has (256 for `u8`): the longest range a dense container
    /// of these keys can have. `usize::MAX` where the type has as many indices as `usize`
    /// counts or more (`u64`, `usize`), and the default: no limit known.
    const RANGE: usize = usize::MAX;
    /// The key's slot.
    fn index(&self) -> usize;
    /// The key of a slot.
    fn from_index(index: usize) -> Self;
}

macro_rules! dense_uint {
    ($($t:ty),*) => {$(
        impl DenseKey for $t {
            const RANGE: usize = (<$t>::MAX as usize).saturating_add(1);

            #[inline]
            fn index(&self) -> usize {
                *self as usize
            }
            #[inline]
            fn from_index(index: usize) -> Self {
                index as $t
            }
        }
    )*};
}
dense_uint!(u8, u16, u32, u64, usize);

impl DenseKey for bool {
    const RANGE: usize = 2;

    #[inline]
    fn index(&self) -> usize {
        usize::from(*self)
    }
    #[inline]
    fn from_index(index: usize) -> Self {
        index != 0
    }
}

/// An array of `len` slots per mapper, one per key index (a histogram's bins): no hashing,
/// no partition tables — reducer `j` of `r` merges the slots `j·len/r .. (j+1)·len/r`.
/// Set with [`MapReduce::dense`](crate::MapReduce::dense). Memory per mapper is `len`
/// slots whatever the input, so this is for small key ranges.
#[derive(Debug, Clone, Copy)]
pub struct Dense {
    pub(crate) len: usize,
}

impl Sealed for Dense {}

/// Slot `j`'s share of `len` slots among `parts`.
fn bounds(len: usize, parts: usize, j: usize) -> usize {
    (len as u128 * j as u128 / parts as u128) as usize
}

/// A mapper's slots cut into the reducers' ranges, each with the index of its first slot.
fn split_slots<T>(mut slots: Vec<T>, parts: usize) -> Vec<(usize, Vec<T>)> {
    let len = slots.len();
    let mut split: Vec<_> = (0..parts)
        .rev()
        .map(|j| {
            let start = bounds(len, parts, j);
            (start, slots.split_off(start))
        })
        .collect();
    split.reverse();
    split
}

impl<K, A> Container<K, A> for Dense
where
    K: DenseKey + Send,
    A: Send,
{
    type Local = Vec<Option<A>>;
    type Part = (usize, Vec<Option<A>>);
    type Merged = (usize, Vec<Option<A>>);

    fn local(&self, _parts: usize) -> Self::Local {
        (0..self.len).map(|_| None).collect()
    }

    #[inline]
    fn put<V, C: Combine<V, Acc = A>>(
        &self,
        local: &mut Self::Local,
        key: K,
        value: V,
        combine: &C,
        _partitioner: Option<&PartitionFn<K>>,
    ) {
        let slot = slot_of(local, &key);
        match slot {
            Some(acc) => combine.add(acc, value),
            None => *slot = Some(combine.first(value)),
        }
    }

    fn split(&self, local: Self::Local, parts: usize) -> Vec<Self::Part> {
        split_slots(local, parts)
    }

    fn merge<F: Fn(&mut A, A)>(&self, parts: Vec<Self::Part>, merge: F) -> (Self::Merged, u64) {
        fold_slots(parts, |slot, acc| match (slot.as_mut(), acc) {
            (Some(mine), Some(theirs)) => {
                merge(mine, theirs);
                true
            }
            (None, theirs) => {
                let used = theirs.is_some();
                *slot = theirs;
                used
            }
            (Some(_), None) => false,
        })
    }

    fn merged_len(merged: &Self::Merged) -> usize {
        merged.1.iter().filter(|slot| slot.is_some()).count()
    }

    fn drain<F: FnMut(K, A) -> bool>(&self, merged: Self::Merged, mut f: F) -> bool {
        let (start, slots) = merged;
        slots
            .into_iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.map(|acc| (start + i, acc)))
            .all(|(index, acc)| f(K::from_index(index), acc))
    }
}

/// An array of `len` slots per mapper that each start at `identity` (a histogram's bins
/// at zero): a [`Dense`] container without its check for a key's first value, so a pair
/// costs an index and the combiner. Every key of the range is in the output, with
/// `identity` where nothing was emitted. Set with
/// [`MapReduce::dense_from`](crate::MapReduce::dense_from).
#[derive(Clone, Copy)]
pub struct DenseFrom<A> {
    pub(crate) len: usize,
    pub(crate) identity: A,
}

impl<A> fmt::Debug for DenseFrom<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DenseFrom")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<A> Sealed for DenseFrom<A> {}

impl<K, A> Container<K, A> for DenseFrom<A>
where
    K: DenseKey + Send,
    A: Clone + Send + Sync,
{
    type Local = Vec<A>;
    type Part = (usize, Vec<A>);
    type Merged = (usize, Vec<A>);

    fn local(&self, _parts: usize) -> Self::Local {
        vec![self.identity.clone(); self.len]
    }

    #[inline]
    fn put<V, C: Combine<V, Acc = A>>(
        &self,
        local: &mut Self::Local,
        key: K,
        value: V,
        combine: &C,
        _partitioner: Option<&PartitionFn<K>>,
    ) {
        combine.add(slot_of(local, &key), value);
    }

    fn split(&self, local: Self::Local, parts: usize) -> Vec<Self::Part> {
        split_slots(local, parts)
    }

    fn merge<F: Fn(&mut A, A)>(&self, parts: Vec<Self::Part>, merge: F) -> (Self::Merged, u64) {
        fold_slots(parts, |mine, theirs| {
            merge(mine, theirs);
            true
        })
    }

    fn merged_len(merged: &Self::Merged) -> usize {
        merged.1.len()
    }

    fn drain<F: FnMut(K, A) -> bool>(&self, merged: Self::Merged, mut f: F) -> bool {
        let (start, slots) = merged;
        (start..)
            .zip(slots)
            .all(|(index, acc)| f(K::from_index(index), acc))
    }
}

/// The mappers' slots of one reducer's range folded into the first mapper's, slot by slot
/// with `fold`, which says whether the slot it was given held an entry; with how many did.
fn fold_slots<T>(
    parts: Vec<(usize, Vec<T>)>,
    mut fold: impl FnMut(&mut T, T) -> bool,
) -> ((usize, Vec<T>), u64) {
    let mut parts = parts.into_iter();
    let Some((start, mut base)) = parts.next() else {
        return ((0, Vec::new()), 0);
    };
    let mut folded = 0;
    for (_, part) in parts {
        for (mine, theirs) in base.iter_mut().zip(part) {
            folded += u64::from(fold(mine, theirs));
        }
    }
    ((start, base), folded)
}

/// The slot of `key` in a mapper's dense array; a key outside it panics, naming the range.
#[inline]
fn slot_of<'a, K: DenseKey, T>(slots: &'a mut [T], key: &K) -> &'a mut T {
    let index = key.index();
    let len = slots.len();
    match slots.get_mut(index) {
        Some(slot) => slot,
        None => out_of_range(index, len),
    }
}

#[cold]
#[inline(never)]
fn out_of_range(index: usize, len: usize) -> ! {
    panic!("key index {index} is outside the dense container's range 0..{len}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_every_index() {
        for parts in 1..9 {
            let mut seen = vec![false; parts];
            for i in 0..10_000u64 {
                let hash = RandomState::new().hash_one(i);
                let p = partition_of(hash, parts);
                assert!(p < parts);
                seen[p] = true;
            }
            assert!(seen.iter().all(|&s| s), "{parts}");
        }
    }

    #[test]
    fn dense_bounds_tile_the_range() {
        for len in 1..40 {
            for parts in 1..10 {
                assert_eq!(bounds(len, parts, 0), 0);
                assert_eq!(bounds(len, parts, parts), len);
            }
        }
    }
}

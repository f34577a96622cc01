//! The two shapes of a map function: one that [`emit`](Emitter::emit)s into an
//! [`Emitter`], and one that returns its pairs ([`FlatMap`]).

use core::fmt;

use crate::emit::{Emitter, Sink};

/// A map function as the mappers call it: a closure `map(item, &mut emitter)` (set with
/// [`MapReduce::new`](crate::MapReduce::new)) or a [`FlatMap`] (set with
/// [`MapReduce::flat_map`](crate::MapReduce::flat_map)). Implemented by those only; the
/// method is the engine's.
pub trait MapFn<I, K, V>: Sync {
    /// Maps every item of `chunk` into `sink`, buffering in `batch` (empty, and left
    /// empty) if it buffers; returns how many items there were.
    #[doc(hidden)]
    fn map_chunk<Ch, S>(&self, chunk: Ch, sink: &mut S, batch: &mut Vec<(K, V)>) -> u64
    where
        Ch: IntoIterator<Item = I>,
        S: Sink<K, V>;
}

impl<I, K, V, M> MapFn<I, K, V> for M
where
    M: Fn(I, &mut Emitter<'_, K, V>) + Sync,
{
    fn map_chunk<Ch, S>(&self, chunk: Ch, sink: &mut S, batch: &mut Vec<(K, V)>) -> u64
    where
        Ch: IntoIterator<Item = I>,
        S: Sink<K, V>,
    {
        let mut emitter = Emitter::new(batch, sink);
        let mut items = 0;
        for item in chunk {
            self(item, &mut emitter);
            items += 1;
        }
        emitter.flush();
        items
    }
}

/// A map function that returns the pairs of an item (any `IntoIterator<Item = (K, V)>`:
/// an array, an `Option`, an iterator adapter), set with
/// [`MapReduce::flat_map`](crate::MapReduce::flat_map).
///
/// The mapper's loop is compiled for the job's combiner and container, so each pair
/// goes straight into its slot: with a [`dense_from`](crate::MapReduce::dense_from)
/// container and a summing combiner, a pair is an index check and an add, as in a
/// hand-written loop ([`dense`](crate::MapReduce::dense) also checks whether the key was
/// seen).
#[derive(Clone, Copy)]
pub struct FlatMap<M>(pub(crate) M);

impl<M> fmt::Debug for FlatMap<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlatMap(..)")
    }
}

impl<I, K, V, M, P> MapFn<I, K, V> for FlatMap<M>
where
    M: Fn(I) -> P + Sync,
    P: IntoIterator<Item = (K, V)>,
{
    #[inline]
    fn map_chunk<Ch, S>(&self, chunk: Ch, sink: &mut S, _batch: &mut Vec<(K, V)>) -> u64
    where
        Ch: IntoIterator<Item = I>,
        S: Sink<K, V>,
    {
        let mut items = 0;
        for item in chunk {
            for (key, value) in (self.0)(item) {
                sink.put(key, value);
            }
            items += 1;
        }
        items
    }
}

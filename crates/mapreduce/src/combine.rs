//! Combiners: what a mapper keeps per key, and how two of those merge.

use core::fmt;
use std::vec;

use crate::sealed::Sealed;

/// How a mapper keeps the values emitted for one key: [`Collect`] (all of them, for the
/// reducer) or [`Combiner`] (one, merged at every emit). Implemented by those two types
/// only.
pub trait Combine<V>: Sync + Sealed {
    /// What a mapper holds per key.
    type Acc: Send;
    #[doc(hidden)]
    fn first(&self, value: V) -> Self::Acc;
    #[doc(hidden)]
    fn add(&self, acc: &mut Self::Acc, value: V);
    #[doc(hidden)]
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
    #[doc(hidden)]
    fn values(acc: Self::Acc) -> Values<V>;
}

/// No combiner (the default): every emitted value is kept and handed to the reduce
/// function, in no particular order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Collect;

impl Sealed for Collect {}

impl<V: Send> Combine<V> for Collect {
    type Acc = Vec<V>;

    #[inline]
    fn first(&self, value: V) -> Vec<V> {
        vec![value]
    }

    #[inline]
    fn add(&self, acc: &mut Vec<V>, value: V) {
        acc.push(value);
    }

    fn merge(&self, acc: &mut Vec<V>, mut other: Vec<V>) {
        if other.len() > acc.len() {
            core::mem::swap(acc, &mut other);
        }
        acc.append(&mut other);
    }

    fn values(acc: Vec<V>) -> Values<V> {
        Values(Inner::Many(acc.into_iter()))
    }
}

/// A combiner set with [`MapReduce::combiner`](crate::MapReduce::combiner): `f(&mut acc,
/// value)` folds a value into the one a mapper holds for its key, at every emit, and a
/// reducer folds the mappers' values for a key together the same way.
///
/// `f` must be associative and commutative: which values meet in which order depends on
/// how the input was cut into chunks and which mapper took which chunk.
#[derive(Clone, Copy)]
pub struct Combiner<F>(pub(crate) F);

impl<F> fmt::Debug for Combiner<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Combiner(..)")
    }
}

impl<F> Sealed for Combiner<F> {}

impl<V, F> Combine<V> for Combiner<F>
where
    V: Send,
    F: Fn(&mut V, V) + Sync,
{
    type Acc = V;

    #[inline]
    fn first(&self, value: V) -> V {
        value
    }

    #[inline]
    fn add(&self, acc: &mut V, value: V) {
        (self.0)(acc, value);
    }

    #[inline]
    fn merge(&self, acc: &mut V, other: V) {
        (self.0)(acc, other);
    }

    fn values(acc: V) -> Values<V> {
        Values(Inner::One(Some(acc)))
    }
}

/// The values of one key, as the reduce function gets them: every emitted value without a
/// combiner (in no particular order), the one combined value with a combiner.
pub struct Values<V>(Inner<V>);

enum Inner<V> {
    One(Option<V>),
    Many(vec::IntoIter<V>),
}

impl<V> fmt::Debug for Values<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Values")
            .field("remaining", &self.len())
            .finish()
    }
}

impl<V> Iterator for Values<V> {
    type Item = V;

    #[inline]
    fn next(&mut self) -> Option<V> {
        match &mut self.0 {
            Inner::One(value) => value.take(),
            Inner::Many(values) => values.next(),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            Inner::One(value) => usize::from(value.is_some()),
            Inner::Many(values) => values.len(),
        };
        (n, Some(n))
    }
}

impl<V> ExactSizeIterator for Values<V> {}

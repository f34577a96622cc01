//! Iterators over a [`Receiver`].

use core::fmt;
use core::iter::FusedIterator;

use crate::channel::Receiver;

/// A blocking iterator over the values of a channel, from [`Receiver::iter`]; it ends when
/// the channel is closed and drained.
///
/// ```
/// let (tx, rx) = bounded_buffer::channel(4);
/// std::thread::spawn(move || tx.send_many(vec![1, 2, 3]).unwrap());
/// assert_eq!(rx.iter().sum::<i32>(), 6);
/// ```
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

/// A non-blocking iterator over the values queued now, from [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

/// A blocking iterator that owns its [`Receiver`]; it ends when the channel is closed and
/// drained.
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<'a, T> Iter<'a, T> {
    pub(crate) fn new(receiver: &'a Receiver<T>) -> Self {
        Iter { receiver }
    }
}

impl<'a, T> TryIter<'a, T> {
    pub(crate) fn new(receiver: &'a Receiver<T>) -> Self {
        TryIter { receiver }
    }
}

impl<T> IntoIter<T> {
    pub(crate) fn new(receiver: Receiver<T>) -> Self {
        IntoIter { receiver }
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

// Once closed and drained, a channel stays so: these end for good.
impl<T> FusedIterator for Iter<'_, T> {}
impl<T> FusedIterator for IntoIter<T> {}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryIter").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter").finish_non_exhaustive()
    }
}

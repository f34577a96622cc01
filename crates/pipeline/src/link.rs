//! The hand-off between two stages: a bounded channel that items cross in chunks.
//!
//! Between two stages of a pipeline, a chunk crosses as one value, a `Vec<T>`: one
//! channel operation and one slot per chunk, whatever its length. Measured on 2 cores
//! (square → keep evens → sum over 2M `u64`, chunks of 256): 6 ms, against 24 ms moving
//! the same chunks item by item with `send_many` / `recv_many`, which write and read a
//! slot (and its stamp) per item. Where a pipeline meets a channel of items — the
//! caller's receiver of [`Pipeline::from_receiver`](crate::Pipeline::from_receiver), the
//! receiver [`into_receiver`](crate::Pipeline::into_receiver) hands out — the chunks go
//! through that batch API instead.

use std::time::Instant;

use bounded_buffer::{Receiver, RecvCancelError, Sender};
use patterns_core::CancelToken;

use crate::error::{BuildError, PipelineError};
use crate::report::Tally;
use crate::run::Stop;
use crate::spec::Spec;

/// Opens the link a stage with settings `spec` outputs into: a channel of chunks holding
/// `spec.buffer` items rounded up to whole chunks, or, if `spec.per_item`, a channel of
/// `spec.buffer` items.
pub(crate) fn open<T>(spec: &Spec) -> Result<(Outlet<T>, Inlet<T>), PipelineError> {
    let too_large = |_| BuildError::Buffer {
        stage: spec.name.clone(),
        capacity: spec.buffer,
    };
    let (tx, rx) = if spec.per_item {
        let (tx, rx) = bounded_buffer::try_channel(spec.buffer).map_err(too_large)?;
        (Channel::Items(tx), Channel::Items(rx))
    } else {
        let chunks = spec.buffer.div_ceil(spec.chunk);
        let (tx, rx) = bounded_buffer::try_channel(chunks).map_err(too_large)?;
        (Channel::Chunks(tx), Channel::Chunks(rx))
    };
    let outlet = Outlet {
        tx,
        buf: chunk_vec(spec.chunk),
        chunk: spec.chunk,
    };
    let inlet = Inlet {
        rx,
        chunk: spec.chunk,
    };
    Ok((outlet, inlet))
}

/// The most items a chunk's `Vec` is allocated for up front: a chunk size is a bound, and
/// may be huge (`usize::MAX` for "all at once"); past this the `Vec` grows as it fills.
const PREALLOCATED: usize = 4096;

/// An empty `Vec` for a chunk of up to `chunk` items.
pub(crate) fn chunk_vec<T>(chunk: usize) -> Vec<T> {
    Vec::with_capacity(chunk.min(PREALLOCATED))
}

/// One end of a link: of a channel of chunks, or of one of items.
#[derive(Debug)]
pub(crate) enum Channel<C, I> {
    Chunks(C),
    Items(I),
}

impl<C: Clone, I: Clone> Clone for Channel<C, I> {
    fn clone(&self) -> Self {
        match self {
            Channel::Chunks(end) => Channel::Chunks(end.clone()),
            Channel::Items(end) => Channel::Items(end.clone()),
        }
    }
}

/// The receiving end of a link, or the caller's own receiver for
/// [`Pipeline::from_receiver`](crate::Pipeline::from_receiver).
#[derive(Debug)]
pub(crate) struct Inlet<T> {
    pub(crate) rx: Channel<Receiver<Vec<T>>, Receiver<T>>,
    /// How many items a consumer takes at once.
    pub(crate) chunk: usize,
}

impl<T> Clone for Inlet<T> {
    fn clone(&self) -> Self {
        Inlet {
            rx: self.rx.clone(),
            chunk: self.chunk,
        }
    }
}

impl<T> Inlet<T> {
    /// A link from the caller's channel of items.
    pub(crate) fn items(rx: Receiver<T>, chunk: usize) -> Self {
        Inlet {
            rx: Channel::Items(rx),
            chunk,
        }
    }

    /// Appends the next chunk to `buf`, blocking while none is queued. `Ok(false)` once
    /// the producer is done and everything is received.
    ///
    /// # Errors
    ///
    /// `Stop` if the run is cancelled. A chunk that is queued is not taken then: the
    /// stage stops at a chunk boundary.
    pub(crate) fn recv(
        &self,
        buf: &mut Vec<T>,
        token: &CancelToken,
        tally: &mut Tally,
    ) -> Result<bool, Stop> {
        if token.is_cancelled() {
            return Err(Stop);
        }
        let waited = Instant::now();
        let before = buf.len();
        let got = match &self.rx {
            Channel::Chunks(rx) => rx.recv_cancellable(token).map(|mut chunk| {
                if buf.is_empty() {
                    *buf = chunk;
                } else {
                    buf.append(&mut chunk);
                }
            }),
            Channel::Items(rx) => rx.recv_many_cancellable(buf, self.chunk, token).map(drop),
        };
        tally.blocked_on_input += waited.elapsed();
        match got {
            Ok(()) => {
                tally.items_in += (buf.len() - before) as u64;
                Ok(true)
            }
            Err(RecvCancelError::Closed) => Ok(false),
            Err(RecvCancelError::Cancelled) => Err(Stop),
        }
    }
}

/// The sending end of a link, with the chunk being filled.
#[derive(Debug)]
pub(crate) struct Outlet<T> {
    tx: Channel<Sender<Vec<T>>, Sender<T>>,
    /// Items produced and not yet handed on: a stage pushes here, then calls `flush`.
    pub(crate) buf: Vec<T>,
    chunk: usize,
}

impl<T> Clone for Outlet<T> {
    fn clone(&self) -> Self {
        Outlet {
            tx: self.tx.clone(),
            buf: chunk_vec(self.chunk),
            chunk: self.chunk,
        }
    }
}

impl<T> Outlet<T> {
    /// How many more items `buf` takes before it holds a whole chunk.
    #[inline]
    pub(crate) fn room(&self) -> usize {
        self.chunk.saturating_sub(self.buf.len())
    }

    /// Hands on everything in `buf`, blocking while the next stage's queue is full.
    ///
    /// # Errors
    ///
    /// `Stop` if the run is cancelled meanwhile or the consumer is gone; the items not
    /// handed on are dropped with the run.
    pub(crate) fn flush(&mut self, token: &CancelToken, tally: &mut Tally) -> Result<(), Stop> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, chunk_vec(self.chunk));
        self.send(chunk, token, tally)
    }

    /// Hands on `chunk` (for a stage that builds its own), as `flush` does.
    pub(crate) fn send(
        &self,
        chunk: Vec<T>,
        token: &CancelToken,
        tally: &mut Tally,
    ) -> Result<(), Stop> {
        if chunk.is_empty() {
            return Ok(());
        }
        let n = chunk.len();
        let waited = Instant::now();
        let queued = match &self.tx {
            Channel::Chunks(tx) => tx.send_cancellable(chunk, token).map(|()| tx.len()),
            Channel::Items(tx) => tx.send_many_cancellable(chunk, token).map(|()| tx.len()),
        };
        tally.blocked_on_output += waited.elapsed();
        let queued = queued.map_err(|_| Stop)?;
        tally.items_out += n as u64;
        tally.queue_high_water = tally.queue_high_water.max(queued);
        Ok(())
    }
}

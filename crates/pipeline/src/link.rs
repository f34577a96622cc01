//! The hand-off between two stages: a bounded channel that items cross in chunks.

use std::time::Instant;

use bounded_buffer::{Receiver, RecvCancelError, Sender};
use patterns_core::CancelToken;

use crate::error::{BuildError, PipelineError};
use crate::report::Tally;
use crate::run::Stop;
use crate::spec::Spec;

/// Opens the link a stage with settings `spec` outputs into.
pub(crate) fn open<T>(spec: &Spec) -> Result<(Outlet<T>, Inlet<T>), PipelineError> {
    let (tx, rx) = bounded_buffer::try_channel(spec.buffer).map_err(|_| BuildError::Buffer {
        stage: spec.name.clone(),
        capacity: spec.buffer,
    })?;
    let outlet = Outlet {
        tx,
        buf: Vec::with_capacity(spec.chunk),
        chunk: spec.chunk,
    };
    Ok((
        outlet,
        Inlet {
            rx,
            chunk: spec.chunk,
        },
    ))
}

/// The receiving end of a link, or the caller's own receiver for
/// [`Pipeline::from_receiver`](crate::Pipeline::from_receiver).
#[derive(Debug)]
pub(crate) struct Inlet<T> {
    pub(crate) rx: Receiver<T>,
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
        let got = self.rx.recv_many_cancellable(buf, self.chunk, token);
        tally.blocked_on_input += waited.elapsed();
        match got {
            Ok(n) => {
                tally.items_in += n as u64;
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
    tx: Sender<T>,
    /// Items produced and not yet handed on: a stage pushes here, then calls `flush`.
    pub(crate) buf: Vec<T>,
    chunk: usize,
}

impl<T> Clone for Outlet<T> {
    fn clone(&self) -> Self {
        Outlet {
            tx: self.tx.clone(),
            buf: Vec::with_capacity(self.chunk),
            chunk: self.chunk,
        }
    }
}

impl<T> Outlet<T> {
    /// True once `buf` holds a whole chunk.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.buf.len() >= self.chunk
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
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.send(chunk, token, tally)
    }

    /// Hands on `chunk` (for a stage that builds its own), as `flush` does.
    pub(crate) fn send(
        &self,
        chunk: Vec<T>,
        token: &CancelToken,
        tally: &mut Tally,
    ) -> Result<(), Stop> {
        let n = chunk.len();
        let waited = Instant::now();
        let sent = self.tx.send_many_cancellable(chunk, token);
        tally.blocked_on_output += waited.elapsed();
        sent.map_err(|_| Stop)?;
        tally.items_out += n as u64;
        tally.queue_high_water = tally.queue_high_water.max(self.tx.len());
        Ok(())
    }
}

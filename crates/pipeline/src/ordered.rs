//! An ordered parallel stage: several threads work on chunks at once, and the chunks
//! leave in the order they came in, with a bounded window of chunks in flight.
//!
//! ## Protocol
//!
//! A thread takes a *permit* (one of `window`), then, under the intake lock, the next
//! chunk and its sequence number, so sequence numbers follow input order. It steps
//! through the chunk unlocked, then *delivers* it: under the reorder lock it files the
//! result, and if the result is the next to leave and nobody is emitting, it becomes the
//! emitter. The emitter hands on, unlocked, every result that is next in turn, giving
//! back one permit per result, until the next one is not there yet; then it clears
//! `emitting` under the lock. A thread that files the next result while another emits
//! leaves it to the emitter, which looks again under the lock before it stops: so every
//! result leaves, in order, and only one thread sends at a time.
//!
//! At most `window` chunks are between intake and hand-off, so at most `window - 1`
//! results wait in the reorder map, whatever the per-item delays: a thread that runs
//! ahead blocks on the permits.

use std::collections::BTreeMap;

use bounded_buffer::{Receiver, Sender};

use std::time::Instant;

use patterns_core::CancelToken;

use crate::error::{BuildError, PipelineError};
use crate::link::{Inlet, Outlet};
use crate::report::Tally;
use crate::run::{Run, Stop};
use crate::spec::{Spec, DEFAULT_WINDOW_PER_THREAD};
use crate::stage::{Step, Worker};
use crate::sync::{Arc, Mutex};

/// What the threads of one ordered stage share.
#[derive(Debug)]
pub(crate) struct Ordered<T, U> {
    intake: Mutex<Intake<T>>,
    reorder: Mutex<Reorder<U>>,
    /// The permits not taken: a chunk in flight holds one from intake to hand-off.
    permits: Receiver<()>,
    give_back: Sender<()>,
}

#[derive(Debug)]
struct Intake<T> {
    input: Inlet<T>,
    /// What is left of the last chunk received: the stage takes its own chunk size at a
    /// time, so that a large upstream chunk is shared among its threads and its results
    /// leave in this stage's chunks.
    left: std::vec::IntoIter<T>,
    /// The stage's chunk size.
    chunk: usize,
    next: u64,
}

impl<T> Intake<T> {
    /// The next piece of input and its sequence number; `Ok(None)` at the end.
    fn take(
        &mut self,
        token: &CancelToken,
        tally: &mut Tally,
    ) -> Result<Option<(u64, Vec<T>)>, Stop> {
        if self.left.len() == 0 {
            let mut chunk = Vec::new();
            if !self.input.recv(&mut chunk, token, tally)? {
                return Ok(None);
            }
            self.left = chunk.into_iter();
        }
        let piece: Vec<T> = self.left.by_ref().take(self.chunk).collect();
        self.next += 1;
        Ok(Some((self.next - 1, piece)))
    }
}

#[derive(Debug)]
struct Reorder<U> {
    /// The sequence number of the next result to leave.
    next: u64,
    /// Finished results waiting for their turn.
    waiting: BTreeMap<u64, Vec<U>>,
    /// A thread is handing results on.
    emitting: bool,
    high_water: usize,
}

impl<T, U> Ordered<T, U> {
    /// The shared state of a stage taking `chunk` items at a time from `input`, with
    /// `window` permits; `None` if a channel of `window` permits cannot be allocated.
    pub(crate) fn new(input: Inlet<T>, chunk: usize, window: usize) -> Option<Self> {
        let (give_back, permits) = bounded_buffer::try_channel(window).ok()?;
        for _ in 0..window {
            give_back
                .try_send(())
                .expect("a channel of `window` places holds `window` permits");
        }
        Some(Ordered {
            intake: Mutex::new(Intake {
                input,
                left: Vec::new().into_iter(),
                chunk,
                next: 0,
            }),
            reorder: Mutex::new(Reorder {
                next: 0,
                waiting: BTreeMap::new(),
                emitting: false,
                high_water: 0,
            }),
            permits,
            give_back,
        })
    }

    /// One thread of the stage, until the input runs out or the run stops.
    pub(crate) fn work(
        &self,
        worker: &mut Worker<'_>,
        output: &Outlet<U>,
        step: &mut impl Step<T, U>,
    ) -> Result<(), Stop> {
        let token = &worker.run.token;
        loop {
            // Waiting for a permit is waiting for the results ahead to leave: output.
            let waited = Instant::now();
            let permit = self.permits.recv_cancellable(token);
            worker.tally.blocked_on_output += waited.elapsed();
            permit.map_err(|_| Stop)?;
            let waited = Instant::now();
            let mut intake = self.intake.lock();
            worker.tally.blocked_on_input += waited.elapsed();
            let Some((seq, mut chunk)) = intake.take(token, &mut worker.tally)? else {
                // Give the permit back: with fewer permits than threads, another thread
                // may be waiting for it, to find the input ended in turn. Never full, as
                // below.
                let _ = self.give_back.try_send(());
                return Ok(());
            };
            drop(intake);
            let mut out = Vec::with_capacity(chunk.len());
            worker.apply(step, &mut chunk, &mut out)?;
            self.deliver(seq, out, worker, output)?;
        }
    }

    /// Files result `seq`, and hands on every result that is next in turn unless another
    /// thread is doing so.
    fn deliver(
        &self,
        seq: u64,
        result: Vec<U>,
        worker: &mut Worker<'_>,
        output: &Outlet<U>,
    ) -> Result<(), Stop> {
        let mut reorder = self.reorder.lock();
        reorder.waiting.insert(seq, result);
        reorder.high_water = reorder.high_water.max(reorder.waiting.len() - 1);
        if reorder.emitting {
            return Ok(());
        }
        loop {
            let next = reorder.next;
            let Some(result) = reorder.waiting.remove(&next) else {
                reorder.emitting = false;
                return Ok(());
            };
            reorder.next += 1;
            reorder.emitting = true;
            drop(reorder);
            output.send(result, &worker.run.token, &mut worker.tally)?;
            // Never full: a permit comes back only for one that was taken.
            let _ = self.give_back.try_send(());
            reorder = self.reorder.lock();
        }
    }

    /// The most results that waited for their turn at once.
    fn high_water(&self) -> usize {
        self.reorder.lock().high_water
    }
}

/// Starts the `threads` threads of an ordered stage with settings `spec`, reading
/// `input`, each stepping items with a clone of `step`, into `output`.
pub(crate) fn start<T, U, S>(
    run: &Arc<Run>,
    spec: &Spec,
    input: Inlet<T>,
    output: &Outlet<U>,
    threads: usize,
    step: S,
) -> Result<(), PipelineError>
where
    T: Send + 'static,
    U: Send + 'static,
    S: Step<T, U> + Clone,
{
    let window = spec
        .window
        .unwrap_or(DEFAULT_WINDOW_PER_THREAD.saturating_mul(threads));
    let too_large = || BuildError::TooLarge {
        stage: spec.name.clone(),
        what: "reorder window",
        value: window,
    };
    let shared = Arc::new(Ordered::new(input, spec.chunk, window).ok_or_else(too_large)?);
    let meter = run.meter(&spec.name, threads);
    for index in 0..threads {
        let (run_, spec_, shared, meter) = (
            Arc::clone(run),
            spec.clone(),
            Arc::clone(&shared),
            Arc::clone(&meter),
        );
        let (output, mut step) = (output.clone(), step.clone());
        Run::spawn(run, &spec.name, index, move || {
            let mut worker = Worker::new(&run_, &spec_.name, spec_.on_error.clone());
            let result = shared.work(&mut worker, &output, &mut step);
            worker.tally.reorder_high_water = Some(shared.high_water());
            worker.settle(&meter);
            result
        })?;
    }
    Ok(())
}

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

use crate::error::PipelineError;
use crate::link::{Inlet, Outlet};
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
    next: u64,
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
    pub(crate) fn new(input: Inlet<T>, window: usize) -> Self {
        let (give_back, permits) = bounded_buffer::channel(window);
        for _ in 0..window {
            give_back
                .try_send(())
                .expect("a channel of `window` places holds `window` permits");
        }
        Ordered {
            intake: Mutex::new(Intake { input, next: 0 }),
            reorder: Mutex::new(Reorder {
                next: 0,
                waiting: BTreeMap::new(),
                emitting: false,
                high_water: 0,
            }),
            permits,
            give_back,
        }
    }

    /// One thread of the stage, until the input runs out or the run stops.
    pub(crate) fn work(
        &self,
        worker: &mut Worker<'_>,
        output: &Outlet<U>,
        step: &mut impl Step<T, U>,
    ) -> Result<(), Stop> {
        let token = &worker.run.token;
        let mut chunk = Vec::new();
        loop {
            self.permits.recv_cancellable(token).map_err(|_| Stop)?;
            let seq = {
                let mut intake = self.intake.lock();
                if !intake.input.recv(&mut chunk, token, &mut worker.tally)? {
                    // Give the permit back: with fewer permits than threads, another
                    // thread may be waiting for it, to find the input ended in turn.
                    // Never full, as below.
                    let _ = self.give_back.try_send(());
                    return Ok(());
                }
                intake.next += 1;
                intake.next - 1
            };
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
    let window = spec.window.unwrap_or(DEFAULT_WINDOW_PER_THREAD * threads);
    let shared = Arc::new(Ordered::new(input, window));
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

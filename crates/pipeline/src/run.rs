//! One run of a pipeline: its cancel token, its first failure, its threads and its
//! stages' meters, shared by every stage thread and the sink.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use patterns_core::CancelToken;

use crate::error::PipelineError;
use crate::report::{Meter, RunReport};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex};

/// Why a stage stopped before its input ran out: the run was cancelled (from outside, or
/// by a failure recorded with [`Run::fail`]), or the stage after it is gone.
#[derive(Debug)]
pub(crate) struct Stop;

#[derive(Debug)]
pub(crate) struct Run {
    /// Fires on the first failure, when a consumer is gone early, and with the caller's
    /// token (of which it is a child).
    pub(crate) token: CancelToken,
    /// The first failure in time.
    failure: Mutex<Option<PipelineError>>,
    /// Some stage stopped before its input ran out: unless a failure explains it, the
    /// run was cancelled.
    cut_short: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    meters: Mutex<Vec<Arc<Meter>>>,
    started: Instant,
    /// Whether the stages may run: `None` while the pipeline is being started, then
    /// whether every stage started. A stage thread waits for it before it runs, so that
    /// nothing is pulled from the source when a later stage fails to start (a channel
    /// too large to allocate is found only by allocating it).
    gate: Mutex<Option<bool>>,
    opened: Condvar,
}

impl Run {
    pub(crate) fn new(cancel: Option<&CancelToken>) -> Arc<Self> {
        Arc::new(Run {
            token: cancel.map_or_else(CancelToken::new, CancelToken::child),
            failure: Mutex::new(None),
            cut_short: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            meters: Mutex::new(Vec::new()),
            started: Instant::now(),
            gate: Mutex::new(None),
            opened: Condvar::new(),
        })
    }

    /// Records `error` unless an earlier failure is recorded, and cancels every stage.
    pub(crate) fn fail(&self, error: PipelineError) {
        {
            let mut failure = self.failure.lock();
            if failure.is_none() {
                *failure = Some(error);
            }
        }
        self.stop();
    }

    /// Cancels every stage, as a failure does, without one: for a stage that found its
    /// consumer gone, and for a sink dropped early.
    pub(crate) fn stop(&self) {
        self.cut_short.store(true, Ordering::Release);
        self.token.cancel();
    }

    /// A stage's meter, in pipeline order: stages register as they are started, source
    /// first.
    pub(crate) fn meter(&self, name: &str, threads: usize) -> Arc<Meter> {
        let meter = Arc::new(Meter::new(name, threads));
        self.meters.lock().push(Arc::clone(&meter));
        meter
    }

    /// Starts a thread of stage `stage` of `this` run, named `pipeline-<stage>-<index>`.
    /// `body` returns `Err(Stop)` if it stopped early; a panic in it is caught and fails
    /// the run.
    ///
    /// An associated function, not a method on `self: &Arc<Self>`: under loom, `Arc` is
    /// loom's, which cannot be a receiver type on stable Rust.
    pub(crate) fn spawn<F>(
        this: &Arc<Self>,
        stage: &str,
        index: usize,
        body: F,
    ) -> Result<(), PipelineError>
    where
        F: FnOnce() -> Result<(), Stop> + Send + 'static,
    {
        let run = Arc::clone(this);
        let name = stage.to_owned();
        let spawned = thread::Builder::new()
            .name(format!("pipeline-{stage}-{index}"))
            .spawn(move || {
                if run.wait_for_start() {
                    run.guard(&name, body);
                }
            });
        match spawned {
            Ok(handle) => {
                this.threads.lock().push(handle);
                Ok(())
            }
            Err(error) => Err(PipelineError::Spawn {
                stage: stage.to_owned(),
                error,
            }),
        }
    }

    /// Lets the stage threads run (`go`), or tells them to return at once, unrun.
    pub(crate) fn open(&self, go: bool) {
        *self.gate.lock() = Some(go);
        self.opened.notify_all();
    }

    /// Waits until the pipeline has started, or failed to: whether to run.
    fn wait_for_start(&self) -> bool {
        let mut gate = self.gate.lock();
        loop {
            if let Some(go) = *gate {
                return go;
            }
            gate = self.opened.wait(gate);
        }
    }

    /// Runs a stage's body, turning an early stop or a panic into the run's state.
    pub(crate) fn guard<F>(&self, stage: &str, body: F)
    where
        F: FnOnce() -> Result<(), Stop>,
    {
        match panic::catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(())) => {}
            Ok(Err(Stop)) => self.stop(),
            Err(payload) => self.fail(PipelineError::Panicked {
                stage: stage.to_owned(),
                message: panic_text(payload.as_ref()),
            }),
        }
    }

    /// Waits for every stage thread. Stage threads never start threads themselves, so
    /// once the list is empty nothing of this run is left running.
    pub(crate) fn join(&self) {
        loop {
            let threads = std::mem::take(&mut *self.threads.lock());
            if threads.is_empty() {
                return;
            }
            for handle in threads {
                // A stage body never unwinds out of its thread (`guard` catches it).
                let _ = handle.join();
            }
        }
    }

    /// Joins every thread, then says how the run ended.
    pub(crate) fn finish(&self) -> Result<RunReport, PipelineError> {
        self.join();
        if let Some(error) = self.failure.lock().take() {
            return Err(error);
        }
        if self.cut_short.load(Ordering::Acquire) {
            return Err(PipelineError::Cancelled);
        }
        Ok(self.report())
    }

    pub(crate) fn report(&self) -> RunReport {
        RunReport {
            stages: self.meters.lock().iter().map(|m| m.snapshot()).collect(),
            elapsed: self.started.elapsed(),
        }
    }
}

/// The text of a panic, as `std` prints it.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    patterns_core::panic_message(payload)
        .unwrap_or("<non-string panic payload>")
        .to_owned()
}

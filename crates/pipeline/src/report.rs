//! What each stage did during a run: the numbers that show the bottleneck.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::Mutex;

/// What one stage did during a run, summed over its threads.
///
/// A stage that is the bottleneck is busy most of the time and rarely blocked on input;
/// the stages after it wait for input, the stages before it wait for room to output (and
/// their output queues sit at their capacity).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageReport {
    /// The stage's name (its kind unless named with [`name`](crate::Pipeline::name)).
    pub name: String,
    /// Its threads (0 for a sink, which runs on the caller's thread).
    pub threads: usize,
    /// Items it received.
    pub items_in: u64,
    /// Items it handed on.
    pub items_out: u64,
    /// Items it dropped after an error, under [`skip_errors`](crate::Pipeline::skip_errors).
    pub skipped: u64,
    /// Time its closures ran.
    pub busy: Duration,
    /// Time it waited for input.
    pub blocked_on_input: Duration,
    /// Time it waited for room in its output queue (backpressure).
    pub blocked_on_output: Duration,
    /// The most chunks its output queue held after one of its hand-offs (items, for the
    /// queue that [`into_receiver`](crate::Pipeline::into_receiver) hands out): at its
    /// capacity, the stages after it are the bottleneck.
    pub queue_high_water: usize,
    /// For an ordered parallel stage: the most finished chunks held back at once for
    /// their turn (at most its reorder window less one).
    pub reorder_high_water: Option<usize>,
}

/// The report a finished run returns: one [`StageReport`] per stage, source first, sink
/// last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    /// The stages in pipeline order.
    pub stages: Vec<StageReport>,
    /// Wall time from the first thread's start to the sink's end.
    pub elapsed: Duration,
}

impl RunReport {
    /// The stage that limited the run: the one with the most busy time per thread.
    pub fn bottleneck(&self) -> Option<&StageReport> {
        self.stages
            .iter()
            .max_by_key(|stage| stage.busy / stage.threads.max(1) as u32)
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        writeln!(
            f,
            "{:<16} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
            "stage", "threads", "in", "out", "busy ms", "input ms", "output ms", "queue hw"
        )?;
        for stage in &self.stages {
            writeln!(
                f,
                "{:<16} {:>7} {:>10} {:>10} {:>10.1} {:>10.1} {:>10.1} {:>8}",
                stage.name,
                stage.threads,
                stage.items_in,
                stage.items_out,
                ms(stage.busy),
                ms(stage.blocked_on_input),
                ms(stage.blocked_on_output),
                stage.queue_high_water
            )?;
        }
        write!(f, "elapsed {:.1} ms", ms(self.elapsed))
    }
}

/// One thread's counts for its stage, kept locally and added to the stage's [`Meter`]
/// once, when the thread ends: no shared write per item or per chunk.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) items_in: u64,
    pub(crate) items_out: u64,
    pub(crate) skipped: u64,
    pub(crate) busy: Duration,
    pub(crate) blocked_on_input: Duration,
    pub(crate) blocked_on_output: Duration,
    pub(crate) queue_high_water: usize,
    pub(crate) reorder_high_water: Option<usize>,
}

impl Tally {
    /// Closes the count of a thread that started at `started`: the time it did not spend
    /// waiting was busy.
    pub(crate) fn settle(&mut self, started: Instant) {
        let waited = self.blocked_on_input + self.blocked_on_output;
        self.busy = started.elapsed().saturating_sub(waited);
    }
}

/// A stage's report, filled in by its threads as they end.
#[derive(Debug)]
pub(crate) struct Meter {
    report: Mutex<StageReport>,
}

impl Meter {
    pub(crate) fn new(name: &str, threads: usize) -> Self {
        Meter {
            report: Mutex::new(StageReport {
                name: name.to_owned(),
                threads,
                ..StageReport::default()
            }),
        }
    }

    pub(crate) fn add(&self, tally: &Tally) {
        let mut report = self.report.lock();
        report.items_in += tally.items_in;
        report.items_out += tally.items_out;
        report.skipped += tally.skipped;
        report.busy += tally.busy;
        report.blocked_on_input += tally.blocked_on_input;
        report.blocked_on_output += tally.blocked_on_output;
        report.queue_high_water = report.queue_high_water.max(tally.queue_high_water);
        report.reorder_high_water = report.reorder_high_water.max(tally.reorder_high_water);
    }

    pub(crate) fn name(&self) -> String {
        self.report.lock().name.clone()
    }

    pub(crate) fn snapshot(&self) -> StageReport {
        self.report.lock().clone()
    }
}

//! Topologies built by hand from channels, Go style: fan-out, fan-in (merge), broadcast
//! and partition.
//!
//! Each returns receivers at once and moves items on threads of its own, which end when
//! their input is closed and drained, or, once every receiver they feed is dropped, when
//! they next hand an item on (a thread idle on an input that stays open does not
//! notice). They are not joined: like Go's goroutines in the same idioms, they are
//! accounted for by their channels. For errors, cancellation and a run report, build a
//! [`Pipeline`] instead.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use bounded_buffer::{Receiver, Sender};

use crate::error::{BuildError, PipelineError};
use crate::pipeline::Pipeline;
use crate::spec::{DEFAULT_BUFFER, DEFAULT_CHUNK};
use crate::sync::thread;

/// Applies `f` to every item of `rx` on `threads` threads, handing the results on in no
/// particular order: `Pipeline::from_receiver(rx).par_map_unordered(threads, f)`, as a
/// channel.
///
/// A panic in `f` stops every thread; the output then ends early.
///
/// # Errors
///
/// [`BuildError::ZeroThreads`] for `threads` of 0, or [`PipelineError::Spawn`].
///
/// ```
/// let (tx, rx) = bounded_buffer::channel(16);
/// tx.send_many((1..=10).collect()).unwrap();
/// drop(tx);
/// let squares = pipeline::fan_out(rx, 3, |x: u32| x * x)?;
/// let mut got: Vec<u32> = squares.iter().collect();
/// got.sort_unstable();
/// assert_eq!(got, (1..=10).map(|x| x * x).collect::<Vec<_>>());
/// # Ok::<(), pipeline::PipelineError>(())
/// ```
pub fn fan_out<T, U, F>(rx: Receiver<T>, threads: usize, f: F) -> Result<Receiver<U>, PipelineError>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    let (output, _detached) = Pipeline::from_receiver(rx)
        .par_map_unordered(threads, f)
        .name("fan_out")
        .into_receiver()?;
    Ok(output)
}

/// Merges `inputs` into one receiver: one thread per input moves its items on as they
/// come (each input's items stay in their order). The output ends once every input has.
///
/// # Errors
///
/// [`PipelineError::Spawn`].
///
/// ```
/// let (a_tx, a) = bounded_buffer::channel(4);
/// let (b_tx, b) = bounded_buffer::channel(4);
/// a_tx.send_many(vec![1, 2]).unwrap();
/// b_tx.send_many(vec![3]).unwrap();
/// drop((a_tx, b_tx));
/// let mut all: Vec<i32> = pipeline::fan_in(vec![a, b])?.iter().collect();
/// all.sort_unstable();
/// assert_eq!(all, [1, 2, 3]);
/// # Ok::<(), pipeline::PipelineError>(())
/// ```
pub fn fan_in<T: Send + 'static>(inputs: Vec<Receiver<T>>) -> Result<Receiver<T>, PipelineError> {
    let (tx, rx) = bounded_buffer::channel(DEFAULT_BUFFER);
    for (index, input) in inputs.into_iter().enumerate() {
        let tx = tx.clone();
        detach("fan_in", index, move || {
            forward(&input, |chunk| tx.send_many(chunk).is_ok());
        })?;
    }
    Ok(rx)
}

/// Hands every item of `rx` to each of `outputs` receivers (a clone to all but the
/// last), on one thread. A receiver that is dropped stops getting items; the others go
/// on. Items move in chunks, so a slow receiver holds the others back once its queue is
/// full.
///
/// # Errors
///
/// [`BuildError::Zero`] for `outputs` of 0, or [`PipelineError::Spawn`].
///
/// ```
/// let (tx, rx) = bounded_buffer::channel(8);
/// tx.send_many(vec![1, 2, 3]).unwrap();
/// drop(tx);
/// let copies = pipeline::broadcast(rx, 2)?;
/// for copy in &copies {
///     assert_eq!(copy.iter().collect::<Vec<_>>(), [1, 2, 3]);
/// }
/// # Ok::<(), pipeline::PipelineError>(())
/// ```
pub fn broadcast<T>(rx: Receiver<T>, outputs: usize) -> Result<Vec<Receiver<T>>, PipelineError>
where
    T: Clone + Send + 'static,
{
    let (mut senders, receivers) = open_outputs("broadcast", outputs)?;
    detach("broadcast", 0, move || {
        forward(&rx, |chunk| {
            let last = senders.len() - 1;
            let mut chunk = Some(chunk);
            let mut live = Vec::with_capacity(senders.len());
            for (index, tx) in senders.drain(..).enumerate() {
                let copy = if index == last {
                    chunk.take().expect("the last output takes the original")
                } else {
                    chunk.clone().expect("taken only by the last output")
                };
                if tx.send_many(copy).is_ok() {
                    live.push(tx);
                }
            }
            senders = live;
            !senders.is_empty()
        });
    })?;
    Ok(receivers)
}

/// Routes every item of `rx` to one of `outputs` receivers by the hash of `key(&item)`,
/// on one thread: items with equal keys go to the same receiver, in their order. Items
/// routed to a receiver that was dropped are dropped; the thread ends when every
/// receiver is.
///
/// # Errors
///
/// [`BuildError::Zero`] for `outputs` of 0, or [`PipelineError::Spawn`].
///
/// ```
/// let (tx, rx) = bounded_buffer::channel(16);
/// tx.send_many(vec![("a", 1), ("b", 2), ("a", 3)]).unwrap();
/// drop(tx);
/// let parts = pipeline::partition(rx, 4, |(key, _)| *key)?;
/// let mut groups: Vec<Vec<_>> = parts.iter().map(|p| p.iter().collect()).collect();
/// groups.retain(|g: &Vec<_>| !g.is_empty());
/// groups.sort();
/// assert_eq!(groups, [vec![("a", 1), ("a", 3)], vec![("b", 2)]]);
/// # Ok::<(), pipeline::PipelineError>(())
/// ```
pub fn partition<T, K, F>(
    rx: Receiver<T>,
    outputs: usize,
    key: F,
) -> Result<Vec<Receiver<T>>, PipelineError>
where
    T: Send + 'static,
    K: Hash,
    F: Fn(&T) -> K + Send + 'static,
{
    let (senders, receivers) = open_outputs("partition", outputs)?;
    detach("partition", 0, move || {
        let mut routed: Vec<Vec<T>> = (0..outputs).map(|_| Vec::new()).collect();
        let mut gone = vec![false; outputs];
        forward(&rx, |chunk| {
            for item in chunk {
                let mut hasher = DefaultHasher::new();
                key(&item).hash(&mut hasher);
                routed[(hasher.finish() % outputs as u64) as usize].push(item);
            }
            for ((tx, items), gone) in senders.iter().zip(&mut routed).zip(&mut gone) {
                let items = std::mem::take(items);
                if !*gone && !items.is_empty() {
                    *gone = tx.send_many(items).is_err();
                }
            }
            gone.contains(&false)
        });
    })?;
    Ok(receivers)
}

type Outputs<T> = (Vec<Sender<T>>, Vec<Receiver<T>>);

fn open_outputs<T>(stage: &str, outputs: usize) -> Result<Outputs<T>, PipelineError> {
    if outputs == 0 {
        return Err(BuildError::Zero {
            stage: stage.to_owned(),
            what: "output count",
        }
        .into());
    }
    Ok((0..outputs)
        .map(|_| bounded_buffer::channel(DEFAULT_BUFFER))
        .unzip())
}

/// Takes chunks from `rx` and hands each to `emit` until `rx` ends or `emit` says stop.
fn forward<T>(rx: &Receiver<T>, mut emit: impl FnMut(Vec<T>) -> bool) {
    loop {
        let mut chunk = Vec::with_capacity(DEFAULT_CHUNK);
        if rx.recv_many(&mut chunk, DEFAULT_CHUNK).is_err() || !emit(chunk) {
            return;
        }
    }
}

fn detach(
    stage: &str,
    index: usize,
    body: impl FnOnce() + Send + 'static,
) -> Result<(), PipelineError> {
    thread::Builder::new()
        .name(format!("pipeline-{stage}-{index}"))
        .spawn(body)
        .map(drop)
        .map_err(|error| PipelineError::Spawn {
            stage: stage.to_owned(),
            error,
        })
}

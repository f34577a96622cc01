//! The workspace's own building blocks as supervised children: a `worker-pool` that
//! serves jobs, and a small `pipeline` (parse → square → sum). Each crashes once on a
//! poisoned input — a job that panics inside the pool, a stage that panics inside the
//! pipeline — and its supervisor restarts it: the child's run ends with an error, its
//! pool or pipeline is dropped (every thread joined), and a fresh one is built on the
//! same input channel.
//!
//! Run with `cargo run -p supervisor --example pool_and_pipeline`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bounded_buffer::RecvCancelError;
use pipeline::{Pipeline, PipelineError};
use supervisor::{ChildContext, ChildSpec, Event, Supervisor};
use worker_pool::{JobError, WorkerPool};

fn main() {
    std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    let (jobs_tx, jobs_rx) = bounded_buffer::channel::<u64>(16);
    let (lines_tx, lines_rx) = bounded_buffer::channel::<String>(16);
    let pool_done = Arc::new(AtomicU64::new(0));
    let sum = Arc::new(AtomicU64::new(0));

    // A pool of 2 workers; a job's panic reaches its handle, and the child gives up its
    // run with that error: the pool is rebuilt.
    let pool_child = {
        let done = Arc::clone(&pool_done);
        ChildSpec::new("pool", move |ctx: &ChildContext| -> Result<(), String> {
            let pool = WorkerPool::new(2).map_err(|e| e.to_string())?;
            ctx.ready();
            loop {
                let n = match jobs_rx.recv_cancellable(ctx.cancel_token()) {
                    Ok(n) => n,
                    Err(RecvCancelError::Cancelled) => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                };
                let job = pool
                    .submit(move || {
                        assert!(n != 13, "job {n} is unlucky");
                        n * 2
                    })
                    .map_err(|e| e.to_string())?;
                match job.join() {
                    Ok(_) => {
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(JobError::Panicked(payload)) => {
                        return Err(format!("a pool job panicked: {payload}"))
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
    };

    // parse → square → sum, cancelled by the child's token; a stage panics on "boom".
    let pipeline_child = {
        let sum = Arc::clone(&sum);
        ChildSpec::new(
            "pipeline",
            move |ctx: &ChildContext| -> Result<(), PipelineError> {
                ctx.ready();
                let run = Pipeline::from_receiver(lines_rx.clone())
                    .chunk_size(1)
                    .map(|line: String| line.trim().parse::<u64>().expect("a number"))
                    .name("parse")
                    .map(|n| n * n)
                    .with_cancel(ctx.cancel_token())
                    .for_each(|n| {
                        sum.fetch_add(n, Ordering::SeqCst);
                    });
                run.map(drop)
            },
        )
    };

    let (events_tx, events) = mpsc::channel();
    let events_tx = Mutex::new(events_tx);
    let sup = Supervisor::builder("blocks")
        .intensity(5, Duration::from_secs(10))
        .on_event(move |e| {
            println!("[blocks] {e:?}");
            let _ = events_tx.lock().unwrap().send(e.clone());
        })
        .child(pool_child)
        .child(pipeline_child)
        .start()
        .expect("both children start");

    for n in 1..=20 {
        jobs_tx.send(n).unwrap();
    }
    for line in ["1", "2", "boom", "3", "4"] {
        lines_tx.send(line.to_owned()).unwrap();
    }
    // Both children crash once and come back.
    let mut restarted = Vec::new();
    while restarted.len() < 2 {
        if let Event::ChildRestarted { child, .. } = events.recv().unwrap() {
            restarted.push(child);
        }
    }
    // Wait (30 s at most) for the replacements to drain what was sent after each crash.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while (pool_done.load(Ordering::SeqCst) < 19 || !lines_tx.is_empty())
        && std::time::Instant::now() < deadline
    {
        let _ = patterns_core::CancelToken::new().wait_timeout(Duration::from_millis(5));
    }
    for child in sup.which_children().unwrap() {
        println!(
            "{}: {:?}, {} restart(s), last exit: {:?}",
            child.name, child.state, child.restarts, child.last_exit
        );
    }
    println!(
        "pool: {} jobs done (job 13 lost with the crash); pipeline: sum of squares {} \
         (items in flight when the stage crashed are lost with it)",
        pool_done.load(Ordering::SeqCst),
        sum.load(Ordering::SeqCst)
    );
    sup.shutdown().unwrap();
}

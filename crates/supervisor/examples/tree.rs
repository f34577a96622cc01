//! A small service as a supervision tree: a listener accepts "connections" (a TCP
//! listener on localhost, fed by a client thread), a pool of workers handles them (one
//! crashes now and then: every 7th request makes it panic), and a flusher writes the
//! totals out every 50 ms. The workers have their own supervisor under the root, so a
//! crashing worker is restarted alone; were they to crash too often, their supervisor
//! would give up and the root would restart the whole group.
//!
//! Every event of both supervisors is printed. Run with
//! `cargo run -p supervisor --example tree`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bounded_buffer::RecvCancelError;
use supervisor::{ChildContext, ChildSpec, Event, Restart, RestartBackoff, Strategy, Supervisor};

fn printer(supervisor: &'static str) -> impl Fn(&Event) + Send + Sync + 'static {
    move |event| println!("[{supervisor}] {event:?}")
}

fn main() {
    // One line per panic instead of the default report: the crashes are expected.
    std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    listener.set_nonblocking(true).expect("non-blocking accept");
    let addr = listener.local_addr().expect("local address");
    let listener = Arc::new(listener);
    let (requests_tx, requests_rx) = bounded_buffer::channel::<String>(64);
    let handled = Arc::new(AtomicU64::new(0));
    let flushed = Arc::new(AtomicU64::new(0));

    // The listener: accepts connections and queues each line it reads as a request.
    let listen = {
        let listener = Arc::clone(&listener);
        ChildSpec::new(
            "listener",
            move |ctx: &ChildContext| -> Result<(), std::io::Error> {
                ctx.ready();
                while !ctx.is_stopping() {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(false)?;
                            for line in BufReader::new(stream).lines() {
                                let _ = requests_tx.send_cancellable(line?, ctx.cancel_token());
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            let _ = ctx.cancel_token().wait_timeout(Duration::from_millis(2));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            },
        )
    };

    // The workers, under their own supervisor: restarted one for one, with a short
    // backoff; a panic (every 7th request) is an abnormal exit.
    let worker = |n: usize| {
        let requests = requests_rx.clone();
        let handled = Arc::clone(&handled);
        ChildSpec::new(format!("worker-{n}"), move |ctx: &ChildContext| {
            ctx.ready();
            loop {
                let request = match requests.recv_cancellable(ctx.cancel_token()) {
                    Ok(request) => request,
                    Err(RecvCancelError::Cancelled) => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                };
                let seq = handled.fetch_add(1, Ordering::SeqCst) + 1;
                if seq % 7 == 0 {
                    panic!("worker-{n} choked on {request:?}");
                }
            }
        })
        .restart(Restart::Permanent)
    };
    let workers = Supervisor::builder("workers")
        .strategy(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(1))
        .backoff(RestartBackoff::new(
            Duration::from_millis(5),
            Duration::from_millis(100),
        ))
        .on_event(printer("workers"))
        .children((1..=3).map(worker));

    // The flusher: writes the totals out every 50 ms, and once more when stopped.
    let flusher = {
        let handled = Arc::clone(&handled);
        let flushed = Arc::clone(&flushed);
        ChildSpec::new("flusher", move |ctx: &ChildContext| {
            ctx.ready();
            loop {
                let stopping = ctx
                    .cancel_token()
                    .wait_timeout(Duration::from_millis(50))
                    .is_some();
                let n = handled.load(Ordering::SeqCst);
                if flushed.swap(n, Ordering::SeqCst) != n {
                    println!("flusher: {n} requests handled so far");
                }
                if stopping {
                    return Ok::<(), String>(());
                }
            }
        })
    };

    let root = Supervisor::builder("root")
        .strategy(Strategy::RestForOne)
        .intensity(3, Duration::from_secs(5))
        .on_event(printer("root"))
        .child(listen)
        .child(workers.into_child("workers"))
        .child(flusher)
        .start()
        .expect("the tree starts");

    // A client sends 40 requests.
    let mut client = TcpStream::connect(addr).expect("connect");
    for i in 0..40 {
        writeln!(client, "GET /item/{i}").expect("send a request");
    }
    drop(client);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while handled.load(Ordering::SeqCst) < 40 && std::time::Instant::now() < deadline {
        let _ = patterns_core::CancelToken::new().wait_timeout(Duration::from_millis(5));
    }

    for child in root.which_children().expect("the root runs") {
        println!(
            "{}: {:?}, {} restarts",
            child.name, child.state, child.restarts
        );
    }
    match root.shutdown() {
        Ok(report) => println!("shut down; abandoned: {:?}", report.abandoned),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(e.exit_code());
        }
    }
    println!("{} requests handled", handled.load(Ordering::SeqCst));
}

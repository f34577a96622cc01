//! A polite crawler: four worker threads fetch a queue of pages from three local servers
//! ("hosts"), at most `rate` requests a second to each host, through one keyed limiter.
//! Each host has its own queue of pages; a worker takes a page from the host that is due
//! first, and when the limiter refuses it, puts the page back and marks the host due when
//! the refusal says — so a busy host does not hold up the rest, and nobody spins. Each
//! server counts what it saw.
//!
//! ```text
//! cargo run --release -p rate-limit --example per_host -- [requests-per-second-per-host] [burst]
//! ```

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use patterns_core::{Clock, SystemClock};
use rate_limit::{Gcra, Keyed, Rate};

/// Pages per host: skewed, as a crawl's frontier is.
const PAGES: [usize; 3] = [120, 60, 20];
const WORKERS: usize = 4;

/// One host's pages still to fetch, and when the limiter will next let a request to it
/// through.
struct HostQueue {
    pages: VecDeque<String>,
    due: Instant,
}

/// The host whose pages are due first, if any is left: its index and when it is due.
fn next_host(frontier: &[HostQueue]) -> Option<(usize, Instant)> {
    frontier
        .iter()
        .enumerate()
        .filter(|(_, queue)| !queue.pages.is_empty())
        .map(|(host, queue)| (host, queue.due))
        .min_by_key(|&(_, due)| due)
}

/// A server answering each request line with "ok", noting when each came; it ends when
/// every worker has said "bye".
fn serve(listener: TcpListener) -> std::io::Result<Vec<Instant>> {
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..WORKERS {
        let (client, _) = listener.accept()?;
        let tx = tx.clone();
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut writer = client.try_clone()?;
            for line in BufReader::new(client).lines() {
                if line? == "bye" {
                    break;
                }
                let _ = tx.send(Instant::now());
                writer.write_all(b"ok\n")?;
            }
            Ok(())
        });
    }
    drop(tx);
    Ok(rx.into_iter().collect())
}

/// A worker's connection to one host.
struct Connection {
    stream: TcpStream,
    replies: std::io::Lines<BufReader<TcpStream>>,
}

impl Connection {
    fn open(host: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(host)?;
        // Small requests, one at a time: without this, Nagle and delayed ACKs would pace
        // them instead of the limiter.
        stream.set_nodelay(true)?;
        let replies = BufReader::new(stream.try_clone()?).lines();
        Ok(Connection { stream, replies })
    }

    fn get(&mut self, path: &str) -> std::io::Result<()> {
        writeln!(self.stream, "GET {path}")?;
        self.replies.next().transpose()?;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let per_second = args.next().transpose()?.unwrap_or(50);
    let burst = u32::try_from(args.next().transpose()?.unwrap_or(5))?;
    let rate = Rate::per_second(per_second);
    Gcra::new(rate, burst)?; // bad settings fail here, not on a worker's first call

    let mut hosts = Vec::new();
    let mut servers = Vec::new();
    for _ in PAGES {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        hosts.push(listener.local_addr()?);
        servers.push(std::thread::spawn(move || serve(listener)));
    }
    let now = Instant::now();
    let frontier: Vec<HostQueue> = PAGES
        .iter()
        .map(|&pages| HostQueue {
            pages: (0..pages).map(|page| format!("/page/{page}")).collect(),
            due: now,
        })
        .collect();
    let frontier = Arc::new(Mutex::new(frontier));
    let per_host = Arc::new(Keyed::new(1_000, move || {
        Gcra::new(rate, burst).expect("checked above")
    })?);

    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (frontier, per_host, hosts) =
                (Arc::clone(&frontier), Arc::clone(&per_host), hosts.clone());
            std::thread::spawn(move || -> std::io::Result<(u64, u64)> {
                let mut connections = hosts
                    .iter()
                    .map(|&host| Connection::open(host))
                    .collect::<std::io::Result<Vec<_>>>()?;
                let (mut fetched, mut deferred) = (0, 0);
                loop {
                    let (host, path) = {
                        let mut queues = frontier.lock().unwrap();
                        let Some((host, due)) = next_host(&queues) else {
                            break;
                        };
                        if due > Instant::now() {
                            drop(queues);
                            SystemClock.sleep_until(due);
                            continue;
                        }
                        (
                            host,
                            queues[host].pages.pop_front().expect("a host with pages"),
                        )
                    };
                    match per_host.try_acquire(&hosts[host]) {
                        Ok(()) => {
                            connections[host].get(&path)?;
                            fetched += 1;
                        }
                        Err(denied) => {
                            let mut queues = frontier.lock().unwrap();
                            queues[host].pages.push_front(path);
                            queues[host].due = Instant::now() + denied.retry_after();
                            deferred += 1;
                        }
                    }
                }
                for connection in &mut connections {
                    writeln!(connection.stream, "bye")?;
                }
                Ok((fetched, deferred))
            })
        })
        .collect();
    let (mut fetched, mut deferred) = (0, 0);
    for worker in workers {
        let (f, d) = worker.join().expect("a worker panicked")?;
        fetched += f;
        deferred += d;
    }
    let elapsed = started.elapsed();
    println!(
        "{fetched} pages from {} hosts in {elapsed:.2?} by {WORKERS} workers, \
         {per_second}/s per host with a burst of {burst} ({deferred} refusals put back)",
        hosts.len()
    );
    for ((server, host), pages) in servers.into_iter().zip(&hosts).zip(PAGES) {
        let arrivals = server.join().expect("a server panicked")?;
        let first = arrivals.iter().min().copied().unwrap_or(started);
        let last = arrivals.iter().max().copied().unwrap_or(started);
        let span = last.duration_since(first).as_secs_f64();
        // The burst comes at once; after it, no faster than the rate.
        let paced = (arrivals.len() as f64 - f64::from(burst)).max(0.0) / span.max(1e-9);
        println!(
            "  {host}: {} of {pages} pages over {span:.2} s, {paced:.1}/s after the burst",
            arrivals.len()
        );
    }
    println!("  the limiter holds {} keys", per_host.len());
    Ok(())
}

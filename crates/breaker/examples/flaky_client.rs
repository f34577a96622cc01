//! A client calling a flaky local price service over TCP through a circuit breaker, with
//! a fallback to the last price it saw, logging the breaker's events.
//!
//! The service (a thread on 127.0.0.1) answers well for a second, then fails every
//! request for 1.5 s, then recovers. The client asks every 25 ms for 4 s: while the
//! breaker is open it answers from its cache at once instead of waiting on a failing
//! service, and half-open trials find out when the service is back.
//!
//! Run with `cargo run -p breaker --example flaky_client`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::{BreakerError, CircuitBreaker, Event, ExponentialBackoff, Window};
use patterns_core::{Clock, SystemClock};

/// How the service behaves `elapsed` after it started.
fn healthy(elapsed: Duration) -> bool {
    elapsed < Duration::from_millis(1000) || elapsed > Duration::from_millis(2500)
}

/// The service: one line in (`price <item>`), one line out (`ok <cents>` or `error`).
fn serve(listener: TcpListener, started: Instant) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        if line.trim() == "quit" {
            return;
        }
        let reply = if healthy(started.elapsed()) {
            "ok 1299\n"
        } else {
            "error overloaded\n"
        };
        let _ = stream.write_all(reply.as_bytes());
    }
}

/// Why a request failed.
#[derive(Debug)]
enum FetchError {
    Io(std::io::Error),
    Service(String),
}

/// One request to the service.
fn fetch_price(addr: std::net::SocketAddr) -> Result<u64, FetchError> {
    let mut stream = TcpStream::connect(addr).map_err(FetchError::Io)?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(FetchError::Io)?;
    stream
        .write_all(b"price widget\n")
        .map_err(FetchError::Io)?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(FetchError::Io)?;
    match line.trim().strip_prefix("ok ") {
        Some(cents) => cents.parse().map_err(|_| FetchError::Service(line.clone())),
        None => Err(FetchError::Service(line.trim().to_owned())),
    }
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
    let addr = listener.local_addr().expect("its address");
    let started = Instant::now();
    let server = std::thread::Builder::new()
        .name("flaky-client-server-0".into())
        .spawn(move || serve(listener, started))
        .expect("the server thread");

    let breaker = CircuitBreaker::builder()
        .name("prices")
        .sliding_window(Window::Count(10))
        .minimum_calls(5)
        .failure_rate_threshold(50.0)
        .slow_call_duration(Duration::from_millis(100))
        .backoff(
            ExponentialBackoff::new(Duration::from_millis(200), Duration::from_millis(800))
                .jitter(0.1),
        )
        .half_open_calls(2)
        .on_event(move |event| match event {
            Event::StateTransition { from, to } => {
                println!(
                    "{:>5} ms  breaker: {from} -> {to}",
                    started.elapsed().as_millis()
                );
            }
            Event::SlowCall { duration } => {
                println!(
                    "{:>5} ms  slow call: {duration:?}",
                    started.elapsed().as_millis()
                );
            }
            _ => {}
        })
        .build()
        .expect("valid settings");

    let cached = Arc::new(AtomicU64::new(0));
    let (mut calls, mut from_cache, mut refused) = (0, 0, 0);
    let end = started + Duration::from_secs(4);
    let mut next = Instant::now();
    while Instant::now() < end {
        calls += 1;
        let _price = breaker.call_with_fallback(
            || fetch_price(addr).inspect(|&price| cached.store(price, Ordering::Relaxed)),
            |error| {
                match error {
                    BreakerError::Rejected { .. } => refused += 1,
                    BreakerError::Inner(FetchError::Io(e)) => {
                        println!("{:>5} ms  i/o error: {e}", started.elapsed().as_millis())
                    }
                    BreakerError::Inner(FetchError::Service(reply)) => {
                        println!("{:>5} ms  service: {reply}", started.elapsed().as_millis())
                    }
                }
                from_cache += 1;
                cached.load(Ordering::Relaxed)
            },
        );
        next += Duration::from_millis(25);
        SystemClock.sleep_until(next);
    }
    let _ = TcpStream::connect(addr).and_then(|mut s| s.write_all(b"quit\n"));
    server.join().expect("the server thread");

    let metrics = breaker.metrics();
    println!(
        "\n{calls} calls answered: {from_cache} from the cache ({refused} refused by the \
         breaker without touching the service), the others by the service"
    );
    println!(
        "breaker: {}; {} successes, {} failures, {} not permitted",
        metrics.state, metrics.successes, metrics.failures, metrics.not_permitted_calls
    );
}

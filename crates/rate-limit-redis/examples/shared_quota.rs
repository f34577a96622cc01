//! Two worker processes share one limit through Redis: 20 calls a second with bursts of
//! 5, for both together, as two replicas of a service calling one partner API would.
//!
//! ```text
//! redis-server --port 6379 --save '' --appendonly no &     # if none is running
//! cargo run -p rate-limit-redis --example shared_quota -- [redis://127.0.0.1:6379]
//! ```
//!
//! The URL comes from the command line, else `REDIS_URL`, else `redis://127.0.0.1:6379`.
//! The program starts itself twice as a worker; each worker blocks in `acquire` for its
//! turn and prints each call it was admitted for. The parent prints what they printed and
//! checks the total against the limit: at most the burst plus the rate times the time.

use std::env;
use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rate_limit::{AcquireError, Rate, RateLimiter};
use rate_limit_redis::RedisGcra;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";
const RATE_PER_SECOND: u64 = 20;
const BURST: u32 = 5;
/// How long each worker works.
const RUN: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.as_slice() {
        [flag, name, url, key] if flag == "--worker" => worker(name, url, key),
        [] => parent(&env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())),
        [url] => parent(url),
        _ => {
            eprintln!("usage: shared_quota [REDIS_URL]");
            ExitCode::FAILURE
        }
    }
}

fn parent(url: &str) -> ExitCode {
    let reachable = redis::Client::open(url)
        .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(2)))
        .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con));
    if let Err(error) = reachable {
        eprintln!("no Redis at {url} ({error})");
        eprintln!(
            "start one with `redis-server --port 6379 --save '' --appendonly no`, or pass its URL"
        );
        return ExitCode::FAILURE;
    }
    // A key of this run's own, so an earlier run's state does not count.
    let key = format!("example:shared-quota:{}", std::process::id());
    println!("two workers share {RATE_PER_SECOND} calls/s, bursts of {BURST}, on {url} key {key}");

    let exe = env::current_exe().expect("the program's own path");
    let began = Instant::now();
    let workers: Vec<_> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|name| {
            let mut child = Command::new(&exe)
                .args(["--worker", name, url, &key])
                .stdout(Stdio::piped())
                .spawn()
                .expect("start a worker");
            let stdout = child.stdout.take().expect("a piped stdout");
            // Echo the worker's lines as they come, and keep its last (the count).
            let echo = thread::spawn(move || {
                let mut last = String::new();
                for line in BufReader::new(stdout).lines() {
                    let line = line.expect("a worker's output");
                    println!("{line}");
                    last = line;
                }
                last
            });
            (child, echo)
        })
        .collect();

    let mut total = 0u64;
    for (mut child, echo) in workers {
        let last = echo.join().expect("the echo thread");
        let status = child.wait().expect("a worker's exit");
        if !status.success() {
            eprintln!("a worker failed: {status}");
            return ExitCode::FAILURE;
        }
        total += last
            .rsplit(' ')
            .nth(1)
            .and_then(|count| count.parse::<u64>().ok())
            .expect("a worker's last line says how many it was admitted for");
    }
    let elapsed = began.elapsed();
    let most = u64::from(BURST) + (RATE_PER_SECOND as f64 * elapsed.as_secs_f64()) as u64;
    println!("together: {total} admitted in {elapsed:.2?}; the limit allows at most {most}");
    if let Ok(mut con) = redis::Client::open(url).and_then(|client| client.get_connection()) {
        let _: Result<(), _> = redis::cmd("DEL").arg(&key).query(&mut con);
    }
    if total > most {
        eprintln!("over the limit");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn worker(name: &str, url: &str, key: &str) -> ExitCode {
    let client = match redis::Client::open(url) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("{name}: bad URL {url}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let limiter = RedisGcra::new(client, key, Rate::per_second(RATE_PER_SECOND), BURST)
        .expect("a nonzero rate and burst");
    let began = Instant::now();
    let mut admitted = 0u64;
    loop {
        // Wait for this worker's turn, but not past the end of the run. The default
        // policy fails closed: if Redis goes away, the worker waits rather than calls.
        match limiter.acquire_timeout(RUN.saturating_sub(began.elapsed())) {
            Ok(()) => {
                admitted += 1;
                // The call the limit protects would go here.
                println!(
                    "{name}: call {admitted} at {:>4} ms",
                    began.elapsed().as_millis()
                );
            }
            Err(AcquireError::Timeout { .. }) => break,
            Err(error) => {
                eprintln!("{name}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if limiter.failures() > 0 {
        eprintln!("{name}: Redis failed {} times", limiter.failures());
    }
    println!("{name}: done, {admitted} admitted");
    ExitCode::SUCCESS
}

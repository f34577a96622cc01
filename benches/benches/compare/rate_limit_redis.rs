//! `rate-limit-redis` against the check most services write by hand: a fixed window kept
//! with `INCR` and `PEXPIRE`, pipelined in one round trip.
//!
//! * `rate-limit-redis/check` — the latency of one check, admitted, against a
//!   `redis-server` on loopback that the group starts itself (and skips, saying so, where
//!   the binary is absent). `ours` is `RedisGcra::check`: one `EVALSHA` of the GCRA
//!   script (the server reads its clock, the key and sets it with an expiry); `incr_expire`
//!   is `INCR` of the current window's key and `PEXPIRE` of it, then a compare with the
//!   limit. Both quotas are so large that every check passes, so each measures a full
//!   admission.

use std::hint::black_box;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::Criterion;
use rate_limit::Rate;
use rate_limit_redis::RedisGcra;

/// The fixed window of the hand-rolled check.
const WINDOW: Duration = Duration::from_secs(1);

/// A `redis-server` on a free loopback port, with no persistence, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts one and waits until it answers PING (at most 20 s).
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.ping().is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::yield_now();
        }
        server
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("a valid URL")
    }

    fn ping(&self) -> redis::RedisResult<String> {
        let mut con = self.client().get_connection()?;
        redis::cmd("PING").query(&mut con)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hand-rolled fixed window: `INCR` the current window's key and (re)arm its expiry,
/// in one pipelined round trip; admitted while the count is within `limit`.
fn incr_expire(con: &mut redis::Connection, limit: u64) -> bool {
    let window = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        / WINDOW.as_millis();
    let key = format!("bench:incr:{window}");
    let (count, _armed): (u64, bool) = redis::pipe()
        .cmd("INCR")
        .arg(&key)
        .cmd("PEXPIRE")
        .arg(&key)
        .arg(WINDOW.as_millis() as u64)
        .query(con)
        .expect("INCR and PEXPIRE");
    count <= limit
}

/// Every case.
pub(crate) fn bench_all(c: &mut Criterion) {
    if !installed() {
        eprintln!(
            "rate-limit-redis/check: skipped, `redis-server` is not on PATH \
             (`apt-get install redis-server`)"
        );
        return;
    }
    let mut group = c.benchmark_group("rate-limit-redis/check");
    // Started on first use, so that listing or filtering out the group starts nothing.
    let server = std::cell::OnceCell::new();
    let server = || server.get_or_init(Server::start);
    group.bench_function("ours", |b| {
        // 10⁹ calls a second, a burst of 4·10⁹: every check passes.
        let limiter = RedisGcra::new(
            server().client(),
            "bench:gcra",
            Rate::per_second(1_000_000_000),
            u32::MAX,
        )
        .expect("a valid quota");
        b.iter(|| black_box(limiter.check().is_ok()));
    });
    group.bench_function("incr_expire", |b| {
        let mut con = server().client().get_connection().expect("a connection");
        b.iter(|| black_box(incr_expire(&mut con, u64::MAX)));
    });
    group.finish();
}

/// Whether `redis-server` can be run.
fn installed() -> bool {
    match Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
    {
        Err(error) if error.kind() == ErrorKind::NotFound => false,
        other => other.map(|_| true).expect("redis-server --version"),
    }
}

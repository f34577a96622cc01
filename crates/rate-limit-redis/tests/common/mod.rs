//! A real `redis-server` for each test, on a free loopback port, killed on drop.

#![allow(dead_code)] // not every test binary uses every helper

use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use patterns_core::{Clock, SystemClock};

/// How long a test waits for something that should happen soon: generous, so a loaded
/// machine does not fail it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// A `redis-server` child process, listening on `127.0.0.1:port`, with no persistence.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// A server on a free port; `None` (after saying why) when `redis-server` is not
    /// installed, so the test can return. Under CI (`CI=true`), where `.ci/run` installs
    /// it, a missing server fails the test instead: a skipped suite must not look green.
    pub(crate) fn start() -> Option<RedisServer> {
        if !installed() {
            assert!(
                std::env::var("CI").map_or(true, |ci| ci != "true"),
                "redis-server is not installed, and CI must run these tests (.ci/run installs it)"
            );
            eprintln!(
                "skipping: `redis-server` is not on PATH (install it, e.g. \
                 `apt-get install redis-server`, to run the Redis tests)"
            );
            return None;
        }
        // Another process may take the free port before the server binds it: try again.
        for _ in 0..5 {
            if let Some(server) = RedisServer::start_on(free_port()) {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// A server on `port` (the port of one that was killed, to restart it); `None` if it
    /// exited before answering (the port was taken).
    pub(crate) fn start_on(port: u16) -> Option<RedisServer> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed but does not start");
        let mut server = RedisServer {
            child: Some(child),
            port,
        };
        server.wait_until_ready().then_some(server)
    }

    /// Polls PING until the server answers; false if it exited first.
    fn wait_until_ready(&mut self) -> bool {
        let client = self.client();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let answered = client
                .get_connection_with_timeout(Duration::from_secs(1))
                .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con));
            if answered.is_ok() {
                return true;
            }
            let child = self.child.as_mut().expect("a live server");
            if child.try_wait().expect("the server's status").is_some() {
                self.child = None;
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within {PATIENCE:?}",
                self.port
            );
            // A bounded poll, not a wait for something to happen by then.
            SystemClock.sleep_until(Instant::now() + Duration::from_millis(5));
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a valid URL")
    }

    /// A plain connection, to look at what the limiters wrote.
    pub(crate) fn connection(&self) -> redis::Connection {
        self.client().get_connection().expect("the server is up")
    }

    /// Kills the server (SIGKILL: no goodbye to the clients) and waits for it to exit.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn installed() -> bool {
    match Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => true,
        Err(error) if error.kind() == ErrorKind::NotFound => false,
        Err(error) => panic!("cannot run redis-server: {error}"),
    }
}

/// A port nothing listens on (as of now).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Polls `condition` until it holds; panics after [`PATIENCE`] saying `what` never
/// happened.
pub(crate) fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        SystemClock.sleep_until(Instant::now() + Duration::from_millis(2));
    }
}

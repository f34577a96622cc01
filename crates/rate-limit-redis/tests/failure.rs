//! When Redis fails: the typed methods say so, the trait refuses (fail-closed) or admits
//! (fail-open), nothing panics, and the next call after the server is back reconnects.

mod common;

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use common::{eventually, free_port, RedisServer, PATIENCE};
use rate_limit::{AcquireError, ConfigError, Rate, RateLimiter, TryAcquireError};
use rate_limit_redis::{Builder, FailurePolicy, RedisGcra, RedisKeyed, RedisLimitError};

const HOUR: Duration = Duration::from_secs(3600);
const RETRY: Duration = Duration::from_millis(250);

fn client_for(port: u16) -> redis::Client {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap()
}

#[test]
fn bad_settings_are_config_errors() {
    let client = client_for(free_port());
    let zero_rate = RedisGcra::new(client.clone(), "k", Rate::per_second(0), 1);
    assert_eq!(zero_rate.unwrap_err(), ConfigError::ZeroRate);
    let zero_period = RedisGcra::new(client.clone(), "k", Rate::per(Duration::ZERO), 1);
    assert_eq!(zero_period.unwrap_err(), ConfigError::ZeroRate);
    let zero_burst = RedisKeyed::new(client, "k:", Rate::per_second(1), 0);
    assert_eq!(zero_burst.unwrap_err(), ConfigError::ZeroBurst);
}

#[test]
fn a_restart_mid_run_fails_closed_then_reconnects() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let port = server.port();
    let limiter = Builder::new(server.client(), Rate::per(HOUR), 5)
        .retry_after_failure(RETRY)
        .gcra("restart")
        .unwrap();
    assert_eq!(limiter.failure_policy(), FailurePolicy::Closed);
    limiter.check().unwrap();
    limiter.try_acquire().unwrap(); // a pooled connection, now

    server.kill();
    // Typed: the error, as it is.
    match limiter.check() {
        Err(RedisLimitError::Redis(error)) => eprintln!("as expected: {error}"),
        other => panic!("{other:?}"),
    }
    assert!(limiter.query_available().unwrap_err().is_redis());
    assert!(limiter.wait_n_until(1, None, None).unwrap_err().is_redis());
    // Through the trait: refused, with the failure delay to retry after; never a pass.
    assert_eq!(limiter.failures(), 0);
    match limiter.try_acquire_n(1) {
        Err(TryAcquireError::Denied(denied)) => assert_eq!(denied.retry_after(), RETRY),
        other => panic!("{other:?}"),
    }
    assert_eq!(limiter.try_acquire().unwrap_err().retry_after(), RETRY);
    assert_eq!(limiter.available(), 0);
    // A blocking call waits for Redis within its deadline: too short, at once.
    let began = Instant::now();
    assert_eq!(
        limiter.acquire_timeout(RETRY / 2),
        Err(AcquireError::Timeout { needed: RETRY })
    );
    assert!(began.elapsed() < PATIENCE);
    assert_eq!(limiter.failures(), 4);

    // Back, empty (no persistence): the next call reconnects, and the limit starts full.
    let _server = RedisServer::start_on(port).expect("the port is free again");
    limiter.check_n(5).unwrap();
    assert!(matches!(limiter.check(), Err(RedisLimitError::Denied(_))));
}

#[test]
fn a_blocking_acquire_waits_for_redis_to_come_back() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let port = server.port();
    server.kill();
    let limiter = Builder::new(client_for(port), Rate::per(HOUR), 1)
        .retry_after_failure(Duration::from_millis(5))
        .gcra("comeback")
        .unwrap();
    let waiter = {
        let limiter = limiter.clone();
        thread::spawn(move || limiter.acquire())
    };
    eventually("the waiter finds Redis down", || limiter.failures() > 0);
    let _server = RedisServer::start_on(port).expect("the port is free again");
    assert_eq!(waiter.join().unwrap(), Ok(()));
    assert!(matches!(limiter.check(), Err(RedisLimitError::Denied(_))));
}

#[test]
fn fail_open_admits_while_redis_is_down() {
    let limiter = Builder::new(client_for(free_port()), Rate::per(HOUR), 3)
        .failure_policy(FailurePolicy::Open)
        .gcra("open")
        .unwrap();
    limiter.try_acquire_n(3).unwrap();
    limiter.try_acquire().unwrap();
    limiter.acquire_n(3).unwrap();
    limiter.acquire_timeout(Duration::ZERO).unwrap();
    assert_eq!(limiter.available(), 3);
    assert_eq!(limiter.failures(), 5);
    // The burst still bounds a call, and the typed methods still report the failure.
    assert_eq!(
        limiter.try_acquire_n(4),
        Err(TryAcquireError::InsufficientCapacity {
            requested: 4,
            capacity: 3
        })
    );
    assert!(limiter.check().unwrap_err().is_redis());
    assert_eq!(limiter.failures(), 5, "typed failures are not counted");
}

#[test]
fn fail_closed_without_a_server() {
    let keyed = Builder::new(client_for(free_port()), Rate::per_second(10), 2)
        .retry_after_failure(RETRY)
        .keyed("down:")
        .unwrap();
    let limiter = keyed.limiter("anyone");
    assert_eq!(limiter.try_acquire().unwrap_err().retry_after(), RETRY);
    assert_eq!(limiter.try_acquire_n(0), Ok(()), "zero asks nothing");
    assert!(keyed.check("anyone").unwrap_err().is_redis());
    assert_eq!(keyed.failures(), 1);
}

#[test]
fn a_script_error_is_a_typed_error_and_a_refusal() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut con = server.connection();
    let _: () = redis::cmd("RPUSH")
        .arg("not-a-tat")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let limiter = RedisGcra::new(server.client(), "not-a-tat", Rate::per(HOUR), 2).unwrap();
    let error = limiter.check().unwrap_err();
    assert!(error.is_redis(), "{error}");
    assert!(limiter.try_acquire().is_err());
    // The connection stays usable for other keys.
    RedisGcra::new(server.client(), "fine", Rate::per(HOUR), 2)
        .unwrap()
        .check()
        .unwrap();
}

/// A server that accepts connections and never answers: the timeout ends the check.
#[test]
fn a_silent_server_times_out() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let limiter = Builder::new(client_for(port), Rate::per(HOUR), 2)
        .timeout(Duration::from_millis(50))
        .gcra("silent")
        .unwrap();
    let began = Instant::now();
    assert!(limiter.check().unwrap_err().is_redis());
    assert!(limiter.try_acquire().is_err());
    assert!(began.elapsed() < PATIENCE);
}

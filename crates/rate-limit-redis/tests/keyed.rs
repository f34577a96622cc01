//! `RedisKeyed` against a real server: keys are independent, and a key vanishes from
//! Redis once its limiter is full again.

mod common;

use std::time::Duration;

use common::{eventually, RedisServer};
use rate_limit::{Rate, RateLimiter};
use rate_limit_redis::{RedisKeyed, RedisLimitError};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn smoke_keys_are_independent() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let keyed = RedisKeyed::new(server.client(), "t:", Rate::per(HOUR), 2).unwrap();
    keyed.check_n("alice", 2).unwrap();
    assert!(matches!(
        keyed.check("alice"),
        Err(RedisLimitError::Denied(_))
    ));
    keyed.check("bob").unwrap();
    keyed.check(b"bob".as_slice()).unwrap(); // bytes name the same key
    assert!(keyed.check(&String::from("bob")).is_err());
    keyed.check("carol").unwrap();

    assert_eq!(keyed.redis_key("alice"), b"t:alice");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("t:*")
        .query(&mut server.connection())
        .unwrap();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["t:alice", "t:bob", "t:carol"]);

    // One key's limiter, with the whole trait.
    let dave = keyed.limiter("dave");
    assert_eq!(dave.key(), b"t:dave");
    assert_eq!(dave.available(), 2);
    dave.try_acquire().unwrap();
    assert_eq!(dave.available(), 1);
    assert_eq!(keyed.limiter("alice").available(), 0);
}

#[test]
fn a_key_expires_once_full_again() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // 10 ms a call, a burst of 5: full again 50 ms after the burst.
    let keyed = RedisKeyed::new(
        server.client(),
        "exp:",
        Rate::per(Duration::from_millis(10)),
        5,
    )
    .unwrap();
    let mut con = server.connection();
    keyed.check_n("x", 5).unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg("exp:x").query(&mut con).unwrap();
    // At most the 50 ms until full; -2 if a slow machine let it pass already, never -1
    // (a key without an expiry).
    assert!((1..=50).contains(&ttl) || ttl == -2, "PTTL {ttl} ms");

    eventually("the key expires", || {
        !redis::cmd("EXISTS")
            .arg("exp:x")
            .query::<bool>(&mut con)
            .unwrap()
    });
    keyed.check_n("x", 5).unwrap(); // full again
}

#[test]
fn memory_is_one_small_string_per_active_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut con = server.connection();
    let slow = RedisKeyed::new(server.client(), "slow:", Rate::per(HOUR), 4).unwrap();
    slow.check("user-1").unwrap();
    let bytes: usize = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("slow:user-1")
        .query(&mut con)
        .unwrap();
    eprintln!("one key, slow:user-1, takes {bytes} bytes");
    assert!(bytes <= 96, "{bytes} bytes for one key");

    let fast = RedisKeyed::new(
        server.client(),
        "m:",
        Rate::per(Duration::from_millis(5)),
        4,
    )
    .unwrap();
    for user in 0..200 {
        fast.check(&format!("user-{user}")).unwrap();
    }
    let size: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(size <= 201);
    // Each key lasts one interval after its one call: all gone soon, nothing to evict.
    eventually("every fast key expires", || {
        redis::cmd("DBSIZE").query::<usize>(&mut con).unwrap() == 1
    });
}

#[test]
fn a_blocking_wait_per_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let fast = RedisKeyed::new(
        server.client(),
        "w:",
        Rate::per(Duration::from_millis(20)),
        1,
    )
    .unwrap();
    fast.check("k").unwrap();
    fast.wait_timeout("k", common::PATIENCE).unwrap(); // about 20 ms
    fast.wait_n_until("other", 1, None, None).unwrap();

    let slow = RedisKeyed::new(server.client(), "s:", Rate::per(HOUR), 1).unwrap();
    slow.check("k").unwrap();
    assert!(matches!(
        slow.wait_timeout("k", Duration::from_millis(10)),
        Err(RedisLimitError::Timeout { needed }) if needed > HOUR / 2
    ));
}

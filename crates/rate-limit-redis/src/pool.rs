//! A limiter's connections: a few idle ones kept for reuse, a new one made when none is
//! idle, and every idle one thrown away after a connection-level failure.

use std::fmt;
use std::time::Duration;

use patterns_core::sync::Mutex;
use redis::{Client, Connection, ErrorKind, RedisError, RedisResult};

/// Connections to one server. The lock is held only to take or return a connection, never
/// across a round trip, so threads sharing a limiter check in parallel, each on its own
/// connection.
pub(crate) struct Pool {
    client: Client,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    /// Connect, read and write timeout.
    timeout: Duration,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("server", &self.client.get_connection_info().addr)
            .field("idle", &self.idle.lock().len())
            .field("max_idle", &self.max_idle)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Pool {
    pub(crate) fn new(client: Client, max_idle: usize, timeout: Duration) -> Pool {
        Pool {
            client,
            idle: Mutex::new(Vec::new()),
            max_idle,
            timeout,
        }
    }

    /// Runs `f` on an idle connection, or on a new one. A failure that leaves the
    /// connection in doubt drops it and every idle one (after a restart they are all
    /// dead), so the next call connects afresh.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let idle = self.idle.lock().pop();
        let mut con = match idle {
            Some(con) => con,
            None => self.connect()?,
        };
        let result = f(&mut con);
        match &result {
            Err(error) if !leaves_connection_usable(error) => self.idle.lock().clear(),
            _ => {
                let mut idle = self.idle.lock();
                if idle.len() < self.max_idle {
                    idle.push(con);
                }
            }
        }
        result
    }

    fn connect(&self) -> RedisResult<Connection> {
        let con = self.client.get_connection_with_timeout(self.timeout)?;
        // Without these a server that stops answering would hold the caller forever.
        con.set_read_timeout(Some(self.timeout))?;
        con.set_write_timeout(Some(self.timeout))?;
        Ok(con)
    }
}

/// Whether the server answered with an error, which leaves the connection in step (the
/// reply was read whole). Anything else — I/O, a timeout with a reply still on its way, a
/// reply that did not parse — may leave it out of step.
fn leaves_connection_usable(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ResponseError
            | ErrorKind::ExtensionError
            | ErrorKind::TypeError
            | ErrorKind::NoScriptError
    )
}

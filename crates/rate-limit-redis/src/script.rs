//! The Lua scripts that make each check one atomic step on the server.
//!
//! A key holds its theoretical arrival time (TAT), as `rate_limit::Gcra`'s atomic word
//! does: nanoseconds since the Unix epoch on the *server's* clock (`TIME`), in decimal.
//! Every process reads the same clock, so processes whose own clocks disagree still agree
//! on the limit. A call costing `cost` fits when `max(TAT, now) + cost ≤ now + tolerance`;
//! the script then moves TAT there and sets the key to expire when TAT passes, so a key
//! exists only while its limiter is not full.
//!
//! Lua's numbers are doubles, exact for integers below 2⁵³; nanoseconds since the epoch
//! are past that, so the scripts never form them: they keep the time as seconds and
//! nanoseconds apart and compute only how far TAT runs ahead of now, which the settings
//! keep below 2⁵² ns (`MAX_TOLERANCE`).

use redis::{Connection, RedisResult, Script};

/// What every script starts with: the server's time, and helpers that read and write a
/// TAT as an offset from it.
///
/// `replicate_commands` lets a script write after reading `TIME` on Redis 3.2 to 4 (from
/// 5 on, scripts are replicated by their effects anyway and the call is a no-op).
const PRELUDE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now_s = tonumber(clock[1])
local now_ns = tonumber(clock[2]) * 1000

-- How many nanoseconds a TAT as stored (`%d%09d`) runs ahead of now; negative if past.
local function ahead_of(tat)
  return (tonumber(string.sub(tat, 1, -10)) - now_s) * 1e9
    + (tonumber(string.sub(tat, -9)) - now_ns)
end

-- How many nanoseconds the key's TAT runs ahead of now; 0 for a missing key (full).
local function ahead_of_now(key)
  local tat = redis.call('GET', key)
  if not tat then return 0 end
  local ahead = ahead_of(tat)
  if ahead < 0 then return 0 end
  return ahead
end

-- Sets the key's TAT to `ahead` nanoseconds from now, expiring when it passes, and
-- returns it as stored; deletes the key (full again) when `ahead` is not positive, and
-- returns ''.
local function store(key, ahead)
  if ahead <= 0 then
    redis.call('DEL', key)
    return ''
  end
  local s = math.floor(ahead / 1e9)
  local ns = ahead - s * 1e9 + now_ns
  -- The division rounds, so `ns` may land a step outside [0, 1e9).
  while ns < 0 do s = s - 1; ns = ns + 1e9 end
  while ns >= 1e9 do s = s + 1; ns = ns - 1e9 end
  local tat = string.format('%d%09d', now_s + s, ns)
  redis.call('SET', key, tat, 'PX', string.format('%d', math.ceil(ahead / 1e6)))
  return tat
end
";

/// `ARGV`: cost (`n × interval`, ns), tolerance (`burst × interval`, ns), and the longest
/// wait the caller accepts (ns; 0 admits only now, -1 any wait). Replies
/// `{1, wait, tat}` when admitted (TAT moved to `tat`, as stored; the caller sleeps `wait`
/// first) or `{0, wait, ''}` when refused (nothing changed; `wait` is what admission would
/// need).
const ACQUIRE: &str = r"
local cost = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local ahead = ahead_of_now(KEYS[1]) + cost
local wait = ahead - tolerance
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then return {0, wait, ''} end
return {1, wait, store(KEYS[1], ahead)}
";

/// `ARGV`: the cost to give back (ns), and the TAT the reservation ended at (as stored).
/// Moves TAT back by the part of the reservation still ahead of now, as a cancelled wait
/// does locally: the part behind now has come back as refill already, and giving it back
/// too would count it twice once another call has reserved after it. Replies how far
/// TAT still runs ahead of now.
const RELEASE: &str = r"
local give = tonumber(ARGV[1])
local left = ahead_of(ARGV[2])
if left < give then give = left end
local ahead = ahead_of_now(KEYS[1])
if give <= 0 then return ahead end
ahead = ahead - give
store(KEYS[1], ahead)
if ahead < 0 then return 0 end
return ahead
";

/// No `ARGV`; replies how far TAT runs ahead of now (ns), changing nothing.
const PEEK: &str = r"
return ahead_of_now(KEYS[1])
";

/// What [`Scripts::acquire`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// TAT moved, to `end` (as stored, for a give-back); the call may go after sleeping
    /// `wait` nanoseconds (0: at once).
    Admitted { wait: u64, end: String },
    /// Nothing changed: admission needs a wait of `wait` nanoseconds, more than the
    /// caller accepts.
    Refused { wait: u64 },
}

/// The three scripts, each with its SHA-1 computed once: `Script` sends `EVALSHA`, and
/// loads the script and retries when the server does not know it (a new or restarted
/// server).
pub(crate) struct Scripts {
    acquire: Script,
    release: Script,
    peek: Script,
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("acquire", &self.acquire.get_hash())
            .finish_non_exhaustive()
    }
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            acquire: script(ACQUIRE),
            release: script(RELEASE),
            peek: script(PEEK),
        }
    }

    /// Admits a call costing `cost` on `key` if its wait is at most `max_wait` (`None`:
    /// any wait, a reservation).
    pub(crate) fn acquire(
        &self,
        con: &mut Connection,
        key: &[u8],
        cost: u64,
        tolerance: u64,
        max_wait: Option<u64>,
    ) -> RedisResult<Outcome> {
        let max_wait = max_wait.map_or(-1, |wait| i64::try_from(wait).unwrap_or(i64::MAX));
        let reply: (u8, u64, String) = self
            .acquire
            .key(key)
            .arg(cost)
            .arg(tolerance)
            .arg(max_wait)
            .invoke(con)?;
        Ok(match reply {
            (1, wait, end) => Outcome::Admitted { wait, end },
            (_, wait, _) => Outcome::Refused { wait },
        })
    }

    /// Gives back to `key` what is still ahead of a reservation of `cost` that ended at
    /// `end`.
    pub(crate) fn release(
        &self,
        con: &mut Connection,
        key: &[u8],
        cost: u64,
        end: &str,
    ) -> RedisResult<()> {
        let _ahead: u64 = self.release.key(key).arg(cost).arg(end).invoke(con)?;
        Ok(())
    }

    /// How many nanoseconds `key`'s TAT runs ahead of the server's now.
    pub(crate) fn ahead(&self, con: &mut Connection, key: &[u8]) -> RedisResult<u64> {
        self.peek.key(key).invoke(con)
    }
}

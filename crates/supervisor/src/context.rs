//! What a child's body sees of its supervisor.

use std::fmt;

use patterns_core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use patterns_core::sync::Arc;
use patterns_core::CancelToken;

use crate::mailbox::{Mailbox, Msg};

/// A child's view of its supervisor, passed to its body on every (re)start.
pub struct ChildContext {
    pub(crate) name: String,
    pub(crate) token: CancelToken,
    pub(crate) restarts: u32,
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) id: u64,
    pub(crate) gen: u64,
    pub(crate) ready_sent: Arc<AtomicBool>,
    pub(crate) beats: Arc<AtomicU64>,
}

impl ChildContext {
    /// The child's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The token the supervisor fires to stop this run: on shutdown, on
    /// `terminate_child`, when a sibling's failure brings this child down, or on a missed
    /// heartbeat. A body that blocks should block on it (or through a `_cancellable`
    /// operation) so that it returns promptly.
    #[must_use]
    pub fn cancel_token(&self) -> &CancelToken {
        &self.token
    }

    /// Whether the supervisor has asked this run to stop (its token fired).
    #[must_use]
    pub fn is_stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// How many times the supervisor has restarted this child before this run (0 on the
    /// first start).
    #[must_use]
    pub fn restart_count(&self) -> u32 {
        self.restarts
    }

    /// Signals that the child has started: the supervisor, which waits for this (or for
    /// the body to fail) before it starts the next child, moves on. Calls after the first
    /// do nothing, and so does a call that reaches the supervisor after the child's
    /// [start timeout](crate::ChildSpec::start_timeout) expired (the start has failed,
    /// and the token has fired). A body that returns `Ok` without calling it counts as started, then
    /// exited normally; one that returns `Err` or panics before it has failed its start.
    pub fn ready(&self) {
        if !self.ready_sent.swap(true, Ordering::AcqRel) {
            // A closed mailbox means the supervisor is gone; nothing to tell.
            let _ = self.mailbox.send(Msg::Ready {
                id: self.id,
                gen: self.gen,
            });
        }
    }

    /// Tells the supervisor this child is alive, for a spec with a
    /// [`heartbeat`](crate::ChildSpec::heartbeat); a relaxed increment, cheap enough for
    /// every loop turn. Does nothing useful (and no harm) without one.
    pub fn heartbeat(&self) {
        self.beats.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for ChildContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildContext")
            .field("name", &self.name)
            .field("restarts", &self.restarts)
            .field("stopping", &self.is_stopping())
            .finish_non_exhaustive()
    }
}

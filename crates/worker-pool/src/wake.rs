//! Waking the idle workers when a resize changes the limits they wait by.
//!
//! A worker at the minimum sleeps with no time limit, one above it for `keep_alive`:
//! when a resize lowers a limit, the sleepers must wake to read it again (Java's
//! `interruptIdleWorkers`). A worker takes a *watch* — a receiver of the current channel,
//! on which nothing is ever sent — before it reads the limits, and sleeps on it beside the
//! queue; a resize closes that channel, which wakes every receiver at once, and puts a
//! fresh one in its place. So a worker that read the old limits holds the old channel,
//! and wakes; one that took its watch after the change reads the new limits (the lock
//! orders the two). Busy workers are not disturbed: they read the limits when they are
//! next idle.

use bounded_buffer::{Receiver, Sender};

use crate::sync::Mutex;

#[derive(Debug)]
pub(crate) struct Wake {
    current: Mutex<(Sender<()>, Receiver<()>)>,
}

impl Wake {
    pub(crate) fn new() -> Wake {
        Wake {
            current: Mutex::new(bounded_buffer::channel(1)),
        }
    }

    /// A receiver that turns ready (closed) at the next [`wake_all`](Wake::wake_all).
    pub(crate) fn watch(&self) -> Receiver<()> {
        self.current.lock().1.clone()
    }

    /// Wakes every worker that waits on a watch taken before now.
    pub(crate) fn wake_all(&self) {
        let fresh = bounded_buffer::channel(1);
        let (old, _) = std::mem::replace(&mut *self.current.lock(), fresh);
        old.close();
    }
}

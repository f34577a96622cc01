//! Where a breaker reads the time: nanoseconds since the breaker was made.

use std::fmt;
use std::time::Instant;

use patterns_core::Clock;

use crate::sync::UnmodeledArc;

/// A breaker's time source.
///
/// By default the CPU's time-stamp counter, read through quanta and calibrated to the
/// monotonic clock: about a third of the cost of `Instant::now` here (rate-limit measured
/// 38 ns for a check reading `Instant::now` through the `Clock` trait, 11 ns on quanta),
/// and a call reads the time twice (at admission and when its result is recorded). A
/// caller's [`Clock`] (a `ManualClock` in tests) is read through the trait.
pub(crate) enum Timeline {
    Counter {
        counter: &'static quanta::Clock,
        origin_raw: u64,
    },
    Given {
        clock: UnmodeledArc<dyn Clock>,
        origin: Instant,
    },
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timeline::Counter { .. } => f.write_str("Timeline::Counter"),
            Timeline::Given { clock, .. } => f.debug_tuple("Timeline::Given").field(clock).finish(),
        }
    }
}

impl Timeline {
    /// The system's time, read from the CPU's counter where it is reliable (quanta falls
    /// back to the monotonic clock where it is not).
    pub(crate) fn system() -> Self {
        // One calibrated counter for the process, so that a breaker (one per key, in a
        // keyed breaker) holds a reference rather than its own copy of the calibration.
        // tidy: allow(std-path): std's OnceLock, which loom does not model, for a constant.
        static COUNTER: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
        let counter = COUNTER.get_or_init(quanta::Clock::new);
        Timeline::Counter {
            origin_raw: counter.raw(),
            counter,
        }
    }

    pub(crate) fn given(clock: impl Clock) -> Self {
        Timeline::Given {
            origin: clock.now(),
            clock: UnmodeledArc::new(clock),
        }
    }

    /// Nanoseconds since the breaker was made; never less than 0 (a clock that steps
    /// back counts as no time).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            Timeline::Counter {
                counter,
                origin_raw,
                ..
            } => counter.delta_as_nanos(*origin_raw, counter.raw()),
            Timeline::Given { clock, origin } => {
                let since = clock.now().saturating_duration_since(*origin);
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
            }
        }
    }
}

//! The verifier's time, read once per verification: `exp`/`nbf`/`iat` and the token cache's
//! lifetimes alike are measured on it. Tests can drive it with a
//! [`ManualClock`](crate::test_util::ManualClock).
//!
//! Cache lifetimes use the wall clock, as `exp` does, rather than a monotonic one: one clock read
//! per hit instead of two. A clock stepped back lengthens an entry's life by the step (never past
//! the token's `exp`, which is checked on the same clock); a clock stepped forward, as after a
//! snapshot restore, ends entries early.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone)]
pub(crate) enum Clock {
    /// The system's wall clock.
    System,
    /// A clock a test sets and advances (feature `test-util`).
    #[cfg(feature = "test-util")]
    Manual(crate::test_util::ManualClock),
}

impl Clock {
    /// The time since the Unix epoch (zero before it).
    pub(crate) fn now(&self) -> Duration {
        let now = match self {
            Clock::System => SystemTime::now(),
            #[cfg(feature = "test-util")]
            Clock::Manual(clock) => clock.now(),
        };
        now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)
    }
}

/// Whole seconds of a [`Clock::now`] reading, as JWT numeric dates count them.
pub(crate) fn seconds(now: Duration) -> i64 {
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

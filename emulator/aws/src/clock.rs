//! The emulator's clock: wall time plus an offset that tests and the harness set at run time.
//!
//! Every time-dependent check (signature skew, session expiry) reads [`Clock::now`], so moving
//! the offset moves the whole emulator in time without touching the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// Wall-clock time shifted by a settable offset. Cheap to clone; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// A clock with no offset.
    pub fn new() -> Self {
        Self::default()
    }

    /// The emulator's current time.
    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.checked_add(Duration::seconds(self.offset_seconds()))
            .unwrap_or(now)
    }

    /// The offset from wall time in seconds (positive = the emulator is ahead).
    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Sets the offset from wall time in seconds.
    pub fn set_offset_seconds(&self, seconds: i64) {
        self.offset_seconds.store(seconds, Ordering::Relaxed);
    }

    /// Sets the offset from wall time (whole seconds; fractions are dropped).
    pub fn set_offset(&self, offset: Duration) {
        self.set_offset_seconds(offset.whole_seconds());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_moves_now_and_is_shared_by_clones() {
        let clock = Clock::new();
        let other = clock.clone();
        other.set_offset(Duration::hours(2));
        assert_eq!(clock.offset_seconds(), 7200);
        let diff = clock.now() - OffsetDateTime::now_utc();
        assert!(diff > Duration::minutes(119) && diff < Duration::minutes(121));
    }
}

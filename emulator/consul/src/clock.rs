//! The emulator's clock: wall time plus a settable offset, shared by clone.
//!
//! Token expiry (`MaxTokenTTL`) is tested by shifting the clock instead of sleeping; the
//! harness holds a clone of the same [`Clock`] and moves it forward.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// Wall clock with a shared, settable offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_nanos: Arc<AtomicI64>,
}

impl Clock {
    /// A clock at wall time (offset zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// The current emulated time.
    pub fn now(&self) -> OffsetDateTime {
        let offset = Duration::nanoseconds(self.offset_nanos.load(Ordering::SeqCst));
        OffsetDateTime::now_utc()
            .checked_add(offset)
            .unwrap_or(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward (or backward, for a negative duration) for every clone.
    pub fn advance(&self, by: Duration) {
        let nanos = i64::try_from(by.whole_nanoseconds()).unwrap_or(i64::MAX);
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                Some(cur.saturating_add(nanos))
            });
    }

    /// Sets the offset from wall time.
    pub fn set_offset(&self, offset: Duration) {
        let nanos = i64::try_from(offset.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.offset_nanos.store(nanos, Ordering::SeqCst);
    }

    /// The current offset from wall time.
    pub fn offset(&self) -> Duration {
        Duration::nanoseconds(self.offset_nanos.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_offset() {
        let a = Clock::new();
        let b = a.clone();
        a.advance(Duration::hours(2));
        assert_eq!(b.offset(), Duration::hours(2));
        assert!(b.now() > OffsetDateTime::now_utc() + Duration::minutes(119));
    }
}

//! Exit codes of `iamconform`, in one place (modelled on nextest's).
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | every selected scenario passed (skips allowed) |
//! | 100  | at least one scenario failed |
//! | 4    | no scenario was selected (filters or shards left nothing) |
//! | 2    | usage error or invalid scenario files |
//! | 1    | internal error (a bug, or the environment failed under us) |

/// Every selected scenario passed.
pub const OK: u8 = 0;
/// An internal error: please file a bug with the output.
pub const INTERNAL: u8 = 1;
/// Usage error or invalid scenario files.
pub const USAGE: u8 = 2;
/// Nothing was selected to run.
pub const NOTHING_SELECTED: u8 = 4;
/// At least one scenario failed.
pub const FAILED: u8 = 100;

/// The totals a run ends with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios skipped (unmet `requires`, backend unavailable), each with a reason.
    pub skipped: usize,
}

/// Chooses the exit code of a finished run.
pub fn for_run(totals: Totals) -> u8 {
    if totals.failed > 0 {
        FAILED
    } else if totals.passed + totals.skipped == 0 {
        NOTHING_SELECTED
    } else {
        OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_follows_totals() {
        let t = |passed, failed, skipped| Totals {
            passed,
            failed,
            skipped,
        };
        assert_eq!(for_run(t(3, 0, 1)), OK);
        assert_eq!(for_run(t(3, 1, 0)), FAILED);
        assert_eq!(for_run(t(0, 1, 0)), FAILED);
        assert_eq!(for_run(t(0, 0, 0)), NOTHING_SELECTED);
        // All skipped is still a success: every skip carries its reason in the report.
        assert_eq!(for_run(t(0, 0, 2)), OK);
    }
}

//! The interface between the runner and the reporters.
//!
//! The runner never prints: it emits [`RunEvent`]s, and every reporter (terminal, JUnit, JSON,
//! GitHub annotations) consumes the same stream. Events carry no secret: client output is
//! scrubbed of every seeded secret before it is put into an event.

use std::time::Duration;

/// One event of a run.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The run starts with this many selected scenarios.
    RunStarted {
        /// Number of scenarios that will be reported.
        total: usize,
        /// The backend in use, e.g. `embedded`.
        backend: String,
        /// The client under test, e.g. `reference`.
        client: String,
    },
    /// A scenario finished (passed, failed or skipped).
    ScenarioFinished(ScenarioReport),
    /// The run is over.
    RunFinished {
        /// Totals.
        totals: crate::cli::exit::Totals,
        /// Wall time of the whole run.
        duration: Duration,
    },
}

/// What happened to one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// Path relative to the scenario root (stable id).
    pub id: String,
    /// Path to open the file (for annotations).
    pub path: String,
    /// The scenario's `name`.
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The outcome.
    pub outcome: Outcome,
    /// Wall time.
    pub duration: Duration,
    /// Each step that ran, in order.
    pub steps: Vec<StepReport>,
}

/// Outcome of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step met its expectations.
    Passed,
    /// A step did not meet its expectations (or could not run).
    Failed(Failure),
    /// Not run, with the reason (unmet `requires`, backend unavailable, client lacks a feature).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Why a scenario failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based index of the failing step.
    pub step: usize,
    /// Source line of that step in the scenario file.
    pub line: u32,
    /// What the step was, e.g. `login as web/task-1 to iam-ecs-service-token`.
    pub step_title: String,
    /// Each unmet expectation, as a readable message (expected vs actual, a diff when useful).
    pub problems: Vec<String>,
    /// The AWS emulator's verdicts on the requests of that step, when any were rejected.
    pub diagnosis: Vec<String>,
}

/// One executed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// Step title.
    pub title: String,
    /// Source line.
    pub line: u32,
    /// Whether it met its expectations.
    pub passed: bool,
    /// Wall time.
    pub duration: Duration,
    /// The client's stdout (scrubbed of secrets), when the step ran the client.
    pub stdout: String,
    /// The client's stderr (scrubbed of secrets), when the step ran the client.
    pub stderr: String,
    /// What a login step observed, for `record` and `--bless`: see
    /// [`crate::record::observe_login`]. Holds no secret.
    pub observed: Option<serde_json::Value>,
}

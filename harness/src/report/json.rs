//! The JSON report (`--json FILE`).
//!
//! Format, version 1 (a single JSON object; fields are only ever added within a version):
//! ```json
//! {
//!   "version": 1,
//!   "backend": "embedded", "client": "reference",
//!   "totals": { "passed": 3, "failed": 1, "skipped": 0 },
//!   "duration_ms": 812,
//!   "scenarios": [
//!     { "id": "login/service-token.yaml", "name": "…", "tags": ["login"],
//!       "outcome": "passed" | "failed" | "skipped",
//!       "skip_reason": "…",                               // skipped only
//!       "failure": { "step": 2, "line": 14, "step_title": "…",
//!                    "problems": ["…"], "diagnosis": ["…"] },   // failed only
//!       "duration_ms": 120,
//!       "steps": [ { "title": "…", "line": 9, "passed": true, "duration_ms": 40,
//!                    "stdout": "…", "stderr": "…",
//!                    "observed": { "ok": true, "error": null, "token": {…}, "sent": {…} }  // logins
//!                  } ] }
//!   ]
//! }
//! ```
//! Client output is scrubbed of seeded secrets before it reaches a report.

use std::io;
use std::path::PathBuf;

use serde::Serialize;

use crate::report::EventSink;
use crate::runner::events::{Outcome, RunEvent, ScenarioReport};

/// The JSON format version written by this build.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct WireReport<'a> {
    version: u32,
    backend: &'a str,
    client: &'a str,
    totals: WireTotals,
    duration_ms: u128,
    scenarios: Vec<WireScenario<'a>>,
}

#[derive(Serialize)]
struct WireTotals {
    passed: usize,
    failed: usize,
    skipped: usize,
}

#[derive(Serialize)]
struct WireScenario<'a> {
    id: &'a str,
    name: &'a str,
    tags: &'a [String],
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<WireFailure<'a>>,
    duration_ms: u128,
    steps: Vec<WireStep<'a>>,
}

#[derive(Serialize)]
struct WireFailure<'a> {
    step: usize,
    line: u32,
    step_title: &'a str,
    problems: &'a [String],
    diagnosis: &'a [String],
}

#[derive(Serialize)]
struct WireStep<'a> {
    title: &'a str,
    line: u32,
    passed: bool,
    duration_ms: u128,
    stdout: &'a str,
    stderr: &'a str,
    /// What a login step observed (`crate::record::observe_login`); login steps only.
    #[serde(skip_serializing_if = "Option::is_none")]
    observed: Option<&'a serde_json::Value>,
}

/// Collects the run and writes the JSON file at the end.
pub struct JsonReport {
    path: PathBuf,
    backend: String,
    client: String,
    scenarios: Vec<ScenarioReport>,
    totals: crate::cli::exit::Totals,
    duration_ms: u128,
}

impl JsonReport {
    /// A JSON writer for `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            backend: String::new(),
            client: String::new(),
            scenarios: Vec::new(),
            totals: Default::default(),
            duration_ms: 0,
        }
    }

    /// Renders the document.
    pub fn render(&self) -> serde_json::Result<String> {
        let scenarios = self
            .scenarios
            .iter()
            .map(|s| {
                let (outcome, skip_reason, failure) = match &s.outcome {
                    Outcome::Passed => ("passed", None, None),
                    Outcome::Skipped { reason } => ("skipped", Some(reason.as_str()), None),
                    Outcome::Failed(f) => (
                        "failed",
                        None,
                        Some(WireFailure {
                            step: f.step,
                            line: f.line,
                            step_title: &f.step_title,
                            problems: &f.problems,
                            diagnosis: &f.diagnosis,
                        }),
                    ),
                };
                WireScenario {
                    id: &s.id,
                    name: &s.name,
                    tags: &s.tags,
                    outcome,
                    skip_reason,
                    failure,
                    duration_ms: s.duration.as_millis(),
                    steps: s
                        .steps
                        .iter()
                        .map(|st| WireStep {
                            title: &st.title,
                            line: st.line,
                            passed: st.passed,
                            duration_ms: st.duration.as_millis(),
                            stdout: &st.stdout,
                            stderr: &st.stderr,
                            observed: st.observed.as_ref(),
                        })
                        .collect(),
                }
            })
            .collect();
        let wire = WireReport {
            version: VERSION,
            backend: &self.backend,
            client: &self.client,
            totals: WireTotals {
                passed: self.totals.passed,
                failed: self.totals.failed,
                skipped: self.totals.skipped,
            },
            duration_ms: self.duration_ms,
            scenarios,
        };
        serde_json::to_string_pretty(&wire)
    }
}

impl EventSink for JsonReport {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::RunStarted {
                backend, client, ..
            } => {
                self.backend = backend.clone();
                self.client = client.clone();
            }
            RunEvent::ScenarioFinished(report) => self.scenarios.push(report.clone()),
            RunEvent::RunFinished { totals, duration } => {
                self.totals = *totals;
                self.duration_ms = duration.as_millis();
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let text = self.render().map_err(io::Error::other)?;
        std::fs::write(&self.path, text)
    }
}

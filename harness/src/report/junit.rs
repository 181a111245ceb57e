//! JUnit XML (`--junit FILE`), written with nextest's `quick-junit`.
//!
//! One test suite per scenario folder, one test case per scenario; skipped cases carry their
//! reason, failed cases the unmet expectations and the client's output of the failing step.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::EventSink;
use crate::runner::events::{Outcome, RunEvent, ScenarioReport};

/// Collects scenario reports and writes the JUnit file at the end.
pub struct Junit {
    path: PathBuf,
    scenarios: Vec<ScenarioReport>,
}

impl Junit {
    /// A JUnit writer for `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            scenarios: Vec::new(),
        }
    }
}

/// Renders the JUnit document for these scenarios.
pub fn render(scenarios: &[ScenarioReport]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("iamconform");
    let mut suites: BTreeMap<String, Vec<&ScenarioReport>> = BTreeMap::new();
    for s in scenarios {
        let suite =
            s.id.rsplit_once('/')
                .map_or(".", |(dir, _)| dir)
                .to_string();
        suites.entry(suite).or_default().push(s);
    }
    for (name, members) in suites {
        let mut suite = TestSuite::new(name.clone());
        for s in members {
            let status = match &s.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Skipped { reason } => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(reason.clone());
                    st
                }
                Outcome::Failed(f) => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_message(format!(
                        "step {} (line {}): {}",
                        f.step, f.line, f.step_title
                    ));
                    let mut description = f.problems.join("\n");
                    if !f.diagnosis.is_empty() {
                        description.push_str("\nwhat the AWS emulator saw:\n");
                        description.push_str(&f.diagnosis.join("\n"));
                    }
                    st.set_description(description);
                    st
                }
            };
            let mut case = TestCase::new(s.id.clone(), status);
            case.set_classname(name.clone());
            case.set_time(s.duration);
            let (out, err) =
                s.steps
                    .iter()
                    .fold((String::new(), String::new()), |(mut o, mut e), st| {
                        o.push_str(&st.stdout);
                        e.push_str(&st.stderr);
                        (o, e)
                    });
            if !out.is_empty() {
                case.set_system_out(out);
            }
            if !err.is_empty() {
                case.set_system_err(err);
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}

impl EventSink for Junit {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        if let RunEvent::ScenarioFinished(report) = event {
            self.scenarios.push(report.clone());
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let xml = render(&self.scenarios).map_err(io::Error::other)?;
        std::fs::write(&self.path, xml)
    }
}

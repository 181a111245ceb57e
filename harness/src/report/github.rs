//! GitHub Actions workflow annotations (`GITHUB_ACTIONS=true`): one `::error` per failed
//! scenario, pointing at the failing step's line, and a `::notice` per skip.

use std::io::{self, Write};

use crate::report::EventSink;
use crate::runner::events::{Outcome, RunEvent};

/// Writes annotations to stdout (where the runner picks them up).
pub struct GithubAnnotations<W: Write> {
    out: W,
}

impl<W: Write> GithubAnnotations<W> {
    /// Annotations written to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

/// Escapes data for a workflow command (`%`, CR, LF), as GitHub documents.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (data escapes plus `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

impl<W: Write + Send> EventSink for GithubAnnotations<W> {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        if let RunEvent::ScenarioFinished(report) = event {
            match &report.outcome {
                Outcome::Failed(f) => writeln!(
                    self.out,
                    "::error file={},line={},title={}::{}",
                    escape_property(&report.path),
                    f.line,
                    escape_property(&format!("iamconform: {}", report.name)),
                    escape_data(&format!(
                        "step {}: {}\n{}",
                        f.step,
                        f.step_title,
                        f.problems.join("\n")
                    ))
                )?,
                Outcome::Skipped { reason } => writeln!(
                    self.out,
                    "::notice file={},title={}::{}",
                    escape_property(&report.path),
                    escape_property(&format!("iamconform: skipped {}", report.name)),
                    escape_data(reason)
                )?,
                Outcome::Passed => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_github_rules() {
        assert_eq!(escape_data("a%b\nc\r"), "a%25b%0Ac%0D");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}

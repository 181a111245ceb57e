//! The human-readable reporter.
//!
//! On a TTY it prints one line per scenario as it finishes; when not on a TTY (CI logs) it
//! prints only failures and skips, then the totals. Every failure shows the step, its line,
//! each unmet expectation and the AWS emulator's diagnosis. The last line is always
//! `iamconform: N passed, N failed, N skipped` (the contract CI parsers rely on).

use std::io::{self, Write};

use crate::report::EventSink;
use crate::runner::events::{Outcome, RunEvent};

/// Writes the terminal report.
pub struct Terminal<W: Write> {
    out: W,
    verbose: bool,
}

impl<W: Write> Terminal<W> {
    /// A terminal reporter; `verbose` prints passing scenarios too (the default on a TTY).
    pub fn new(out: W, verbose: bool) -> Self {
        Self { out, verbose }
    }

    /// Gives back the writer (for tests).
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> EventSink for Terminal<W> {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::RunStarted {
                total,
                backend,
                client,
            } => {
                if self.verbose {
                    writeln!(
                        self.out,
                        "iamconform: running {total} scenario(s) on the {backend} backend with the {client} client"
                    )?;
                }
            }
            RunEvent::ScenarioFinished(report) => match &report.outcome {
                Outcome::Passed => {
                    if self.verbose {
                        writeln!(
                            self.out,
                            "  PASS [{:>6.3}s] {}",
                            report.duration.as_secs_f64(),
                            report.id
                        )?;
                    }
                }
                Outcome::Skipped { reason } => {
                    writeln!(self.out, "  SKIP           {}: {reason}", report.id)?;
                }
                Outcome::Failed(failure) => {
                    writeln!(
                        self.out,
                        "  FAIL [{:>6.3}s] {} ({})",
                        report.duration.as_secs_f64(),
                        report.id,
                        report.name
                    )?;
                    writeln!(
                        self.out,
                        "    step {} (line {}): {}",
                        failure.step, failure.line, failure.step_title
                    )?;
                    for problem in &failure.problems {
                        for (i, line) in problem.lines().enumerate() {
                            let bullet = if i == 0 { "- " } else { "  " };
                            writeln!(self.out, "      {bullet}{line}")?;
                        }
                    }
                    if !failure.diagnosis.is_empty() {
                        writeln!(self.out, "    what the AWS emulator saw:")?;
                        for d in &failure.diagnosis {
                            for line in d.lines() {
                                writeln!(self.out, "      {line}")?;
                            }
                        }
                    }
                    if let Some(step) = report.steps.get(failure.step.saturating_sub(1)) {
                        write_output(&mut self.out, "client stdout", &step.stdout)?;
                        write_output(&mut self.out, "client stderr", &step.stderr)?;
                    }
                }
            },
            RunEvent::RunFinished { totals, duration } => {
                if self.verbose {
                    writeln!(
                        self.out,
                        "iamconform: finished in {:.3}s",
                        duration.as_secs_f64()
                    )?;
                }
                writeln!(
                    self.out,
                    "iamconform: {} passed, {} failed, {} skipped",
                    totals.passed, totals.failed, totals.skipped
                )?;
            }
        }
        self.out.flush()
    }
}

fn write_output(out: &mut impl Write, label: &str, text: &str) -> io::Result<()> {
    let text = text.trim_end();
    if text.is_empty() {
        return Ok(());
    }
    writeln!(out, "    {label}:")?;
    for line in text.lines().take(40) {
        writeln!(out, "      | {line}")?;
    }
    Ok(())
}

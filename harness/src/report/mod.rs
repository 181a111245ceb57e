//! Reporters: each consumes the runner's [`RunEvent`] stream.
//!
//! [`Reporter`] fans every event out to the terminal reporter and, when asked for, the JUnit
//! and JSON writers and GitHub workflow annotations.

pub mod github;
pub mod json;
pub mod junit;
pub mod terminal;

use std::io;

use crate::runner::events::RunEvent;

/// A consumer of run events.
pub trait EventSink {
    /// Handles one event.
    fn event(&mut self, event: &RunEvent) -> io::Result<()>;
    /// Called once after the last event (e.g. to write a file).
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fans events out to several sinks.
#[derive(Default)]
pub struct Reporter {
    sinks: Vec<Box<dyn EventSink + Send>>,
}

impl Reporter {
    /// Adds a sink.
    pub fn add(&mut self, sink: Box<dyn EventSink + Send>) {
        self.sinks.push(sink);
    }

    /// Sends an event to every sink.
    pub fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        for sink in &mut self.sinks {
            sink.event(event)?;
        }
        Ok(())
    }

    /// Finishes every sink.
    pub fn finish(&mut self) -> io::Result<()> {
        for sink in &mut self.sinks {
            sink.finish()?;
        }
        Ok(())
    }
}

//! The runner: executes scenarios and emits [`events::RunEvent`]s; it never prints.
//!
//! Each scenario gets its own AWS emulator, its own Consul from the backend, its own tap and
//! temporary directory, so scenarios are isolated and run in parallel (`--jobs`).

pub mod events;
mod scenario;
mod steps;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use crate::backend::Backend;
use crate::cli::exit::Totals;
use crate::client::ClientSpec;
use crate::plan::PlannedFile;
use crate::report::Reporter;
use events::{Outcome, RunEvent, ScenarioReport};

/// Everything a run needs.
pub struct RunConfig {
    /// Selected, already-loaded scenarios.
    pub scenarios: Vec<(PlannedFile, iamconform_scenario::Scenario)>,
    /// The client under test.
    pub client: ClientSpec,
    /// The Consul backend.
    pub backend: Arc<Backend>,
    /// Concurrent scenarios.
    pub jobs: usize,
    /// Stop starting scenarios after the first failure.
    pub fail_fast: bool,
    /// The identity fixtures file (None: the shipped fixtures).
    pub fixtures: Option<PathBuf>,
    /// Directory of shipped presets (`fixtures/`).
    pub fixtures_dir: PathBuf,
    /// Timeout of one client command.
    pub step_timeout: Duration,
    /// Run with Enterprise features (`--enterprise`).
    pub enterprise: bool,
    /// The iamconform executable (for the `reference` client's `{exe}`).
    pub exe: PathBuf,
}

/// Runs every scenario and reports; returns the totals.
pub async fn run(config: RunConfig, reporter: &mut Reporter) -> std::io::Result<Totals> {
    let started = Instant::now();
    reporter.event(&RunEvent::RunStarted {
        total: config.scenarios.len(),
        backend: config.backend.kind().name().to_string(),
        client: config.client.name.clone(),
    })?;
    let jobs = if config.backend.parallel() {
        config.jobs.max(1)
    } else {
        1
    };
    let shared = Arc::new(scenario::Shared {
        client: config.client,
        backend: config.backend,
        fixtures: config.fixtures,
        fixtures_dir: config.fixtures_dir,
        step_timeout: config.step_timeout,
        enterprise: config.enterprise,
        exe: config.exe,
    });
    let permits = Arc::new(Semaphore::new(jobs));
    let (tx, mut rx) = mpsc::unbounded_channel::<ScenarioReport>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let total = config.scenarios.len();
    for (file, scenario) in config.scenarios {
        let shared = shared.clone();
        let permits = permits.clone();
        let tx = tx.clone();
        let stop = stop.clone();
        let fail_fast = config.fail_fast;
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let report = if stop.load(std::sync::atomic::Ordering::SeqCst) {
                ScenarioReport {
                    id: file.id.clone(),
                    path: file.path.display().to_string(),
                    name: scenario.name.clone(),
                    tags: scenario.tags.clone(),
                    outcome: Outcome::Skipped {
                        reason: "--fail-fast: an earlier scenario failed".into(),
                    },
                    duration: Duration::ZERO,
                    steps: Vec::new(),
                }
            } else {
                // A panic inside one scenario must not take the run down: report it as a failure.
                let task = tokio::spawn(scenario::run_one(shared, file.clone(), scenario.clone()));
                match task.await {
                    Ok(r) => r,
                    Err(e) => ScenarioReport {
                        id: file.id.clone(),
                        path: file.path.display().to_string(),
                        name: scenario.name.clone(),
                        tags: scenario.tags.clone(),
                        outcome: Outcome::Failed(events::Failure {
                            step: 0,
                            line: 1,
                            step_title: "internal".into(),
                            problems: vec![format!(
                                "internal error in the harness (please file a bug): {e}"
                            )],
                            diagnosis: Vec::new(),
                        }),
                        duration: Duration::ZERO,
                        steps: Vec::new(),
                    },
                }
            };
            if fail_fast && matches!(report.outcome, Outcome::Failed(_)) {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = tx.send(report);
        });
    }
    drop(tx);
    let mut totals = Totals::default();
    let mut seen = 0;
    while let Some(report) = rx.recv().await {
        seen += 1;
        match report.outcome {
            Outcome::Passed => totals.passed += 1,
            Outcome::Failed(_) => totals.failed += 1,
            Outcome::Skipped { .. } => totals.skipped += 1,
        }
        reporter.event(&RunEvent::ScenarioFinished(report))?;
    }
    debug_assert_eq!(seen, total);
    reporter.event(&RunEvent::RunFinished {
        totals,
        duration: started.elapsed(),
    })?;
    reporter.finish()?;
    Ok(totals)
}

//! `suite`: `iamconform run` wall time and per-scenario times, `serve` start-up time, and
//! the peak RSS of `serve` idle and under load.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::load::{self, Level};
use crate::servers::{self, Placement};
use crate::sign::{self, Call};

/// Flags of `suite`.
#[derive(Args)]
pub(crate) struct SuiteArgs {
    /// The iamconform binary.
    #[arg(long, default_value = "target/release/iamconform")]
    iamconform: PathBuf,
    /// Scenario directory.
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// The Consul preset for the loaded `serve`.
    #[arg(long, default_value = "fixtures/consul-ecs.yaml")]
    preset: PathBuf,
    /// Runs of the whole suite (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Start-ups of `serve` (the median is reported).
    #[arg(long, default_value_t = 21)]
    startups: usize,
    /// Seconds of each load while measuring RSS under load.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct RunReport {
    totals: Totals,
    duration_ms: u64,
    scenarios: Vec<ScenarioReport>,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
struct Totals {
    passed: u64,
    failed: u64,
    skipped: u64,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
struct ScenarioReport {
    id: String,
    outcome: String,
    duration_ms: u64,
}

#[derive(Debug, Serialize)]
struct Startup {
    args: String,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    suite_runs_wall_ms: Vec<f64>,
    suite_median_wall_ms: f64,
    suite_reported_ms: u64,
    totals: Totals,
    scenarios: Vec<ScenarioReport>,
    startup: Vec<Startup>,
    idle_rss_kib: u64,
    idle_peak_kib: u64,
    loaded_peak_kib: u64,
    load_note: String,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub(crate) async fn run(args: SuiteArgs) -> Result<()> {
    let at = Placement::default();
    // 1. The suite.
    let tmp = std::env::temp_dir().join(format!("iamconform-suite-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut walls = Vec::new();
    let mut last = None;
    for i in 0..args.runs {
        let json = tmp.join(format!("run-{i}.json"));
        let start = Instant::now();
        let status = tokio::process::Command::new(&args.iamconform)
            .arg("run")
            .arg(&args.scenarios)
            .arg("--json")
            .arg(&json)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .status()
            .await?;
        let wall = start.elapsed().as_secs_f64() * 1000.0;
        let report: RunReport = serde_json::from_slice(
            &std::fs::read(&json)
                .with_context(|| format!("iamconform run exited {status} without a report"))?,
        )?;
        eprintln!(
            "suite run {i}: {wall:.0} ms wall ({} passed, {} failed, {} skipped; exit {status})",
            report.totals.passed, report.totals.failed, report.totals.skipped
        );
        walls.push(wall);
        last = Some((wall, report));
    }
    let mut sorted = walls.clone();
    let med = median(&mut sorted);
    let Some((_, mut report)) = last else {
        bail!("--runs must be at least 1");
    };
    report
        .scenarios
        .sort_by_key(|s| std::cmp::Reverse(s.duration_ms));
    let _ = std::fs::remove_dir_all(&tmp);

    // 2. Start-up to the ready line.
    let mut startup = Vec::new();
    for preset in [None, Some(args.preset.clone())] {
        let mut times = Vec::new();
        for _ in 0..args.startups {
            let (server, _) =
                servers::iamconform_serve(&args.iamconform, preset.as_deref(), &at).await?;
            times.push(server.startup.as_secs_f64() * 1000.0);
            server.stop().await;
        }
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        let max = times.iter().copied().fold(0.0, f64::max);
        let s = Startup {
            args: match &preset {
                None => "serve".into(),
                Some(p) => format!("serve --consul-preset {}", p.display()),
            },
            median_ms: median(&mut times),
            min_ms: min,
            max_ms: max,
        };
        eprintln!(
            "start-up `{}`: median {:.1} ms (min {:.1}, max {:.1}, n={})",
            s.args, s.median_ms, s.min_ms, s.max_ms, args.startups
        );
        startup.push(s);
    }

    // 3. RSS idle and under load.
    let (serve, endpoints) =
        servers::iamconform_serve(&args.iamconform, Some(&args.preset), &at).await?;
    let pid = serve.pid().context("serve has no pid")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle_rss, idle_peak) = servers::memory_kib(pid)?;
    let aws = servers::url_addr(&endpoints.sts)?;
    let creds = sign::fixture_creds(sign::WEB_TASK_KEY)?;
    let pool = Arc::new(sign::pool(
        &creds,
        Call::GetCallerIdentity,
        &aws.to_string(),
        64,
    )?);
    let level = Level {
        addr: aws,
        requests: pool,
        expect_status: 200,
        concurrency: 64,
        duration: Duration::from_secs_f64(args.seconds),
        max_requests: 1_000_000,
    };
    let r = load::run(level).await;
    let (_, loaded_peak) = servers::memory_kib(pid)?;
    serve.stop().await;
    let load_note = format!(
        "GetCallerIdentity, 64 connections, {:.0} req/s for {:.1} s, {} errors",
        r.rps, r.elapsed_s, r.errors
    );

    let out = Report {
        suite_runs_wall_ms: walls,
        suite_median_wall_ms: med,
        suite_reported_ms: report.duration_ms,
        totals: report.totals.clone(),
        scenarios: report.scenarios.clone(),
        startup,
        idle_rss_kib: idle_rss,
        idle_peak_kib: idle_peak,
        loaded_peak_kib: loaded_peak,
        load_note,
    };
    print_markdown(&out, &args);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(())
}

fn print_markdown(r: &Report, args: &SuiteArgs) {
    println!(
        "Suite: `iamconform run {}` (embedded backend, reference client as a subprocess): median wall {:.0} ms over {} runs ({}); {} passed, {} failed, {} skipped ({} scenarios).",
        args.scenarios.display(),
        r.suite_median_wall_ms,
        r.suite_runs_wall_ms.len(),
        r.suite_runs_wall_ms
            .iter()
            .map(|w| format!("{w:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.totals.passed,
        r.totals.failed,
        r.totals.skipped,
        r.scenarios.len()
    );
    println!();
    println!("Slowest scenarios (last run):");
    println!();
    println!("| scenario | outcome | ms |");
    println!("|---|---|---|");
    for s in r.scenarios.iter().take(10) {
        println!("| {} | {} | {} |", s.id, s.outcome, s.duration_ms);
    }
    let total: u64 = r.scenarios.iter().map(|s| s.duration_ms).sum();
    println!();
    println!("Sum of per-scenario times: {total} ms");
    println!();
    println!("| start-up to the ready line | median ms | min | max |");
    println!("|---|---|---|---|");
    for s in &r.startup {
        println!(
            "| `{}` | {:.1} | {:.1} | {:.1} |",
            s.args, s.median_ms, s.min_ms, s.max_ms
        );
    }
    println!();
    println!(
        "RSS of `serve --consul-preset`: idle {:.1} MiB (VmHWM {:.1} MiB); peak under load {:.1} MiB ({})",
        r.idle_rss_kib as f64 / 1024.0,
        r.idle_peak_kib as f64 / 1024.0,
        r.loaded_peak_kib as f64 / 1024.0,
        r.load_note
    );
}

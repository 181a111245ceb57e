//! `iamconform run`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use iamconform_secret::Secret;

use crate::backend::docker::{Docker, DockerConfig, DockerNetwork};
use crate::backend::local::Local;
use crate::backend::{Backend, BackendKind};
use crate::cli::{default_paths, exit, fixtures_dir};
use crate::client::{ClientSpec, presets};
use crate::plan::{Filter, Shard, discover};
use crate::report::{
    EventSink, Reporter, github::GithubAnnotations, json::JsonReport, junit::Junit,
    terminal::Terminal,
};
use crate::runner::events::{Outcome, RunEvent, ScenarioReport};
use crate::runner::{RunConfig, run};

/// Flags of `iamconform run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Scenario files or directories (default: scenarios/).
    paths: Vec<PathBuf>,
    /// The client under test: a preset (reference, consul-cli) or a TOML adapter file.
    #[arg(long, default_value = "reference")]
    client: String,
    /// Where Consul comes from.
    #[arg(long, value_enum, default_value = "embedded")]
    backend: BackendKind,
    /// Address of an external Consul (with --backend external).
    #[arg(long, env = "CONSUL_HTTP_ADDR")]
    consul_addr: Option<String>,
    /// Management token of an external Consul (with --backend external).
    #[arg(long, env = "CONSUL_HTTP_TOKEN", hide_env_values = true)]
    consul_token: Option<String>,
    /// Consul image for --backend docker.
    #[arg(long)]
    consul_image: Option<String>,
    /// How --backend docker networks its containers: host (default on Linux; nothing leaves
    /// loopback) or bridge (default elsewhere: Consul's HTTP port published on 127.0.0.1, the
    /// AWS emulator reached as host.docker.internal).
    #[arg(long, value_enum, value_name = "MODE")]
    docker_network: Option<DockerNetwork>,
    /// With --docker-network bridge: the host address host.docker.internal leads to, where
    /// the AWS emulator listens (default: 127.0.0.1 on macOS/Windows, the bridge's gateway
    /// on Linux).
    #[arg(long, value_name = "IP")]
    docker_host_ip: Option<std::net::IpAddr>,
    /// consul binary for --backend local (default: consul on PATH).
    #[arg(long)]
    consul_bin: Option<PathBuf>,
    /// Run Consul with Enterprise features (namespaces, audit log).
    #[arg(long)]
    enterprise: bool,
    /// Only scenarios whose path, name or tag contains PATTERN (`tag:x`, `name:x`, `path:x`).
    #[arg(long, value_name = "PATTERN")]
    filter: Vec<String>,
    /// Run only shard K of N (stable hash of the scenario path, like nextest's hash:K/N).
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Scenarios run at once (default: number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Stop starting scenarios after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Identity fixtures (default: the shipped fixtures/identities.yaml).
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// Longest a client command may run, in seconds.
    #[arg(long, default_value_t = 60)]
    step_timeout: u64,
    /// Differential mode: run every scenario on two backends (e.g. `embedded,docker`) and
    /// report each difference in outcome or error text (exit 100 when any).
    #[arg(long, value_name = "A,B", value_parser = parse_compare, conflicts_with = "backend")]
    compare: Option<(BackendKind, BackendKind)>,
    /// Rewrite the expectations of failing login/logout steps to what happened, showing the
    /// diff (the first failing step of each scenario per run; see docs/authoring.md).
    #[arg(long, conflicts_with = "compare")]
    bless: bool,
    /// With --bless: rewrite files that git reports as changed or untracked too.
    #[arg(long, requires = "bless")]
    force: bool,
}

fn parse_compare(text: &str) -> Result<(BackendKind, BackendKind), String> {
    use clap::ValueEnum;
    let (a, b) = text
        .split_once(',')
        .ok_or("expected two backends, e.g. `embedded,docker`")?;
    let kind = |name: &str| {
        BackendKind::from_str(name.trim(), true).map_err(|_| {
            format!(
                "unknown backend {:?} (embedded, docker, external, local)",
                name.trim()
            )
        })
    };
    let (a, b) = (kind(a)?, kind(b)?);
    if a == b {
        return Err(format!(
            "compare two different backends, not {} with itself",
            a.name()
        ));
    }
    Ok((a, b))
}

pub(super) fn main(args: RunArgs) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run_main(args)),
        Err(e) => {
            eprintln!("iamconform: cannot start the async runtime: {e}");
            ExitCode::from(exit::INTERNAL)
        }
    }
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("iamconform run: {message}");
    ExitCode::from(exit::USAGE)
}

fn load_client(name: &str) -> Result<ClientSpec, String> {
    if let Some(spec) = presets::preset(name) {
        return Ok(spec);
    }
    let path = PathBuf::from(name);
    if path.is_file() {
        return ClientSpec::from_file(&path).map_err(|e| e.to_string());
    }
    Err(format!(
        "--client {name:?} is neither a preset ({}) nor an adapter file",
        presets::NAMES.join(", ")
    ))
}

async fn run_main(args: RunArgs) -> ExitCode {
    let client = match load_client(&args.client) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let kinds = match args.compare {
        Some((a, b)) => vec![a, b],
        None => vec![args.backend],
    };
    let mut backends = Vec::new();
    for kind in &kinds {
        match make_backend(&args, *kind) {
            Ok(b) => backends.push(b),
            Err(e) => return usage(e),
        }
    }
    let files = match discover(&default_paths(args.paths.clone())) {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    let filters: Vec<Filter> = args.filter.iter().map(|f| Filter::parse(f)).collect();
    let mut scenarios = Vec::new();
    let mut invalid = 0;
    for file in files {
        if let Some(shard) = &args.shard
            && !shard.contains(&file.id)
        {
            continue;
        }
        match iamconform_scenario::load_file(&file.path) {
            Ok(s) => {
                if filters
                    .iter()
                    .all(|f| f.matches(&file.id, &s.name, &s.tags))
                {
                    scenarios.push((file, s));
                }
            }
            Err(diags) => {
                invalid += 1;
                eprintln!("{diags}");
            }
        }
    }
    if invalid > 0 {
        return usage(format!(
            "{invalid} invalid scenario file(s); fix them (see `iamconform lint`)"
        ));
    }
    if scenarios.is_empty() {
        eprintln!("iamconform: no scenario selected");
        println!("iamconform: 0 passed, 0 failed, 0 skipped");
        return ExitCode::from(exit::NOTHING_SELECTED);
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("iamconform: cannot find its own executable: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()) * 2);
    let compare = backends.len() > 1;
    let mut runs = Vec::new();
    for backend in backends {
        let backend = Arc::new(backend);
        let mut reporter = Reporter::default();
        let stdout = std::io::stdout();
        let tty = stdout.is_terminal();
        if compare {
            println!("== backend {}", backend.kind().name());
        }
        reporter.add(Box::new(Terminal::new(stdout, tty)));
        if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") && !compare {
            reporter.add(Box::new(GithubAnnotations::new(std::io::stdout())));
        }
        // In differential mode the report files describe the first backend's run.
        if runs.is_empty() {
            if let Some(path) = args.junit.clone() {
                reporter.add(Box::new(Junit::new(path)));
            }
            if let Some(path) = args.json.clone() {
                reporter.add(Box::new(JsonReport::new(path)));
            }
        }
        let collected = Arc::new(std::sync::Mutex::new(Vec::new()));
        reporter.add(Box::new(Collect(collected.clone())));
        let config = RunConfig {
            scenarios: scenarios.clone(),
            client: client.clone(),
            backend: backend.clone(),
            jobs,
            fail_fast: args.fail_fast,
            fixtures: args.fixtures.clone(),
            fixtures_dir: fixtures_dir(),
            step_timeout: Duration::from_secs(args.step_timeout.max(1)),
            enterprise: args.enterprise,
            exe: exe.clone(),
        };
        let result = run(config, &mut reporter).await;
        if let Err(e) = backend.shutdown().await {
            eprintln!(
                "iamconform: stopping the {} backend: {e}",
                backend.kind().name()
            );
        }
        let totals = match result {
            Ok(totals) => totals,
            Err(e) => {
                eprintln!("iamconform: writing the report failed: {e}");
                return ExitCode::from(exit::INTERNAL);
            }
        };
        let reports = collected
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        runs.push((backend.kind(), totals, reports));
    }
    match runs.as_slice() {
        [(_, totals, reports)] if args.bless => {
            let (blessed, refused) = crate::bless::bless(reports, args.force);
            for b in &blessed {
                print!("{}", b.diff);
            }
            for e in &refused {
                eprintln!("iamconform bless: {e}");
            }
            println!(
                "iamconform bless: {} file(s) rewritten, {} not; run again to check (and to bless later steps)",
                blessed.len(),
                refused.len()
            );
            ExitCode::from(exit::for_run(*totals))
        }
        [(_, totals, _)] => ExitCode::from(exit::for_run(*totals)),
        [(a, _, ra), (b, _, rb)] => {
            let differences = differences(a.name(), ra, b.name(), rb);
            let compared = ra.len().saturating_sub(differences.skipped);
            println!("== compare {} with {}", a.name(), b.name());
            for d in &differences.lines {
                println!("DIFFERENT {d}");
            }
            println!(
                "iamconform compare: {} compared, {} different, {} skipped on either backend",
                compared,
                differences.lines.len(),
                differences.skipped
            );
            if !differences.lines.is_empty() {
                println!(
                    "see docs/backends.md (\"When backends differ\") for how to contribute a fix"
                );
                ExitCode::from(exit::FAILED)
            } else if compared == 0 {
                ExitCode::from(exit::NOTHING_SELECTED)
            } else {
                ExitCode::from(exit::OK)
            }
        }
        _ => ExitCode::from(exit::INTERNAL),
    }
}

/// Keeps every scenario's report, for differential mode.
struct Collect(Arc<std::sync::Mutex<Vec<ScenarioReport>>>);

impl EventSink for Collect {
    fn event(&mut self, event: &RunEvent) -> std::io::Result<()> {
        if let (RunEvent::ScenarioFinished(report), Ok(mut all)) = (event, self.0.lock()) {
            all.push(report.clone());
        }
        Ok(())
    }
}

/// The outcome of comparing two runs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Differences {
    /// One line per scenario whose outcome or error text differs.
    lines: Vec<String>,
    /// Scenarios skipped on either backend (not compared).
    skipped: usize,
}

/// An outcome as compared: the kind, and for failures the step and the error text with
/// addresses normalised (every backend listens on its own ports).
fn signature(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Passed => "passed".into(),
        Outcome::Skipped { reason } => format!("skipped ({reason})"),
        Outcome::Failed(f) => {
            format!(
                "failed at step {} ({}): {}",
                f.step,
                f.step_title,
                normalise(&f.problems.join("; "))
            )
        }
    }
}

/// Replaces loopback ports (`127.0.0.1:43125`) with `127.0.0.1:PORT`.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        let (head, tail) = rest.split_at(i + "127.0.0.1:".len());
        out.push_str(head);
        let digits = tail.len() - tail.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = tail.get(digits..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn differences(a: &str, ra: &[ScenarioReport], b: &str, rb: &[ScenarioReport]) -> Differences {
    let mut result = Differences::default();
    let mut ra: Vec<&ScenarioReport> = ra.iter().collect();
    ra.sort_by(|x, y| x.id.cmp(&y.id));
    for x in ra {
        let Some(y) = rb.iter().find(|y| y.id == x.id) else {
            result.lines.push(format!("{}: ran on {a} only", x.path));
            continue;
        };
        if matches!(x.outcome, Outcome::Skipped { .. })
            || matches!(y.outcome, Outcome::Skipped { .. })
        {
            result.skipped += 1;
            continue;
        }
        let (sx, sy) = (signature(&x.outcome), signature(&y.outcome));
        if sx != sy {
            result.lines.push(format!("{}: {a} {sx}; {b} {sy}", x.path));
        }
    }
    result
}

fn make_backend(args: &RunArgs, kind: BackendKind) -> Result<Backend, String> {
    Ok(match kind {
        BackendKind::Embedded => Backend::Embedded(crate::backend::embedded::Embedded::new()),
        BackendKind::External => {
            let addr = args
                .consul_addr
                .clone()
                .ok_or("--backend external needs --consul-addr (or CONSUL_HTTP_ADDR)")?;
            let token = args.consul_token.clone().ok_or("--backend external needs --consul-token (or CONSUL_HTTP_TOKEN), a management token")?;
            Backend::External(crate::backend::external::External::new(
                addr,
                Secret::new(token),
            ))
        }
        BackendKind::Docker => {
            let mut config = DockerConfig::from_env(args.consul_image.clone(), args.enterprise)?;
            if let Some(network) = args.docker_network {
                config.network = network;
            }
            if args.docker_host_ip.is_some() && config.network != DockerNetwork::Bridge {
                return Err("--docker-host-ip needs --docker-network bridge".into());
            }
            config.host_ip = args.docker_host_ip;
            Backend::Docker(Docker::new(config))
        }
        // No `consul` binary is a reason to skip, not a usage error: the run says what is missing.
        BackendKind::Local => match Local::new(args.consul_bin.clone(), args.enterprise) {
            Ok(local) => Backend::Local(local),
            Err(reason) => Backend::Unavailable {
                kind: BackendKind::Local,
                reason,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::events::Failure;

    fn report(id: &str, outcome: Outcome) -> ScenarioReport {
        ScenarioReport {
            id: id.into(),
            path: format!("scenarios/{id}.yaml"),
            name: id.into(),
            tags: Vec::new(),
            outcome,
            duration: Duration::ZERO,
            steps: Vec::new(),
        }
    }

    fn failed(problem: &str) -> Outcome {
        Outcome::Failed(Failure {
            step: 2,
            line: 7,
            step_title: "login".into(),
            problems: vec![problem.into()],
            diagnosis: Vec::new(),
        })
    }

    #[test]
    fn compare_parses_two_different_backends() {
        assert_eq!(
            parse_compare("embedded,docker").unwrap(),
            (BackendKind::Embedded, BackendKind::Docker)
        );
        assert!(parse_compare("embedded").is_err());
        assert!(
            parse_compare("docker,docker")
                .unwrap_err()
                .contains("itself")
        );
        assert!(
            parse_compare("embedded,podman")
                .unwrap_err()
                .contains("podman")
        );
    }

    #[test]
    fn differences_name_outcome_and_error_text_and_ignore_ports() {
        let a = vec![
            report("same", Outcome::Passed),
            report(
                "port",
                failed("connect to http://127.0.0.1:4100/v1: refused"),
            ),
            report("text", failed("403 Permission denied")),
            report("kind", Outcome::Passed),
            report(
                "skip",
                Outcome::Skipped {
                    reason: "no docker".into(),
                },
            ),
        ];
        let b = vec![
            report("kind", failed("boom")),
            report("text", failed("403 ACL not found")),
            report(
                "port",
                failed("connect to http://127.0.0.1:59999/v1: refused"),
            ),
            report("same", Outcome::Passed),
            report("skip", Outcome::Passed),
        ];
        let d = differences("embedded", &a, "docker", &b);
        assert_eq!(d.skipped, 1);
        assert_eq!(
            d.lines,
            [
                "scenarios/kind.yaml: embedded passed; docker failed at step 2 (login): boom",
                "scenarios/text.yaml: embedded failed at step 2 (login): 403 Permission denied; docker failed at step 2 (login): 403 ACL not found",
            ]
        );
    }

    #[test]
    fn normalise_replaces_only_loopback_ports() {
        assert_eq!(
            normalise("a 127.0.0.1:80 b 127.0.0.1: c 10.0.0.1:5"),
            "a 127.0.0.1:PORT b 127.0.0.1: c 10.0.0.1:5"
        );
    }
}

//! `iamconform run`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use iamconform_secret::Secret;

use crate::backend::{Backend, BackendKind};
use crate::cli::{default_paths, exit, fixtures_dir};
use crate::client::{ClientSpec, presets};
use crate::plan::{Filter, Shard, discover};
use crate::report::{Reporter, github::GithubAnnotations, json::JsonReport, junit::Junit, terminal::Terminal};
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
}

pub(super) fn main(args: RunArgs) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
    let backend = match make_backend(&args) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let files = match discover(&default_paths(args.paths.clone())) {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    let filters: Vec<Filter> = args.filter.iter().map(|f| Filter::parse(f)).collect();
    let mut scenarios = Vec::new();
    let mut invalid = 0;
    for file in files {
        if let Some(shard) = &args.shard {
            if !shard.contains(&file.id) {
                continue;
            }
        }
        match iamconform_scenario::load_file(&file.path) {
            Ok(s) => {
                if filters.iter().all(|f| f.matches(&file.id, &s.name, &s.tags)) {
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
        return usage(format!("{invalid} invalid scenario file(s); fix them (see `iamconform lint`)"));
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
    let mut reporter = Reporter::default();
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    reporter.add(Box::new(Terminal::new(stdout, tty)));
    if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        reporter.add(Box::new(GithubAnnotations::new(std::io::stdout())));
    }
    if let Some(path) = args.junit.clone() {
        reporter.add(Box::new(Junit::new(path)));
    }
    if let Some(path) = args.json.clone() {
        reporter.add(Box::new(JsonReport::new(path)));
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()) * 2);
    let config = RunConfig {
        scenarios,
        client,
        backend: Arc::new(backend),
        jobs,
        fail_fast: args.fail_fast,
        fixtures: args.fixtures.clone(),
        fixtures_dir: fixtures_dir(),
        step_timeout: Duration::from_secs(args.step_timeout.max(1)),
        enterprise: args.enterprise,
        exe,
    };
    match run(config, &mut reporter).await {
        Ok(totals) => ExitCode::from(exit::for_run(totals)),
        Err(e) => {
            eprintln!("iamconform: writing the report failed: {e}");
            ExitCode::from(exit::INTERNAL)
        }
    }
}

fn make_backend(args: &RunArgs) -> Result<Backend, String> {
    Ok(match args.backend {
        BackendKind::Embedded => Backend::Embedded(crate::backend::embedded::Embedded::new()),
        BackendKind::External => {
            let addr = args.consul_addr.clone().ok_or("--backend external needs --consul-addr (or CONSUL_HTTP_ADDR)")?;
            let token = args.consul_token.clone().ok_or("--backend external needs --consul-token (or CONSUL_HTTP_TOKEN), a management token")?;
            Backend::External(crate::backend::external::External::new(addr, Secret::new(token)))
        }
        BackendKind::Docker => Backend::Unavailable {
            kind: BackendKind::Docker,
            reason: "the docker backend is not available in this build yet".into(),
        },
        BackendKind::Local => Backend::Unavailable {
            kind: BackendKind::Local,
            reason: "the local backend is not available in this build yet".into(),
        },
    })
}

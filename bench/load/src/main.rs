//! `iamconform-loadbench`: the load benchmark of docs/performance.md.
//!
//! * `load` — verified GetCallerIdentity and GetRole throughput and latency of the AWS
//!   emulator (`iamconform serve`) side by side with a ceiling (a minimal hyper server
//!   answering the same bytes without verifying) and moto's standalone server, then full
//!   logins through the embedded Consul (login → STS → IAM → token);
//! * `suite` — `iamconform run` wall time and per-scenario times, `serve` start-up time and
//!   peak RSS idle and under load;
//! * `count` — exactly N requests of one kind against one server, optionally under a
//!   wrapper such as callgrind (instruction counts per request);
//! * `ceiling` — the ceiling server (spawned by `load` and `count`), optionally verifying
//!   each signature and nothing else.
//!
//! Every load is closed-loop, bounded by time and by count, on 127.0.0.1 only. Servers run
//! in their own processes; `--server-cpus` pins them with taskset.

mod bench;
mod count;
mod load;
mod servers;
mod sign;
mod suite;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Load benchmark for the iamconform emulators")]
struct Cli {
    /// Worker threads of the load generator (1: a current-thread runtime).
    #[arg(long, default_value_t = 1, global = true)]
    client_threads: usize,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Emulator vs ceiling vs moto, and full logins.
    Load(bench::LoadArgs),
    /// Suite wall time, serve start-up and RSS.
    Suite(suite::SuiteArgs),
    /// Exactly N requests of one kind against one (optionally wrapped, e.g. callgrind) server.
    Count(count::CountArgs),
    /// The ceiling server: answers the canned response in FILE to every request.
    #[command(hide = true)]
    Ceiling {
        file: PathBuf,
        /// SigV4-verify each request first (403 when it fails).
        #[arg(long)]
        verify: bool,
    },
}

// The allocator `iamconform` uses, so the ceiling's figures differ from the emulator's only
// by the work the emulator does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Ceiling { file, verify } => servers::run_ceiling(
            &file,
            if verify {
                servers::CeilingWork::Verify
            } else {
                servers::CeilingWork::None
            },
        ),
        Cmd::Load(args) => runtime(cli.client_threads).and_then(|rt| rt.block_on(bench::run(args))),
        Cmd::Count(args) => {
            runtime(cli.client_threads).and_then(|rt| rt.block_on(count::run(args)))
        }
        Cmd::Suite(args) => {
            runtime(cli.client_threads).and_then(|rt| rt.block_on(suite::run(args)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iamconform-loadbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    Ok(rt)
}

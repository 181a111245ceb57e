//! `count`: exactly `n` requests of one kind against one server process, optionally run under
//! a wrapper such as `valgrind --tool=callgrind`, for instruction counts per request.
//!
//! Wall-clock throughput on a shared 2-core machine swings with whatever else runs; the
//! instructions a server executes per request do not. `bench/callgrind.sh` runs this
//! twice with different `n` and divides the difference in the server's total instructions by
//! the difference in `n`, which cancels start-up, set-up and shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::bench::{login_pool, once};
use crate::load::{self, Level};
use crate::servers::{self, Canned, CeilingWork, Placement};
use crate::sign::{self, Call};

/// Which request `count` sends.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum CountCall {
    /// Verified STS GetCallerIdentity.
    Gci,
    /// Verified IAM GetRole.
    Role,
    /// A full login through the embedded Consul.
    Login,
}

/// Which server the wrapper runs.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Measured {
    /// `iamconform serve --consul-preset …`.
    Iamconform,
    /// The ceiling, answering the emulator's first answer (gci and role only).
    Ceiling,
    /// The ceiling that SigV4-verifies each request first and does nothing else (gci and
    /// role only): what the verification alone costs on top of hyper.
    VerifyOnly,
}

/// Flags of `count`.
#[derive(Args, Clone)]
pub(crate) struct CountArgs {
    /// The iamconform binary.
    #[arg(long, default_value = "target/release/iamconform")]
    iamconform: PathBuf,
    /// The Consul preset.
    #[arg(long, default_value = "fixtures/consul-ecs.yaml")]
    preset: PathBuf,
    /// The request to send.
    #[arg(long, value_enum)]
    call: CountCall,
    /// The server to run under the wrapper.
    #[arg(long, value_enum, default_value = "iamconform")]
    measure: Measured,
    /// How many requests (after the set-up requests, which are the same for every `n`).
    #[arg(long)]
    n: u64,
    /// Connections the `n` requests are spread over.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// The wrapper command and its arguments, e.g. `valgrind --tool=callgrind …` (one
    /// `--wrap` per word).
    #[arg(long, allow_hyphen_values = true)]
    wrap: Vec<String>,
}

pub(crate) async fn run(args: CountArgs) -> Result<()> {
    let wrapped = Placement {
        cpus: None,
        wrap: args.wrap.clone(),
    };
    let plain = Placement::default();
    let serve_at = match args.measure {
        Measured::Iamconform => &wrapped,
        Measured::Ceiling | Measured::VerifyOnly => &plain,
    };
    let creds = sign::fixture_creds(sign::WEB_TASK_KEY)?;
    let (serve, endpoints) =
        servers::iamconform_serve(&args.iamconform, Some(&args.preset), serve_at)
            .await
            .context("starting iamconform serve")?;
    let (aws, consul) = endpoints.addrs()?;
    // Set-up: the same requests whatever `n` is.
    let (pool, target, ceiling) = match args.call {
        CountCall::Gci | CountCall::Role => {
            let call = match args.call {
                CountCall::Gci => Call::GetCallerIdentity,
                _ => Call::GetRole,
            };
            let pool = sign::pool(&creds, call, &aws.to_string(), 64)?;
            let first = pool.first().context("empty pool")?;
            let answer = once(aws, first).await?;
            if answer.status != 200 {
                bail!("{} sanity check failed: {}", call.name(), answer.status);
            }
            match args.measure {
                Measured::Iamconform => (pool, aws, None),
                Measured::Ceiling | Measured::VerifyOnly => {
                    let canned = Canned {
                        status: answer.status,
                        headers: answer
                            .headers
                            .iter()
                            .filter(|(n, _)| {
                                !matches!(n.as_str(), "date" | "content-length" | "connection")
                            })
                            .cloned()
                            .collect(),
                        body: String::from_utf8_lossy(&answer.body).into_owned(),
                    };
                    let work = match args.measure {
                        Measured::VerifyOnly => CeilingWork::Verify,
                        _ => CeilingWork::None,
                    };
                    let (server, addr) =
                        servers::ceiling(&canned, &std::env::temp_dir(), &wrapped, work).await?;
                    (pool, addr, Some(server))
                }
            }
        }
        CountCall::Login => {
            if matches!(args.measure, Measured::Ceiling | Measured::VerifyOnly) {
                bail!("the ceiling answers STS/IAM calls only");
            }
            let tokens = login_pool(&creds, aws, consul, 64).await?;
            let sanity = once(consul, tokens.first().context("no tokens")?).await?;
            if sanity.status != 200 {
                bail!("login sanity check failed: {}", sanity.status);
            }
            (tokens, consul, None)
        }
    };
    // The measured process: the ceiling when measuring it, else `serve` (under the wrapper
    // the pid is the wrapper's, which for `taskset` is the server itself after its exec).
    let measured_pid = ceiling.as_ref().unwrap_or(&serve).pid();
    let cpu_before = measured_pid.map(servers::cpu_time_us).transpose()?;
    let r = load::run(Level {
        addr: target,
        requests: Arc::new(pool),
        expect_status: 200,
        concurrency: args.concurrency,
        duration: Duration::from_secs(3600),
        max_requests: args.n,
    })
    .await;
    eprintln!(
        "count: {} ok, {} errors{} in {:.1} s",
        r.ok,
        r.errors,
        r.first_error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default(),
        r.elapsed_s
    );
    if let (Some(pid), Some((user0, sys0))) = (measured_pid, cpu_before) {
        let (user1, sys1) = servers::cpu_time_us(pid)?;
        let per = |us: u64| us as f64 / r.ok.max(1) as f64;
        eprintln!(
            "count: server CPU per request: {:.1} µs user + {:.1} µs system = {:.1} µs",
            per(user1 - user0),
            per(sys1 - sys0),
            per(user1 - user0 + sys1 - sys0)
        );
        if let Ok((rss, peak)) = servers::memory_kib(pid) {
            eprintln!(
                "count: server memory: {:.1} MiB resident, peak {:.1} MiB",
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
    }
    let patience = Duration::from_secs(300);
    if let Some(c) = ceiling {
        c.interrupt(patience).await?;
    }
    serve.interrupt(patience).await?;
    if r.errors > 0 {
        bail!("{} requests failed", r.errors);
    }
    Ok(())
}

//! `iamconform serve`: the emulators for offline development.
//!
//! Prints exactly one JSON line on stdout when ready, e.g.
//! `{"sts":"http://127.0.0.1:4566","iam":"http://127.0.0.1:4566","ecs_credentials":"http://127.0.0.1:4566/v2/credentials/","admin":"http://127.0.0.1:4566/_iamconform/","consul":"http://127.0.0.1:8500","consul_management_token":"…"}`;
//! logs go to stderr; SIGINT/SIGTERM stop it cleanly.
//!
//! With `--state-dir DIR` the Consul emulator's ACL state is durable (docs/reliability.md,
//! "Durability"): every write is in `DIR/state.json` before its response is sent, and a
//! restart with the same directory restores it. The ready line then also carries
//! `"consul_state_file"` and `"consul_restored"` (`false` on the first start, `true` after a
//! restore). A restored state keeps its management token (printed as
//! `consul_management_token`) and `--consul-preset` is applied only on the first start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use iamconform_aws::{AwsConfig, AwsState, IdentityStore, RegionMode};
use iamconform_consul::authmethod::aws_iam::Outbound;
use iamconform_consul::{AuditConfig, ConsulConfig, ConsulState, RunningConsul, Setup, StartError};
use iamconform_secret::Secret;

use crate::cli::exit;

/// Flags of `iamconform serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Identity fixtures (default: the shipped fixtures/identities.yaml).
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// Address of the AWS emulator (STS, IAM, ECS credentials); port 0 = any free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,
    /// Address of the Consul emulator; port 0 = any free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    consul_listen: SocketAddr,
    /// Allow listening on a non-loopback address. The emulators accept fake credentials and
    /// hand out tokens to anyone who can reach them.
    #[arg(long)]
    allow_remote: bool,
    /// Run only the AWS emulator.
    #[arg(long)]
    no_consul: bool,
    /// A Consul preset to load (e.g. fixtures/consul-ecs.yaml).
    #[arg(long, value_name = "FILE")]
    consul_preset: Option<PathBuf>,
    /// Consul Enterprise behaviour (namespaces, audit log).
    #[arg(long)]
    enterprise: bool,
    /// Write Consul's audit log here (needs --enterprise).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// The management token's SecretID (default: a random UUID, printed in the ready line).
    #[arg(long, env = "IAMCONFORM_MANAGEMENT_TOKEN", hide_env_values = true)]
    management_token: Option<String>,
    /// Keep the Consul emulator's ACL state in DIR (created if missing): every write is saved
    /// (fsynced) before it is answered, and a restart with the same DIR restores it. Presets
    /// apply only on the first start; a restored state keeps its management token.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Region policy of the AWS emulator: lenient (any well-formed region) or aws (as AWS).
    #[arg(long, default_value = "lenient", value_parser = ["lenient", "aws"])]
    region_mode: String,
    /// Most requests the AWS emulator's journal keeps (`GET /_iamconform/journal`); older
    /// entries are dropped and counted. Each entry takes about 1.5 KiB, so the default ring
    /// grows to about 150 MiB under sustained load; lower it to bound memory.
    #[arg(
        long,
        default_value_t = iamconform_aws::DEFAULT_JOURNAL_CAPACITY,
        value_name = "N",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000)
    )]
    journal_capacity: usize,
}

pub(super) fn main(args: ServeArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(serve(args)),
        Err(e) => {
            eprintln!("iamconform serve: cannot start the async runtime: {e}");
            ExitCode::from(exit::INTERNAL)
        }
    }
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("iamconform serve: {message}");
    ExitCode::from(code)
}

async fn serve(args: ServeArgs) -> ExitCode {
    for addr in [args.listen, args.consul_listen] {
        if !addr.ip().is_loopback() {
            if !args.allow_remote {
                return fail(
                    exit::USAGE,
                    format!(
                        "{addr} is not a loopback address; the emulators accept fake credentials, so binding it needs --allow-remote"
                    ),
                );
            }
            tracing::warn!(%addr, "listening on a non-loopback address: anyone who can reach it can obtain Consul tokens with the fixtures' fake credentials");
        }
    }
    if args.audit_log.is_some() && !args.enterprise {
        return fail(
            exit::USAGE,
            "--audit-log needs --enterprise (audit logging is a Consul Enterprise feature)",
        );
    }
    if args.state_dir.is_some() && args.no_consul {
        return fail(
            exit::USAGE,
            "--state-dir keeps the Consul emulator's state; it cannot be combined with --no-consul",
        );
    }
    let store = match &args.fixtures {
        Some(path) => IdentityStore::load(path),
        None => IdentityStore::shipped(),
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => return fail(exit::USAGE, e),
    };
    let aws_config = AwsConfig {
        region_mode: if args.region_mode == "aws" {
            RegionMode::Aws
        } else {
            RegionMode::Lenient
        },
        journal_capacity: args.journal_capacity,
        ..AwsConfig::default()
    };
    let aws = match iamconform_aws::bind(AwsState::new(store, aws_config), args.listen).await {
        Ok(a) => a,
        Err(e) => {
            return fail(
                exit::INTERNAL,
                format!("cannot listen on {}: {e}", args.listen),
            );
        }
    };
    let base = aws.base_url();
    let mut ready = serde_json::json!({
        "sts": base,
        "iam": base,
        "ecs_credentials": format!("{base}/v2/credentials/"),
        "admin": format!("{base}/_iamconform/"),
    });
    let mut consul = None;
    if !args.no_consul {
        let config = ConsulConfig {
            enterprise: args.enterprise,
            initial_management_token: args.management_token.clone().map(Secret::new),
            outbound: Outbound {
                aws_endpoint: Some(base.clone()),
                ..Outbound::default()
            },
            audit: args.audit_log.clone().map(|path| AuditConfig { path }),
            state_dir: args.state_dir.clone(),
            ..ConsulConfig::default()
        };
        let state = match ConsulState::new(config) {
            Ok(s) => s,
            // A state directory that cannot be used (damaged or foreign file, locked by
            // another serve, not writable) is the user's to fix; never start empty over it.
            Err(e @ StartError::State(_)) => return fail(exit::USAGE, e),
            Err(e) => return fail(exit::INTERNAL, e),
        };
        // The token to print: the one given, else the one a restored state already has,
        // else a fresh one (created now, and saved when the state is durable).
        let given = args.management_token.clone().map(Secret::new);
        let token = match given.or_else(|| state.store.initial_management_secret()) {
            Some(t) => t,
            None => {
                let t = Secret::new(uuid::Uuid::new_v4().to_string());
                if let Err(e) = state.store.set_initial_management(t.clone()) {
                    return fail(
                        exit::INTERNAL,
                        format!("cannot create the management token: {e}"),
                    );
                }
                t
            }
        };
        let restored = state.store.restored();
        if restored {
            tracing::info!(
                state_file = ?state.store.state_file(),
                index = state.store.index(),
                preset_skipped = args.consul_preset.is_some(),
                "restored the Consul ACL state; presets apply only on the first start"
            );
        } else if let Some(preset) = &args.consul_preset {
            let applied = std::fs::read_to_string(preset)
                .map_err(|e| format!("cannot read {}: {e}", preset.display()))
                .and_then(|text| {
                    Setup::from_yaml(&text).map_err(|e| format!("{}: {e}", preset.display()))
                })
                .and_then(|setup| {
                    state
                        .apply_setup(&setup)
                        .map_err(|e| format!("{}: {e}", preset.display()))
                });
            if let Err(e) = applied {
                // The objects created before the rejection are already saved; forget the
                // state this first start wrote, so the next start is a first start again
                // and applies the fixed preset.
                if let Some(path) = state.store.state_file()
                    && let Err(rm) = std::fs::remove_file(path)
                {
                    tracing::warn!(path = %path.display(), error = %rm, "cannot remove the partial state file; delete it before the next start");
                }
                return fail(exit::USAGE, format!("invalid Consul preset: {e}"));
            }
        }
        if let Some(path) = state.store.state_file() {
            ready["consul_state_file"] = serde_json::Value::String(path.display().to_string());
            ready["consul_restored"] = serde_json::Value::Bool(restored);
        }
        match RunningConsul::serve(state, args.consul_listen).await {
            Ok(c) => {
                ready["consul"] = serde_json::Value::String(c.url());
                // The ready line is the one place the management token is shown: it is how a
                // developer gets it, and it is printed to stdout only, never logged.
                ready["consul_management_token"] =
                    serde_json::Value::String(token.expose().clone());
                consul = Some(c);
            }
            Err(e) => return fail(exit::INTERNAL, e),
        }
    }
    // Handlers first: a SIGTERM sent the moment the ready line is read must stop serve
    // cleanly (exit 0), not kill it with the signal's default action.
    let stop = stop_signal();
    println!("{ready}");
    stop.await;
    tracing::info!("shutting down");
    if let Some(c) = consul {
        let _ = c.shutdown().await;
    }
    let _ = aws.shutdown().await;
    ExitCode::from(exit::OK)
}

/// SIGINT or SIGTERM. The handlers are registered when this is called, not when it is
/// first polled.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (Ok(mut only), Err(_)) | (Err(_), Ok(mut only)) => {
                    only.recv().await;
                }
                (Err(_), Err(_)) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

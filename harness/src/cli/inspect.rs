//! `iamconform inspect` and `iamconform explain`: flags → [`crate::inspect`] / [`crate::explain`].

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use iamconform_consul::authmethod::aws_iam::MAX_BEARER_TOKEN_BYTES;
use iamconform_consul::authmethod::aws_iam::{AwsIamConfig, parse_config};

use crate::cli::exit;
use crate::inspect::{consul_first_error, inspect, render_human};

/// Largest auth-method config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// `iamconform inspect` flags.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The bearer token; `-` or absent reads it from stdin (unless --file is given).
    token: Option<String>,
    /// Read the token from this file.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The auth method's Config as JSON (the `Config` object, or a whole auth method with a
    /// `Config` key). Flags below override single keys.
    #[arg(long)]
    config: Option<PathBuf>,
    /// ServerIDHeaderValue.
    #[arg(long)]
    server_id: Option<String>,
    /// STSEndpoint.
    #[arg(long)]
    sts_endpoint: Option<String>,
    /// IAMEndpoint.
    #[arg(long)]
    iam_endpoint: Option<String>,
    /// EnableIAMEntityDetails.
    #[arg(long)]
    entity_details: bool,
    /// An entry of AllowedSTSHeaderValues (repeatable).
    #[arg(long = "allowed-sts-header")]
    allowed_sts_headers: Vec<String>,
    /// The time to judge X-Amz-Date against (RFC 3339; default: now).
    #[arg(long)]
    now: Option<String>,
    /// Print JSON (the `Inspection` type) instead of text.
    #[arg(long)]
    json: bool,
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("iamconform inspect: {msg}");
    ExitCode::from(exit::USAGE)
}

fn read_bounded(mut r: impl std::io::Read, limit: usize) -> Result<String, String> {
    let mut buf = String::new();
    r.by_ref()
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_string(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() > limit {
        return Err(format!("the token is larger than {limit} bytes"));
    }
    Ok(buf)
}

fn config_of(args: &InspectArgs) -> Result<AwsIamConfig, String> {
    let mut config = match &args.config {
        None => AwsIamConfig::default(),
        Some(path) => {
            let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.len() > MAX_CONFIG_BYTES {
                return Err(format!(
                    "{} is larger than {MAX_CONFIG_BYTES} bytes",
                    path.display()
                ));
            }
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
            let inner = value.get("Config").cloned().unwrap_or(value);
            let mut inner = inner;
            // Inspection needs no trusted principals; Consul's create check requires some.
            if let Some(map) = inner.as_object_mut() {
                map.entry("BoundIAMPrincipalARNs").or_insert_with(|| {
                    serde_json::json!(["arn:aws:iam::000000000000:role/inspect"])
                });
            }
            parse_config(&inner)
                .map_err(|e| format!("{}: invalid auth method Config: {e}", path.display()))?
        }
    };
    if let Some(v) = &args.server_id {
        config.server_id_header_value = v.clone();
    }
    if let Some(v) = &args.sts_endpoint {
        config.sts_endpoint = v.clone();
    }
    if let Some(v) = &args.iam_endpoint {
        config.iam_endpoint = v.clone();
    }
    if args.entity_details {
        config.enable_iam_entity_details = true;
    }
    config
        .allowed_sts_header_values
        .extend(args.allowed_sts_headers.iter().cloned());
    Ok(config)
}

pub(crate) fn main(args: InspectArgs) -> ExitCode {
    let token = match (&args.file, args.token.as_deref()) {
        (Some(path), _) => match std::fs::File::open(path) {
            Ok(f) => read_bounded(f, MAX_BEARER_TOKEN_BYTES),
            Err(e) => Err(format!("{}: {e}", path.display())),
        },
        (None, Some(t)) if t != "-" => Ok(t.to_owned()),
        (None, _) => read_bounded(std::io::stdin().lock(), MAX_BEARER_TOKEN_BYTES),
    };
    let token = match token {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let config = match config_of(&args) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let now = match &args.now {
        None => SystemTime::now(),
        Some(s) => {
            match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
                Ok(t) => SystemTime::from(t),
                Err(e) => return fail(&format!("--now {s:?} is not RFC 3339: {e}")),
            }
        }
    };
    let mut result = inspect(&token, &config, now);
    result.consul_verdict = consul_first_error(&token, &config);
    if args.json {
        match serde_json::to_string_pretty(&result) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("iamconform inspect: {e}");
                return ExitCode::from(exit::INTERNAL);
            }
        }
    } else {
        print!("{}", render_human(&result));
    }
    if result.findings.is_empty() && result.consul_verdict.is_none() {
        ExitCode::from(exit::OK)
    } else {
        ExitCode::from(exit::FAILED)
    }
}

/// Largest JSON report `explain` reads.
const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) fn explain(report: &std::path::Path) -> ExitCode {
    let text = match std::fs::metadata(report) {
        Ok(m) if m.len() > MAX_REPORT_BYTES => Err(format!(
            "{} is larger than {MAX_REPORT_BYTES} bytes",
            report.display()
        )),
        Ok(_) => std::fs::read_to_string(report).map_err(|e| format!("{}: {e}", report.display())),
        Err(e) => Err(format!("{}: {e}", report.display())),
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("iamconform explain: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    match crate::explain::explain_report(&text) {
        Ok(out) => {
            print!("{out}");
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("iamconform explain: {}: {e}", report.display());
            ExitCode::from(exit::USAGE)
        }
    }
}

/// `iamconform record` flags.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// The scenario file to write.
    out: PathBuf,
    /// The identity: ROLE/SESSION or USER[/ACCESS_KEY_ID] from the fixtures.
    #[arg(long = "as")]
    identity: String,
    /// The auth method to log in to.
    #[arg(long)]
    method: String,
    /// A Consul preset, e.g. `consul-ecs`.
    #[arg(long)]
    preset: Option<String>,
    /// A YAML file with more `consul:` setup (auth_methods, binding_rules, …).
    #[arg(long)]
    consul: Option<PathBuf>,
    /// Embed a signed GetRole/GetUser (`-aws-include-entity`).
    #[arg(long)]
    include_entity: bool,
    /// `-aws-server-id-header-value`.
    #[arg(long)]
    server_id: Option<String>,
    /// `-aws-region`.
    #[arg(long)]
    region: Option<String>,
    /// Also log out with the client.
    #[arg(long)]
    logout: bool,
    /// The client under test (preset or adapter file).
    #[arg(long, default_value = "reference")]
    client: String,
    /// Scenario name (default: from the file name).
    #[arg(long)]
    name: Option<String>,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub(crate) fn record(args: RecordArgs) -> ExitCode {
    if args.out.exists() && !args.force {
        eprintln!(
            "iamconform record: {} exists; pass --force to overwrite it",
            args.out.display()
        );
        return ExitCode::from(exit::USAGE);
    }
    let consul_yaml = match &args.consul {
        None => None,
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("iamconform record: {}: {e}", p.display());
                return ExitCode::from(exit::USAGE);
            }
        },
    };
    let name = args.name.clone().unwrap_or_else(|| {
        let stem = args
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().replace(['-', '_'], " "));
        format!("recorded: {}", stem.unwrap_or_default())
    });
    let spec = crate::record::RecordSpec {
        name,
        identity: args.identity,
        method: args.method,
        preset: args.preset,
        consul_yaml,
        include_entity: args.include_entity,
        server_id: args.server_id,
        region: args.region,
        logout: args.logout,
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("iamconform record: cannot find its own executable: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match crate::record::record(&exe, &spec, &args.client, &args.out) {
        Ok(r) => {
            print!("{}", r.text);
            eprintln!(
                "iamconform record: wrote {}; run again: {}",
                args.out.display(),
                r.verified
            );
            if r.verified == "passed" {
                ExitCode::from(exit::OK)
            } else {
                ExitCode::from(exit::FAILED)
            }
        }
        Err(e) => {
            eprintln!("iamconform record: {e}");
            ExitCode::from(exit::FAILED)
        }
    }
}

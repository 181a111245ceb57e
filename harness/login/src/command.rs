//! `iamconform login` and `iamconform logout`: the aws-iam part of `consul login`/`logout`.
//!
//! Order of checks and texts follow `command/login/login.go` + `aws.go` and
//! `command/logout/logout.go` (spec consul-aws-iam §1.6): flag parse errors, non-flag
//! arguments, `-method`, `-token-sink-file`, the aws flag checks, then the bearer token, the
//! login call and the sink. Errors go to stderr with exit 1; success prints nothing, exit 0.
//! An unknown `IAMCONFORM_MUTANT` exits 2 before anything else.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use iamconform_secret::Secret;

use crate::Env;
use crate::consul::{ConsulClient, DEFAULT_HTTP_ADDR};
use crate::credentials::{self, AwsCredentials};
use crate::endpoint;
use crate::flags::{self, FlagDef, FlagError, Kind};
use crate::generate::{LoginInput, generate_bearer_token};
use crate::mutant::{MUTANT_STATE_DIR_ENV, Mutant};
use crate::sink;
use crate::transport::Network;

/// Exit code for an unknown mutant name (usage error).
pub const EXIT_USAGE: i32 = 2;

const fn s(name: &'static str, usage: &'static str) -> FlagDef {
    FlagDef {
        name,
        kind: Kind::Str,
        usage,
    }
}
const fn b(name: &'static str, usage: &'static str) -> FlagDef {
    FlagDef {
        name,
        kind: Kind::Bool,
        usage,
    }
}

/// `flags.HTTPFlags` ClientFlags + ServerFlags.
const HTTP_FLAGS: &[FlagDef] = &[
    s(
        "http-addr",
        "The `address` and port of the Consul HTTP agent. Defaults to CONSUL_HTTP_ADDR or 127.0.0.1:8500.",
    ),
    s(
        "token",
        "ACL token to use in the request (ignored by login).",
    ),
    s(
        "token-file",
        "File containing the ACL token to use in the request (ignored by login).",
    ),
    s(
        "ca-file",
        "Accepted for compatibility; the reference client has no TLS.",
    ),
    s(
        "ca-path",
        "Accepted for compatibility; the reference client has no TLS.",
    ),
    s(
        "client-cert",
        "Accepted for compatibility; the reference client has no TLS.",
    ),
    s(
        "client-key",
        "Accepted for compatibility; the reference client has no TLS.",
    ),
    s(
        "tls-server-name",
        "Accepted for compatibility; the reference client has no TLS.",
    ),
    s("datacenter", "Name of the datacenter to query (?dc=)."),
    b(
        "stale",
        "Accepted for compatibility; not used by login or logout.",
    ),
];

const LOGIN_FLAGS: &[FlagDef] = &[
    s("method", "Name of the auth method to login to."),
    s(
        "type",
        "Type of the auth method to login to. Ignored, as in Consul CE.",
    ),
    s(
        "bearer-token-file",
        "Path to a file containing a secret bearer token to use with this auth method.",
    ),
    s(
        "token-sink-file",
        "The most recent token's SecretID is kept up to date in this file.",
    ),
    FlagDef {
        name: "meta",
        kind: Kind::Map,
        usage: "Metadata to set on the token, formatted as key=value. May be repeated.",
    },
    b(
        "aws-auto-bearer-token",
        "Construct a bearer token and login to the AWS IAM auth method.",
    ),
    b(
        "aws-include-entity",
        "Include a signed request to get the IAM role or IAM user in the bearer token.",
    ),
    s("aws-sts-endpoint", "URL for AWS STS API calls."),
    s(
        "aws-iam-endpoint",
        "URL for AWS IAM API calls. Used when -aws-include-entity is set to true.",
    ),
    s("aws-region", "Region for AWS API calls."),
    s(
        "aws-server-id-header-value",
        "Value of the X-Consul-IAM-ServerID header in the signed requests.",
    ),
    s(
        "aws-access-key-id",
        "AWS access key id to use. Requires -aws-secret-access-key.",
    ),
    s(
        "aws-secret-access-key",
        "AWS secret access key to use. Requires -aws-access-key-id.",
    ),
    s(
        "aws-session-token",
        "AWS session token to use. Requires -aws-access-key-id and -aws-secret-access-key.",
    ),
    s(
        "namespace",
        "Namespace of the auth method (?ns=; Consul Enterprise).",
    ),
    s(
        "partition",
        "Admin partition of the auth method (?partition=; Consul Enterprise).",
    ),
];

const LOGIN_HELP: &str = "Usage: iamconform login [options]\n\n  Exchanges AWS IAM credentials for a Consul ACL token with an aws-iam auth method,\n  like 'consul login'. The SecretID is written to -token-sink-file.\n\nOptions:";
const LOGOUT_HELP: &str = "Usage: iamconform logout [options]\n\n  Destroys the provided token if it was created from login, like 'consul logout'.\n\nOptions:";

fn login_defs() -> Vec<FlagDef> {
    LOGIN_FLAGS.iter().chain(HTTP_FLAGS).copied().collect()
}

/// Prints `msg` as mitchellh/cli's `UI.Error` does: one line on stderr.
fn error(err: &mut dyn Write, msg: &str) -> i32 {
    let _ = writeln!(err, "{msg}");
    1
}

fn flag_failure(
    e: &FlagError,
    header: &str,
    defs: &[FlagDef],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if *e == FlagError::Help {
        let _ = write!(out, "{}", flags::usage(header, defs));
        return 0;
    }
    // Go's FlagSet prints the error and the defaults to its output (stderr); Consul returns 1.
    let _ = writeln!(err, "{e}");
    let _ = write!(err, "{}", flags::usage("Usage:", defs));
    1
}

fn mutant(env: &dyn Env, err: &mut dyn Write) -> Result<Option<Mutant>, i32> {
    Mutant::from_env(env).map_err(|e| {
        let _ = writeln!(err, "{e}");
        EXIT_USAGE
    })
}

/// Runs `iamconform login` on the process environment, stdout and stderr.
pub fn run_login(args: Vec<String>) -> i32 {
    let env = crate::ProcessEnv;
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    block_on(main_login(&args, &env, &mut out, &mut err))
}

/// Runs `iamconform logout` on the process environment, stdout and stderr.
pub fn run_logout(args: Vec<String>) -> i32 {
    let env = crate::ProcessEnv;
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    block_on(main_logout(&args, &env, &mut out, &mut err))
}

/// [`main_login`] for synchronous callers: runs it on a private runtime.
pub fn run_login_with(
    args: &[String],
    env: &dyn Env,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> i32 {
    block_on(main_login(args, env, out, err))
}

/// [`main_logout`] for synchronous callers: runs it on a private runtime.
pub fn run_logout_with(
    args: &[String],
    env: &dyn Env,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> i32 {
    block_on(main_logout(args, env, out, err))
}

/// Runs a future to completion on a private runtime, on a helper thread when the caller is
/// itself inside a tokio runtime (where `block_on` would panic).
fn block_on<F: std::future::Future<Output = i32> + Send>(fut: F) -> i32 {
    let run = move || match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "iamconform: cannot start the async runtime: {e}"
            );
            1
        }
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| scope.spawn(run).join().unwrap_or(1))
    } else {
        run()
    }
}

/// `consul login` with the given arguments, environment and output streams; returns the exit code.
pub async fn main_login(
    args: &[String],
    env: &dyn Env,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> i32 {
    let mutant = match mutant(env, err) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let defs = login_defs();
    let f = match flags::parse(&defs, args) {
        Ok(f) => f,
        Err(e) => return flag_failure(&e, LOGIN_HELP, &defs, out, err),
    };
    if !f.args.is_empty() {
        return error(err, "Should have no non-flag arguments.");
    }
    let method = f.str_or_empty("method");
    if method.is_empty() {
        return error(err, "Missing required '-method' flag");
    }
    let sink_path = f.str_or_empty("token-sink-file");
    if sink_path.is_empty() {
        return error(err, "Missing required '-token-sink-file' flag");
    }
    // Spec: consul-aws-iam §1.6; command/login/aws.go checkFlags.
    let auto = f.bool("aws-auto-bearer-token");
    let akid = f.str_or_empty("aws-access-key-id");
    let secret = f.str_or_empty("aws-secret-access-key");
    let session = f.str_or_empty("aws-session-token");
    if !auto
        && (f.bool("aws-include-entity")
            || !f.str_or_empty("aws-sts-endpoint").is_empty()
            || !f.str_or_empty("aws-region").is_empty()
            || !f.str_or_empty("aws-server-id-header-value").is_empty()
            || !akid.is_empty()
            || !secret.is_empty()
            || !session.is_empty())
    {
        return error(err, "Missing '-aws-auto-bearer-token' flag");
    }
    if !akid.is_empty() && secret.is_empty() {
        return error(err, "Missing '-aws-secret-access-key' flag");
    }
    if !secret.is_empty() && akid.is_empty() {
        return error(err, "Missing '-aws-access-key-id' flag");
    }
    if !session.is_empty() && (akid.is_empty() || secret.is_empty()) {
        return error(
            err,
            "Missing '-aws-access-key-id' and '-aws-secret-access-key' flags",
        );
    }

    let network = match Network::from_env(env) {
        Ok(n) => n,
        Err(e) => return error(err, &format!("Error with aws-iam auth method: {e}")),
    };
    let bearer_file = f.str_or_empty("bearer-token-file");
    let bearer: Secret<String> = if auto {
        if !bearer_file.is_empty() {
            return error(
                err,
                "Cannot use '-bearer-token-file' flag with '-aws-auto-bearer-token'",
            );
        }
        let flag_creds = (!akid.is_empty()).then(|| {
            AwsCredentials::from_flags(
                akid,
                Secret::new(secret.to_owned()),
                Some(Secret::new(session.to_owned())),
            )
        });
        match aws_bearer_token(&f, flag_creds, env, &network, mutant).await {
            Ok(t) => t,
            Err(msg) => return error(err, &format!("Error with aws-iam auth method: {msg}")),
        }
    } else if bearer_file.is_empty() {
        return error(err, "Missing required '-bearer-token-file' flag");
    } else {
        match std::fs::read(bearer_file) {
            Ok(data) => {
                let t = Secret::new(String::from_utf8_lossy(&data).trim().to_owned());
                if t.expose().is_empty() {
                    return error(err, &format!("No bearer token found in {bearer_file}"));
                }
                t
            }
            Err(e) => {
                return error(
                    err,
                    &sink::go_path_error("open", Path::new(bearer_file), &e),
                );
            }
        }
    };

    // login.go clears -token/-token-file before building the client: login sends no token.
    let client = match consul_client(&f, env, network, true) {
        Ok(c) => c,
        Err(msg) => return error(err, &format!("Error connecting to Consul agent: {msg}")),
    };
    let method = if mutant == Some(Mutant::WrongAuthMethod) {
        format!("{method}-x")
    } else {
        method.to_owned()
    };
    let meta = if mutant == Some(Mutant::MetaDropped) {
        Vec::new()
    } else {
        f.map("meta")
    };
    let secret_id = match client.login(&method, &bearer, &meta).await {
        Ok(s) => s,
        Err(e) => return error(err, &format!("Error logging in: {e}")),
    };
    let mut payload = secret_id.expose().clone().into_bytes();
    if mutant == Some(Mutant::TokenSinkTrailingNewline) {
        payload.push(b'\n');
    }
    if let Err(e) = sink::write_atomic(Path::new(sink_path), &payload) {
        return error(err, &format!("Error writing token to file sink: {e}"));
    }
    0
}

/// `createAWSBearerToken`: region, credentials, then the token. Errors are the bare messages
/// that follow `Error with aws-iam auth method: `.
async fn aws_bearer_token(
    f: &flags::Parsed,
    flag_creds: Option<AwsCredentials>,
    env: &dyn Env,
    network: &Network,
    mutant: Option<Mutant>,
) -> Result<Secret<String>, String> {
    // LoadDefaultConfig reads the shared files first; a missing explicit profile fails there.
    let shared = credentials::load_shared_profile(env).map_err(|e| e.to_string())?;
    let region = endpoint::resolve_region(f.string("aws-region"), env, shared.region.as_deref())
        .ok_or_else(|| "AWS region not found".to_owned())?;
    let creds = credentials::resolve_credentials(flag_creds, &shared, env, network)
        .await
        .map_err(|e| format!("AWS credentials not found: {e}"))?;
    let mut input = LoginInput::new(creds, &region);
    input.sts_endpoint = endpoint::sts_override(f.string("aws-sts-endpoint"), env);
    input.iam_endpoint = endpoint::iam_override(f.string("aws-iam-endpoint"), env);
    input.include_entity = f.bool("aws-include-entity");
    input.server_id_header_value =
        Some(f.str_or_empty("aws-server-id-header-value").to_owned()).filter(|v| !v.is_empty());
    input.now = SystemTime::now();
    input.network = network.clone();
    input.mutant = mutant;
    generate_bearer_token(&input)
        .await
        .map_err(|e| e.to_string())
}

fn consul_client(
    f: &flags::Parsed,
    env: &dyn Env,
    network: Network,
    with_tenancy: bool,
) -> Result<ConsulClient, String> {
    let addr = f
        .string("http-addr")
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .or_else(|| env.non_empty("CONSUL_HTTP_ADDR"))
        .unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_owned());
    let https = env
        .non_empty("CONSUL_HTTP_SSL")
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "TRUE" | "true" | "True"));
    let mut c = ConsulClient::new(&addr, https, network).map_err(|e| e.to_string())?;
    c.datacenter = f
        .string("datacenter")
        .map(str::to_owned)
        .or_else(|| env.non_empty("CONSUL_DATACENTER"));
    if with_tenancy {
        c.namespace = f
            .string("namespace")
            .map(str::to_owned)
            .or_else(|| env.non_empty("CONSUL_NAMESPACE"));
        c.partition = f
            .string("partition")
            .map(str::to_owned)
            .or_else(|| env.non_empty("CONSUL_PARTITION"));
    }
    Ok(c)
}

/// `consul logout` with the given arguments, environment and output streams; returns the exit code.
pub async fn main_logout(
    args: &[String],
    env: &dyn Env,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> i32 {
    let mutant = match mutant(env, err) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let f = match flags::parse(HTTP_FLAGS, args) {
        Ok(f) => f,
        Err(e) => return flag_failure(&e, LOGOUT_HELP, HTTP_FLAGS, out, err),
    };
    if !f.args.is_empty() {
        return error(err, "Should have no non-flag arguments.");
    }
    let network = match Network::from_env(env) {
        Ok(n) => n,
        Err(e) => return error(err, &format!("Error connecting to Consul agent: {e}")),
    };
    let client = match consul_client(&f, env, network, false) {
        Ok(c) => c,
        Err(msg) => return error(err, &format!("Error connecting to Consul agent: {msg}")),
    };
    // api.NewClient: a token file (flag, else CONSUL_HTTP_TOKEN_FILE) with content wins over
    // the token (flag, else CONSUL_HTTP_TOKEN).
    let mut token = f
        .string("token")
        .map(str::to_owned)
        .or_else(|| env.non_empty("CONSUL_HTTP_TOKEN"))
        .map(Secret::new);
    let token_file = f
        .string("token-file")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .or_else(|| env.non_empty("CONSUL_HTTP_TOKEN_FILE"));
    if let Some(path) = token_file {
        match std::fs::read(&path) {
            Ok(data) => {
                let t = String::from_utf8_lossy(&data).trim().to_owned();
                if !t.is_empty() {
                    token = Some(Secret::new(t));
                }
            }
            Err(e) => {
                let cause = sink::go_errno_text(&e);
                return error(
                    err,
                    &format!(
                        "Error connecting to Consul agent: Error loading token file {path} : open {path}: {cause}"
                    ),
                );
            }
        }
    }
    match mutant {
        Some(Mutant::LogoutSkipped) => return 0,
        Some(Mutant::LogoutSkipSecond) if logout_call_number(env) == Some(2) => return 0,
        Some(Mutant::LogoutWrongToken) => {
            token = token.map(|t| {
                let mut s = t.into_inner();
                let last = s.pop();
                s.push(if last == Some('0') { '1' } else { '0' });
                Secret::new(s)
            });
        }
        _ => {}
    }
    if let Err(e) = client.logout(token.as_ref()).await {
        return error(err, &format!("Error destroying token: {e}"));
    }
    0
}

/// Counts logout calls in `IAMCONFORM_MUTANT_STATE_DIR/logout-calls`; `None` without the dir.
fn logout_call_number(env: &dyn Env) -> Option<u64> {
    let dir = env.non_empty(MUTANT_STATE_DIR_ENV)?;
    let path = Path::new(&dir).join("logout-calls");
    let previous = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let n = previous.saturating_add(1);
    std::fs::write(&path, n.to_string()).ok()?;
    Some(n)
}

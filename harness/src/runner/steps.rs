//! Step execution: one function per step kind, each returning the unmet expectations.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use iamconform_aws::{
    Fault, FaultResponse, FaultService, JournalEntry, JournalService, Principal, Verdict,
};
use iamconform_login::BearerToken;
use iamconform_scenario::{
    ApiCall, ApiExpect, ClientExpect, Corruption, CredentialSource, Endpoint, EntityExpect,
    ExpectAudit, ExpectToken, Login, Logout, LogoutVia, Outcome as Expected, Replay, SentExpect,
    StepKind, TokenRef, Verdict as ExpectedVerdict,
};
use iamconform_secret::Secret;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::scenario::{Ctx, Saved, StepResult, inject_endpoints};
use crate::client::{TokenFrom, render_arg, render_group};

/// Every way `actual` falls short of `expected` (the shared rule of `token`, `json` and
/// `expect_audit`: [`iamconform_scenario::json_subset`]).
fn subset(expected: &Value, actual: &Value) -> Vec<String> {
    iamconform_scenario::json_subset(expected, actual)
        .err()
        .map(|m| m.to_string())
        .into_iter()
        .collect()
}

/// A one-line description of a step, for reports.
pub(super) fn title(kind: &StepKind) -> String {
    match kind {
        StepKind::Login { login, .. } => format!("login as {} to {}", login.identity, login.method),
        StepKind::Logout { logout, .. } => format!(
            "logout {} via {}",
            token_name(&logout.token),
            via_name(logout.via)
        ),
        StepKind::ExpectToken(e) => format!(
            "token {} {}",
            e.token,
            if e.works { "works" } else { "is gone" }
        ),
        StepKind::Api { api, .. } => format!("api {} {}", api.method, api.path),
        StepKind::Clock(c) => format!("clock {:+}s", c.advance.whole_seconds()),
        StepKind::Fault(f) => format!("fault {:?} x{}", f.service, f.count),
        StepKind::Replay { replay, .. } => format!(
            "replay the bearer token of {} to {}",
            replay.token,
            replay.method.as_deref().unwrap_or("its auth method")
        ),
        StepKind::ExpectAudit(_) => "audit log".into(),
        StepKind::ExpectNoSecrets => "no secrets in any output".into(),
    }
}

fn token_name(t: &TokenRef) -> String {
    match t {
        TokenRef::Saved(n) => n.to_string(),
        TokenRef::None => "no token".into(),
        TokenRef::Bogus => "an unknown token".into(),
        TokenRef::Management => "the management token".into(),
    }
}

fn via_name(v: LogoutVia) -> &'static str {
    match v {
        LogoutVia::Client => "the client",
        LogoutVia::Api => "the API",
    }
}

/// Runs one step.
pub(super) async fn run(ctx: &mut Ctx, kind: &StepKind) -> StepResult {
    let mark = ctx.aws.state.journal().last_seq();
    let logins_before = ctx.tap.logins().len();
    let mut result = match kind {
        StepKind::Login { login, expect } => self::login(ctx, login, expect).await,
        StepKind::Logout { logout, expect } => self::logout(ctx, logout, expect).await,
        StepKind::ExpectToken(e) => expect_token(ctx, e).await,
        StepKind::Api { api, expect } => self::api(ctx, api, expect).await,
        StepKind::Clock(c) => {
            ctx.clock_offset += c.advance;
            ctx.aws
                .state
                .clock()
                .set_offset_seconds(ctx.clock_offset.whole_seconds());
            if let Some(shift) = &ctx.consul.clock {
                shift(ctx.clock_offset);
            }
            StepResult::ok()
        }
        StepKind::Fault(f) => {
            let service = match f.service {
                iamconform_scenario::FaultService::Sts => FaultService::Sts,
                iamconform_scenario::FaultService::Iam => FaultService::Iam,
                iamconform_scenario::FaultService::Any => FaultService::Any,
            };
            let response = match f.action {
                iamconform_scenario::FaultAction::Status(s) => FaultResponse::Status(s),
                iamconform_scenario::FaultAction::Delay(d) => FaultResponse::Delay(
                    Duration::from_millis(u64::try_from(d.whole_milliseconds()).unwrap_or(0)),
                ),
            };
            ctx.aws.state.faults().push(Fault {
                service,
                response,
                count: f.count,
            });
            StepResult::ok()
        }
        StepKind::Replay { replay, expect } => self::replay(ctx, replay, expect).await,
        StepKind::ExpectAudit(e) => expect_audit(ctx, e),
        StepKind::ExpectNoSecrets => expect_no_secrets(ctx),
    };
    if !result.problems.is_empty() {
        let entries = ctx.aws.state.journal().entries_since(mark);
        // The bearer token this step's client sent, if it reached Consul.
        let token = ctx
            .tap
            .logins()
            .get(logins_before..)
            .and_then(|l| l.last())
            .and_then(|l| iamconform_login::BearerToken::parse(l.bearer_token.expose()).ok());
        result.diagnosis =
            crate::explain::explain_failure(&result.problems, &entries, token.as_ref())
                .iter()
                .map(crate::explain::Diagnosis::render)
                .collect();
        result.diagnosis.extend(diagnose(&entries));
    }
    result
}

/// Explains every request the AWS emulator rejected during a step.
fn diagnose(entries: &[JournalEntry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match &e.verdict {
            Verdict::Accepted => None,
            Verdict::Rejected {
                status,
                code,
                message,
                check,
            } => {
                let service = match e.service {
                    JournalService::Sts => "STS",
                    JournalService::Iam => "IAM",
                    JournalService::Ecs => "ECS credentials",
                    JournalService::Unknown => "AWS",
                };
                let mut text = format!(
                    "{service} {} {} (Host {}) rejected by the {check} check: {status} {code}: {}",
                    e.action.as_deref().unwrap_or("request"),
                    e.path,
                    e.host.as_deref().unwrap_or("-"),
                    first_paragraph(message)
                );
                if let Some(scope) = &e.scope {
                    text.push_str(&format!(
                        "\n  credential scope: {}/{}/{}",
                        scope.date, scope.region, scope.service
                    ));
                }
                if !e.signed_headers.is_empty() {
                    text.push_str(&format!(
                        "\n  signed headers: {}",
                        e.signed_headers.join(";")
                    ));
                }
                if let Some(hint) = &e.hint {
                    text.push_str(&format!("\n  hint: {hint}"));
                }
                if let Some(cr) = &e.canonical_request {
                    text.push_str("\n  canonical request the server computed:");
                    for line in cr.lines() {
                        text.push_str(&format!("\n    {line}"));
                    }
                }
                if let Some(sts) = &e.string_to_sign {
                    text.push_str("\n  string to sign the server computed:");
                    for line in sts.lines() {
                        text.push_str(&format!("\n    {line}"));
                    }
                }
                Some(text)
            }
        })
        .collect()
}

fn first_paragraph(message: &str) -> &str {
    message.split("\n\n").next().unwrap_or(message)
}

/// The credentials a login step hands the client.
struct Creds {
    access_key_id: String,
    secret: Secret<String>,
    token: Option<Secret<String>>,
    /// For the ECS source: (account, role, session).
    session: Option<(String, String, String)>,
}

fn resolve_identity(ctx: &Ctx, login: &Login) -> Result<Creds, String> {
    let store = ctx.aws.state.store();
    let who = &login.identity;
    let found = store
        .credentials()
        .into_iter()
        .find(|c| match &c.principal {
            Principal::AssumedRole { role, session } => {
                role.name == who.name && who.qualifier.as_deref().is_none_or(|q| q == session)
            }
            Principal::User(user) => {
                user.name == who.name
                    && who
                        .qualifier
                        .as_deref()
                        .is_none_or(|q| q == c.access_key_id)
            }
        });
    let Some(c) = found else {
        return Err(format!(
            "no identity {who} in the fixtures: `as:` takes ROLE/SESSION or USER[/ACCESS_KEY_ID] from fixtures/identities.yaml or the scenario's `identities:`"
        ));
    };
    let session = match &c.principal {
        Principal::AssumedRole { role, session } => Some((
            role.account.as_str().to_string(),
            role.name.clone(),
            session.clone(),
        )),
        Principal::User(_) => None,
    };
    Ok(Creds {
        access_key_id: c.access_key_id,
        secret: c.secret_access_key,
        token: c.session_token,
        session,
    })
}

struct Command {
    argv: Vec<String>,
    env: BTreeMap<String, String>,
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

/// Port 9 (discard) on loopback: nothing listens there, so proxied connections are refused.
const BLACKHOLE_PROXY: &str = "http://127.0.0.1:9";
/// Hosts clients reach without the proxy.
const LOOPBACK_HOSTS: &str = "127.0.0.1,localhost,::1";

fn base_env(ctx: &Ctx) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if let Ok(path) = std::env::var("PATH") {
        env.insert("PATH".into(), path);
    }
    let home = ctx.dir.path().join("home");
    let _ = std::fs::create_dir_all(&home);
    env.insert("HOME".into(), home.display().to_string());
    // Nothing the client finds on this machine may change what it does, and nothing may leave it.
    env.insert(
        "AWS_CONFIG_FILE".into(),
        home.join("no-aws-config").display().to_string(),
    );
    env.insert(
        "AWS_SHARED_CREDENTIALS_FILE".into(),
        home.join("no-aws-credentials").display().to_string(),
    );
    env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
    // A client that would reach past loopback (e.g. a real `consul login` calling AWS itself)
    // is sent to a proxy address where nothing listens, so it fails fast instead of leaving
    // the machine; loopback (the emulators, the tap) is reached directly.
    for (name, value) in [
        ("HTTPS_PROXY", BLACKHOLE_PROXY),
        ("https_proxy", BLACKHOLE_PROXY),
        ("HTTP_PROXY", BLACKHOLE_PROXY),
        ("http_proxy", BLACKHOLE_PROXY),
        ("NO_PROXY", LOOPBACK_HOSTS),
        ("no_proxy", LOOPBACK_HOSTS),
    ] {
        env.insert(name.into(), value.into());
    }
    // Every AWS host the client might call goes to this scenario's emulator.
    env.insert("IAMCONFORM_AWS_ENDPOINT".into(), ctx.aws.base_url());
    for (k, v) in std::env::vars() {
        // The mutation test drives the reference client's hidden bug switch through the harness.
        if k == iamconform_login::mutant::MUTANT_STATE_DIR_ENV {
            // Stateful mutants count calls per task; a counter shared by scenarios running in
            // parallel would make which call misbehaves depend on scheduling.
            let dir = ctx.dir.path().join("mutant-state");
            let _ = std::fs::create_dir_all(&dir);
            env.insert(k, dir.display().to_string());
        } else if k.starts_with("IAMCONFORM_MUTANT") {
            env.insert(k, v);
        }
    }
    for (k, v) in &ctx.shared.client.env {
        env.insert(k.clone(), v.clone());
    }
    env
}

async fn run_command(ctx: &mut Ctx, cmd: Command) -> Ran {
    let Some((program, args)) = cmd.argv.split_first() else {
        return Ran {
            code: None,
            stdout: String::new(),
            stderr: "empty command".into(),
            timed_out: false,
        };
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(&cmd.env)
        .current_dir(ctx.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                code: None,
                stdout: String::new(),
                stderr: format!("cannot start client command {program:?}: {e}"),
                timed_out: false,
            };
        }
    };
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let read = async {
        let mut o = Vec::new();
        let mut e = Vec::new();
        let ro = async {
            if let Some(s) = out.as_mut() {
                let _ = s.take(1 << 20).read_to_end(&mut o).await;
            }
        };
        let re = async {
            if let Some(s) = err.as_mut() {
                let _ = s.take(1 << 20).read_to_end(&mut e).await;
            }
        };
        tokio::join!(ro, re);
        let status = child.wait().await;
        (status, o, e)
    };
    match tokio::time::timeout(ctx.shared.step_timeout, read).await {
        Ok((status, o, e)) => {
            let ran = Ran {
                code: status.ok().and_then(|s| s.code()),
                stdout: String::from_utf8_lossy(&o).into_owned(),
                stderr: String::from_utf8_lossy(&e).into_owned(),
                timed_out: false,
            };
            ctx.outputs.push_str(&ran.stdout);
            ctx.outputs.push_str(&ran.stderr);
            ran
        }
        Err(_) => Ran {
            code: None,
            stdout: String::new(),
            stderr: String::new(),
            timed_out: true,
        },
    }
}

fn check_outcome(expected: &Expected, ran: &Ran, problems: &mut Vec<String>, timeout: Duration) {
    if ran.timed_out {
        problems.push(format!("the client did not finish within {timeout:?} (step timeout; raise it with --step-timeout)"));
        return;
    }
    let ok = ran.code == Some(0);
    let output = format!("{}\n{}", ran.stderr, ran.stdout);
    if expected.ok && !ok {
        problems.push(format!(
            "expected success, but the client exited with {}: {}",
            ran.code.map_or("a signal".to_string(), |c| c.to_string()),
            output.trim()
        ));
    } else if !expected.ok && ok {
        problems.push(match &expected.error {
            Some(e) => {
                format!("expected failure with an error containing {e:?}, but the client succeeded")
            }
            None => "expected failure, but the client succeeded".to_string(),
        });
    } else if let Some(e) = &expected.error
        && !output.to_lowercase().contains(&e.to_lowercase())
    {
        problems.push(format!(
            "expected an error containing {e:?}, got: {}",
            output.trim()
        ));
    }
}

fn endpoint_value(ctx: &Ctx, endpoint: &Endpoint) -> Option<String> {
    match endpoint {
        Endpoint::Emulator => Some(ctx.aws.base_url()),
        Endpoint::Aws => None,
        Endpoint::Url(u) => Some(u.clone()),
    }
}

async fn login(ctx: &mut Ctx, login: &Login, expect: &ClientExpect) -> StepResult {
    let mut creds = match resolve_identity(ctx, login) {
        Ok(c) => c,
        Err(e) => return StepResult::problem(e),
    };
    match login.corrupt {
        None => {}
        Some(Corruption::Secret) => {
            // Same length and alphabet, different value: only the signature can tell.
            let wrong: String = creds.secret.expose().chars().rev().collect();
            let wrong = if wrong == *creds.secret.expose() {
                format!("{wrong}x")
            } else {
                wrong
            };
            creds.secret = Secret::new(wrong);
            ctx.scrubber
                .add("corrupted secret key", creds.secret.clone());
        }
        Some(Corruption::AccessKey) => {
            let prefix = creds.access_key_id.get(..4).unwrap_or("AKIA").to_string();
            creds.access_key_id = format!("{prefix}IAMCONFORMUNKNOWN");
        }
    }
    let spec = ctx.shared.client.login.clone();
    let tokens = ctx.dir.path().join("tokens");
    let _ = std::fs::create_dir_all(&tokens);
    let token_file = tokens.join(login.save_as.as_str());
    let _ = std::fs::remove_file(&token_file);
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    values.insert("exe", ctx.shared.exe.display().to_string());
    values.insert("method", login.method.clone());
    values.insert("http_addr", ctx.tap.url());
    values.insert("token_file", token_file.display().to_string());
    values.insert("region", login.region.clone());
    let mut argv = render_group(&spec.argv, &values);
    let mut env = base_env(ctx);
    if login.include_entity {
        argv.extend(render_group(&spec.include_entity, &values));
    }
    if let Some(id) = &login.server_id {
        values.insert("server_id", id.clone());
        argv.extend(render_group(&spec.server_id, &values));
    }
    argv.extend(render_group(&spec.region, &values));
    if let Some(sts) = endpoint_value(ctx, &login.sts_endpoint) {
        values.insert("sts_endpoint", sts.clone());
        argv.extend(render_group(&spec.sts_endpoint, &values));
        env.insert("AWS_ENDPOINT_URL_STS".into(), sts);
    }
    if let Some(iam) = endpoint_value(ctx, &login.iam_endpoint) {
        values.insert("iam_endpoint", iam.clone());
        argv.extend(render_group(&spec.iam_endpoint, &values));
        env.insert("AWS_ENDPOINT_URL_IAM".into(), iam);
    }
    for (k, v) in &login.meta {
        let mut kv = values.clone();
        kv.insert("key", k.clone());
        kv.insert("value", v.clone());
        argv.extend(spec.meta.iter().map(|a| render_arg(a, &kv)));
    }
    if let Some(ns) = &login.namespace {
        values.insert("namespace", ns.clone());
        argv.extend(render_group(&spec.namespace, &values));
    }
    if let Some(p) = &login.partition {
        values.insert("partition", p.clone());
        argv.extend(render_group(&spec.partition, &values));
    }
    match login.credentials {
        CredentialSource::Env => {
            env.insert("AWS_ACCESS_KEY_ID".into(), creds.access_key_id.clone());
            env.insert(
                "AWS_SECRET_ACCESS_KEY".into(),
                creds.secret.expose().clone(),
            );
            if let Some(t) = &creds.token {
                env.insert("AWS_SESSION_TOKEN".into(), t.expose().clone());
            }
        }
        CredentialSource::Flags => {
            values.insert("access_key_id", creds.access_key_id.clone());
            values.insert("secret_access_key", creds.secret.expose().clone());
            argv.extend(render_group(&spec.static_credentials, &values));
            if let Some(t) = &creds.token {
                values.insert("session_token", t.expose().clone());
                argv.extend(render_group(&spec.session_token, &values));
            }
        }
        CredentialSource::SharedFile => {
            let path = ctx.dir.path().join("aws-credentials");
            let mut text = format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                creds.access_key_id,
                creds.secret.expose()
            );
            if let Some(t) = &creds.token {
                text.push_str(&format!("aws_session_token = {}\n", t.expose()));
            }
            if let Err(e) = std::fs::write(&path, text) {
                return StepResult::problem(format!(
                    "cannot write the shared credentials file: {e}"
                ));
            }
            env.insert(
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                path.display().to_string(),
            );
            env.insert("AWS_PROFILE".into(), "default".into());
        }
        CredentialSource::Ecs => {
            let Some((account, role, session)) = &creds.session else {
                return StepResult::problem(format!(
                    "credentials: ecs needs a role session, but {} is a user",
                    login.identity
                ));
            };
            match ctx.aws.state.issue_ecs_grant(account, role, session) {
                Ok(grant) => {
                    ctx.scrubber
                        .add("ECS authorization token", grant.authorization_token.clone());
                    env.insert(
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
                        grant.full_uri.clone(),
                    );
                    env.insert(
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN".into(),
                        grant.authorization_token.expose().clone(),
                    );
                }
                Err(e) => return StepResult::problem(format!("cannot issue ECS credentials: {e}")),
            }
        }
    }
    let logins_before = ctx.tap.logins().len();
    let ran = run_command(ctx, Command { argv, env }).await;
    let mut result = StepResult::ok();
    result.stdout = ran.stdout.clone();
    result.stderr = ran.stderr.clone();
    if let Some(code) = ctx.shared.client.unsupported_exit_code
        && ran.code == Some(code)
    {
        result.unsupported = Some(ran.stderr.trim().to_string());
        return result;
    }
    check_outcome(
        &expect.outcome,
        &ran,
        &mut result.problems,
        ctx.shared.step_timeout,
    );
    let captured = ctx.tap.logins().into_iter().skip(logins_before).last();
    for s in ctx.tap.secrets() {
        ctx.scrubber.add("Consul token or bearer token", s);
    }
    let secret_id = if ran.code == Some(0) {
        let text = match spec.token_from {
            TokenFrom::SinkFile => std::fs::read_to_string(&token_file).unwrap_or_default(),
            TokenFrom::Stdout => ran
                .stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .to_string(),
        };
        let t = text.trim().to_string();
        if t.is_empty() {
            result.problems.push(match spec.token_from {
                TokenFrom::SinkFile => format!(
                    "the client succeeded but wrote no token to {}",
                    token_file.display()
                ),
                TokenFrom::Stdout => "the client succeeded but printed no token".to_string(),
            });
            None
        } else {
            if text != t && spec.token_from == TokenFrom::SinkFile {
                result.problems.push(
                    "the token sink file has surrounding whitespace (a trailing newline?); consul login writes the SecretID alone".to_string(),
                );
            }
            let secret = Secret::new(t);
            ctx.scrubber.add("Consul SecretID", secret.clone());
            Some(secret)
        }
    } else {
        None
    };
    let mut observed_token = None;
    if expect.outcome.ok
        && let (Some(want), Some(secret)) = (&expect.token, &secret_id)
    {
        match ctx
            .http
            .send("GET", "/v1/acl/token/self", Some(secret), None)
            .await
        {
            Ok(resp) if resp.status == 200 => {
                let actual = resp.json().unwrap_or(Value::Null);
                for p in subset(&Value::Object(want.clone()), &actual) {
                    result.problems.push(format!("token: {p}"));
                }
                observed_token = Some(actual);
            }
            Ok(resp) => result.problems.push(format!(
                "reading the new token back (GET /v1/acl/token/self) answered {}: {}",
                resp.status,
                resp.body.trim()
            )),
            Err(e) => result
                .problems
                .push(format!("reading the new token back: {e}")),
        }
    }
    if let Some(sent) = &expect.sent {
        match &captured {
            Some(c) => check_sent(ctx, sent, c.bearer_token.expose(), &mut result.problems),
            None => result
                .problems
                .push("sent: the client made no login request to Consul".to_string()),
        }
    }
    // For `record` and `--bless`: what happened, whatever was expected.
    if observed_token.is_none()
        && let Some(secret) = &secret_id
        && let Ok(resp) = ctx
            .http
            .send("GET", "/v1/acl/token/self", Some(secret), None)
            .await
        && resp.status == 200
    {
        observed_token = resp.json();
    }
    result.observed = Some(crate::record::observe_login(
        ran.code == Some(0),
        &ctx.scrubber.scrub(&ran.stderr),
        observed_token.as_ref(),
        captured.as_ref().map(|c| c.bearer_token.expose().as_str()),
        &ctx.aws.state.journal().entries(),
    ));
    ctx.saved.insert(
        login.save_as.as_str().to_string(),
        Saved {
            secret_id,
            bearer: captured.map(|c| c.bearer_token),
            method: login.method.clone(),
        },
    );
    result
}

/// Checks what the client sent: the bearer token's STS request, and the emulator's verdict on it.
fn check_sent(ctx: &Ctx, want: &SentExpect, bearer: &str, problems: &mut Vec<String>) {
    let token = match BearerToken::parse(bearer) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("sent: the bearer token cannot be decoded: {e}"));
            return;
        }
    };
    let auth = token
        .header("Authorization")
        .unwrap_or_default()
        .to_string();
    let scope: Vec<&str> = auth
        .split([',', ' '])
        .find_map(|p| p.trim().strip_prefix("Credential="))
        .map(|c| c.split('/').collect())
        .unwrap_or_default();
    let signed = token.signed_headers();
    let host = token
        .url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
        .to_string();
    let mut check = |what: &str, expected: &str, actual: &str| {
        if expected != actual {
            problems.push(format!(
                "sent: {what}: expected {expected:?}, the client sent {actual:?}"
            ));
        }
    };
    if let Some(r) = &want.region {
        check("signing region", r, scope.get(2).copied().unwrap_or(""));
    }
    if let Some(s) = &want.service {
        check("signing service", s, scope.get(3).copied().unwrap_or(""));
    }
    if let Some(h) = &want.host {
        check("host", h, &host);
    }
    for h in &want.signed_headers.include {
        if !signed.iter().any(|s| s == h) {
            problems.push(format!(
                "sent: header {h} is not signed (SignedHeaders={})",
                signed.join(";")
            ));
        }
    }
    for h in &want.signed_headers.exclude {
        if signed.iter().any(|s| s == h) {
            problems.push(format!(
                "sent: header {h} is signed but must not be (SignedHeaders={})",
                signed.join(";")
            ));
        }
    }
    if let Some(expected) = want.server_id_signed {
        let present = !token.header_values("X-Consul-IAM-ServerID").is_empty()
            || token
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("x-consul-iam-serverid"));
        let actual = present && signed.iter().any(|s| s == "x-consul-iam-serverid");
        if expected != actual {
            problems.push(if present {
                format!(
                    "sent: the server-ID header is present but {}signed (SignedHeaders={})",
                    if actual { "" } else { "not " },
                    signed.join(";")
                )
            } else {
                "sent: the client sent no X-Consul-IAM-ServerID header".to_string()
            });
        }
    }
    if let Some(entity) = want.entity {
        let body = token
            .header("X-Consul-IAM-GetEntity-Body")
            .unwrap_or_default();
        let actual = if body.contains("Action=GetRole") {
            EntityExpect::GetRole
        } else if body.contains("Action=GetUser") {
            EntityExpect::GetUser
        } else {
            EntityExpect::None
        };
        if actual != entity {
            problems.push(format!(
                "sent: embedded IAM request: expected {entity:?}, the client embedded {actual:?}"
            ));
        }
    }
    if let Some(verdict) = &want.verdict {
        let akid = scope.first().copied().unwrap_or("");
        let entry = ctx
            .aws
            .state
            .journal()
            .entries()
            .into_iter()
            .rev()
            .find(|e| {
                e.service == JournalService::Sts
                    && e.access_key_id.as_deref() == Some(akid)
                    && e.signed_headers == signed
            });
        let actual = match entry.map(|e| e.verdict) {
            None => "not forwarded to STS".to_string(),
            Some(Verdict::Accepted) => "accepted".to_string(),
            Some(Verdict::Rejected { code, .. }) => code,
        };
        let expected = match verdict {
            ExpectedVerdict::Accepted => "accepted".to_string(),
            ExpectedVerdict::Error(code) => code.clone(),
        };
        if expected != actual {
            problems.push(format!(
                "sent: AWS verdict: expected {expected}, got {actual}"
            ));
        }
    }
}

fn token_for(ctx: &Ctx, token: &TokenRef) -> Result<Option<Secret<String>>, String> {
    match token {
        TokenRef::Saved(name) => match ctx.saved.get(name.as_str()) {
            Some(s) => s
                .secret_id
                .clone()
                .map(Some)
                .ok_or_else(|| format!("token {name} has no SecretID: its login failed")),
            None => Err(format!("no saved token {name}")),
        },
        TokenRef::None => Ok(None),
        TokenRef::Bogus => Ok(Some(Secret::new(uuid::Uuid::new_v4().to_string()))),
        TokenRef::Management => Ok(Some(ctx.consul.management_token.clone())),
    }
}

async fn logout(ctx: &mut Ctx, logout: &Logout, expect: &Expected) -> StepResult {
    let token = match token_for(ctx, &logout.token) {
        Ok(t) => t,
        Err(e) => return StepResult::problem(e),
    };
    match logout.via {
        LogoutVia::Api => {
            let mut result = StepResult::ok();
            match ctx
                .http
                .send("POST", "/v1/acl/logout", token.as_ref(), None)
                .await
            {
                Ok(resp) => {
                    let ok = resp.status == 200;
                    let ran = Ran {
                        code: Some(if ok { 0 } else { 1 }),
                        stdout: String::new(),
                        stderr: format!("{} ({})", resp.status, resp.body.trim()),
                        timed_out: false,
                    };
                    check_outcome(expect, &ran, &mut result.problems, ctx.shared.step_timeout);
                }
                Err(e) => result.problems.push(e.to_string()),
            }
            result
        }
        LogoutVia::Client => {
            let path = ctx
                .dir
                .path()
                .join("tokens")
                .join(format!("logout-{}", uuid::Uuid::new_v4().simple()));
            let _ = std::fs::create_dir_all(ctx.dir.path().join("tokens"));
            let text = token
                .as_ref()
                .map(|t| t.expose().clone())
                .unwrap_or_default();
            if let Err(e) = std::fs::write(&path, text) {
                return StepResult::problem(format!("cannot write the logout token file: {e}"));
            }
            let mut values: BTreeMap<&str, String> = BTreeMap::new();
            values.insert("exe", ctx.shared.exe.display().to_string());
            values.insert("http_addr", ctx.tap.url());
            values.insert("token_file", path.display().to_string());
            let argv = render_group(&ctx.shared.client.logout.argv, &values);
            let env = base_env(ctx);
            let ran = run_command(ctx, Command { argv, env }).await;
            let _ = std::fs::remove_file(&path);
            let mut result = StepResult::ok();
            result.stdout = ran.stdout.clone();
            result.stderr = ran.stderr.clone();
            check_outcome(expect, &ran, &mut result.problems, ctx.shared.step_timeout);
            result
        }
    }
}

async fn expect_token(ctx: &mut Ctx, e: &ExpectToken) -> StepResult {
    let Some(saved) = ctx.saved.get(e.token.as_str()) else {
        return StepResult::problem(format!("no saved token {}", e.token));
    };
    let Some(secret) = saved.secret_id.clone() else {
        return StepResult::problem(format!(
            "token {} has no SecretID: its login failed",
            e.token
        ));
    };
    match ctx
        .http
        .send("GET", "/v1/acl/token/self", Some(&secret), None)
        .await
    {
        Ok(resp) => {
            let works = resp.status == 200;
            if works == e.works {
                StepResult::ok()
            } else if e.works {
                StepResult::problem(format!(
                    "token {} should work, but GET /v1/acl/token/self answered {}: {}",
                    e.token,
                    resp.status,
                    resp.body.trim()
                ))
            } else {
                StepResult::problem(format!(
                    "token {} should be gone, but GET /v1/acl/token/self still answers 200",
                    e.token
                ))
            }
        }
        Err(err) => StepResult::problem(err.to_string()),
    }
}

async fn api(ctx: &mut Ctx, call: &ApiCall, expect: &ApiExpect) -> StepResult {
    let token = match token_for(ctx, &call.token) {
        Ok(t) => t,
        Err(e) => return StepResult::problem(e),
    };
    let body = call.body.as_ref().map(|b| {
        let mut b = b.clone();
        if call.path.starts_with("/v1/acl/auth-method") && ctx.consul.inject_endpoints {
            inject_endpoints(&mut b, &ctx.consul_aws_url());
        }
        b
    });
    let resp = match ctx
        .http
        .send(&call.method, &call.path, token.as_ref(), body.as_ref())
        .await
    {
        Ok(r) => r,
        Err(e) => return StepResult::problem(e.to_string()),
    };
    let mut result = StepResult::ok();
    match expect.status {
        Some(s) if s != resp.status => result.problems.push(format!(
            "status: expected {s}, got {}: {}",
            resp.status,
            resp.body.trim()
        )),
        None if !(200..300).contains(&resp.status) => result.problems.push(format!(
            "status: expected success, got {}: {}",
            resp.status,
            resp.body.trim()
        )),
        _ => {}
    }
    if let Some(needle) = &expect.body_contains
        && !resp.body.to_lowercase().contains(&needle.to_lowercase())
    {
        result.problems.push(format!(
            "body: expected it to contain {needle:?}, got: {}",
            resp.body.trim()
        ));
    }
    if let Some(want) = &expect.json {
        match resp.json() {
            Some(actual) => result.problems.extend(
                subset(want, &actual)
                    .into_iter()
                    .map(|p| format!("json: {p}")),
            ),
            None => result
                .problems
                .push(format!("json: the body is not JSON: {}", resp.body.trim())),
        }
    }
    result
}

async fn replay(ctx: &mut Ctx, replay: &Replay, expect: &ClientExpect) -> StepResult {
    let Some(saved) = ctx.saved.get(replay.token.as_str()).cloned() else {
        return StepResult::problem(format!("no saved login {}", replay.token));
    };
    let Some(bearer) = saved.bearer else {
        return StepResult::problem(format!(
            "login {} sent no bearer token to capture",
            replay.token
        ));
    };
    let method = replay.method.clone().unwrap_or(saved.method);
    let body = serde_json::json!({"AuthMethod": method, "BearerToken": bearer.expose()});
    let resp = match ctx
        .http
        .send("POST", "/v1/acl/login", None, Some(&body))
        .await
    {
        Ok(r) => r,
        Err(e) => return StepResult::problem(e.to_string()),
    };
    let mut result = StepResult::ok();
    let ran = Ran {
        code: Some(if resp.status == 200 { 0 } else { 1 }),
        stdout: String::new(),
        stderr: format!(
            "Unexpected response code: {} ({})",
            resp.status,
            resp.body.trim()
        ),
        timed_out: false,
    };
    check_outcome(
        &expect.outcome,
        &ran,
        &mut result.problems,
        ctx.shared.step_timeout,
    );
    if resp.status == 200 {
        if let Some(secret) = resp.json().and_then(|v| {
            v.get("SecretID")
                .and_then(|s| s.as_str())
                .map(str::to_string)
        }) {
            ctx.scrubber.add("Consul SecretID", Secret::new(secret));
        }
        if let Some(want) = &expect.token {
            let actual = resp.json().unwrap_or(Value::Null);
            result.problems.extend(
                subset(&Value::Object(want.clone()), &actual)
                    .into_iter()
                    .map(|p| format!("token: {p}")),
            );
        }
    }
    if let Some(sent) = &expect.sent {
        check_sent(ctx, sent, bearer.expose(), &mut result.problems);
    }
    result
}

/// Flattens one audit line into the names `expect_audit` uses.
fn flatten_audit(line: &Value) -> Value {
    let p = &line["payload"];
    serde_json::json!({
        "event_type": line["event_type"],
        "type": p["type"],
        "stage": p["stage"],
        "endpoint": p["request"]["endpoint"],
        "method": p["request"]["operation"],
        "status": p["response"]["status"],
        "accessor_id": p["auth"]["accessor_id"],
    })
}

fn expect_audit(ctx: &mut Ctx, e: &ExpectAudit) -> StepResult {
    let Some(path) = &ctx.consul.audit_log else {
        return StepResult::problem("no audit log: set `consul: { audit: true }` in the scenario");
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(err) => {
            return StepResult::problem(format!(
                "cannot read the audit log {}: {err}",
                path.display()
            ));
        }
    };
    let mut entries = Vec::new();
    let mut result = StepResult::ok();
    for (i, line) in text.lines().enumerate() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => entries.push(flatten_audit(&v)),
            Err(err) => result
                .problems
                .push(format!("audit log line {} is not JSON: {err}", i + 1)),
        }
    }
    for want in &e.contains {
        let want = Value::Object(want.clone());
        if !entries.iter().any(|entry| subset(&want, entry).is_empty()) {
            result.problems.push(format!(
                "audit log: no entry matches {want} ({} entries)",
                entries.len()
            ));
        }
    }
    result
}

fn expect_no_secrets(ctx: &mut Ctx) -> StepResult {
    let mut places: Vec<(String, String)> = vec![("client output".into(), ctx.outputs.clone())];
    let journal = ctx.aws.state.journal().entries();
    places.push((
        "AWS journal".into(),
        serde_json::to_string(&journal).unwrap_or_default(),
    ));
    if let Some(path) = &ctx.consul.audit_log {
        places.push((
            "audit log".into(),
            std::fs::read_to_string(path).unwrap_or_default(),
        ));
    }
    let mut result = StepResult::ok();
    for (place, text) in places {
        for label in ctx.scrubber.find(&text) {
            result
                .problems
                .push(format!("the {place} contains a secret: {label}"));
        }
    }
    result
}

//! `load`: the emulator side by side with the ceiling and moto, then full logins.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Args;
use iamconform_login::{AwsCredentials, LoginInput, Network, generate_bearer_token};
use serde::Serialize;

use crate::load::{self, Level, LevelResult};
use crate::servers::{self, Canned, CeilingWork, Placement};
use crate::sign::{self, Call, Creds};
use crate::wire::{Conn, RawRequest};

/// Flags of `load`.
#[derive(Args, Clone)]
pub(crate) struct LoadArgs {
    /// The iamconform binary (build it with `cargo build --release -p iamconform`).
    #[arg(long, default_value = "target/release/iamconform")]
    pub(crate) iamconform: PathBuf,
    /// moto's standalone server; without it the moto comparison is skipped.
    #[arg(long)]
    pub(crate) moto: Option<PathBuf>,
    /// The Consul preset of the login benchmark.
    #[arg(long, default_value = "fixtures/consul-ecs.yaml")]
    pub(crate) preset: PathBuf,
    /// Concurrency levels (connections) of the GetCallerIdentity/GetRole loads.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub(crate) levels: Vec<usize>,
    /// Concurrency levels of the login load.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub(crate) login_levels: Vec<usize>,
    /// Longest time per level and server, in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub(crate) seconds: f64,
    /// Most requests per level and server.
    #[arg(long, default_value_t = 300_000)]
    pub(crate) max_requests: u64,
    /// Distinct pre-signed requests (and pre-generated bearer tokens) replayed round robin.
    #[arg(long, default_value_t = 64)]
    pub(crate) pool: usize,
    /// Pin the servers to these CPUs (taskset -c), e.g. `0`; pin the load generator
    /// yourself (`taskset -c 1 iamconform-loadbench …`).
    #[arg(long)]
    pub(crate) server_cpus: Option<String>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
}

/// One call's results at one level on every server.
#[derive(Debug, Serialize)]
struct Row {
    call: &'static str,
    iamconform: LevelResult,
    ceiling: LevelResult,
    /// The ceiling that SigV4-verifies each request and does nothing else.
    verify_only: LevelResult,
    moto: Option<LevelResult>,
}

/// How each server answered a request with a corrupted signature.
#[derive(Debug, Serialize)]
struct Laxness {
    call: &'static str,
    iamconform_status: u16,
    verify_only_status: u16,
    moto_status: Option<u16>,
}

#[derive(Debug, Serialize)]
struct Report {
    server_cpus: Option<String>,
    client_threads_note: &'static str,
    rows: Vec<Row>,
    bad_signature: Vec<Laxness>,
    logins: Vec<LevelResult>,
    serve_peak_rss_kib: Option<u64>,
}

fn level(addr: SocketAddr, requests: &Arc<Vec<RawRequest>>, c: usize, args: &LoadArgs) -> Level {
    Level {
        addr,
        requests: requests.clone(),
        expect_status: 200,
        concurrency: c,
        duration: Duration::from_secs_f64(args.seconds),
        max_requests: args.max_requests,
    }
}

/// One request, fully read (for the canned response and the sanity checks).
pub(crate) async fn once(addr: SocketAddr, req: &RawRequest) -> Result<crate::wire::Response> {
    Conn::new(addr).send(req, true).await
}

pub(crate) async fn run(args: LoadArgs) -> Result<()> {
    let at = Placement {
        cpus: args.server_cpus.clone(),
        wrap: Vec::new(),
    };
    let tmp = std::env::temp_dir();
    let creds = sign::fixture_creds(sign::WEB_TASK_KEY)?;
    let (serve, endpoints) = servers::iamconform_serve(&args.iamconform, Some(&args.preset), &at)
        .await
        .context("starting iamconform serve")?;
    let (aws, consul) = endpoints.addrs()?;
    eprintln!("iamconform serve: aws {aws}, consul {consul}");

    let moto = match &args.moto {
        Some(bin) => {
            let (server, addr) = servers::moto(bin, &at).await.context("starting moto")?;
            create_moto_role(&creds, addr).await?;
            eprintln!("moto: {addr}");
            Some((server, addr))
        }
        None => None,
    };

    let mut rows = Vec::new();
    let mut lax = Vec::new();
    for call in [Call::GetCallerIdentity, Call::GetRole] {
        let host = aws.to_string();
        let pool = Arc::new(sign::pool(&creds, call, &host, args.pool)?);
        let first = pool.first().context("empty pool")?;
        let answer = once(aws, first).await?;
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        if answer.status != 200 || !body.contains("arn:aws:") {
            bail!(
                "{} sanity check failed: {} {body}",
                call.name(),
                answer.status
            );
        }
        let bad = once(aws, &sign::bad_signature(&creds, call, &host)?).await?;
        let moto_pool = match &moto {
            Some((_, addr)) => {
                let p = Arc::new(sign::pool(&creds, call, &addr.to_string(), args.pool)?);
                let sanity = once(*addr, p.first().context("empty pool")?).await?;
                if sanity.status != 200 {
                    bail!(
                        "moto {} sanity check failed: {} {}",
                        call.name(),
                        sanity.status,
                        String::from_utf8_lossy(&sanity.body)
                    );
                }
                let moto_bad = once(
                    *addr,
                    &sign::bad_signature(&creds, call, &addr.to_string())?,
                )
                .await?;
                Some((*addr, p, moto_bad.status))
            }
            None => None,
        };
        let canned = Canned {
            status: answer.status,
            headers: answer
                .headers
                .iter()
                .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length" | "connection"))
                .cloned()
                .collect(),
            body,
        };
        let (ceiling, ceiling_addr) =
            servers::ceiling(&canned, &tmp, &at, CeilingWork::None).await?;
        let (verifier, verifier_addr) =
            servers::ceiling(&canned, &tmp, &at, CeilingWork::Verify).await?;
        let verifier_bad = once(
            verifier_addr,
            &sign::bad_signature(&creds, call, &verifier_addr.to_string())?,
        )
        .await?;
        lax.push(Laxness {
            call: call.name(),
            iamconform_status: bad.status,
            verify_only_status: verifier_bad.status,
            moto_status: moto_pool.as_ref().map(|m| m.2),
        });
        for &c in &args.levels {
            let emu = load::run(level(aws, &pool, c, &args)).await;
            let ceil = load::run(level(ceiling_addr, &pool, c, &args)).await;
            let verify_only = load::run(level(verifier_addr, &pool, c, &args)).await;
            let mo = match &moto_pool {
                Some((addr, p, _)) => Some(load::run(level(*addr, p, c, &args)).await),
                None => None,
            };
            print_row(call.name(), &emu, &ceil, &verify_only, mo.as_ref());
            rows.push(Row {
                call: call.name(),
                iamconform: emu,
                ceiling: ceil,
                verify_only,
                moto: mo,
            });
        }
        ceiling.stop().await;
        verifier.stop().await;
    }
    if let Some((m, _)) = moto {
        m.stop().await;
    }

    // Full logins: the bearer tokens are generated (with the live STS call that
    // include_entity needs) before timing; one token may be replayed for 15 minutes.
    let tokens = login_pool(&creds, aws, consul, args.pool).await?;
    let tokens = Arc::new(tokens);
    let sanity = once(consul, tokens.first().context("no tokens")?).await?;
    if sanity.status != 200 || !String::from_utf8_lossy(&sanity.body).contains("SecretID") {
        bail!(
            "login sanity check failed: {} {}",
            sanity.status,
            String::from_utf8_lossy(&sanity.body)
        );
    }
    let mut logins = Vec::new();
    for &c in &args.login_levels {
        let r = load::run(level(consul, &tokens, c, &args)).await;
        eprintln!(
            "login c={:<3} {:>9.0}/s p50 {:>6}us p99 {:>6}us errors {}{}",
            c,
            r.rps,
            r.p50_us,
            r.p99_us,
            r.errors,
            r.first_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        logins.push(r);
    }
    let peak = serve
        .pid()
        .and_then(|p| servers::memory_kib(p).ok())
        .map(|m| m.1);
    serve.stop().await;

    let report = Report {
        server_cpus: args.server_cpus.clone(),
        client_threads_note: "the load generator shares the machine's cores with the server unless pinned",
        rows,
        bad_signature: lax,
        logins,
        serve_peak_rss_kib: peak,
    };
    print_markdown(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}

/// Creates the web task role in moto (moto starts empty) so GetRole answers 200.
async fn create_moto_role(creds: &Creds, addr: SocketAddr) -> Result<()> {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let body: String = form(&[
        ("Action", "CreateRole"),
        ("RoleName", sign::WEB_TASK_ROLE),
        ("Path", sign::WEB_TASK_PATH),
        ("AssumeRolePolicyDocument", policy),
        ("Version", "2010-05-08"),
    ]);
    let req = sign::signed_post(creds, "iam", &addr.to_string(), &body, SystemTime::now())?;
    let r = once(addr, &req).await?;
    if r.status != 200 {
        bail!(
            "moto CreateRole: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    Ok(())
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `n` login requests with distinct bearer tokens (service-token method, entity details).
pub(crate) async fn login_pool(
    creds: &Creds,
    aws: SocketAddr,
    consul: SocketAddr,
    n: usize,
) -> Result<Vec<RawRequest>> {
    let mut out = Vec::with_capacity(n);
    let now = SystemTime::now();
    for i in 0..n {
        let aws_creds =
            AwsCredentials::from_flags(&creds.akid, creds.secret.clone(), creds.token.clone());
        let mut input = LoginInput::new(aws_creds, "us-east-1");
        input.include_entity = true;
        input.network = Network::with_aws_redirect(aws)?;
        input.now = now
            .checked_sub(Duration::from_secs(i as u64 % 300))
            .unwrap_or(now);
        let token = generate_bearer_token(&input).await?;
        let body = serde_json::to_vec(&serde_json::json!({
            "AuthMethod": "iam-ecs-service-token",
            "BearerToken": token.expose(),
        }))?;
        out.push(RawRequest::new(
            "POST",
            "/v1/acl/login",
            &[
                ("Host".to_owned(), consul.to_string()),
                ("Content-Type".to_owned(), "application/json".to_owned()),
            ],
            &body,
        ));
    }
    Ok(out)
}

fn print_row(
    call: &str,
    emu: &LevelResult,
    ceil: &LevelResult,
    verify_only: &LevelResult,
    moto: Option<&LevelResult>,
) {
    let mut line = format!(
        "{call:<17} c={:<3} iamconform {:>8.0}/s (p50 {}us p99 {}us, err {}) ceiling {:>8.0}/s ratio {:.2} verify-only {:>8.0}/s ratio {:.2}",
        emu.concurrency,
        emu.rps,
        emu.p50_us,
        emu.p99_us,
        emu.errors,
        ceil.rps,
        ratio(emu.rps, ceil.rps),
        verify_only.rps,
        ratio(verify_only.rps, ceil.rps)
    );
    if let Some(m) = moto {
        line.push_str(&format!(
            " moto {:>7.0}/s (err {}) ×{:.0}",
            m.rps,
            m.errors,
            ratio(emu.rps, m.rps)
        ));
    }
    if let Some(e) = emu.first_error.as_deref() {
        line.push_str(&format!(" [iamconform error: {e}]"));
    }
    eprintln!("{line}");
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

fn print_markdown(r: &Report) {
    println!(
        "Servers pinned to: {}",
        r.server_cpus
            .as_deref()
            .unwrap_or("not pinned (share all cores with the client)")
    );
    println!();
    println!(
        "| call | conc | iamconform req/s | p50 µs | p99 µs | errors | ceiling req/s | p50 µs | p99 µs | ÷ ceiling | moto req/s | p50 µs | p99 µs | × moto |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &r.rows {
        let e = &row.iamconform;
        let c = &row.ceiling;
        let (mr, m50, m99, mx) = match &row.moto {
            Some(m) => (
                format!("{:.0}", m.rps),
                m.p50_us.to_string(),
                m.p99_us.to_string(),
                format!("{:.0}×", ratio(e.rps, m.rps)),
            ),
            None => ("–".into(), "–".into(), "–".into(), "–".into()),
        };
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {:.0} | {} | {} | {:.0}% | {mr} | {m50} | {m99} | {mx} |",
            row.call,
            e.concurrency,
            e.rps,
            e.p50_us,
            e.p99_us,
            e.errors,
            c.rps,
            c.p50_us,
            c.p99_us,
            100.0 * ratio(e.rps, c.rps)
        );
    }
    println!();
    println!(
        "Reference servers: the ceiling, and the ceiling that SigV4-verifies each request and does nothing else (verify-only)."
    );
    println!();
    println!(
        "| call | conc | ceiling req/s | verify-only req/s | p50 µs | p99 µs | errors | verify-only ÷ ceiling | ceiling × moto |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in &r.rows {
        let c = &row.ceiling;
        let v = &row.verify_only;
        let cx = match &row.moto {
            Some(m) => format!("{:.0}×", ratio(c.rps, m.rps)),
            None => "–".into(),
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {} | {} | {} | {:.0}% | {cx} |",
            row.call,
            c.concurrency,
            c.rps,
            v.rps,
            v.p50_us,
            v.p99_us,
            v.errors,
            100.0 * ratio(v.rps, c.rps)
        );
    }
    println!();
    println!("| full logins: conc | logins/s | p50 µs | p99 µs | errors |");
    println!("|---|---|---|---|---|");
    for l in &r.logins {
        println!(
            "| {} | {:.0} | {} | {} | {} |",
            l.concurrency, l.rps, l.p50_us, l.p99_us, l.errors
        );
    }
    println!();
    for b in &r.bad_signature {
        println!(
            "Corrupted signature, {}: iamconform answers {}, verify-only {}, moto {}",
            b.call,
            b.iamconform_status,
            b.verify_only_status,
            b.moto_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "–".into())
        );
    }
    if let Some(kib) = r.serve_peak_rss_kib {
        println!(
            "Peak RSS of iamconform serve over the whole run: {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
}

//! The servers under load, each in its own process: `iamconform serve`, the ceiling (this
//! binary's `ceiling` subcommand) and moto's standalone server.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use iamconform_aws::IdentityStore;
use iamconform_sigv4::{Policy, SignedRequest, verify};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A server process, killed on drop.
pub(crate) struct Server {
    pub(crate) child: Child,
    /// The first stdout line (the ready line), if the server prints one.
    pub(crate) ready_line: String,
    /// Spawn to ready.
    pub(crate) startup: Duration,
}

impl Server {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGINT, then waits up to `patience` for the process to exit (so a profiler wrapping
    /// it can write its output); kills it after that.
    pub(crate) async fn interrupt(mut self, patience: Duration) -> Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-INT")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(patience, self.child.wait()).await {
            Ok(r) => {
                r?;
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("server did not exit within {patience:?} of SIGINT")
            }
        }
    }
}

/// Where servers run: optionally under `taskset -c <cpus>`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Placement {
    pub(crate) cpus: Option<String>,
    /// A command the server runs under, e.g. `valgrind --tool=callgrind` (`count`).
    pub(crate) wrap: Vec<String>,
}

impl Placement {
    fn command(&self, program: &Path) -> Command {
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if let Some(cpus) = &self.cpus {
            argv.extend(["taskset".into(), "-c".into(), cpus.into()]);
        }
        argv.extend(self.wrap.iter().map(Into::into));
        argv.push(program.into());
        match argv.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest);
                c
            }
            None => Command::new(program),
        }
    }
}

/// Spawns `cmd` and waits (at most 30 s) for its first stdout line.
async fn spawn_with_ready_line(mut cmd: Command) -> Result<Server> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawn {cmd:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("no ready line within 30 s")??
        .context("exited before its ready line")?;
    let startup = start.elapsed();
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server {
        child,
        ready_line: line,
        startup,
    })
}

/// The endpoints of `iamconform serve`'s ready line.
#[derive(Debug, Deserialize)]
pub(crate) struct ServeEndpoints {
    pub(crate) sts: String,
    pub(crate) consul: Option<String>,
}

impl ServeEndpoints {
    /// The AWS emulator's and the Consul emulator's socket addresses.
    pub(crate) fn addrs(&self) -> Result<(SocketAddr, SocketAddr)> {
        let consul = self
            .consul
            .as_deref()
            .context("no consul in the ready line")?;
        Ok((url_addr(&self.sts)?, url_addr(consul)?))
    }
}

/// Starts `iamconform serve` (with `preset`, if any) and parses its ready line.
pub(crate) async fn iamconform_serve(
    bin: &Path,
    preset: Option<&Path>,
    at: &Placement,
) -> Result<(Server, ServeEndpoints)> {
    let mut cmd = at.command(bin);
    cmd.arg("serve");
    if let Some(p) = preset {
        cmd.arg("--consul-preset").arg(p);
    }
    cmd.env("RUST_LOG", "warn");
    let server = spawn_with_ready_line(cmd).await?;
    let endpoints: ServeEndpoints =
        serde_json::from_str(&server.ready_line).context("iamconform serve's ready line")?;
    Ok((server, endpoints))
}

/// `http://127.0.0.1:1234` → its socket address.
pub(crate) fn url_addr(url: &str) -> Result<SocketAddr> {
    let rest = url.strip_prefix("http://").context("not an http:// URL")?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = hostport
        .parse()
        .with_context(|| format!("address of {url}"))?;
    if !addr.ip().is_loopback() {
        bail!("{url} is not loopback");
    }
    Ok(addr)
}

/// A free loopback port (bound and released; moto binds it right after).
fn free_port() -> Result<u16> {
    let l = StdListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// Starts moto's standalone server and waits until it answers.
pub(crate) async fn moto(bin: &Path, at: &Placement) -> Result<(Server, SocketAddr)> {
    let port = free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut cmd = at.command(bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("spawn {}", bin.display()))?;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("moto did not listen on {addr} within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((
        Server {
            child,
            ready_line: String::new(),
            startup: start.elapsed(),
        },
        addr,
    ))
}

/// The canned response of the ceiling, captured from the emulator.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

/// What the ceiling does to a request before answering the canned bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CeilingWork {
    /// Nothing: the ceiling proper.
    None,
    /// SigV4-verify it (`iamconform_sigv4::verify` against the shipped identities, the
    /// default policy) and answer 403 with an empty body when it fails: the cost of the
    /// verification alone, without routing, journal, form parsing or XML.
    Verify,
}

/// Starts the ceiling (this executable's `ceiling` subcommand) answering `canned`.
pub(crate) async fn ceiling(
    canned: &Canned,
    dir: &Path,
    at: &Placement,
    work: CeilingWork,
) -> Result<(Server, SocketAddr)> {
    let file: PathBuf = dir.join(format!("canned-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(canned)?)?;
    let me = std::env::current_exe()?;
    let mut cmd = at.command(&me);
    cmd.arg("ceiling").arg(&file);
    if work == CeilingWork::Verify {
        cmd.arg("--verify");
    }
    let server = spawn_with_ready_line(cmd).await?;
    let _ = std::fs::remove_file(&file);
    let addr = server
        .ready_line
        .trim()
        .parse()
        .context("ceiling ready line")?;
    Ok((server, addr))
}

/// The ceiling itself: a minimal hyper server that reads each request body and answers the
/// canned bytes, verifying nothing (or, with [`CeilingWork::Verify`], only the signature).
/// Same runtime shape as `iamconform serve` (multi-thread, one worker per core).
pub(crate) fn run_ceiling(file: &Path, work: CeilingWork) -> Result<()> {
    let canned: Canned = serde_json::from_slice(&std::fs::read(file)?)?;
    let store = match work {
        CeilingWork::None => None,
        CeilingWork::Verify => Some(Arc::new(
            IdentityStore::shipped().map_err(|e| anyhow!("shipped identities: {e}"))?,
        )),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        println!("{}", listener.local_addr()?);
        let status = hyper::StatusCode::from_u16(canned.status)?;
        let mut headers = hyper::HeaderMap::new();
        for (n, v) in &canned.headers {
            headers.append(
                hyper::header::HeaderName::from_bytes(n.as_bytes())?,
                hyper::header::HeaderValue::from_str(v)?,
            );
        }
        let body = Bytes::from(canned.body.into_bytes());
        // SIGINT ends the ceiling explicitly: a process started in the background by a
        // non-interactive shell inherits SIGINT as ignored, and `count` stops its servers
        // with SIGINT so that a wrapping profiler can write its output.
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut interrupted => return Ok(()),
                accepted = listener.accept() => accepted?,
            };
            let _ = stream.set_nodelay(true);
            let headers = headers.clone();
            let body = body.clone();
            let store = store.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let headers = headers.clone();
                    let body = body.clone();
                    let store = store.clone();
                    async move {
                        // Read the body as the emulator must.
                        let (parts, incoming) = req.into_parts();
                        let read = incoming.collect().await.map(|b| b.to_bytes());
                        let verified = match (&store, &read) {
                            (None, _) => true,
                            (Some(store), Ok(read)) => signature_verifies(&parts, read, store),
                            (Some(_), Err(_)) => false,
                        };
                        let resp = if verified {
                            let mut resp = hyper::Response::new(Full::new(body));
                            *resp.status_mut() = status;
                            *resp.headers_mut() = headers;
                            resp
                        } else {
                            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = hyper::StatusCode::FORBIDDEN;
                            resp
                        };
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// `iamconform_sigv4::verify` of a request as it arrived.
fn signature_verifies(
    parts: &hyper::http::request::Parts,
    body: &[u8],
    store: &IdentityStore,
) -> bool {
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let req = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    verify(&req, &Policy::default(), OffsetDateTime::now_utc(), store).is_ok()
}

/// User and system CPU time `pid` has used so far, in microseconds. The kernel counts in
/// 10 ms ticks, so measure runs of seconds.
pub(crate) fn cpu_time_us(pid: u32) -> Result<(u64, u64)> {
    parse_cpu_time_us(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

/// utime and stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in microseconds.
fn parse_cpu_time_us(stat: &str) -> Result<(u64, u64)> {
    // The command name (field 2) may contain spaces and parens; nothing after its last
    // closing paren does.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/<pid>/stat: no command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is at index N - 3.
    let ticks = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .context("short /proc/<pid>/stat")?
            .parse::<u64>()
            .context("non-numeric CPU time in /proc/<pid>/stat")
    };
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    const USER_HZ: u64 = 100;
    Ok((
        ticks(14)? * 1_000_000 / USER_HZ,
        ticks(15)? * 1_000_000 / USER_HZ,
    ))
}

/// VmRSS and VmHWM (peak) of `pid`, in KiB.
pub(crate) fn memory_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Ok((
        field("VmRSS:").context("no VmRSS")?,
        field("VmHWM:").context("no VmHWM")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_last_paren_of_the_command_name() {
        // A command name with a space and a ") 9 9" that must not be read as fields.
        let stat = "4242 (evil) 9 9 name) S 1 4242 4242 0 -1 4194560 120 0 0 0 \
                    250 37 0 0 20 0 3 0 123456 1000 200 18446744073709551615";
        assert_eq!(parse_cpu_time_us(stat).unwrap(), (2_500_000, 370_000));
    }

    #[test]
    fn a_truncated_stat_line_is_an_error() {
        assert!(parse_cpu_time_us("4242 (x) S 1 2").is_err());
        assert!(parse_cpu_time_us("no paren at all").is_err());
    }

    #[test]
    fn the_verify_only_ceiling_accepts_exactly_the_good_signatures() {
        let creds = crate::sign::fixture_creds(crate::sign::WEB_TASK_KEY).unwrap();
        let store = IdentityStore::shipped().unwrap();
        let body = crate::sign::GCI_BODY;
        let host = "127.0.0.1:4566";
        let parts = |corrupt: bool| {
            let headers = crate::sign::signed_headers(
                &creds,
                "sts",
                host,
                body,
                std::time::SystemTime::now(),
            )
            .unwrap();
            let mut req = hyper::Request::builder().method("POST").uri("/");
            for (n, v) in headers {
                let v = if corrupt && n.eq_ignore_ascii_case("authorization") {
                    v.replace("Signature=", "Signature=0")
                } else {
                    v
                };
                req = req.header(n, v);
            }
            req.body(()).unwrap().into_parts().0
        };
        assert!(signature_verifies(&parts(false), body.as_bytes(), &store));
        assert!(!signature_verifies(&parts(true), body.as_bytes(), &store));
        assert!(!signature_verifies(
            &parts(false),
            b"Action=GetUser",
            &store
        ));
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        assert!(cpu_time_us(std::process::id()).is_ok());
    }
}

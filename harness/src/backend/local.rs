//! The `local` backend: `consul agent -dev` from PATH (or `--consul-bin`) on free loopback ports.
//!
//! It also holds what the `local` and `docker` backends share: the agent configuration
//! ([`agent_config`]: ACLs on with an initial management token, every port chosen here, audit
//! logging when asked for), free-port allocation and readiness ([`wait_ready`]: a leader is
//! elected and `/v1/acl/token/self` answers 200 with the management token, because Consul only
//! installs the initial management token once it gains leadership).
//!
//! One agent per worker: [`Local::acquire`] takes an idle agent from the pool or starts one, and
//! `release` deletes what the scenario created ([`super::reset`]) and puts the agent back, so a
//! run pays one agent start per concurrent scenario, not one per scenario.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use iamconform_secret::Secret;
use serde_json::json;

use super::{BackendError, ConsulInstance, Needs, reset};
use crate::http::ConsulHttp;

/// How long an agent may take to elect itself and install the management token.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The ports an agent listens on (all on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentPorts {
    /// HTTP API.
    pub http: u16,
    /// Serf LAN gossip.
    pub serf_lan: u16,
    /// Server RPC.
    pub server: u16,
}

impl AgentPorts {
    /// Three ports free right now on 127.0.0.1.
    ///
    /// The listeners are held until all three are chosen so the ports differ; another process
    /// could still take one before the agent binds it, which then fails the agent's start with
    /// a clear "address already in use".
    pub fn free() -> Result<AgentPorts, BackendError> {
        let (a, b, c) = (reserve()?, reserve()?, reserve()?);
        let port = |l: &TcpListener| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|e| BackendError::Failed(format!("cannot find a free loopback port: {e}")))
        };
        Ok(AgentPorts {
            http: port(&a)?,
            serf_lan: port(&b)?,
            server: port(&c)?,
        })
    }
}

/// Agent ports come from below Linux's ephemeral range (32768–60999): a port the kernel hands
/// out for `bind(0)` (every emulator, tap and client connection of a run) can then never be the
/// one just chosen for an agent, which otherwise lost a race now and then ("address already in
/// use" at agent start). A process-wide cursor keeps concurrent picks apart; the bind proves
/// the port is free right now.
const AGENT_PORTS: std::ops::Range<u16> = 20000..32000;

fn reserve() -> Result<TcpListener, BackendError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(AGENT_PORTS.end - AGENT_PORTS.start);
    // Start each process at a random place so parallel runs on one machine rarely meet.
    let _ = CURSOR.compare_exchange(
        u32::MAX,
        uuid::Uuid::new_v4().as_u128() as u32 % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let offset = CURSOR.fetch_add(1, Ordering::SeqCst) % span;
        let Ok(offset) = u16::try_from(offset) else {
            continue;
        };
        if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, AGENT_PORTS.start + offset)) {
            return Ok(l);
        }
    }
    Err(BackendError::Failed(format!(
        "cannot find a free loopback port in {}..{} for a Consul agent",
        AGENT_PORTS.start, AGENT_PORTS.end
    )))
}

/// The agent configuration both real-Consul backends use, as Consul's JSON config
/// (`CONSUL_LOCAL_CONFIG` in containers, `-config-file` for a local agent).
///
/// DNS, gRPC and the WAN pool are off: the harness needs only HTTP, and on a shared host
/// network every agent would otherwise fight over the default ports.
pub fn agent_config(
    ports: AgentPorts,
    token: &Secret<String>,
    audit_path: Option<&str>,
) -> serde_json::Value {
    let mut config = json!({
        "acl": {
            "enabled": true,
            "default_policy": "deny",
            "tokens": { "initial_management": token.expose() },
        },
        "bind_addr": "127.0.0.1",
        "client_addr": "127.0.0.1",
        "ports": {
            "http": ports.http,
            "https": -1,
            "dns": -1,
            "grpc": -1,
            "grpc_tls": -1,
            "serf_lan": ports.serf_lan,
            "serf_wan": -1,
            "server": ports.server,
        },
        // Consul phones home for update checks unless told not to; iamconform sends nothing
        // off the machine.
        "disable_update_check": true,
        "log_level": "warn",
    });
    if let (Some(path), Some(obj)) = (audit_path, config.as_object_mut()) {
        // Spec: ecosystem §1.4 (Consul Enterprise audit logging: a file sink, JSON format).
        obj.insert(
            "audit".into(),
            json!({
                "enabled": true,
                "sink": {
                    "iamconform": {
                        "type": "file",
                        "format": "json",
                        "path": path,
                        "delivery_guarantee": "best-effort",
                        "rotate_duration": "24h",
                    },
                },
            }),
        );
    }
    config
}

/// Waits until the agent has a leader and accepts the management token.
///
/// `alive` is asked between polls so an agent that exits is reported at once, with its own
/// words, instead of after the timeout.
pub async fn wait_ready<F, Fut>(
    http_addr: &str,
    token: &Secret<String>,
    timeout: Duration,
    mut alive: F,
) -> Result<(), BackendError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let http = ConsulHttp::new(http_addr);
    let deadline = Instant::now() + timeout;
    loop {
        alive().await.map_err(BackendError::Failed)?;
        let last = match http.send("GET", "/v1/status/leader", None, None).await {
            Ok(r) if r.status == 200 && r.body.trim().trim_matches('"').is_empty() => {
                "no leader elected yet".to_string()
            }
            Ok(r) if r.status == 200 => match http
                .send("GET", "/v1/acl/token/self", Some(token), None)
                .await
            {
                Ok(r) if r.status == 200 => return Ok(()),
                Ok(r) => format!(
                    "GET /v1/acl/token/self answered {}: {}",
                    r.status,
                    r.body.trim()
                ),
                Err(e) => e.to_string(),
            },
            Ok(r) => format!(
                "GET /v1/status/leader answered {}: {}",
                r.status,
                r.body.trim()
            ),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(BackendError::Failed(format!(
                "Consul at {http_addr} was not ready after {}s (leader elected and the management token accepted): {last}",
                timeout.as_secs()
            )));
        }
        // Polling is the only readiness signal Consul gives for the ACL bootstrap.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An idle agent in a pool, or one leased to a scenario.
pub(super) struct LocalAgent {
    child: tokio::process::Child,
    http_addr: String,
    token: Secret<String>,
    audit: bool,
    // Holds the config file and the audit log; removed when the agent goes.
    dir: tempfile::TempDir,
}

/// `consul agent -dev` processes, one per worker.
pub struct Local {
    bin: PathBuf,
    enterprise: bool,
    idle: Mutex<Vec<LocalAgent>>,
}

impl Local {
    /// Finds the `consul` binary: `bin` when given, else `consul` on PATH.
    ///
    /// Answers the one-line reason when there is none, for [`super::Backend::Unavailable`].
    pub fn new(bin: Option<PathBuf>, enterprise: bool) -> Result<Local, String> {
        let bin = match bin {
            Some(b) if b.is_file() => b,
            Some(b) => {
                return Err(format!(
                    "--consul-bin {}: no such file; install Consul from https://developer.hashicorp.com/consul/install",
                    b.display()
                ));
            }
            None => find_on_path("consul").ok_or_else(|| {
                "no `consul` binary on PATH: install Consul (https://developer.hashicorp.com/consul/install) or pass --consul-bin".to_string()
            })?,
        };
        Ok(Local {
            bin,
            enterprise,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub(super) async fn acquire(&self, needs: &Needs) -> Result<ConsulInstance, BackendError> {
        if needs.enterprise && !self.enterprise {
            return Err(BackendError::Unavailable(
                "needs Consul Enterprise: run with --enterprise and an Enterprise `consul` binary (licence in CONSUL_LICENSE or CONSUL_LICENSE_PATH)".into(),
            ));
        }
        if needs.audit && !needs.enterprise {
            return Err(BackendError::Unavailable(
                "the audit log is a Consul Enterprise feature: add `requires: [enterprise]` or run with --enterprise".into(),
            ));
        }
        let pooled = if needs.audit {
            None
        } else {
            self.idle.lock().ok().and_then(|mut idle| idle.pop())
        };
        let agent = match pooled {
            Some(a) => a,
            None => self.start(needs.audit).await?,
        };
        lease(agent, needs.enterprise, |a| {
            (
                a.http_addr.clone(),
                a.token.clone(),
                a.audit.then(|| audit_file(a.dir.path())),
            )
        })
        .await
    }

    pub(super) async fn release(&self, instance: ConsulInstance) -> Result<(), BackendError> {
        let restored = reset::restore(&instance).await;
        if let (Ok(()), Ok(agent)) = (&restored, instance.guard.downcast::<LocalAgent>()) {
            // An audit agent's log belongs to one scenario: it is not reused.
            if !agent.audit
                && let Ok(mut idle) = self.idle.lock()
            {
                idle.push(*agent);
            }
        }
        restored
    }

    /// Stops every idle agent; call once the run is over.
    pub fn shutdown(&self) -> Result<(), BackendError> {
        let agents: Vec<LocalAgent> = self
            .idle
            .lock()
            .map(|mut idle| idle.drain(..).collect())
            .unwrap_or_default();
        let mut problems = Vec::new();
        for mut agent in agents {
            if let Err(e) = agent.child.start_kill() {
                problems.push(format!(
                    "cannot stop the consul agent at {}: {e}",
                    agent.http_addr
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(BackendError::Failed(problems.join("; ")))
        }
    }

    async fn start(&self, audit: bool) -> Result<LocalAgent, BackendError> {
        let dir = tempfile::Builder::new()
            .prefix("iamconform-consul-")
            .tempdir()
            .map_err(|e| {
                BackendError::Failed(format!(
                    "cannot create a directory for the Consul agent: {e}"
                ))
            })?;
        let ports = AgentPorts::free()?;
        let token = Secret::new(uuid::Uuid::new_v4().to_string());
        let audit_path = audit.then(|| audit_file(dir.path()).display().to_string());
        let config = agent_config(ports, &token, audit_path.as_deref());
        let config_path = dir.path().join("iamconform.json");
        std::fs::write(&config_path, config.to_string()).map_err(|e| {
            BackendError::Failed(format!("cannot write {}: {e}", config_path.display()))
        })?;
        let log = std::fs::File::create(dir.path().join("agent.log"))
            .map_err(|e| BackendError::Failed(format!("cannot create the agent log: {e}")))?;
        let log_err = log
            .try_clone()
            .map_err(|e| BackendError::Failed(format!("cannot create the agent log: {e}")))?;
        let child = tokio::process::Command::new(&self.bin)
            .arg("agent")
            .arg("-dev")
            .arg(format!("-config-file={}", config_path.display()))
            .env_remove("CONSUL_HTTP_TOKEN")
            .env_remove("CONSUL_HTTP_ADDR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                BackendError::Unavailable(format!("cannot start {}: {e}", self.bin.display()))
            })?;
        let mut agent = LocalAgent {
            child,
            http_addr: format!("http://127.0.0.1:{}", ports.http),
            token,
            audit,
            dir,
        };
        let http_addr = agent.http_addr.clone();
        let token = agent.token.clone();
        let log_path = agent.dir.path().join("agent.log");
        let child = &mut agent.child;
        let ready = wait_ready(&http_addr, &token, READY_TIMEOUT, || {
            let exited = child.try_wait();
            let log_path = log_path.clone();
            async move {
                match exited {
                    Ok(None) => Ok(()),
                    Ok(Some(status)) => Err(format!(
                        "consul agent exited ({status}): {}",
                        tail(&log_path)
                    )),
                    Err(e) => Err(format!("cannot watch the consul agent: {e}")),
                }
            }
        })
        .await;
        ready.map(|()| agent)
    }
}

/// Wraps a started agent or container as a scenario's Consul, with a fresh reset baseline.
pub(super) async fn lease<T, F>(
    node: T,
    enterprise: bool,
    parts: F,
) -> Result<ConsulInstance, BackendError>
where
    T: Send + Sync + 'static,
    F: FnOnce(&T) -> (String, Secret<String>, Option<PathBuf>),
{
    let (http_addr, token, audit_log) = parts(&node);
    let baseline =
        reset::Baseline::capture(&ConsulHttp::new(&http_addr), &token, enterprise).await?;
    Ok(ConsulInstance {
        http_addr,
        management_token: token,
        // Real Consul calls the AWS hosts it is given: point it at the scenario's emulator.
        inject_endpoints: true,
        consul_aws_url: None,
        audit_log,
        clock: None,
        guard: Box::new(node),
        baseline: Some(baseline),
    })
}

fn audit_file(dir: &Path) -> PathBuf {
    dir.join("audit.json")
}

/// The last lines of a log, for an error message.
pub(super) fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    last_lines(&text)
}

/// The last few lines of a text, trimmed, on one line.
pub(super) fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    let tail = lines.get(start..).unwrap_or_default().join(" | ");
    if tail.is_empty() {
        "(no output)".into()
    } else {
        tail
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_turns_acls_on_with_the_management_token_and_pins_every_port() {
        let token = Secret::new("tok".to_string());
        let ports = AgentPorts {
            http: 1,
            serf_lan: 2,
            server: 3,
        };
        let c = agent_config(ports, &token, None);
        assert_eq!(c["acl"]["enabled"], true);
        assert_eq!(c["acl"]["default_policy"], "deny");
        assert_eq!(c["acl"]["tokens"]["initial_management"], "tok");
        assert_eq!(c["ports"]["http"], 1);
        assert_eq!(c["ports"]["serf_lan"], 2);
        assert_eq!(c["ports"]["server"], 3);
        assert_eq!(c["ports"]["dns"], -1);
        assert_eq!(c["ports"]["serf_wan"], -1);
        assert_eq!(c["disable_update_check"], true);
        assert!(c.get("audit").is_none());
        let a = agent_config(ports, &token, Some("/x/audit.json"));
        assert_eq!(a["audit"]["sink"]["iamconform"]["path"], "/x/audit.json");
        assert_eq!(a["audit"]["sink"]["iamconform"]["format"], "json");
    }

    #[test]
    fn free_ports_differ() {
        let p = AgentPorts::free().unwrap();
        assert!(p.http != p.serf_lan && p.serf_lan != p.server && p.http != p.server);
    }

    #[test]
    fn a_missing_consul_bin_says_how_to_get_one() {
        let Err(e) = Local::new(Some(PathBuf::from("/nonexistent/consul")), false) else {
            panic!("no error")
        };
        assert!(
            e.contains("/nonexistent/consul") && e.contains("install"),
            "{e}"
        );
    }

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\n\nb\nc\nd\ne\nf\n"), "b | c | d | e | f");
        assert_eq!(last_lines(""), "(no output)");
    }
}

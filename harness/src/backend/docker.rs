//! The `docker` backend: real Consul in containers, started with testcontainers.
//!
//! Every container runs `agent -dev` with the configuration of [`super::local::agent_config`]
//! in `CONSUL_LOCAL_CONFIG` (ACLs on, an initial management token, ports chosen here, audit
//! logging when a scenario needs it) on the host network, so the agent reaches the scenario's
//! AWS emulator on 127.0.0.1 and the auth method's `STSEndpoint`/`IAMEndpoint` point at it.
//! Readiness is the same as for a local agent: a leader, then `/v1/acl/token/self` = 200.
//!
//! One container per worker: idle containers wait in a pool and are reset between scenarios
//! (everything the scenario created is deleted). Containers are removed when the run ends
//! ([`Docker::shutdown`]), when dropped, and on Ctrl-C (testcontainers' watchdog).
//!
//! The contract with images: the image's entrypoint accepts Consul's `agent -dev …` command
//! and `CONSUL_LOCAL_CONFIG`, and `CONSUL_LICENSE` selects Enterprise. `hashicorp/consul` and
//! `hashicorp/consul-enterprise` do; so does the stand-in image of this repository's CI
//! (`scripts/docker-standin`: `iamconform serve` behind a translating entrypoint), which
//! carries the label [`STANDIN_LABEL`] so it is not asked for a licence.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Mutex;

use iamconform_secret::Secret;
use testcontainers::core::{AccessMode, ContainerPort, Host, Mount};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt, TestcontainersError};

use super::local::{AgentPorts, READY_TIMEOUT, agent_config, last_lines, lease, wait_ready};
use super::{BackendError, ConsulInstance, Needs, reset};

/// The Consul CE image used when `--consul-image` is not given.
pub const DEFAULT_IMAGE: &str = "hashicorp/consul:1.21.5";
/// The Consul Enterprise image used with `--enterprise` when `--consul-image` is not given.
pub const DEFAULT_ENTERPRISE_IMAGE: &str = "hashicorp/consul-enterprise:1.21.5-ent";
/// The image label that marks an iamconform stand-in (no licence needed for Enterprise).
pub const STANDIN_LABEL: &str = "io.iamconform.standin";
/// The label on every container this backend starts, to find leftovers.
pub const CONTAINER_LABEL: &str = "io.iamconform.backend";
/// Where a container writes its audit log (a bind mount of a host directory).
const AUDIT_DIR_IN_CONTAINER: &str = "/iamconform-audit";
/// What the stand-in gets as a licence: it reads only whether one is present.
const STANDIN_LICENCE: &str = "iamconform-standin";

/// The name containers on a bridge network use for the host (Docker's `host-gateway`).
pub const HOST_GATEWAY_NAME: &str = "host.docker.internal";
/// Consul's HTTP port inside a bridge-networked container (published on 127.0.0.1).
const BRIDGE_HTTP_PORT: u16 = 8500;

/// How a Consul container and the harness reach each other (`--docker-network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DockerNetwork {
    /// The host's network (`--network host`; Linux engines): the agent listens on loopback
    /// ports chosen by the harness and reaches the AWS emulator on 127.0.0.1. Nothing leaves
    /// loopback.
    Host,
    /// The engine's default bridge network, for engines without host networking (Docker
    /// Desktop on macOS and Windows): the agent's HTTP port is published on 127.0.0.1 and
    /// the agent reaches the AWS emulator as `host.docker.internal` (mapped to the engine's
    /// `host-gateway`). On Linux that gateway is the bridge's address on the host, so the
    /// AWS emulator listens there (or at `--docker-host-ip`).
    Bridge,
}

impl DockerNetwork {
    /// Host networking where the engine runs on this kernel (Linux), the bridge elsewhere.
    pub fn platform_default() -> DockerNetwork {
        if cfg!(target_os = "linux") {
            DockerNetwork::Host
        } else {
            DockerNetwork::Bridge
        }
    }
}

/// `--backend docker` settings.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// `name:tag` of the Consul image.
    pub image: String,
    /// Run Consul Enterprise (`--enterprise`).
    pub enterprise: bool,
    /// The Enterprise licence (`CONSUL_LICENSE`, or the file named by `CONSUL_LICENSE_PATH`).
    pub licence: Option<Secret<String>>,
    /// How containers are networked.
    pub network: DockerNetwork,
    /// With [`DockerNetwork::Bridge`]: the host address `host.docker.internal` leads to, where
    /// the AWS emulator listens (`--docker-host-ip`). `None`: 127.0.0.1 on macOS and Windows
    /// (Docker Desktop forwards `host.docker.internal` to the host's loopback), the gateway
    /// of the engine's `bridge` network on Linux.
    pub host_ip: Option<IpAddr>,
}

impl DockerConfig {
    /// Settings from the flags and the environment (`CONSUL_LICENSE`, `CONSUL_LICENSE_PATH`),
    /// with the platform's default network.
    pub fn from_env(image: Option<String>, enterprise: bool) -> Result<DockerConfig, String> {
        let image = image.unwrap_or_else(|| {
            if enterprise {
                DEFAULT_ENTERPRISE_IMAGE
            } else {
                DEFAULT_IMAGE
            }
            .to_string()
        });
        let licence = licence_from(
            std::env::var("CONSUL_LICENSE").ok(),
            std::env::var_os("CONSUL_LICENSE_PATH").map(PathBuf::from),
        )?;
        Ok(DockerConfig {
            image,
            enterprise,
            licence,
            network: DockerNetwork::platform_default(),
            host_ip: None,
        })
    }
}

/// `CONSUL_LICENSE` (the text) wins over `CONSUL_LICENSE_PATH` (a file), as in Consul.
fn licence_from(
    text: Option<String>,
    path: Option<PathBuf>,
) -> Result<Option<Secret<String>>, String> {
    if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
        return Ok(Some(Secret::new(t.trim().to_string())));
    }
    let Some(path) = path else { return Ok(None) };
    let meta = std::fs::metadata(&path)
        .map_err(|e| format!("CONSUL_LICENSE_PATH {}: {e}", path.display()))?;
    // A licence is a few kilobytes; refuse to read something else by mistake.
    if meta.len() > 1 << 20 {
        return Err(format!(
            "CONSUL_LICENSE_PATH {}: larger than 1 MiB, not a licence file",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("CONSUL_LICENSE_PATH {}: {e}", path.display()))?;
    Ok(Some(Secret::new(text.trim().to_string())))
}

/// Splits `name[:tag]` (a registry port is not a tag).
fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') && !name.is_empty() => {
            (name.to_string(), tag.to_string())
        }
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// A running Consul container.
struct Node {
    container: ContainerAsync<GenericImage>,
    http_addr: String,
    token: Secret<String>,
    // The host directory mounted as the audit directory; only on audit containers.
    audit_dir: Option<tempfile::TempDir>,
}

/// What the preflight learnt about the engine and the image.
#[derive(Debug, Clone)]
enum Preflight {
    Ready {
        standin: bool,
        /// Where the scenario's AWS emulator listens (loopback unless bridged on Linux).
        aws_listen_ip: IpAddr,
    },
    Unavailable(String),
}

/// Consul containers, one per worker.
pub struct Docker {
    config: DockerConfig,
    preflight: tokio::sync::OnceCell<Preflight>,
    idle: Mutex<Vec<Node>>,
}

impl Docker {
    /// The docker backend; nothing is contacted until the first scenario.
    pub fn new(config: DockerConfig) -> Docker {
        Docker {
            config,
            preflight: tokio::sync::OnceCell::new(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Checks once that the engine answers and the image is there (pulling it if not).
    ///
    /// Each way this can fail is one line saying what is missing and how to get it.
    async fn preflight(&self) -> Preflight {
        self.preflight
            .get_or_init(|| check_engine(&self.config))
            .await
            .clone()
    }

    /// Where the scenario's AWS emulator must listen for the containers to reach it.
    pub(super) async fn aws_listen_ip(&self) -> Result<IpAddr, BackendError> {
        match self.preflight().await {
            Preflight::Ready { aws_listen_ip, .. } => Ok(aws_listen_ip),
            Preflight::Unavailable(reason) => Err(BackendError::Unavailable(reason)),
        }
    }

    pub(super) async fn acquire(&self, needs: &Needs) -> Result<ConsulInstance, BackendError> {
        let standin = match self.preflight().await {
            Preflight::Ready { standin, .. } => standin,
            Preflight::Unavailable(reason) => return Err(BackendError::Unavailable(reason)),
        };
        if needs.enterprise && !self.config.enterprise {
            return Err(BackendError::Unavailable(format!(
                "needs Consul Enterprise: run with --enterprise (image {DEFAULT_ENTERPRISE_IMAGE}, licence in CONSUL_LICENSE or CONSUL_LICENSE_PATH)"
            )));
        }
        if needs.audit && !needs.enterprise {
            return Err(BackendError::Unavailable(
                "the audit log is a Consul Enterprise feature: add `requires: [enterprise]` or run with --enterprise".into(),
            ));
        }
        let licence = match (&self.config.licence, self.config.enterprise, standin) {
            (_, false, _) => None,
            (Some(l), true, _) => Some(l.clone()),
            (None, true, true) => Some(Secret::new(STANDIN_LICENCE.to_string())),
            (None, true, false) => {
                return Err(BackendError::Unavailable(
                    "no Consul Enterprise licence: set CONSUL_LICENSE to the licence text or CONSUL_LICENSE_PATH to its file".into(),
                ));
            }
        };
        // An audit container's log belongs to one scenario, so it never comes from the pool.
        let pooled = if needs.audit {
            None
        } else {
            self.idle.lock().ok().and_then(|mut idle| idle.pop())
        };
        let node = match pooled {
            Some(n) => n,
            None => self.start(needs.audit, licence.as_ref()).await?,
        };
        let mut instance = lease(node, needs.enterprise, |n| {
            (
                n.http_addr.clone(),
                n.token.clone(),
                n.audit_dir.as_ref().map(|d| d.path().join("audit.json")),
            )
        })
        .await?;
        if self.config.network == DockerNetwork::Bridge {
            instance.consul_aws_url = Some(gateway_url(needs.aws_addr.port()));
        }
        Ok(instance)
    }

    pub(super) async fn release(&self, instance: ConsulInstance) -> Result<(), BackendError> {
        let restored = reset::restore(&instance).await;
        if let Ok(node) = instance.guard.downcast::<Node>() {
            if restored.is_ok()
                && node.audit_dir.is_none()
                && let Ok(mut idle) = self.idle.lock()
            {
                idle.push(*node);
                return restored;
            }
            // A container that could not be reset (or holds a scenario's audit log) goes.
            let _ = node.container.rm().await;
        }
        restored
    }

    /// Removes every idle container; call once the run is over.
    pub async fn shutdown(&self) -> Result<(), BackendError> {
        let nodes: Vec<Node> = self
            .idle
            .lock()
            .map(|mut idle| idle.drain(..).collect())
            .unwrap_or_default();
        let mut problems = Vec::new();
        for node in nodes {
            let id = node.container.id().to_string();
            if let Err(e) = node.container.rm().await {
                problems.push(format!("cannot remove container {id}: {e}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(BackendError::Failed(problems.join("; ")))
        }
    }

    async fn start(
        &self,
        audit: bool,
        licence: Option<&Secret<String>>,
    ) -> Result<Node, BackendError> {
        let token = Secret::new(uuid::Uuid::new_v4().to_string());
        let audit_dir = if audit {
            let dir = tempfile::Builder::new()
                .prefix("iamconform-audit-")
                .tempdir()
                .map_err(|e| {
                    BackendError::Failed(format!("cannot create the audit log directory: {e}"))
                })?;
            // Consul's image drops to its own user: the directory must be writable by it.
            set_world_writable(dir.path())?;
            Some(dir)
        } else {
            None
        };
        let audit_path = audit.then(|| format!("{AUDIT_DIR_IN_CONTAINER}/audit.json"));
        let spec = ContainerSpec::new(self.config.network, &token, audit_path.as_deref())?;
        let (name, tag) = split_image(&self.config.image);
        let mut image = GenericImage::new(name, tag);
        if let Some(port) = spec.published_port {
            image = image.with_exposed_port(ContainerPort::Tcp(port));
        }
        let network = self.config.network;
        let mut request = image
            .with_cmd(spec.cmd.clone())
            .with_env_var("CONSUL_LOCAL_CONFIG", spec.config.to_string())
            .with_label(CONTAINER_LABEL, "docker")
            .with_host_config_modifier(move |host| spec_host_config(network, host))
            .with_startup_timeout(READY_TIMEOUT);
        if network == DockerNetwork::Bridge {
            request = request.with_host(HOST_GATEWAY_NAME, Host::HostGateway);
        }
        if let Some(l) = licence {
            request = request.with_env_var("CONSUL_LICENSE", l.expose().clone());
        }
        if let Some(dir) = &audit_dir {
            request = request.with_mount(
                Mount::bind_mount(dir.path().display().to_string(), AUDIT_DIR_IN_CONTAINER)
                    .with_access_mode(AccessMode::ReadWrite),
            );
        }
        // A unique name lets a container that was created but failed to start be removed:
        // testcontainers hands back no handle for it.
        let name = format!("iamconform-consul-{}", uuid::Uuid::new_v4().simple());
        let container = match request.with_container_name(&name).start().await {
            Ok(c) => c,
            Err(e) => {
                remove_by_name(&name).await;
                return Err(start_error(&self.config.image, &e));
            }
        };
        let http_port = match spec.published_port {
            None => spec.http_port,
            Some(port) => match container.get_host_port_ipv4(ContainerPort::Tcp(port)).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = container.rm().await;
                    return Err(BackendError::Failed(format!(
                        "cannot find the host port of the Consul container's HTTP port {port}: {e}"
                    )));
                }
            },
        };
        let node = Node {
            container,
            http_addr: format!("http://127.0.0.1:{http_port}"),
            token,
            audit_dir,
        };
        let container = &node.container;
        let ready = wait_ready(&node.http_addr, &node.token, READY_TIMEOUT, || async move {
            match container.is_running().await {
                Ok(true) => Ok(()),
                Ok(false) => {
                    let out = container.stdout_to_vec().await.unwrap_or_default();
                    let err = container.stderr_to_vec().await.unwrap_or_default();
                    let logs = format!(
                        "{}\n{}",
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(&err)
                    );
                    Err(format!(
                        "the Consul container exited: {}",
                        last_lines(&logs)
                    ))
                }
                Err(e) => Err(format!("cannot inspect the Consul container: {e}")),
            }
        })
        .await;
        match ready {
            Ok(()) => Ok(node),
            Err(e) => {
                let _ = node.container.rm().await;
                Err(e)
            }
        }
    }
}

/// How one Consul container is started, per network mode.
#[derive(Debug)]
struct ContainerSpec {
    /// The agent's command line.
    cmd: Vec<String>,
    /// `CONSUL_LOCAL_CONFIG`.
    config: serde_json::Value,
    /// The agent's HTTP port inside the container.
    http_port: u16,
    /// The container port published on 127.0.0.1 (bridge networks only).
    published_port: Option<u16>,
}

impl ContainerSpec {
    fn new(
        network: DockerNetwork,
        token: &Secret<String>,
        audit_path: Option<&str>,
    ) -> Result<ContainerSpec, BackendError> {
        let cmd = |client: &str| {
            ["agent", "-dev", "-client", client, "-bind", "127.0.0.1"]
                .map(String::from)
                .to_vec()
        };
        Ok(match network {
            // On the host's network every agent needs ports of its own, chosen here.
            DockerNetwork::Host => {
                let ports = AgentPorts::free()?;
                ContainerSpec {
                    cmd: cmd("127.0.0.1"),
                    config: agent_config(ports, token, audit_path),
                    http_port: ports.http,
                    published_port: None,
                }
            }
            // In its own network namespace an agent keeps Consul's default ports; only HTTP
            // leaves the container, published on the host's loopback. Serf and RPC stay on the
            // container's loopback (a single dev server talks only to itself).
            DockerNetwork::Bridge => {
                let ports = AgentPorts {
                    http: BRIDGE_HTTP_PORT,
                    serf_lan: 8301,
                    server: 8300,
                };
                let mut config = agent_config(ports, token, audit_path);
                if let Some(obj) = config.as_object_mut() {
                    obj.insert("client_addr".into(), "0.0.0.0".into());
                }
                ContainerSpec {
                    cmd: cmd("0.0.0.0"),
                    config,
                    http_port: BRIDGE_HTTP_PORT,
                    published_port: Some(BRIDGE_HTTP_PORT),
                }
            }
        })
    }
}

/// The engine-side settings of a network mode: host networking, or the bridge with the HTTP
/// port published on 127.0.0.1 only (testcontainers would publish every port on all
/// interfaces).
fn spec_host_config(
    network: DockerNetwork,
    host: &mut testcontainers::bollard::models::HostConfig,
) {
    use testcontainers::bollard::models::PortBinding;
    match network {
        DockerNetwork::Host => host.network_mode = Some("host".to_string()),
        DockerNetwork::Bridge => {
            host.publish_all_ports = Some(false);
            host.port_bindings = Some(
                [(
                    format!("{BRIDGE_HTTP_PORT}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: Some(Ipv4Addr::LOCALHOST.to_string()),
                        // Empty: the engine picks a free port.
                        host_port: Some(String::new()),
                    }]),
                )]
                .into_iter()
                .collect(),
            );
        }
    }
}

/// The AWS emulator's URL from inside a bridge-networked container.
fn gateway_url(port: u16) -> String {
    format!("http://{HOST_GATEWAY_NAME}:{port}")
}

/// Where the AWS emulator listens so containers reach it, and a warning when that is not
/// loopback.
async fn aws_listen_ip(
    docker: &testcontainers::bollard::Docker,
    config: &DockerConfig,
) -> Result<IpAddr, String> {
    let ip = match (config.network, config.host_ip) {
        (DockerNetwork::Host, _) => return Ok(Ipv4Addr::LOCALHOST.into()),
        (DockerNetwork::Bridge, Some(ip)) => ip,
        // UNVERIFIED here (no Docker Desktop on the project's machines): Docker Desktop
        // routes `host.docker.internal` to the host's loopback, so the emulator stays there.
        (DockerNetwork::Bridge, None) if !cfg!(target_os = "linux") => {
            return Ok(Ipv4Addr::LOCALHOST.into());
        }
        (DockerNetwork::Bridge, None) => bridge_gateway(docker).await?,
    };
    if !ip.is_loopback() {
        eprintln!(
            "iamconform: warning: the AWS emulator listens on {ip} for the containers on Docker's bridge network; it accepts fake credentials, so keep that address private"
        );
    }
    Ok(ip)
}

/// The gateway of the engine's default `bridge` network: what `host-gateway` means on Linux.
async fn bridge_gateway(docker: &testcontainers::bollard::Docker) -> Result<IpAddr, String> {
    let network = docker
        .inspect_network(
            "bridge",
            None::<testcontainers::bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .map_err(|e| {
            format!("cannot inspect Docker's bridge network: {e}; pass --docker-host-ip or use --docker-network host")
        })?;
    network
        .ipam
        .and_then(|ipam| ipam.config)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.gateway.as_deref())
        .find_map(|g| g.parse::<IpAddr>().ok())
        .ok_or_else(|| {
            "Docker's bridge network has no gateway address: pass --docker-host-ip or use --docker-network host".to_string()
        })
}

async fn remove_by_name(name: &str) {
    use testcontainers::bollard::query_parameters::RemoveContainerOptionsBuilder;
    if let Ok(docker) = testcontainers::core::client::docker_client_instance().await {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        let _ = docker.remove_container(name, Some(options)).await;
    }
}

fn set_world_writable(path: &std::path::Path) -> Result<(), BackendError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).map_err(|e| {
            BackendError::Failed(format!(
                "cannot open {} to the container: {e}",
                path.display()
            ))
        })?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

async fn check_engine(config: &DockerConfig) -> Preflight {
    let docker = match testcontainers::core::client::docker_client_instance().await {
        Ok(d) => d,
        Err(e) => return Preflight::Unavailable(no_engine(&e.to_string())),
    };
    if let Err(e) = docker.ping().await {
        return Preflight::Unavailable(no_engine(&e.to_string()));
    }
    let labels = match docker.inspect_image(&config.image).await {
        Ok(image) => image.config.and_then(|c| c.labels).unwrap_or_default(),
        Err(_) => match pull(&docker, &config.image).await {
            Ok(labels) => labels,
            Err(reason) => return Preflight::Unavailable(reason),
        },
    };
    let standin = labels.get(STANDIN_LABEL).is_some_and(|v| v == "true");
    if config.enterprise && config.licence.is_none() && !standin {
        return Preflight::Unavailable(
            "no Consul Enterprise licence: set CONSUL_LICENSE to the licence text or CONSUL_LICENSE_PATH to its file".into(),
        );
    }
    match aws_listen_ip(&docker, config).await {
        Ok(aws_listen_ip) => Preflight::Ready {
            standin,
            aws_listen_ip,
        },
        Err(reason) => Preflight::Unavailable(reason),
    }
}

async fn pull(
    docker: &testcontainers::bollard::Docker,
    image: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    let (name, tag) = split_image(image);
    let _request = GenericImage::new(name, tag)
        .pull_image()
        .await
        .map_err(|e| not_pullable(image, &e.to_string()))?;
    docker
        .inspect_image(image)
        .await
        .map(|i| i.config.and_then(|c| c.labels).unwrap_or_default())
        .map_err(|e| not_pullable(image, &e.to_string()))
}

fn no_engine(detail: &str) -> String {
    format!(
        "no Docker engine: {detail}; install Docker (https://docs.docker.com/engine/install/, or `apt-get install docker.io`), start it, or set DOCKER_HOST"
    )
}

fn not_pullable(image: &str, detail: &str) -> String {
    format!(
        "image {image} is not available and cannot be pulled ({detail}); run `docker pull {image}` where the registry is reachable, or pass --consul-image with a local image"
    )
}

/// Turns a testcontainers start error into the backend's answer.
fn start_error(image: &str, e: &TestcontainersError) -> BackendError {
    use testcontainers::core::error::ClientError;
    match e {
        TestcontainersError::Client(ClientError::Init(inner)) => {
            BackendError::Unavailable(no_engine(&inner.to_string()))
        }
        TestcontainersError::Client(ClientError::PullImage { .. }) => {
            BackendError::Unavailable(not_pullable(image, &e.to_string()))
        }
        other => BackendError::Failed(format!(
            "cannot start a Consul container from {image}: {other}"
        )),
    }
}

/// The stand-in image's entrypoint: Consul's `agent` command line and `CONSUL_LOCAL_CONFIG`
/// translated into `iamconform serve` flags, so this backend starts the stand-in exactly as it
/// starts `hashicorp/consul`.
pub mod standin {
    /// What to run instead of `consul agent`.
    #[derive(Debug, PartialEq, Eq)]
    pub struct ServePlan {
        /// Arguments of `iamconform` (`serve …`).
        pub args: Vec<String>,
        /// The initial management token, passed in the environment rather than on the command
        /// line (`IAMCONFORM_MANAGEMENT_TOKEN`).
        pub management_token: Option<String>,
    }

    /// The limit on `CONSUL_LOCAL_CONFIG`.
    const MAX_CONFIG: usize = 64 * 1024;

    /// Translates `agent -dev [-client ADDR] [-bind ADDR] [-data-dir D] [-config-dir D]`,
    /// `CONSUL_LOCAL_CONFIG` and whether a licence is present (= Enterprise).
    pub fn serve_args(
        argv: &[String],
        local_config: Option<&str>,
        licensed: bool,
    ) -> Result<ServePlan, String> {
        let mut args = argv.iter();
        if args.next().map(String::as_str) != Some("agent") {
            return Err(format!(
                "the stand-in runs only `agent -dev …`, got {argv:?}"
            ));
        }
        let mut config: serde_json::Value = match local_config {
            Some(text) if text.len() > MAX_CONFIG => {
                return Err("CONSUL_LOCAL_CONFIG is larger than 64 KiB".into());
            }
            Some(text) if !text.trim().is_empty() => serde_json::from_str(text)
                .map_err(|e| format!("CONSUL_LOCAL_CONFIG is not JSON: {e}"))?,
            _ => serde_json::json!({}),
        };
        // `-config-file` (how the local backend passes the same configuration) is merged
        // over CONSUL_LOCAL_CONFIG before the flags are read, so flags still win, as in Consul.
        let rest: Vec<String> = args.cloned().collect();
        for (i, arg) in rest.iter().enumerate() {
            let value = match arg.trim_start_matches('-').split_once('=') {
                Some(("config-file", v)) => Some(v.to_string()),
                None if arg.trim_start_matches('-') == "config-file" => rest.get(i + 1).cloned(),
                _ => None,
            };
            if let Some(path) = value {
                merge(&mut config, read_config_file(&path)?);
            }
        }
        let mut args = rest.iter();
        let mut dev = false;
        let mut client = config
            .get("client_addr")
            .and_then(|v| v.as_str())
            .unwrap_or("127.0.0.1")
            .to_string();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_string())),
                None => (arg.as_str(), None),
            };
            match flag.trim_start_matches('-') {
                "dev" => dev = true,
                "client" | "bind" | "data-dir" | "config-dir" | "config-file" => {
                    let value = match inline {
                        Some(v) => v,
                        None => args
                            .next()
                            .cloned()
                            .ok_or_else(|| format!("{flag} needs a value"))?,
                    };
                    if flag.trim_start_matches('-') == "client" {
                        client = value;
                    }
                }
                _ => return Err(format!("the stand-in does not know the agent flag {flag}")),
            }
        }
        if !dev {
            return Err("the stand-in runs only dev agents: pass -dev".into());
        }
        let port = match config.pointer("/ports/http") {
            None => 8500,
            Some(v) => v
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or("ports.http must be a port number")?,
        };
        let acl_on = config
            .pointer("/acl/enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if !acl_on {
            return Err("the stand-in always enforces ACLs: set acl.enabled = true".into());
        }
        let management_token = config
            .pointer("/acl/tokens/initial_management")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let mut out = vec!["serve".to_string(), "--listen".into(), "127.0.0.1:0".into()];
        let ip: std::net::IpAddr = client
            .parse()
            .map_err(|_| format!("-client {client:?} is not an IP address"))?;
        if !ip.is_loopback() {
            out.push("--allow-remote".into());
        }
        out.push("--consul-listen".into());
        out.push(std::net::SocketAddr::new(ip, port).to_string());
        if licensed {
            out.push("--enterprise".into());
        }
        let audit_on = config
            .pointer("/audit/enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if audit_on {
            let path = config
                .pointer("/audit/sink")
                .and_then(|s| s.as_object())
                .and_then(|sinks| {
                    sinks
                        .values()
                        .find_map(|sink| sink.get("path").and_then(|p| p.as_str()))
                })
                .ok_or("audit.enabled needs a file sink with a path")?;
            if !licensed {
                return Err(
                    "audit logging is a Consul Enterprise feature: set CONSUL_LICENSE".into(),
                );
            }
            out.push("--audit-log".into());
            out.push(path.to_string());
        }
        Ok(ServePlan {
            args: out,
            management_token,
        })
    }

    fn read_config_file(path: &str) -> Result<serde_json::Value, String> {
        let len = std::fs::metadata(path)
            .map_err(|e| format!("-config-file {path}: {e}"))?
            .len();
        if len > MAX_CONFIG as u64 {
            return Err(format!("-config-file {path}: larger than 64 KiB"));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("-config-file {path}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("-config-file {path} is not JSON: {e}"))
    }

    /// Consul merges configuration sources object by object; later values win.
    fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
        match (into, from) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    match a.get_mut(&k) {
                        Some(existing) => merge(existing, v),
                        None => {
                            a.insert(k, v);
                        }
                    }
                }
            }
            (slot, v) => *slot = v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_at_the_tag_not_the_registry_port() {
        assert_eq!(
            split_image("hashicorp/consul:1.21.5"),
            ("hashicorp/consul".into(), "1.21.5".into())
        );
        assert_eq!(
            split_image("localhost:5000/consul"),
            ("localhost:5000/consul".into(), "latest".into())
        );
        assert_eq!(
            split_image("localhost:5000/consul:1"),
            ("localhost:5000/consul".into(), "1".into())
        );
        assert_eq!(split_image("consul"), ("consul".into(), "latest".into()));
    }

    #[test]
    fn the_licence_text_wins_over_the_licence_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("l.hclic");
        std::fs::write(&file, "from-file\n").unwrap();
        let l = licence_from(Some("from-env".into()), Some(file.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(l.expose(), "from-env");
        let l = licence_from(None, Some(file)).unwrap().unwrap();
        assert_eq!(l.expose(), "from-file");
        assert!(licence_from(Some("  ".into()), None).unwrap().is_none());
        let e = licence_from(None, Some(dir.path().join("missing"))).unwrap_err();
        assert!(e.starts_with("CONSUL_LICENSE_PATH "), "{e}");
    }

    #[test]
    fn default_images_follow_enterprise() {
        assert_eq!(
            DockerConfig::from_env(None, false).unwrap().image,
            DEFAULT_IMAGE
        );
        assert_eq!(
            DockerConfig::from_env(Some("x:1".into()), true)
                .unwrap()
                .image,
            "x:1"
        );
    }

    #[test]
    fn the_standin_starts_serve_with_what_consul_would_get() {
        let token = Secret::new("t-1".to_string());
        let config = agent_config(
            AgentPorts {
                http: 18500,
                serf_lan: 1,
                server: 2,
            },
            &token,
            Some("/a/audit.json"),
        );
        let argv: Vec<String> = [
            "agent",
            "-dev",
            "-client",
            "127.0.0.1",
            "-bind",
            "127.0.0.1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let plan = standin::serve_args(&argv, Some(&config.to_string()), true).unwrap();
        assert_eq!(
            plan.args,
            [
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--consul-listen",
                "127.0.0.1:18500",
                "--enterprise",
                "--audit-log",
                "/a/audit.json"
            ]
        );
        assert_eq!(plan.management_token.as_deref(), Some("t-1"));
        let ce = agent_config(
            AgentPorts {
                http: 18501,
                serf_lan: 1,
                server: 2,
            },
            &token,
            None,
        );
        let argv: Vec<String> = ["agent", "-dev", "-client=0.0.0.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let plan = standin::serve_args(&argv, Some(&ce.to_string()), false).unwrap();
        assert_eq!(
            plan.args,
            [
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--allow-remote",
                "--consul-listen",
                "0.0.0.0:18501"
            ]
        );
    }

    #[test]
    fn the_standin_reads_config_files_like_the_local_backend_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let token = Secret::new("t-2".to_string());
        let config = agent_config(
            AgentPorts {
                http: 18502,
                serf_lan: 1,
                server: 2,
            },
            &token,
            None,
        );
        let file = dir.path().join("c.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let argv = vec![
            "agent".to_string(),
            "-dev".into(),
            format!("-config-file={}", file.display()),
        ];
        let plan = standin::serve_args(&argv, None, false).unwrap();
        assert_eq!(
            plan.args,
            [
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--consul-listen",
                "127.0.0.1:18502"
            ]
        );
        assert_eq!(plan.management_token.as_deref(), Some("t-2"));
    }

    #[test]
    fn the_standin_refuses_what_it_cannot_emulate() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let acl = r#"{"acl":{"enabled":true}}"#;
        assert!(standin::serve_args(&argv(&["version"]), Some(acl), false).is_err());
        assert!(
            standin::serve_args(&argv(&["agent"]), Some(acl), false)
                .unwrap_err()
                .contains("-dev")
        );
        assert!(
            standin::serve_args(&argv(&["agent", "-dev", "-server"]), Some(acl), false)
                .unwrap_err()
                .contains("-server")
        );
        assert!(
            standin::serve_args(&argv(&["agent", "-dev"]), Some("{}"), false)
                .unwrap_err()
                .contains("acl.enabled")
        );
        assert!(
            standin::serve_args(&argv(&["agent", "-dev"]), Some("{"), false)
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            standin::serve_args(&argv(&["agent", "-dev", "-client"]), Some(acl), false).is_err()
        );
    }

    #[test]
    fn host_networking_uses_loopback_ports_of_its_own() {
        let token = Secret::new("t-h".to_string());
        let spec = ContainerSpec::new(DockerNetwork::Host, &token, None).unwrap();
        assert_eq!(spec.published_port, None);
        assert_eq!(
            spec.config.pointer("/ports/http").and_then(|p| p.as_u64()),
            Some(u64::from(spec.http_port))
        );
        assert_ne!(spec.http_port, BRIDGE_HTTP_PORT);
        assert_eq!(spec.config["client_addr"], "127.0.0.1");
        let mut host = testcontainers::bollard::models::HostConfig::default();
        spec_host_config(DockerNetwork::Host, &mut host);
        assert_eq!(host.network_mode.as_deref(), Some("host"));
        assert_eq!(host.port_bindings, None);
    }

    #[test]
    fn a_bridged_agent_publishes_only_http_and_only_on_loopback() {
        let token = Secret::new("t-b".to_string());
        let spec =
            ContainerSpec::new(DockerNetwork::Bridge, &token, Some("/x/audit.json")).unwrap();
        assert_eq!(spec.published_port, Some(8500));
        assert_eq!(spec.config["client_addr"], "0.0.0.0");
        assert_eq!(spec.config["bind_addr"], "127.0.0.1");
        assert_eq!(
            spec.config.pointer("/ports/http"),
            Some(&serde_json::json!(8500))
        );
        assert_eq!(
            spec.config.pointer("/acl/tokens/initial_management"),
            Some(&serde_json::json!("t-b"))
        );
        assert_eq!(
            spec.cmd,
            ["agent", "-dev", "-client", "0.0.0.0", "-bind", "127.0.0.1"]
        );
        let mut host = testcontainers::bollard::models::HostConfig {
            publish_all_ports: Some(true),
            ..Default::default()
        };
        spec_host_config(DockerNetwork::Bridge, &mut host);
        assert_eq!(host.network_mode, None);
        assert_eq!(host.publish_all_ports, Some(false));
        let bindings = host.port_bindings.unwrap();
        assert_eq!(bindings.len(), 1);
        let binding = bindings["8500/tcp"].as_ref().unwrap();
        assert_eq!(binding.len(), 1);
        assert_eq!(binding[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding[0].host_port.as_deref(), Some(""));
        // The stand-in image, started the same way, listens where the port is published.
        let plan = standin::serve_args(&spec.cmd, Some(&spec.config.to_string()), true).unwrap();
        assert_eq!(
            plan.args,
            [
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--allow-remote",
                "--consul-listen",
                "0.0.0.0:8500",
                "--enterprise",
                "--audit-log",
                "/x/audit.json"
            ]
        );
        assert_eq!(gateway_url(4566), "http://host.docker.internal:4566");
    }

    #[test]
    fn the_default_network_follows_the_platform() {
        let expected = if cfg!(target_os = "linux") {
            DockerNetwork::Host
        } else {
            DockerNetwork::Bridge
        };
        assert_eq!(DockerNetwork::platform_default(), expected);
        assert_eq!(
            DockerConfig::from_env(None, false).unwrap().network,
            expected
        );
    }

    #[test]
    fn unavailable_reasons_say_what_is_missing_and_how_to_get_it() {
        let r = no_engine("socket not found");
        assert!(
            r.starts_with("no Docker engine: socket not found; install Docker"),
            "{r}"
        );
        let r = not_pullable("hashicorp/consul:1.21.5", "offline");
        assert!(
            r.contains("docker pull hashicorp/consul:1.21.5") && r.contains("--consul-image"),
            "{r}"
        );
    }
}

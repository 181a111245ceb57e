//! One scenario: set up its emulators and Consul, run its steps, tear down.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iamconform_aws::{AwsConfig, AwsState, IdentityStore, RegionMode, RunningAws};
use iamconform_scenario::{Preset, Requirement, Scenario};
use iamconform_secret::Secret;

use super::events::{Failure, Outcome, ScenarioReport, StepReport};
use crate::backend::{Backend, BackendError, ConsulInstance, Needs};
use crate::client::ClientSpec;
use crate::http::ConsulHttp;
use crate::plan::PlannedFile;
use crate::scrub::Scrubber;
use crate::tap::ConsulTap;

/// What all scenarios of a run share.
pub(super) struct Shared {
    pub client: ClientSpec,
    pub backend: Arc<Backend>,
    pub fixtures: Option<PathBuf>,
    pub fixtures_dir: PathBuf,
    pub step_timeout: Duration,
    pub enterprise: bool,
    pub exe: PathBuf,
}

/// A token saved by a login step.
#[derive(Debug, Clone)]
pub(super) struct Saved {
    /// The SecretID, when the login succeeded.
    pub secret_id: Option<Secret<String>>,
    /// The bearer token the client sent, as captured by the tap.
    pub bearer: Option<Secret<String>>,
    /// The auth method of the login.
    pub method: String,
}

/// The live environment of one scenario.
pub(super) struct Ctx {
    pub shared: Arc<Shared>,
    pub scenario_dir: PathBuf,
    pub aws: RunningAws,
    pub consul: ConsulInstance,
    pub http: ConsulHttp,
    pub tap: ConsulTap,
    pub dir: tempfile::TempDir,
    pub saved: BTreeMap<String, Saved>,
    pub scrubber: Scrubber,
    /// Everything the client printed so far, unscrubbed, for `expect_no_secrets`.
    pub outputs: String,
    pub clock_offset: time::Duration,
}

/// The result of one step.
pub(super) struct StepResult {
    pub problems: Vec<String>,
    pub diagnosis: Vec<String>,
    pub stdout: String,
    pub stderr: String,
    /// The client reported that it does not support this step.
    pub unsupported: Option<String>,
    /// What a login step observed (see `crate::record::observe_login`).
    pub observed: Option<serde_json::Value>,
}

impl StepResult {
    pub(super) fn ok() -> Self {
        Self {
            problems: Vec::new(),
            diagnosis: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            unsupported: None,
            observed: None,
        }
    }

    pub(super) fn problem(message: impl Into<String>) -> Self {
        let mut r = Self::ok();
        r.problems.push(message.into());
        r
    }
}

fn report(
    file: &PlannedFile,
    scenario: &Scenario,
    outcome: Outcome,
    started: Instant,
    steps: Vec<StepReport>,
) -> ScenarioReport {
    ScenarioReport {
        id: file.id.clone(),
        path: file.path.display().to_string(),
        name: scenario.name.clone(),
        tags: scenario.tags.clone(),
        outcome,
        duration: started.elapsed(),
        steps,
    }
}

fn setup_failure(message: String) -> Outcome {
    Outcome::Failed(Failure {
        step: 0,
        line: 1,
        step_title: "set-up".into(),
        problems: vec![message],
        diagnosis: Vec::new(),
    })
}

pub(super) async fn run_one(
    shared: Arc<Shared>,
    file: PlannedFile,
    scenario: Scenario,
) -> ScenarioReport {
    let started = Instant::now();
    let enterprise = shared.enterprise || scenario.consul.enterprise;
    if scenario.requires.contains(&Requirement::Enterprise) && !enterprise_capable(&shared) {
        return report(
            &file,
            &scenario,
            Outcome::Skipped { reason: "requires enterprise: run with --enterprise (the embedded backend emulates Consul Enterprise; real images need a licence)".into() },
            started,
            Vec::new(),
        );
    }
    if scenario.consul.ce_only && shared.enterprise {
        return report(
            &file,
            &scenario,
            Outcome::Skipped {
                reason: "checks Consul CE (`consul.enterprise: false`): run without --enterprise"
                    .into(),
            },
            started,
            Vec::new(),
        );
    }
    if scenario.requires.contains(&Requirement::Docker)
        && shared.backend.kind() != crate::backend::BackendKind::Docker
    {
        return report(
            &file,
            &scenario,
            Outcome::Skipped {
                reason: "requires docker: run with --backend docker".into(),
            },
            started,
            Vec::new(),
        );
    }
    let mut ctx = match Ctx::start(shared.clone(), &file, &scenario, enterprise).await {
        Ok(ctx) => ctx,
        Err(Start::Skip(reason)) => {
            return report(
                &file,
                &scenario,
                Outcome::Skipped { reason },
                started,
                Vec::new(),
            );
        }
        Err(Start::Fail(message)) => {
            return report(
                &file,
                &scenario,
                setup_failure(message),
                started,
                Vec::new(),
            );
        }
    };
    let mut steps = Vec::new();
    let mut outcome = Outcome::Passed;
    for (i, step) in scenario.steps.iter().enumerate() {
        let title = super::steps::title(&step.kind);
        let step_started = Instant::now();
        let result = super::steps::run(&mut ctx, &step.kind).await;
        let passed = result.problems.is_empty() && result.unsupported.is_none();
        steps.push(StepReport {
            title: title.clone(),
            line: step.line,
            passed,
            duration: step_started.elapsed(),
            stdout: ctx.scrubber.scrub(&result.stdout),
            stderr: ctx.scrubber.scrub(&result.stderr),
            observed: result.observed.clone(),
        });
        if let Some(reason) = result.unsupported {
            outcome = Outcome::Skipped {
                reason: format!(
                    "step {} ({title}): the client does not support it: {}",
                    i + 1,
                    ctx.scrubber.scrub(&reason)
                ),
            };
            break;
        }
        if !passed {
            outcome = Outcome::Failed(Failure {
                step: i + 1,
                line: step.line,
                step_title: title,
                problems: result
                    .problems
                    .iter()
                    .map(|p| ctx.scrubber.scrub(p))
                    .collect(),
                diagnosis: result
                    .diagnosis
                    .iter()
                    .map(|d| ctx.scrubber.scrub(d))
                    .collect(),
            });
            break;
        }
    }
    let teardown = ctx.stop().await;
    if let (Outcome::Passed, Err(message)) = (&outcome, teardown) {
        outcome = Outcome::Failed(Failure {
            step: scenario.steps.len() + 1,
            line: 1,
            step_title: "tear-down".into(),
            problems: vec![message],
            diagnosis: Vec::new(),
        });
    }
    report(&file, &scenario, outcome, started, steps)
}

fn enterprise_capable(shared: &Shared) -> bool {
    // The embedded emulator does Enterprise on request; real servers only when asked for.
    shared.enterprise || matches!(&*shared.backend, Backend::Embedded(_))
}

pub(super) enum Start {
    Skip(String),
    Fail(String),
}

impl Ctx {
    async fn start(
        shared: Arc<Shared>,
        file: &PlannedFile,
        scenario: &Scenario,
        enterprise: bool,
    ) -> Result<Ctx, Start> {
        let store = load_store(&shared, scenario).map_err(Start::Fail)?;
        let mut scrubber = Scrubber::default();
        for c in store.credentials() {
            scrubber.add(
                format!("secret key of {}", c.access_key_id),
                c.secret_access_key,
            );
            if let Some(token) = c.session_token {
                scrubber.add(format!("session token of {}", c.access_key_id), token);
            }
        }
        let config = AwsConfig {
            region_mode: if scenario.aws.strict_regions {
                RegionMode::Aws
            } else {
                RegionMode::Lenient
            },
            ..AwsConfig::default()
        };
        let listen_ip = match shared.backend.aws_listen_ip().await {
            Ok(ip) => ip,
            Err(BackendError::Unavailable(reason)) => return Err(Start::Skip(reason)),
            Err(BackendError::Failed(message)) => return Err(Start::Fail(message)),
        };
        let aws = iamconform_aws::bind(AwsState::new(store, config), (listen_ip, 0).into())
            .await
            .map_err(|e| Start::Fail(format!("cannot start the AWS emulator: {e}")))?;
        let needs = Needs {
            enterprise,
            audit: scenario.consul.audit,
            aws_url: aws.base_url(),
            aws_addr: aws.addr,
        };
        let consul = match shared.backend.acquire(&needs).await {
            Ok(c) => c,
            Err(BackendError::Unavailable(reason)) => return Err(Start::Skip(reason)),
            Err(BackendError::Failed(message)) => return Err(Start::Fail(message)),
        };
        scrubber.add("management token", consul.management_token.clone());
        let tap = ConsulTap::start(consul.http_addr.clone())
            .await
            .map_err(|e| Start::Fail(format!("cannot start the Consul tap: {e}")))?;
        let dir = tempfile::Builder::new()
            .prefix("iamconform-")
            .tempdir()
            .map_err(|e| Start::Fail(format!("cannot create a temporary directory: {e}")))?;
        let http = ConsulHttp::new(&consul.http_addr);
        let scenario_dir = file.path.parent().map(PathBuf::from).unwrap_or_default();
        let mut ctx = Ctx {
            shared,
            scenario_dir,
            aws,
            consul,
            http,
            tap,
            dir,
            saved: BTreeMap::new(),
            scrubber,
            outputs: String::new(),
            clock_offset: time::Duration::ZERO,
        };
        if let Err(message) = ctx.apply_setup(scenario).await {
            let _ = ctx.stop().await;
            return Err(Start::Fail(message));
        }
        Ok(ctx)
    }

    /// The AWS emulator's URL as the scenario's Consul reaches it.
    pub(super) fn consul_aws_url(&self) -> String {
        self.consul
            .consul_aws_url
            .clone()
            .unwrap_or_else(|| self.aws.base_url())
    }

    /// Creates the scenario's Consul objects (preset first) through the HTTP API, so every
    /// backend gets them the same way.
    async fn apply_setup(&mut self, scenario: &Scenario) -> Result<(), String> {
        let mut objects = Objects::default();
        if let Some(preset) = &scenario.consul.preset {
            let path = match preset {
                Preset::Named(name) => self.shared.fixtures_dir.join(format!("{name}.yaml")),
                Preset::Path(p) => self.scenario_dir.join(p),
            };
            objects.extend(load_preset(&path)?);
        }
        let c = &scenario.consul;
        objects.extend(Objects {
            namespaces: c.namespaces.clone(),
            policies: c.policies.clone(),
            roles: c.roles.clone(),
            auth_methods: c.auth_methods.clone(),
            binding_rules: c.binding_rules.clone(),
        });
        let aws_url = self.consul_aws_url();
        let groups: [(&str, &str, &Vec<serde_json::Value>); 5] = [
            ("namespace", "/v1/namespace", &objects.namespaces),
            ("policy", "/v1/acl/policy", &objects.policies),
            ("role", "/v1/acl/role", &objects.roles),
            ("auth method", "/v1/acl/auth-method", &objects.auth_methods),
            (
                "binding rule",
                "/v1/acl/binding-rule",
                &objects.binding_rules,
            ),
        ];
        for (what, path, items) in groups {
            for item in items {
                let mut body = substitute(item, &aws_url);
                if what == "auth method" && self.consul.inject_endpoints {
                    inject_endpoints(&mut body, &aws_url);
                }
                let resp = self
                    .http
                    .send(
                        "PUT",
                        path,
                        Some(&self.consul.management_token),
                        Some(&body),
                    )
                    .await
                    .map_err(|e| format!("creating {what}: {e}"))?;
                if resp.status != 200 {
                    let name = body
                        .get("Name")
                        .or_else(|| body.get("BindName"))
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    return Err(format!(
                        "creating {what} {name} failed: Consul answered {}: {}",
                        resp.status,
                        resp.body.trim()
                    ));
                }
            }
        }
        Ok(())
    }

    async fn stop(self) -> Result<(), String> {
        let Ctx {
            shared,
            aws,
            consul,
            tap,
            ..
        } = self;
        drop(tap);
        let released = shared
            .backend
            .release(consul)
            .await
            .map_err(|e| e.to_string());
        let _ = aws.shutdown().await;
        released
    }
}

fn load_store(shared: &Shared, scenario: &Scenario) -> Result<IdentityStore, String> {
    let base = match &shared.fixtures {
        Some(path) => IdentityStore::load(path).map_err(|e| e.to_string())?,
        None => IdentityStore::shipped().map_err(|e| e.to_string())?,
    };
    match &scenario.identities {
        None => Ok(base),
        Some(overrides) => {
            // JSON is YAML: the store's fixture parser reads the overrides as they are.
            let text = serde_json::to_string(overrides.expose_json()).map_err(|e| e.to_string())?;
            base.merged("scenario identities", &text)
                .map_err(|e| e.to_string())
        }
    }
}

/// The Consul objects of a preset or scenario.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Objects {
    #[serde(default)]
    namespaces: Vec<serde_json::Value>,
    #[serde(default)]
    policies: Vec<serde_json::Value>,
    #[serde(default)]
    roles: Vec<serde_json::Value>,
    #[serde(default)]
    auth_methods: Vec<serde_json::Value>,
    #[serde(default)]
    binding_rules: Vec<serde_json::Value>,
}

impl Objects {
    fn extend(&mut self, other: Objects) {
        self.namespaces.extend(other.namespaces);
        self.policies.extend(other.policies);
        self.roles.extend(other.roles);
        self.auth_methods.extend(other.auth_methods);
        self.binding_rules.extend(other.binding_rules);
    }
}

fn load_preset(path: &std::path::Path) -> Result<Objects, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read Consul preset {}: {e}", path.display()))?;
    serde_saphyr::from_str(&text)
        .map_err(|e| format!("invalid Consul preset {}: {e}", path.display()))
}

/// Replaces `{{aws_endpoint}}` in every string of a setup object with the AWS emulator's URL.
fn substitute(value: &serde_json::Value, aws_url: &str) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) if s.contains("{{aws_endpoint}}") => {
            serde_json::Value::String(s.replace("{{aws_endpoint}}", aws_url))
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(|v| substitute(v, aws_url)).collect())
        }
        serde_json::Value::Object(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), substitute(v, aws_url)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Points an aws-iam auth method at the AWS emulator when it names no endpoints itself.
pub(super) fn inject_endpoints(method: &mut serde_json::Value, aws_url: &str) {
    if method.get("Type").and_then(|t| t.as_str()) != Some("aws-iam") {
        return;
    }
    if let Some(config) = method.get_mut("Config").and_then(|c| c.as_object_mut()) {
        for key in ["STSEndpoint", "IAMEndpoint"] {
            config
                .entry(key)
                .or_insert_with(|| serde_json::Value::String(aws_url.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_are_injected_only_where_missing() {
        let mut m = json!({"Type": "aws-iam", "Config": {"STSEndpoint": "http://x"}});
        inject_endpoints(&mut m, "http://127.0.0.1:1");
        assert_eq!(m["Config"]["STSEndpoint"], "http://x");
        assert_eq!(m["Config"]["IAMEndpoint"], "http://127.0.0.1:1");
        let mut other = json!({"Type": "jwt", "Config": {}});
        inject_endpoints(&mut other, "http://127.0.0.1:1");
        assert_eq!(other["Config"], json!({}));
    }

    #[test]
    fn placeholders_are_substituted() {
        let v = json!({"Config": {"STSEndpoint": "{{aws_endpoint}}/x", "L": ["{{aws_endpoint}}"]}, "N": 1});
        assert_eq!(
            substitute(&v, "http://h"),
            json!({"Config": {"STSEndpoint": "http://h/x", "L": ["http://h"]}, "N": 1})
        );
    }
}

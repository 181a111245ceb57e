//! `iamconform record`: run one flow of a client and write a scenario that pins what happened.
//!
//! The runner observes every login step ([`observe_login`] builds the observation: outcome,
//! the client's error line, the token Consul issued (stable fields only, never the SecretID)
//! and the facts of what the client sent, from the bearer token and the AWS journal) and
//! carries it in [`crate::runner::events::StepReport::observed`]. [`record`] writes a scenario
//! with placeholder expectations, runs it once, and rewrites the expectations from the
//! observations ([`render_scenario`]); the result passes `lint` and passes when run again.
//! Secrets never reach the file: the observation holds none.

use std::path::{Path, PathBuf};

use iamconform_aws::{JournalEntry, JournalService, Verdict};
use iamconform_login::BearerToken;
use serde_json::{Map, Value, json};

/// Token fields pinned by a recording: what binding produced, not what changes per run.
const PINNED_TOKEN_FIELDS: [&str; 9] = [
    "Description",
    "Policies",
    "Roles",
    "ServiceIdentities",
    "NodeIdentities",
    "Local",
    "AuthMethod",
    "Namespace",
    "Partition",
];

/// The observation of one login: `{ "ok", "error", "token", "sent" }` (JSON; no secrets).
pub fn observe_login(
    ok: bool,
    stderr: &str,
    token: Option<&Value>,
    bearer: Option<&str>,
    journal: &[JournalEntry],
) -> Value {
    let error = if ok {
        Value::Null
    } else {
        stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map_or(Value::Null, |l| Value::String(l.to_owned()))
    };
    let token = token.and_then(Value::as_object).map(|t| {
        let mut m = Map::new();
        for k in PINNED_TOKEN_FIELDS {
            if let Some(v) = t.get(k).filter(|v| !v.is_null()) {
                m.insert(k.to_owned(), v.clone());
            }
        }
        Value::Object(m)
    });
    let sent = bearer.and_then(|b| observe_sent(b, journal));
    json!({ "ok": ok, "error": error, "token": token, "sent": sent })
}

/// What the client sent, as the scenario's `sent:` expectation spells it.
fn observe_sent(bearer: &str, journal: &[JournalEntry]) -> Option<Value> {
    let token = BearerToken::parse(bearer).ok()?;
    let auth = token.header("Authorization").unwrap_or_default().to_owned();
    let scope: Vec<String> = auth
        .split([',', ' '])
        .find_map(|p| p.trim().strip_prefix("Credential="))
        .map(|c| c.split('/').map(str::to_owned).collect())
        .unwrap_or_default();
    let signed = token.signed_headers();
    let host = token
        .url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let server_id_present = token
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-consul-iam-serverid"));
    let body = token
        .header("X-Consul-IAM-GetEntity-Body")
        .unwrap_or_default();
    let entity = if body.contains("Action=GetRole") {
        "GetRole"
    } else if body.contains("Action=GetUser") {
        "GetUser"
    } else {
        "none"
    };
    let akid = scope.first().cloned().unwrap_or_default();
    let verdict = journal
        .iter()
        .rev()
        .find(|e| {
            e.service == JournalService::Sts
                && e.access_key_id.as_deref() == Some(akid.as_str())
                && e.signed_headers == signed
        })
        .map(|e| match &e.verdict {
            Verdict::Accepted => "accepted".to_owned(),
            Verdict::Rejected { code, .. } => code.clone(),
        });
    let mut m = Map::new();
    if let Some(r) = scope.get(2) {
        m.insert("region".into(), json!(r));
    }
    if let Some(s) = scope.get(3) {
        m.insert("service".into(), json!(s));
    }
    m.insert("host".into(), json!(host));
    m.insert(
        "server_id_signed".into(),
        json!(server_id_present && signed.iter().any(|s| s == "x-consul-iam-serverid")),
    );
    m.insert("signed_headers".into(), json!({ "include": signed }));
    m.insert("entity".into(), json!(entity));
    if let Some(v) = verdict {
        m.insert("verdict".into(), json!(v));
    }
    Some(Value::Object(m))
}

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    /// Scenario name.
    pub name: String,
    /// `ROLE/SESSION` or `USER[/KEY]`.
    pub identity: String,
    /// The auth method the client logs in to.
    pub method: String,
    /// `consul.preset` (e.g. `consul-ecs`), if any.
    pub preset: Option<String>,
    /// Extra `consul:` setup as YAML (auth_methods, binding_rules, …), merged in.
    pub consul_yaml: Option<String>,
    /// `-aws-include-entity`.
    pub include_entity: bool,
    /// `-aws-server-id-header-value`.
    pub server_id: Option<String>,
    /// `-aws-region`.
    pub region: Option<String>,
    /// Also log out (via the client) and check the token is gone.
    pub logout: bool,
}

/// Quotes a YAML scalar (JSON strings are valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The scenario text for `spec` with `login_expect` / `logout_expect` as flow-style YAML.
pub fn render_scenario(spec: &RecordSpec, login_expect: &str, logout_expect: &str) -> String {
    let mut s = String::new();
    s.push_str("# Recorded by `iamconform record`: the expectations pin what the client did.\n");
    s.push_str(&format!("name: {}\n", q(&spec.name)));
    s.push_str("tags: [recorded]\n");
    s.push_str("consul:\n");
    if let Some(p) = &spec.preset {
        s.push_str(&format!("  preset: {}\n", q(p)));
    }
    if let Some(extra) = &spec.consul_yaml {
        for line in extra.lines() {
            s.push_str("  ");
            s.push_str(line);
            s.push('\n');
        }
    }
    s.push_str("steps:\n");
    let mut login = format!("as: {}, method: {}", q(&spec.identity), q(&spec.method));
    if spec.include_entity {
        login.push_str(", include_entity: true");
    }
    if let Some(v) = &spec.server_id {
        login.push_str(&format!(", server_id: {}", q(v)));
    }
    if let Some(v) = &spec.region {
        login.push_str(&format!(", region: {}", q(v)));
    }
    s.push_str(&format!("  - login: {{ {login}, save_as: recorded }}\n"));
    s.push_str(&format!("    expect: {login_expect}\n"));
    if spec.logout {
        s.push_str("  - logout: { token: recorded }\n");
        s.push_str(&format!("    expect: {logout_expect}\n"));
    }
    s
}

/// A login observation as a flow-style `expect:` value.
pub fn expect_from_observation(o: &Value) -> String {
    let mut m = Map::new();
    let ok = o.get("ok").and_then(Value::as_bool).unwrap_or(false);
    m.insert("ok".into(), json!(ok));
    if !ok && let Some(e) = o.get("error").and_then(Value::as_str) {
        m.insert("error".into(), json!(error_substring(e)));
    }
    if ok
        && let Some(t) = o
            .get("token")
            .filter(|t| t.as_object().is_some_and(|m| !m.is_empty()))
    {
        m.insert("token".into(), t.clone());
    }
    if let Some(s) = o.get("sent").filter(|s| !s.is_null()) {
        m.insert("sent".into(), s.clone());
    }
    Value::Object(m).to_string()
}

/// The part of an error line worth pinning: Consul's text inside the client's wrapper, e.g.
/// `header wasn't signed` from `Error logging in: Unexpected response code: 500 (header wasn't
/// signed)`.
fn error_substring(line: &str) -> String {
    if let (Some(open), Some(close)) = (line.find('('), line.rfind(')'))
        && open < close
        && let Some(inner) = line.get(open + 1..close)
        && !inner.trim().is_empty()
    {
        return inner.to_owned();
    }
    line.to_owned()
}

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The probe scenario could not be run.
    #[error("cannot run the recording: {0}")]
    Run(String),
    /// The flow did not reach the login step.
    #[error("the recording did not reach the login step: {0}")]
    NoLogin(String),
    /// Writing the file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `text` to `path` (the scenario file).
pub fn write_scenario(path: &Path, text: &str) -> Result<(), RecordError> {
    std::fs::write(path, text).map_err(|source| RecordError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Runs `iamconform run FILE --client CLIENT --json REPORT` with this executable and returns the
/// report's first scenario.
fn run_once(exe: &Path, file: &Path, client: &str) -> Result<Value, RecordError> {
    let dir = tempfile::tempdir().map_err(|e| RecordError::Run(e.to_string()))?;
    let report = dir.path().join("report.json");
    let out = std::process::Command::new(exe)
        .arg("run")
        .arg(file)
        .args(["--client", client, "--json"])
        .arg(&report)
        .output()
        .map_err(|e| RecordError::Run(e.to_string()))?;
    let text = std::fs::read_to_string(&report).map_err(|e| {
        RecordError::Run(format!(
            "no JSON report ({e}); the run said: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| RecordError::Run(e.to_string()))?;
    v.get("scenarios")
        .and_then(|s| s.get(0))
        .cloned()
        .ok_or_else(|| RecordError::Run("the report has no scenario".to_owned()))
}

/// What `record` wrote and whether the written file passed when run again.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The scenario text written.
    pub text: String,
    /// The outcome of the verification run (`passed`, `failed`, `skipped`).
    pub verified: String,
}

/// Records one flow into `out`: runs a probe scenario, pins what it observed, writes the file,
/// and runs it again to verify it passes.
pub fn record(
    exe: &Path,
    spec: &RecordSpec,
    client: &str,
    out: &Path,
) -> Result<Recorded, RecordError> {
    write_scenario(out, &render_scenario(spec, "{ ok: true }", "{ ok: true }"))?;
    let probe = run_once(exe, out, client)?;
    let steps = probe
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let observed = steps
        .first()
        .and_then(|s| s.get("observed"))
        .filter(|o| !o.is_null())
        .ok_or_else(|| {
            RecordError::NoLogin(
                probe
                    .get("failure")
                    .map(Value::to_string)
                    .or_else(|| probe.get("skip_reason").map(Value::to_string))
                    .unwrap_or_default(),
            )
        })?;
    let login_ok = observed.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let mut spec = spec.clone();
    spec.logout &= login_ok;
    let logout_expect = match steps.get(1) {
        Some(step) if step.get("passed").and_then(Value::as_bool) == Some(false) => {
            let stderr = step
                .get("stderr")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let o = observe_login(false, stderr, None, None, &[]);
            expect_from_observation(&o)
        }
        _ => "{ ok: true }".to_owned(),
    };
    let text = render_scenario(&spec, &expect_from_observation(observed), &logout_expect);
    write_scenario(out, &text)?;
    let verified = run_once(exe, out, client)?
        .get("outcome")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    Ok(Recorded { text, verified })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_pin_consul_text() {
        assert_eq!(
            error_substring(
                "Error logging in: Unexpected response code: 500 (header wasn't signed)"
            ),
            "header wasn't signed"
        );
        assert_eq!(error_substring("plain"), "plain");
    }

    #[test]
    fn observation_drops_unstable_and_secret_fields() {
        let token = json!({"SecretID": "s", "AccessorID": "a", "Description": "d", "Local": true, "Roles": null});
        let o = observe_login(true, "", Some(&token), None, &[]);
        assert_eq!(o["token"], json!({"Description": "d", "Local": true}));
        let e = expect_from_observation(&o);
        assert!(!e.contains("SecretID") && !e.contains("\"a\""));
    }
}

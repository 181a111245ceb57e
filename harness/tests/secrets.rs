#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981
//! Issue #8 item 5: no secret reaches any output.
//!
//! Drives the real `iamconform` binary through every scenario and through failure paths, keeps
//! every byte it writes, and scans all of it for every secret it was given or handed out:
//!
//! - `iamconform run` over `scenarios/` with the reference client (CE and Enterprise) and with
//!   several mutants (`IAMCONFORM_MUTANT`, harness/login/src/mutant.rs) so failure reports,
//!   diagnoses and GitHub annotations are exercised; every report format on (`--junit`,
//!   `--json`, `GITHUB_ACTIONS=true`), `RUST_LOG=trace`; plus `iamconform explain` over each
//!   JSON report. The client is the reference client behind a small shell wrapper that copies
//!   each login's token sink file, so the SecretIDs Consul handed out are known to the scan,
//!   and snapshots the audit logs.
//! - `iamconform serve --enterprise --audit-log` with good and bad logins (wrong secret key,
//!   wrong secret in a token with a valid GetEntity request, expired session, malformed
//!   bearer token, bad JSON, unknown token), a forged AWS request carrying a session token,
//!   an ECS credentials request with a wrong grant token, and `iamconform inspect` of a good
//!   and a mangled bearer token; its stdout after the ready line (which shows the management
//!   token by design), stderr, the AWS journal (admin API) and the audit log.
//!   The Consul traffic goes through a recording relay, so every bearer token sent and every
//!   SecretID returned is known to the scan; the management token lists the rest.
//!
//! The secrets: every `secret_access_key` and `session_token` in fixtures/ and scenarios/,
//! the management token, the SecretIDs and bearer tokens above. Each is searched raw,
//! JSON-escaped, percent-encoded and base64-encoded (standard and URL-safe, at all three
//! alignments, so a secret inside a larger base64 blob such as a bearer token's
//! `iam_request_headers` is found too), and by its first and last 24 characters (a truncated
//! or one-character-altered secret). A hit names the secret's kind, the encoding and the
//! output — never the secret. (The first run found one: a session token copied into the
//! signed `X-Consul-IAM-GetEntity-Headers` escaped the redacted canonical request of a
//! `SignatureDoesNotMatch`; fixed in iamconform-sigv4.)
//!
//! The embedded Consul's audit logs live in temporary directories deleted when their scenario
//! ends; the run gets its own `TMPDIR` and the wrapper client snapshots them at each login
//! and logout, so entries written after a scenario's last client call are not scanned.
//! Not reachable from outside a run: the embedded backend's management token, the bearer
//! tokens of `replay` steps and the SecretIDs of tokens created through the API (the
//! runner's own `expect_no_secrets` steps cover those inside the run); a leaked bearer token
//! of a session-credential login is still caught by its session token, base64-encoded
//! inside `iam_request_headers`.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_iamconform");

/// Mutants whose failures print the most: signature mismatches with canonical requests,
/// token-sink and logout problems that involve SecretIDs, token decoding errors.
const MUTANTS: &[&str] = &[
    "wrong-secret",
    "token-sink-trailing-newline",
    "logout-wrong-token",
    "headers-json-not-base64",
    "session-token-unsigned",
];

/// Characters compared at either end of a secret to catch truncated or altered copies.
const WINDOW: usize = 24;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

// ------------------------------------------------------------------------------ the scanner

/// A secret and what kind it is (the kind, never the value, is reported).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Secret {
    kind: &'static str,
    value: String,
}

/// Everything written by the runs, by name.
#[derive(Default)]
struct Outputs(Vec<(String, Vec<u8>)>);

impl Outputs {
    fn add(&mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((name.into(), bytes.into()));
    }

    /// Every file under `dir`, named by its path.
    fn add_dir(&mut self, dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                self.add_dir(&path);
            } else {
                self.add(path.display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
}

/// One way a secret could appear.
struct Needle {
    secret: usize,
    encoding: &'static str,
    bytes: Vec<u8>,
}

/// A secret found in an output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Hit {
    kind: &'static str,
    encoding: &'static str,
    output: String,
}

/// The forms of `value` that identify it: long enough to be unique, short enough to survive
/// the encodings around them.
fn needles(index: usize, secret: &Secret, out: &mut Vec<Needle>) {
    let v = secret.value.as_str();
    let mut push = |encoding: &'static str, bytes: Vec<u8>| {
        if bytes.len() >= 16 && !out.iter().any(|n| n.secret == index && n.bytes == bytes) {
            out.push(Needle {
                secret: index,
                encoding,
                bytes,
            });
        }
    };
    push("raw", v.as_bytes().to_vec());
    let json = serde_json::to_string(v).unwrap();
    push("JSON-escaped", json.as_bytes()[1..json.len() - 1].to_vec());
    let pct: String = form_encode(v, true);
    push("percent-encoded", pct.into_bytes());
    push("percent-encoded", form_encode(v, false).into_bytes());
    for (name, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
        for shift in 0..3usize {
            let mut input = vec![0u8; shift];
            input.extend_from_slice(v.as_bytes());
            let enc = engine.encode(&input);
            // Characters that mix the shift bytes, or the last partial group and padding,
            // depend on neighbours: keep only the stable middle.
            let start = [0, 2, 3][shift];
            let trimmed = enc.trim_end_matches('=');
            let end = trimmed.len().saturating_sub(3);
            if end > start {
                push(name, trimmed.as_bytes()[start..end].to_vec());
            }
        }
    }
    // A cut-off or altered copy. Bearer tokens are JSON with fixed field names at both ends, so
    // their windows would match any token; their `iam_request_headers` is a secret of its own.
    if secret.kind != "bearer token" && v.len() >= WINDOW + 8 {
        push("first 24 characters", v.as_bytes()[..WINDOW].to_vec());
        push(
            "last 24 characters",
            v.as_bytes()[v.len() - WINDOW..].to_vec(),
        );
    }
}

/// `application/x-www-form-urlencoded`-style escaping of everything but unreserved characters.
fn form_encode(v: &str, upper: bool) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// Every secret of `secrets` in `outputs`, in any encoding of [`needles`].
fn scan(secrets: &[Secret], outputs: &Outputs) -> Vec<Hit> {
    let mut all = Vec::new();
    for (i, s) in secrets.iter().enumerate() {
        needles(i, s, &mut all);
    }
    // Index by the first 8 bytes so each output is walked once, whatever the number of
    // needles (thousands, times megabytes of output, in a debug build).
    let mut index: HashMap<[u8; 8], Vec<usize>> = HashMap::new();
    for (n, needle) in all.iter().enumerate() {
        let key: [u8; 8] = needle.bytes[..8].try_into().unwrap();
        index.entry(key).or_default().push(n);
    }
    let mut hits = BTreeSet::new();
    for (name, bytes) in &outputs.0 {
        for pos in 0..bytes.len().saturating_sub(7) {
            let key: [u8; 8] = bytes[pos..pos + 8].try_into().unwrap();
            let Some(candidates) = index.get(&key) else {
                continue;
            };
            for &n in candidates {
                let needle = &all[n];
                if bytes[pos..].starts_with(&needle.bytes) {
                    hits.insert(Hit {
                        kind: secrets[needle.secret].kind,
                        encoding: needle.encoding,
                        output: name.clone(),
                    });
                }
            }
        }
    }
    hits.into_iter().collect()
}

fn assert_no_hits(secrets: &[Secret], outputs: &Outputs) {
    let hits = scan(secrets, outputs);
    let scanned: usize = outputs.0.iter().map(|(_, b)| b.len()).sum();
    println!(
        "scanned {} outputs ({scanned} bytes) for {} secrets",
        outputs.0.len(),
        secrets.len()
    );
    for (name, bytes) in &outputs.0 {
        println!("  {:>8} bytes  {name}", bytes.len());
    }
    assert!(
        hits.is_empty(),
        "secrets leaked ({} hits):\n{}",
        hits.len(),
        hits.iter()
            .map(|h| format!("  {} ({}) in {}", h.kind, h.encoding, h.output))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_scanner_finds_a_planted_secret_in_every_encoding() {
    let key = "eHMsvKYEIlu7euAf+tdg5J8ee8EvXGtJ0r6EKnIm";
    let sid = "5c6ce0e2-9a2c-4c37-8a44-0c8a7f1d2b3e";
    let secrets = vec![
        Secret {
            kind: "secret access key",
            value: key.into(),
        },
        Secret {
            kind: "SecretID",
            value: sid.into(),
        },
    ];
    let headers = format!(r#"{{"X-Amz-Security-Token":["{key}"]}}"#);
    let samples: Vec<(&str, String)> = vec![
        ("raw", format!("error: bad key {key} here")),
        ("json", serde_json::to_string(&json_with(key)).unwrap()),
        ("url", format!("a=b&key={}", form_encode(key, true))),
        ("url-lower", format!("key={}", form_encode(key, false))),
        ("b64-aligned", STANDARD.encode(key)),
        ("b64-in-blob", STANDARD.encode(&headers)),
        ("b64url-in-blob", URL_SAFE.encode(format!("xy{key}"))),
        ("truncated", format!("token {}…", &sid[..30])),
        ("altered", format!("{}f", &sid[..35])),
        (
            "clean",
            "nothing to see: ASIAEXAMPLEWEBTASK01 <redacted>".into(),
        ),
    ];
    for (name, text) in &samples {
        let mut outputs = Outputs::default();
        outputs.add(*name, text.as_bytes());
        let hits = scan(&secrets, &outputs);
        if *name == "clean" {
            assert!(hits.is_empty(), "{name}: {hits:?}");
        } else {
            assert!(!hits.is_empty(), "{name}: the planted secret was not found");
            assert!(hits.iter().all(|h| h.output == *name));
        }
    }
    // The report names the kind and never the value.
    let mut outputs = Outputs::default();
    outputs.add("stderr of x", format!("k={key}"));
    let message = format!("{:?}", scan(&secrets, &outputs));
    assert!(message.contains("secret access key") && !message.contains(key));
}

fn json_with(s: &str) -> Value {
    serde_json::json!({ "nested": { "line": format!("saw \"{s}\"") } })
}

// ------------------------------------------------------------------------- seeded secrets

/// Every `secret_access_key` and `session_token` in the fixtures and scenarios.
fn seeded_secrets() -> Vec<Secret> {
    let root = workspace();
    let mut files = Vec::new();
    collect_yaml(&root.join("fixtures"), &mut files);
    collect_yaml(&root.join("scenarios"), &mut files);
    let mut out = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let value: Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        walk_secrets(&value, &mut out);
    }
    assert!(
        out.iter().filter(|s| s.kind == "session token").count() >= 8,
        "the fixtures' session tokens were not found: {out:?}"
    );
    out.into_iter().collect()
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn walk_secrets(v: &Value, out: &mut BTreeSet<Secret>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let kind = match k.as_str() {
                    "secret_access_key" => Some("secret access key"),
                    "session_token" => Some("session token"),
                    _ => None,
                };
                match (kind, v.as_str()) {
                    (Some(kind), Some(s)) if !s.is_empty() => {
                        out.insert(Secret {
                            kind,
                            value: s.to_string(),
                        });
                    }
                    _ => walk_secrets(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk_secrets(v, out)),
        _ => {}
    }
}

// ------------------------------------------------------------------------- the suite runs

/// The reference client behind a wrapper that keeps a copy of each login's token sink file.
/// It also snapshots the embedded Consul's audit logs (`$TMPDIR/.tmp*/audit.json`, deleted
/// when their scenario ends) into `audit`, the last snapshot of each winning.
fn capturing_client(dir: &Path, tmp: &Path, audit: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(audit).unwrap();
    let sinks = dir.join("sinks");
    std::fs::create_dir_all(&sinks).unwrap();
    let wrapper = dir.join("client.sh");
    std::fs::write(
        &wrapper,
        format!(
            r#"#!/bin/sh
"{exe}" "$@"
rc=$?
for arg in "$@"; do
  case "$arg" in
    -token-sink-file=*)
      f="${{arg#-token-sink-file=}}"
      if [ -f "$f" ]; then cp "$f" "$(mktemp "{sinks}/sink.XXXXXX")"; fi ;;
  esac
done
for log in "{tmp}"/.tmp*/audit.json; do
  if [ -f "$log" ]; then cp "$log" "{audit}/$(basename "$(dirname "$log")").json"; fi
done
exit $rc
"#,
            exe = EXE,
            sinks = sinks.display(),
            tmp = tmp.display(),
            audit = audit.display(),
        ),
    )
    .unwrap();
    let w = wrapper.display().to_string();
    let toml = format!(
        r#"name = "reference"

[login]
argv = ["/bin/sh", "{w}", "login", "-type=aws-iam", "-method={{method}}", "-http-addr={{http_addr}}", "-token-sink-file={{token_file}}", "-aws-auto-bearer-token"]
token_from = "sink-file"
include_entity = ["-aws-include-entity"]
server_id = ["-aws-server-id-header-value={{server_id}}"]
region = ["-aws-region={{region}}"]
sts_endpoint = ["-aws-sts-endpoint={{sts_endpoint}}"]
iam_endpoint = ["-aws-iam-endpoint={{iam_endpoint}}"]
meta = ["-meta={{key}}={{value}}"]
static_credentials = ["-aws-access-key-id={{access_key_id}}", "-aws-secret-access-key={{secret_access_key}}"]
session_token = ["-aws-session-token={{session_token}}"]
namespace = ["-namespace={{namespace}}"]
partition = ["-partition={{partition}}"]

[logout]
argv = ["/bin/sh", "{w}", "logout", "-http-addr={{http_addr}}", "-token-file={{token_file}}"]
"#
    );
    let adapter = dir.join("client.toml");
    std::fs::write(&adapter, toml).unwrap();
    (adapter, sinks)
}

/// One `iamconform run` over the whole suite; its outputs go to `dir/<label>/`.
fn run_suite(label: &str, mutant: Option<&str>, enterprise: bool, dir: &Path) -> Outputs {
    let root = workspace();
    let reports = dir.join(label);
    // The run's temporary directories land here, where the wrapper client can find the
    // audit logs while their scenarios run.
    let tmp = dir.join(format!("{label}-tmp"));
    std::fs::create_dir_all(&tmp).unwrap();
    let audit = reports.join("audit");
    let (adapter, sinks) = capturing_client(&dir.join(format!("{label}-client")), &tmp, &audit);
    let json = reports.join("report.json");
    let mut cmd = Command::new(EXE);
    cmd.current_dir(&root)
        .arg("run")
        .arg(root.join("scenarios"))
        .arg("--client")
        .arg(&adapter)
        .args(["--jobs", "4", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(reports.join("junit.xml"))
        .env("GITHUB_ACTIONS", "true")
        .env("RUST_LOG", "trace")
        .env("TMPDIR", &tmp)
        .env_remove("IAMCONFORM_MUTANT");
    if enterprise {
        cmd.arg("--enterprise");
    }
    if let Some(m) = mutant {
        cmd.env("IAMCONFORM_MUTANT", m);
    }
    let out = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap_or_else(|e| {
        panic!(
            "{label}: no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    }))
    .unwrap();
    let failed = report["totals"]["failed"].as_u64().unwrap_or(0);
    let passed = report["totals"]["passed"].as_u64().unwrap_or(0);
    // A mutant must exercise failure paths and the reference must exercise success paths,
    // or the scan proves little.
    if mutant.is_some() {
        assert!(failed > 0, "{label}: the mutant failed nothing");
    }
    assert!(passed > 0, "{label}: nothing passed");

    let mut outputs = Outputs::default();
    outputs.add(format!("{label}: stdout"), out.stdout);
    outputs.add(format!("{label}: stderr"), out.stderr);
    let explained = Command::new(EXE)
        .current_dir(&root)
        .arg("explain")
        .arg(&json)
        .output()
        .unwrap();
    outputs.add(format!("{label}: explain stdout"), explained.stdout);
    outputs.add(format!("{label}: explain stderr"), explained.stderr);
    outputs.add_dir(&reports);
    if enterprise {
        assert!(
            std::fs::read_dir(&audit).unwrap().count() > 0,
            "{label}: no audit log was captured"
        );
    }
    // Mutants may break every login; the reference must not.
    if mutant.is_none() {
        assert!(
            std::fs::read_dir(&sinks).unwrap().count() > 0,
            "{label}: no token sink was captured; the wrapper client is broken"
        );
    }
    outputs
}

/// The SecretIDs the wrapper client copied out of token sink files.
fn captured_secret_ids(dir: &Path, out: &mut BTreeSet<Secret>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            captured_secret_ids(&path, out);
        } else if path.parent().is_some_and(|p| p.ends_with("sinks")) {
            let text = std::fs::read_to_string(&path).unwrap();
            let id = text.trim();
            if !id.is_empty() {
                out.insert(Secret {
                    kind: "SecretID",
                    value: id.to_string(),
                });
            }
        }
    }
}

#[test]
fn no_secret_reaches_any_output_of_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs: Vec<(String, Option<&'static str>, bool)> = vec![
        ("reference".into(), None, false),
        ("reference-enterprise".into(), None, true),
    ];
    runs.extend(
        MUTANTS
            .iter()
            .map(|m| (format!("mutant-{m}"), Some(*m), false)),
    );
    // Two runs at a time: each is mostly waiting on client processes.
    let queue = Arc::new(Mutex::new(runs));
    let outputs = Arc::new(Mutex::new(Outputs::default()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let outputs = Arc::clone(&outputs);
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                loop {
                    let Some((label, mutant, enterprise)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let got = run_suite(&label, mutant, enterprise, &dir);
                    outputs.lock().unwrap().0.extend(got.0);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut secrets: BTreeSet<Secret> = seeded_secrets().into_iter().collect();
    let seeded = secrets.len();
    captured_secret_ids(dir.path(), &mut secrets);
    assert!(
        secrets.len() > seeded + 20,
        "too few SecretIDs captured: {}",
        secrets.len() - seeded
    );
    let secrets: Vec<Secret> = secrets.into_iter().collect();
    assert_no_hits(&secrets, &outputs.lock().unwrap());
}

// ------------------------------------------------------------------------------- serve

/// A byte-level relay that records both directions of every connection.
struct Relay {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let log = Arc::clone(&shared);
                    std::thread::spawn(move || pump(from, to, &log));
                }
            }
        });
        Self { addr, log }
    }

    fn recorded(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, log: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Every JSON string value of `key` in `text` (tolerant of spacing and escapes).
fn json_strings(text: &str, key: &str) -> Vec<String> {
    let pattern = format!("\"{key}\"");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&pattern) {
        rest = &rest[i + pattern.len()..];
        let after = rest.trim_start();
        let Some(after) = after.strip_prefix(':') else {
            continue;
        };
        let after = after.trim_start();
        let mut de = serde_json::Deserializer::from_str(after).into_iter::<Value>();
        if let Some(Ok(Value::String(s))) = de.next() {
            out.push(s);
        }
    }
    out
}

/// One HTTP/1.1 request with `Connection: close`; returns the whole response.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

struct Serve {
    child: Child,
    ready: Value,
    /// Reads stdout after the ready line until the process ends.
    stdout_rest: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Serve {
    fn start(dir: &Path) -> Self {
        let root = workspace();
        let mut child = Command::new(EXE)
            .current_dir(&root)
            .args(["serve", "--enterprise", "--audit-log"])
            .arg(dir.join("audit.log"))
            .arg("--consul-preset")
            .arg(root.join("fixtures/consul-ecs-enterprise.yaml"))
            .env("RUST_LOG", "trace")
            .env_remove("IAMCONFORM_MANAGEMENT_TOKEN")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("serve.stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let ready: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("no ready line ({e}): {line:?}"));
        let stdout_rest = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        Self {
            child,
            ready,
            stdout_rest: Some(stdout_rest),
        }
    }

    /// Stops the server; returns its stdout after the ready line.
    fn stop(mut self) -> Vec<u8> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdout_rest.take().unwrap().join().unwrap()
    }

    fn addr(&self, key: &str) -> SocketAddr {
        let url = self.ready[key].as_str().unwrap();
        url.trim_start_matches("http://").parse().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reference client's login against `consul` (through the relay); returns its outputs.
/// With the entity it logs in to the preset's `iam-ecs-service-token`; without it to
/// `iam-plain` (see [`add_plain_method`]), and makes no AWS call of its own, so even bad
/// credentials produce a bearer token that Consul forwards to STS.
fn reference_login(
    label: &str,
    include_entity: bool,
    mutant: Option<&str>,
    consul: SocketAddr,
    aws: SocketAddr,
    dir: &Path,
    (akid, secret, token): (&str, &str, &str),
) -> (Outputs, PathBuf) {
    let sink = dir.join(format!("{label}.token"));
    let out = Command::new(EXE)
        .arg("login")
        .args([
            "-type=aws-iam",
            if include_entity {
                "-method=iam-ecs-service-token"
            } else {
                "-method=iam-plain"
            },
            "-aws-auto-bearer-token",
            "-aws-region=us-east-1",
        ])
        .args(include_entity.then_some("-aws-include-entity"))
        .arg(format!("-http-addr=http://{consul}"))
        .arg(format!("-token-sink-file={}", sink.display()))
        .arg(format!("-aws-access-key-id={akid}"))
        .arg(format!("-aws-secret-access-key={secret}"))
        .arg(format!("-aws-session-token={token}"))
        .env("IAMCONFORM_AWS_ENDPOINT", format!("http://{aws}"))
        .env("RUST_LOG", "trace")
        .env("IAMCONFORM_MUTANT", mutant.unwrap_or_default())
        .output()
        .unwrap();
    let mut outputs = Outputs::default();
    outputs.add(format!("login {label}: stdout"), out.stdout);
    outputs.add(format!("login {label}: stderr"), out.stderr);
    (outputs, sink)
}

/// An auth method without entity details, trusting the web task role, and a binding rule.
fn add_plain_method(consul: SocketAddr, mgmt: &str) {
    let method = serde_json::json!({
        "Name": "iam-plain",
        "Type": "aws-iam",
        "Config": { "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/web-task"] },
    });
    let rule = serde_json::json!({
        "AuthMethod": "iam-plain",
        "BindType": "service",
        "BindName": "web",
    });
    for (path, body) in [
        ("/v1/acl/auth-method", method),
        ("/v1/acl/binding-rule", rule),
    ] {
        let r = http(
            consul,
            "PUT",
            path,
            &[("X-Consul-Token", mgmt)],
            &body.to_string(),
        );
        assert!(r.starts_with("HTTP/1.1 200"), "{path}: {r}");
    }
}

/// The fixture session `role/session` as (access key ID, secret key, session token).
fn session(role: &str, name: &str) -> (String, String, String) {
    let text = std::fs::read_to_string(workspace().join("fixtures/identities.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    let mut found = None;
    find_session(&doc, role, name, &mut found);
    found.unwrap_or_else(|| panic!("no session {role}/{name} in the fixtures"))
}

fn find_session(v: &Value, role: &str, name: &str, found: &mut Option<(String, String, String)>) {
    match v {
        Value::Object(map) => {
            if map.get("name").and_then(Value::as_str) == Some(role)
                && let Some(sessions) = map.get("sessions").and_then(Value::as_array)
            {
                for s in sessions {
                    // The first match: the main account (other accounts reuse role names).
                    if s["name"] == name && found.is_none() {
                        *found = Some((
                            s["access_key_id"].as_str().unwrap().into(),
                            s["secret_access_key"].as_str().unwrap().into(),
                            s["session_token"].as_str().unwrap().into(),
                        ));
                    }
                }
            }
            map.values()
                .for_each(|v| find_session(v, role, name, found));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| find_session(v, role, name, found)),
        _ => {}
    }
}

#[test]
fn no_secret_reaches_any_output_of_serve() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path());
    let consul = serve.addr("consul");
    let aws = serve.addr("sts");
    let mgmt = serve.ready["consul_management_token"]
        .as_str()
        .unwrap()
        .to_string();
    let relay = Relay::start(consul);
    add_plain_method(consul, &mgmt);
    let mut outputs = Outputs::default();
    let mut secrets: BTreeSet<Secret> = seeded_secrets().into_iter().collect();
    secrets.insert(Secret {
        kind: "management token",
        value: mgmt.clone(),
    });

    // A good login, then the same credentials with a wrong secret key, then an expired
    // session: the reference client, so the bearer tokens are real.
    let (akid, key, token) = session("web-task", "task-1");
    let (o, sink) = reference_login(
        "good",
        true,
        None,
        relay.addr,
        aws,
        dir.path(),
        (&akid, &key, &token),
    );
    let secret_id = std::fs::read_to_string(&sink).unwrap_or_else(|e| {
        panic!(
            "the good login wrote no token ({e}): {}",
            String::from_utf8_lossy(&o.0[1].1)
        )
    });
    outputs.0.extend(o.0);
    assert!(
        !secret_id.trim().is_empty(),
        "the good login wrote no token"
    );
    let wrong = format!("{}X", &key[..key.len() - 1]);
    secrets.insert(Secret {
        kind: "secret access key (wrong)",
        value: wrong.clone(),
    });
    let (o, plain_sink) = reference_login(
        "good-plain",
        false,
        None,
        relay.addr,
        aws,
        dir.path(),
        (&akid, &key, &token),
    );
    assert!(
        plain_sink.exists(),
        "the plain login failed: {}",
        String::from_utf8_lossy(&o.0[1].1)
    );
    outputs.0.extend(o.0);
    let (o, _) = reference_login(
        "wrong-secret",
        false,
        None,
        relay.addr,
        aws,
        dir.path(),
        (&akid, &wrong, &token),
    );
    outputs.0.extend(o.0);
    let (eakid, ekey, etoken) = session("web-task", "task-expired");
    let (o, _) = reference_login(
        "expired",
        false,
        None,
        relay.addr,
        aws,
        dir.path(),
        (&eakid, &ekey, &etoken),
    );
    outputs.0.extend(o.0);

    // A token signed with a wrong secret but whose GetEntity request is valid: Consul
    // forwards it and relays STS's SignatureDoesNotMatch, canonical request included.
    let (o, _) = reference_login(
        "wrong-secret-in-token",
        true,
        Some("wrong-secret"),
        relay.addr,
        aws,
        dir.path(),
        (&akid, &key, &token),
    );
    outputs.0.extend(o.0);

    let bearer = json_strings(&relay.recorded(), "BearerToken");
    assert!(
        bearer.len() >= 5,
        "the relay saw {} bearer tokens",
        bearer.len()
    );
    let good = bearer[0].clone();

    // Bad requests built from a real bearer token: malformed token, bad JSON, a replay.
    let login = |body: String| {
        http(
            relay.addr,
            "POST",
            "/v1/acl/login",
            &[("Content-Type", "application/json")],
            &body,
        )
    };
    // Error answers are outputs: their texts must not echo what was sent.
    let failed = |response: String| {
        assert!(!response.starts_with("HTTP/1.1 2"), "{response}");
        response
    };
    let half = &good[..good.len() / 2];
    outputs.add(
        "response to a truncated bearer token",
        failed(login(
            serde_json::json!({"AuthMethod": "iam-ecs-service-token", "BearerToken": half})
                .to_string(),
        )),
    );
    let mut mangled: Value = serde_json::from_str(&good).unwrap();
    mangled["iam_request_headers"] = Value::String(format!(
        "{}!!",
        mangled["iam_request_headers"].as_str().unwrap()
    ));
    outputs.add(
        "response to a mangled bearer token",
        failed(login(serde_json::json!({"AuthMethod": "iam-ecs-service-token", "BearerToken": mangled.to_string()}).to_string())),
    );
    outputs.add(
        "response to bad JSON",
        failed(login(format!(
            r#"{{"AuthMethod": "iam-ecs-service-token", "BearerToken": {}"#,
            serde_json::to_string(&good).unwrap()
        ))),
    );
    // A replay succeeds (Consul does not stop replays): its answer carries a SecretID by
    // design, so it is harvested by the relay, not scanned.
    let replay = login(
        serde_json::json!({"AuthMethod": "iam-ecs-service-token", "BearerToken": good}).to_string(),
    );
    assert!(replay.starts_with("HTTP/1.1 200"), "{replay}");
    let unknown = uuid::Uuid::new_v4().to_string();
    secrets.insert(Secret {
        kind: "unknown token sent",
        value: unknown.clone(),
    });
    outputs.add(
        "response to an unknown token",
        failed(http(
            relay.addr,
            "GET",
            "/v1/acl/token/self",
            &[("X-Consul-Token", &unknown)],
            "",
        )),
    );
    // A forged STS request that carries a real session token: the journal must redact it.
    outputs.add(
        "AWS response to a forged signature",
        failed(http(
            aws,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Amz-Date", "20260101T000000Z"),
                ("X-Amz-Security-Token", &token),
                (
                    "Authorization",
                    &format!(
                        "AWS4-HMAC-SHA256 Credential={akid}/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature={}",
                        "0".repeat(64)
                    ),
                ),
            ],
            "Action=GetCallerIdentity&Version=2011-06-15",
        )),
    );
    // The reference client's logout of the good token.
    let out = Command::new(EXE)
        .arg("logout")
        .arg(format!("-http-addr=http://{}", relay.addr))
        .arg(format!("-token-file={}", sink.display()))
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    outputs.add("logout: stdout", out.stdout);
    outputs.add("logout: stderr", out.stderr);

    // The secrets handed out or sent: from the relay, then every token the server still has.
    let recorded = relay.recorded();
    for b in json_strings(&recorded, "BearerToken") {
        if let Ok(token) = serde_json::from_str::<Value>(&b)
            && let Some(h) = token["iam_request_headers"].as_str()
        {
            secrets.insert(Secret {
                kind: "bearer token iam_request_headers",
                value: h.to_string(),
            });
        }
        secrets.insert(Secret {
            kind: "bearer token",
            value: b,
        });
    }
    for id in json_strings(&recorded, "SecretID") {
        secrets.insert(Secret {
            kind: "SecretID",
            value: id,
        });
    }
    secrets.insert(Secret {
        kind: "SecretID",
        value: secret_id.trim().to_string(),
    });
    let list = http(
        consul,
        "GET",
        "/v1/acl/tokens",
        &[("X-Consul-Token", &mgmt)],
        "",
    );
    let accessors = json_strings(body_of(&list), "AccessorID");
    assert!(!accessors.is_empty(), "no tokens listed: {list}");
    for accessor in accessors {
        let read = http(
            consul,
            "GET",
            &format!("/v1/acl/token/{accessor}"),
            &[("X-Consul-Token", &mgmt)],
            "",
        );
        for id in json_strings(body_of(&read), "SecretID") {
            secrets.insert(Secret {
                kind: "SecretID",
                value: id,
            });
        }
    }
    assert!(
        secrets.iter().filter(|s| s.kind == "SecretID").count() >= 3,
        "too few SecretIDs: {secrets:?}"
    );

    // The ECS credentials endpoint: a grant's authorization token is a secret; a wrong one
    // and a missing one must not be echoed (the right one's answer is credentials by design).
    let grant = http(
        aws,
        "POST",
        "/_iamconform/ecs/grants",
        &[("Content-Type", "application/json")],
        r#"{"account":"123456789012","role":"web-task","session":"task-1"}"#,
    );
    let grant: Value = serde_json::from_str(body_of(&grant)).unwrap();
    let grant_token = grant["authorization_token"].as_str().unwrap().to_string();
    let grant_path = grant["full_uri"]
        .as_str()
        .unwrap()
        .split_once("/v2/")
        .map(|(_, p)| format!("/v2/{p}"))
        .unwrap();
    secrets.insert(Secret {
        kind: "ECS authorization token",
        value: grant_token.clone(),
    });
    let wrong_grant = format!("{}x", &grant_token[..grant_token.len() - 1]);
    outputs.add(
        "ECS answer to a wrong authorization token",
        failed(http(
            aws,
            "GET",
            &grant_path,
            &[("Authorization", &wrong_grant)],
            "",
        )),
    );
    let ok = http(
        aws,
        "GET",
        &grant_path,
        &[("Authorization", &grant_token)],
        "",
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");

    // `iamconform inspect` decodes bearer tokens to explain failures: its text and JSON must
    // explain without repeating the session token or the signature-bearing headers.
    let token_file = dir.path().join("bearer.json");
    for (label, token) in [("good", good.clone()), ("mangled", mangled.to_string())] {
        std::fs::write(&token_file, &token).unwrap();
        for json in [false, true] {
            let out = Command::new(EXE)
                .arg("inspect")
                .arg("--file")
                .arg(&token_file)
                .args(json.then_some("--json"))
                .output()
                .unwrap();
            let what = if json { "inspect --json" } else { "inspect" };
            outputs.add(format!("{what} of the {label} token: stdout"), out.stdout);
            outputs.add(format!("{what} of the {label} token: stderr"), out.stderr);
        }
    }

    // What serve wrote: the journal (admin API), the audit log, stderr, stdout after the
    // ready line.
    outputs.add(
        "AWS journal",
        http(aws, "GET", "/_iamconform/journal", &[], ""),
    );
    outputs.add("serve: stdout after the ready line", serve.stop());
    let audit = std::fs::read(dir.path().join("audit.log")).unwrap();
    assert!(
        String::from_utf8_lossy(&audit).contains("/v1/acl/login"),
        "the audit log recorded no login"
    );
    outputs.add("audit log", audit);
    outputs.add(
        "serve: stderr",
        std::fs::read(dir.path().join("serve.stderr")).unwrap(),
    );
    let secrets: Vec<Secret> = secrets.into_iter().collect();
    assert_no_hits(&secrets, &outputs);
}

#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! The suite's own test: the reference client with each deliberate bug
//! (`IAMCONFORM_MUTANT=<name>`, harness/login/src/mutant.rs) must fail at least one scenario,
//! with a failure message that names the bug's symptom. Prints the mutation score.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use iamconform_login::mutant::Mutant;
use serde_json::Value;

/// Per mutant: substrings (case-insensitive), one of which a failure must contain — the
/// symptom named in the mutant table, in the words of Consul, AWS or the runner.
const SYMPTOMS: &[(&str, &[&str])] = &[
    (
        "server-id-omitted",
        &[
            r#"missing header "X-Consul-IAM-ServerID""#,
            "sent no X-Consul-IAM-ServerID",
        ],
    ),
    (
        "server-id-unsigned",
        &[
            "header wasn't signed",
            "x-consul-iam-serverid is not signed",
            "present but not signed",
        ],
    ),
    ("server-id-wrong-value", &[r#"-wrong""#]),
    (
        "entity-headers-aws-spelling",
        &[r#"missing header "X-Consul-IAM-GetEntity-Method""#],
    ),
    (
        "entity-headers-lowercase",
        &[r#"missing header "X-Consul-IAM-GetEntity-Method""#],
    ),
    ("entity-wrong-role-name", &["NoSuchEntity"]),
    (
        "entity-getuser-for-role",
        &["the client embedded GetUser", "AccessDenied"],
    ),
    (
        "entity-unsigned",
        &["MissingAuthenticationToken", "missing Authorization header"],
    ),
    (
        "entity-server-id-missing",
        &[r#"missing header "X-Consul-IAM-ServerID""#],
    ),
    (
        "session-token-dropped",
        &["InvalidClientTokenId", "x-amz-security-token is not signed"],
    ),
    (
        "session-token-unsigned",
        &["x-amz-security-token is not signed"],
    ),
    (
        "signing-region-wrong",
        &["signing region", "scoped to a valid region"],
    ),
    (
        "signing-service-wrong",
        &["signing service", "scoped to correct service"],
    ),
    ("host-mismatch", &["SignatureDoesNotMatch"]),
    ("date-stale-16m", &["Signature expired"]),
    ("date-future-16m", &["Signature not yet current"]),
    ("body-action-misspelt", &["Action=[GetCallerIdentty]"]),
    (
        "body-extra-field",
        &[r#"unexpected field "DurationSeconds""#],
    ),
    ("sts-url-query", &["URL query parameters are not allowed"]),
    ("method-get", &["iam_http_request_method must be POST"]),
    ("base64url-encoding", &["base64"]),
    ("headers-json-not-base64", &["base64"]),
    ("content-length-wrong", &["SignatureDoesNotMatch"]),
    ("wrong-secret", &["SignatureDoesNotMatch"]),
    ("wrong-auth-method", &[r#"-x" not found"#]),
    ("meta-dropped", &["Description: expected"]),
    ("token-sink-trailing-newline", &["trailing newline"]),
    ("logout-skipped", &["should be gone"]),
    ("logout-skip-second", &["should be gone"]),
    ("logout-wrong-token", &["ACL not found"]),
];

/// Mutant runs at once; each run itself uses two scenario jobs.
const PARALLEL_MUTANTS: usize = 3;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// What one failed scenario said, flattened for the symptom search.
struct Failure {
    scenario: String,
    text: String,
}

/// Runs the suite with one mutant; returns the failed scenarios.
fn run_suite(mutant: &str, fail_fast: bool, dir: &Path) -> Vec<Failure> {
    let root = workspace();
    let json = dir.join(format!("{mutant}-{fail_fast}.json"));
    let state = dir.join(format!("{mutant}-{fail_fast}-state"));
    std::fs::create_dir_all(&state).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamconform"));
    cmd.current_dir(&root)
        .arg("run")
        .arg(root.join("scenarios"))
        .args(["--jobs", "2", "--json"])
        .arg(&json)
        .env("IAMCONFORM_MUTANT", mutant)
        .env("IAMCONFORM_MUTANT_STATE_DIR", &state);
    if fail_fast {
        cmd.arg("--fail-fast");
    }
    let out = cmd.output().unwrap();
    let text = std::fs::read_to_string(&json)
        .map_err(|e| {
            format!(
                "mutant {mutant}: no JSON report ({e}):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "failed")
        .map(|s| {
            let f = &s["failure"];
            let mut text = String::new();
            for key in ["problems", "diagnosis"] {
                for line in f[key].as_array().into_iter().flatten() {
                    text.push_str(line.as_str().unwrap_or_default());
                    text.push('\n');
                }
            }
            for step in s["steps"].as_array().into_iter().flatten() {
                for key in ["stdout", "stderr"] {
                    text.push_str(step[key].as_str().unwrap_or_default());
                    text.push('\n');
                }
            }
            Failure {
                scenario: s["id"].as_str().unwrap_or_default().to_string(),
                text,
            }
        })
        .collect()
}

/// The first failure naming a symptom: (scenario, symptom).
fn named(failures: &[Failure], symptoms: &[&str]) -> Option<(String, String)> {
    failures.iter().find_map(|f| {
        let text = f.text.to_lowercase();
        symptoms
            .iter()
            .find(|s| text.contains(&s.to_lowercase()))
            .map(|s| (f.scenario.clone(), (*s).to_string()))
    })
}

enum Verdict {
    /// Killed, with the scenario and the symptom its message names.
    Killed(String, String),
    /// Scenarios failed, but none names the symptom.
    Unnamed(Vec<String>),
    /// Every scenario passed.
    Survived,
}

fn judge(mutant: &str, symptoms: &[&str], dir: &Path) -> Verdict {
    // Stopping at the first failure keeps 30 runs of the suite fast; when that failure does not
    // name the symptom, the whole suite is searched.
    let quick = run_suite(mutant, true, dir);
    if let Some((scenario, symptom)) = named(&quick, symptoms) {
        return Verdict::Killed(scenario, symptom);
    }
    let full = run_suite(mutant, false, dir);
    if let Some((scenario, symptom)) = named(&full, symptoms) {
        return Verdict::Killed(scenario, symptom);
    }
    if full.is_empty() && quick.is_empty() {
        Verdict::Survived
    } else {
        Verdict::Unnamed(
            full.iter()
                .chain(&quick)
                .map(|f| format!("{}: {}", f.scenario, f.text.trim()))
                .collect(),
        )
    }
}

#[test]
fn the_symptom_table_covers_every_mutant() {
    let table: Vec<&str> = SYMPTOMS.iter().map(|(m, _)| *m).collect();
    let all: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        table, all,
        "SYMPTOMS must list every mutant of harness/login/src/mutant.rs, in order"
    );
}

#[test]
fn every_mutant_fails_a_scenario_that_names_its_symptom() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Mutex::new(SYMPTOMS.to_vec()));
    let results = Arc::new(Mutex::new(BTreeMap::new()));
    let workers: Vec<_> = (0..PARALLEL_MUTANTS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                loop {
                    let Some((mutant, symptoms)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let verdict = judge(mutant, symptoms, &dir);
                    results.lock().unwrap().insert(mutant, verdict);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let results = results.lock().unwrap();

    let mut killed = 0;
    let mut problems = Vec::new();
    println!(
        "{:<28} {:<8} first failing scenario (symptom named)",
        "mutant", "verdict"
    );
    for (mutant, _) in SYMPTOMS {
        match &results[mutant] {
            Verdict::Killed(scenario, symptom) => {
                killed += 1;
                println!("{mutant:<28} {:<8} {scenario} ({symptom})", "killed");
            }
            Verdict::Unnamed(failures) => {
                println!(
                    "{mutant:<28} {:<8} failures do not name the symptom",
                    "unnamed"
                );
                problems.push(format!(
                    "{mutant}: no failure names its symptom {:?}:\n{}",
                    symptoms_of(mutant),
                    failures.join("\n")
                ));
            }
            Verdict::Survived => {
                println!("{mutant:<28} {:<8} every scenario passed", "SURVIVED");
                problems.push(format!("{mutant}: survived the whole suite"));
            }
        }
    }
    let total = SYMPTOMS.len();
    println!(
        "mutation score: {killed}/{total} ({}%)",
        killed * 100 / total
    );
    assert!(
        problems.is_empty(),
        "mutation score {killed}/{total}:\n{}",
        problems.join("\n\n")
    );
}

fn symptoms_of(mutant: &str) -> &'static [&'static str] {
    SYMPTOMS
        .iter()
        .find(|(m, _)| *m == mutant)
        .map(|(_, s)| *s)
        .unwrap_or_default()
}

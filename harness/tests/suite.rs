#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! The conformance suite (`scenarios/`) passes 100% with the reference client on the embedded
//! backend: one `iamconform run` over every scenario folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Every scenario folder the suite must have (docs/suite.md lists what each proves).
const FOLDERS: [&str; 7] = [
    "login",
    "logout",
    "wildcards",
    "server-id",
    "namespaces",
    "audit",
    "aws",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `iamconform run [extra] scenarios/ --json …`, which must succeed: its JSON report and stdout.
fn run_suite(extra: &[&str]) -> (Value, String) {
    let root = workspace();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_iamconform"))
        .current_dir(&root)
        .arg("run")
        .args(extra)
        .arg(root.join("scenarios"))
        .arg("--json")
        .arg(&json)
        .env_remove("IAMCONFORM_MUTANT")
        .env_remove("IAMCONFORM_MUTANT_STATE_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "iamconform run failed:\n{stdout}\n{stderr}"
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (report, stdout)
}

#[test]
fn the_whole_suite_passes_with_the_reference_client() {
    let (report, stdout) = run_suite(&[]);
    let totals = &report["totals"];
    assert_eq!(totals["failed"], 0, "{stdout}");
    assert_eq!(
        totals["skipped"], 0,
        "every scenario runs on the embedded backend:\n{stdout}"
    );
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(totals["passed"].as_u64().unwrap() as usize, scenarios.len());

    for folder in FOLDERS {
        let n = scenarios
            .iter()
            .filter(|s| s["id"].as_str().unwrap().contains(&format!("{folder}/")))
            .count();
        assert!(n >= 2, "folder scenarios/{folder} has {n} scenarios");
    }
    println!(
        "suite: {} scenarios passed in {} ms",
        scenarios.len(),
        report["duration_ms"]
    );
}

/// Against Enterprise (`--enterprise`) every scenario passes except those about CE's own
/// behaviour (`consul.enterprise: false`), which are skipped with the reason.
#[test]
fn the_suite_as_enterprise_skips_exactly_the_ce_scenarios() {
    let (report, stdout) = run_suite(&["--enterprise"]);
    let skipped: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "skipped")
        .map(|s| {
            assert!(
                s["skip_reason"]
                    .as_str()
                    .unwrap()
                    .contains("run without --enterprise"),
                "{s}"
            );
            s["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(report["totals"]["failed"], 0, "{stdout}");
    assert_eq!(
        skipped,
        ["namespaces/ce-refuses-namespaces.yaml"],
        "{stdout}"
    );
}

#[test]
fn every_scenario_folder_is_documented() {
    let root = workspace();
    let docs = std::fs::read_to_string(root.join("docs/suite.md")).unwrap();
    for entry in std::fs::read_dir(root.join("scenarios")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                docs.contains(&format!("`scenarios/{name}/`")),
                "docs/suite.md does not describe scenarios/{name}/"
            );
            assert!(
                FOLDERS.contains(&name.as_str()),
                "new folder scenarios/{name}: add it to FOLDERS"
            );
            for file in std::fs::read_dir(entry.path()).unwrap() {
                let file = file.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    docs.contains(&format!("`{file}`")),
                    "docs/suite.md does not list scenarios/{name}/{file}"
                );
            }
        }
    }
}

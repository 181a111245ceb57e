//! `iamconform run`, `lint` and `serve` as a user runs them: the real binary on fixture
//! scenarios under tests/data.
#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981: tests/ ignores clippy.toml

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::serve::Serve;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iamconform"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("IAMCONFORM_MUTANT");
    c
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().arg("run").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn passing_scenario_exits_zero_with_the_closing_line() {
    let out = run(&[data("pass").to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.trim_end()
            .ends_with("iamconform: 1 passed, 0 failed, 0 skipped"),
        "{t}"
    );
}

#[test]
fn wrong_expectation_fails_with_a_readable_diff() {
    let out = run(&[data("fail").to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(100), "{t}");
    assert!(t.contains("FAIL"), "{t}");
    assert!(
        t.contains("step 1 (line 7): login as web-task/task-1 to iam-ecs-service-token"),
        "{t}"
    );
    assert!(
        t.contains(r#"token: ServiceIdentities[0].ServiceName: expected "not-web", found "web""#),
        "{t}"
    );
    assert!(
        t.contains("iamconform: 0 passed, 1 failed, 0 skipped"),
        "{t}"
    );
}

#[test]
fn unmet_requirement_skips_with_the_reason() {
    let out = run(&[data("skip").to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("SKIP") && t.contains("requires docker: run with --backend docker"),
        "{t}"
    );
    assert!(
        t.contains("iamconform: 0 passed, 0 failed, 1 skipped"),
        "{t}"
    );
}

#[test]
fn nothing_selected_exits_four() {
    let out = run(&[
        data("pass").to_str().unwrap(),
        "--filter",
        "tag:no-such-tag",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
}

#[test]
fn invalid_files_exit_two_with_file_line_col() {
    let out = run(&[data("invalid").to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("bad.yaml:4:"), "{t}");
    let lint = bin().arg("lint").arg(data("invalid")).output().unwrap();
    assert_eq!(lint.status.code(), Some(2));
    assert!(text(&lint).contains("bad.yaml:4:"), "{}", text(&lint));
}

#[test]
fn usage_errors_exit_two() {
    let out = run(&["--client", "no-such-client"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("neither a preset"), "{}", text(&out));
    let out = run(&["--shard", "3/2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn junit_and_json_reports() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("report.json");
    let out = run(&[
        data("pass").to_str().unwrap(),
        data("fail").to_str().unwrap(),
        data("skip").to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="3""#)
            && xml.contains(r#"failures="1""#)
            && xml.contains(r#"skipped="1""#),
        "{xml}"
    );
    assert!(xml.contains("requires docker"), "{xml}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(
        report["totals"],
        serde_json::json!({"passed": 1, "failed": 1, "skipped": 1})
    );
    let failed = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["outcome"] == "failed")
        .unwrap();
    assert_eq!(failed["failure"]["step"], 1);
    // No seeded secret reaches a report.
    let fixtures = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/identities.yaml"),
    )
    .unwrap();
    for line in fixtures.lines() {
        if let Some(secret) = line.trim().strip_prefix("secret_access_key: ") {
            let secret = secret.trim_matches('"');
            assert!(!xml.contains(secret) && !report.to_string().contains(secret));
        }
    }
}

#[test]
fn serve_prints_one_ready_line_and_stops_on_sigterm() {
    let serve = Serve::start(&["--consul-preset", "fixtures/consul-ecs.yaml"]);
    for key in [
        "sts",
        "iam",
        "ecs_credentials",
        "consul",
        "consul_management_token",
    ] {
        assert!(
            serve.ready[key].is_string(),
            "{key} missing in {}",
            serve.ready
        );
    }
    let consul = serve.ready["consul"].as_str().unwrap();
    assert!(consul.starts_with("http://127.0.0.1:"), "{consul}");
    // The preset is loaded and the management token works.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resp = rt
        .block_on(serve.consul().send(
            "GET",
            "/v1/acl/auth-method/iam-ecs-service-token",
            Some(&serve.management()),
            None,
        ))
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body);
    serve.stop();
}

#[test]
fn serve_journal_capacity_bounds_the_ring_and_counts_what_it_drops() {
    let serve = Serve::start(&["--no-consul", "--journal-capacity", "2"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = iamconform::http::ConsulHttp::new(&format!("http://{}", serve.aws_addr()));
    let journal = rt.block_on(async {
        // Three unsigned requests: each is answered (403) and journalled.
        for _ in 0..3 {
            let resp = http
                .send(
                    "GET",
                    "/?Action=GetCallerIdentity&Version=2011-06-15",
                    None,
                    None,
                )
                .await
                .unwrap();
            assert_eq!(resp.status, 403, "{}", resp.body);
        }
        http.send("GET", "/_iamconform/journal", None, None)
            .await
            .unwrap()
    });
    assert_eq!(journal.status, 200, "{}", journal.body);
    let j: serde_json::Value = serde_json::from_str(&journal.body).unwrap();
    assert_eq!(j["capacity"], 2, "{j}");
    assert_eq!(j["dropped"], 1, "{j}");
    assert_eq!(j["last_seq"], 3, "{j}");
    let seqs: Vec<u64> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3]);
}

#[test]
fn serve_refuses_a_zero_journal_capacity() {
    let out = bin()
        .args(["serve", "--no-consul", "--journal-capacity", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--journal-capacity"), "{}", text(&out));
}

#[test]
fn serve_refuses_non_loopback_without_the_flag() {
    let out = bin()
        .args(["serve", "--listen", "0.0.0.0:0", "--no-consul"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--allow-remote"), "{}", text(&out));
}

//! `iamconform serve --state-dir`: nothing acknowledged is lost, even to `kill -9`.
//!
//! The real binary is started on loopback, objects are created through the HTTP API, and
//! parallel logins (real SigV4 bearer tokens, as in `concurrency.rs`) and logouts run while the
//! process is killed with SIGKILL. A restart with the same directory must hold every token and
//! object whose response was a 200, none of the tokens whose logout was a 200, the same
//! management token, and an index that continues past everything acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981: tests/ ignores clippy.toml

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use iamconform::http::ConsulHttp;
use iamconform_secret::Secret;
use serde_json::{Value, json};
use tokio::sync::Notify;

use common::serve::{Serve, bin, command};

const METHOD: &str = "iam-ecs-service-token";

fn login_body(bearer: &Secret<String>) -> Value {
    json!({"AuthMethod": METHOD, "BearerToken": bearer.expose()})
}

async fn ok(
    http: &ConsulHttp,
    method: &str,
    path: &str,
    token: &Secret<String>,
    body: Option<&Value>,
) -> Value {
    let r = http.send(method, path, Some(token), body).await.unwrap();
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    r.json().unwrap_or(Value::Null)
}

async fn login(http: &ConsulHttp, bearer: &Secret<String>) -> Value {
    let r = http
        .send("POST", "/v1/acl/login", None, Some(&login_body(bearer)))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "login: {}", r.body);
    r.json().unwrap()
}

/// A login answered 200, and what happened to its logout.
#[derive(Debug, Clone)]
struct Acked {
    accessor: String,
    secret: Secret<String>,
    create_index: u64,
    logout: Logout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logout {
    /// Never attempted: the token must exist after the restart.
    None,
    /// Answered 200: the token must be gone after the restart.
    Acked,
    /// Sent but unanswered (the kill came first): either outcome is allowed.
    InFlight,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_that_was_acknowledged() {
    const WORKERS: usize = 12;
    const BEFORE: usize = 40;
    const KILL_AFTER: usize = 120;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("consul-state");
    let state_arg = state.to_str().unwrap();
    let first = Serve::start(&[
        "--state-dir",
        state_arg,
        "--consul-preset",
        "fixtures/consul-ecs.yaml",
    ]);
    assert_eq!(first.ready["consul_restored"], false);
    assert_eq!(
        first.ready["consul_state_file"],
        state.join("state.json").display().to_string()
    );
    let management = first.management();
    let http = first.consul();
    let bearers = common::web_task_bearer_tokens(first.aws_addr(), 4).await;

    // Objects of every kind the API writes, kept as the API renders them.
    let policy = ok(
        &http,
        "PUT",
        "/v1/acl/policy",
        &management,
        Some(&json!({"Name": "durable-policy", "Rules": "key_prefix \"\" { policy = \"read\" }"})),
    )
    .await;
    let role = ok(
        &http,
        "PUT",
        "/v1/acl/role",
        &management,
        Some(&json!({"Name": "durable-role", "Policies": [{"Name": "durable-policy"}]})),
    )
    .await;
    let token = ok(&http, "PUT", "/v1/acl/token", &management, Some(&json!({"Description": "expires", "Roles": [{"Name": "durable-role"}], "ExpirationTTL": "10m"}))).await;
    let rule = ok(&http, "PUT", "/v1/acl/binding-rule", &management, Some(&json!({"AuthMethod": METHOD, "BindType": "role", "BindName": "durable-role", "Selector": "entity_name == \"nobody\""}))).await;
    let deleted = ok(
        &http,
        "PUT",
        "/v1/acl/policy",
        &management,
        Some(&json!({"Name": "deleted-policy"})),
    )
    .await;
    let deleted_id = deleted["ID"].as_str().unwrap().to_string();
    ok(
        &http,
        "DELETE",
        &format!("/v1/acl/policy/{deleted_id}"),
        &management,
        None,
    )
    .await;
    let reads = [
        format!("/v1/acl/policy/{}", policy["ID"].as_str().unwrap()),
        format!("/v1/acl/role/{}", role["ID"].as_str().unwrap()),
        format!("/v1/acl/token/{}", token["AccessorID"].as_str().unwrap()),
        format!("/v1/acl/binding-rule/{}", rule["ID"].as_str().unwrap()),
        format!("/v1/acl/auth-method/{METHOD}"),
    ];
    let mut before = Vec::new();
    for path in &reads {
        before.push(ok(&http, "GET", path, &management, None).await);
    }

    // Phase 1: logins and logouts that all finish before the kill.
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    for i in 0..BEFORE {
        let t = login(&http, &bearers[i % bearers.len()]).await;
        let secret = Secret::new(t["SecretID"].as_str().unwrap().to_string());
        let logout = if i % 2 == 0 {
            let r = http
                .send("POST", "/v1/acl/logout", Some(&secret), None)
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            Logout::Acked
        } else {
            Logout::None
        };
        acked.lock().unwrap().push(Acked {
            accessor: t["AccessorID"].as_str().unwrap().to_string(),
            secret,
            create_index: t["CreateIndex"].as_u64().unwrap(),
            logout,
        });
    }

    // Phase 2: parallel logins and logouts, killed with SIGKILL while requests are in flight.
    let done = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (http, acked, done, enough) =
            (http.clone(), acked.clone(), done.clone(), enough.clone());
        let bearer = bearers[w % bearers.len()].clone();
        workers.push(tokio::spawn(async move {
            for i in 0usize.. {
                // A transport error means the process is gone; a status is always an answer.
                let Ok(r) = http
                    .send("POST", "/v1/acl/login", None, Some(&login_body(&bearer)))
                    .await
                else {
                    return;
                };
                assert_eq!(r.status, 200, "{}", r.body);
                let t = r.json().unwrap();
                let secret = Secret::new(t["SecretID"].as_str().unwrap().to_string());
                let mut entry = Acked {
                    accessor: t["AccessorID"].as_str().unwrap().to_string(),
                    secret: secret.clone(),
                    create_index: t["CreateIndex"].as_u64().unwrap(),
                    logout: Logout::None,
                };
                let log_out = i % 3 == 0;
                if log_out {
                    entry.logout = Logout::InFlight;
                }
                let slot = {
                    let mut a = acked.lock().unwrap();
                    a.push(entry);
                    a.len() - 1
                };
                if log_out {
                    let Ok(r) = http
                        .send("POST", "/v1/acl/logout", Some(&secret), None)
                        .await
                    else {
                        return;
                    };
                    assert_eq!(r.status, 200, "{}", r.body);
                    acked.lock().unwrap()[slot].logout = Logout::Acked;
                }
                if done.fetch_add(1, Ordering::SeqCst) + 1 >= KILL_AFTER {
                    enough.notify_one();
                }
            }
        }));
    }
    enough.notified().await;
    first.kill9();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= BEFORE + KILL_AFTER);

    // The restart: same directory, same flags (the preset must not be applied again).
    let second = Serve::start(&[
        "--state-dir",
        state_arg,
        "--consul-preset",
        "fixtures/consul-ecs.yaml",
    ]);
    assert_eq!(second.ready["consul_restored"], true);
    assert_eq!(
        second.management(),
        management,
        "the restored management token is kept"
    );
    let http = second.consul();
    for (path, want) in reads.iter().zip(&before) {
        assert_eq!(
            &ok(&http, "GET", path, &management, None).await,
            want,
            "{path}"
        );
    }
    let gone = http
        .send(
            "GET",
            &format!("/v1/acl/policy/{deleted_id}"),
            Some(&management),
            None,
        )
        .await
        .unwrap();
    assert_eq!(gone.status, 404, "{}", gone.body);
    let methods = ok(&http, "GET", "/v1/acl/auth-methods", &management, None).await;
    assert_eq!(
        methods.as_array().unwrap().len(),
        2,
        "the preset was not applied twice"
    );

    let mut checked = (0, 0);
    for a in &acked {
        let r = http
            .send(
                "GET",
                &format!("/v1/acl/token/{}", a.accessor),
                Some(&management),
                None,
            )
            .await
            .unwrap();
        match a.logout {
            Logout::None => {
                assert_eq!(
                    r.status, 200,
                    "acknowledged token {} lost: {}",
                    a.accessor, r.body
                );
                let t = r.json().unwrap();
                assert_eq!(t["SecretID"], a.secret.expose().as_str());
                assert_eq!(t["CreateIndex"], a.create_index);
                // Its SecretID still works.
                let me = http
                    .send("GET", "/v1/acl/token/self", Some(&a.secret), None)
                    .await
                    .unwrap();
                assert_eq!(me.status, 200, "{}", me.body);
                checked.0 += 1;
            }
            Logout::Acked => {
                assert_eq!(
                    r.status, 404,
                    "logged-out token {} is back: {}",
                    a.accessor, r.body
                );
                checked.1 += 1;
            }
            Logout::InFlight => assert!(r.status == 200 || r.status == 404, "{}", r.body),
        }
    }
    assert!(checked.0 > 0 && checked.1 > 0, "{checked:?}");

    // Logins work after the restart (validators rebuilt, now pointing at the new AWS
    // emulator) and the index continues past everything acknowledged.
    let highest = acked.iter().map(|a| a.create_index).max().unwrap();
    let t = login(&http, &bearers[0]).await;
    assert!(
        t["CreateIndex"].as_u64().unwrap() > highest,
        "{} <= {highest}",
        t["CreateIndex"]
    );
    second.stop();
}

#[test]
fn a_damaged_state_file_stops_serve_with_a_one_line_error_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    std::fs::write(&file, "{\"format\":1,\"enterprise\":fal").unwrap();
    let out = bin()
        .args(["serve", "--state-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().last().unwrap();
    assert!(
        line.starts_with(&format!(
            "iamconform serve: state file {}: cannot restore: not a valid state document: ",
            file.display()
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no ready line");
    // Nothing was overwritten.
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"format\":1,\"enterprise\":fal"
    );

    std::fs::write(&file, "{\"format\":7}").unwrap();
    let out = bin()
        .args(["serve", "--state-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown format 7 (this iamconform reads format 1)"),
        "{err}"
    );
}

#[test]
fn a_state_dir_is_used_by_one_serve_in_one_mode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let first = Serve::start(&["--state-dir", d]);
    // A second serve on the same directory is refused while the first runs.
    let out = bin().args(["serve", "--state-dir", d]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another iamconform serve"), "{err}");
    first.stop();
    // CE state under --enterprise: a clear error, not a silent conversion.
    let out = bin()
        .args(["serve", "--state-dir", d, "--enterprise"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds Consul CE state but this server runs as Consul Enterprise"),
        "{err}"
    );
    // An explicit management token on a restart is honoured like Consul's
    // acl.tokens.initial_management: created when missing, printed in the ready line.
    let given = "5b1f1e0c-2a3b-4c5d-8e9f-0a1b2c3d4e5f";
    let again = Serve::start(&["--state-dir", d, "--management-token", given]);
    assert_eq!(again.ready["consul_restored"], true);
    assert_eq!(again.ready["consul_management_token"], given);
    again.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_cannot_be_saved_is_refused_with_a_500_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&["--state-dir", dir.path().to_str().unwrap()]);
    let http = serve.consul();
    let management = serve.management();
    // A directory where the temporary file goes makes every save fail, even for root.
    std::fs::create_dir(dir.path().join("state.json.tmp")).unwrap();
    let body = json!({"Name": "unsaved"});
    let r = http
        .send("PUT", "/v1/acl/policy", Some(&management), Some(&body))
        .await
        .unwrap();
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.body
            .contains(&dir.path().join("state.json").display().to_string()),
        "{}",
        r.body
    );
    assert!(r.body.contains("os error"), "{}", r.body);
    // Rolled back: the refused policy does not exist, and the next write works.
    let r = http
        .send(
            "GET",
            "/v1/acl/policy/name/unsaved",
            Some(&management),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    std::fs::remove_dir(dir.path().join("state.json.tmp")).unwrap();
    ok(&http, "PUT", "/v1/acl/policy", &management, Some(&body)).await;
    serve.stop();
}

/// The cost of durability: logins/s without and with `--state-dir` (one fsync per login).
/// A measurement, not a check: `cargo test -p iamconform --test durability -- --ignored --nocapture`
/// (set `IAMCONFORM_MEASURE_BIN=target/release/iamconform` to measure a release build).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "measurement; prints figures, asserts none"]
async fn measure_login_throughput_with_and_without_state_dir() {
    const LOGINS: usize = 400;
    const PARALLEL: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    for durable in [false, true] {
        let d = dir.path().join(if durable { "on" } else { "off" });
        let mut args = vec!["--consul-preset", "fixtures/consul-ecs.yaml"];
        if durable {
            args.extend(["--state-dir", d.to_str().unwrap()]);
        }
        // A release build can be measured with `IAMCONFORM_MEASURE_BIN=target/release/iamconform`.
        let exe = std::env::var("IAMCONFORM_MEASURE_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_iamconform").to_string());
        let serve = Serve::spawn(command(&exe), &args);
        let http = serve.consul();
        let bearers = common::web_task_bearer_tokens(serve.aws_addr(), 4).await;
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..PARALLEL {
            let (http, next) = (http.clone(), next.clone());
            let bearer = bearers[w % bearers.len()].clone();
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < LOGINS {
                    let r = http
                        .send("POST", "/v1/acl/login", None, Some(&login_body(&bearer)))
                        .await
                        .unwrap();
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "state-dir {}: {LOGINS} logins, {PARALLEL} in parallel: {secs:.2} s, {:.0} logins/s",
            if durable { "on " } else { "off" },
            f64::from(u32::try_from(LOGINS).unwrap()) / secs
        );
        serve.stop();
    }
}

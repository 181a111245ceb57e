//! Many clients at once, end to end: 1,000 logins with real SigV4 bearer tokens through the
//! embedded Consul (Enterprise, audit on) to the AWS emulator over loopback sockets, half of
//! them logged out again. Nothing may be lost or duplicated: exactly the expected tokens are
//! left, every logged-out token is gone, the audit log holds exactly two intact JSON lines per
//! request, and the AWS journal has an entry for every STS and IAM request Consul forwarded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981: tests/ ignores clippy.toml

mod common;

use std::collections::BTreeSet;

use iamconform::http::ConsulHttp;
use iamconform_aws::{AwsConfig, AwsState, DEFAULT_ADDR, IdentityStore};
use iamconform_consul::authmethod::aws_iam::Outbound;
use iamconform_consul::{AuditConfig, ConsulConfig, RunningConsul, Setup};
use iamconform_secret::Secret;

const LOGINS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_parallel_logins_and_logouts_lose_nothing() {
    let store = IdentityStore::shipped().unwrap();
    let aws = iamconform_aws::bind(AwsState::new(store, AwsConfig::default()), DEFAULT_ADDR)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.json");
    let management = Secret::new(uuid::Uuid::new_v4().to_string());
    let consul = RunningConsul::start(ConsulConfig {
        enterprise: true,
        initial_management_token: Some(management.clone()),
        outbound: Outbound {
            aws_endpoint: Some(aws.base_url()),
            ..Outbound::default()
        },
        audit: Some(AuditConfig {
            path: audit.clone(),
        }),
        ..ConsulConfig::default()
    })
    .await
    .unwrap();
    let preset = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/consul-ecs.yaml"
    ))
    .unwrap();
    consul
        .state
        .apply_setup(&Setup::from_yaml(&preset).unwrap())
        .unwrap();

    let tokens = common::web_task_bearer_tokens(aws.addr, 4).await;
    let journal_before = aws.state.journal().last_seq();

    let http = ConsulHttp::new(&consul.url());
    let mut tasks = Vec::new();
    for i in 0..LOGINS {
        let http = http.clone();
        let token = tokens[i % tokens.len()].clone();
        tasks.push(tokio::spawn(async move {
            let body = serde_json::json!({
                "AuthMethod": "iam-ecs-service-token",
                "BearerToken": token.expose(),
                "Meta": {"i": i.to_string()},
            });
            let r = http
                .send("POST", "/v1/acl/login", None, Some(&body))
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            let t = r.json().unwrap();
            let accessor = t["AccessorID"].as_str().unwrap().to_string();
            let secret = Secret::new(t["SecretID"].as_str().unwrap().to_string());
            if i % 2 == 0 {
                let out = http
                    .send("POST", "/v1/acl/logout", Some(&secret), None)
                    .await
                    .unwrap();
                assert_eq!(out.status, 200, "{}", out.body);
                // Logout is final: the token is gone and a second logout is refused.
                let again = http
                    .send("POST", "/v1/acl/logout", Some(&secret), None)
                    .await
                    .unwrap();
                assert_eq!(again.status, 403, "{}", again.body);
                (accessor, false)
            } else {
                (accessor, true)
            }
        }));
    }
    let mut kept = BTreeSet::new();
    let mut all = BTreeSet::new();
    for t in tasks {
        let (accessor, live) = t.await.unwrap();
        assert!(
            all.insert(accessor.clone()),
            "accessor {accessor} issued twice"
        );
        if live {
            kept.insert(accessor);
        }
    }
    assert_eq!(all.len(), LOGINS);
    let live: BTreeSet<String> = consul
        .state
        .store
        .login_token_accessors()
        .into_iter()
        .collect();
    assert_eq!(live, kept, "exactly the tokens not logged out are left");

    // Every login made Consul forward one STS and one IAM request; none is missing.
    let forwarded = aws.state.journal().entries_since(journal_before);
    assert_eq!(aws.state.journal().dropped(), 0);
    let sts = forwarded
        .iter()
        .filter(|e| e.action.as_deref() == Some("GetCallerIdentity"))
        .count();
    let iam = forwarded
        .iter()
        .filter(|e| e.action.as_deref() == Some("GetRole"))
        .count();
    assert_eq!((sts, iam), (LOGINS, LOGINS));

    // Two intact JSON lines per HTTP request: logins, logouts and the refused second logouts.
    let requests = LOGINS + 2 * (LOGINS / 2);
    consul.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2 * requests);
    let stages = |stage: &str| {
        lines
            .iter()
            .filter(|l| l["payload"]["stage"] == stage)
            .count()
    };
    assert_eq!(
        (stages("OperationStart"), stages("OperationComplete")),
        (requests, requests)
    );
    for t in &tokens {
        assert!(
            !text.contains(t.expose().as_str()),
            "a bearer token reached the audit log"
        );
    }
    assert!(!text.contains(management.expose().as_str()));
}

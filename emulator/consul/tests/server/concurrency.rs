use std::collections::BTreeSet;

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_logins_and_logouts_leave_exactly_the_right_tokens() {
    const N: usize = 240;
    let stub = start_stub().await;
    let (state, app) = consul_ecs(&stub).await;
    let mut tasks = Vec::new();
    for i in 0..N {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let method = if i % 3 == 0 {
                "iam-ecs-client-token"
            } else {
                "iam-ecs-service-token"
            };
            let r = login(&app, method, "AKIDWEB", json!({"i": i.to_string()})).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let tok = r.json();
            let accessor = tok["AccessorID"].as_str().unwrap().to_string();
            if i % 2 == 0 {
                let secret = tok["SecretID"].as_str().unwrap();
                let out = call(&app, "POST", "/v1/acl/logout", Some(secret), None).await;
                assert_eq!(out.status, 200, "{}", out.body);
                None
            } else {
                Some(accessor)
            }
        }));
    }
    let mut kept = BTreeSet::new();
    for t in tasks {
        if let Some(a) = t.await.unwrap() {
            kept.insert(a);
        }
    }
    assert_eq!(kept.len(), N / 2);
    let live: BTreeSet<String> = state.store.login_token_accessors().into_iter().collect();
    assert_eq!(live, kept);
    let listed = call(&app, "GET", "/v1/acl/tokens", Some(MGMT), None)
        .await
        .json();
    let from_logins = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t.get("AuthMethod").is_some())
        .count();
    assert_eq!(from_logins, N / 2);
}

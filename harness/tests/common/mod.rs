//! What several integration tests share: real bearer tokens of a fixture identity, and
//! `iamconform serve` started as a user starts it.
// Each test crate compiles this module and uses a different part of it.
#![allow(dead_code)]

pub(crate) mod serve;

use std::net::SocketAddr;
use std::time::SystemTime;

use iamconform_aws::{IdentityStore, Principal};
use iamconform_login::{AwsCredentials, LoginInput, Network, generate_bearer_token};
use iamconform_secret::Secret;

/// `n` bearer tokens of `web-task/task-1` (the consul-ecs preset's service task), entity
/// details included, signed now against the AWS emulator at `aws`. A token may be replayed
/// for 15 minutes, so a few distinct ones serve any number of logins.
pub(crate) async fn web_task_bearer_tokens(aws: SocketAddr, n: usize) -> Vec<Secret<String>> {
    let store = IdentityStore::shipped().unwrap();
    let web = store
        .credentials()
        .into_iter()
        .find(|c| {
            matches!(&c.principal, Principal::AssumedRole { role, session }
                if role.name == "web-task" && session == "task-1")
        })
        .unwrap();
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        let mut input = LoginInput::new(
            AwsCredentials::from_flags(
                &web.access_key_id,
                web.secret_access_key.clone(),
                web.session_token.clone(),
            ),
            "us-east-1",
        );
        input.include_entity = true;
        input.now = SystemTime::now();
        input.network = Network::with_aws_redirect(aws).unwrap();
        tokens.push(generate_bearer_token(&input).await.unwrap());
    }
    tokens
}

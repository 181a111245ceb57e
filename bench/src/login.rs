//! The aws-iam login fixture: a bearer token as consul-ecs's `consul login` makes it, and the
//! Consul emulator's validator for the `iam-ecs-service-token` method, replaying to the AWS
//! emulator on loopback (which verifies both signed requests against the shipped identities).

use iamconform_aws::{AwsConfig, AwsState, DEFAULT_ADDR, IdentityStore, RunningAws};
use iamconform_consul::authmethod::aws_iam::{Outbound, Validator, parse_config};
use iamconform_login::{AwsCredentials, LoginInput, Network, generate_bearer_token};
use iamconform_secret::Secret;
use iamconform_sigv4::CredentialLookup;
use serde_json::json;

use crate::FixtureError;

/// The web task role's temporary key in the shipped identities (`fixtures/identities.yaml`).
pub const WEB_TASK_KEY: &str = "ASIAEXAMPLEWEBTASK01";
/// The server-id header value the token carries and the method requires.
pub const SERVER_ID: &str = "consul.bench.example";

/// Everything one aws-iam login needs, set up once.
#[derive(Debug)]
pub struct AwsIamLogin {
    /// The AWS emulator (shipped identities) on 127.0.0.1 that the validator replays to.
    pub aws: RunningAws,
    /// A validator with the `iam-ecs-service-token` method's config of
    /// `fixtures/consul-ecs.yaml` (entity details, three tags) plus [`SERVER_ID`].
    pub validator: Validator,
    /// A bearer token as `consul login -type aws-iam -aws-include-entity
    /// -aws-server-id-header-value` makes it, signed now with [`WEB_TASK_KEY`] (valid for the
    /// 15 minutes AWS allows between signing and replay).
    pub bearer_token: Secret<String>,
}

fn login_error(e: impl std::fmt::Display) -> FixtureError {
    FixtureError::Login(e.to_string())
}

/// Starts the AWS emulator, signs a token with the reference client (its include-entity step
/// asks the emulator's STS who the key is) and builds the validator. Needs a tokio runtime
/// that keeps running while the fixture is used: the emulator is served on it.
pub async fn aws_iam_login() -> Result<AwsIamLogin, FixtureError> {
    let store = IdentityStore::shipped().map_err(login_error)?;
    let key = store
        .lookup(WEB_TASK_KEY)
        .ok_or_else(|| login_error(format!("{WEB_TASK_KEY} is not in the shipped identities")))?;
    let aws = iamconform_aws::bind(AwsState::new(store, AwsConfig::default()), DEFAULT_ADDR)
        .await
        .map_err(login_error)?;

    let credentials =
        AwsCredentials::from_flags(WEB_TASK_KEY, key.secret_access_key, key.session_token);
    let mut input = LoginInput::new(credentials, "us-east-1");
    input.include_entity = true;
    input.server_id_header_value = Some(SERVER_ID.to_owned());
    input.network = Network::with_aws_redirect(aws.addr).map_err(login_error)?;
    let bearer_token = generate_bearer_token(&input).await.map_err(login_error)?;

    let config = parse_config(&json!({
        "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"],
        "EnableIAMEntityDetails": true,
        "IAMEntityTags": [
            "consul.hashicorp.com.gateway-kind",
            "consul.hashicorp.com.namespace",
            "consul.hashicorp.com.service-name",
        ],
        "ServerIDHeaderValue": SERVER_ID,
    }))
    .map_err(login_error)?;
    let outbound = Outbound {
        aws_endpoint: Some(aws.base_url()),
        ..Outbound::default()
    };
    Ok(AwsIamLogin {
        aws,
        validator: Validator::new(config, outbound),
        bearer_token,
    })
}

#[cfg(test)]
mod tests {
    use iamconform_aws::Verdict;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_token_passes_the_checks_and_logs_in_as_the_web_task() {
        let login = aws_iam_login().await.unwrap();
        let token = login.bearer_token.expose();
        let checked = login.validator.check_token(token).unwrap();
        // Entity details: the embedded GetRole travels with the STS request.
        assert!(format!("{checked:?}").contains("GetRole"), "{checked:?}");

        let before = login.aws.state.journal().snapshot(0).last_seq;
        let identity = login.validator.validate_login(token).await.unwrap();
        assert_eq!(identity.entity_name, "web-task");
        assert_eq!(identity.entity_path, "/consul-ecs/");
        assert_eq!(identity.account_id, "123456789012");
        let tags = identity.entity_tags.unwrap();
        assert_eq!(tags["consul.hashicorp.com.service-name"], "web");

        // The replay reached the AWS emulator, which verified both signatures.
        let replayed = login.aws.state.journal().snapshot(before).entries;
        let actions: Vec<_> = replayed.iter().map(|e| e.action.as_deref()).collect();
        assert_eq!(actions, [Some("GetCallerIdentity"), Some("GetRole")]);
        assert!(replayed.iter().all(|e| e.verdict == Verdict::Accepted));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_server_id_fails_the_offline_checks_without_contacting_aws() {
        let login = aws_iam_login().await.unwrap();
        let mut config = login.validator.config().clone();
        config.server_id_header_value = "consul.other.example".to_owned();
        let other = Validator::new(config, Outbound::default());
        let before = login.aws.state.journal().snapshot(0).last_seq;
        let err = other.check_token(login.bearer_token.expose()).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"expected "consul.other.example" but got "consul.bench.example""#
        );
        assert_eq!(login.aws.state.journal().snapshot(0).last_seq, before);
    }
}

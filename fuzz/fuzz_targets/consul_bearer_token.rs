//! The aws-iam login's bearer-token decoding and checks (JSON, base64, URL, headers, form
//! body, the embedded IAM request) on arbitrary tokens, through the public edge
//! `Validator::validate_login` (the decoder itself is crate-private): a `LoginError` or an
//! identity, never a panic.
//!
//! Hermetic: the STS and IAM endpoints are `http://127.0.0.1:1` (nothing listens there) with
//! no retries and no retry wait, so a token that passes every check is refused at once
//! instead of reaching any server.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use iamconform_consul::authmethod::aws_iam::{AwsIamConfig, Outbound, Validator};
use libfuzzer_sys::fuzz_target;

struct Env {
    rt: tokio::runtime::Runtime,
    plain: Validator,
    details: Validator,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let outbound = Outbound {
            aws_endpoint: None,
            allow_non_loopback: false,
            retry_wait_min: Duration::ZERO,
        };
        let base = AwsIamConfig {
            bound_iam_principal_arns: vec!["arn:aws:iam::123456789012:role/consul-ecs/*".into()],
            server_id_header_value: "consul.example.com".into(),
            max_retries: 0,
            iam_endpoint: "http://127.0.0.1:1".into(),
            sts_endpoint: "http://127.0.0.1:1".into(),
            ..AwsIamConfig::default()
        };
        let details = AwsIamConfig {
            enable_iam_entity_details: true,
            iam_entity_tags: vec!["consul.hashicorp.com.service-name".into()],
            ..base.clone()
        };
        Env {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime"),
            plain: Validator::new(base, outbound.clone()),
            details: Validator::new(details, outbound),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the configuration; the rest is the token (a string in Consul's API).
    let Some((flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(token) = std::str::from_utf8(rest) else {
        return;
    };
    let env = env();
    let validator = if flags & 1 == 0 {
        &env.plain
    } else {
        &env.details
    };
    if let Err(e) = env.rt.block_on(validator.validate_login(token)) {
        let _ = e.to_string();
    }
});

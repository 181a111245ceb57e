//! The `aws-iam` auth method, as Consul implements it with `hashicorp/consul-awsauth`.
//!
//! A client proves its IAM identity by handing Consul a *signed but unsent* `sts:GetCallerIdentity`
//! request (optionally carrying a signed `iam:GetRole`/`iam:GetUser` request in its headers).
//! Consul checks the request's structure, replays it to STS (and IAM), and trusts the answer.
//! This module reproduces that pipeline with Consul's check order and error texts:
//!
//! 1. [`parse_config`] — the auth method `Config` ([`AwsIamConfig`], [`ConfigError`]);
//! 2. [`Validator::validate_login`] — token decoding and checks (`token.rs`), replay (`sts.rs`,
//!    the only outbound HTTP, governed by [`Outbound`]), response parsing (`responses.rs`), ARN
//!    rules (`arn.rs`), trust (`login.rs`) → [`Identity`] or [`LoginError`];
//! 3. [`project`] / [`blank_identity`] / [`selector_schema`] — the identity as binding rules see it.
//!
//! Go behaviours that leak into Consul's texts (JSON, base64, URL and form parsing) live in
//! `gostd/`. Spec: `shared/spec/consul-aws-iam.md` §1–§3.1; ground truth: the awsauth corpus.
//!
//! ```
//! use iamconform_consul::authmethod::aws_iam::{parse_config, Outbound, Validator};
//! let config = parse_config(&serde_json::json!({
//!     "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/web"],
//! })).unwrap();
//! let validator = Validator::new(config, Outbound::default());
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let err = rt.block_on(validator.validate_login("{}")).unwrap_err();
//! assert_eq!(err.to_string(), "invalid token: unexpected end of JSON input");
//! ```

mod arn;
mod config;
mod gostd;
mod identity;
mod login;
mod responses;
mod sts;
mod token;

pub use arn::ArnError;
pub use config::{AwsIamConfig, ConfigError, parse_config};
pub use identity::{Identity, blank_identity, project, selector_schema};
pub use login::{LoginError, Validator};
pub use sts::{MAX_RESPONSE_BYTES, Outbound};
pub use token::MAX_BEARER_TOKEN_BYTES;

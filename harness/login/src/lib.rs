//! The reference aws-iam client: the aws-iam part of `consul login` and `consul logout`.
//!
//! `iamconform login …` and `iamconform logout …` behave like the real Consul CLI: same flags,
//! same validation messages in the same order, same exit codes, the same bearer token (a signed
//! `sts:GetCallerIdentity` request, optionally embedding a signed `iam:GetRole`/`iam:GetUser`),
//! the same login and logout HTTP calls and the same token sink file. Facts come from
//! `spec/consul-aws-iam.md` §1 and §4.4 and `spec/aws-sts-iam-sigv4.md` §3–§4.1.
//!
//! What it does not do: TLS, EC2 instance metadata, or any connection off the machine. Every
//! connection goes to a loopback address; `*.amazonaws.com` hosts go to
//! `IAMCONFORM_AWS_ENDPOINT` when set and are refused otherwise (see [`transport`]).
//!
//! Main entry points:
//! * [`run_login`] / [`run_logout`] — the `iamconform login`/`logout` subcommands;
//! * [`main_login`] / [`main_logout`] — the same with an injected [`Env`] and output streams;
//! * [`generate_bearer_token`] — just the token, from a [`LoginInput`];
//! * [`BearerToken`] — a decoded token, for inspection.
//!
//! Hidden test switch: `IAMCONFORM_MUTANT=<name>` injects one deliberate bug ([`mutant`]).
//!
//! ```
//! use iamconform_login::{BearerToken, AwsCredentials, LoginInput, generate_bearer_token};
//! use iamconform_secret::Secret;
//!
//! let creds = AwsCredentials::from_flags(
//!     "AKIAEXAMPLE",
//!     Secret::new("secret".to_owned()),
//!     None,
//! );
//! let mut input = LoginInput::new(creds, "us-east-1");
//! input.server_id_header_value = Some("consul.example.com".to_owned());
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let token = rt.block_on(generate_bearer_token(&input)).unwrap();
//! let decoded = BearerToken::parse(token.expose()).unwrap();
//! assert_eq!(decoded.url, "https://sts.us-east-1.amazonaws.com/");
//! assert!(decoded.signed_headers().contains(&"x-consul-iam-serverid".to_owned()));
//! ```
#![warn(missing_docs)]

mod command;
mod consul;
pub mod credentials;
pub mod endpoint;
mod env;
mod flags;
mod generate;
mod go_json;
pub mod mutant;
mod sink;
pub mod token;
pub mod transport;

pub use command::{
    EXIT_USAGE, main_login, main_logout, run_login, run_login_with, run_logout, run_logout_with,
};
pub use consul::{ConsulClient, ConsulError, DEFAULT_HTTP_ADDR, render_login_body};
pub use credentials::{AwsCredentials, CredentialSource, CredentialsError};
pub use env::{Env, MapEnv, ProcessEnv};
pub use generate::{
    FORM_CONTENT_TYPE, GET_ENTITY_BODY_HEADER, GET_ENTITY_HEADERS_HEADER, GET_ENTITY_METHOD_HEADER,
    GET_ENTITY_URL_HEADER, LoginInput, ParsedArn, SERVER_ID_HEADER, STS_BODY, TokenError,
    USER_AGENT, generate_bearer_token, parse_arn,
};
pub use go_json::canonical_header_key;
pub use mutant::Mutant;
pub use sink::write_atomic;
pub use token::{BearerToken, TokenParseError};
pub use transport::{Network, TransportError};

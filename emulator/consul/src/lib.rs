//! Embedded Consul ACL server with the aws-iam auth method.
//!
//! What it is: the parts of a Consul server that clients of the `aws-iam` auth method talk
//! to — the ACL HTTP API (`/v1/acl/*`: bootstrap, policies, roles, tokens, auth methods,
//! binding rules, login, logout), enterprise namespaces and the audit log — answering with
//! Consul's status codes, plain-text error bodies and Go-encoded JSON. Logins are verified
//! the way Consul does it: the bearer token's signed STS request is replayed to an STS (the
//! AWS emulator, over HTTP) and the verified identity is bound by the method's binding rules.
//!
//! What it is not: a service catalog, KV store, raft cluster or gRPC server.
//!
//! Main types: [`ConsulConfig`] → [`ConsulState`] (store + clock + audit) → [`router`]
//! (an axum `Router`, testable without a socket) or [`RunningConsul`] (bound to loopback).
//! [`Setup`] presets create objects through the same validation as the API.
//! With [`ConsulConfig::state_dir`] the ACL state is durable: every acknowledged write is on
//! disk before its response is sent, and a restart restores it ([`persist`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use iamconform_consul::{ConsulConfig, RunningConsul, Setup};
//! use iamconform_secret::Secret;
//!
//! let config = ConsulConfig {
//!     initial_management_token: Some(Secret::new("00000000-1111-2222-3333-444444444444".into())),
//!     ..ConsulConfig::default()
//! };
//! let consul = RunningConsul::start(config).await?;
//! consul.state.apply_setup(&Setup::from_yaml(include_str!("../../../fixtures/consul-ecs.yaml"))?)?;
//! println!("consul at {}", consul.url());
//! consul.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Module ownership while under construction: `authmethod/` = the aws-iam validator;
//! everything else = ACL store, binder, HTTP API, audit.
#![warn(missing_docs)]

pub mod audit;
pub mod authmethod;
pub mod binder;
pub mod clock;
pub mod config;
pub mod error;
mod gojson;
pub mod http;
pub mod persist;
pub mod server;
pub mod setup;
pub mod store;

pub use clock::Clock;
pub use config::{AuditConfig, ConsulConfig, ConsulState, StartError};
pub use error::ConsulError;
pub use gojson::{format_duration, parse_duration};
pub use http::router;
pub use persist::{PersistError, StateDir};
pub use server::RunningConsul;
pub use setup::{Setup, SetupError};

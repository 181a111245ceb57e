//! iamconform: the offline conformance harness for clients of Consul's aws-iam auth method.
//!
//! The library behind the `iamconform` binary: scenario planning ([`plan`]), the runner
//! ([`runner`]) that drives a client ([`client`]) against the emulators and a Consul backend
//! ([`backend`]), the tap in front of Consul ([`tap`]), and the reporters ([`report`]).
#![warn(missing_docs)]

pub mod backend;
pub mod bless;
pub mod cli;
pub mod client;
pub mod explain;
pub mod http;
pub mod inspect;
pub mod plan;
pub mod record;
pub mod report;
pub mod runner;
pub mod scrub;
pub mod tap;

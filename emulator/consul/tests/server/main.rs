#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981
//! End-to-end tests of the embedded Consul: logins validated against a loopback stub STS/IAM.
//!
//! The stub does not check signatures (real-signature tests run in the harness against the
//! AWS emulator); it answers `GetCallerIdentity`/`GetRole` for the access key in the token's
//! `Authorization` header, exactly in the XML shapes AWS uses, with `Content-Type: text/xml`.

/// Hundreds of parallel logins and logouts.
mod concurrency;
/// Slow heads and bodies, oversized heads, and the peer address, on a real socket.
mod hostile;
/// Login, binding, description, expiry, logout, cascades.
mod login;
/// Presets (fixtures/consul-ecs*.yaml) and one real-socket round trip.
mod presets;
/// Stub STS/IAM, bearer-token builder, Consul and HTTP helpers.
mod support;

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // rust-clippy#13981
//! Integration tests of iamconform-sigv4, one binary.

/// Shared scaffolding: raw-request parsing, credential stores, clocks.
mod helpers;
/// Table-driven rejections, exact messages, skew edges and check order.
mod negative;
/// aws-sigv4 as an independent signing oracle (proptest).
mod oracle;
/// No input panics the verifier or the parser.
mod robustness;
/// AWS's SigV4 test suite (tests/vectors): every signed request verifies and rebuilds the
/// expected canonical request, string to sign and signature.
mod vectors;

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981
//! Integration tests of the reference client against loopback stubs (one binary).

// Stub servers (STS, Consul, ECS credentials) and an independent SigV4 oracle.
mod support;
// Flag parsing, validation messages and their order, exit codes.
mod cli;
// Structure and signatures of generated bearer tokens.
mod token;
// Every mutant changes the token or the calls in its documented way.
mod mutants;
// Login and logout end to end against stub Consul and STS; ECS credentials.
mod login;

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // rust-clippy#13981
//! Integration tests of the scenario loader, one binary.

// Files that load, and what they become in the model.
mod good;
// Every kind of bad file, with the exact position and message of each problem.
mod bad;
// The JSON Schema and the `new` template.
mod schema;
// Arbitrary text never panics the loader.
mod fuzz;

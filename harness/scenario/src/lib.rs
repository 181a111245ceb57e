//! iamconform scenario files: the model the runner executes, the loader that reports every
//! problem in a file with its position and a fix, and the JSON Schema for editors.
//!
//! A scenario is one YAML file: `name`, `tags`, `requires`, optional `identities` overrides,
//! `aws` options, `consul` setup (in Consul's own JSON field names), and ordered `steps`
//! (`login`, `logout`, `expect_token`, `api`, `clock`, `fault`, `replay`, `expect_audit`,
//! `expect_no_secrets`) with their expectations. The format is documented key by key in the
//! JSON Schema ([`json_schema`]), which is generated from the same types the loader decodes.
//!
//! Loading runs in stages, each in its own module: `tree` (YAML → positioned nodes, via
//! serde-saphyr with its resource budget), `decode` (nodes → the raw serde mirror, collecting
//! unknown keys, duplicate keys and type errors instead of stopping at the first), `validate`
//! (raw → [`Scenario`]: syntax of names and durations, one key per step, expectations that fit
//! their step, saved tokens defined before use, Enterprise-only features).
//!
//! What this crate does not do: read fixtures or presets, contact anything, or run steps. The
//! model keeps Consul objects and identity overrides as JSON for the emulators to validate.
//!
//! ```
//! use std::path::Path;
//! use iamconform_scenario::{StepKind, load_str};
//!
//! let text = r#"
//! name: service token carries the service identity
//! steps:
//!   - login: { as: web-task/task-1, method: iam-ecs-service-token, save_as: web }
//!     expect: { token: { ServiceIdentities: [{ ServiceName: web }] } }
//!   - logout: { token: web }
//! "#;
//! let scenario = load_str(Path::new("example.yaml"), text).unwrap();
//! assert!(matches!(scenario.steps[0].kind, StepKind::Login { .. }));
//! assert_eq!(scenario.steps[1].line, 6);
//!
//! let bad = "name: x\nsteps:\n  - login: { as: web-task/task-1, mehtod: m }\n";
//! let err = load_str(Path::new("bad.yaml"), bad).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "bad.yaml:3:35: error: unknown key `mehtod`\n  help: did you mean `method`?"
//! );
//! ```
#![warn(missing_docs)]

mod decode;
mod diag;
mod duration;
mod load;
mod matcher;
mod model;
mod raw;
mod schema;
mod template;
mod tree;
mod validate;

pub use diag::{Diagnostic, Diagnostics};
pub use duration::{DurationError, GoDuration, parse_go_duration};
pub use load::{MAX_FILE_SIZE, load_file, load_str};
pub use matcher::{Mismatch, json_subset};
pub use model::{
    ApiCall, ApiExpect, AwsOptions, ClientExpect, ClockShift, ConsulSetup, Corruption,
    CredentialSource, Endpoint, EntityExpect, ExpectAudit, ExpectToken, Fault, FaultAction,
    FaultService, IdentityOverrides, Login, LoginAs, Logout, LogoutVia, Outcome, Preset, Replay,
    Requirement, SavedName, Scenario, SentExpect, SignedHeadersExpect, Step, StepKind, TokenExpect,
    TokenRef, Verdict,
};
pub use schema::json_schema;
pub use template::new_scenario_template;

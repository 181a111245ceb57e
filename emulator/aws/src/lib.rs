//! A fake AWS STS + IAM + ECS container-credentials endpoint that really verifies SigV4.
//!
//! What it does: serves `GetCallerIdentity` (STS) and `GetRole`/`GetUser` (IAM) over the AWS
//! Query protocol on one listener, verifying every request with [`iamconform_sigv4::verify`]
//! against an [`IdentityStore`] loaded from `fixtures/identities.yaml`, and answers with
//! AWS's exact XML, status codes and error texts (spec `aws-sts-iam-sigv4`). It also hands
//! out role-session credentials in the ECS agent's JSON format, journals every request with
//! its verdict, and lets tests move its clock and inject faults.
//!
//! What it does not do: other STS/IAM actions (they answer `InvalidAction`), policy
//! evaluation beyond a per-principal list of allowed actions, SigV4a, HTTP/2.
//!
//! Routing (spec §1.11): `/` serves both services, chosen by `Version` (`2011-06-15` → STS,
//! `2010-05-08` → IAM), else by the credential scope's service; `/sts/…` and `/iam/…` pin the
//! service. Signatures are always checked against the path as received.
//!
//! Endpoints of [`router`]:
//! - any path except the two below: STS/IAM (GET or POST);
//! - `GET /v2/credentials/{grant_id}`: ECS container credentials ([`AwsState::issue_ecs_grant`]);
//! - `/_iamconform/…`: the admin API — `GET|DELETE journal`, `GET|PUT clock`,
//!   `GET|POST|DELETE faults`, `POST ecs/grants`, `POST identities`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use iamconform_aws::{AwsConfig, AwsState, IdentityStore, DEFAULT_ADDR};
//! let store = IdentityStore::shipped().expect("the shipped fixtures are valid");
//! let running = iamconform_aws::bind(AwsState::new(store, AwsConfig::default()), DEFAULT_ADDR).await?;
//! println!("STS and IAM at {}", running.base_url());
//! running.shutdown().await
//! # }
//! ```
#![warn(missing_docs)]

mod admin;
mod clock;
mod ecs;
mod error;
mod faults;
mod handler;
mod journal;
mod params;
mod request_id;
mod server;
mod state;
mod store;
mod xml;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use clock::Clock;
pub use ecs::{EcsGrant, EcsGrantError};
pub use error::{AwsError, AwsErrorKind, REQUEST_ID_HEADER};
pub use faults::{Fault, FaultResponse, FaultService, Faults};
pub use journal::{
    AuthLocation, DEFAULT_JOURNAL_CAPACITY, Journal, JournalEntry, JournalScope, JournalService,
    JournalSnapshot, ServerIdHeader, Verdict,
};
pub use server::{DEFAULT_ADDR, RunningAws, bind, serve};
pub use state::{AwsConfig, AwsState, DEFAULT_BODY_LIMIT, DEFAULT_HEADER_LIMIT, RegionMode};
pub use store::{
    AccountId, FixtureError, IdentityStore, Principal, Role, SessionCredentials, StoredCredential,
    User, derive_unique_id,
};
pub use xml::{IAM_NS, STS_NS};

/// The shipped `fixtures/identities.yaml`, compiled in.
pub const SHIPPED_FIXTURES: &str = include_str!("../../../fixtures/identities.yaml");

impl IdentityStore {
    /// The store of the shipped `fixtures/identities.yaml`.
    pub fn shipped() -> Result<Self, FixtureError> {
        Self::from_yaml("fixtures/identities.yaml", SHIPPED_FIXTURES)
    }
}

/// An AWS service the emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// STS, API version 2011-06-15.
    Sts,
    /// IAM, API version 2010-05-08.
    Iam,
}

impl Service {
    /// The API version.
    pub fn version(self) -> &'static str {
        match self {
            Self::Sts => "2011-06-15",
            Self::Iam => "2010-05-08",
        }
    }

    /// The SigV4 signing name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Self::Sts => "sts",
            Self::Iam => "iam",
        }
    }

    /// The XML namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Sts => STS_NS,
            Self::Iam => IAM_NS,
        }
    }

    /// The service whose API version is `version`.
    pub fn from_version(version: &str) -> Option<Self> {
        match version {
            "2011-06-15" => Some(Self::Sts),
            "2010-05-08" => Some(Self::Iam),
            _ => None,
        }
    }

    /// The service whose signing name is `name`.
    pub fn from_signing_name(name: &str) -> Option<Self> {
        match name {
            "sts" => Some(Self::Sts),
            "iam" => Some(Self::Iam),
            _ => None,
        }
    }

    fn journal_service(self, known: bool) -> JournalService {
        match (known, self) {
            (false, _) => JournalService::Unknown,
            (true, Self::Sts) => JournalService::Sts,
            (true, Self::Iam) => JournalService::Iam,
        }
    }
}

/// The emulator's routes over `state`; serve it with [`bind`] or drive it with
/// `tower::ServiceExt::oneshot` in tests.
pub fn router(state: AwsState) -> Router {
    let admin = Router::new()
        .route(
            "/_iamconform/journal",
            get(admin::get_journal).delete(admin::delete_journal),
        )
        .route(
            "/_iamconform/clock",
            get(admin::get_clock).put(admin::put_clock),
        )
        .route(
            "/_iamconform/faults",
            get(admin::get_faults)
                .post(admin::post_fault)
                .delete(admin::delete_faults),
        )
        .route(
            "/_iamconform/ecs/grants",
            axum::routing::post(admin::post_grant),
        )
        .route(
            "/_iamconform/identities",
            axum::routing::post(admin::post_identities),
        )
        .layer(DefaultBodyLimit::max(state.config().body_limit));
    Router::new()
        .route("/v2/credentials/{grant_id}", get(ecs::handle_credentials))
        .merge(admin)
        .fallback(handler::handle)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limit_header_section,
        ))
        .with_state(state)
}

/// Rejects requests whose header section (names + values + `: \r\n`) exceeds the limit.
async fn limit_header_section(State(state): State<AwsState>, req: Request, next: Next) -> Response {
    let limit = state.config().header_limit;
    let size = req.headers().iter().fold(0usize, |acc, (n, v)| {
        acc.saturating_add(n.as_str().len() + v.len() + 4)
    });
    if size > limit {
        let request_id = request_id::new();
        let mut entry =
            JournalEntry::new(request_id.clone(), req.method().as_str(), req.uri().path());
        let err = AwsError::new(
            AwsErrorKind::RequestHeaderSectionTooLarge(limit),
            Service::Sts,
            &request_id,
        );
        entry.verdict = Verdict::Rejected {
            status: err.kind.status(),
            code: err.kind.code().to_owned(),
            message: err.kind.message(),
            check: err.kind.check().to_owned(),
        };
        entry.time = xml::iso8601(state.clock().now());
        state.journal().record(entry);
        return err.into_response();
    }
    next.run(req).await
}

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
//! [`bind`] serves [`service`], which gives the same answers as [`router`] but answers
//! STS/IAM requests without going through the router.
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

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, Method, header};
use tower::ServiceExt;

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

/// [`router`]'s answers without its routing on the hot path: the service [`bind`] serves.
///
/// Requests for the admin API (`/_iamconform/…`) and the ECS endpoint (`/v2/credentials/…`)
/// go through [`router`]. Every other request is one the router would hand to its STS/IAM
/// fallback, so this service runs the same header-section check and the same handler
/// directly, then finishes the response as axum's top-level route does, saving the router's
/// matching, middleware and boxing on every STS/IAM request. The answers are the same byte
/// for byte (the crate's tests compare them).
#[derive(Clone)]
pub struct AwsService {
    state: AwsState,
    router: Router,
}

/// The [`AwsService`] over `state`.
pub fn service(state: AwsState) -> AwsService {
    AwsService {
        router: router(state.clone()),
        state,
    }
}

impl std::fmt::Debug for AwsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsService").finish_non_exhaustive()
    }
}

impl tower::Service<Request> for AwsService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if needs_router(req.uri().path()) {
            return Box::pin(self.router.clone().oneshot(req));
        }
        let state = self.state.clone();
        Box::pin(async move { Ok(answer_directly(state, req).await) })
    }
}

/// Whether a route of [`router`] other than its fallback could match `path`: only paths
/// under these two prefixes can (the router matches the raw path, without decoding).
fn needs_router(path: &str) -> bool {
    path.starts_with("/_iamconform/") || path.starts_with("/v2/credentials/")
}

/// What [`router`]'s fallback does: the header-section check ([`limit_header_section`]),
/// the handler, then axum's finishing touches.
async fn answer_directly(state: AwsState, req: Request) -> Response {
    let method = req.method().clone();
    let response = match reject_large_header_section(&state, &req) {
        Some(rejection) => rejection,
        None => handler::handle(State(state), req).await,
    };
    finish_as_axum(&method, response)
}

/// What axum's top-level route future does to every answer of a route or fallback
/// (axum 0.8 `routing/route.rs`, `RouteFuture::poll`; the fallback sends no `Allow`): a
/// `Content-Length` from an exact body size, no body for `HEAD`, and for a successful
/// `CONNECT` no body at all.
fn finish_as_axum(method: &Method, mut response: Response) -> Response {
    if *method == Method::CONNECT && response.status().is_success() {
        if response.headers().contains_key(header::CONTENT_LENGTH)
            || response.headers().contains_key(header::TRANSFER_ENCODING)
            || response.body().size_hint().lower() != 0
        {
            *response.body_mut() = Body::empty();
        }
        return response;
    }
    if !response.headers().contains_key(header::CONTENT_LENGTH)
        && let Some(size) = response.body().size_hint().exact()
    {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if *method == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    response
}

/// Rejects requests whose header section (names + values + `: \r\n`) exceeds the limit.
async fn limit_header_section(State(state): State<AwsState>, req: Request, next: Next) -> Response {
    match reject_large_header_section(&state, &req) {
        Some(rejection) => rejection,
        None => next.run(req).await,
    }
}

/// The answer for a header section (names + values + `: \r\n`) over the limit, journalled.
fn reject_large_header_section(state: &AwsState, req: &Request) -> Option<Response> {
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
        return Some(err.into_response());
    }
    None
}

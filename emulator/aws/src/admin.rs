//! The admin API under `/_iamconform/`: journal, clock, faults, ECS grants, identities.
//!
//! JSON in, JSON out; errors are `{"error": "..."}` with status 400 or 404. These endpoints
//! are for the harness and for people debugging a client, not part of AWS.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::faults::{Fault, FaultResponse, FaultService};
use crate::state::AwsState;
use crate::xml::iso8601;

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

#[derive(Deserialize)]
pub(crate) struct JournalQuery {
    #[serde(default)]
    since: u64,
}

pub(crate) async fn get_journal(
    State(state): State<AwsState>,
    Query(q): Query<JournalQuery>,
) -> Response {
    Json(state.journal().snapshot(q.since)).into_response()
}

pub(crate) async fn delete_journal(State(state): State<AwsState>) -> StatusCode {
    state.journal().clear();
    StatusCode::NO_CONTENT
}

/// `GET`/`PUT /_iamconform/clock` body.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ClockBody {
    offset_seconds: i64,
    #[serde(default, skip_deserializing)]
    now: String,
}

fn clock_body(state: &AwsState) -> Json<ClockBody> {
    Json(ClockBody {
        offset_seconds: state.clock().offset_seconds(),
        now: iso8601(state.clock().now()),
    })
}

pub(crate) async fn get_clock(State(state): State<AwsState>) -> Response {
    clock_body(&state).into_response()
}

pub(crate) async fn put_clock(State(state): State<AwsState>, body: Bytes) -> Response {
    match parse_json::<ClockBody>(&body) {
        Ok(b) => {
            state.clock().set_offset_seconds(b.offset_seconds);
            clock_body(&state).into_response()
        }
        Err(e) => bad_request(e),
    }
}

/// `POST /_iamconform/faults` body: `{"service": "sts"|"iam"|"any", "count": N}` plus either
/// `"status": 503` or `"delay_ms": 250`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultBody {
    service: FaultService,
    #[serde(default = "one")]
    count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

impl From<&Fault> for FaultBody {
    fn from(f: &Fault) -> Self {
        let (status, delay_ms) = match f.response {
            FaultResponse::Status(s) => (Some(s), None),
            FaultResponse::Delay(d) => {
                (None, Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
            }
        };
        Self {
            service: f.service,
            count: f.count,
            status,
            delay_ms,
        }
    }
}

pub(crate) async fn get_faults(State(state): State<AwsState>) -> Response {
    let pending: Vec<FaultBody> = state
        .faults()
        .pending()
        .iter()
        .map(FaultBody::from)
        .collect();
    Json(pending).into_response()
}

pub(crate) async fn post_fault(State(state): State<AwsState>, body: Bytes) -> Response {
    let b = match parse_json::<FaultBody>(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let response = match (b.status, b.delay_ms) {
        (Some(s), None) if (400..=599).contains(&s) => FaultResponse::Status(s),
        (None, Some(ms)) if ms <= 600_000 => FaultResponse::Delay(Duration::from_millis(ms)),
        _ => {
            return bad_request(
                "give exactly one of status (400–599) or delay_ms (at most 600000)",
            );
        }
    };
    state.faults().push(Fault {
        service: b.service,
        response,
        count: b.count,
    });
    StatusCode::CREATED.into_response()
}

pub(crate) async fn delete_faults(State(state): State<AwsState>) -> StatusCode {
    state.faults().clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantBody {
    account: String,
    role: String,
    session: String,
}

/// `POST /_iamconform/ecs/grants`: returns the grant id, the full URI and the authorization
/// token (the admin API is how a client under test is given its token).
pub(crate) async fn post_grant(State(state): State<AwsState>, body: Bytes) -> Response {
    let b = match parse_json::<GrantBody>(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    match state.issue_ecs_grant(&b.account, &b.role, &b.session) {
        Ok(g) => (
            StatusCode::CREATED,
            Json(json!({
                "grant_id": g.grant_id,
                "full_uri": g.full_uri,
                "authorization_token": g.authorization_token.expose(),
            })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// `POST /_iamconform/identities`: a fixture-format YAML body layered over the store.
pub(crate) async fn post_identities(State(state): State<AwsState>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return bad_request("the body is not UTF-8");
    };
    match state.merge_identities("<request body>", text) {
        Ok(()) => {
            let store = state.store();
            Json(json!({ "roles": store.roles().count(), "users": store.users().count() }))
                .into_response()
        }
        Err(e) => bad_request(e.to_string()),
    }
}

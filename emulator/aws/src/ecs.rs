//! The ECS container-credentials endpoint: `GET /v2/credentials/<grant-id>`.
//!
//! Spec: aws-sts-iam-sigv4 §4.1. A grant ties a random id and a random authorization token
//! to one role session of the identity store; SDKs configured with
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN` fetch the
//! session's credentials here in the ECS agent's JSON shape.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use iamconform_secret::Secret;
use serde::Serialize;

use crate::journal::{JournalEntry, JournalService, Verdict};
use crate::state::AwsState;
use crate::xml::iso8601;

/// A grant as handed to a client.
#[derive(Debug, Clone)]
pub struct EcsGrant {
    /// The random grant id.
    pub grant_id: String,
    /// `/v2/credentials/<grant-id>`.
    pub path: String,
    /// `http://127.0.0.1:PORT/v2/credentials/<grant-id>` when the state is served on a socket,
    /// else the path alone.
    pub full_uri: String,
    /// The value the client must send as `Authorization`.
    pub authorization_token: Secret<String>,
}

/// Why a grant could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcsGrantError {
    /// No such role session in the store.
    #[error(
        "no session {session} of role {role} in account {account}; add it to the identity fixtures"
    )]
    NoSuchSession {
        /// The account asked for.
        account: String,
        /// The role asked for.
        role: String,
        /// The session asked for.
        session: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct GrantRecord {
    account: String,
    role: String,
    session: String,
    token: Secret<String>,
}

impl AwsState {
    /// Creates a grant for a role session of the store; the credentials are read from the
    /// store when fetched, so later store changes show.
    pub fn issue_ecs_grant(
        &self,
        account: &str,
        role: &str,
        session: &str,
    ) -> Result<EcsGrant, EcsGrantError> {
        if self.store().session(account, role, session).is_none() {
            return Err(EcsGrantError::NoSuchSession {
                account: account.to_owned(),
                role: role.to_owned(),
                session: session.to_owned(),
            });
        }
        let grant_id = uuid::Uuid::new_v4().simple().to_string();
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let path = format!("/v2/credentials/{grant_id}");
        let full_uri = match self.base_url() {
            Some(base) => format!("{base}{path}"),
            None => path.clone(),
        };
        self.inner
            .grants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                grant_id.clone(),
                GrantRecord {
                    account: account.to_owned(),
                    role: role.to_owned(),
                    session: session.to_owned(),
                    token: Secret::new(token.clone()),
                },
            );
        Ok(EcsGrant {
            grant_id,
            path,
            full_uri,
            authorization_token: Secret::new(token),
        })
    }
}

/// The ECS agent's credentials JSON.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EcsCredentials<'a> {
    role_arn: &'a str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    expiration: String,
}

#[derive(Serialize)]
struct EcsErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

fn ecs_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(EcsErrorBody { code, message })).into_response()
}

pub(crate) async fn handle_credentials(
    State(state): State<AwsState>,
    Path(grant_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v2/credentials/{grant_id}");
    let mut entry = JournalEntry::new(uuid::Uuid::new_v4().to_string(), "GET", &path);
    entry.service = JournalService::Ecs;
    entry.header_names = headers.keys().map(|k| k.as_str().to_owned()).collect();
    entry.host = headers
        .get(http::header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
    let (resp, verdict) = credentials_response(&state, &grant_id, &headers);
    entry.verdict = verdict;
    entry.time = iso8601(state.clock().now());
    state.journal().record(entry);
    resp
}

fn credentials_response(
    state: &AwsState,
    grant_id: &str,
    headers: &HeaderMap,
) -> (Response, Verdict) {
    let reject = |status: StatusCode, code: &str, message: &str| {
        (
            ecs_error(status, code, message),
            Verdict::Rejected {
                status: status.as_u16(),
                code: code.to_owned(),
                message: message.to_owned(),
                check: "ecs_authorization".to_owned(),
            },
        )
    };
    // UNVERIFIED: the ECS agent's exact error codes and texts; SDKs only look at the status.
    let grant = state
        .inner
        .grants
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(grant_id)
        .cloned();
    let Some(grant) = grant else {
        return reject(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No credentials found for this id",
        );
    };
    let Some(auth) = headers.get(http::header::AUTHORIZATION) else {
        return reject(
            StatusCode::UNAUTHORIZED,
            "AccessDenied",
            "Authorization header is missing",
        );
    };
    if !grant.token.ct_eq_bytes(auth.as_bytes()) {
        return reject(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Authorization token is not valid for these credentials",
        );
    }
    let Some(creds) = state
        .store()
        .session(&grant.account, &grant.role, &grant.session)
    else {
        return reject(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The role session of this grant no longer exists",
        );
    };
    let body = EcsCredentials {
        role_arn: &creds.role.arn,
        access_key_id: &creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose(),
        token: creds.session_token.expose(),
        expiration: iso8601(creds.expires),
    };
    (
        (StatusCode::OK, axum::Json(body)).into_response(),
        Verdict::Accepted,
    )
}

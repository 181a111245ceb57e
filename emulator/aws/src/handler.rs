//! The STS/IAM request path: read the raw request, route it, verify SigV4, dispatch on
//! `Action`, and journal the outcome.
//!
//! Check order (spec aws-sts-iam-sigv4 §1.10): injected fault, method (step 2), query and
//! form well formed (step 4), SigV4 steps 1 and 4–16 in `iamconform_sigv4::verify`, action
//! known (step 17), parameters, authorisation (step 18), entity exists.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode, header};
use iamconform_sigv4::{
    AuthLocation as SigAuthLocation, SignedRequest, Verified, parse_auth, verify,
};

use crate::Service;
use crate::error::{AwsError, AwsErrorKind, xml_response};
use crate::faults::FaultResponse;
use crate::journal::{AuthLocation, JournalEntry, JournalScope, ServerIdHeader, Verdict};
use crate::params::Params;
use crate::state::AwsState;
use crate::store::{IdentityStore, Principal};
use crate::xml;

const SERVER_ID_HEADER: &str = "x-consul-iam-serverid";
const GET_ENTITY_PREFIX: &str = "x-consul-iam-getentity-";
const GET_ENTITY_BODY: &str = "x-consul-iam-getentity-body";
const TOKEN_HEADER: &str = "x-amz-security-token";
const TOKEN_PARAM: &str = "X-Amz-Security-Token";

/// The axum handler for every STS/IAM path.
pub(crate) async fn handle(State(state): State<AwsState>, req: Request) -> Response {
    let request_id = crate::request_id::new();
    let (parts, body) = req.into_parts();
    let mut entry = JournalEntry::new(request_id.clone(), parts.method.as_str(), parts.uri.path());
    fill_header_facts(&mut entry, &parts);
    let result = process(&state, &parts, body, &request_id, &mut entry).await;
    let response = match result {
        Ok(resp) => resp,
        Err(err) => {
            tracing::debug!(
                request_id,
                access_key_id = entry.access_key_id.as_deref(),
                code = err.kind.code(),
                "aws request rejected"
            );
            entry.verdict = Verdict::Rejected {
                status: err.kind.status(),
                code: err.kind.code().to_owned(),
                message: err.kind.message(),
                check: err.kind.check().to_owned(),
            };
            err.into_response()
        }
    };
    entry.time = xml::iso8601(state.clock().now());
    state.journal().record(entry);
    response
}

/// Request facts that need no parsing: host, header names, Consul's extra headers.
fn fill_header_facts(entry: &mut JournalEntry, parts: &Parts) {
    entry.host = parts
        .headers
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
    entry.header_names = Vec::with_capacity(parts.headers.len());
    for name in parts.headers.iter().map(|(n, _)| n.as_str()) {
        entry.header_names.push(name.to_owned());
    }
    if let Some(v) = parts.headers.get(SERVER_ID_HEADER) {
        entry.server_id = Some(ServerIdHeader {
            value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            signed: false,
        });
    }
    // Each distinct name once, in first-arrival order (`keys` skips repeated names).
    for name in parts.headers.keys().map(|k| k.as_str()) {
        if name.starts_with(GET_ENTITY_PREFIX) {
            entry.get_entity_headers.push(name.to_owned());
        }
    }
    // The GetEntity body is an IAM query body (Action, Version, RoleName): no secret.
    entry.get_entity_body = parts
        .headers
        .get(GET_ENTITY_BODY)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
}

/// The service named by a `/sts/…` or `/iam/…` path prefix.
fn prefix_service(path: &str) -> Option<Service> {
    let first = path.trim_start_matches('/').split('/').next()?;
    match first {
        "sts" => Some(Service::Sts),
        "iam" => Some(Service::Iam),
        _ => None,
    }
}

/// Spec §1.11: route by prefix, then by `Version`, then by the credential scope.
fn route(path: &str, params: &Params, req: &SignedRequest<'_>) -> Option<Service> {
    if let Some(s) = prefix_service(path) {
        return Some(s);
    }
    if let Some(s) = params.get("Version").and_then(Service::from_version) {
        return Some(s);
    }
    let auth = parse_auth(req).ok()?;
    let cred = auth.credential_parts().ok()?;
    Service::from_signing_name(&cred.scope.service)
}

async fn read_body(body: Body, limit: usize, parts: &Parts) -> Result<Bytes, AwsErrorKind> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AwsErrorKind::RequestEntityTooLarge(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            AwsErrorKind::RequestEntityTooLarge(limit)
        } else {
            AwsErrorKind::IncompleteBody
        }
    })
}

fn is_form(parts: &Parts) -> bool {
    match parts.headers.get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v
            .as_bytes()
            .get(..33)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")),
    }
}

async fn process(
    state: &AwsState,
    parts: &Parts,
    body: Body,
    request_id: &str,
    entry: &mut JournalEntry,
) -> Result<Response, AwsError> {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let early_service = prefix_service(path).unwrap_or(Service::Sts);
    let body = read_body(body, state.config().body_limit, parts)
        .await
        .map_err(|k| AwsError::new(k, early_service, request_id))?;

    let mut params = Params::default();
    let query_err = params.extend_from_form(query.as_bytes()).err();
    entry.query_params = params.names().map(str::to_owned).collect();
    let body_err = if is_form(parts) && !body.is_empty() {
        params.extend_from_form(&body).err()
    } else {
        None
    };
    entry.action = params.get("Action").map(str::to_owned);

    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let sreq = SignedRequest {
        method: parts.method.as_str(),
        path,
        query,
        headers: &headers,
        body: &body,
    };
    let service = route(path, &params, &sreq);
    let ns = service.unwrap_or(Service::Sts);
    entry.service = ns.journal_service(service.is_some());
    let fail = |kind: AwsErrorKind| AwsError::new(kind, ns, request_id);

    match state.faults().take(ns) {
        Some(FaultResponse::Status(status)) => {
            entry.fault = Some(format!("status {status}"));
            return Err(fail(AwsErrorKind::Fault(status)));
        }
        Some(FaultResponse::Delay(d)) => {
            entry.fault = Some(format!("delay {}ms", d.as_millis()));
            tokio::time::sleep(d).await;
        }
        None => {}
    }

    // Step 2: method.
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(fail(AwsErrorKind::MethodNotAllowed));
    }
    // Step 4: the query, then the form body (which AWS treats like a query).
    if let Some(message) = query_err.or(body_err) {
        return Err(fail(AwsErrorKind::MalformedQueryString(message)));
    }

    // Steps 1, 5–16.
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let policy = state.config().policy(service, host);
    let store = state.store();
    let verified = match verify(&sreq, &policy, state.clock().now(), &*store) {
        Ok(v) => v,
        Err(e) => {
            fill_failed_auth_facts(entry, &sreq, &params);
            if let Some(cr) = e.canonical_request() {
                let token = token_value(&sreq, &params);
                entry.canonical_request = Some(redact(cr, token.as_deref()));
                entry.string_to_sign = e.string_to_sign().map(str::to_owned);
            }
            entry.hint = doubled_prefix_hint(path);
            return Err(fail(AwsErrorKind::SigV4(e)));
        }
    };
    let Some(principal) = store.principal_for_key(&verified.access_key_id) else {
        fill_verified_facts(entry, verified);
        return Err(fail(AwsErrorKind::Internal(
            "verified key has no principal",
        )));
    };
    fill_verified_facts(entry, verified);
    let caller_arn = entry.caller_arn.insert(principal.caller_arn());

    // Step 17: the action.
    let Some(action) = params.get("Action") else {
        return Err(fail(AwsErrorKind::MissingAction));
    };
    let invalid_action = || {
        fail(AwsErrorKind::InvalidAction {
            action: action.to_owned(),
            version: params.get("Version").unwrap_or(ns.version()).to_owned(),
        })
    };
    let Some(service) = service else {
        return Err(invalid_action());
    };
    if params
        .get("Version")
        .is_some_and(|v| v != service.version())
    {
        return Err(invalid_action());
    }
    let result = match (service, action) {
        (Service::Sts, "GetCallerIdentity") => Ok(xml::render_get_caller_identity(
            caller_arn,
            &principal.caller_user_id(),
            principal.account().as_str(),
            request_id,
        )),
        (Service::Iam, "GetRole") => get_role(&store, principal, &params, request_id),
        (Service::Iam, "GetUser") => get_user(&store, principal, &params, request_id),
        _ => return Err(invalid_action()),
    };
    match result {
        Ok(body) => Ok(xml_response(StatusCode::OK, body, request_id)),
        Err(kind) => Err(fail(kind)),
    }
}

fn get_role(
    store: &IdentityStore,
    principal: &Principal,
    params: &Params,
    request_id: &str,
) -> Result<String, AwsErrorKind> {
    let Some(name) = params.get("RoleName") else {
        // UNVERIFIED: IAM's text for a missing required parameter.
        return Err(AwsErrorKind::ValidationError(
            "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null".to_owned(),
        ));
    };
    // Step 18. Spec §3.5: the current AccessDenied wording.
    if !principal.allows("iam:GetRole") {
        return Err(AwsErrorKind::AccessDenied(format!(
            "User: {} is not authorized to perform: iam:GetRole on resource: role {name} because no identity-based policy allows the iam:GetRole action",
            principal.caller_arn()
        )));
    }
    let Some(role) = store.role(principal.account(), name) else {
        return Err(AwsErrorKind::NoSuchEntity(format!(
            "The role with name {name} cannot be found."
        )));
    };
    Ok(xml::render_get_role(role, request_id))
}

fn get_user(
    store: &IdentityStore,
    principal: &Principal,
    params: &Params,
    request_id: &str,
) -> Result<String, AwsErrorKind> {
    let name = match (params.get("UserName"), principal) {
        (Some(n), _) => n.to_owned(),
        (None, Principal::User(u)) => u.name.clone(),
        // Spec §3.1.
        (None, Principal::AssumedRole { .. }) => {
            return Err(AwsErrorKind::ValidationError(
                "Must specify userName when calling with non-User credentials".to_owned(),
            ));
        }
    };
    if !principal.allows("iam:GetUser") {
        // UNVERIFIED: the resource wording for GetUser (spec §9).
        return Err(AwsErrorKind::AccessDenied(format!(
            "User: {} is not authorized to perform: iam:GetUser on resource: user {name} because no identity-based policy allows the iam:GetUser action",
            principal.caller_arn()
        )));
    }
    let Some(user) = store.user(principal.account(), &name) else {
        return Err(AwsErrorKind::NoSuchEntity(format!(
            "The user with name {name} cannot be found."
        )));
    };
    Ok(xml::render_get_user(user, request_id))
}

fn journal_location(l: SigAuthLocation) -> AuthLocation {
    match l {
        SigAuthLocation::Header => AuthLocation::Header,
        SigAuthLocation::Query => AuthLocation::Query,
    }
}

fn mark_server_id_signed(entry: &mut JournalEntry, signed_headers: &[String]) {
    if let Some(sid) = entry.server_id.as_mut() {
        sid.signed = signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(SERVER_ID_HEADER));
    }
}

fn fill_verified_facts(entry: &mut JournalEntry, v: Verified) {
    mark_server_id_signed(entry, &v.signed_headers);
    entry.access_key_id = Some(v.access_key_id);
    entry.scope = Some(JournalScope {
        date: v.scope.date,
        region: v.scope.region,
        service: v.scope.service,
    });
    entry.signed_headers = v.signed_headers;
    entry.auth_location = Some(journal_location(v.location));
    entry.session_token_signed = v.session_token_present.then_some(v.session_token_signed);
}

/// Best effort after a failed verification: whatever the auth material shows.
fn fill_failed_auth_facts(entry: &mut JournalEntry, req: &SignedRequest<'_>, params: &Params) {
    let Ok(auth) = parse_auth(req) else {
        return;
    };
    entry.access_key_id = Some(auth.access_key_id().to_owned());
    if let Ok(cred) = auth.credential_parts() {
        entry.scope = Some(JournalScope {
            date: cred.scope.date,
            region: cred.scope.region,
            service: cred.scope.service,
        });
    }
    entry.signed_headers = auth
        .signed_header_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    entry.auth_location = Some(journal_location(auth.location));
    entry.session_token_signed = match auth.location {
        SigAuthLocation::Header => req.first_header(TOKEN_HEADER).map(|_| {
            entry
                .signed_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(TOKEN_HEADER))
        }),
        SigAuthLocation::Query => params.get(TOKEN_PARAM).map(|_| true),
    };
    let signed = entry.signed_headers.clone();
    mark_server_id_signed(entry, &signed);
}

/// The session token sent, if any, to redact it defensively from journal text.
fn token_value(req: &SignedRequest<'_>, params: &Params) -> Option<String> {
    req.first_header(TOKEN_HEADER)
        .map(|v| String::from_utf8_lossy(v).trim().to_owned())
        .or_else(|| params.get(TOKEN_PARAM).map(str::to_owned))
        .filter(|t| !t.is_empty())
}

/// Removes `token` (raw and URI-encoded) from `text`. The verifier already redacts the token;
/// this guards the journal's no-secret rule against any rendering it does not cover.
fn redact(text: &str, token: Option<&str>) -> String {
    let Some(token) = token else {
        return text.to_owned();
    };
    let encoded = iamconform_sigv4::uri_encode(token.as_bytes(), false);
    text.replace(&encoded, iamconform_sigv4::REDACTED)
        .replace(token, iamconform_sigv4::REDACTED)
}

/// A hint when the path starts with the same segment twice, e.g. `/sts/sts/`.
fn doubled_prefix_hint(path: &str) -> Option<String> {
    let mut segs = path.trim_start_matches('/').split('/');
    let first = segs.next()?;
    let second = segs.next()?;
    (!first.is_empty() && first == second).then(|| {
        format!(
            "the path {path} repeats the endpoint prefix /{first}/: the endpoint URL probably already ends in /{first}/ and the client or a proxy added it again, so the path the client signed differs from the one received"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubled_prefix_is_detected() {
        assert!(doubled_prefix_hint("/sts/sts/").is_some());
        assert!(doubled_prefix_hint("/iam/iam").is_some());
        assert!(doubled_prefix_hint("/sts/").is_none());
        assert!(doubled_prefix_hint("/").is_none());
        assert!(doubled_prefix_hint("//").is_none());
    }

    #[test]
    fn redaction_covers_raw_and_encoded_tokens() {
        let t = "abc+/=";
        let text = "x-amz-security-token:abc+/=\nX-Amz-Security-Token=abc%2B%2F%3D";
        let r = redact(text, Some(t));
        assert!(!r.contains("abc"), "{r}");
    }

    #[test]
    fn prefix_routing() {
        assert_eq!(prefix_service("/sts/"), Some(Service::Sts));
        assert_eq!(prefix_service("/iam"), Some(Service::Iam));
        assert_eq!(prefix_service("/"), None);
        assert_eq!(prefix_service("/stsx/"), None);
    }
}

//! Handlers of `/v1/acl/bootstrap`, policies, roles and tokens (`agent/acl_endpoint.go`).
//!
//! Each handler extracts, checks what Consul's HTTP layer checks (URL/body ID agreement),
//! calls the store and renders. Validation lives in the store.

use axum::extract::{Path, State};

use super::decode;
use super::extract::{EntScope, Params, RawBody, Reply, RequestToken};
use crate::config::ConsulState;
use crate::error::ConsulError;
use crate::store::types::{PolicyInput, RoleInput, TokenInput};
use crate::store::{Key, TokenFilter};

/// Consul maps any "ACL not found" from a delete RPC to a 404 with its own text — including
/// an unknown *request* token.
fn delete_result(r: Result<(), ConsulError>, what: &str) -> Result<bool, ConsulError> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.to_string().contains(crate::error::ACL_NOT_FOUND) => Err(
            ConsulError::NotFound(format!("Cannot find {what} to delete")),
        ),
        Err(e) => Err(e),
    }
}

fn ok_true(params: &Params) -> Reply {
    Reply::new(serde_json::Value::Bool(true), params)
}

// ------------------------------------------------------------------------ bootstrap

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BootstrapRequest {
    #[serde(rename = "BootstrapSecret", default)]
    bootstrap_secret: Option<crate::store::types::WrappedSecret>,
}

pub(super) async fn bootstrap(
    State(s): State<ConsulState>,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let secret = if body.0.is_empty() {
        None
    } else {
        let req: BootstrapRequest = body.decode(
            &decode::BOOTSTRAP,
            "Request decoding failed",
            s.config.enterprise,
        )?;
        req.bootstrap_secret.map(|w| w.0)
    };
    Ok(Reply::new(s.store.bootstrap(secret)?, &params))
}

// ------------------------------------------------------------------------ policies

pub(super) async fn policy_create(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let input: PolicyInput = body.decode(
        &decode::POLICY,
        "Policy decoding failed",
        s.config.enterprise,
    )?;
    if !input.id.is_empty() {
        return Err(ConsulError::bad_request(
            "Cannot specify the ID when creating a new policy",
        ));
    }
    Ok(Reply::new(
        s.store.policy_set(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn policy_update(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let mut input: PolicyInput = body.decode(
        &decode::POLICY,
        "Policy decoding failed",
        s.config.enterprise,
    )?;
    if !input.id.is_empty() && input.id != id {
        return Err(ConsulError::bad_request(
            "Policy ID in URL and payload do not match",
        ));
    }
    input.id = id;
    Ok(Reply::new(
        s.store.policy_set(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn policy_read(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.policy_get(&tok.caller(), &scope, Key::Id(&id))?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn policy_read_by_name(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    if name.is_empty() {
        return Err(ConsulError::bad_request("Missing policy Name"));
    }
    let v = s
        .store
        .policy_get(&tok.caller(), &scope, Key::Name(&name))?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn policy_delete(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(_scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    delete_result(s.store.policy_delete(&tok.caller(), &id), "policy")?;
    Ok(ok_true(&params))
}

pub(super) async fn policy_list(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.policy_list(&tok.caller(), &scope)?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

// ------------------------------------------------------------------------ roles

async fn role_write(
    s: ConsulState,
    id: String,
    tok: RequestToken,
    scope: crate::store::Scope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let mut input: RoleInput =
        body.decode(&decode::ROLE, "Role decoding failed", s.config.enterprise)?;
    if !input.id.is_empty() && input.id != id {
        return Err(ConsulError::bad_request(
            "Role ID in URL and payload do not match",
        ));
    }
    input.id = id;
    Ok(Reply::new(
        s.store.role_set(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn role_create(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    role_write(s, String::new(), tok, scope, params, body).await
}

pub(super) async fn role_update(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    role_write(s, id, tok, scope, params, body).await
}

pub(super) async fn role_read(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.role_get(&tok.caller(), &scope, Key::Id(&id))?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn role_read_by_name(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    if name.is_empty() {
        return Err(ConsulError::bad_request("Missing role Name"));
    }
    let v = s.store.role_get(&tok.caller(), &scope, Key::Name(&name))?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn role_delete(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(_scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    delete_result(s.store.role_delete(&tok.caller(), &id), "role")?;
    Ok(ok_true(&params))
}

pub(super) async fn role_list(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s
        .store
        .role_list(&tok.caller(), &scope, params.non_empty("policy"))?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

// ------------------------------------------------------------------------ tokens

pub(super) async fn token_create(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let input: TokenInput =
        body.decode(&decode::TOKEN, "Token decoding failed", s.config.enterprise)?;
    Ok(Reply::new(
        s.store.token_create(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn token_update(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let mut input: TokenInput =
        body.decode(&decode::TOKEN, "Token decoding failed", s.config.enterprise)?;
    if input.accessor_id.is_empty() {
        input.accessor_id = id.clone();
    }
    if input.accessor_id != id {
        return Err(ConsulError::bad_request(
            "Token Accessor ID in URL and payload do not match",
        ));
    }
    Ok(Reply::new(
        s.store.token_update(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn token_clone(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(_scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let input: TokenInput = if body.0.is_empty() {
        TokenInput::default()
    } else {
        body.decode(&decode::TOKEN, "Token decoding failed", s.config.enterprise)?
    };
    Ok(Reply::new(
        s.store
            .token_clone(&tok.caller(), &id, &input.description)?,
        &params,
    ))
}

pub(super) async fn token_read(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.token_get(&tok.caller(), &scope, &id)?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn token_self(
    State(s): State<ConsulState>,
    tok: RequestToken,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.token_self(&tok.caller())?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn token_delete(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(_scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    delete_result(s.store.token_delete(&tok.caller(), &id), "token")?;
    Ok(ok_true(&params))
}

pub(super) async fn token_list(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    if !s.config.enterprise && params.non_empty("authmethod-ns").is_some() {
        return Err(ConsulError::bad_request(
            "Invalid query parameter: \"authmethod-ns\" - Namespaces are a Consul Enterprise feature",
        ));
    }
    let filter = TokenFilter {
        policy: params.non_empty("policy").map(str::to_string),
        role: params.non_empty("role").map(str::to_string),
        auth_method: params.non_empty("authmethod").map(str::to_string),
        service_name: params.non_empty("servicename").map(str::to_string),
    };
    let v = s.store.token_list(&tok.caller(), &scope, &filter)?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

//! Handlers of auth methods, binding rules, `POST /v1/acl/login` and `POST /v1/acl/logout`.
//!
//! Login follows spec consul-aws-iam §4.3: load the method (the store), validate the bearer
//! token with the method's aws-iam validator (the only `.await`, no lock held), project the
//! identity, build the description, bind and write the token (the store, atomically).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::decode;
use super::extract::{EntScope, Params, RawBody, Reply, RequestToken, scope_from};
use crate::authmethod::aws_iam;
use crate::config::ConsulState;
use crate::error::ConsulError;
use crate::gojson;
use crate::store::types::{AuthMethodInput, BindingRuleInput, WrappedSecret};

fn delete_result(r: Result<(), ConsulError>, what: &str) -> Result<(), ConsulError> {
    match r {
        Err(e) if e.to_string().contains(crate::error::ACL_NOT_FOUND) => Err(
            ConsulError::NotFound(format!("Cannot find {what} to delete")),
        ),
        other => other,
    }
}

// ------------------------------------------------------------------------ auth methods

pub(super) async fn method_create(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let input: AuthMethodInput = body.decode(
        &decode::AUTH_METHOD,
        "AuthMethod decoding failed",
        s.config.enterprise,
    )?;
    Ok(Reply::new(
        s.store.auth_method_set(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn method_update(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let mut input: AuthMethodInput = body.decode(
        &decode::AUTH_METHOD,
        "AuthMethod decoding failed",
        s.config.enterprise,
    )?;
    if !input.name.is_empty() && input.name != name {
        return Err(ConsulError::bad_request(
            "AuthMethod Name in URL and payload do not match",
        ));
    }
    input.name = name;
    Ok(Reply::new(
        s.store.auth_method_set(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn method_read(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.auth_method_get(&tok.caller(), &scope, &name)?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn method_delete(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    delete_result(
        s.store.auth_method_delete(&tok.caller(), &scope, &name),
        "auth method",
    )?;
    Ok(Reply::new(serde_json::Value::Bool(true), &params))
}

pub(super) async fn method_list(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.auth_method_list(&tok.caller(), &scope)?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

// ------------------------------------------------------------------------ binding rules

async fn rule_write(
    s: ConsulState,
    id: String,
    tok: RequestToken,
    scope: crate::store::Scope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let mut input: BindingRuleInput = body.decode(
        &decode::BINDING_RULE,
        "BindingRule decoding failed",
        s.config.enterprise,
    )?;
    if !input.id.is_empty() && input.id != id {
        return Err(ConsulError::bad_request(
            "BindingRule ID in URL and payload do not match",
        ));
    }
    input.id = id;
    Ok(Reply::new(
        s.store.binding_rule_set(&tok.caller(), &scope, input)?,
        &params,
    ))
}

pub(super) async fn rule_create(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    rule_write(s, String::new(), tok, scope, params, body).await
}

pub(super) async fn rule_update(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    rule_write(s, id, tok, scope, params, body).await
}

pub(super) async fn rule_read(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s.store.binding_rule_get(&tok.caller(), &scope, &id)?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

pub(super) async fn rule_delete(
    State(s): State<ConsulState>,
    Path(id): Path<String>,
    tok: RequestToken,
    EntScope(_scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    delete_result(
        s.store.binding_rule_delete(&tok.caller(), &id),
        "binding rule",
    )?;
    Ok(Reply::new(serde_json::Value::Bool(true), &params))
}

pub(super) async fn rule_list(
    State(s): State<ConsulState>,
    tok: RequestToken,
    EntScope(scope): EntScope,
    params: Params,
) -> Result<Reply, ConsulError> {
    let v = s
        .store
        .binding_rule_list(&tok.caller(), &scope, params.non_empty("authmethod"))?;
    Ok(Reply::new(v, &params).with_index(s.store.index()))
}

// ------------------------------------------------------------------------ login / logout

/// Body of `POST /v1/acl/login` (`structs.ACLLoginParams`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginInput {
    #[serde(rename = "AuthMethod", default)]
    auth_method: String,
    #[serde(rename = "BearerToken", default)]
    bearer_token: Option<WrappedSecret>,
    #[serde(rename = "Meta", default)]
    meta: BTreeMap<String, String>,
    #[serde(rename = "Namespace", default)]
    namespace: Option<String>,
    #[serde(rename = "Partition", default)]
    partition: Option<String>,
}

/// Consul's `BuildTokenDescription`: the prefix, or the prefix + `: ` + Go's compact JSON of
/// the meta map (keys sorted, HTML escaped).
pub fn token_description(meta: &BTreeMap<String, String>) -> String {
    const PREFIX: &str = "token created via login";
    if meta.is_empty() {
        PREFIX.to_string()
    } else {
        format!("{PREFIX}: {}", gojson::marshal_string_map(meta))
    }
}

pub(super) async fn login(
    State(s): State<ConsulState>,
    headers: HeaderMap,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    // Consul parses the enterprise meta of the URL before the body (body fields win).
    let mut scope = scope_from(&params, &headers, &s)?;
    let input: LoginInput = body.decode(
        &decode::LOGIN,
        "Failed to decode request body",
        s.config.enterprise,
    )?;
    if let Some(ns) = input.namespace.filter(|n| !n.is_empty()) {
        scope.namespace = Some(ns);
    }
    if let Some(p) = input.partition.filter(|p| !p.is_empty()) {
        scope.partition = Some(p);
    }
    // Step 1: load the auth method.
    let method = s.store.login_method(&scope, &input.auth_method)?;
    // Step 2: validate the bearer token (outbound STS/IAM; no lock held).
    let bearer = input.bearer_token.map(|w| w.0).unwrap_or_default();
    let identity = method
        .validator
        .validate_login(bearer.expose())
        .await
        .map_err(|e| ConsulError::plain(e.to_string()))?;
    // Step 3: project the verified identity for binding.
    let projected = aws_iam::project(&identity, &method.config);
    // Step 4: the description from Meta.
    let description = token_description(&input.meta);
    // Steps 5–6: bind and write the token.
    let token = s.store.login_finish(&method, &projected, description)?;
    Ok(Reply::new(token, &params))
}

pub(super) async fn logout(
    State(s): State<ConsulState>,
    tok: RequestToken,
    params: Params,
) -> Result<Reply, ConsulError> {
    if let Some(dc) = params.non_empty("dc")
        && dc != s.config.datacenter
    {
        return Err(ConsulError::plain("No path to datacenter"));
    }
    let Some(secret) = tok.0 else {
        return Err(ConsulError::Unauthorized(
            "Supplied token does not exist".to_string(),
        ));
    };
    s.store.logout(&secret)?;
    Ok(Reply::new(serde_json::Value::Bool(true), &params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_from_meta() {
        assert_eq!(
            token_description(&BTreeMap::new()),
            "token created via login"
        );
        let mut m = BTreeMap::new();
        m.insert(
            "consul.hashicorp.com/task-id".to_string(),
            "abcdef".to_string(),
        );
        m.insert(
            "consul.hashicorp.com/cluster".to_string(),
            "arn:aws:ecs:us-east-1:123:cluster/x".to_string(),
        );
        m.insert("z".to_string(), "<&>".to_string());
        assert_eq!(
            token_description(&m),
            r#"token created via login: {"consul.hashicorp.com/cluster":"arn:aws:ecs:us-east-1:123:cluster/x","consul.hashicorp.com/task-id":"abcdef","z":"\u003c\u0026\u003e"}"#
        );
    }
}

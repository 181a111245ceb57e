//! The Consul HTTP API: router, extractors, error rendering, one file per endpoint family.
//!
//! [`router`] builds the whole API over a [`ConsulState`] so tests can drive it with
//! `oneshot` and no socket. Wrong methods answer 405 with `Allow` (Consul prepends
//! `OPTIONS`), `OPTIONS` answers 200 with `Allow`.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::json;

use crate::config::ConsulState;
use crate::error::ConsulError;
use crate::store::types::NamespaceInput;

mod acl;
mod auth;
pub(crate) mod decode;
mod error;
pub mod extract;

pub use auth::token_description;
use extract::{Params, RawBody, Reply, RequestToken};

/// An endpoint allowing `allow` (comma-separated, as in the `Allow` header after `OPTIONS`).
fn endpoint(allow: &'static str, mr: MethodRouter<ConsulState>) -> MethodRouter<ConsulState> {
    // UNVERIFIED: Consul's `registerEndpoint` lists OPTIONS first in `Allow`.
    let header_value = format!("OPTIONS,{allow}");
    let hv2 = header_value.clone();
    mr.options(move || {
        let v = hv2.clone();
        async move {
            let mut r = StatusCode::OK.into_response();
            if let Ok(h) = HeaderValue::from_str(&v) {
                r.headers_mut().insert(header::ALLOW, h);
            }
            r
        }
    })
    .fallback(move |req: Request| {
        let allow = header_value.clone();
        async move {
            ConsulError::MethodNotAllowed {
                method: req.method().to_string(),
                allow,
            }
        }
    })
}

fn missing(text: &'static str) -> MethodRouter<ConsulState> {
    endpoint(
        "GET,PUT,DELETE",
        MethodRouter::new()
            .get(move || async move { ConsulError::bad_request(text) })
            .delete(move || async move { ConsulError::bad_request(text) }),
    )
}

/// The whole API.
pub fn router(state: ConsulState) -> Router {
    let r = Router::new()
        .route(
            "/v1/acl/bootstrap",
            endpoint("PUT", MethodRouter::new().put(acl::bootstrap)),
        )
        // Policies.
        .route(
            "/v1/acl/policy",
            endpoint("PUT", MethodRouter::new().put(acl::policy_create)),
        )
        .route("/v1/acl/policy/", missing("Missing policy ID"))
        .route(
            "/v1/acl/policy/{id}",
            endpoint(
                "GET,PUT,DELETE",
                MethodRouter::new()
                    .get(acl::policy_read)
                    .put(acl::policy_update)
                    .delete(acl::policy_delete),
            ),
        )
        .route(
            "/v1/acl/policy/name/",
            endpoint(
                "GET",
                MethodRouter::new()
                    .get(|| async { ConsulError::bad_request("Missing policy Name") }),
            ),
        )
        .route(
            "/v1/acl/policy/name/{*name}",
            endpoint("GET", MethodRouter::new().get(acl::policy_read_by_name)),
        )
        .route(
            "/v1/acl/policies",
            endpoint("GET", MethodRouter::new().get(acl::policy_list)),
        )
        // Roles.
        .route(
            "/v1/acl/role",
            endpoint("PUT", MethodRouter::new().put(acl::role_create)),
        )
        .route("/v1/acl/role/", missing("Missing role ID"))
        .route(
            "/v1/acl/role/{id}",
            endpoint(
                "GET,PUT,DELETE",
                MethodRouter::new()
                    .get(acl::role_read)
                    .put(acl::role_update)
                    .delete(acl::role_delete),
            ),
        )
        .route(
            "/v1/acl/role/name/",
            endpoint(
                "GET",
                MethodRouter::new().get(|| async { ConsulError::bad_request("Missing role Name") }),
            ),
        )
        .route(
            "/v1/acl/role/name/{*name}",
            endpoint("GET", MethodRouter::new().get(acl::role_read_by_name)),
        )
        .route(
            "/v1/acl/roles",
            endpoint("GET", MethodRouter::new().get(acl::role_list)),
        )
        // Tokens.
        .route(
            "/v1/acl/token",
            endpoint("PUT", MethodRouter::new().put(acl::token_create)),
        )
        .route("/v1/acl/token/", missing("Missing token AccessorID"))
        .route(
            "/v1/acl/token/self",
            endpoint("GET", MethodRouter::new().get(acl::token_self)),
        )
        .route(
            "/v1/acl/token/{id}",
            endpoint(
                "GET,PUT,DELETE",
                MethodRouter::new()
                    .get(acl::token_read)
                    .put(acl::token_update)
                    .delete(acl::token_delete),
            ),
        )
        .route(
            "/v1/acl/token/{id}/clone",
            endpoint("PUT", MethodRouter::new().put(acl::token_clone)),
        )
        .route(
            "/v1/acl/tokens",
            endpoint("GET", MethodRouter::new().get(acl::token_list)),
        )
        // Auth methods.
        .route(
            "/v1/acl/auth-method",
            endpoint("PUT", MethodRouter::new().put(auth::method_create)),
        )
        .route("/v1/acl/auth-method/", missing("Missing auth method name"))
        .route(
            "/v1/acl/auth-method/{name}",
            endpoint(
                "GET,PUT,DELETE",
                MethodRouter::new()
                    .get(auth::method_read)
                    .put(auth::method_update)
                    .delete(auth::method_delete),
            ),
        )
        .route(
            "/v1/acl/auth-methods",
            endpoint("GET", MethodRouter::new().get(auth::method_list)),
        )
        // Binding rules.
        .route(
            "/v1/acl/binding-rule",
            endpoint("PUT", MethodRouter::new().put(auth::rule_create)),
        )
        .route("/v1/acl/binding-rule/", missing("Missing binding rule ID"))
        .route(
            "/v1/acl/binding-rule/{id}",
            endpoint(
                "GET,PUT,DELETE",
                MethodRouter::new()
                    .get(auth::rule_read)
                    .put(auth::rule_update)
                    .delete(auth::rule_delete),
            ),
        )
        .route(
            "/v1/acl/binding-rules",
            endpoint("GET", MethodRouter::new().get(auth::rule_list)),
        )
        // Login / logout.
        .route(
            "/v1/acl/login",
            endpoint("POST", MethodRouter::new().post(auth::login)),
        )
        .route(
            "/v1/acl/logout",
            endpoint("POST", MethodRouter::new().post(auth::logout)),
        )
        // Readiness parity.
        .route(
            "/v1/status/leader",
            endpoint("GET", MethodRouter::new().get(status_leader)),
        )
        .route(
            "/v1/agent/self",
            endpoint("GET", MethodRouter::new().get(agent_self)),
        );
    let r = if state.config.enterprise {
        r.route(
            "/v1/namespace",
            endpoint("PUT", MethodRouter::new().put(namespace_create)),
        )
        .route(
            "/v1/namespace/{name}",
            endpoint(
                "GET,PUT,DELETE",
                MethodRouter::new()
                    .get(namespace_read)
                    .put(namespace_update)
                    .delete(namespace_delete),
            ),
        )
        .route(
            "/v1/namespaces",
            endpoint("GET", MethodRouter::new().get(namespace_list)),
        )
        .route(
            "/v1/partition",
            endpoint("PUT", MethodRouter::new().put(partition_create)),
        )
        .route(
            "/v1/partitions",
            endpoint("GET", MethodRouter::new().get(partition_list)),
        )
    } else {
        r
    };
    let audit_state = state.clone();
    r.fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(
            audit_state,
            crate::audit::middleware,
        ))
        .with_state(state)
}

// ------------------------------------------------------------------------ status / agent

async fn status_leader(params: Params) -> Reply {
    Reply::new(json!("127.0.0.1:8300"), &params)
}

async fn agent_self(State(s): State<ConsulState>, params: Params) -> Reply {
    // UNVERIFIED: real Consul requires agent:read; the emulator answers every caller so
    // readiness probes work before a token exists.
    Reply::new(
        json!({
            "Config": {
                "Datacenter": s.config.datacenter,
                "PrimaryDatacenter": s.config.datacenter,
                "NodeName": "iamconform",
                "Server": true,
                "Version": "1.21.0",
                "Revision": "iamconform",
            },
            "Member": { "Name": "iamconform", "Addr": "127.0.0.1", "Port": 8301, "Status": 1 },
            "Meta": { "consul-network-segment": "" },
        }),
        &params,
    )
}

// ------------------------------------------------------------------------ namespaces (ENT)

async fn namespace_create(
    State(s): State<ConsulState>,
    tok: RequestToken,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let input: NamespaceInput = body.decode(&decode::NAMESPACE, "Request decoding failed", true)?;
    Ok(Reply::new(
        s.store.namespace_set(&tok.caller(), input)?,
        &params,
    ))
}

async fn namespace_update(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let mut input: NamespaceInput =
        body.decode(&decode::NAMESPACE, "Request decoding failed", true)?;
    if !input.name.is_empty() && input.name != name {
        // UNVERIFIED: enterprise text.
        return Err(ConsulError::bad_request(
            "Namespace name in URL and payload do not match",
        ));
    }
    input.name = name;
    Ok(Reply::new(
        s.store.namespace_set(&tok.caller(), input)?,
        &params,
    ))
}

async fn namespace_read(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    params: Params,
) -> Result<Response, ConsulError> {
    match s.store.namespace_get(&tok.caller(), &name) {
        Ok(v) => Ok(Reply::new(v, &params)
            .with_index(s.store.index())
            .into_response()),
        Err(ConsulError::NotFound(t)) if t.is_empty() => Ok(StatusCode::NOT_FOUND.into_response()),
        Err(e) => Err(e),
    }
}

async fn namespace_delete(
    State(s): State<ConsulState>,
    Path(name): Path<String>,
    tok: RequestToken,
    params: Params,
) -> Result<Reply, ConsulError> {
    s.store.namespace_delete(&tok.caller(), &name)?;
    Ok(Reply::new(json!(true), &params))
}

async fn namespace_list(
    State(s): State<ConsulState>,
    tok: RequestToken,
    params: Params,
) -> Result<Reply, ConsulError> {
    Ok(Reply::new(s.store.namespace_list(&tok.caller())?, &params).with_index(s.store.index()))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionInput {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Description", default)]
    description: String,
}

async fn partition_create(
    State(s): State<ConsulState>,
    tok: RequestToken,
    params: Params,
    body: RawBody,
) -> Result<Reply, ConsulError> {
    let input: PartitionInput = body.decode(&decode::PARTITION, "Request decoding failed", true)?;
    Ok(Reply::new(
        s.store
            .partition_set(&tok.caller(), &input.name, &input.description)?,
        &params,
    ))
}

async fn partition_list(
    State(s): State<ConsulState>,
    tok: RequestToken,
    params: Params,
) -> Result<Reply, ConsulError> {
    Ok(Reply::new(s.store.partition_list(&tok.caller())?, &params))
}

#[cfg(test)]
mod tests;

//! Putting a shared Consul back the way it was before a scenario.
//!
//! Before a scenario the harness lists every ACL object ([`Baseline::capture`]); afterwards it
//! deletes every object that is not in that list ([`restore`]), children before parents
//! (tokens, binding rules, auth methods, roles, policies, namespaces).

use std::collections::BTreeSet;

use iamconform_secret::Secret;

use super::{BackendError, ConsulInstance};
use crate::http::ConsulHttp;

/// The object IDs that existed before a scenario.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    enterprise: bool,
    ids: BTreeSet<(&'static str, String)>,
}

/// (list path, delete path prefix, id field) per object kind, in deletion order.
const KINDS: &[(&str, &str, &str)] = &[
    ("/v1/acl/tokens", "/v1/acl/token/", "AccessorID"),
    ("/v1/acl/binding-rules", "/v1/acl/binding-rule/", "ID"),
    ("/v1/acl/auth-methods", "/v1/acl/auth-method/", "Name"),
    ("/v1/acl/roles", "/v1/acl/role/", "ID"),
    ("/v1/acl/policies", "/v1/acl/policy/", "ID"),
];

const NAMESPACES: (&str, &str, &str) = ("/v1/namespaces", "/v1/namespace/", "Name");

async fn list(
    http: &ConsulHttp,
    token: &Secret<String>,
    path: &'static str,
    field: &str,
) -> Result<Vec<String>, BackendError> {
    let resp = http
        .send("GET", path, Some(token), None)
        .await
        .map_err(|e| BackendError::Failed(e.to_string()))?;
    if resp.status != 200 {
        return Err(BackendError::Failed(format!(
            "GET {path} answered {}: {}",
            resp.status,
            resp.body.trim()
        )));
    }
    let items = resp
        .json()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|i| i.get(field).and_then(|v| v.as_str()).map(str::to_string))
        .collect())
}

fn kinds(enterprise: bool) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut all = KINDS.to_vec();
    if enterprise {
        all.push(NAMESPACES);
    }
    all
}

impl Baseline {
    /// Lists every object now present.
    pub async fn capture(
        http: &ConsulHttp,
        token: &Secret<String>,
        enterprise: bool,
    ) -> Result<Baseline, BackendError> {
        let mut ids = BTreeSet::new();
        for (path, _, field) in kinds(enterprise) {
            for id in list(http, token, path, field).await? {
                ids.insert((path, id));
            }
        }
        Ok(Baseline { enterprise, ids })
    }
}

/// Deletes everything created since the baseline.
pub async fn restore(instance: &ConsulInstance) -> Result<(), BackendError> {
    let Some(baseline) = &instance.baseline else {
        return Ok(());
    };
    let http = ConsulHttp::new(&instance.http_addr);
    let token = &instance.management_token;
    let mut problems = Vec::new();
    for (path, delete, field) in kinds(baseline.enterprise) {
        for id in list(&http, token, path, field).await? {
            if baseline.ids.contains(&(path, id.clone())) {
                continue;
            }
            let target = format!("{delete}{id}");
            match http.send("DELETE", &target, Some(token), None).await {
                Ok(r) if r.status == 200 || r.status == 404 => {}
                Ok(r) => problems.push(format!("DELETE {target}: {} {}", r.status, r.body.trim())),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BackendError::Failed(format!(
            "could not remove what the scenario created: {}",
            problems.join("; ")
        )))
    }
}

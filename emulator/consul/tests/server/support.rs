use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http_body_util::BodyExt;
use iamconform_consul::authmethod::aws_iam::Outbound;
use iamconform_consul::{ConsulConfig, ConsulState, Setup};
use iamconform_secret::Secret;
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) const MGMT: &str = "5c6ce0e2-9a2c-4c37-8a44-0c8a7f1d2b3e";
pub(crate) const ACCOUNT: &str = "123456789012";

/// An IAM role the stub knows, keyed by access key ID.
#[derive(Clone)]
pub(crate) struct StubRole {
    pub(crate) name: &'static str,
    pub(crate) path: &'static str,
    pub(crate) id: &'static str,
    pub(crate) tags: Vec<(&'static str, &'static str)>,
}

pub(crate) fn roles() -> BTreeMap<&'static str, StubRole> {
    let r = |name, path, id, tags| StubRole {
        name,
        path,
        id,
        tags,
    };
    BTreeMap::from([
        (
            "AKIDWEB",
            r(
                "web-task",
                "/consul-ecs/",
                "AROAWEB",
                vec![("consul.hashicorp.com.service-name", "web")],
            ),
        ),
        (
            "AKIDAPIGW",
            r(
                "api-gw",
                "/consul-ecs/",
                "AROAAPIGW",
                vec![
                    ("consul.hashicorp.com.service-name", "api-gateway"),
                    ("consul.hashicorp.com.gateway-kind", "api-gateway"),
                ],
            ),
        ),
        (
            "AKIDNOTAG",
            r("untagged", "/consul-ecs/", "AROANOTAG", vec![]),
        ),
        ("AKIDOTHER", r("outsider", "/other/", "AROAOTHER", vec![])),
        (
            "AKIDNS",
            r(
                "team-a-task",
                "/consul-ecs/",
                "AROANS",
                vec![
                    ("consul.hashicorp.com.service-name", "billing"),
                    ("consul.hashicorp.com.namespace", "team-a"),
                ],
            ),
        ),
    ])
}

#[derive(Clone)]
struct Stub {
    roles: Arc<BTreeMap<&'static str, StubRole>>,
    calls: Arc<AtomicUsize>,
}

fn access_key(headers: &HeaderMap) -> String {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or_default()
        .to_string()
}

fn xml(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

async fn stub_handler(State(stub): State<Stub>, headers: HeaderMap, body: Bytes) -> Response {
    stub.calls.fetch_add(1, Ordering::SeqCst);
    let body = String::from_utf8_lossy(&body).to_string();
    let Some(role) = stub.roles.get(access_key(&headers).as_str()).cloned() else {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/xml")],
            "<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>",
        )
            .into_response();
    };
    if body.contains("Action=GetCallerIdentity") {
        return xml(format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetCallerIdentityResult>\n    <Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{}/session-1</Arn>\n    <UserId>{}:session-1</UserId>\n    <Account>{ACCOUNT}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>\n</GetCallerIdentityResponse>\n",
            role.name, role.id
        ));
    }
    if body.contains("Action=GetRole") {
        let tags: String = role
            .tags
            .iter()
            .map(|(k, v)| format!("<member><Key>{k}</Key><Value>{v}</Value></member>"))
            .collect();
        return xml(format!(
            "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <GetRoleResult>\n    <Role>\n      <Path>{path}</Path>\n      <Arn>arn:aws:iam::{ACCOUNT}:role{path}{name}</Arn>\n      <RoleName>{name}</RoleName>\n      <RoleId>{id}</RoleId>\n      <Tags>{tags}</Tags>\n    </Role>\n  </GetRoleResult>\n</GetRoleResponse>",
            path = role.path,
            name = role.name,
            id = role.id
        ));
    }
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/xml")],
        "<ErrorResponse/>",
    )
        .into_response()
}

/// A running stub on 127.0.0.1.
pub(crate) struct StubAws {
    pub(crate) addr: SocketAddr,
    pub(crate) calls: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

pub(crate) async fn start_stub() -> StubAws {
    let calls = Arc::new(AtomicUsize::new(0));
    let stub = Stub {
        roles: Arc::new(roles()),
        calls: calls.clone(),
    };
    let app = Router::new().fallback(stub_handler).with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    StubAws {
        addr,
        calls,
        _task: task,
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// A structurally valid bearer token (`consul login -aws-auto-bearer-token
/// -aws-include-entity` shape) for the stub role with this access key.
pub(crate) fn bearer(akid: &str) -> String {
    let role = roles().get(akid).map_or("nobody", |r| r.name);
    let iam_headers = json!({
        "Authorization": [format!("AWS4-HMAC-SHA256 Credential={akid}/20260101/us-east-1/iam/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date, Signature=00")],
        "Content-Length": ["50"],
        "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
        "X-Amz-Date": ["20260101T000000Z"],
    });
    let headers = json!({
        "Authorization": [format!("AWS4-HMAC-SHA256 Credential={akid}/20260101/us-east-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-consul-iam-getentity-body;x-consul-iam-getentity-headers;x-consul-iam-getentity-method;x-consul-iam-getentity-url, Signature=00")],
        "Content-Length": ["43"],
        "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
        "X-Amz-Date": ["20260101T000000Z"],
        "X-Consul-Iam-Getentity-Method": ["POST"],
        "X-Consul-Iam-Getentity-Url": ["https://iam.amazonaws.com/"],
        "X-Consul-Iam-Getentity-Headers": [iam_headers.to_string()],
        "X-Consul-Iam-Getentity-Body": [format!("Action=GetRole&RoleName={role}&Version=2010-05-08")],
    });
    json!({
        "iam_http_request_method": "POST",
        "iam_request_url": b64("https://sts.us-east-1.amazonaws.com/"),
        "iam_request_headers": b64(&headers.to_string()),
        "iam_request_body": b64("Action=GetCallerIdentity&Version=2011-06-15"),
    })
    .to_string()
}

pub(crate) fn config(stub: &StubAws, enterprise: bool) -> ConsulConfig {
    ConsulConfig {
        enterprise,
        initial_management_token: Some(Secret::new(MGMT.to_string())),
        outbound: Outbound {
            aws_endpoint: Some(format!("http://{}", stub.addr)),
            ..Outbound::default()
        },
        ..ConsulConfig::default()
    }
}

/// A Consul (router, no socket) with the consul-ecs preset applied.
pub(crate) async fn consul_ecs(stub: &StubAws) -> (ConsulState, Router) {
    let state = ConsulState::new(config(stub, false)).unwrap();
    let setup = Setup::from_yaml(include_str!("../../../../fixtures/consul-ecs.yaml")).unwrap();
    state.apply_setup(&setup).unwrap();
    let app = iamconform_consul::router(state.clone());
    (state, app)
}

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub(crate) async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("X-Consul-Token", t);
    }
    let req = b.body(body.map_or_else(Body::empty, Body::from)).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub(crate) async fn login(app: &Router, method: &str, akid: &str, meta: Value) -> Resp {
    let body = json!({"AuthMethod": method, "BearerToken": bearer(akid), "Meta": meta});
    call(app, "POST", "/v1/acl/login", None, Some(body.to_string())).await
}

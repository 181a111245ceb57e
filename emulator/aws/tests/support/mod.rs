//! Shared test scaffolding: a state over the shipped fixtures and an aws-sigv4 signer.
#![allow(dead_code, unreachable_pub)]

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::Body;
use iamconform_aws::{AwsConfig, AwsState, IdentityStore};
use iamconform_sigv4::CredentialLookup;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub const ACCOUNT: &str = "123456789012";
pub const WEB_KEY: &str = "ASIAEXAMPLEWEBTASK01";
pub const EXPIRED_KEY: &str = "ASIAEXAMPLEWEBEXPIRD";
pub const RESTRICTED_KEY: &str = "ASIAEXAMPLERESTRICT1";
pub const USER_KEY: &str = "AKIAEXAMPLECIUSER001";
pub const DEPLOY_KEY: &str = "AKIAEXAMPLEDEPLOY001";
pub const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
pub const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Credentials as a client holds them.
#[derive(Clone, Debug)]
pub struct Creds {
    pub akid: String,
    pub secret: String,
    pub token: Option<String>,
}

/// The fixture credentials of `akid`.
pub fn creds(akid: &str) -> Creds {
    let store = IdentityStore::shipped().unwrap();
    let rec = store.lookup(akid).unwrap();
    Creds {
        akid: akid.to_owned(),
        secret: rec.secret_access_key.expose().clone(),
        token: rec.session_token.map(|t| t.expose().clone()),
    }
}

pub fn state() -> AwsState {
    state_with(AwsConfig::default())
}

pub fn state_with(config: AwsConfig) -> AwsState {
    AwsState::new(IdentityStore::shipped().unwrap(), config)
}

/// What to sign.
#[derive(Clone, Debug)]
pub struct Spec {
    pub method: &'static str,
    pub host: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub region: String,
    pub service: String,
    pub presign: bool,
    pub time: SystemTime,
    pub creds: Creds,
}

impl Spec {
    /// An STS GetCallerIdentity POST, botocore style.
    pub fn sts_post(creds: Creds) -> Self {
        Self {
            method: "POST",
            host: "sts.us-east-1.amazonaws.com".to_owned(),
            path: "/".to_owned(),
            query: Vec::new(),
            headers: vec![("content-type".to_owned(), FORM.to_owned())],
            body: STS_BODY.as_bytes().to_vec(),
            region: "us-east-1".to_owned(),
            service: "sts".to_owned(),
            presign: false,
            time: SystemTime::now(),
            creds,
        }
    }

    /// An IAM POST with `body`.
    pub fn iam_post(creds: Creds, body: &str) -> Self {
        Self {
            host: "iam.amazonaws.com".to_owned(),
            body: body.as_bytes().to_vec(),
            service: "iam".to_owned(),
            ..Self::sts_post(creds)
        }
    }

    /// A GET with the parameters in the query.
    pub fn get(mut self, params: &[(&str, &str)]) -> Self {
        self.method = "GET";
        self.body.clear();
        self.headers.retain(|(n, _)| n != "content-type");
        self.query = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The wire form of a signed request.
#[derive(Clone, Debug)]
pub struct Wire {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Wire {
    pub fn to_request(&self) -> http::Request<Body> {
        let mut b = http::Request::builder()
            .method(self.method.as_str())
            .uri(self.path_and_query.as_str());
        for (n, v) in &self.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        b.body(Body::from(self.body.clone())).unwrap()
    }

    /// [`Wire::to_request`] with the body cut into frames of at most `size` bytes, as a
    /// chunked or slowly arriving body reaches the handler.
    pub fn to_request_in_frames(&self, size: usize) -> http::Request<Body> {
        self.to_request()
            .map(|_| Body::new(Frames::of(&self.body, size)))
    }

    /// Replaces the path (keeping the query).
    pub fn with_path(mut self, path: &str) -> Self {
        let query = self
            .path_and_query
            .split_once('?')
            .map(|(_, q)| format!("?{q}"))
            .unwrap_or_default();
        self.path_and_query = format!("{path}{query}");
        self
    }

    pub fn set_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_VALUE),
                utf8_percent_encode(v, QUERY_VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs `spec` with aws-sigv4 (the independent oracle).
pub fn sign_request(spec: &Spec) -> Wire {
    let query = encode_query(&spec.query);
    let uri = if query.is_empty() {
        format!("http://{}{}", spec.host, spec.path)
    } else {
        format!("http://{}{}?{query}", spec.host, spec.path)
    };
    let mut headers: Vec<(String, String)> = vec![("host".to_owned(), spec.host.clone())];
    headers.extend(spec.headers.iter().cloned());
    let identity: Identity = Credentials::new(
        &spec.creds.akid,
        &spec.creds.secret,
        spec.creds.token.clone(),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    if spec.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(900));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&spec.region)
        .name(&spec.service)
        .time(spec.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        spec.method,
        uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&spec.body),
    )
    .unwrap();
    let (instructions, _sig) = sign(signable, &params).unwrap().into_parts();
    let (new_headers, new_params) = instructions.into_parts();
    let mut q = query;
    for (name, value) in new_params {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&format!(
            "{name}={}",
            utf8_percent_encode(&value, QUERY_VALUE)
        ));
    }
    for h in new_headers {
        headers.push((h.name().to_owned(), h.value().to_owned()));
    }
    Wire {
        method: spec.method.to_owned(),
        path_and_query: if q.is_empty() {
            spec.path.clone()
        } else {
            format!("{}?{q}", spec.path)
        },
        headers,
        body: spec.body.clone(),
    }
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub request_id: Option<String>,
    pub body: String,
}

impl Answer {
    /// The text of the first `<tag>` element.
    pub fn xml(&self, tag: &str) -> Option<String> {
        let open = format!("<{tag}>");
        let start = self.body.find(&open)? + open.len();
        let end = self.body[start..].find(&format!("</{tag}>"))? + start;
        Some(
            self.body[start..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    }

    pub fn code(&self) -> String {
        self.xml("Code").unwrap_or_default()
    }

    pub fn message(&self) -> String {
        self.xml("Message").unwrap_or_default()
    }
}

/// Sends `req` through [`iamconform_aws::service`], what `bind` serves (`tests/service.rs`
/// checks that it answers as [`iamconform_aws::router`]).
pub async fn send(state: &AwsState, req: http::Request<Body>) -> Answer {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let resp = iamconform_aws::service(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let content_type = header("content-type");
    let request_id = header("x-amzn-requestid");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        request_id,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub async fn send_wire(state: &AwsState, wire: &Wire) -> Answer {
    send(state, wire.to_request()).await
}

/// A body delivered as a sequence of data frames.
pub struct Frames(std::collections::VecDeque<bytes::Bytes>);

impl Frames {
    pub fn of(bytes: &[u8], size: usize) -> Self {
        Self(
            bytes
                .chunks(size.max(1))
                .map(bytes::Bytes::copy_from_slice)
                .collect(),
        )
    }
}

impl hyper::body::Body for Frames {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

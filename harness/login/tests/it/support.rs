//! Loopback stub servers and a SigV4 oracle written independently of `aws-sigv4`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use iamconform_login::{AwsCredentials, BearerToken, MapEnv, main_login, main_logout};
use iamconform_secret::Secret;
use sha2::{Digest, Sha256};

pub(crate) const AKID: &str = "ASIAEXAMPLEWEB000001";
pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub(crate) const SESSION: &str = "FQoGZXIvYXdzEXAMPLESESSIONTOKEN";
pub(crate) const ROLE_ARN: &str = "arn:aws:sts::123456789012:assumed-role/web-task/task-1";
pub(crate) const USER_ARN: &str = "arn:aws:iam::123456789012:user/ci/ci-user";

/// One request a stub received.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(crate) type Responder = Arc<dyn Fn(&Recorded) -> (u16, String) + Send + Sync>;

#[derive(Clone)]
struct StubState {
    log: Arc<Mutex<Vec<Recorded>>>,
    respond: Responder,
}

pub(crate) struct Stub {
    pub(crate) addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Stub {
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
}

async fn handle(State(state): State<StubState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1024 * 1024).await.unwrap();
    let rec = Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: body.to_vec(),
    };
    let (status, text) = (state.respond)(&rec);
    state.log.lock().unwrap().push(rec);
    let ct = if text.starts_with('<') {
        "text/xml"
    } else {
        "application/json"
    };
    Response::builder()
        .status(status)
        .header("content-type", ct)
        .body(Body::from(text))
        .unwrap()
}

pub(crate) async fn start(respond: Responder) -> Stub {
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().fallback(handle).with_state(StubState {
        log: log.clone(),
        respond,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Stub { addr, log }
}

/// A stub STS answering GetCallerIdentity for `arn`.
pub(crate) async fn sts(arn: &'static str) -> Stub {
    start(Arc::new(move |_r: &Recorded| {
        (
            200,
            format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetCallerIdentityResult>\n    <Arn>{arn}</Arn>\n    <UserId>AROAEXAMPLE:task-1</UserId>\n    <Account>123456789012</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n</GetCallerIdentityResponse>\n"
            ),
        )
    }))
    .await
}

/// A stub Consul: login answers a token, logout accepts `secret-1` and rejects others.
pub(crate) async fn consul() -> Stub {
    start(Arc::new(|r: &Recorded| {
        if r.uri.starts_with("/v1/acl/login") {
            (
                200,
                r#"{"AccessorID":"a-1","SecretID":"secret-1","AuthMethod":"m"}"#.to_owned(),
            )
        } else if r.uri.starts_with("/v1/acl/logout") {
            match r.header("x-consul-token") {
                None => (401, "Supplied token does not exist\n".to_owned()),
                Some("secret-1") => (200, "true".to_owned()),
                Some(_) => (403, "ACL not found".to_owned()),
            }
        } else {
            (404, "not found".to_owned())
        }
    }))
    .await
}

pub(crate) fn temp_creds() -> AwsCredentials {
    AwsCredentials::from_flags(
        AKID,
        Secret::new(SECRET.to_owned()),
        Some(Secret::new(SESSION.to_owned())),
    )
}

pub(crate) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) async fn login(list: &[&str], env: &MapEnv) -> Outcome {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = main_login(&args(list), env, &mut out, &mut err).await;
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

pub(crate) async fn logout(list: &[&str], env: &MapEnv) -> Outcome {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = main_logout(&args(list), env, &mut out, &mut err).await;
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

/// The embedded IAM request of a token, as a token-shaped value.
pub(crate) fn embedded(token: &BearerToken) -> Option<BearerToken> {
    Some(BearerToken {
        method: token.header("X-Consul-Iam-Getentity-Method")?.to_owned(),
        url: token.header("X-Consul-Iam-Getentity-Url")?.to_owned(),
        headers: iamconform_login::token::parse_header_json(
            token.header("X-Consul-Iam-Getentity-Headers")?.as_bytes(),
        )
        .ok()?,
        body: token
            .header("X-Consul-Iam-Getentity-Body")?
            .as_bytes()
            .to_vec(),
    })
}

/// The parsed `Credential=` scope: (access key, date, region, service).
pub(crate) fn scope(token: &BearerToken) -> (String, String, String, String) {
    let auth = token.header("Authorization").unwrap_or_default();
    let cred = auth
        .split([' ', ','])
        .find_map(|p| p.strip_prefix("Credential="))
        .unwrap_or_default();
    let parts: Vec<&str> = cred.split('/').collect();
    (
        parts.first().copied().unwrap_or_default().to_owned(),
        parts.get(1).copied().unwrap_or_default().to_owned(),
        parts.get(2).copied().unwrap_or_default().to_owned(),
        parts.get(3).copied().unwrap_or_default().to_owned(),
    )
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Recomputes the SigV4 signature of `token` as AWS would, with the Host taken from the URL
/// (as Consul forwards it), and compares. Written from the AWS documentation, not `aws-sigv4`.
pub(crate) fn verify_sigv4(token: &BearerToken, secret: &str) -> Result<(), String> {
    let auth = token.header("Authorization").ok_or("no Authorization")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut credential = "";
    let mut signed = "";
    let mut signature = "";
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = v;
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let scope_parts: Vec<&str> = credential.splitn(2, '/').collect();
    let scope = scope_parts.get(1).ok_or("bad credential")?;
    let fields: Vec<&str> = scope.split('/').collect();
    let [date, region, service, "aws4_request"] = fields.as_slice() else {
        return Err(format!("bad scope {scope}"));
    };
    let amz_date = token.header("X-Amz-Date").ok_or("no X-Amz-Date")?;
    let uri: http::Uri = token.url.parse().map_err(|e| format!("{e}"))?;
    let host = match (uri.scheme_str(), uri.port_u16()) {
        (Some("http"), Some(80)) | (Some("https"), Some(443)) | (_, None) => {
            uri.host().unwrap_or_default().to_owned()
        }
        (_, Some(p)) => format!("{}:{p}", uri.host().unwrap_or_default()),
    };
    let mut query: Vec<&str> = uri
        .query()
        .map(|q| q.split('&').collect())
        .unwrap_or_default();
    query.sort_unstable();
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let value = if name == "host" {
            host.clone()
        } else {
            let values: Vec<String> = token
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.iter())
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            if values.is_empty() {
                return Err(format!("signed header {name} missing from the request"));
            }
            values.join(",")
        };
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let creq = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        token.method,
        uri.path(),
        query.join("&"),
        canonical_headers,
        signed,
        hex::encode(Sha256::digest(&token.body))
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, service);
    let k = hmac(&k, "aws4_request");
    let want = hex::encode(hmac(&k, &sts));
    if want == signature {
        Ok(())
    } else {
        Err(format!("signature mismatch; canonical request:\n{creq}"))
    }
}

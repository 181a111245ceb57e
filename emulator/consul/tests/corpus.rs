#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! The aws-iam validator against the corpus of verdicts from Consul's real validator
//! (`tests/data/corpus/`, copied from `shared/corpus/`; see its README).
//!
//! - `consul-awsauth-verdicts.jsonl`: config verdicts via `parse_config`; login verdicts via
//!   `validate_login` against a loopback stub (`<STS_ENDPOINT>`); `forwarded: true` means the stub
//!   received the STS request, with the token's host as `Host` (AWS hosts reach the stub through
//!   `Outbound::aws_endpoint`).
//! - `consul-awsauth-responses.jsonl`: the stub serves the given STS/IAM responses to a bearer
//!   token built here; the identity or error must match.
//!
//! Texts must match exactly; where the corpus README allows it (Go standard-library tails after a
//! fixed prefix) a prefix match is accepted and counted separately.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use iamconform_consul::authmethod::aws_iam::{Identity, Outbound, Validator, parse_config};
use serde_json::{Value, json};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/corpus");

/// Prefixes after which the README allows Go standard-library wording to differ.
const PREFIX_OK: [&str; 6] = [
    "invalid token: ",
    "error STSEndpoint is invalid: ",
    "error IAMEndpoint is invalid: ",
    "iam_request_body error: ",
    "error parsing IAM response: ",
    "error making request: ",
];

#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    body: String,
}

#[derive(Clone, Debug)]
struct Seen {
    host: String,
    uri: String,
    body: String,
}

#[derive(Clone)]
struct StubState {
    sts: Reply,
    iam: Reply,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct Stub {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn start_stub(sts: Reply, iam: Reply) -> Stub {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = StubState {
        sts,
        iam,
        seen: seen.clone(),
    };
    let app = Router::new().fallback(handle).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Stub { url, seen }
}

async fn handle(State(state): State<StubState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let body = String::from_utf8_lossy(&body).into_owned();
    let host = parts
        .headers
        .get("host")
        .map(|h| h.to_str().unwrap().to_owned())
        .unwrap_or_default();
    // IAM requests are those whose body names GetRole/GetUser.
    let reply = if body.contains("GetRole") || body.contains("GetUser") {
        state.iam.clone()
    } else {
        state.sts.clone()
    };
    state.seen.lock().unwrap().push(Seen {
        host,
        uri: parts.uri.to_string(),
        body,
    });
    let mut b = Response::builder().status(reply.status);
    if let Some(ct) = reply.content_type {
        b = b.header("Content-Type", ct);
    }
    b.body(Body::from(reply.body)).unwrap()
}

fn substitute(v: &Value, endpoint: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("<STS_ENDPOINT>", endpoint)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, endpoint)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute(x, endpoint)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn outbound(stub: &Stub) -> Outbound {
    Outbound {
        aws_endpoint: Some(stub.url.clone()),
        retry_wait_min: Duration::from_millis(1),
        ..Outbound::default()
    }
}

#[derive(Default)]
struct Tally {
    exact: usize,
    prefix: usize,
    failures: Vec<String>,
}

impl Tally {
    fn text(&mut self, name: &str, want: &str, got: &str) {
        if want == got {
            self.exact += 1;
            return;
        }
        let allowed = PREFIX_OK
            .iter()
            .find(|p| want.starts_with(*p) && got.starts_with(*p));
        match allowed {
            Some(_) => self.prefix += 1,
            None => self
                .failures
                .push(format!("{name}: want {want:?}, got {got:?}")),
        }
    }

    fn ok(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.exact += 1,
            Err(e) => self.failures.push(format!("{name}: {e}")),
        }
    }
}

fn lines(file: &str) -> Vec<Value> {
    std::fs::read_to_string(format!("{DATA}/{file}"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The token's URL host, read from the (possibly upper-case) `iam_request_url` key.
fn token_host(token: &str) -> Option<String> {
    let v: Value = serde_json::from_str(token).ok()?;
    let (_, url) = v
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("iam_request_url"))?;
    let url = String::from_utf8(STANDARD.decode(url.as_str()?).ok()?).ok()?;
    let rest = url.split_once("://")?.1;
    Some(rest.split('/').next()?.to_owned())
}

async fn run_verdict(case: &Value, tally: &mut Tally) {
    let name = case["name"].as_str().unwrap();
    let verdict = &case["verdict"];
    let default_reply = Reply {
        status: 400,
        content_type: Some("text/plain".into()),
        body: "stub".into(),
    };
    let stub = start_stub(default_reply.clone(), default_reply).await;
    let config = substitute(&case["config"], &stub.url);
    let parsed = parse_config(&config);
    if verdict["stage"] == "config" {
        match parsed {
            Err(e) => tally.text(name, verdict["error"].as_str().unwrap(), &e.to_string()),
            Ok(_) => tally
                .failures
                .push(format!("{name}: config accepted, want refusal")),
        }
        return;
    }
    let config = match parsed {
        Ok(c) => c,
        Err(e) => {
            tally.failures.push(format!("{name}: config refused: {e}"));
            return;
        }
    };
    let token = case["bearer_token"].as_str().unwrap();
    let validator = Validator::new(config, outbound(&stub));
    let result = validator.validate_login(token).await;
    let seen = stub.seen.lock().unwrap().clone();
    // The offline checks agree with the whole pipeline: a token Consul forwards passes them, a
    // token it refuses before forwarding fails them with the same error.
    let offline = validator.check_token(token);
    let agree = match (&offline, &result) {
        (Ok(_), _) => verdict["forwarded"] == true,
        (Err(o), Err(r)) => verdict["forwarded"] != true && o == r,
        (Err(_), Ok(_)) => false,
    };
    if !agree {
        tally.failures.push(format!(
            "{name}: check_token {offline:?} disagrees with validate_login {result:?}"
        ));
        return;
    }
    if verdict["forwarded"] == true {
        let want_host = token_host(token).unwrap();
        let check = match (seen.first(), &result) {
            (None, _) => Err(format!("not forwarded; result {result:?}")),
            (Some(s), _) if s.host != want_host => {
                Err(format!("Host {:?}, want {want_host:?}", s.host))
            }
            // The stub has no path and the tokens' path is `/`: the joined path is `/`.
            (Some(s), _) if s.uri != "/" => {
                Err(format!("forwarded to path {:?}, want \"/\"", s.uri))
            }
            (Some(s), _) if s.body.contains("GetRole") || s.body.contains("GetUser") => {
                Err(format!("first request was not STS: {s:?}"))
            }
            // The stub answers text/plain: the login must fail right after the STS call.
            (Some(_), Err(e)) if e.to_string() == "response body is invalid" => Ok(()),
            (Some(_), r) => Err(format!("unexpected result after forwarding: {r:?}")),
        };
        tally.ok(name, check);
        return;
    }
    let want = verdict["error"].as_str().unwrap();
    if !seen.is_empty() {
        tally.failures.push(format!(
            "{name}: structural refusal but the stub was called: {seen:?}"
        ));
        return;
    }
    match result {
        Err(e) => tally.text(name, want, &e.to_string()),
        Ok(id) => tally
            .failures
            .push(format!("{name}: accepted ({id:?}), want {want:?}")),
    }
}

fn reply(v: &Value) -> Reply {
    if v.is_null() {
        return Reply {
            status: 500,
            content_type: None,
            body: "no IAM response in this case".into(),
        };
    }
    Reply {
        status: u16::try_from(v["status"].as_u64().unwrap()).unwrap(),
        content_type: v["content_type"].as_str().map(str::to_owned),
        body: v["body"].as_str().unwrap().to_owned(),
    }
}

const SERVER_ID: &str = "consul.corpus.example";
const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// A structurally valid token as `consul login` builds it (signatures are not checked by the
/// stub), with the corpus server id, optionally embedding a signed GetRole.
fn build_token(entity_details: bool) -> String {
    let mut headers = json!({
        "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
        "X-Amz-Date": ["20261127T125626Z"],
        "X-Amz-Security-Token": ["corpus-session-token"],
        "X-Consul-Iam-Serverid": [SERVER_ID],
    });
    let mut signed = "content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-serverid";
    if entity_details {
        let iam_headers = json!({
            "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
            "X-Amz-Date": ["20261127T125626Z"],
            "X-Amz-Security-Token": ["corpus-session-token"],
            "X-Consul-Iam-Serverid": [SERVER_ID],
            "Authorization": ["AWS4-HMAC-SHA256 Credential=ASIACORPUSEXAMPLE001/20261127/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-serverid, Signature=00"],
        });
        let m = headers.as_object_mut().unwrap();
        m.insert("X-Consul-Iam-Getentity-Method".into(), json!(["POST"]));
        m.insert(
            "X-Consul-Iam-Getentity-Url".into(),
            json!(["https://iam.amazonaws.com/"]),
        );
        m.insert(
            "X-Consul-Iam-Getentity-Headers".into(),
            json!([iam_headers.to_string()]),
        );
        m.insert(
            "X-Consul-Iam-Getentity-Body".into(),
            json!(["Action=GetRole&RoleName=corpus-role&Version=2010-05-08"]),
        );
        signed = "content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-getentity-body;x-consul-iam-getentity-headers;x-consul-iam-getentity-method;x-consul-iam-getentity-url;x-consul-iam-serverid";
    }
    headers.as_object_mut().unwrap().insert(
        "Authorization".into(),
        json!([format!("AWS4-HMAC-SHA256 Credential=ASIACORPUSEXAMPLE001/20261127/us-east-1/sts/aws4_request, SignedHeaders={signed}, Signature=00")]),
    );
    json!({
        "iam_http_request_method": "POST",
        "iam_request_url": STANDARD.encode("https://sts.amazonaws.com/"),
        "iam_request_headers": STANDARD.encode(headers.to_string()),
        "iam_request_body": STANDARD.encode(STS_BODY),
    })
    .to_string()
}

fn identity_matches(want: &Value, got: &Identity) -> Result<(), String> {
    let tags = match &want["EntityTags"] {
        Value::Null => None,
        Value::Object(m) => Some(
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        other => return Err(format!("bad EntityTags in corpus: {other}")),
    };
    let expected = Identity {
        entity_name: want["EntityName"].as_str().unwrap().to_owned(),
        entity_id: want["EntityId"].as_str().unwrap().to_owned(),
        account_id: want["AccountId"].as_str().unwrap().to_owned(),
        entity_path: want["EntityPath"].as_str().unwrap().to_owned(),
        entity_tags: tags,
    };
    if &expected == got {
        Ok(())
    } else {
        Err(format!("identity {got:?}, want {expected:?}"))
    }
}

async fn run_response(case: &Value, tally: &mut Tally) {
    let name = case["name"].as_str().unwrap();
    let stub = start_stub(reply(&case["sts_response"]), reply(&case["iam_response"])).await;
    let config = match parse_config(&substitute(&case["config"], &stub.url)) {
        Ok(c) => c,
        Err(e) => {
            tally.failures.push(format!("{name}: config refused: {e}"));
            return;
        }
    };
    let validator = Validator::new(config, outbound(&stub));
    let token = build_token(case["entity_details"] == true);
    let result = validator.validate_login(&token).await;
    let verdict = &case["verdict"];
    match (verdict["ok"] == true, result) {
        (true, Ok(id)) => tally.ok(name, identity_matches(&verdict["identity"], &id)),
        (false, Err(e)) => {
            let want = verdict["error"]
                .as_str()
                .unwrap()
                .replace("<STS_ENDPOINT>", &stub.url);
            tally.text(name, &want, &e.to_string());
        }
        (true, Err(e)) => tally.failures.push(format!("{name}: refused: {e}")),
        (false, Ok(id)) => tally.failures.push(format!("{name}: accepted {id:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consul_corpus() {
    let verdicts = lines("consul-awsauth-verdicts.jsonl");
    let responses = lines("consul-awsauth-responses.jsonl");
    let mut tally = Tally::default();
    for case in &verdicts {
        run_verdict(case, &mut tally).await;
    }
    for case in &responses {
        run_response(case, &mut tally).await;
    }
    let total = verdicts.len() + responses.len();
    let matched = tally.exact + tally.prefix;
    println!(
        "consul corpus: {matched}/{total} verdicts matched ({} exactly, {} by prefix)",
        tally.exact, tally.prefix
    );
    for f in &tally.failures {
        println!("  MISMATCH {f}");
    }
    assert_eq!(total, 135, "corpus size changed");
    assert!(
        tally.failures.is_empty(),
        "{} corpus mismatches",
        tally.failures.len()
    );
    assert_eq!(matched, total);
}

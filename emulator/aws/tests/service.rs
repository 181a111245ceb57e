#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! [`iamconform_aws::service`] (what `bind` serves) answers exactly as [`iamconform_aws::router`]:
//! the same status, headers, body and journal entry for every kind of request, the STS/IAM
//! fast path and the routes it hands to the router alike.

mod support;

use axum::body::Body;
use http_body_util::BodyExt;
use iamconform_aws::{AwsConfig, AwsState};
use support::*;
use tower::ServiceExt;

/// Status, headers in order, and body, with the request id replaced by `<rid>`.
async fn answer(resp: axum::response::Response) -> (u16, Vec<(String, String)>, String) {
    let rid = resp
        .headers()
        .get("x-amzn-requestid")
        .map(|v| v.to_str().unwrap().to_owned());
    let hide = |s: &str| match &rid {
        Some(rid) => s.replace(rid.as_str(), "<rid>"),
        None => s.to_owned(),
    };
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), hide(v.to_str().unwrap())))
        .collect();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, hide(&String::from_utf8_lossy(&body)))
}

/// The journal as JSON, with the per-request id and time left out.
fn journal(state: &AwsState) -> Vec<serde_json::Value> {
    state
        .journal()
        .entries()
        .into_iter()
        .map(|e| {
            let mut v = serde_json::to_value(&e).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("request_id");
            o.remove("time");
            v
        })
        .collect()
}

fn raw(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> http::Request<Body> {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

/// Builds a request afresh: bodies are consumed, and each goes to the router and the service.
type MakeRequest = Box<dyn Fn() -> http::Request<Body>>;

/// Every kind of request, named.
fn requests() -> Vec<(&'static str, MakeRequest)> {
    let sts = sign_request(&Spec::sts_post(creds(USER_KEY)));
    let sts_token = sign_request(&Spec::sts_post(creds(WEB_KEY)));
    let role = sign_request(&Spec::iam_post(
        creds(WEB_KEY),
        "Action=GetRole&RoleName=web-task&Version=2010-05-08",
    ));
    let mut wrong = Spec::sts_post(creds(USER_KEY));
    wrong.creds.secret.push('x');
    let wrong = sign_request(&wrong);
    let get = sign_request(
        &Spec::sts_post(creds(WEB_KEY))
            .get(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
    );
    let big = "x".repeat(2048);
    let oversized = sts.clone().set_header("x-big", &big);
    let host = [("host", "sts.amazonaws.com")];
    vec![
        ("signed sts post", Box::new(move || sts.to_request())),
        (
            "signed sts post with a session token",
            Box::new(move || sts_token.to_request()),
        ),
        ("signed iam get role", Box::new(move || role.to_request())),
        ("wrong secret", Box::new(move || wrong.to_request())),
        ("signed get", Box::new(move || get.to_request())),
        (
            "oversized header section",
            Box::new(move || oversized.to_request()),
        ),
        (
            "head, oversized",
            Box::new(move || {
                raw(
                    "HEAD",
                    "/",
                    &[("host", "sts.amazonaws.com"), ("x-big", &big)],
                    "",
                )
            }),
        ),
        (
            "unsigned head",
            Box::new(move || raw("HEAD", "/", &host, "")),
        ),
        (
            "unsigned get on /sts/",
            Box::new(move || raw("GET", "/sts/", &host, "")),
        ),
        (
            "put",
            Box::new(move || raw("PUT", "/", &host, "Action=GetCallerIdentity")),
        ),
        (
            "options *",
            Box::new(move || raw("OPTIONS", "*", &host, "")),
        ),
        (
            "connect",
            Box::new(move || raw("CONNECT", "sts.amazonaws.com:443", &host, "")),
        ),
        (
            "doubled prefix",
            Box::new(move || raw("POST", "/sts/sts/", &host, "Action=GetCallerIdentity")),
        ),
        (
            "admin route, wrong method",
            Box::new(move || raw("POST", "/_iamconform/journal", &host, "")),
        ),
        (
            "admin prefix, no route",
            Box::new(move || raw("GET", "/_iamconform/nothing", &host, "")),
        ),
        (
            "admin faults",
            Box::new(move || raw("DELETE", "/_iamconform/faults", &host, "")),
        ),
        (
            "ecs without a grant",
            Box::new(move || raw("GET", "/v2/credentials/unknown", &host, "")),
        ),
        (
            "ecs prefix, empty grant",
            Box::new(move || raw("GET", "/v2/credentials/", &host, "")),
        ),
        (
            "admin look-alike",
            Box::new(move || raw("GET", "//_iamconform/journal", &host, "")),
        ),
    ]
}

#[tokio::test]
async fn the_service_answers_and_journals_exactly_as_the_router() {
    let config = AwsConfig {
        header_limit: 1024,
        ..AwsConfig::default()
    };
    let via_router = state_with(config.clone());
    let via_service = state_with(config);
    for (name, make) in requests() {
        let expected = answer(
            iamconform_aws::router(via_router.clone())
                .oneshot(make())
                .await
                .unwrap(),
        )
        .await;
        let got = answer(
            iamconform_aws::service(via_service.clone())
                .oneshot(make())
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got, expected, "{name}");
    }
    let expected = journal(&via_router);
    assert!(expected.len() >= 15, "{}", expected.len());
    assert_eq!(journal(&via_service), expected);
}

#[tokio::test]
async fn head_answers_carry_the_length_but_no_body() {
    let state = state();
    let resp = iamconform_aws::service(state)
        .oneshot(raw("HEAD", "/", &[("host", "sts.amazonaws.com")], ""))
        .await
        .unwrap();
    let (status, headers, body) = answer(resp).await;
    assert_eq!(status, 405);
    let length = headers.iter().find(|(n, _)| n == "content-length").unwrap();
    assert_ne!(length.1, "0");
    assert_eq!(body, "");
}

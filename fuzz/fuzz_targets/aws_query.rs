//! The STS/IAM endpoint on arbitrary requests, through `router(state).oneshot(req)`: query and
//! form-body decoding, SigV4 verification and action dispatch must answer with a response,
//! never a panic. The form parser is crate-private, so this drives it at its public edge.
//!
//! The emulator clock is pinned near 2026-01-01T00:00:00Z so seeds signed for that time with
//! the shipped fixture keys verify and reach the action handlers.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use iamconform_aws::{AwsConfig, AwsState, IdentityStore, router};
use iamconform_fuzz::split_request;
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

struct Env {
    rt: tokio::runtime::Runtime,
    app: Router,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let store = IdentityStore::shipped().expect("the shipped fixtures load");
        let state = AwsState::new(store, AwsConfig::default());
        state
            .clock()
            .set_offset(datetime!(2026-01-01 00:00:00 UTC) - OffsetDateTime::now_utc());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        Env {
            rt,
            app: router(state),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let raw = split_request(data);
    // The admin API and the ECS endpoint would let one input change the state the next one
    // sees (clock, faults, identities); they are not parsers of client input anyway.
    if raw.path.starts_with("/_iamconform") || raw.path.starts_with("/v2/") {
        return;
    }
    let target = if raw.query.is_empty() {
        raw.path.to_owned()
    } else {
        format!("{}?{}", raw.path, raw.query)
    };
    // What hyper would refuse never reaches the router.
    let mut builder = http::Request::builder().method(raw.method).uri(target);
    for (name, value) in &raw.headers {
        builder = builder.header(*name, *value);
    }
    let Ok(req) = builder.body(Body::from(raw.body.to_vec())) else {
        return;
    };
    let env = env();
    let resp = env
        .rt
        .block_on(env.app.clone().oneshot(req))
        .expect("the router is infallible");
    let _ = env
        .rt
        .block_on(axum::body::to_bytes(resp.into_body(), 1 << 20));
});

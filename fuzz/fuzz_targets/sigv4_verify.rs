//! `verify` with a fixed credential store and clock on arbitrary requests: Ok or Err, never
//! a panic. The store holds the AWS test-suite key (so the suite's signed requests, the seed
//! corpus, verify) and a temporary key with a session token and an expiry.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use iamconform_fuzz::split_request;
use iamconform_secret::Secret;
use iamconform_sigv4::{KeyRecord, Policy, RegionRule, SignedRequest, verify};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

fn store() -> &'static HashMap<String, KeyRecord> {
    static STORE: OnceLock<HashMap<String, KeyRecord>> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut m = HashMap::new();
        m.insert(
            "AKIDEXAMPLE".to_owned(),
            KeyRecord {
                secret_access_key: Secret::new(
                    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
                ),
                session_token: None,
                expires: None,
            },
        );
        m.insert(
            "ASIAEXAMPLETEMP00001".to_owned(),
            KeyRecord {
                secret_access_key: Secret::new("tempsecret/EXAMPLEKEY".to_owned()),
                session_token: Some(Secret::new("FwoGZXIvYXdzEXAMPLETOKEN".to_owned())),
                expires: Some(datetime!(2015-08-30 13:00:00 UTC)),
            },
        );
        m
    })
}

const TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN";

/// Whether the token occurs outside `x-amz-security-token` header values and
/// `X-Amz-Security-Token` query values (conservatively: any `%` in path or query counts, as
/// percent-decoding could produce it).
fn token_elsewhere(raw: &iamconform_fuzz::RawRequest<'_>) -> bool {
    let has = |b: &[u8]| b.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes());
    if raw.path.contains('%') || raw.query.contains('%') || has(raw.method.as_bytes()) {
        return true;
    }
    if has(raw.path.as_bytes()) || has(raw.body) {
        return true;
    }
    let query_elsewhere = raw.query.split('&').any(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        has(k.as_bytes()) || (k != "X-Amz-Security-Token" && has(v.as_bytes()))
    });
    let header_elsewhere = raw.headers.iter().any(|(n, v)| {
        has(n.as_bytes()) || (!n.eq_ignore_ascii_case("x-amz-security-token") && has(v))
    });
    query_elsewhere || header_elsewhere
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the policy, so both lenient and strict paths are explored.
    let (flags, rest) = data.split_first().map_or((0, data), |(f, r)| (*f, r));
    let raw = split_request(rest);
    let req = SignedRequest {
        method: raw.method,
        path: raw.path,
        query: raw.query,
        headers: &raw.headers,
        body: raw.body,
    };
    let policy = Policy {
        service: (flags & 1 != 0).then(|| "service".to_owned()),
        regions: if flags & 2 != 0 {
            RegionRule::OneOf(vec!["us-east-1".to_owned()])
        } else {
            RegionRule::AnyWellFormed
        },
        debug_in_message: flags & 4 == 0,
        normalize_path: flags & 8 == 0,
        require_signed_session_token: flags & 16 != 0,
        ..Policy::default()
    };
    let now = datetime!(2015-08-30 12:36:00 UTC);
    match verify(&req, &policy, now, store()) {
        Ok(v) => {
            let _ = v.scope.render();
        }
        Err(e) => {
            let _ = (
                e.code(),
                e.status(),
                e.message(),
                e.canonical_request(),
                e.string_to_sign(),
            );
            // The session token must never reach an error text, unless the input also put it
            // somewhere that is not a token field (then it is not a secret any more).
            if !token_elsewhere(&raw) {
                assert!(
                    !e.message().contains(TOKEN),
                    "session token leaked into: {}",
                    e.message()
                );
            }
        }
    }
});

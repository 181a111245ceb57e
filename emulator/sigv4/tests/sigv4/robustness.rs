//! Any input gives `Ok` or a typed error, never a panic.

use std::collections::HashMap;

use iamconform_sigv4::{AuthLocation, Policy, canonical_request_redacted, parse_auth, verify};
use proptest::prelude::*;

use crate::helpers::{OwnedRequest, basic_time, record};

fn authorization() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop::sample::select(vec![
        "AWS4-HMAC-SHA256",
        " ",
        ",",
        ", ",
        "=",
        "Credential=",
        "SignedHeaders=",
        "Signature=",
        "AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request",
        "host;x-amz-date",
        "/",
        ";",
        "\t",
        "0123abcdef",
        "\u{e9}",
        "\"",
    ]);
    prop_oneof![
        prop::collection::vec(fragment, 0..12).prop_map(|f| f.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "&",
        "=",
        "%",
        "%3",
        "%3B",
        "%zz",
        "+",
        "X-Amz-Algorithm",
        "AWS4-HMAC-SHA256",
        "X-Amz-Credential",
        "X-Amz-Date",
        "20150830T123600Z",
        "X-Amz-SignedHeaders",
        "host",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "a",
        "\u{1234}",
    ]);
    prop::collection::vec(fragment, 0..12).prop_map(|f| f.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics(
        method in "[A-Za-z]{0,7}",
        path in prop_oneof![Just("/".to_owned()), "[/a-z.%0-9\u{e9} ]{0,16}"],
        query in query(),
        auth in prop::option::of(authorization()),
        date in prop::option::of(prop_oneof![Just(b"20150830T123600Z".to_vec()), prop::collection::vec(any::<u8>(), 0..20)]),
        token in prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
        body in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut headers = vec![("Host".to_owned(), b"example.amazonaws.com".to_vec())];
        if let Some(auth) = auth {
            headers.push(("Authorization".to_owned(), auth));
        }
        if let Some(date) = date {
            headers.push(("X-Amz-Date".to_owned(), date));
        }
        if let Some(token) = token {
            headers.push(("X-Amz-Security-Token".to_owned(), token));
        }
        let req = OwnedRequest { method, path, query, headers, body };
        let refs = req.header_refs();
        let signed = req.signed(&refs);
        let creds = HashMap::from([(
            "AKIDEXAMPLE".to_owned(),
            record("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
        )]);
        match verify(&signed, &Policy::default(), basic_time("20150830T123600Z"), &creds) {
            Ok(_) => {}
            Err(e) => {
                let _ = (e.code(), e.status(), e.message(), e.to_string());
            }
        }
        if let Ok(auth) = parse_auth(&signed) {
            let _ = auth.credential_parts();
            let _ = canonical_request_redacted(&signed, &auth.signed_header_names(), true, AuthLocation::Header);
        }
    }
}

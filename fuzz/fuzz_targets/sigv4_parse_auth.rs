//! `parse_auth` and the canonicaliser on arbitrary requests: Ok or Err, never a panic.
#![no_main]

use iamconform_fuzz::split_request;
use iamconform_sigv4::{
    AuthLocation, SignedRequest, canonical_request, canonical_request_redacted, canonical_uri,
    parse_auth, string_to_sign,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = split_request(data);
    let req = SignedRequest {
        method: raw.method,
        path: raw.path,
        query: raw.query,
        headers: &raw.headers,
        body: raw.body,
    };
    let _ = canonical_uri(req.path, true);
    let _ = canonical_uri(req.path, false);
    match parse_auth(&req) {
        Ok(auth) => {
            let _ = auth.access_key_id();
            let _ = auth.credential_parts().map(|c| c.scope.render());
            let names = auth.signed_header_names();
            for normalize in [true, false] {
                if let Ok(cr) = canonical_request(&req, &names, normalize, auth.location) {
                    let _ = string_to_sign(&auth.amz_date, &auth.credential, &cr);
                    let redacted =
                        canonical_request_redacted(&req, &names, normalize, auth.location);
                    assert!(
                        redacted.is_ok(),
                        "redacted canonicalisation failed where the plain one did not"
                    );
                }
            }
        }
        Err(e) => {
            // Rendering the error is part of the contract: it must not panic either.
            let _ = (e.code(), e.status(), e.message());
            let names: Vec<&str> = raw.headers.iter().map(|(n, _)| *n).collect();
            let _ = canonical_request(&req, &names, true, AuthLocation::Header);
            let _ = canonical_request(&req, &names, false, AuthLocation::Query);
        }
    }
});

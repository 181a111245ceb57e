//! Orchestration: the checks in AWS's order (spec §1.10), one `// Step N` per check.

use time::OffsetDateTime;

use crate::auth_params::{AuthLocation, parse_auth_with};
use crate::canonical::{self, Redaction, TOKEN_HEADER, TOKEN_PARAM};
use crate::error::{InvalidClientToken, Mismatch, SigV4Error};
use crate::key::{cached_signing_key, sign};
use crate::request::SignedRequest;
use crate::scope::{self, CredentialScope};
use crate::timestamp;
use crate::{CredentialLookup, KeyRecord, Policy};

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key that signed the request.
    pub access_key_id: String,
    /// The scope it signed for.
    pub scope: CredentialScope,
    /// The SignedHeaders names, as sent.
    pub signed_headers: Vec<String>,
    /// Header or presigned query form.
    pub location: AuthLocation,
    /// The request time as sent (ISO-8601 basic).
    pub amz_date: String,
    /// A session token was sent.
    pub session_token_present: bool,
    /// The session token is covered by the signature: in SignedHeaders (header form) or in
    /// the canonical query (query form).
    pub session_token_signed: bool,
}

/// Verifies a SigV4-signed request at time `now` against the credentials `creds` knows.
///
/// Runs AWS's checks in AWS's order and returns the first failure as AWS reports it.
pub fn verify(
    req: &SignedRequest<'_>,
    policy: &Policy,
    now: OffsetDateTime,
    creds: &dyn CredentialLookup,
) -> Result<Verified, SigV4Error> {
    // Step 1: path well formed.
    canonical::check_path(req.path)?;
    // Steps 2–3 (method, content type) belong to the HTTP layer: they are about the service,
    // not the signature.
    // Step 4: query string well formed.
    let params = canonical::parse_query(req.query)?;
    // Steps 5–7: authentication material present and complete.
    let auth = parse_auth_with(req, &params)?;
    let signed_headers = auth.signed_header_names();

    let (token, token_signed) = match auth.location {
        AuthLocation::Header => (
            req.first_header(TOKEN_HEADER),
            signed_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(TOKEN_HEADER)),
        ),
        // In query form the token parameter is always part of the canonical query.
        AuthLocation::Query => match canonical::first_param(&params, TOKEN_PARAM) {
            Some(t) => (Some(t), true),
            // UNVERIFIED: a presigned URL whose token travels in a header.
            None => (req.first_header(TOKEN_HEADER), false),
        },
    };
    let token = token.map(|t| {
        if auth.location == AuthLocation::Header {
            canonical::canonical_header_value(t)
        } else {
            std::borrow::Cow::Borrowed(t)
        }
    });

    // Step 8: mandatory signed headers.
    if !signed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("host") || *h == ":authority")
    {
        return Err(SigV4Error::mismatch_of(Mismatch::HostNotSigned));
    }
    if policy.require_signed_session_token && token.is_some() && !token_signed {
        return Err(SigV4Error::mismatch_of(Mismatch::SessionTokenNotSigned));
    }

    // Step 9: date format.
    let request_time = timestamp::parse_basic(&auth.amz_date)?;
    // Steps 10–11: clock skew, past then future.
    // UNVERIFIED: STS ignores X-Amz-Expires and applies the same window (spec §1.3).
    timestamp::check_skew(request_time, now, policy.max_skew)?;

    // Step 12: credential shape.
    let credential = auth.credential_parts()?;
    // Step 13: region, service, terminator, date.
    scope::check_scope(&credential, &auth.amz_date, policy)?;

    // Steps 14–15: session token, then access key.
    let lookup = creds.lookup_ref(credential.access_key_id);
    let record = check_credentials(lookup.as_deref(), token.as_deref(), now)?;

    // Step 16: the signature.
    let canonical_request = canonical::build(
        req,
        &params,
        &signed_headers,
        policy.normalize_path,
        auth.location,
        Redaction::Keep,
    );
    let scope_text = credential.render_scope();
    let string_to_sign = canonical::string_to_sign(&auth.amz_date, &scope_text, &canonical_request);
    let signing_key = cached_signing_key(
        &record.secret_access_key,
        credential.date,
        credential.region,
        credential.service,
    );
    let expected = sign(&signing_key, &string_to_sign);
    if !iamconform_secret::ct_eq_bytes(expected.as_bytes(), auth.signature.as_bytes()) {
        let shown = canonical::build(
            req,
            &params,
            &signed_headers,
            policy.normalize_path,
            auth.location,
            Redaction::HideToken,
        );
        return Err(SigV4Error::mismatch_of(Mismatch::Signature {
            canonical_request: String::from_utf8_lossy(&shown).into_owned(),
            string_to_sign,
            debug_in_message: policy.debug_in_message,
        }));
    }

    Ok(Verified {
        access_key_id: credential.access_key_id.to_owned(),
        scope: credential.scope(),
        signed_headers: signed_headers.iter().map(|h| (*h).to_owned()).collect(),
        location: auth.location,
        amz_date: auth.amz_date.as_ref().to_owned(),
        session_token_present: token.is_some(),
        session_token_signed: token.is_some() && token_signed,
    })
}

/// Steps 14–15 with the spec's recommended fake semantics (§1.5).
fn check_credentials<'r>(
    record: Option<&'r KeyRecord>,
    token: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<&'r KeyRecord, SigV4Error> {
    // Step 14: a token was sent.
    if let Some(token) = token {
        // Step 14b: unknown key, long-term key (UNVERIFIED against AWS; moto does this), or
        // not the token issued with this key.
        let issued = record.and_then(|r| r.session_token.as_ref());
        if !issued.is_some_and(|t| t.ct_eq_bytes(token)) {
            return Err(SigV4Error::InvalidClientTokenId(
                InvalidClientToken::TokenInvalid,
            ));
        }
        // Step 14c: the token has expired.
        if record
            .and_then(|r| r.expires)
            .is_some_and(|expires| expires <= now)
        {
            return Err(SigV4Error::ExpiredToken);
        }
    }
    // Step 15: the access key is known; a temporary key needs its token.
    match record {
        Some(r) if token.is_some() || r.session_token.is_none() => Ok(r),
        _ => Err(SigV4Error::InvalidClientTokenId(
            InvalidClientToken::UnknownAccessKey,
        )),
    }
}

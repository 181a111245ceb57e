//! The credential scope: parsing the Credential (step 12) and checking region, service,
//! terminator and date against the policy (step 13, spec §1.4 and §1.11).

use crate::error::{Mismatch, SigV4Error};
use crate::{Policy, RegionRule};

/// The scope terminator.
pub const TERMINATOR: &str = "aws4_request";

/// The `date/region/service` part of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// The region the client signed for.
    pub region: String,
    /// The service the client signed for.
    pub service: String,
}

impl CredentialScope {
    /// `date/region/service/aws4_request`, as it goes into the string to sign.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(
            self.date.len() + self.region.len() + self.service.len() + TERMINATOR.len() + 3,
        );
        for part in [&self.date, &self.region, &self.service] {
            out.push_str(part);
            out.push('/');
        }
        out.push_str(TERMINATOR);
        out
    }
}

/// A parsed `Credential` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id.
    pub access_key_id: String,
    /// Date, region and service.
    pub scope: CredentialScope,
    /// The fifth element; `aws4_request` once step 13 passed.
    pub terminator: String,
}

/// A [`Credential`] borrowed from the Credential value, as verification uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CredentialRef<'c> {
    pub(crate) access_key_id: &'c str,
    pub(crate) date: &'c str,
    pub(crate) region: &'c str,
    pub(crate) service: &'c str,
    pub(crate) terminator: &'c str,
}

impl CredentialRef<'_> {
    /// The scope, owned.
    pub(crate) fn scope(&self) -> CredentialScope {
        CredentialScope {
            date: self.date.to_owned(),
            region: self.region.to_owned(),
            service: self.service.to_owned(),
        }
    }

    /// `date/region/service/aws4_request`, as [`CredentialScope::render`] writes it.
    pub(crate) fn render_scope(&self) -> String {
        let mut out = String::with_capacity(
            self.date.len() + self.region.len() + self.service.len() + TERMINATOR.len() + 3,
        );
        for part in [self.date, self.region, self.service] {
            out.push_str(part);
            out.push('/');
        }
        out.push_str(TERMINATOR);
        out
    }
}

/// Step 12: exactly five `/`-separated elements.
pub(crate) fn parse_credential(credential: &str) -> Result<Credential, SigV4Error> {
    split_credential(credential).map(|c| Credential {
        access_key_id: c.access_key_id.to_owned(),
        scope: c.scope(),
        terminator: c.terminator.to_owned(),
    })
}

/// [`parse_credential`], borrowed.
pub(crate) fn split_credential(credential: &str) -> Result<CredentialRef<'_>, SigV4Error> {
    let wrong = || {
        SigV4Error::incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        ))
    };
    // Byte scans rather than `split('/')` (a `char` searcher; this runs for every request):
    // `/` is ASCII and no byte of a multi-byte character is, so the pieces are the same.
    let mut leading = [""; 4];
    let mut rest = credential;
    for piece in &mut leading {
        let at = rest.bytes().position(|b| b == b'/').ok_or_else(wrong)?;
        *piece = &rest[..at];
        rest = &rest[at + 1..];
    }
    if rest.bytes().any(|b| b == b'/') {
        return Err(wrong());
    }
    let [access_key_id, date, region, service] = leading;
    Ok(CredentialRef {
        access_key_id,
        date,
        region,
        service,
        terminator: rest,
    })
}

/// Step 13: every scope check runs and the failures join into one message (scratchstack
/// `prevalidate`). Each sentence keeps AWS's trailing space.
pub(crate) fn check_scope(
    credential: &CredentialRef<'_>,
    amz_date: &str,
    policy: &Policy,
) -> Result<(), SigV4Error> {
    let scope = credential;
    let mut message = String::new();
    if !region_accepted(scope.region, &policy.regions) {
        message.push_str(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.region
        ));
    }
    if let Some(expected) = &policy.service
        && scope.service != expected.as_str()
    {
        message.push_str(&format!(
            "Credential should be scoped to correct service: '{expected}'. "
        ));
    }
    if credential.terminator != TERMINATOR {
        message.push_str(&format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'. ",
            credential.terminator
        ));
    }
    let request_day = amz_date.get(..8).unwrap_or(amz_date);
    if scope.date != request_day {
        message.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{request_day}', from '{amz_date}'.",
            scope.date
        ));
    }
    if message.is_empty() {
        Ok(())
    } else {
        Err(SigV4Error::mismatch_of(Mismatch::Scope { message }))
    }
}

fn region_accepted(region: &str, rule: &RegionRule) -> bool {
    match rule {
        RegionRule::AnyWellFormed => is_well_formed_region(region),
        RegionRule::OneOf(regions) => regions.iter().any(|r| r == region),
    }
}

/// `^[a-z]{2}(-[a-z0-9]+)+-\d+$` (spec §1.11), without a regex engine.
pub fn is_well_formed_region(region: &str) -> bool {
    // first-middle-last, where middle holds one or more `-`-separated parts; over bytes
    // (this runs for every request), all of them ASCII when the shape holds.
    let Some(([a, b, b'-'], rest)) = region.as_bytes().split_first_chunk::<3>() else {
        return false;
    };
    let Some(dash) = rest.iter().rposition(|&c| c == b'-') else {
        return false;
    };
    let (middle, last) = (&rest[..dash], &rest[dash + 1..]);
    a.is_ascii_lowercase()
        && b.is_ascii_lowercase()
        && middle.split(|&c| c == b'-').all(|p| {
            !p.is_empty()
                && p.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && !last.is_empty()
        && last.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shape() {
        for ok in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "cn-north-1",
            "eu-central-12",
            "us-isob-east-1",
            "ab-c-0",
        ] {
            assert!(is_well_formed_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "us-1",
            "US-east-1",
            "use-east-1",
            "us--1",
            "us-east-1a",
            "us-east-1-",
            "us-ea_st-1",
            "us-",
            "us-east-",
            "u1-east-1",
            "us-east-1-1a",
            "us-east-é",
            "üs-east-1",
        ] {
            assert!(!is_well_formed_region(bad), "{bad}");
        }
    }

    #[test]
    fn credential_needs_five_parts() {
        for bad in ["AKID/20150830/us-east-1/sts/aws4_request/x", "AKID", ""] {
            assert!(parse_credential(bad).is_err(), "{bad}");
        }
        let ok = parse_credential("AKID/20150830/us-east-1/sts/aws4_request").unwrap();
        assert_eq!(ok.access_key_id, "AKID");
        assert_eq!(ok.scope.render(), "20150830/us-east-1/sts/aws4_request");
        assert_eq!(ok.terminator, "aws4_request");
        let parts = split_credential("AKID/20150830/us-east-1/sts/aws4_request").unwrap();
        assert_eq!(parts.render_scope(), ok.scope.render());
        assert_eq!(parts.scope(), ok.scope);
        let err = parse_credential("AKID/20150830/us-east-1/sts").unwrap_err();
        assert_eq!(
            err.message(),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKID/20150830/us-east-1/sts'"
        );
        assert_eq!(err.code(), "IncompleteSignature");
    }

    #[test]
    fn the_byte_split_matches_a_char_split() {
        for credential in [
            "",
            "/",
            "////",
            "/////",
            "a/b/c/d/e",
            "a/b/c/d/e/",
            "/a/b/c/d",
            "a//c/d/e",
            "é/ü/ß/日本/ÿ",
            "a/b/c/d/e/f/g",
            "AKID/20150830/us-east-1/sts/aws4_request",
        ] {
            let by_char: Vec<&str> = credential.split('/').collect();
            match split_credential(credential) {
                Ok(c) => assert_eq!(
                    [c.access_key_id, c.date, c.region, c.service, c.terminator].as_slice(),
                    by_char.as_slice(),
                    "{credential}"
                ),
                Err(_) => assert_ne!(by_char.len(), 5, "{credential}"),
            }
        }
    }
}

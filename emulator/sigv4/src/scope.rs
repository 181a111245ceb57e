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

/// Step 12: exactly five `/`-separated elements.
pub(crate) fn parse_credential(credential: &str) -> Result<Credential, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, terminator] => Ok(Credential {
            access_key_id: (*key).to_owned(),
            scope: CredentialScope {
                date: (*date).to_owned(),
                region: (*region).to_owned(),
                service: (*service).to_owned(),
            },
            terminator: (*terminator).to_owned(),
        }),
        _ => Err(SigV4Error::incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        ))),
    }
}

/// Step 13: every scope check runs and the failures join into one message (scratchstack
/// `prevalidate`). Each sentence keeps AWS's trailing space.
pub(crate) fn check_scope(
    credential: &Credential,
    amz_date: &str,
    policy: &Policy,
) -> Result<(), SigV4Error> {
    let scope = &credential.scope;
    let mut message = String::new();
    if !region_accepted(&scope.region, &policy.regions) {
        message.push_str(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.region
        ));
    }
    if let Some(expected) = &policy.service
        && scope.service != *expected
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
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
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
        ] {
            assert!(!is_well_formed_region(bad), "{bad}");
        }
    }

    #[test]
    fn credential_needs_five_parts() {
        let err = parse_credential("AKID/20150830/us-east-1/sts").unwrap_err();
        assert_eq!(
            err.message(),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKID/20150830/us-east-1/sts'"
        );
        assert_eq!(err.code(), "IncompleteSignature");
    }
}

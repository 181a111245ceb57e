//! ARNs: the caller ARN STS returns (parsed and canonicalised as consul-awsauth's
//! `responses/arn.go` does) and the bound principal ARNs of the config (checked with the AWS SDK's
//! looser `arn.Parse`).
//!
//! Spec: consul-aws-iam §2.6, §2.2 step 3.

use std::fmt;

use super::gostd::quote;

/// A caller ARN split into the parts Consul uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedArn {
    pub(crate) partition: String,
    pub(crate) account_number: String,
    /// `user`, `role` or `assumed-role`.
    pub(crate) entity_type: String,
    /// Middle path pieces joined with `/`, no leading or trailing slash; empty for assumed roles.
    pub(crate) path: String,
    /// The user or role name (for assumed roles, the role name).
    pub(crate) friendly_name: String,
    /// The session name of an assumed role.
    pub(crate) session_info: String,
}

/// Why a caller ARN was refused; `Display` is consul-awsauth's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArnError {
    /// Not exactly six `:`-separated parts.
    PartCount(usize),
    /// The first part is not `arn`.
    NoArnPrefix,
    /// Empty partition.
    MissingPartition(String),
    /// Service other than `iam`/`sts`.
    UnrecognizedService(String),
    /// Empty account.
    MissingAccount(String),
    /// Resource without a `/`.
    TooFewSlashParts(String),
    /// `assumed-role` without a session part.
    TooFewAssumedRoleParts(String),
    /// Type other than `user`, `role`, `assumed-role`.
    UnrecognizedType(String),
    /// Empty name.
    MissingName(String),
}

impl fmt::Display for ArnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArnError::PartCount(n) => {
                write!(
                    f,
                    "unrecognized arn: contains {n} colon-separated parts, expected 6"
                )
            }
            ArnError::NoArnPrefix => f.write_str("unrecognized arn: does not begin with \"arn:\""),
            ArnError::MissingPartition(a) => {
                write!(f, "unrecognized arn: {} is missing the partition", quote(a))
            }
            ArnError::UnrecognizedService(s) => {
                write!(f, "unrecognized service: {s}, not one of iam or sts")
            }
            ArnError::MissingAccount(a) => {
                write!(
                    f,
                    "unrecognized arn: {} is missing the account number",
                    quote(a)
                )
            }
            ArnError::TooFewSlashParts(r) => {
                write!(
                    f,
                    "unrecognized arn: {} contains fewer than 2 slash-separated parts",
                    quote(r)
                )
            }
            ArnError::TooFewAssumedRoleParts(r) => {
                write!(
                    f,
                    "unrecognized arn: {} contains fewer than 3 slash-separated parts",
                    quote(r)
                )
            }
            ArnError::UnrecognizedType(t) => write!(f, "unrecognized principal type: {}", quote(t)),
            ArnError::MissingName(a) => {
                write!(
                    f,
                    "unrecognized arn: {} is missing the resource name",
                    quote(a)
                )
            }
        }
    }
}

impl std::error::Error for ArnError {}

/// Parses a caller ARN (consul-awsauth `ParseArn`).
pub(crate) fn parse_arn(arn: &str) -> Result<ParsedArn, ArnError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [prefix, partition, service, _region, account, resource] = parts.as_slice() else {
        return Err(ArnError::PartCount(parts.len()));
    };
    if *prefix != "arn" {
        return Err(ArnError::NoArnPrefix);
    }
    if partition.is_empty() {
        return Err(ArnError::MissingPartition(arn.to_owned()));
    }
    if *service != "iam" && *service != "sts" {
        return Err(ArnError::UnrecognizedService((*service).to_owned()));
    }
    if account.is_empty() {
        return Err(ArnError::MissingAccount(arn.to_owned()));
    }
    let pieces: Vec<&str> = resource.split('/').collect();
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
        return Err(ArnError::TooFewSlashParts((*resource).to_owned()));
    };
    if pieces.len() < 2 {
        return Err(ArnError::TooFewSlashParts((*resource).to_owned()));
    }
    let mut parsed = ParsedArn {
        partition: (*partition).to_owned(),
        account_number: (*account).to_owned(),
        entity_type: (*first).to_owned(),
        path: pieces
            .get(1..pieces.len() - 1)
            .unwrap_or_default()
            .join("/"),
        friendly_name: (*last).to_owned(),
        session_info: String::new(),
    };
    match parsed.entity_type.as_str() {
        "assumed-role" => {
            let (Some(role), Some(session)) = (pieces.get(1), pieces.get(2)) else {
                return Err(ArnError::TooFewAssumedRoleParts((*resource).to_owned()));
            };
            parsed.path = String::new();
            parsed.friendly_name = (*role).to_owned();
            parsed.session_info = (*session).to_owned();
        }
        "user" | "role" => {}
        other => return Err(ArnError::UnrecognizedType(other.to_owned())),
    }
    if parsed.friendly_name.is_empty() {
        return Err(ArnError::MissingName(arn.to_owned()));
    }
    Ok(parsed)
}

impl ParsedArn {
    /// `arn:<partition>:iam::<account>:<role|user>/<name>`: path and region dropped, assumed
    /// roles mapped to their role.
    pub(crate) fn canonical_arn(&self) -> String {
        let ty = if self.entity_type == "assumed-role" {
            "role"
        } else {
            &self.entity_type
        };
        format!(
            "arn:{}:iam::{}:{}/{}",
            self.partition, self.account_number, ty, self.friendly_name
        )
    }
}

/// The AWS SDK's `arn.Parse` as the config check uses it: prefix `arn:` and at least six
/// `:`-separated sections (the resource may contain more colons). Returns the service.
pub(crate) fn sdk_arn_service(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let mut sections = rest.splitn(5, ':');
    let _partition = sections.next()?;
    let service = sections.next()?;
    let _region = sections.next()?;
    let _account = sections.next()?;
    let _resource = sections.next()?;
    Some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_arns_parse() {
        // Spec §7.6 valid vectors.
        let cases = [
            (
                "arn:aws:sts::000000000000:assumed-role/my-role/session-name",
                "assumed-role",
                "",
                "my-role",
                "session-name",
            ),
            (
                "arn:aws:iam::000000000000:role/my-role",
                "role",
                "",
                "my-role",
                "",
            ),
            (
                "arn:aws:iam::000000000000:user/my-user",
                "user",
                "",
                "my-user",
                "",
            ),
            (
                "arn:aws:iam::000000000000:role/path/my-role",
                "role",
                "path",
                "my-role",
                "",
            ),
            (
                "arn:aws:iam::000000000000:role/path/to/my-role",
                "role",
                "path/to",
                "my-role",
                "",
            ),
            (
                "arn:aws:iam::000000000000:role/a/b/c/my-role",
                "role",
                "a/b/c",
                "my-role",
                "",
            ),
            (
                "arn:aws:iam::000000000000:user/path/my-user",
                "user",
                "path",
                "my-user",
                "",
            ),
        ];
        for (arn, ty, path, name, session) in cases {
            let p = parse_arn(arn).unwrap();
            assert_eq!(
                (
                    p.entity_type.as_str(),
                    p.path.as_str(),
                    p.friendly_name.as_str()
                ),
                (ty, path, name),
                "{arn}"
            );
            assert_eq!(p.session_info, session);
            assert_eq!(p.partition, "aws");
            assert_eq!(p.account_number, "000000000000");
        }
    }

    #[test]
    fn invalid_arns_are_refused_with_consul_texts() {
        let cases = [
            (
                "",
                "unrecognized arn: contains 1 colon-separated parts, expected 6",
            ),
            (
                "*",
                "unrecognized arn: contains 1 colon-separated parts, expected 6",
            ),
            (
                "aws:iam::000000000000:role/r",
                "unrecognized arn: contains 5 colon-separated parts, expected 6",
            ),
            (
                "nra:aws:iam::000000000000:role/r",
                "unrecognized arn: does not begin with \"arn:\"",
            ),
            (
                "arn::iam::000000000000:role/r",
                "unrecognized arn: \"arn::iam::000000000000:role/r\" is missing the partition",
            ),
            (
                "arn:aws:::000000000000:role/r",
                "unrecognized service: , not one of iam or sts",
            ),
            (
                "arn:aws:sts:000000000000:assumed-role/r/s",
                "unrecognized arn: contains 5 colon-separated parts, expected 6",
            ),
            (
                "arn:aws:iam:::role/r",
                "unrecognized arn: \"arn:aws:iam:::role/r\" is missing the account number",
            ),
            (
                "arn:aws:iam::000000000000:",
                "unrecognized arn: \"\" contains fewer than 2 slash-separated parts",
            ),
            (
                "arn:aws:sts::000000000000:assumed-role/r",
                "unrecognized arn: \"assumed-role/r\" contains fewer than 3 slash-separated parts",
            ),
            (
                "arn:aws:iam::000000000000:role",
                "unrecognized arn: \"role\" contains fewer than 2 slash-separated parts",
            ),
            (
                "arn:aws:iam::000000000000:role/",
                "unrecognized arn: \"arn:aws:iam::000000000000:role/\" is missing the resource name",
            ),
            (
                "arn:aws:iam::000000000000:user",
                "unrecognized arn: \"user\" contains fewer than 2 slash-separated parts",
            ),
            (
                "arn:aws:iam::000000000000:user/",
                "unrecognized arn: \"arn:aws:iam::000000000000:user/\" is missing the resource name",
            ),
            (
                "arn:aws:ecs:us-east-1:000000000000:task/my-task/abc",
                "unrecognized service: ecs, not one of iam or sts",
            ),
            (
                "arn:aws:iam::1:instance-profile/x",
                "unrecognized principal type: \"instance-profile\"",
            ),
        ];
        for (arn, want) in cases {
            assert_eq!(parse_arn(arn).unwrap_err().to_string(), want, "{arn}");
        }
    }

    #[test]
    fn canonical_arns_drop_path_and_session() {
        let c = |a: &str| parse_arn(a).unwrap().canonical_arn();
        assert_eq!(
            c("arn:aws:sts::000000000000:assumed-role/my-role/session-name"),
            "arn:aws:iam::000000000000:role/my-role"
        );
        assert_eq!(
            c("arn:aws:iam::000000000000:role/path/to/my-role"),
            "arn:aws:iam::000000000000:role/my-role"
        );
        assert_eq!(
            c("arn:aws:iam::000000000000:user/path/to/my-user"),
            "arn:aws:iam::000000000000:user/my-user"
        );
        assert_eq!(
            c("arn:aws-cn:iam:cn-north-1:000000000000:user/u"),
            "arn:aws-cn:iam::000000000000:user/u"
        );
    }

    #[test]
    fn sdk_parse_is_looser() {
        assert_eq!(sdk_arn_service("arn:aws:iam::123456789012:*"), Some("iam"));
        assert_eq!(sdk_arn_service("arn:aws:iam::1:role/a:b"), Some("iam"));
        assert_eq!(sdk_arn_service("arn:aws:iam:role/my-role"), None);
        assert_eq!(sdk_arn_service("*"), None);
    }
}

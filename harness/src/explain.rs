//! Diagnoses: why a login failed, in one sentence, with a link to the docs.
//!
//! The AWS emulator's journal says which check rejected a request ("scope", "skew",
//! "signature", …) and Consul's error says which structural check failed. [`explain_journal`]
//! and [`explain_consul_error`] turn those into [`Diagnosis`] sentences such as "the client
//! signed for region us-west-2 but sent the request to sts.eu-west-1.amazonaws.com", each with
//! an anchor in `docs/diagnosis.md`. Both are pure; the runner puts their output first in a
//! failed step's diagnosis, and `iamconform explain REPORT.json` applies them to a saved JSON
//! report ([`explain_report`]).

use std::fmt::Write as _;

use iamconform_aws::{JournalEntry, JournalScope, JournalService, Verdict};
use iamconform_login::BearerToken;

use crate::inspect::{self, DOCS, Source};

/// One diagnosis sentence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    /// Anchor in `docs/diagnosis.md`.
    pub id: &'static str,
    /// The sentence.
    pub text: String,
}

impl Diagnosis {
    /// `docs/diagnosis.md#<id>`.
    pub fn link(&self) -> String {
        format!("{DOCS}#{}", self.id)
    }

    /// The sentence with its link, as reports print it.
    pub fn render(&self) -> String {
        format!("diagnosis: {} (see {})", self.text, self.link())
    }
}

fn d(id: &'static str, text: String) -> Diagnosis {
    Diagnosis { id, text }
}

fn service_name(s: JournalService) -> (&'static str, &'static str) {
    match s {
        JournalService::Sts => ("STS", "sts"),
        JournalService::Iam => ("IAM", "iam"),
        JournalService::Ecs => ("the ECS credentials endpoint", ""),
        JournalService::Unknown => ("AWS", ""),
    }
}

/// Explains every rejected request of `entries`; `token` (the bearer token the client sent, if
/// known) adds what the journal cannot see, e.g. a session token that was never sent.
pub fn explain_journal(entries: &[JournalEntry], token: Option<&BearerToken>) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    for e in entries {
        let Verdict::Rejected {
            code,
            message,
            check,
            ..
        } = &e.verdict
        else {
            continue;
        };
        out.push(explain_rejection(
            e.service,
            e.action.as_deref(),
            e.host.as_deref(),
            e.access_key_id.as_deref(),
            e.scope.as_ref(),
            e.session_token_signed,
            check,
            code,
            message,
        ));
    }
    if let Some(t) = token {
        // The token's own AWS findings that the rejections above did not already name.
        let found = inspect::inspect(
            &t.render(),
            &iamconform_consul::authmethod::aws_iam::AwsIamConfig::default(),
            std::time::SystemTime::now(),
        );
        for f in found.findings {
            if f.source == Source::Aws
                && !matches!(f.id, "date-stale" | "date-future")
                && !out.iter().any(|x| x.id == f.id)
            {
                out.push(d(f.id, f.message));
            }
        }
    }
    out
}

/// One rejected request in a sentence.
#[expect(
    clippy::too_many_arguments,
    reason = "the journal fields a sentence needs"
)]
fn explain_rejection(
    service: JournalService,
    action: Option<&str>,
    host: Option<&str>,
    access_key_id: Option<&str>,
    scope: Option<&JournalScope>,
    session_token_signed: Option<bool>,
    check: &str,
    code: &str,
    message: &str,
) -> Diagnosis {
    let (name, expected_service) = service_name(service);
    let host = host.unwrap_or("-");
    let hostname = host.split(':').next().unwrap_or(host);
    let action = action.unwrap_or("request");
    let first = message.split("\n\n").next().unwrap_or(message);
    if let Some(s) = scope {
        if let Some(region) = inspect::host_region(hostname, expected_service)
            && region != s.region
            && matches!(check, "scope" | "signature")
        {
            return d(
                "region-host-mismatch",
                format!(
                    "the client signed for region {} but sent the request to {hostname}",
                    s.region
                ),
            );
        }
        if !expected_service.is_empty() && s.service != expected_service {
            return d(
                "signing-service-wrong",
                format!(
                    "the client signed the {name} {action} request for service {:?}; {name} expects {expected_service:?}",
                    s.service
                ),
            );
        }
    }
    match check {
        "skew" if first.contains("not yet current") => d(
            "date-future",
            format!(
                "{name} refused the {action} request as signed in the future (the client's clock is more than 15 minutes ahead): {first}"
            ),
        ),
        "skew" => d(
            "date-stale",
            format!(
                "{name} refused the {action} request as signed too long ago (more than 15 minutes; a stale token or a clock behind): {first}"
            ),
        ),
        "session_token" => {
            let key = access_key_id.unwrap_or("-");
            if key.starts_with("ASIA") && session_token_signed.is_none() {
                d(
                    "session-token-missing",
                    format!(
                        "the client signed with the temporary key {key} but sent no X-Amz-Security-Token, so {name} answered {code}"
                    ),
                )
            } else {
                d(
                    "session-token-missing",
                    format!(
                        "{name} did not accept the session token sent with key {key}: {code}: {first}"
                    ),
                )
            }
        }
        "session_token_expired" => d(
            "credentials-expired",
            format!("the client's temporary credentials have expired: {name} answered {code}"),
        ),
        "access_key" => d(
            "unknown-access-key",
            format!(
                "{name} does not know the access key {}: {code}",
                access_key_id.unwrap_or("-")
            ),
        ),
        "signed_headers" if first.to_ascii_lowercase().contains("x-amz-security-token") => d(
            "session-token-unsigned",
            format!("the client sent X-Amz-Security-Token without signing it: {first}"),
        ),
        "signed_headers" => d(
            "host-unsigned",
            format!("the client did not sign a header SigV4 requires: {first}"),
        ),
        "auth_present" => d(
            "request-unsigned",
            format!(
                "the {name} {action} request carries no signature at all, so {name} answered {code}"
            ),
        ),
        "signature" => d(
            "signature-mismatch",
            format!(
                "the signature of the {name} {action} request does not match what {name} computed from the request it received (Host {host}): a wrong secret key, a signed host other than {hostname}, or a body or header changed after signing"
            ),
        ),
        "action" => d(
            "sts-body",
            format!("{name} does not know the action the client asked for: {code}: {first}"),
        ),
        "entity" => d(
            "entity-not-found",
            format!(
                "IAM has no entity by the name the embedded {action} request asks for ({first}); a role's name is the role, not the session name of the assumed-role ARN"
            ),
        ),
        "authorization" => d(
            "entity-access-denied",
            format!(
                "IAM denied the embedded {action} request ({code}): for a role, the client must ask GetRole (not GetUser), and the role needs iam:{action} on itself"
            ),
        ),
        "fault" => d(
            "injected-fault",
            format!("the scenario's injected fault answered the {name} {action} request ({code})"),
        ),
        _ => d(
            "aws-rejected",
            format!("{name} rejected the {action} request at its {check} check: {code}: {first}"),
        ),
    }
}

/// The diagnosis of a Consul error text (the body of a failed login), when it is one of the
/// aws-iam checks.
pub fn explain_consul_error(text: &str) -> Option<Diagnosis> {
    let rules: &[(&str, &'static str, &str)] = &[
        (
            "missing header \"X-Consul-IAM-ServerID\"",
            "server-id-missing",
            "the auth method requires the X-Consul-IAM-ServerID header (ServerIDHeaderValue) but the client did not send it",
        ),
        (
            "server id header wasn't signed",
            "server-id-unsigned",
            "the client sent X-Consul-IAM-ServerID but its Authorization header has no SignedHeaders list",
        ),
        (
            "header wasn't signed",
            "server-id-unsigned",
            "the client sent X-Consul-IAM-ServerID but did not sign it (add the header before signing)",
        ),
        (
            "missing Authorization header",
            "server-id-unsigned",
            "the request that must carry the signed server-ID header is not signed at all",
        ),
        (
            "but got \"",
            "server-id-wrong-value",
            "the client's X-Consul-IAM-ServerID value differs from the auth method's ServerIDHeaderValue",
        ),
        (
            "missing header \"X-Consul-IAM-GetEntity-",
            "entity-header-missing",
            "the auth method has EnableIAMEntityDetails but Consul found no GetEntity headers (not sent, or not spelled X-Consul-Iam-Getentity-*)",
        ),
        (
            "invalid STS hostname",
            "sts-host-not-allowed",
            "the token's STS URL is not an sts.*.amazonaws.com host and the auth method sets no STSEndpoint",
        ),
        (
            "invalid IAM hostname",
            "iam-host-not-allowed",
            "the embedded IAM URL is not an iam.amazonaws.com host and the auth method sets no IAMEndpoint",
        ),
        (
            "iam_request_body error",
            "sts-body",
            "the STS body is not exactly Action=GetCallerIdentity&Version=…",
        ),
        (
            "iam_request_headers[",
            "iam-body",
            "the embedded IAM body is not GetRole+RoleName or GetUser+UserName",
        ),
        (
            "URL query parameters are not allowed",
            "url-query",
            "the signed request carries a query string; Consul allows none",
        ),
        (
            "invalid request header:",
            "header-not-allowed",
            "the client sent an X-Amz-* header Consul does not allow",
        ),
        (
            "iam_http_request_method must be POST",
            "method-not-post",
            "the client's STS request is not a POST",
        ),
        (
            "invalid token:",
            "token-undecodable",
            "Consul cannot decode the bearer token (four standard base64 fields in a JSON object)",
        ),
        (
            "is not trusted",
            "principal-not-trusted",
            "the caller's ARN matches none of the auth method's BoundIAMPrincipalARNs",
        ),
        (
            "unique id mismatch",
            "unique-id-mismatch",
            "the embedded GetRole/GetUser asks about another entity than the caller",
        ),
        (
            "auth method \"",
            "auth-method-not-found",
            "the client names an auth method that does not exist",
        ),
    ];
    rules
        .iter()
        .find(|(needle, _, _)| text.contains(needle))
        .map(|(_, id, sentence)| d(id, (*sentence).to_owned()))
}

/// The diagnoses of one failed step: the Consul error in `problems` (if any), then the
/// journal's rejections.
pub fn explain_failure(
    problems: &[String],
    entries: &[JournalEntry],
    token: Option<&BearerToken>,
) -> Vec<Diagnosis> {
    let mut out: Vec<Diagnosis> = Vec::new();
    for p in problems {
        if let Some(x) = explain_consul_error(p)
            && !out.contains(&x)
        {
            out.push(x);
        }
    }
    for x in explain_journal(entries, token) {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Parses the runner's journal lines (`<SERVICE> <action> <path> (Host <h>) rejected by the
/// <check> check: <status> <code>: <message>` then `  credential scope: d/r/s`) back into what
/// [`explain_rejection`] needs, for reports written before diagnoses existed.
fn explain_report_line(line: &str) -> Option<Diagnosis> {
    let (head, rest) = line.split_once(" rejected by the ")?;
    let (check, rest) = rest.split_once(" check: ")?;
    let first_line = rest.lines().next().unwrap_or_default();
    let mut parts = first_line.splitn(2, ' ');
    let _status = parts.next();
    let (code, message) = parts.next()?.split_once(": ").unwrap_or((first_line, ""));
    let service = if head.starts_with("STS ") {
        JournalService::Sts
    } else if head.starts_with("IAM ") {
        JournalService::Iam
    } else {
        JournalService::Unknown
    };
    let action = head.split(' ').nth(1);
    let host = head
        .split_once("(Host ")
        .and_then(|(_, h)| h.split(')').next());
    let scope = rest
        .lines()
        .find_map(|l| l.trim().strip_prefix("credential scope: "))
        .and_then(|s| {
            let mut it = s.split('/');
            Some(JournalScope {
                date: it.next()?.to_owned(),
                region: it.next()?.to_owned(),
                service: it.next()?.to_owned(),
            })
        });
    Some(explain_rejection(
        service,
        action,
        host,
        None,
        scope.as_ref(),
        None,
        check,
        code,
        message,
    ))
}

/// Why `explain_report` could not read a report.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// Not the JSON report format.
    #[error("not an iamconform JSON report: {0}")]
    Format(String),
}

/// Re-renders the failures of a JSON report (`iamconform run --json FILE`) as diagnoses.
pub fn explain_report(json: &str) -> Result<String, ExplainError> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ExplainError::Format(e.to_string()))?;
    let scenarios = v
        .get("scenarios")
        .and_then(|s| s.as_array())
        .ok_or_else(|| ExplainError::Format("no \"scenarios\" array".to_owned()))?;
    let mut out = String::new();
    let mut failed = 0usize;
    for s in scenarios {
        let Some(failure) = s.get("failure").filter(|f| !f.is_null()) else {
            continue;
        };
        failed += 1;
        let strings = |key: &str| -> Vec<String> {
            failure
                .get(key)
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let problems = strings("problems");
        let diagnosis = strings("diagnosis");
        let _ = writeln!(
            out,
            "{} ({}), step {}: {}",
            s.get("name").and_then(|x| x.as_str()).unwrap_or("?"),
            s.get("path")
                .or_else(|| s.get("id"))
                .and_then(|x| x.as_str())
                .unwrap_or("?"),
            failure
                .get("step")
                .map(|x| x.to_string())
                .unwrap_or_default(),
            failure
                .get("step_title")
                .and_then(|x| x.as_str())
                .unwrap_or("?"),
        );
        let mut found: Vec<Diagnosis> = Vec::new();
        for p in &problems {
            if let Some(x) = explain_consul_error(p)
                && !found.contains(&x)
            {
                found.push(x);
            }
        }
        for line in &diagnosis {
            if let Some(x) = explain_report_line(line)
                && !found.contains(&x)
            {
                found.push(x);
            }
        }
        if found.is_empty() {
            let _ = writeln!(out, "  no known diagnosis; the unmet expectations were:");
            for p in &problems {
                let _ = writeln!(out, "    {p}");
            }
        }
        for x in &found {
            let _ = writeln!(out, "  {}", x.text);
            let _ = writeln!(out, "    see {}", x.link());
        }
    }
    let _ = writeln!(out, "{failed} failed scenario(s)");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(check: &str, code: &str, message: &str) -> JournalEntry {
        let mut e = JournalEntry::new("r".into(), "POST", "/");
        e.service = JournalService::Sts;
        e.action = Some("GetCallerIdentity".into());
        e.host = Some("sts.eu-west-1.amazonaws.com".into());
        e.access_key_id = Some("ASIAEXAMPLE".into());
        e.scope = Some(JournalScope {
            date: "20260101".into(),
            region: "eu-west-1".into(),
            service: "sts".into(),
        });
        e.verdict = Verdict::Rejected {
            status: 403,
            code: code.into(),
            message: message.into(),
            check: check.into(),
        };
        e
    }

    #[test]
    fn region_mismatch_reads_like_a_diagnosis() {
        let mut e = rejected(
            "scope",
            "SignatureDoesNotMatch",
            "Credential should be scoped",
        );
        if let Some(s) = &mut e.scope {
            s.region = "us-west-2".into();
        }
        let got = explain_journal(&[e], None);
        assert_eq!(
            got[0].text,
            "the client signed for region us-west-2 but sent the request to sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(got[0].link(), "docs/diagnosis.md#region-host-mismatch");
    }

    #[test]
    fn each_check_has_its_anchor() {
        let cases = [
            (
                "skew",
                "SignatureDoesNotMatch",
                "Signature expired: x",
                "date-stale",
            ),
            (
                "skew",
                "SignatureDoesNotMatch",
                "Signature not yet current: x",
                "date-future",
            ),
            (
                "session_token",
                "InvalidClientTokenId",
                "bad",
                "session-token-missing",
            ),
            (
                "signature",
                "SignatureDoesNotMatch",
                "nope",
                "signature-mismatch",
            ),
            (
                "auth_present",
                "MissingAuthenticationToken",
                "x",
                "request-unsigned",
            ),
            ("weird", "Code", "x", "aws-rejected"),
        ];
        for (check, code, msg, id) in cases {
            assert_eq!(
                explain_journal(&[rejected(check, code, msg)], None)[0].id,
                id
            );
        }
        let accepted = JournalEntry::new("r".into(), "POST", "/");
        assert!(explain_journal(&[accepted], None).is_empty());
    }

    #[test]
    fn consul_errors_map_to_anchors() {
        assert_eq!(
            explain_consul_error("login failed: header wasn't signed").map(|x| x.id),
            Some("server-id-unsigned")
        );
        assert_eq!(
            explain_consul_error("expected \"a\" but got \"b\"").map(|x| x.id),
            Some("server-id-wrong-value")
        );
        assert_eq!(explain_consul_error("all good"), None);
    }

    #[test]
    fn report_lines_parse_back() {
        let line = "STS GetCallerIdentity / (Host sts.eu-west-1.amazonaws.com) rejected by the scope check: 403 SignatureDoesNotMatch: Credential should be scoped to a valid region\n  credential scope: 20260101/us-west-2/sts";
        let x = explain_report_line(line).unwrap();
        assert_eq!(x.id, "region-host-mismatch");
    }
}

//! The XML bodies STS and IAM send, written by hand so element order, namespace and
//! indentation match AWS exactly.
//!
//! Spec: aws-sts-iam-sigv4 §3.2–§3.5. Every `{Action}Response` has `{Action}Result` as its
//! first child and `ResponseMetadata/RequestId` after it; error bodies are
//! `ErrorResponse/Error/{Type,Code,Message}` then `RequestId`; two-space indentation, no
//! prolog; every text value is escaped.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;

use crate::store::{Role, User};

/// The STS XML namespace.
pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The IAM XML namespace.
pub const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// RFC 3986 unreserved characters stay; everything else is %-encoded (space → `%20`).
const URI_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Escapes XML text. Quotes stay as they are: they need no escaping in element text, and
/// AWS's messages are full of them.
pub(crate) fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, as AWS writes timestamps.
pub(crate) fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    // Written digit by digit: this runs for every journalled request, and `format!` showed
    // in profiles. Years outside 0..=9999 (never produced by the clock) take the general path.
    if !(0..=9999).contains(&year) {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            year,
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
    }
    let mut out = String::with_capacity(20);
    let two = |out: &mut String, n: u8| {
        out.push(char::from(b'0' + n / 10 % 10));
        out.push(char::from(b'0' + n % 10));
    };
    // 0 <= year <= 9999, so both halves fit in a u8 below 100.
    let (hi, lo) = (year / 100, year % 100);
    two(&mut out, u8::try_from(hi).unwrap_or(0));
    two(&mut out, u8::try_from(lo).unwrap_or(0));
    out.push('-');
    two(&mut out, u8::from(t.month()));
    out.push('-');
    two(&mut out, t.day());
    out.push('T');
    two(&mut out, t.hour());
    out.push(':');
    two(&mut out, t.minute());
    out.push(':');
    two(&mut out, t.second());
    out.push('Z');
    out
}

/// The success body of `GetCallerIdentity`.
pub(crate) fn render_get_caller_identity(
    arn: &str,
    user_id: &str,
    account: &str,
    request_id: &str,
) -> String {
    // Pieces pushed into one buffer: this answers every verified GetCallerIdentity, and
    // `format!` showed in profiles.
    let parts = [
        "<GetCallerIdentityResponse xmlns=\"",
        STS_NS,
        "\">\n  <GetCallerIdentityResult>\n    <Arn>",
        &escape(arn),
        "</Arn>\n    <UserId>",
        &escape(user_id),
        "</UserId>\n    <Account>",
        &escape(account),
        "</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>",
        &escape(request_id),
        "</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
    ];
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

fn write_tags(out: &mut String, tags: &[(String, String)], indent: &str) {
    if tags.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}<Tags>");
    for (k, v) in tags {
        let _ = writeln!(
            out,
            "{indent}  <member>\n{indent}    <Key>{}</Key>\n{indent}    <Value>{}</Value>\n{indent}  </member>",
            escape(k),
            escape(v)
        );
    }
    let _ = writeln!(out, "{indent}</Tags>");
}

/// The success body of IAM `GetRole`.
pub(crate) fn render_get_role(role: &Role, request_id: &str) -> String {
    let mut out = format!("<GetRoleResponse xmlns=\"{IAM_NS}\">\n  <GetRoleResult>\n    <Role>\n");
    let i = "      ";
    let policy = utf8_percent_encode(&role.assume_role_policy, URI_ENCODE).to_string();
    let _ = writeln!(out, "{i}<Path>{}</Path>", escape(&role.path));
    let _ = writeln!(
        out,
        "{i}<AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>",
        escape(&policy)
    );
    let _ = writeln!(
        out,
        "{i}<MaxSessionDuration>{}</MaxSessionDuration>",
        role.max_session_duration
    );
    let _ = writeln!(out, "{i}<RoleId>{}</RoleId>", escape(&role.id));
    let _ = writeln!(out, "{i}<RoleName>{}</RoleName>", escape(&role.name));
    let _ = writeln!(out, "{i}<Arn>{}</Arn>", escape(&role.arn));
    let _ = writeln!(
        out,
        "{i}<CreateDate>{}</CreateDate>",
        escape(&role.create_date)
    );
    write_tags(&mut out, &role.tags, i);
    let _ = writeln!(out, "{i}<RoleLastUsed/>");
    let _ = write!(
        out,
        "    </Role>\n  </GetRoleResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetRoleResponse>\n",
        escape(request_id)
    );
    out
}

/// The success body of IAM `GetUser`.
pub(crate) fn render_get_user(user: &User, request_id: &str) -> String {
    let mut out = format!("<GetUserResponse xmlns=\"{IAM_NS}\">\n  <GetUserResult>\n    <User>\n");
    let i = "      ";
    let _ = writeln!(out, "{i}<Path>{}</Path>", escape(&user.path));
    let _ = writeln!(out, "{i}<UserName>{}</UserName>", escape(&user.name));
    let _ = writeln!(out, "{i}<UserId>{}</UserId>", escape(&user.id));
    let _ = writeln!(out, "{i}<Arn>{}</Arn>", escape(&user.arn));
    let _ = writeln!(
        out,
        "{i}<CreateDate>{}</CreateDate>",
        escape(&user.create_date)
    );
    write_tags(&mut out, &user.tags, i);
    let _ = write!(
        out,
        "    </User>\n  </GetUserResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetUserResponse>\n",
        escape(request_id)
    );
    out
}

/// An error body. `sender` chooses `Sender` (4xx) or `Receiver` (5xx).
pub(crate) fn render_error(
    ns: &str,
    sender: bool,
    code: &str,
    message: &str,
    request_id: &str,
) -> String {
    format!(
        "<ErrorResponse xmlns=\"{ns}\">\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        if sender { "Sender" } else { "Receiver" },
        escape(code),
        escape(message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_is_rfc3339_seconds_utc() {
        use time::macros::datetime;
        assert_eq!(
            iso8601(datetime!(2015-08-30 12:36:00 UTC)),
            "2015-08-30T12:36:00Z"
        );
        assert_eq!(
            iso8601(datetime!(0999-01-02 03:04:05 UTC)),
            "0999-01-02T03:04:05Z"
        );
        assert_eq!(
            iso8601(datetime!(2026-11-27 23:59:59.999 +01:00)),
            "2026-11-27T22:59:59Z"
        );
        assert_eq!(
            iso8601(datetime!(2026-11-27 23:59:59 UTC)),
            format!("{}", "2026-11-27T23:59:59Z")
        );
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape("a&b<c>'\""), "a&amp;b&lt;c&gt;'\"");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn caller_identity_has_result_first_and_exact_shape() {
        let x = render_get_caller_identity("arn:a&b", "AIDA", "123456789012", "rid");
        assert_eq!(
            x,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetCallerIdentityResult>\n    <Arn>arn:a&amp;b</Arn>\n    <UserId>AIDA</UserId>\n    <Account>123456789012</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>rid</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n"
        );
    }

    #[test]
    fn error_body_shape() {
        let x = render_error(IAM_NS, false, "InternalFailure", "x<y", "rid");
        assert!(x.starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <Error>\n    <Type>Receiver</Type>\n    <Code>InternalFailure</Code>\n    <Message>x&lt;y</Message>"));
        assert!(x.ends_with("  <RequestId>rid</RequestId>\n</ErrorResponse>\n"));
    }

    #[test]
    fn iso8601_has_whole_seconds() {
        let t = OffsetDateTime::from_unix_timestamp(1_366_261_318).unwrap();
        assert_eq!(iso8601(t), "2013-04-18T05:01:58Z");
    }
}

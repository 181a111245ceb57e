//! The XML bodies STS and IAM send, written by hand so element order, namespace and
//! indentation match AWS exactly.
//!
//! Spec: aws-sts-iam-sigv4 §3.2–§3.5. Every `{Action}Response` has `{Action}Result` as its
//! first child and `ResponseMetadata/RequestId` after it; error bodies are
//! `ErrorResponse/Error/{Type,Code,Message}` then `RequestId`; two-space indentation, no
//! prolog; every text value is escaped.

use std::borrow::Cow;
use std::fmt::Write as _;

use iamconform_sigv4::uri_encode;
use time::OffsetDateTime;

use crate::store::{Role, User};

/// The STS XML namespace.
pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The IAM XML namespace.
pub const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

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

/// Appends every part to `out`.
fn push_all(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
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
    push_all(&mut out, &parts);
    out
}

/// `indent<name>text</name>\n`, the text escaped. The IAM bodies below are built from these
/// pushes rather than `write!`: GetRole answers inside every login, and formatting (with the
/// policy's `PercentEncode` chunk by chunk) was a fifth of a GetRole's instructions; the
/// policy is encoded by SigV4's own encoder in one pass.
fn element(out: &mut String, indent: &str, name: &str, text: &str) {
    push_all(
        out,
        &[indent, "<", name, ">", &escape(text), "</", name, ">\n"],
    );
}

/// The indentation of a role's or user's fields.
const FIELD: &str = "      ";
/// The indentation of a tag's `Key` and `Value`.
const TAG_FIELD: &str = "          ";

/// A role's or user's `Tags`, nothing when it has none.
fn write_tags(out: &mut String, tags: &[(String, String)]) {
    if tags.is_empty() {
        return;
    }
    out.push_str("      <Tags>\n");
    for (k, v) in tags {
        out.push_str("        <member>\n");
        element(out, TAG_FIELD, "Key", k);
        element(out, TAG_FIELD, "Value", v);
        out.push_str("        </member>\n");
    }
    out.push_str("      </Tags>\n");
}

/// The closing part of an IAM success body: `</{entity}>`, the result, the request id.
fn close_iam_body(out: &mut String, entity: &str, action: &str, request_id: &str) {
    push_all(
        out,
        &[
            "    </",
            entity,
            ">\n  </",
            action,
            "Result>\n  <ResponseMetadata>\n    <RequestId>",
            &escape(request_id),
            "</RequestId>\n  </ResponseMetadata>\n</",
            action,
            "Response>\n",
        ],
    );
}

/// The success body of IAM `GetRole`.
pub(crate) fn render_get_role(role: &Role, request_id: &str) -> String {
    let mut out = String::with_capacity(1024 + 3 * role.assume_role_policy.len());
    push_all(
        &mut out,
        &[
            "<GetRoleResponse xmlns=\"",
            IAM_NS,
            "\">\n  <GetRoleResult>\n    <Role>\n",
        ],
    );
    element(&mut out, FIELD, "Path", &role.path);
    // Percent-encoded text has no `&`, `<` or `>` left to escape.
    push_all(
        &mut out,
        &[
            FIELD,
            "<AssumeRolePolicyDocument>",
            &uri_encode(role.assume_role_policy.as_bytes(), false),
            "</AssumeRolePolicyDocument>\n",
        ],
    );
    let _ = writeln!(
        out,
        "{FIELD}<MaxSessionDuration>{}</MaxSessionDuration>",
        role.max_session_duration
    );
    element(&mut out, FIELD, "RoleId", &role.id);
    element(&mut out, FIELD, "RoleName", &role.name);
    element(&mut out, FIELD, "Arn", &role.arn);
    element(&mut out, FIELD, "CreateDate", &role.create_date);
    write_tags(&mut out, &role.tags);
    out.push_str(FIELD);
    out.push_str("<RoleLastUsed/>\n");
    close_iam_body(&mut out, "Role", "GetRole", request_id);
    out
}

/// The success body of IAM `GetUser`.
pub(crate) fn render_get_user(user: &User, request_id: &str) -> String {
    let mut out = String::with_capacity(1024);
    push_all(
        &mut out,
        &[
            "<GetUserResponse xmlns=\"",
            IAM_NS,
            "\">\n  <GetUserResult>\n    <User>\n",
        ],
    );
    element(&mut out, FIELD, "Path", &user.path);
    element(&mut out, FIELD, "UserName", &user.name);
    element(&mut out, FIELD, "UserId", &user.id);
    element(&mut out, FIELD, "Arn", &user.arn);
    element(&mut out, FIELD, "CreateDate", &user.create_date);
    write_tags(&mut out, &user.tags);
    close_iam_body(&mut out, "User", "GetUser", request_id);
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

    fn role() -> Role {
        Role {
            account: crate::store::AccountId::for_tests("123456789012"),
            name: "web<task>".into(),
            path: "/consul-ecs/".into(),
            id: "AROAEXAMPLE".into(),
            arn: "arn:aws:iam::123456789012:role/consul-ecs/web<task>".into(),
            tags: vec![
                ("service-name".into(), "a&b".into()),
                ("empty".into(), String::new()),
            ],
            allow: vec![],
            create_date: "2024-01-01T00:00:00Z".into(),
            max_session_duration: 43_200,
            assume_role_policy: "{\"Version\": \"2012-10-17\", \"S\": [\"é~-_.\"]}".into(),
        }
    }

    #[test]
    fn get_role_body_is_exact() {
        // Spec §3.4: element order and indentation of IAM's GetRole; the policy URL-encoded
        // (RFC 3986 unreserved characters kept, UTF-8 bytes as %XX), every text escaped.
        assert_eq!(
            render_get_role(&role(), "rid&"),
            "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <GetRoleResult>\n    <Role>\n      <Path>/consul-ecs/</Path>\n      <AssumeRolePolicyDocument>%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22S%22%3A%20%5B%22%C3%A9~-_.%22%5D%7D</AssumeRolePolicyDocument>\n      <MaxSessionDuration>43200</MaxSessionDuration>\n      <RoleId>AROAEXAMPLE</RoleId>\n      <RoleName>web&lt;task&gt;</RoleName>\n      <Arn>arn:aws:iam::123456789012:role/consul-ecs/web&lt;task&gt;</Arn>\n      <CreateDate>2024-01-01T00:00:00Z</CreateDate>\n      <Tags>\n        <member>\n          <Key>service-name</Key>\n          <Value>a&amp;b</Value>\n        </member>\n        <member>\n          <Key>empty</Key>\n          <Value></Value>\n        </member>\n      </Tags>\n      <RoleLastUsed/>\n    </Role>\n  </GetRoleResult>\n  <ResponseMetadata>\n    <RequestId>rid&amp;</RequestId>\n  </ResponseMetadata>\n</GetRoleResponse>\n"
        );
        let untagged = Role {
            tags: vec![],
            ..role()
        };
        assert!(
            render_get_role(&untagged, "r")
                .contains("<CreateDate>2024-01-01T00:00:00Z</CreateDate>\n      <RoleLastUsed/>\n")
        );
    }

    #[test]
    fn policy_encoding_matches_the_percent_encoding_crate() {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const UNRESERVED_KEPT: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let mut text: String = (0u8..=127).map(char::from).collect();
        text.push_str("é€𝄞 {\"a\": [1, 2]}");
        let ours = uri_encode(text.as_bytes(), false);
        assert_eq!(
            ours,
            utf8_percent_encode(&text, UNRESERVED_KEPT).to_string()
        );
    }

    #[test]
    fn get_user_body_is_exact() {
        let user = User {
            account: crate::store::AccountId::for_tests("123456789012"),
            name: "ci".into(),
            path: "/".into(),
            id: "AIDAEXAMPLE".into(),
            arn: "arn:aws:iam::123456789012:user/ci".into(),
            tags: vec![("k".into(), "v<".into())],
            allow: vec![],
            create_date: "2024-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            render_get_user(&user, "rid"),
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <GetUserResult>\n    <User>\n      <Path>/</Path>\n      <UserName>ci</UserName>\n      <UserId>AIDAEXAMPLE</UserId>\n      <Arn>arn:aws:iam::123456789012:user/ci</Arn>\n      <CreateDate>2024-01-01T00:00:00Z</CreateDate>\n      <Tags>\n        <member>\n          <Key>k</Key>\n          <Value>v&lt;</Value>\n        </member>\n      </Tags>\n    </User>\n  </GetUserResult>\n  <ResponseMetadata>\n    <RequestId>rid</RequestId>\n  </ResponseMetadata>\n</GetUserResponse>\n"
        );
    }

    #[test]
    fn iso8601_has_whole_seconds() {
        let t = OffsetDateTime::from_unix_timestamp(1_366_261_318).unwrap();
        assert_eq!(iso8601(t), "2013-04-18T05:01:58Z");
    }
}

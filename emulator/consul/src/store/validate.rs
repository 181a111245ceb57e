//! Name and ID validity rules, as `acl/validation.go` and `go-uuid` define them.
//!
//! Spec: consul-aws-iam §3.4 "Name validity rules".

/// Service identity names: 1–256 chars, `^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$`.
pub fn is_valid_service_identity_name(name: &str) -> bool {
    lower_dns_like(name) && name.len() <= 256
}

/// Node identity names: same rule as service identities.
pub fn is_valid_node_identity_name(name: &str) -> bool {
    is_valid_service_identity_name(name)
}

fn lower_dns_like(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    edge(first)
        && edge(last)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

fn word_chars(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Role names: `^[A-Za-z0-9\-_]{1,256}$`.
pub fn is_valid_role_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && word_chars(name)
}

/// Auth method names: `^[A-Za-z0-9\-_]{1,128}$`.
pub fn is_valid_auth_method_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && word_chars(name)
}

/// Policy names: 1–128 chars, `^[A-Za-z0-9\-_]+/?[A-Za-z0-9\-_]*$`, not starting with the
/// reserved `builtin/` prefix.
pub fn is_valid_policy_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 128 || name.starts_with("builtin/") {
        return false;
    }
    let (head, tail) = match name.split_once('/') {
        Some((h, t)) => (h, t),
        None => (name, ""),
    };
    !head.is_empty() && word_chars(head) && word_chars(tail)
}

/// Namespace names (enterprise): DNS-label-like, up to 64 chars.
// UNVERIFIED: the enterprise rule is not public; this is the documented naming guidance.
pub fn is_valid_namespace_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    name.len() <= 64
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// `go-uuid`'s `ParseUUID`: 36 chars, hyphens at 8/13/18/23, hex elsewhere.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Consul's reserved ID prefix (`structs.ACLReservedPrefix`).
pub const RESERVED_PREFIX: &str = "00000000-0000-0000-0000-0000000000";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        assert!(is_valid_service_identity_name("web"));
        assert!(is_valid_service_identity_name(
            "my-role-aaasomeuniqueid-1234567890"
        ));
        assert!(is_valid_service_identity_name("a"));
        assert!(!is_valid_service_identity_name(""));
        assert!(!is_valid_service_identity_name("Web"));
        assert!(!is_valid_service_identity_name("web-"));
        assert!(!is_valid_service_identity_name("some/path"));
        assert!(!is_valid_service_identity_name(&"a".repeat(257)));
    }

    #[test]
    fn role_and_method_names() {
        assert!(is_valid_role_name("consul-ecs-client-role"));
        assert!(is_valid_role_name("Role_1"));
        assert!(!is_valid_role_name("a.b"));
        assert!(is_valid_auth_method_name("iam-ecs-service-token"));
        assert!(!is_valid_auth_method_name(&"a".repeat(129)));
    }

    #[test]
    fn policy_names() {
        assert!(is_valid_policy_name("node-read"));
        assert!(is_valid_policy_name("team/read"));
        assert!(!is_valid_policy_name("/x"));
        assert!(!is_valid_policy_name("a/b/c"));
        assert!(!is_valid_policy_name("builtin/x"));
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("00000000-0000-0000-0000-000000000001"));
        assert!(is_uuid("ABCDEF00-0000-0000-0000-000000000001"));
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid("000000000000-0000-0000-0000-00000000"));
    }
}

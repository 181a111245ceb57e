//! Request bodies decoded the way Consul's `lib.DecodeJSON` does: Go's `encoding/json` with
//! `DisallowUnknownFields`.
//!
//! Go matches field names case-insensitively, rejects unknown fields with
//! `json: unknown field "X"`, reports type mismatches as `json: cannot unmarshal <kind> into
//! Go struct field <Struct>.<Field> of type <type>`, keeps the first error in document order,
//! treats `null` as "leave unset" and ignores anything after the first JSON value. Each body
//! type describes its Go struct as a [`Shape`]; [`decode`] canonicalises keys against it and
//! then hands the result to serde.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// How a field is typed in Go.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Bool,
    U64,
    /// `[]byte` (base64 string).
    Bytes,
    StrList,
    StrMap,
    /// `interface{}` / `map[string]interface{}`.
    Any,
    /// `time.Duration` with Consul's string-or-number `UnmarshalJSON`.
    Duration,
    /// `*time.Time`.
    Time,
    Obj(&'static Shape),
    ObjList(&'static Shape),
}

/// A Go struct field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Only known to Consul Enterprise (`Namespace`, `Partition`).
    pub ent_only: bool,
    /// Accepted but dropped before serde (read-only fields clients echo back).
    pub ignored: bool,
}

/// A Go struct.
#[derive(Debug)]
pub(crate) struct Shape {
    /// `structs.ACLPolicy`.
    pub go_type: &'static str,
    pub fields: &'static [Field],
}

impl Shape {
    fn short(&self) -> &'static str {
        self.go_type.rsplit('.').next().unwrap_or(self.go_type)
    }
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        ent_only: false,
        ignored: false,
    }
}
const fn ent(name: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Str,
        ent_only: true,
        ignored: false,
    }
}
const fn ign(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        ent_only: false,
        ignored: true,
    }
}

pub(crate) static LINK: Shape = Shape {
    go_type: "structs.ACLTokenPolicyLink",
    fields: &[f("ID", Kind::Str), f("Name", Kind::Str)],
};
pub(crate) static ROLE_POLICY_LINK: Shape = Shape {
    go_type: "structs.ACLRolePolicyLink",
    fields: &[f("ID", Kind::Str), f("Name", Kind::Str)],
};
pub(crate) static ROLE_LINK: Shape = Shape {
    go_type: "structs.ACLTokenRoleLink",
    fields: &[f("ID", Kind::Str), f("Name", Kind::Str)],
};
pub(crate) static SERVICE_IDENTITY: Shape = Shape {
    go_type: "structs.ACLServiceIdentity",
    fields: &[f("ServiceName", Kind::Str), f("Datacenters", Kind::StrList)],
};
pub(crate) static NODE_IDENTITY: Shape = Shape {
    go_type: "structs.ACLNodeIdentity",
    fields: &[f("NodeName", Kind::Str), f("Datacenter", Kind::Str)],
};
pub(crate) static TEMPLATE_VARS: Shape = Shape {
    go_type: "structs.ACLTemplatedPolicyVariables",
    fields: &[f("Name", Kind::Str)],
};
pub(crate) static TEMPLATED_POLICY: Shape = Shape {
    go_type: "structs.ACLTemplatedPolicy",
    fields: &[
        f("TemplateName", Kind::Str),
        f("TemplateVariables", Kind::Obj(&TEMPLATE_VARS)),
        f("Datacenters", Kind::StrList),
    ],
};
pub(crate) static NAMESPACE_RULE: Shape = Shape {
    go_type: "structs.ACLAuthMethodNamespaceRule",
    fields: &[f("Selector", Kind::Str), f("BindNamespace", Kind::Str)],
};

pub(crate) static POLICY: Shape = Shape {
    go_type: "structs.ACLPolicy",
    fields: &[
        f("ID", Kind::Str),
        f("Name", Kind::Str),
        f("Description", Kind::Str),
        f("Rules", Kind::Str),
        f("Datacenters", Kind::StrList),
        ign("Hash", Kind::Bytes),
        ign("CreateIndex", Kind::U64),
        ign("ModifyIndex", Kind::U64),
        ent("Namespace"),
        ent("Partition"),
    ],
};

pub(crate) static ROLE: Shape = Shape {
    go_type: "structs.ACLRole",
    fields: &[
        f("ID", Kind::Str),
        f("Name", Kind::Str),
        f("Description", Kind::Str),
        f("Policies", Kind::ObjList(&ROLE_POLICY_LINK)),
        f("ServiceIdentities", Kind::ObjList(&SERVICE_IDENTITY)),
        f("NodeIdentities", Kind::ObjList(&NODE_IDENTITY)),
        f("TemplatedPolicies", Kind::ObjList(&TEMPLATED_POLICY)),
        ign("Hash", Kind::Bytes),
        ign("CreateIndex", Kind::U64),
        ign("ModifyIndex", Kind::U64),
        ent("Namespace"),
        ent("Partition"),
    ],
};

pub(crate) static TOKEN: Shape = Shape {
    go_type: "structs.ACLToken",
    fields: &[
        f("AccessorID", Kind::Str),
        f("SecretID", Kind::Str),
        f("Description", Kind::Str),
        f("Policies", Kind::ObjList(&LINK)),
        f("Roles", Kind::ObjList(&ROLE_LINK)),
        f("ServiceIdentities", Kind::ObjList(&SERVICE_IDENTITY)),
        f("NodeIdentities", Kind::ObjList(&NODE_IDENTITY)),
        f("TemplatedPolicies", Kind::ObjList(&TEMPLATED_POLICY)),
        f("Local", Kind::Bool),
        f("AuthMethod", Kind::Str),
        f("ExpirationTime", Kind::Time),
        f("ExpirationTTL", Kind::Duration),
        f("Type", Kind::Str),
        f("Rules", Kind::Str),
        ign("CreateTime", Kind::Time),
        ign("Hash", Kind::Bytes),
        ign("CreateIndex", Kind::U64),
        ign("ModifyIndex", Kind::U64),
        ent("Namespace"),
        ent("Partition"),
        Field {
            name: "AuthMethodNamespace",
            kind: Kind::Str,
            ent_only: true,
            ignored: true,
        },
    ],
};

pub(crate) static AUTH_METHOD: Shape = Shape {
    go_type: "structs.ACLAuthMethod",
    fields: &[
        f("Name", Kind::Str),
        f("Type", Kind::Str),
        f("DisplayName", Kind::Str),
        f("Description", Kind::Str),
        f("MaxTokenTTL", Kind::Duration),
        f("TokenLocality", Kind::Str),
        f("Config", Kind::Any),
        f("NamespaceRules", Kind::ObjList(&NAMESPACE_RULE)),
        ign("CreateIndex", Kind::U64),
        ign("ModifyIndex", Kind::U64),
        ent("Namespace"),
        ent("Partition"),
    ],
};

pub(crate) static BINDING_RULE: Shape = Shape {
    go_type: "structs.ACLBindingRule",
    fields: &[
        f("ID", Kind::Str),
        f("Description", Kind::Str),
        f("AuthMethod", Kind::Str),
        f("Selector", Kind::Str),
        f("BindType", Kind::Str),
        f("BindName", Kind::Str),
        f("BindVars", Kind::Obj(&TEMPLATE_VARS)),
        ign("CreateIndex", Kind::U64),
        ign("ModifyIndex", Kind::U64),
        ent("Namespace"),
        ent("Partition"),
    ],
};

pub(crate) static LOGIN: Shape = Shape {
    go_type: "structs.ACLLoginParams",
    fields: &[
        f("AuthMethod", Kind::Str),
        f("BearerToken", Kind::Str),
        f("Meta", Kind::StrMap),
        ent("Namespace"),
        ent("Partition"),
    ],
};

pub(crate) static BOOTSTRAP: Shape = Shape {
    go_type: "api.BootstrapRequest",
    fields: &[f("BootstrapSecret", Kind::Str)],
};

pub(crate) static PARTITION: Shape = Shape {
    go_type: "api.Partition",
    fields: &[
        f("Name", Kind::Str),
        f("Description", Kind::Str),
        ign("CreateIndex", Kind::U64),
        ign("ModifyIndex", Kind::U64),
    ],
};

pub(crate) static NAMESPACE: Shape = Shape {
    go_type: "structs.Namespace",
    fields: &[
        f("Name", Kind::Str),
        f("Description", Kind::Str),
        f("ACLs", Kind::Any),
        f("Meta", Kind::StrMap),
        f("Partition", Kind::Str),
        ign("CreateIndex", Kind::U64),
        ign("ModifyIndex", Kind::U64),
    ],
};

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn go_type_name(kind: Kind) -> String {
    match kind {
        Kind::Str => "string".into(),
        Kind::Bool => "bool".into(),
        Kind::U64 => "uint64".into(),
        Kind::Bytes => "[]uint8".into(),
        Kind::StrList => "[]string".into(),
        Kind::StrMap => "map[string]string".into(),
        Kind::Any => "interface {}".into(),
        Kind::Duration => "time.Duration".into(),
        Kind::Time => "time.Time".into(),
        Kind::Obj(s) => s.go_type.to_string(),
        Kind::ObjList(s) => format!("[]{}", s.go_type),
    }
}

fn type_error(found: &Value, path: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {path} of type {go_type}",
        json_kind(found)
    )
}

/// Canonicalises an object against a shape: keys renamed to the Go field names, nulls and
/// ignored fields dropped, the first Go-style error returned.
fn canonical_object(
    obj: &Map<String, Value>,
    shape: &Shape,
    path: &str,
    enterprise: bool,
) -> Result<Value, String> {
    let mut out = Map::new();
    for (key, value) in obj {
        // Go prefers an exact match, then a case-insensitive one.
        let field = shape
            .fields
            .iter()
            .find(|fl| fl.name == key)
            .or_else(|| {
                shape
                    .fields
                    .iter()
                    .find(|fl| fl.name.eq_ignore_ascii_case(key))
            })
            .filter(|fl| enterprise || !fl.ent_only);
        let Some(field) = field else {
            return Err(format!(
                "json: unknown field {}",
                crate::gojson::go_quote(key)
            ));
        };
        let fpath = format!("{path}.{}", field.name);
        if value.is_null() {
            continue;
        }
        let canon = canonical_value(value, field.kind, &fpath, enterprise)?;
        if !field.ignored {
            out.insert(field.name.to_string(), canon);
        }
    }
    Ok(Value::Object(out))
}

fn canonical_value(
    value: &Value,
    kind: Kind,
    path: &str,
    enterprise: bool,
) -> Result<Value, String> {
    let mismatch = || type_error(value, path, &go_type_name(kind));
    match kind {
        Kind::Str | Kind::Bytes => value
            .is_string()
            .then(|| value.clone())
            .ok_or_else(mismatch),
        Kind::Bool => value
            .is_boolean()
            .then(|| value.clone())
            .ok_or_else(mismatch),
        Kind::U64 => value.as_u64().map(|_| value.clone()).ok_or_else(mismatch),
        Kind::Any => Ok(value.clone()),
        Kind::Duration | Kind::Time => {
            // Consul's custom UnmarshalJSON reads these itself; serde reports their errors.
            if value.is_string() || value.is_number() {
                Ok(value.clone())
            } else {
                Err(mismatch())
            }
        }
        Kind::StrList => {
            let Value::Array(items) = value else {
                return Err(mismatch());
            };
            for item in items {
                if !item.is_string() && !item.is_null() {
                    return Err(type_error(item, path, "string"));
                }
            }
            Ok(Value::Array(
                items.iter().filter(|i| !i.is_null()).cloned().collect(),
            ))
        }
        Kind::StrMap => {
            let Value::Object(map) = value else {
                return Err(mismatch());
            };
            for item in map.values() {
                if !item.is_string() && !item.is_null() {
                    return Err(type_error(item, path, "string"));
                }
            }
            Ok(value.clone())
        }
        Kind::Obj(shape) => {
            let Value::Object(map) = value else {
                return Err(mismatch());
            };
            canonical_object(map, shape, path, enterprise)
        }
        Kind::ObjList(shape) => {
            let Value::Array(items) = value else {
                return Err(mismatch());
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(map) => out.push(canonical_object(map, shape, path, enterprise)?),
                    Value::Null => out.push(Value::Object(Map::new())),
                    other => return Err(type_error(other, path, shape.go_type)),
                }
            }
            Ok(Value::Array(out))
        }
    }
}

/// Parses the first JSON value of `body` with Go's error texts for the common cases.
fn first_value(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("EOF".to_string());
    }
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) if e.is_eof() => Err("unexpected EOF".to_string()),
        Some(Err(e)) => {
            // UNVERIFIED: Go names the context ("looking for beginning of value", "after
            // object key", …); the offending character is reported like Go does.
            let offset = byte_offset(body, e.line(), e.column());
            let ch = body.get(offset.saturating_sub(1)).copied().unwrap_or(b'?');
            Err(format!(
                "invalid character {} looking for beginning of value",
                go_char(ch)
            ))
        }
        None => Err("EOF".to_string()),
    }
}

fn go_char(b: u8) -> String {
    match b {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("'\\x{b:02x}'"),
    }
}

fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let mut cur_line = 1;
    let mut line_start = 0;
    for (i, b) in body.iter().enumerate() {
        if cur_line == line {
            break;
        }
        if *b == b'\n' {
            cur_line += 1;
            line_start = i + 1;
        }
    }
    line_start + column
}

/// Decodes a request body into `T` through `shape`; the error is the text after Consul's
/// per-endpoint prefix (`Policy decoding failed: <this>`).
pub(crate) fn decode<T: DeserializeOwned + Default>(
    body: &[u8],
    shape: &Shape,
    enterprise: bool,
) -> Result<T, String> {
    let value = first_value(body)?;
    let canon = match &value {
        Value::Null => return Ok(T::default()),
        Value::Object(map) => canonical_object(map, shape, shape.short(), enterprise),
        other => Err(format!(
            "json: cannot unmarshal {} into Go value of type {}",
            json_kind(other),
            shape.go_type
        )),
    }
    .map_err(|e| reword_enterprise(e, enterprise))?;
    serde_json::from_value(canon).map_err(|e| e.to_string())
}

/// CE's `rewordUnknownEnterpriseFieldError`.
fn reword_enterprise(err: String, enterprise: bool) -> String {
    if !enterprise && err == "json: unknown field \"Namespace\"" {
        format!("{err} - Namespaces are a Consul Enterprise feature")
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::{AuthMethodInput, PolicyInput, RoleInput};

    #[test]
    fn field_names_are_case_insensitive() {
        let p: PolicyInput = decode(br#"{"name":"a","RULES":"x"}"#, &POLICY, false).unwrap();
        assert_eq!(p.name, "a");
        assert_eq!(p.rules, "x");
    }

    #[test]
    fn unknown_fields_are_rejected_first_in_document_order() {
        let e = decode::<PolicyInput>(br#"{"Foo":1,"Name":2}"#, &POLICY, false).unwrap_err();
        assert_eq!(e, "json: unknown field \"Foo\"");
        let e = decode::<PolicyInput>(br#"{"Name":2,"Foo":1}"#, &POLICY, false).unwrap_err();
        assert_eq!(
            e,
            "json: cannot unmarshal number into Go struct field ACLPolicy.Name of type string"
        );
    }

    #[test]
    fn namespace_is_enterprise_only() {
        let e = decode::<PolicyInput>(br#"{"Namespace":"x"}"#, &POLICY, false).unwrap_err();
        assert_eq!(
            e,
            "json: unknown field \"Namespace\" - Namespaces are a Consul Enterprise feature"
        );
        let e = decode::<PolicyInput>(br#"{"Partition":"x"}"#, &POLICY, false).unwrap_err();
        assert_eq!(e, "json: unknown field \"Partition\"");
        let p: PolicyInput = decode(br#"{"Namespace":"x"}"#, &POLICY, true).unwrap();
        assert_eq!(p.namespace.as_deref(), Some("x"));
    }

    #[test]
    fn nested_errors_name_the_path() {
        let e = decode::<RoleInput>(br#"{"Policies":[{"ID":1}]}"#, &ROLE, false).unwrap_err();
        assert_eq!(
            e,
            "json: cannot unmarshal number into Go struct field ACLRole.Policies.ID of type string"
        );
        let e = decode::<RoleInput>(br#"{"Policies":[{"Bad":1}]}"#, &ROLE, false).unwrap_err();
        assert_eq!(e, "json: unknown field \"Bad\"");
    }

    #[test]
    fn empty_and_broken_bodies() {
        assert_eq!(
            decode::<PolicyInput>(b"", &POLICY, false).unwrap_err(),
            "EOF"
        );
        assert_eq!(
            decode::<PolicyInput>(b"{\"Name\":", &POLICY, false).unwrap_err(),
            "unexpected EOF"
        );
        assert_eq!(
            decode::<PolicyInput>(b"x", &POLICY, false).unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            decode::<PolicyInput>(b"[]", &POLICY, false).unwrap_err(),
            "json: cannot unmarshal array into Go value of type structs.ACLPolicy"
        );
    }

    #[test]
    fn echoed_read_only_fields_are_accepted() {
        let p: PolicyInput = decode(
            br#"{"Name":"a","Hash":"abc=","CreateIndex":3,"ModifyIndex":4}"#,
            &POLICY,
            false,
        )
        .unwrap();
        assert_eq!(p.name, "a");
    }

    #[test]
    fn durations_accept_strings_and_numbers() {
        let m: AuthMethodInput = decode(br#"{"MaxTokenTTL":"5m"}"#, &AUTH_METHOD, false).unwrap();
        assert_eq!(m.max_token_ttl, 300_000_000_000);
        let m: AuthMethodInput =
            decode(br#"{"MaxTokenTTL":1000000000}"#, &AUTH_METHOD, false).unwrap();
        assert_eq!(m.max_token_ttl, 1_000_000_000);
        let e = decode::<AuthMethodInput>(br#"{"MaxTokenTTL":"abc"}"#, &AUTH_METHOD, false)
            .unwrap_err();
        assert_eq!(e, "time: invalid duration \"abc\"");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode::<crate::store::types::TokenInput>(&body, &TOKEN, false);
            let _ = decode::<RoleInput>(&body, &ROLE, true);
        }

        #[test]
        fn arbitrary_json_never_panics(s in "[{}\\[\\]\",:a-zA-Z0-9 .-]{0,64}") {
            let _ = decode::<AuthMethodInput>(s.as_bytes(), &AUTH_METHOD, false);
            let _ = decode::<crate::store::types::TokenInput>(s.as_bytes(), &TOKEN, true);
        }

        #[test]
        fn durations_and_rules_never_panic(s in "\\PC{0,32}") {
            let _ = crate::gojson::parse_duration(&s);
            let _ = crate::store::acl::parse_rules(&s);
        }
    }

    #[test]
    fn trailing_data_is_ignored_like_go() {
        let p: PolicyInput = decode(br#"{"Name":"a"} trailing"#, &POLICY, false).unwrap();
        assert_eq!(p.name, "a");
    }
}

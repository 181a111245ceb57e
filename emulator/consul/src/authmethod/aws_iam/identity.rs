//! What a successful login proves ([`Identity`], consul-awsauth's `IdentityDetails`) and its
//! projection for binding rules (Consul's `awsauth.Validator.ValidateLogin` / `NewIdentity`).
//!
//! Spec: consul-aws-iam §3.1.

use std::collections::BTreeMap;

use iamconform_bexpr::{Data, FieldKind, Schema, Value};

use super::config::AwsIamConfig;
use crate::authmethod::AuthIdentity;

/// The verified identity, as consul-awsauth returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Role or user name (for an assumed role, the role name).
    pub entity_name: String,
    /// STS `UserId` up to the first `:` (the role/user unique id).
    pub entity_id: String,
    /// STS `Account`.
    pub account_id: String,
    /// IAM `Path` (e.g. `/ecs/`) with details on; `""` without.
    pub entity_path: String,
    /// Every tag of the role/user with details on; `None` without.
    pub entity_tags: Option<BTreeMap<String, String>>,
}

/// Selector field names (bexpr struct tags of Consul's `awsSelectableFields`).
const ENTITY_NAME: &str = "entity_name";
const ENTITY_ID: &str = "entity_id";
const ACCOUNT_ID: &str = "account_id";
const ENTITY_PATH: &str = "entity_path";
const ENTITY_TAGS: &str = "entity_tags";

/// The fields binding-rule selectors may use.
pub fn selector_schema() -> Schema {
    Schema::new([
        (ENTITY_NAME, FieldKind::String),
        (ENTITY_ID, FieldKind::String),
        (ACCOUNT_ID, FieldKind::String),
        (ENTITY_PATH, FieldKind::String),
        (ENTITY_TAGS, FieldKind::StringMap),
    ])
}

/// Projects a verified identity: selector data and bind-name variables. Path and the configured
/// tags (`""` when the entity lacks one) appear only with `EnableIAMEntityDetails`; without it
/// `entity_tags` is a nil map and `entity_path` an empty selector field.
pub fn project(identity: &Identity, config: &AwsIamConfig) -> AuthIdentity {
    let mut vars = BTreeMap::from([
        (ENTITY_NAME.to_owned(), identity.entity_name.clone()),
        (ENTITY_ID.to_owned(), identity.entity_id.clone()),
        (ACCOUNT_ID.to_owned(), identity.account_id.clone()),
    ]);
    let mut path = String::new();
    let mut tags = None;
    if config.enable_iam_entity_details {
        vars.insert(ENTITY_PATH.to_owned(), identity.entity_path.clone());
        path = identity.entity_path.clone();
        let mut map = BTreeMap::new();
        for key in &config.iam_entity_tags {
            let value = identity
                .entity_tags
                .as_ref()
                .and_then(|t| t.get(key))
                .cloned()
                .unwrap_or_default();
            vars.insert(format!("entity_tags.{key}"), value.clone());
            map.insert(key.clone(), value);
        }
        tags = Some(map);
    }
    AuthIdentity {
        selectable: selectable(
            &identity.entity_name,
            &identity.entity_id,
            &identity.account_id,
            path,
            tags,
        ),
        vars,
    }
}

/// The blank identity binding rules are validated against: every variable `""`, and a non-nil
/// tag map holding the configured keys (with details on).
pub fn blank_identity(config: &AwsIamConfig) -> AuthIdentity {
    let mut vars = BTreeMap::from([
        (ENTITY_NAME.to_owned(), String::new()),
        (ENTITY_ID.to_owned(), String::new()),
        (ACCOUNT_ID.to_owned(), String::new()),
    ]);
    let mut tags = BTreeMap::new();
    if config.enable_iam_entity_details {
        vars.insert(ENTITY_PATH.to_owned(), String::new());
        for key in &config.iam_entity_tags {
            vars.insert(format!("entity_tags.{key}"), String::new());
            tags.insert(key.clone(), String::new());
        }
    }
    AuthIdentity {
        selectable: selectable("", "", "", String::new(), Some(tags)),
        vars,
    }
}

fn selectable(
    name: &str,
    id: &str,
    account: &str,
    path: String,
    tags: Option<BTreeMap<String, String>>,
) -> Data {
    Data::from([
        (ENTITY_NAME.to_owned(), Value::String(name.to_owned())),
        (ENTITY_ID.to_owned(), Value::String(id.to_owned())),
        (ACCOUNT_ID.to_owned(), Value::String(account.to_owned())),
        (ENTITY_PATH.to_owned(), Value::String(path)),
        (ENTITY_TAGS.to_owned(), Value::Map(tags)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(tags: Option<&[(&str, &str)]>) -> Identity {
        Identity {
            entity_name: "my-role".into(),
            entity_id: "AAAsomeuniqueid".into(),
            account_id: "1234567890".into(),
            entity_path: if tags.is_some() {
                "some/path".into()
            } else {
                String::new()
            },
            entity_tags: tags.map(|t| {
                t.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
        }
    }

    /// Consul `aws_test.go TestValidateLogin`: projection without details.
    #[test]
    fn projection_without_details() {
        let p = project(&identity(None), &AwsIamConfig::default());
        assert_eq!(p.vars.len(), 3);
        assert_eq!(p.vars["entity_id"], "AAAsomeuniqueid");
        assert_eq!(p.selectable["entity_path"], Value::String(String::new()));
        assert_eq!(p.selectable["entity_tags"], Value::Map(None));
    }

    /// With details: path and only the configured tags, `""` for absent ones.
    #[test]
    fn projection_with_details() {
        let config = AwsIamConfig {
            enable_iam_entity_details: true,
            iam_entity_tags: vec!["service-name".into(), "absent".into()],
            ..AwsIamConfig::default()
        };
        let p = project(
            &identity(Some(&[("service-name", "my-service"), ("env", "my-env")])),
            &config,
        );
        assert_eq!(p.vars["entity_path"], "some/path");
        assert_eq!(p.vars["entity_tags.service-name"], "my-service");
        assert_eq!(p.vars["entity_tags.absent"], "");
        assert!(!p.vars.contains_key("entity_tags.env"));
        let Value::Map(Some(tags)) = &p.selectable["entity_tags"] else {
            panic!("map expected")
        };
        assert_eq!(tags.len(), 2);
    }

    /// Consul `aws_test.go TestNewIdentity`.
    #[test]
    fn blank_identity_has_configured_keys() {
        let off = blank_identity(&AwsIamConfig::default());
        assert_eq!(off.vars.len(), 3);
        assert_eq!(
            off.selectable["entity_tags"],
            Value::Map(Some(BTreeMap::new()))
        );
        let config = AwsIamConfig {
            enable_iam_entity_details: true,
            iam_entity_tags: vec!["a".into()],
            ..AwsIamConfig::default()
        };
        let on = blank_identity(&config);
        assert_eq!(on.vars.len(), 5);
        assert_eq!(on.vars["entity_tags.a"], "");
        assert_eq!(
            on.selectable["entity_tags"],
            Value::Map(Some(BTreeMap::from([("a".to_owned(), String::new())])))
        );
        assert!(selector_schema().get("entity_tags").is_some());
    }
}

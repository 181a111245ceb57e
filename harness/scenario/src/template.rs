//! The starting scenario `iamconform new NAME` writes.

/// A commented scenario that loads cleanly and passes against the shipped fixtures with the
/// reference client: an ECS task logs in with its role and gets the service identity from the
/// role's tag, then logs out.
///
/// ```
/// let text = iamconform_scenario::new_scenario_template("my scenario");
/// let s = iamconform_scenario::load_str(std::path::Path::new("new.yaml"), &text).unwrap();
/// assert_eq!(s.name, "my scenario");
/// ```
pub fn new_scenario_template(name: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar, so any name is quoted safely.
    let quoted = serde_json::Value::String(name.to_owned()).to_string();
    TEMPLATE.replace("@NAME@", &quoted)
}

const TEMPLATE: &str = r#"# yaml-language-server: $schema=iamconform-scenario.schema.json
# What this scenario proves, and why it matters (a comment for readers).
# Reference: `iamconform schema` prints every key with its description.

# One line: shown in reports and matched by `iamconform run --filter`.
name: @NAME@
tags: [login]
# Unmet requirements skip the scenario with the reason: enterprise, docker.
requires: []

# Optional: identities merged over fixtures/identities.yaml (same format).
# identities:
#   accounts:
#     "123456789012":
#       roles:
#         - name: billing-task
#           path: /consul-ecs/
#           tags: { consul.hashicorp.com.service-name: billing }
#           allow: [iam:GetRole]
#           sessions:
#             - name: task-1
#               access_key_id: ASIAEXAMPLEBILLING01
#               secret_access_key: "bXlGYWtlU2VjcmV0S2V5Rm9yQmlsbGluZ1Rhc2sx"
#               session_token: "IQoJb3JpZ2luX2VjEFAKEbillingSessionTokenExample"
#               expires: 2099-01-01T00:00:00Z

# Consul state created before the first step, in Consul's own JSON field names.
consul:
  # preset: consul-ecs        # or a path relative to this file
  auth_methods:
    - Name: iam-ecs-service-token
      Type: aws-iam
      Config:
        BoundIAMPrincipalARNs: ["arn:aws:iam::123456789012:role/consul-ecs/*"]
        EnableIAMEntityDetails: true
        IAMEntityTags: [consul.hashicorp.com.service-name]
  binding_rules:
    - AuthMethod: iam-ecs-service-token
      BindType: service
      BindName: "${entity_tags.consul.hashicorp.com.service-name}"

steps:
  # Log in as role web-task, session task-1 (from the identity fixtures).
  - login:
      as: web-task/task-1
      method: iam-ecs-service-token
      include_entity: true
      # server_id: consul.example.com    # -aws-server-id-header-value
      # credentials: env                 # env | flags | shared-file | ecs
      save_as: web
    expect:
      ok: true
      token:
        ServiceIdentities: [{ ServiceName: web }]
      sent:
        service: sts
        entity: GetRole
        verdict: accepted

  - expect_token: { token: web, works: true }

  - logout: { token: web }
    expect: { ok: true }

  - expect_token: { token: web, works: false }

  # Nothing secret may appear in any output.
  - expect_no_secrets: {}
"#;

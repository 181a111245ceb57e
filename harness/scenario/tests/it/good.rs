use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iamconform_scenario::*;
use serde_json::json;

pub(crate) const FULL: &str = include_str!("../data/full.yaml");

fn load(text: &str) -> Scenario {
    match load_str(Path::new("t.yaml"), text) {
        Ok(s) => s,
        Err(d) => panic!("expected the file to load, got:\n{d}"),
    }
}

fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn full_example_becomes_exactly_this_model() {
    let got = load(FULL);
    let want = Scenario {
        name: "full example of every key".into(),
        tags: vec!["login".into(), "ecs".into()],
        requires: vec![Requirement::Enterprise],
        identities: got.identities.clone(),
        aws: AwsOptions {
            strict_regions: true,
        },
        consul: ConsulSetup {
            preset: Some(Preset::Named("consul-ecs".into())),
            enterprise: true,
            ce_only: false,
            audit: true,
            policies: vec![
                json!({"Name": "read-kv", "Rules": "key_prefix \"\" { policy = \"read\" }"}),
            ],
            roles: vec![json!({"Name": "reader", "Policies": [{"Name": "read-kv"}]})],
            namespaces: vec![json!({"Name": "team-a"})],
            auth_methods: vec![
                json!({"Name": "iam-ecs-service-token", "Type": "aws-iam", "Config": {
                "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"],
                "EnableIAMEntityDetails": true}}),
            ],
            binding_rules: vec![
                json!({"AuthMethod": "iam-ecs-service-token", "BindType": "service", "BindName": "web"}),
            ],
        },
        steps: vec![
            Step {
                line: 28,
                kind: StepKind::Login {
                    login: Login {
                        identity: LoginAs {
                            name: "web-task".into(),
                            qualifier: Some("task-1".into()),
                        },
                        method: "iam-ecs-service-token".into(),
                        include_entity: true,
                        server_id: Some("consul.example.com".into()),
                        region: "eu-west-1".into(),
                        meta: BTreeMap::from([("team".to_owned(), "a".to_owned())]),
                        credentials: CredentialSource::SharedFile,
                        corrupt: None,
                        sts_endpoint: Endpoint::Aws,
                        iam_endpoint: Endpoint::Url("http://127.0.0.1:4566".into()),
                        namespace: Some("team-a".into()),
                        partition: Some("default".into()),
                        save_as: SavedName("service".into()),
                    },
                    expect: ClientExpect {
                        outcome: Outcome {
                            ok: true,
                            error: None,
                        },
                        token: Some(obj(json!({
                            "ServiceIdentities": [{"ServiceName": "web"}],
                            "ExpirationTime": "present"
                        }))),
                        sent: Some(SentExpect {
                            region: Some("eu-west-1".into()),
                            service: Some("sts".into()),
                            host: Some("sts.eu-west-1.amazonaws.com".into()),
                            signed_headers: SignedHeadersExpect {
                                include: vec!["x-consul-iam-serverid".into()],
                                exclude: vec!["x-amz-date".into()],
                            },
                            server_id_signed: Some(true),
                            entity: Some(EntityExpect::GetRole),
                            verdict: Some(Verdict::Accepted),
                        }),
                    },
                },
            },
            Step {
                line: 54,
                kind: StepKind::Login {
                    login: Login {
                        identity: LoginAs {
                            name: "ci-user".into(),
                            qualifier: None,
                        },
                        method: "iam-ecs-service-token".into(),
                        include_entity: false,
                        server_id: None,
                        region: "us-east-1".into(),
                        meta: BTreeMap::new(),
                        credentials: CredentialSource::Flags,
                        corrupt: None,
                        sts_endpoint: Endpoint::Emulator,
                        iam_endpoint: Endpoint::Aws,
                        namespace: None,
                        partition: None,
                        save_as: SavedName("default".into()),
                    },
                    expect: ClientExpect {
                        outcome: Outcome {
                            ok: false,
                            error: Some("not trusted".into()),
                        },
                        token: None,
                        sent: None,
                    },
                },
            },
            Step {
                line: 56,
                kind: StepKind::ExpectToken(ExpectToken {
                    token: SavedName("service".into()),
                    works: true,
                }),
            },
            Step {
                line: 57,
                kind: StepKind::Api {
                    api: ApiCall {
                        method: "PUT".into(),
                        path: "/v1/acl/binding-rule".into(),
                        body: Some(
                            json!({"AuthMethod": "iam-ecs-service-token", "Selector": "bad ==",
                                          "BindType": "service", "BindName": "x"}),
                        ),
                        token: TokenRef::Saved(SavedName("service".into())),
                    },
                    expect: ApiExpect {
                        status: Some(500),
                        body_contains: Some("Selector is invalid".into()),
                        json: Some(json!({"a": 1})),
                    },
                },
            },
            Step {
                line: 63,
                kind: StepKind::Api {
                    api: ApiCall {
                        method: "GET".into(),
                        path: "/v1/acl/tokens".into(),
                        body: None,
                        token: TokenRef::None,
                    },
                    expect: ApiExpect::default(),
                },
            },
            Step {
                line: 64,
                kind: StepKind::Clock(ClockShift {
                    advance: time::Duration::minutes(90),
                }),
            },
            Step {
                line: 65,
                kind: StepKind::Clock(ClockShift {
                    advance: time::Duration::minutes(-20),
                }),
            },
            Step {
                line: 66,
                kind: StepKind::Fault(Fault {
                    service: FaultService::Sts,
                    action: FaultAction::Status(503),
                    count: 2,
                }),
            },
            Step {
                line: 67,
                kind: StepKind::Fault(Fault {
                    service: FaultService::Any,
                    action: FaultAction::Delay(time::Duration::seconds(2)),
                    count: 1,
                }),
            },
            Step {
                line: 68,
                kind: StepKind::Replay {
                    replay: Replay {
                        token: SavedName("service".into()),
                        method: Some("other-method".into()),
                    },
                    expect: ClientExpect {
                        outcome: Outcome {
                            ok: false,
                            error: Some("signature".into()),
                        },
                        token: None,
                        sent: None,
                    },
                },
            },
            Step {
                line: 70,
                kind: StepKind::Replay {
                    replay: Replay {
                        token: SavedName("service".into()),
                        method: None,
                    },
                    expect: ClientExpect {
                        outcome: Outcome::default(),
                        token: None,
                        sent: Some(SentExpect {
                            entity: Some(EntityExpect::None),
                            verdict: Some(Verdict::Error("SignatureDoesNotMatch".into())),
                            ..SentExpect::default()
                        }),
                    },
                },
            },
            Step {
                line: 72,
                kind: StepKind::Logout {
                    logout: Logout {
                        token: TokenRef::Saved(SavedName("service".into())),
                        via: LogoutVia::Api,
                    },
                    expect: Outcome::default(),
                },
            },
            Step {
                line: 74,
                kind: StepKind::Logout {
                    logout: Logout {
                        token: TokenRef::Bogus,
                        via: LogoutVia::Client,
                    },
                    expect: Outcome {
                        ok: false,
                        error: Some("ACL not found".into()),
                    },
                },
            },
            Step {
                line: 76,
                kind: StepKind::ExpectToken(ExpectToken {
                    token: SavedName("service".into()),
                    works: false,
                }),
            },
            Step {
                line: 77,
                kind: StepKind::ExpectAudit(ExpectAudit {
                    contains: vec![obj(
                        json!({"stage": "OperationComplete", "endpoint": "/v1/acl/login",
                                              "method": "POST", "status": "200"}),
                    )],
                }),
            },
            Step {
                line: 78,
                kind: StepKind::ExpectNoSecrets,
            },
        ],
    };
    assert_eq!(got, want);
    assert_eq!(
        got.identities.clone().map(IdentityOverrides::into_json),
        Some(json!({"accounts": {"123456789012": {"roles": [
            {"name": "api-task", "tags": {"consul.hashicorp.com.service-name": "api"}}
        ]}}}))
    );
    // Every step kind appears in the full example.
    let mut keys: Vec<&str> = got.steps.iter().map(|s| s.kind.key()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut all = StepKind::KEYS.to_vec();
    all.sort_unstable();
    assert_eq!(keys, all);
}

#[test]
fn minimal_file_gets_the_documented_defaults() {
    let s = load(
        "name: m\nsteps:\n  - login: { as: web-task/task-1, method: m }\n  - logout: {}\n  - expect_token: { works: false }\n  - replay: {}\n",
    );
    assert_eq!(s.tags, Vec::<String>::new());
    assert_eq!(s.requires, vec![]);
    assert_eq!(s.identities, None);
    assert_eq!(s.aws, AwsOptions::default());
    assert_eq!(s.consul, ConsulSetup::default());
    let StepKind::Login { login, expect } = &s.steps[0].kind else {
        panic!("not a login")
    };
    assert_eq!(login.region, "us-east-1");
    assert_eq!(login.credentials, CredentialSource::Env);
    // Clients sign for the real regional STS host by default, as in production.
    assert_eq!(login.sts_endpoint, Endpoint::Aws);
    assert_eq!(login.iam_endpoint, Endpoint::Aws);
    assert_eq!(login.save_as.as_str(), "default");
    assert!(!login.include_entity);
    assert_eq!(expect, &ClientExpect::default());
    assert!(expect.outcome.ok);
    assert_eq!(
        s.steps[1].kind,
        StepKind::Logout {
            logout: Logout {
                token: TokenRef::Saved(SavedName("default".into())),
                via: LogoutVia::Client
            },
            expect: Outcome::default()
        }
    );
    assert_eq!(
        s.steps[3].kind,
        StepKind::Replay {
            replay: Replay {
                token: SavedName("default".into()),
                method: None
            },
            expect: ClientExpect::default()
        }
    );
}

#[test]
fn step_keys_without_a_value_are_accepted_where_nothing_is_required() {
    let s = load(
        "name: m\nsteps:\n  - expect_no_secrets:\n  - login: { as: r/s, method: m }\n  - logout:\n    expect: { ok: false }\n",
    );
    assert_eq!(s.steps[0].kind, StepKind::ExpectNoSecrets);
    assert_eq!(s.steps[0].line, 3);
    assert!(matches!(s.steps[2].kind, StepKind::Logout { .. }));
}

#[test]
fn presets_are_names_or_relative_paths() {
    let preset = |p: &str| {
        load(&format!(
            "name: m\nconsul: {{ preset: {p} }}\nsteps: [expect_no_secrets: {{}}]\n"
        ))
        .consul
        .preset
    };
    assert_eq!(
        preset("consul-ecs"),
        Some(Preset::Named("consul-ecs".into()))
    );
    assert_eq!(
        preset("../fixtures/mine.yaml"),
        Some(Preset::Path(PathBuf::from("../fixtures/mine.yaml")))
    );
    assert_eq!(
        preset("mine.yml"),
        Some(Preset::Path(PathBuf::from("mine.yml")))
    );
}

#[test]
fn enterprise_follows_requires_unless_set() {
    let s = load("name: m\nrequires: [enterprise]\nsteps: [expect_no_secrets: {}]\n");
    assert!(s.consul.enterprise);
    let s = load("name: m\nconsul: { enterprise: true }\nsteps: [expect_no_secrets: {}]\n");
    assert!(s.consul.enterprise);
    assert_eq!(s.requires, vec![Requirement::Enterprise]);
}

#[test]
fn login_as_forms() {
    let as_of = |a: &str| {
        let s = load(&format!(
            "name: m\nsteps:\n  - login: {{ as: \"{a}\", method: m }}\n"
        ));
        match &s.steps[0].kind {
            StepKind::Login { login, .. } => login.identity.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(as_of("ci-user").to_string(), "ci-user");
    assert_eq!(
        as_of("ci-user/AKIAEXAMPLECIUSER001").qualifier.as_deref(),
        Some("AKIAEXAMPLECIUSER001")
    );
    assert_eq!(as_of("a+=,.@_-b/s").name, "a+=,.@_-b");
}

#[test]
fn yaml_anchors_and_merge_keys_work() {
    let s = load(
        "name: m\nsteps:\n  - login: &l { as: web-task/task-1, method: m }\n  - login: { <<: *l, region: eu-west-1 }\n  - login: *l\n",
    );
    assert_eq!(s.steps.len(), 3);
    let StepKind::Login { login, .. } = &s.steps[1].kind else {
        panic!("not a login")
    };
    assert_eq!(login.method, "m");
    assert_eq!(login.region, "eu-west-1");
    assert_eq!(s.steps[2].line, 5);
}

#[test]
fn load_file_reads_utf8_files_and_bounds_size() {
    let dir = std::env::temp_dir().join(format!("iamconform-scenario-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(&good, FULL).unwrap();
    assert_eq!(load_file(&good).unwrap().name, "full example of every key");

    let big = dir.join("big.yaml");
    let mut text = String::from("name: m\n");
    while u64::try_from(text.len()).unwrap() <= MAX_FILE_SIZE {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, &text).unwrap();
    let d = load_file(&big).unwrap_err();
    assert_eq!(
        d.to_string(),
        format!(
            "{}:1:1: error: the file is larger than 1048576 bytes\n  help: split it into several scenarios",
            big.display()
        )
    );
    assert_eq!(load_str(&big, &text).unwrap_err(), d);

    let latin1 = dir.join("latin1.yaml");
    std::fs::write(&latin1, b"name: caf\xe9\n").unwrap();
    let d = load_file(&latin1).unwrap_err();
    assert!(
        d.to_string()
            .contains("not UTF-8 (invalid byte at offset 9)"),
        "{d}"
    );

    let missing = dir.join("missing.yaml");
    let d = load_file(&missing).unwrap_err();
    assert!(
        d.to_string().contains(":1:1: error: cannot read the file"),
        "{d}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn identity_overrides_do_not_show_secrets_in_debug() {
    let s = load(
        "name: m\nidentities:\n  accounts:\n    012345678901:\n      users:\n        - name: u\n          access_keys: [{ access_key_id: AKIAX, secret_access_key: TOPSECRETVALUE }]\nsteps: [expect_no_secrets: {}]\n",
    );
    let debug = format!("{s:?}");
    assert!(!debug.contains("TOPSECRETVALUE"), "{debug}");
    // Account IDs with a leading zero stay strings, unquoted or not.
    assert!(debug.contains("\"012345678901\""), "{debug}");
    let json = s.identities.unwrap().into_json();
    assert_eq!(
        json["accounts"]["012345678901"]["users"][0]["access_keys"][0]["secret_access_key"],
        "TOPSECRETVALUE"
    );
}

#[test]
fn only_an_explicit_enterprise_false_marks_a_ce_scenario() {
    let body =
        "steps:\n  - api: { method: GET, path: /v1/acl/policies }\n    expect: { status: 200 }\n";
    let explicit = load(&format!("name: ce\nconsul:\n  enterprise: false\n{body}"));
    assert!(explicit.consul.ce_only);
    assert!(!explicit.consul.enterprise);
    let unset = load(&format!("name: either\n{body}"));
    assert!(!unset.consul.ce_only);
    let enterprise = load(&format!("name: ent\nconsul:\n  enterprise: true\n{body}"));
    assert!(!enterprise.consul.ce_only);
    assert!(enterprise.consul.enterprise);
}

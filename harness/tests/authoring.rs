//! The authoring tools (`inspect`, `explain`, `record`, `bless`) as users run them: tokens from
//! the reference client with each of its injected bugs, the AWS emulator for the one real STS
//! call `-aws-include-entity` makes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981: tests/ ignores clippy.toml

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use iamconform::inspect::{Source, consul_first_error, inspect, render_human};
use iamconform_aws::{AwsConfig, AwsState, IdentityStore};
use iamconform_consul::authmethod::aws_iam::AwsIamConfig;
use iamconform_login::{AwsCredentials, LoginInput, Mutant, Network, generate_bearer_token};
use iamconform_secret::Secret;

const KEY: &str = "ASIAEXAMPLEWEBTASK01";
const SECRET: &str = "eHMsvKYEIlu7euAf+tdg5J8ee8EvXGtJ0r6EKnIm";
const SESSION: &str = "IQoJb3JpZ2luX2VjE3CNQrRR8K5MVEgbdq9aZswrSSzhHVHGfQD4DF5tQHMTGfPfBx4iDeMuySyxtOuDdQRkZUwrosbacSQqXEy6oDryO+DiSE0RmS/4N/3kORrHO9kTelyVjZEwQie9Md5KlCGoZKlAq8ue7ksivXSbBd3B7cozB+ojFrnBOtGAiB8J+4/kvheXOSdE/3zr4gnYXFibShRF4ziSVtN7g+LVFy0cb1PfROuSUxJW6XHP9io5Po1KPhMJuBS/RwYCGGTajkpk6IgsmISUUjMsRdfd20L+/KutUqu1ItlqyKc/m7fkBtfYkDglw+wVsR21uess5+4nD2EYQxqJnegp34KsAqjQ92vnoZ9ypXvG12IpP8N8EgJTyHw4WyXrQcmGNM5TuJBUdHPms4AMaKWP2";
const SERVER_ID: &str = "consul.example.com";

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn input(mutant: Option<Mutant>, network: Network, include_entity: bool) -> LoginInput {
    let creds = AwsCredentials::from_flags(
        KEY,
        Secret::new(SECRET.to_owned()),
        Some(Secret::new(SESSION.to_owned())),
    );
    let mut i = LoginInput::new(creds, "us-east-1");
    i.server_id_header_value = Some(SERVER_ID.to_owned());
    i.include_entity = include_entity;
    i.network = network;
    i.mutant = mutant;
    i
}

fn config(entity: bool) -> AwsIamConfig {
    AwsIamConfig {
        bound_iam_principal_arns: vec!["arn:aws:iam::123456789012:role/consul-ecs/*".into()],
        enable_iam_entity_details: entity,
        server_id_header_value: SERVER_ID.to_owned(),
        ..AwsIamConfig::default()
    }
}

/// What `inspect` must report for each mutant's token (finding ids, as a set). Mutants whose
/// bug is not in the token (or needs the secret key to see) report nothing.
fn expected(m: Option<Mutant>) -> &'static [&'static str] {
    let Some(m) = m else { return &[] };
    match m {
        Mutant::ServerIdOmitted => &["server-id-missing"],
        Mutant::ServerIdUnsigned => &["server-id-unsigned"],
        Mutant::ServerIdWrongValue => &["server-id-wrong-value"],
        Mutant::EntityHeadersAwsSpelling | Mutant::EntityHeadersLowercase => {
            &["entity-header-missing", "non-canonical-header"]
        }
        Mutant::EntityUnsigned => &["server-id-unsigned", "request-unsigned"],
        Mutant::EntityServerIdMissing => &["server-id-missing"],
        Mutant::SessionTokenDropped => &["session-token-missing"],
        Mutant::SessionTokenUnsigned => &["session-token-unsigned"],
        Mutant::SigningRegionWrong => &["region-host-mismatch"],
        Mutant::SigningServiceWrong => &["signing-service-wrong"],
        Mutant::DateStale16m => &["date-stale"],
        Mutant::DateFuture16m => &["date-future"],
        Mutant::BodyActionMisspelt | Mutant::BodyExtraField => &["sts-body"],
        Mutant::StsUrlQuery => &["url-query"],
        Mutant::MethodGet => &["method-not-post"],
        Mutant::Base64UrlEncoding | Mutant::HeadersJsonNotBase64 => &["token-undecodable"],
        Mutant::ContentLengthWrong => &["content-length-wrong"],
        // Invisible without the secret key, or not in the token at all.
        _ => &[],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_names_every_injected_bug_of_the_reference_client() {
    let store = IdentityStore::load(&root().join("fixtures/identities.yaml")).unwrap();
    let aws = iamconform_aws::bind(
        AwsState::new(store, AwsConfig::default()),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let network = Network::with_aws_redirect(aws.addr).unwrap();
    let config = config(true);
    let mut cases: Vec<Option<Mutant>> = vec![None];
    cases.extend(Mutant::ALL.iter().copied().map(Some));
    for m in cases {
        let i = input(m, network.clone(), true);
        let token = generate_bearer_token(&i).await.unwrap();
        let result = inspect(token.expose(), &config, i.now);
        let ids: BTreeSet<&str> = result.findings.iter().map(|f| f.id).collect();
        let want: BTreeSet<&str> = expected(m).iter().copied().collect();
        assert_eq!(ids, want, "{m:?}: {:#?}", result.findings);
        // Consul's own validator, run offline, stops at our first Consul finding.
        let oracle = consul_first_error(token.expose(), &config);
        let first = result.findings.iter().find(|f| f.source == Source::Consul);
        match (first, &oracle) {
            (None, None) => {}
            (Some(f), Some(o)) if f.id == "token-undecodable" => {
                assert!(o.starts_with("invalid token: "), "{m:?}: {o}");
            }
            (Some(f), Some(o)) => assert_eq!(&f.message, o, "{m:?}"),
            // The offline validator stops at the STS call (step 15), before step 18.
            (Some(f), None) if f.step.contains("step 18") => {}
            (f, o) => panic!("{m:?}: inspect {f:?} vs Consul {o:?}"),
        }
        // Secrets never appear.
        let human = render_human(&result);
        let json = serde_json::to_string(&result).unwrap();
        for out in [&human, &json] {
            assert!(!out.contains(SESSION), "{m:?} leaks the session token");
            assert!(
                !out.contains(&SESSION[..40]),
                "{m:?} leaks the session token"
            );
            assert!(!out.contains(SECRET));
        }
        if let Some(sig) = signature_of(token.expose()) {
            assert!(
                !human.contains(&sig) && !json.contains(&sig),
                "{m:?} leaks the signature"
            );
        }
    }
    aws.shutdown().await.unwrap();
}

/// The STS signature inside a token, if it decodes.
fn signature_of(token: &str) -> Option<String> {
    let t = iamconform_login::BearerToken::parse(token).ok()?;
    let authz = t.header("Authorization")?;
    Some(authz.split("Signature=").nth(1)?.to_owned())
}

#[tokio::test]
async fn inspect_shows_the_sigv4_parameters_and_redacts_them() {
    let i = input(Some(Mutant::SigningRegionWrong), Network::default(), false);
    let token = generate_bearer_token(&i).await.unwrap();
    let result = inspect(token.expose(), &config(false), i.now);
    let sts = result.sts.as_ref().unwrap();
    assert_eq!(sts.method, "POST");
    assert_eq!(sts.url, "https://sts.us-east-1.amazonaws.com/");
    assert_eq!(sts.body, "Action=GetCallerIdentity&Version=2011-06-15");
    let v = sts.sigv4.as_ref().unwrap();
    assert_eq!(v.access_key_id, KEY);
    assert_eq!(
        (v.region.as_str(), v.service.as_str()),
        ("us-west-2", "sts")
    );
    assert_eq!(v.age_secs, Some(0));
    assert!(
        v.signed_headers
            .contains(&"x-consul-iam-serverid".to_owned())
    );
    assert!(v.session_token_present && v.session_token_signed);
    let f = &result.findings[0];
    assert_eq!(
        f.message,
        "the client signed for region us-west-2 but sent the request to sts.us-east-1.amazonaws.com"
    );
    assert_eq!(f.doc_link(), "docs/diagnosis.md#region-host-mismatch");
    assert!(result.entity.is_none());
}

#[tokio::test]
async fn inspect_without_server_id_config_accepts_a_token_without_it() {
    let i = input(Some(Mutant::ServerIdOmitted), Network::default(), false);
    let token = generate_bearer_token(&i).await.unwrap();
    let mut c = config(false);
    c.server_id_header_value.clear();
    assert!(inspect(token.expose(), &c, i.now).findings.is_empty());
    // A loopback STS URL: refused without STSEndpoint, fine with it.
    let mut t = iamconform_login::BearerToken::parse(token.expose()).unwrap();
    t.url = "http://127.0.0.1:4566/sts/".to_owned();
    let r = inspect(&t.render(), &c, i.now);
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id).collect();
    // The signing region no longer matches a regional host, so only the host check fires.
    assert_eq!(ids, ["sts-host-not-allowed"]);
    assert_eq!(r.findings[0].message, "invalid STS hostname: \"127.0.0.1\"");
    c.sts_endpoint = "http://127.0.0.1:4566/sts".to_owned();
    assert!(inspect(&t.render(), &c, i.now).findings.is_empty());
    assert_eq!(consul_first_error(&t.render(), &c), None);
}

#[tokio::test]
async fn inspect_reports_several_faults_in_consul_order() {
    // GET + query string + server id omitted: Consul stops at the method; inspect lists all.
    let i = input(Some(Mutant::MethodGet), Network::default(), false);
    let token = generate_bearer_token(&i).await.unwrap();
    let mut t = iamconform_login::BearerToken::parse(token.expose()).unwrap();
    t.url.push_str("?Action=GetCallerIdentity");
    t.headers.retain(|(k, _)| k != "X-Consul-Iam-Serverid");
    t.headers
        .push(("X-Amz-Foo".to_owned(), vec!["1".to_owned()]));
    let rendered = t.render();
    let c = config(false);
    let r = inspect(&rendered, &c, i.now);
    let messages: Vec<&str> = r.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "iam_http_request_method must be POST",
            "URL query parameters are not allowed for security reasons: found \"Action=GetCallerIdentity\"",
            "invalid request header: X-Amz-Foo",
            "missing header \"X-Consul-IAM-ServerID\"",
        ]
    );
    assert_eq!(
        consul_first_error(&rendered, &c).as_deref(),
        Some("iam_http_request_method must be POST")
    );
}

#[tokio::test]
async fn inspect_cli_reads_stdin_and_prints_json() {
    let i = input(Some(Mutant::ServerIdUnsigned), Network::default(), false);
    let token = generate_bearer_token(&i).await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamconform"))
        .args(["inspect", "--json", "--server-id", SERVER_ID])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.expose().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(100), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(&SESSION[..40]));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["consul_verdict"], "header wasn't signed");
    assert_eq!(v["findings"][0]["id"], "server-id-unsigned");
    assert_eq!(v["sts"]["sigv4"]["region"], "us-east-1");

    // Text output, token as an argument, a clean token: exit 0.
    let clean = generate_bearer_token(&input(None, Network::default(), false))
        .await
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_iamconform"))
        .args(["inspect", "--server-id", SERVER_ID, clean.expose()])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("no problems found"), "{stdout}");
    assert!(stdout.contains("Signature=<redacted>"), "{stdout}");
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iamconform"));
    c.current_dir(root());
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("IAMCONFORM_MUTANT");
    c
}

#[test]
fn failed_runs_carry_diagnoses_and_explain_rerenders_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = bin()
        .env("IAMCONFORM_MUTANT", "signing-region-wrong")
        .args(["run", "scenarios/aws/region-host.yaml", "--json"])
        .arg(&report)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(100), "{text}");
    assert!(
        text.contains("the client signed for region us-east-1 but sent the request to sts.us-west-2.amazonaws.com (see docs/diagnosis.md#region-host-mismatch)"),
        "{text}"
    );
    let out = bin().arg("explain").arg(&report).output().unwrap();
    let explained = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{explained}");
    assert!(
        explained.contains("the client signed for region us-east-1 but sent the request to sts.us-west-2.amazonaws.com"),
        "{explained}"
    );
    assert!(explained.contains("see docs/diagnosis.md#region-host-mismatch"));
    assert!(explained.ends_with("failed scenario(s)\n"));

    // A Consul-side failure: the diagnosis comes from Consul's error text.
    let out = bin()
        .env("IAMCONFORM_MUTANT", "server-id-unsigned")
        .args(["run", "scenarios/server-id"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("docs/diagnosis.md#server-id-unsigned"),
        "{text}"
    );

    // Not a report.
    std::fs::write(&report, "{}").unwrap();
    let out = bin().arg("explain").arg(&report).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_anchor_is_documented() {
    let doc = std::fs::read_to_string(root().join("docs/diagnosis.md")).unwrap();
    let src = [
        include_str!("../src/inspect.rs"),
        include_str!("../src/explain.rs"),
    ]
    .concat();
    let re_ids: BTreeSet<String> = src
        .split('"')
        .filter(|s| {
            s.len() > 4
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
                && s.contains('-')
        })
        .map(str::to_owned)
        .collect();
    for id in re_ids {
        if id.starts_with("x-") || id.starts_with("us-") || id.starts_with("eu-") {
            continue;
        }
        assert!(
            doc.contains(&format!("## {id}")),
            "docs/diagnosis.md lacks ## {id}"
        );
    }
}

/// Records a flow with `iamconform record`, then checks the file lints, passes when run again
/// and holds no secret.
fn record_round_trip(
    file: &str,
    mutant: Option<&str>,
    consul: Option<&str>,
    args: &[&str],
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(file);
    let mut cmd = bin();
    if let Some(m) = mutant {
        cmd.env("IAMCONFORM_MUTANT", m);
    }
    cmd.arg("record").arg(&out).args(args);
    if let Some(c) = consul {
        let p = dir.path().join("consul.yaml");
        std::fs::write(&p, c).unwrap();
        cmd.arg("--consul").arg(&p);
    }
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("run again: passed"), "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains(SECRET) && !text.contains(&SESSION[..40]),
        "{text}"
    );
    assert!(!text.contains("SecretID"), "{text}");
    let lint = bin().arg("lint").arg(&out).output().unwrap();
    assert_eq!(lint.status.code(), Some(0), "{lint:?}");
    // Run again, with the same bug injected: it passes.
    let mut again = bin();
    if let Some(m) = mutant {
        again.env("IAMCONFORM_MUTANT", m);
    }
    let again = again.arg("run").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        stdout.contains("iamconform: 1 passed, 0 failed"),
        "{stdout}\n{text}"
    );
    text
}

const SERVER_ID_METHOD: &str = r#"auth_methods:
  - Name: sid
    Type: aws-iam
    Config: { BoundIAMPrincipalARNs: ["arn:aws:iam::123456789012:role/web-task"], ServerIDHeaderValue: consul.example.com }
binding_rules:
  - { AuthMethod: sid, BindType: service, BindName: web }
"#;

#[test]
fn record_pins_a_successful_login_and_logout() {
    let text = record_round_trip(
        "web.yaml",
        None,
        None,
        &[
            "--as",
            "web-task/task-1",
            "--method",
            "iam-ecs-service-token",
            "--preset",
            "consul-ecs",
            "--include-entity",
            "--logout",
        ],
    );
    assert!(
        text.contains(r#""ServiceIdentities":[{"ServiceName":"web"}]"#),
        "{text}"
    );
    assert!(text.contains(r#""entity":"GetRole""#), "{text}");
    assert!(text.contains(r#""verdict":"accepted""#), "{text}");
    assert!(text.contains("- logout: { token: recorded }"), "{text}");
}

#[test]
fn record_pins_a_consul_rejection_with_its_error_text() {
    let text = record_round_trip(
        "unsigned.yaml",
        Some("server-id-unsigned"),
        Some(SERVER_ID_METHOD),
        &[
            "--as",
            "web-task/task-1",
            "--method",
            "sid",
            "--server-id",
            SERVER_ID,
            "--logout",
        ],
    );
    assert!(
        text.contains(r#""ok":false,"error":"header wasn't signed""#),
        "{text}"
    );
    assert!(text.contains(r#""server_id_signed":false"#), "{text}");
    // A failed login has nothing to log out.
    assert!(!text.contains("logout"), "{text}");
}

#[test]
fn record_pins_what_the_client_signed() {
    let text = record_round_trip(
        "region.yaml",
        Some("signing-region-wrong"),
        Some(SERVER_ID_METHOD),
        &[
            "--as",
            "web-task/task-1",
            "--method",
            "sid",
            "--server-id",
            SERVER_ID,
            "--region",
            "eu-west-1",
        ],
    );
    assert!(text.contains(r#""region":"us-west-2""#), "{text}");
    assert!(
        text.contains(r#""host":"sts.eu-west-1.amazonaws.com""#),
        "{text}"
    );
    assert!(text.contains(r#""server_id_signed":true"#), "{text}");
}

#[test]
fn record_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.yaml");
    std::fs::write(&out, "keep").unwrap();
    let o = bin()
        .arg("record")
        .arg(&out)
        .args(["--as", "web-task/task-1", "--method", "m"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep");
}

const STALE: &str = r#"# A production failure turned into a regression test.
name: stale expectations
tags: [bless]
consul:
  preset: consul-ecs   # the ECS setup
steps:
  # The service token carries the service identity.
  - login: { as: web-task/task-1, method: iam-ecs-service-token, include_entity: true, save_as: web }
    expect:
      ok: true
      token: { ServiceIdentities: [{ ServiceName: api }] }   # stale: the role is tagged web
      sent: { region: us-west-2, entity: GetRole }

  # Logging out works.
  - logout: { token: web }
    expect: { ok: true }
"#;

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {o:?}");
}

#[test]
fn bless_rewrites_a_stale_scenario_and_keeps_its_comments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stale.yaml");
    std::fs::write(&file, STALE).unwrap();
    git(dir.path(), &["init", "-q"]);

    // Untracked: refused, file untouched.
    let o = bin().args(["run", "--bless"]).arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(100));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not blessed"),
        "{o:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), STALE);

    git(dir.path(), &["add", "stale.yaml"]);
    git(dir.path(), &["commit", "-q", "-m", "stale"]);
    let o = bin().args(["run", "--bless"]).arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        stdout.contains("iamconform bless: 1 file(s) rewritten"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-      token: { ServiceIdentities: [{ ServiceName: api }] }"),
        "{stdout}"
    );
    let blessed = std::fs::read_to_string(&file).unwrap();
    assert!(blessed.contains(
        r#"    expect: {"ok":true,"token":{"ServiceIdentities":[{"ServiceName":"web"}]},"sent":{"region":"us-east-1","entity":"GetRole"}}"#
    ), "{blessed}");
    // Everything else is kept, comments and blank lines included.
    for line in STALE.lines().filter(|l| !l.starts_with("      ")) {
        if line != "    expect:" {
            assert!(blessed.contains(line), "lost {line:?}:\n{blessed}");
        }
    }
    let again = bin().arg("run").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        stdout.contains("iamconform: 1 passed, 0 failed"),
        "{stdout}\n{blessed}"
    );

    // Passing now: nothing to bless, exit 0.
    let o = bin().args(["run", "--bless"]).arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn bless_with_force_turns_an_expected_failure_into_the_actual_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fail.yaml");
    let text = format!(
        "name: server id\nconsul:\n  {}\nsteps:\n  - login: {{ as: web-task/task-1, method: sid, server_id: {SERVER_ID} }}\n    expect: {{ ok: true }}\n",
        SERVER_ID_METHOD.replace('\n', "\n  ").trim_end()
    );
    std::fs::write(&file, &text).unwrap();
    let o = bin()
        .env("IAMCONFORM_MUTANT", "server-id-wrong-value")
        .args(["run", "--bless", "--force"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(100), "{o:?}");
    let blessed = std::fs::read_to_string(&file).unwrap();
    assert!(
        blessed.contains(r#"expect: {"ok":false,"error":"expected \"consul.example.com\" but got \"consul.example.com-wrong\""}"#),
        "{blessed}"
    );
    let again = bin()
        .env("IAMCONFORM_MUTANT", "server-id-wrong-value")
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{again:?}\n{blessed}");
}

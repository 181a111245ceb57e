#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! Real AWS clients (aws-cli and boto3 from `/work/main/.venv`) against the emulator on
//! `127.0.0.1:0`.
//!
//! Without the venv the test explains why and passes, unless `IAMCONFORM_REQUIRE_INTEROP=1`
//! (CI) makes that a failure. Children get a cleared environment: only what each case sets,
//! plus `HOME` in a temp dir, `AWS_EC2_METADATA_DISABLED=true` and no proxy variables.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use iamconform_aws::{DEFAULT_ADDR, RunningAws, bind};
use support::*;

fn venv_bin() -> PathBuf {
    match std::env::var_os("IAMCONFORM_VENV") {
        Some(v) => PathBuf::from(v).join("bin"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin"),
    }
}

/// Why the real clients cannot run here, if they cannot.
fn unavailable(bin: &Path) -> Option<String> {
    if !bin.join("aws").is_file() {
        return Some(format!("{} not found", bin.join("aws").display()));
    }
    let ok = std::process::Command::new(bin.join("python"))
        .args(["-c", "import boto3"])
        .env_clear()
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    (!ok).then(|| {
        format!(
            "boto3 is not importable with {}",
            bin.join("python").display()
        )
    })
}

struct Env {
    bin: PathBuf,
    home: tempfile::TempDir,
    endpoint: String,
}

impl Env {
    async fn run(&self, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = tokio::process::Command::new(self.bin.join(program));
        cmd.args(args)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("HOME", self.home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("credentials"),
            )
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_RETRY_MODE", "standard")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("NO_PROXY", "*")
            .env("LC_ALL", "C.UTF-8")
            .kill_on_drop(true);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        // A safety net against a hung child, not a timing assertion.
        tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("client did not finish within 120 s")
            .expect("client could not be started")
    }

    async fn aws(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--endpoint-url", self.endpoint.as_str(), "--output", "json"]);
        self.run("aws", &all, vars).await
    }

    async fn python(&self, script: &str, vars: &[(&str, &str)]) -> Output {
        self.run("python", &["-c", script], vars).await
    }
}

fn key_vars(c: &Creds) -> Vec<(&str, &str)> {
    let mut v = vec![
        ("AWS_ACCESS_KEY_ID", c.akid.as_str()),
        ("AWS_SECRET_ACCESS_KEY", c.secret.as_str()),
    ];
    if let Some(t) = &c.token {
        v.push(("AWS_SESSION_TOKEN", t.as_str()));
    }
    v
}

fn json_ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "client failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr_of_failure(out: &Output) -> String {
    assert!(!out.status.success(), "client unexpectedly succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_talk_to_the_emulator() {
    let bin = venv_bin();
    if let Some(why) = unavailable(&bin) {
        if std::env::var("IAMCONFORM_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("interop clients are required (IAMCONFORM_REQUIRE_INTEROP=1) but {why}");
        }
        eprintln!("skipping interop test: {why}");
        return;
    }
    let running: RunningAws = bind(state(), DEFAULT_ADDR).await.unwrap();
    let env = Env {
        bin,
        home: tempfile::tempdir().unwrap(),
        endpoint: running.base_url(),
    };
    let user = creds(USER_KEY);
    let web = creds(WEB_KEY);

    // aws sts get-caller-identity with long-term keys and with session credentials.
    let v = json_ok(
        &env.aws(&["sts", "get-caller-identity"], &key_vars(&user))
            .await,
    );
    assert_eq!(v["Arn"], "arn:aws:iam::123456789012:user/ci-user");
    assert_eq!(v["UserId"], "AIDAEXAMPLECIUSER0001");
    assert_eq!(v["Account"], "123456789012");
    let v = json_ok(
        &env.aws(&["sts", "get-caller-identity"], &key_vars(&web))
            .await,
    );
    assert_eq!(
        v["Arn"],
        "arn:aws:sts::123456789012:assumed-role/web-task/task-1"
    );
    assert_eq!(v["UserId"], "AROAEXAMPLEWEBTASK001:task-1");

    // aws iam get-role / get-user.
    let v = json_ok(
        &env.aws(
            &["iam", "get-role", "--role-name", "web-task"],
            &key_vars(&web),
        )
        .await,
    );
    assert_eq!(v["Role"]["RoleId"], "AROAEXAMPLEWEBTASK001");
    assert_eq!(v["Role"]["Path"], "/consul-ecs/");
    assert_eq!(
        v["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    assert_eq!(
        v["Role"]["Tags"][0]["Key"],
        "consul.hashicorp.com.service-name"
    );
    let v = json_ok(&env.aws(&["iam", "get-user"], &key_vars(&user)).await);
    assert_eq!(v["User"]["UserName"], "ci-user");
    assert_eq!(v["User"]["UserId"], "AIDAEXAMPLECIUSER0001");

    // Credentials from the ECS container endpoint.
    let grant = running
        .state
        .issue_ecs_grant(ACCOUNT, "api-task", "task-1")
        .unwrap();
    let ecs_vars = [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            grant.full_uri.as_str(),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            grant.authorization_token.expose().as_str(),
        ),
    ];
    let v = json_ok(&env.aws(&["sts", "get-caller-identity"], &ecs_vars).await);
    assert_eq!(
        v["Arn"],
        "arn:aws:sts::123456789012:assumed-role/api-task/task-1"
    );
    let v = json_ok(
        &env.aws(&["iam", "get-role", "--role-name", "api-task"], &ecs_vars)
            .await,
    );
    assert_eq!(
        v["Role"]["Arn"],
        "arn:aws:iam::123456789012:role/consul-ecs/api-task"
    );
    let bad_token = [
        ecs_vars[0],
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-the-token"),
    ];
    let err = stderr_of_failure(&env.aws(&["sts", "get-caller-identity"], &bad_token).await);
    assert!(err.to_lowercase().contains("credentials"), "{err}");

    // boto3: a presigned GetCallerIdentity URL, sent as botocore signed it (POST, empty body).
    let script = r#"
import boto3, os, urllib.request
sts = boto3.client("sts", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=900)
assert "X-Amz-Security-Token=" in url, url
req = urllib.request.Request(url, data=b"", method="POST")
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(req) as resp:
    assert resp.headers["Content-Type"] == "text/xml", resp.headers["Content-Type"]
    print(resp.read().decode())
"#;
    let mut vars = key_vars(&web);
    vars.push(("ENDPOINT", env.endpoint.as_str()));
    let out = env.python(script, &vars).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("<Arn>arn:aws:sts::123456789012:assumed-role/web-task/task-1</Arn>"),
        "{body}"
    );
    let last = running.state.journal().last().unwrap();
    assert_eq!(
        last.auth_location,
        Some(iamconform_aws::AuthLocation::Query)
    );

    // Failures as the client shows them.
    let mut wrong = user.clone();
    wrong.secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGWRONG".into();
    let err = stderr_of_failure(
        &env.aws(&["sts", "get-caller-identity"], &key_vars(&wrong))
            .await,
    );
    assert!(
        err.contains("(SignatureDoesNotMatch)")
            && err.contains("The request signature we calculated does not match"),
        "{err}"
    );
    let last = running.state.journal().last().unwrap();
    assert!(last.canonical_request.is_some());

    let mut unknown = user.clone();
    unknown.akid = "AKIAUNKNOWNKEY000001".into();
    let err = stderr_of_failure(
        &env.aws(&["sts", "get-caller-identity"], &key_vars(&unknown))
            .await,
    );
    assert!(
        err.contains("(InvalidClientTokenId)")
            && err.contains("The security token included in the request is invalid."),
        "{err}"
    );

    let err = stderr_of_failure(
        &env.aws(
            &["sts", "get-caller-identity"],
            &key_vars(&creds(EXPIRED_KEY)),
        )
        .await,
    );
    assert!(
        err.contains("(ExpiredToken)")
            && err.contains("The security token included in the request is expired"),
        "{err}"
    );

    let err = stderr_of_failure(
        &env.aws(
            &["iam", "get-role", "--role-name", "restricted-task"],
            &key_vars(&creds(RESTRICTED_KEY)),
        )
        .await,
    );
    assert!(err.contains("(AccessDenied)"), "{err}");

    running.state.clock().set_offset_seconds(16 * 60);
    let err = stderr_of_failure(
        &env.aws(&["sts", "get-caller-identity"], &key_vars(&user))
            .await,
    );
    assert!(
        err.contains("(SignatureDoesNotMatch)") && err.contains("Signature expired: "),
        "{err}"
    );
    running.state.clock().set_offset_seconds(-16 * 60);
    let err = stderr_of_failure(
        &env.aws(&["sts", "get-caller-identity"], &key_vars(&user))
            .await,
    );
    assert!(err.contains("Signature not yet current: "), "{err}");
    running.state.clock().set_offset_seconds(0);

    // No secret reached the journal.
    let json = serde_json::to_string(&running.state.journal().snapshot(0)).unwrap();
    assert!(!json.contains(&web.secret) && !json.contains(web.token.as_deref().unwrap()));
    assert!(!json.contains(grant.authorization_token.expose()));

    running.shutdown().await.unwrap();
}

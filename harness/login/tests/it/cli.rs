//! Flag parsing, validation messages and their order, exit codes (spec consul-aws-iam §1.6).

use iamconform_login::MapEnv;

use crate::support::*;

const SINK: &str = "/nonexistent-iamconform-sink";

/// (arguments, expected stderr first line). Every case fails before any network call.
const VALIDATION: &[(&[&str], &str)] = &[
    // Non-flag arguments are checked before -method.
    (&["extra"], "Should have no non-flag arguments."),
    (
        &["-method", "m", "extra"],
        "Should have no non-flag arguments.",
    ),
    (&[], "Missing required '-method' flag"),
    (&["-method="], "Missing required '-method' flag"),
    (
        &["-method", "m"],
        "Missing required '-token-sink-file' flag",
    ),
    (
        &["-token-sink-file", SINK],
        "Missing required '-method' flag",
    ),
    (
        &["-method", "m", "-token-sink-file", SINK],
        "Missing required '-bearer-token-file' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-include-entity",
        ],
        "Missing '-aws-auto-bearer-token' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-sts-endpoint",
            "x",
        ],
        "Missing '-aws-auto-bearer-token' flag",
    ),
    (
        &["-method", "m", "-token-sink-file", SINK, "-aws-region", "x"],
        "Missing '-aws-auto-bearer-token' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-server-id-header-value",
            "x",
        ],
        "Missing '-aws-auto-bearer-token' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-access-key-id",
            "x",
        ],
        "Missing '-aws-auto-bearer-token' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-secret-access-key",
            "x",
        ],
        "Missing '-aws-auto-bearer-token' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-session-token",
            "x",
        ],
        "Missing '-aws-auto-bearer-token' flag",
    ),
    // -aws-iam-endpoint is not in the checked list (newest CLI).
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-iam-endpoint",
            "x",
        ],
        "Missing required '-bearer-token-file' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-auto-bearer-token",
            "-aws-access-key-id",
            "a",
        ],
        "Missing '-aws-secret-access-key' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "--aws-auto-bearer-token",
            "-aws-secret-access-key=s",
        ],
        "Missing '-aws-access-key-id' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-auto-bearer-token",
            "-aws-session-token",
            "t",
        ],
        "Missing '-aws-access-key-id' and '-aws-secret-access-key' flags",
    ),
    // Key id without secret is reported before the session-token check.
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-auto-bearer-token",
            "-aws-access-key-id",
            "a",
            "-aws-session-token",
            "t",
        ],
        "Missing '-aws-secret-access-key' flag",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-auto-bearer-token",
            "-bearer-token-file",
            "f",
        ],
        "Cannot use '-bearer-token-file' flag with '-aws-auto-bearer-token'",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-auto-bearer-token",
        ],
        "Error with aws-iam auth method: AWS region not found",
    ),
    (
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-bearer-token-file",
            "/nonexistent-iamconform-bt",
        ],
        "open /nonexistent-iamconform-bt: no such file or directory",
    ),
    (&["-nope"], "flag provided but not defined: -nope"),
    (&["-method"], "flag needs an argument: -method"),
    (
        &["-aws-include-entity=yes"],
        "invalid boolean value \"yes\" for -aws-include-entity: parse error",
    ),
    (
        &["-meta", "novalue"],
        "invalid value \"novalue\" for flag -meta: Missing \"=\" value in argument: novalue",
    ),
];

#[tokio::test]
async fn validation_messages_and_order_match_consul_login() {
    let env = MapEnv::new();
    for (argv, want) in VALIDATION {
        let o = login(argv, &env).await;
        assert_eq!(o.code, 1, "{argv:?}: {}", o.stderr);
        assert_eq!(o.stderr.lines().next(), Some(*want), "{argv:?}");
        assert_eq!(o.stdout, "", "{argv:?}");
    }
}

#[tokio::test]
async fn missing_credentials_come_after_the_region() {
    let env = MapEnv::new().with("AWS_REGION", "us-east-1");
    let o = login(
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-aws-auto-bearer-token",
        ],
        &env,
    )
    .await;
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.starts_with(
            "Error with aws-iam auth method: AWS credentials not found: no credentials in flags"
        ),
        "{}",
        o.stderr
    );
}

#[tokio::test]
async fn empty_bearer_token_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bt");
    std::fs::write(&f, " \n").unwrap();
    let o = login(
        &[
            "-method",
            "m",
            "-token-sink-file",
            SINK,
            "-bearer-token-file",
            f.to_str().unwrap(),
        ],
        &MapEnv::new(),
    )
    .await;
    assert_eq!(
        o.stderr,
        format!("No bearer token found in {}\n", f.display())
    );
}

#[tokio::test]
async fn help_prints_usage_and_succeeds() {
    let o = login(&["-h"], &MapEnv::new()).await;
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("Usage: iamconform login [options]"));
    assert!(o.stdout.contains("-aws-include-entity"));
}

#[tokio::test]
async fn unknown_mutant_exits_2_with_the_list() {
    let env = MapEnv::new().with("IAMCONFORM_MUTANT", "bogus");
    for o in [
        login(&["-method", "m"], &env).await,
        logout(&[], &env).await,
    ] {
        assert_eq!(o.code, 2);
        assert!(
            o.stderr
                .starts_with("unknown IAMCONFORM_MUTANT \"bogus\"; known mutants: ")
        );
        assert!(o.stderr.contains("server-id-omitted"));
    }
}

#[tokio::test]
async fn refused_consul_address_is_a_login_error() {
    let dir = tempfile::tempdir().unwrap();
    let bt = dir.path().join("bt");
    std::fs::write(&bt, "tok").unwrap();
    let sink = dir.path().join("sink");
    let o = login(
        &[
            "-method",
            "m",
            "-token-sink-file",
            sink.to_str().unwrap(),
            "-bearer-token-file",
            bt.to_str().unwrap(),
            "-http-addr",
            "10.1.2.3:8500",
        ],
        &MapEnv::new(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.starts_with(
            "Error logging in: Post \"http://10.1.2.3:8500/v1/acl/login\": refusing to contact non-loopback host 10.1.2.3"
        ),
        "{}",
        o.stderr
    );
    assert!(!sink.exists());
}

#[tokio::test]
async fn run_login_works_inside_a_runtime() {
    // The thread hop keeps block_on from panicking inside a tokio runtime.
    assert_eq!(iamconform_login::run_login(args(&["-h"])), 0);
}

#[test]
fn sync_entry_points_take_an_injected_environment() {
    let env = MapEnv::new().with("IAMCONFORM_MUTANT", "nope");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        iamconform_login::run_logout_with(&[], &env, &mut out, &mut err),
        2
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        iamconform_login::run_login_with(
            &args(&["-method", "m"]),
            &MapEnv::new(),
            &mut out,
            &mut err
        ),
        1
    );
    assert_eq!(
        String::from_utf8(err).unwrap(),
        "Missing required '-token-sink-file' flag\n"
    );
}

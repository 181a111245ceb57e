//! The shipped client adapters.
//!
//! - `reference`: iamconform's own client (`iamconform login` / `iamconform logout`), run as a
//!   subprocess so the process boundary (flags, environment, token sink file) is exercised.
//! - `consul-cli`: a real `consul` binary on PATH (`consul login -type aws-iam …`).
//!
//! Both take `consul login`'s flags, so they share one template.

use super::{ClientSpec, LoginTemplate, LogoutTemplate, TokenFrom};

/// Names of the presets.
pub const NAMES: &[&str] = &["reference", "consul-cli"];

/// The preset with this name.
pub fn preset(name: &str) -> Option<ClientSpec> {
    let (program, prefix): (&str, &[&str]) = match name {
        "reference" => ("{exe}", &[]),
        "consul-cli" => ("consul", &[]),
        _ => return None,
    };
    let mut login = vec![program.to_string()];
    login.extend(prefix.iter().map(|s| s.to_string()));
    login.extend(
        [
            "login",
            "-type=aws-iam",
            "-method={method}",
            "-http-addr={http_addr}",
            "-token-sink-file={token_file}",
            "-aws-auto-bearer-token",
        ]
        .map(String::from),
    );
    let mut logout = vec![program.to_string()];
    logout.extend(prefix.iter().map(|s| s.to_string()));
    logout.extend(
        [
            "logout",
            "-http-addr={http_addr}",
            "-token-file={token_file}",
        ]
        .map(String::from),
    );
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Some(ClientSpec {
        name: name.to_string(),
        login: LoginTemplate {
            argv: login,
            token_from: TokenFrom::SinkFile,
            include_entity: s(&["-aws-include-entity"]),
            server_id: s(&["-aws-server-id-header-value={server_id}"]),
            region: s(&["-aws-region={region}"]),
            sts_endpoint: s(&["-aws-sts-endpoint={sts_endpoint}"]),
            iam_endpoint: s(&["-aws-iam-endpoint={iam_endpoint}"]),
            meta: s(&["-meta={key}={value}"]),
            static_credentials: s(&[
                "-aws-access-key-id={access_key_id}",
                "-aws-secret-access-key={secret_access_key}",
            ]),
            session_token: s(&["-aws-session-token={session_token}"]),
            namespace: s(&["-namespace={namespace}"]),
            partition: s(&["-partition={partition}"]),
        },
        logout: LogoutTemplate { argv: logout },
        env: Default::default(),
        unsupported_exit_code: None,
    })
}

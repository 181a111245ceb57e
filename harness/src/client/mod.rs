//! Client adapters: how the harness runs the client under test.
//!
//! A client is data, not code: argv templates for login and logout, optional argument groups
//! that are added only when a scenario sets the value, and where the token comes back (a sink
//! file or stdout). Two presets ship (`reference`, `consul-cli`); any other client is described
//! in a TOML file (see `docs/client-adapters.md`).
//!
//! Placeholders (`{name}`) in templates:
//! `{method}`, `{http_addr}`, `{token_file}` (where the client must write the SecretID, or where
//! the harness writes it for logout), `{region}`, `{server_id}`, `{sts_endpoint}`,
//! `{iam_endpoint}`, `{key}`/`{value}` (inside the `meta` group), `{access_key_id}`,
//! `{secret_access_key}`, `{session_token}` (inside the `static_credentials`/`session_token`
//! groups), `{namespace}`, `{partition}`, `{exe}` (the running iamconform binary).

pub mod presets;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Where the client leaves the SecretID after a successful login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenFrom {
    /// The file given as `{token_file}` (like `consul login -token-sink-file`).
    SinkFile,
    /// The last non-empty line of stdout.
    Stdout,
}

/// A client adapter, as read from TOML or taken from a preset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Name shown in reports.
    pub name: String,
    /// The login command.
    pub login: LoginTemplate,
    /// The logout command.
    pub logout: LogoutTemplate,
    /// Extra environment for both commands.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// An exit code meaning "this client does not support what the step asks": the scenario is
    /// skipped with the client's stderr as the reason instead of failing.
    #[serde(default)]
    pub unsupported_exit_code: Option<i32>,
}

/// The login command template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginTemplate {
    /// Always-present arguments; the first is the program.
    pub argv: Vec<String>,
    /// Where the SecretID comes back.
    #[serde(default = "default_token_from")]
    pub token_from: TokenFrom,
    /// Added when the scenario asks for the IAM entity to be included.
    #[serde(default)]
    pub include_entity: Vec<String>,
    /// Added when a server-ID header value is set.
    #[serde(default)]
    pub server_id: Vec<String>,
    /// Added when a region is set.
    #[serde(default)]
    pub region: Vec<String>,
    /// Added when the STS endpoint is overridden.
    #[serde(default)]
    pub sts_endpoint: Vec<String>,
    /// Added when the IAM endpoint is overridden.
    #[serde(default)]
    pub iam_endpoint: Vec<String>,
    /// Repeated for each meta entry (`{key}`, `{value}`).
    #[serde(default)]
    pub meta: Vec<String>,
    /// Added when credentials are passed as flags (`{access_key_id}`, `{secret_access_key}`).
    #[serde(default)]
    pub static_credentials: Vec<String>,
    /// Added when credentials are passed as flags and include a session token.
    #[serde(default)]
    pub session_token: Vec<String>,
    /// Added when a namespace is set.
    #[serde(default)]
    pub namespace: Vec<String>,
    /// Added when a partition is set.
    #[serde(default)]
    pub partition: Vec<String>,
}

fn default_token_from() -> TokenFrom {
    TokenFrom::SinkFile
}

/// The logout command template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutTemplate {
    /// Always-present arguments; `{token_file}` holds the SecretID to log out.
    pub argv: Vec<String>,
}

/// Errors in a client adapter file.
#[derive(Debug, thiserror::Error)]
pub enum ClientSpecError {
    /// The file could not be read.
    #[error("cannot read client adapter {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is invalid.
    #[error("invalid client adapter {path}: {message}")]
    Parse {
        /// Path.
        path: String,
        /// The TOML parser's message (with line and column).
        message: String,
    },
    /// A template names a placeholder that does not exist.
    #[error(
        "invalid client adapter {path}: unknown placeholder {{{placeholder}}} in {field}; \
         known placeholders: {known}"
    )]
    Placeholder {
        /// Path.
        path: String,
        /// Which template.
        field: &'static str,
        /// The unknown name.
        placeholder: String,
        /// The valid names.
        known: String,
    },
    /// `argv` is empty.
    #[error("invalid client adapter {path}: {field}.argv must name a program")]
    EmptyArgv {
        /// Path.
        path: String,
        /// Which template.
        field: &'static str,
    },
}

const PLACEHOLDERS: &[&str] = &[
    "exe",
    "method",
    "http_addr",
    "token_file",
    "region",
    "server_id",
    "sts_endpoint",
    "iam_endpoint",
    "key",
    "value",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "namespace",
    "partition",
];

impl ClientSpec {
    /// Reads and checks a TOML adapter file.
    pub fn from_file(path: &Path) -> Result<ClientSpec, ClientSpecError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ClientSpecError::Read {
            path: p.clone(),
            source,
        })?;
        Self::from_toml(&p, &text)
    }

    /// Parses and checks TOML text.
    pub fn from_toml(path: &str, text: &str) -> Result<ClientSpec, ClientSpecError> {
        let spec: ClientSpec = toml::from_str(text).map_err(|e| ClientSpecError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        spec.check(path)?;
        Ok(spec)
    }

    fn check(&self, path: &str) -> Result<(), ClientSpecError> {
        if self.login.argv.is_empty() {
            return Err(ClientSpecError::EmptyArgv {
                path: path.into(),
                field: "login",
            });
        }
        if self.logout.argv.is_empty() {
            return Err(ClientSpecError::EmptyArgv {
                path: path.into(),
                field: "logout",
            });
        }
        let l = &self.login;
        let groups: [(&'static str, &Vec<String>); 12] = [
            ("login.argv", &l.argv),
            ("login.include_entity", &l.include_entity),
            ("login.server_id", &l.server_id),
            ("login.region", &l.region),
            ("login.sts_endpoint", &l.sts_endpoint),
            ("login.iam_endpoint", &l.iam_endpoint),
            ("login.meta", &l.meta),
            ("login.static_credentials", &l.static_credentials),
            ("login.session_token", &l.session_token),
            ("login.namespace", &l.namespace),
            ("login.partition", &l.partition),
            ("logout.argv", &self.logout.argv),
        ];
        for (field, args) in groups {
            for arg in args {
                for name in placeholders(arg) {
                    if !PLACEHOLDERS.contains(&name) {
                        return Err(ClientSpecError::Placeholder {
                            path: path.into(),
                            field,
                            placeholder: name.to_string(),
                            known: PLACEHOLDERS.join(", "),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// The placeholder names used in one template argument.
fn placeholders(arg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// Substitutes `{name}` placeholders; unknown names were rejected when the spec was loaded.
pub fn render_arg(arg: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Renders a group of template arguments.
pub fn render_group(group: &[String], values: &BTreeMap<&str, String>) -> Vec<String> {
    group.iter().map(|a| render_arg(a, values)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders() {
        let mut v = BTreeMap::new();
        v.insert("method", "m1".to_string());
        v.insert("key", "a".to_string());
        v.insert("value", "b=c".to_string());
        assert_eq!(render_arg("-method={method}", &v), "-method=m1");
        assert_eq!(render_arg("{key}={value}", &v), "a=b=c");
        assert_eq!(render_arg("plain", &v), "plain");
        assert_eq!(render_arg("{unset}", &v), "{unset}");
        assert_eq!(render_arg("open{", &v), "open{");
    }

    #[test]
    fn toml_adapter_is_checked() {
        let ok = r#"
name = "my-client"
[login]
argv = ["my-client", "login", "--method", "{method}", "--addr", "{http_addr}", "--out", "{token_file}"]
include_entity = ["--include-entity"]
meta = ["--meta", "{key}={value}"]
[logout]
argv = ["my-client", "logout", "--token-file", "{token_file}"]
"#;
        let spec = ClientSpec::from_toml("c.toml", ok).unwrap();
        assert_eq!(spec.login.token_from, TokenFrom::SinkFile);
        assert_eq!(spec.login.meta, ["--meta", "{key}={value}"]);

        let bad = ok.replace("{method}", "{methd}");
        let err = ClientSpec::from_toml("c.toml", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown placeholder {methd} in login.argv"),
            "{err}"
        );

        let unknown_key = format!("{ok}\nextra = 1\n");
        let err = ClientSpec::from_toml("c.toml", &unknown_key)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn presets_are_valid() {
        for name in presets::NAMES {
            let spec = presets::preset(name).unwrap();
            spec.check(name).unwrap();
        }
    }
}

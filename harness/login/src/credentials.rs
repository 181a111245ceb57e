//! AWS credentials: the flags, then the AWS SDK default chain.
//!
//! Order (aws-sdk-go-v2 `config.LoadDefaultConfig`, which the newest `consul login` uses):
//! 1. static credentials from `-aws-access-key-id`/`-aws-secret-access-key`/`-aws-session-token`;
//! 2. environment `AWS_ACCESS_KEY_ID` (or `AWS_ACCESS_KEY`) + `AWS_SECRET_ACCESS_KEY` (or
//!    `AWS_SECRET_KEY`) + optional `AWS_SESSION_TOKEN`;
//! 3. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`), then the
//!    shared config file (`AWS_CONFIG_FILE` or `~/.aws/config`), profile `AWS_PROFILE` or `default`;
//! 4. the ECS container endpoint (spec aws-sts-iam-sigv4 §4.1).
//!
//! EC2 instance metadata is never consulted: it lives on a link-local address and the client
//! only talks to loopback. Secrets are held in [`Secret`] from the moment they are read.

use std::path::{Path, PathBuf};

use iamconform_secret::Secret;

use crate::Env;
use crate::transport::{Network, TransportError};

/// Largest shared credentials/config file or token file read.
const MAX_FILE: u64 = 1024 * 1024;
/// The fixed host of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
pub const ECS_CONTAINER_HOST: &str = "http://169.254.170.2";

/// A set of AWS credentials.
#[derive(Clone, Debug)]
pub struct AwsCredentials {
    /// The access key ID (not a secret; it appears in the `Authorization` header).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret<String>>,
    /// Where the credentials came from.
    pub source: CredentialSource,
}

/// Where credentials came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The `-aws-*` flags.
    Flags,
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// A shared credentials or config file.
    SharedFile {
        /// The file.
        path: PathBuf,
        /// The profile.
        profile: String,
    },
    /// The ECS container credentials endpoint.
    Container {
        /// The URL fetched.
        url: String,
    },
}

impl AwsCredentials {
    /// Credentials given directly (the `-aws-*` flags).
    pub fn from_flags(
        access_key_id: &str,
        secret_access_key: Secret<String>,
        session_token: Option<Secret<String>>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key,
            session_token: session_token.filter(|t| !t.expose().is_empty()),
            source: CredentialSource::Flags,
        }
    }
}

/// Why no credentials could be found or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// `AWS_PROFILE` names a profile found in neither shared file.
    #[error("failed to get shared config profile, {0}")]
    ProfileNotFound(String),
    /// A shared file could not be read.
    #[error("failed to load shared config file, {path}, {reason}")]
    SharedFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The container endpoint was configured but could not be used.
    #[error("failed to load credentials from the container endpoint {url}: {reason}")]
    Container {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// No source had credentials.
    #[error(
        "no credentials in flags, environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), shared files (profile {profile:?}) or container endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI); EC2 instance metadata is not consulted"
    )]
    NotFound {
        /// The profile looked up.
        profile: String,
    },
}

/// What the shared files say about one profile.
#[derive(Clone, Debug, Default)]
pub struct SharedProfile {
    /// The profile name.
    pub profile: String,
    /// `region` from the config file (or the credentials file).
    pub region: Option<String>,
    credentials: Option<AwsCredentials>,
}

/// Loads the shared files for the selected profile. An explicitly selected profile that
/// neither file has is an error, as in the Go SDK; missing files are not.
pub fn load_shared_profile(env: &dyn Env) -> Result<SharedProfile, CredentialsError> {
    let explicit = env.non_empty("AWS_PROFILE");
    let profile = explicit.clone().unwrap_or_else(|| "default".to_owned());
    let home = env.non_empty("HOME").map(PathBuf::from);
    let cred_path = env
        .non_empty("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws").join("credentials")));
    let config_path = env
        .non_empty("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws").join("config")));

    let mut out = SharedProfile {
        profile: profile.clone(),
        ..SharedProfile::default()
    };
    let mut found = false;
    // The credentials file wins over the config file for the same keys.
    if let Some(path) = &cred_path
        && let Some(section) = read_section(path, &profile, false)?
    {
        found = true;
        out.credentials = credentials_from_section(&section, path, &profile);
        out.region = lookup(&section, "region");
    }
    if let Some(path) = &config_path
        && let Some(section) = read_section(path, &profile, true)?
    {
        found = true;
        if out.credentials.is_none() {
            out.credentials = credentials_from_section(&section, path, &profile);
        }
        if let Some(r) = lookup(&section, "region") {
            out.region = Some(r);
        }
    }
    if !found && explicit.is_some() {
        return Err(CredentialsError::ProfileNotFound(profile));
    }
    Ok(out)
}

type Section = Vec<(String, String)>;

fn lookup(section: &Section, key: &str) -> Option<String> {
    section
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

fn credentials_from_section(
    section: &Section,
    path: &Path,
    profile: &str,
) -> Option<AwsCredentials> {
    let akid = lookup(section, "aws_access_key_id")?;
    let secret = lookup(section, "aws_secret_access_key")?;
    Some(AwsCredentials {
        access_key_id: akid,
        secret_access_key: Secret::new(secret),
        session_token: lookup(section, "aws_session_token").map(Secret::new),
        source: CredentialSource::SharedFile {
            path: path.to_owned(),
            profile: profile.to_owned(),
        },
    })
}

fn read_bounded(path: &Path) -> Result<Option<String>, CredentialsError> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CredentialsError::SharedFile {
                path: path.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    let mut text = String::new();
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| CredentialsError::SharedFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(Some(text))
}

/// Reads `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, bounded, with Go-style errors.
fn read_token_file(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).map_err(|e| crate::sink::go_path_error("open", path, &e))?;
    let mut text = String::new();
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| crate::sink::go_path_error("read", path, &e))?;
    Ok(text)
}

/// The key/value lines of `[profile]` (credentials file) or `[profile name]`/`[default]`
/// (config file).
fn read_section(
    path: &Path,
    profile: &str,
    config_file: bool,
) -> Result<Option<Section>, CredentialsError> {
    let Some(text) = read_bounded(path)? else {
        return Ok(None);
    };
    Ok(parse_ini_section(&text, profile, config_file))
}

fn parse_ini_section(text: &str, profile: &str, config_file: bool) -> Option<Section> {
    let mut current: Option<bool> = None;
    let mut section: Option<Section> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            let name = if config_file && name != "default" {
                name.strip_prefix("profile")
                    .filter(|rest| rest.starts_with([' ', '\t']))
                    .map(str::trim)
                    .unwrap_or("\u{0}")
            } else {
                name
            };
            let hit = name == profile;
            if hit && section.is_none() {
                section = Some(Vec::new());
            }
            current = Some(hit);
            continue;
        }
        if current == Some(true)
            && let (Some(sec), Some((k, v))) = (section.as_mut(), line.split_once('='))
        {
            sec.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    section
}

/// Resolves credentials: flags, environment, shared profile, container endpoint.
pub async fn resolve_credentials(
    flags: Option<AwsCredentials>,
    shared: &SharedProfile,
    env: &dyn Env,
    network: &Network,
) -> Result<AwsCredentials, CredentialsError> {
    if let Some(c) = flags {
        return Ok(c);
    }
    let akid = env
        .non_empty("AWS_ACCESS_KEY_ID")
        .or_else(|| env.non_empty("AWS_ACCESS_KEY"));
    let secret = env
        .non_empty("AWS_SECRET_ACCESS_KEY")
        .or_else(|| env.non_empty("AWS_SECRET_KEY"));
    if let (Some(akid), Some(secret)) = (akid, secret) {
        return Ok(AwsCredentials {
            access_key_id: akid,
            secret_access_key: Secret::new(secret),
            session_token: env.non_empty("AWS_SESSION_TOKEN").map(Secret::new),
            source: CredentialSource::Environment,
        });
    }
    if let Some(c) = &shared.credentials {
        return Ok(c.clone());
    }
    if let Some(c) = container_credentials(env, network).await? {
        return Ok(c);
    }
    Err(CredentialsError::NotFound {
        profile: shared.profile.clone(),
    })
}

/// Fetches credentials from the ECS container endpoint when configured.
///
/// UNVERIFIED: which of RELATIVE_URI and FULL_URI wins when both are set differs between SDKs
/// (botocore and the Rust SDK: RELATIVE first; older aws-sdk-go-v2: FULL first). We follow
/// botocore; the relative form points at 169.254.170.2 and is refused anyway, so harnesses set
/// only FULL_URI (spec aws-sts-iam-sigv4 §4.1).
async fn container_credentials(
    env: &dyn Env,
    network: &Network,
) -> Result<Option<AwsCredentials>, CredentialsError> {
    let url = if let Some(rel) = env.non_empty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("{ECS_CONTAINER_HOST}{rel}")
    } else if let Some(full) = env.non_empty("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        full
    } else {
        return Ok(None);
    };
    let fail = |reason: String| CredentialsError::Container {
        url: url.clone(),
        reason,
    };
    let token = if let Some(path) = env.non_empty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        // UNVERIFIED: surrounding whitespace (a trailing newline) is trimmed from the file.
        let text = read_token_file(Path::new(&path)).map_err(fail)?;
        Some(text.trim().to_owned())
    } else {
        env.non_empty("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    };
    if token.as_deref().is_some_and(|t| t.contains(['\r', '\n'])) {
        return Err(fail("authorization token contains a line break".to_owned()));
    }
    let token = token.map(Secret::new);
    let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
    if let Some(t) = &token {
        headers.push(("Authorization".to_owned(), t.expose().clone()));
    }
    let response = network
        .send("GET", &url, &headers, Vec::new())
        .await
        .map_err(|e: TransportError| fail(e.to_string()))?;
    if response.status != 200 {
        return Err(fail(format!(
            "status {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body).trim()
        )));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&response.body).map_err(|e| fail(format!("invalid JSON: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(fail("response is not a JSON object".to_owned()));
    };
    // Keys match case-insensitively, as in Go's encoding/json and the Rust SDK.
    let get = |keys: &[&str]| -> Option<String> {
        map.iter()
            .find(|(k, _)| keys.iter().any(|want| k.eq_ignore_ascii_case(want)))
            .and_then(|(_, v)| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let akid =
        get(&["AccessKeyId"]).ok_or_else(|| fail("response has no AccessKeyId".to_owned()))?;
    let secret = get(&["SecretAccessKey"])
        .ok_or_else(|| fail("response has no SecretAccessKey".to_owned()))?;
    Ok(Some(AwsCredentials {
        access_key_id: akid,
        secret_access_key: Secret::new(secret),
        session_token: get(&["Token", "SessionToken"]).map(Secret::new),
        source: CredentialSource::Container { url: url.clone() },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapEnv;

    #[test]
    fn ini_sections_follow_file_kind() {
        let creds = "[default]\naws_access_key_id = A\n[other]\naws_access_key_id=B\n";
        assert_eq!(
            parse_ini_section(creds, "other", false),
            Some(vec![("aws_access_key_id".to_owned(), "B".to_owned())])
        );
        let config = "[profile other]\nregion = eu-west-1\n[default]\nregion=us-east-2\n";
        assert_eq!(
            parse_ini_section(config, "other", true),
            Some(vec![("region".to_owned(), "eu-west-1".to_owned())])
        );
        assert_eq!(parse_ini_section(config, "nope", true), None);
        // In the config file a bare [other] is not a profile section.
        assert_eq!(
            parse_ini_section("[other]\nregion=x\n", "other", true),
            None
        );
    }

    #[tokio::test]
    async fn flags_win_over_everything() {
        let env = MapEnv::new()
            .with("AWS_ACCESS_KEY_ID", "ENV")
            .with("AWS_SECRET_ACCESS_KEY", "s");
        let flags = AwsCredentials::from_flags("FLAG", Secret::new("x".to_owned()), None);
        let c = resolve_credentials(
            Some(flags),
            &SharedProfile::default(),
            &env,
            &Network::default(),
        )
        .await
        .unwrap();
        assert_eq!(c.access_key_id, "FLAG");
        assert_eq!(c.source, CredentialSource::Flags);
    }

    #[tokio::test]
    async fn environment_needs_both_keys() {
        let env = MapEnv::new().with("AWS_ACCESS_KEY_ID", "ENV");
        let err = resolve_credentials(None, &SharedProfile::default(), &env, &Network::default())
            .await
            .unwrap_err();
        assert!(matches!(err, CredentialsError::NotFound { .. }));
        let env = env
            .with("AWS_SECRET_ACCESS_KEY", "s")
            .with("AWS_SESSION_TOKEN", "t");
        let c = resolve_credentials(None, &SharedProfile::default(), &env, &Network::default())
            .await
            .unwrap();
        assert_eq!(c.access_key_id, "ENV");
        assert_eq!(c.session_token.unwrap().expose(), "t");
        assert_eq!(c.source, CredentialSource::Environment);
    }

    #[tokio::test]
    async fn shared_files_supply_credentials_and_region() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id=D\naws_secret_access_key=ds\n[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = cs\naws_session_token = tok\n",
        )
        .unwrap();
        std::fs::write(&config, "[profile ci]\nregion = eu-west-3\n").unwrap();
        let env = MapEnv::new()
            .with("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap())
            .with("AWS_CONFIG_FILE", config.to_str().unwrap())
            .with("AWS_PROFILE", "ci");
        let shared = load_shared_profile(&env).unwrap();
        assert_eq!(shared.region.as_deref(), Some("eu-west-3"));
        let c = resolve_credentials(None, &shared, &env, &Network::default())
            .await
            .unwrap();
        assert_eq!(c.access_key_id, "AKIACI");
        assert_eq!(c.session_token.unwrap().expose(), "tok");
        assert!(
            matches!(c.source, CredentialSource::SharedFile { ref profile, .. } if profile == "ci")
        );

        let env = env.with("AWS_PROFILE", "missing");
        assert_eq!(
            load_shared_profile(&env).unwrap_err().to_string(),
            "failed to get shared config profile, missing"
        );
    }

    #[test]
    fn home_default_paths_are_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[default]\naws_access_key_id=H\naws_secret_access_key=hs\n",
        )
        .unwrap();
        let env = MapEnv::new().with("HOME", dir.path().to_str().unwrap());
        let shared = load_shared_profile(&env).unwrap();
        assert_eq!(shared.credentials.unwrap().access_key_id, "H");
    }

    #[tokio::test]
    async fn relative_container_uri_is_refused_without_contacting_it() {
        let env = MapEnv::new().with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
        let err = resolve_credentials(None, &SharedProfile::default(), &env, &Network::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("http://169.254.170.2/v2/creds"), "{err}");
        assert!(err.contains("non-loopback"), "{err}");
    }

    #[tokio::test]
    async fn https_full_uri_is_refused() {
        let env = MapEnv::new().with(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "https://creds.example.com/x",
        );
        let err = resolve_credentials(None, &SharedProfile::default(), &env, &Network::default())
            .await
            .unwrap_err();
        assert!(matches!(err, CredentialsError::Container { .. }));
    }
}

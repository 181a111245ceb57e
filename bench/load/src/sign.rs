//! Pre-signed request pools, signed with aws-sigv4 (an independent signer) before timing.

use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use iamconform_aws::IdentityStore;
use iamconform_sigv4::CredentialLookup;

use crate::wire::RawRequest;

/// The `web` service's task-role session: allowed `iam:GetRole`.
pub(crate) const WEB_TASK_KEY: &str = "ASIAEXAMPLEWEBTASK01";
/// The role it belongs to.
pub(crate) const WEB_TASK_ROLE: &str = "web-task";
/// Its path.
pub(crate) const WEB_TASK_PATH: &str = "/consul-ecs/";

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// GetCallerIdentity, as the Go SDK sends it.
pub(crate) const GCI_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// GetRole of the web task role.
pub(crate) const GET_ROLE_BODY: &str = "Action=GetRole&RoleName=web-task&Version=2010-05-08";

/// A fixture credential of the shipped identity store.
#[derive(Clone)]
pub(crate) struct Creds {
    pub(crate) akid: String,
    pub(crate) secret: iamconform_secret::Secret<String>,
    pub(crate) token: Option<iamconform_secret::Secret<String>>,
}

/// The shipped credentials of `akid`.
pub(crate) fn fixture_creds(akid: &str) -> Result<Creds> {
    let store = IdentityStore::shipped().map_err(|e| anyhow!("shipped fixtures: {e}"))?;
    let rec = store
        .lookup(akid)
        .with_context(|| format!("{akid} is not in the shipped fixtures"))?;
    Ok(Creds {
        akid: akid.to_owned(),
        secret: rec.secret_access_key,
        token: rec.session_token,
    })
}

/// Which call a pool holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `sts:GetCallerIdentity`.
    GetCallerIdentity,
    /// `iam:GetRole` of the web task role.
    GetRole,
}

impl Call {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::GetCallerIdentity => "GetCallerIdentity",
            Self::GetRole => "GetRole",
        }
    }

    fn service(self) -> &'static str {
        match self {
            Self::GetCallerIdentity => "sts",
            Self::GetRole => "iam",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Self::GetCallerIdentity => GCI_BODY,
            Self::GetRole => GET_ROLE_BODY,
        }
    }
}

/// `n` distinct signed POSTs of `call` to `host` (signing times one second apart, all within
/// the 15-minute window), plus the corrupted-signature twin of the first.
pub(crate) fn pool(creds: &Creds, call: Call, host: &str, n: usize) -> Result<Vec<RawRequest>> {
    let now = SystemTime::now();
    (0..n)
        .map(|i| {
            let t = now
                .checked_sub(Duration::from_secs(i as u64 % 300))
                .unwrap_or(now);
            signed_post(creds, call.service(), host, call.body(), t)
        })
        .collect()
}

/// A signed POST of `call` whose signature's last hex digit is changed.
pub(crate) fn bad_signature(creds: &Creds, call: Call, host: &str) -> Result<RawRequest> {
    let good = signed_headers(creds, call.service(), host, call.body(), SystemTime::now())?;
    let headers = good
        .into_iter()
        .map(|(n, v)| {
            if n.eq_ignore_ascii_case("authorization") {
                let mut v = v;
                let last = if v.ends_with('0') { '1' } else { '0' };
                v.pop();
                v.push(last);
                (n, v)
            } else {
                (n, v)
            }
        })
        .collect::<Vec<_>>();
    Ok(RawRequest::new(
        "POST",
        "/",
        &headers,
        call.body().as_bytes(),
    ))
}

/// A signed POST of an arbitrary Query-protocol `body` (e.g. moto's CreateRole).
pub(crate) fn signed_post(
    creds: &Creds,
    service: &str,
    host: &str,
    body: &str,
    time: SystemTime,
) -> Result<RawRequest> {
    let headers = signed_headers(creds, service, host, body, time)?;
    Ok(RawRequest::new("POST", "/", &headers, body.as_bytes()))
}

pub(crate) fn signed_headers(
    creds: &Creds,
    service: &str,
    host: &str,
    body: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>> {
    let mut headers = vec![
        ("Host".to_owned(), host.to_owned()),
        ("Content-Type".to_owned(), FORM.to_owned()),
    ];
    let identity: Identity = Credentials::new(
        &creds.akid,
        creds.secret.expose(),
        creds.token.as_ref().map(|t| t.expose().clone()),
        None,
        "loadbench",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| anyhow!("signing params: {e}"))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        format!("http://{host}/"),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| anyhow!("signable request: {e}"))?;
    let (instructions, _sig) = sign(signable, &params)
        .map_err(|e| anyhow!("signing: {e}"))?
        .into_parts();
    let (added, _params) = instructions.into_parts();
    for h in added {
        headers.push((h.name().to_owned(), h.value().to_owned()));
    }
    Ok(headers)
}

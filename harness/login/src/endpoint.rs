//! Region and endpoint resolution (spec consul-aws-iam §1.5).
//!
//! Region: `-aws-region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `region` of the
//! shared profile; none → `AWS region not found`.
//!
//! STS: `-aws-sts-endpoint`, else `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else
//! `https://sts.<region>.amazonaws.com` (regional, as aws-sdk-go-v2 resolves it), signed for the
//! client region.
//!
//! IAM: `-aws-iam-endpoint`, else `AWS_ENDPOINT_URL_IAM`, else `AWS_ENDPOINT_URL`, else the global
//! `https://iam.amazonaws.com`. The global endpoint is signed for `us-east-1` (visible in the v1
//! test vector `Credential=…/us-east-1/iam/aws4_request`, and what the SDK endpoint rules say
//! for the `aws` partition); a custom endpoint is signed for the client region, because
//! aws-sdk-go-v2 with a `BaseEndpoint` keeps the configured region as the signing region.
//!
//! The request URL is the endpoint with `/` appended when its path does not end in `/`
//! (`http://127.0.0.1:P/sts` → `http://127.0.0.1:P/sts/`), as in the v1 test vectors.
//! UNVERIFIED for aws-sdk-go-v2, whose path join may drop the trailing slash; the server
//! forwards to its own endpoint plus this path, so both forms work against Consul.

use crate::Env;
use crate::transport::{TransportError, parse_url};

/// The region for signing the global IAM endpoint.
pub const GLOBAL_IAM_REGION: &str = "us-east-1";
/// The global IAM endpoint.
pub const GLOBAL_IAM_ENDPOINT: &str = "https://iam.amazonaws.com";

/// A resolved endpoint: the request URL and the region to sign for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The absolute request URL (path ends in `/`).
    pub url: String,
    /// The SigV4 credential-scope region.
    pub signing_region: String,
}

/// The region, or `None` when no source has one.
pub fn resolve_region(flag: Option<&str>, env: &dyn Env, shared: Option<&str>) -> Option<String> {
    flag.filter(|r| !r.is_empty())
        .map(str::to_owned)
        .or_else(|| env.non_empty("AWS_REGION"))
        .or_else(|| env.non_empty("AWS_DEFAULT_REGION"))
        .or_else(|| shared.filter(|r| !r.is_empty()).map(str::to_owned))
}

/// The STS endpoint override, if any (flag, then environment).
pub fn sts_override(flag: Option<&str>, env: &dyn Env) -> Option<String> {
    flag.filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| env.non_empty("AWS_ENDPOINT_URL_STS"))
        .or_else(|| env.non_empty("AWS_ENDPOINT_URL"))
}

/// The IAM endpoint override, if any (flag, then environment).
pub fn iam_override(flag: Option<&str>, env: &dyn Env) -> Option<String> {
    flag.filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| env.non_empty("AWS_ENDPOINT_URL_IAM"))
        .or_else(|| env.non_empty("AWS_ENDPOINT_URL"))
}

/// The STS endpoint for `region`, honouring an override.
pub fn sts_endpoint(over: Option<&str>, region: &str) -> Result<Endpoint, TransportError> {
    let base = match over {
        Some(o) => o.to_owned(),
        None => format!("https://sts.{region}.amazonaws.com"),
    };
    Ok(Endpoint {
        url: request_url(&base)?,
        signing_region: region.to_owned(),
    })
}

/// The IAM endpoint, honouring an override.
pub fn iam_endpoint(over: Option<&str>, region: &str) -> Result<Endpoint, TransportError> {
    match over {
        Some(o) => Ok(Endpoint {
            url: request_url(o)?,
            signing_region: region.to_owned(),
        }),
        None => Ok(Endpoint {
            url: request_url(GLOBAL_IAM_ENDPOINT)?,
            signing_region: GLOBAL_IAM_REGION.to_owned(),
        }),
    }
}

fn request_url(base: &str) -> Result<String, TransportError> {
    let parts = parse_url(base)?;
    let (path, query) = match parts.path_and_query.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (parts.path_and_query.clone(), None),
    };
    if query.is_some() {
        return Err(TransportError::InvalidUrl {
            url: base.to_owned(),
            reason: "an endpoint must not carry a query string".to_owned(),
        });
    }
    let path = if path.ends_with('/') {
        path
    } else {
        format!("{path}/")
    };
    Ok(format!("{}://{}{}", parts.scheme, parts.authority, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapEnv;

    #[test]
    fn region_sources_in_order() {
        let env = MapEnv::new()
            .with("AWS_REGION", "r1")
            .with("AWS_DEFAULT_REGION", "r2");
        assert_eq!(
            resolve_region(Some("f"), &env, Some("s")).as_deref(),
            Some("f")
        );
        assert_eq!(resolve_region(Some(""), &env, None).as_deref(), Some("r1"));
        let env = MapEnv::new().with("AWS_DEFAULT_REGION", "r2");
        assert_eq!(resolve_region(None, &env, Some("s")).as_deref(), Some("r2"));
        assert_eq!(
            resolve_region(None, &MapEnv::new(), Some("s")).as_deref(),
            Some("s")
        );
        assert_eq!(resolve_region(None, &MapEnv::new(), None), None);
    }

    #[test]
    fn sts_defaults_to_the_regional_host() {
        assert_eq!(
            sts_endpoint(None, "eu-west-1").unwrap(),
            Endpoint {
                url: "https://sts.eu-west-1.amazonaws.com/".to_owned(),
                signing_region: "eu-west-1".to_owned()
            }
        );
    }

    #[test]
    fn overrides_get_a_trailing_slash() {
        let e = sts_endpoint(Some("http://127.0.0.1:63696/sts"), "us-east-1").unwrap();
        assert_eq!(e.url, "http://127.0.0.1:63696/sts/");
        let e = sts_endpoint(Some("http://127.0.0.1:1"), "us-east-1").unwrap();
        assert_eq!(e.url, "http://127.0.0.1:1/");
        assert!(sts_endpoint(Some("http://127.0.0.1:1/?a=b"), "r").is_err());
        assert!(sts_endpoint(Some("not a url"), "r").is_err());
    }

    #[test]
    fn iam_global_signs_us_east_1_and_custom_signs_client_region() {
        let g = iam_endpoint(None, "eu-west-1").unwrap();
        assert_eq!(g.url, "https://iam.amazonaws.com/");
        assert_eq!(g.signing_region, "us-east-1");
        let c = iam_endpoint(Some("http://127.0.0.1:9/iam"), "eu-west-1").unwrap();
        assert_eq!(c.url, "http://127.0.0.1:9/iam/");
        assert_eq!(c.signing_region, "eu-west-1");
    }

    #[test]
    fn env_overrides_follow_flags() {
        let env = MapEnv::new()
            .with("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
            .with("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2");
        assert_eq!(
            sts_override(Some("http://127.0.0.1:3"), &env).as_deref(),
            Some("http://127.0.0.1:3")
        );
        assert_eq!(
            sts_override(None, &env).as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            iam_override(None, &env).as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(iam_override(None, &MapEnv::new()), None);
    }
}

//! Deliberate client bugs, for testing the conformance suite itself.
//!
//! A conformance suite is only as good as the bugs it catches. Setting the hidden environment
//! variable `IAMCONFORM_MUTANT=<name>` makes the reference client commit exactly one realistic
//! mistake; running the suite against each mutant shows which scenario reports it. An unknown
//! name makes `iamconform login`/`logout` exit 2 and list the known names.
//!
//! The `server-id-*` mutants change nothing unless `-aws-server-id-header-value` is set, and
//! the `entity-*` mutants nothing without `-aws-include-entity`. The GetCallerIdentity call that
//! include-entity makes is always signed correctly: the bugs land in the token only.
//! The symptoms in the AWS column were observed by replaying each mutant's STS and IAM
//! requests against `iamconform-aws` (default configuration) the way Consul forwards them.
//!
//! | name | the bug | what a scenario should report |
//! | --- | --- | --- |
//! | `server-id-omitted` | no `X-Consul-Iam-Serverid` header on any request | login fails: missing server-id header (`ServerIDHeaderValue` set on the method) |
//! | `server-id-unsigned` | server-id header added after signing the STS request | login fails: server-id header is not in `SignedHeaders` |
//! | `server-id-wrong-value` | server-id value gets `-wrong` appended | login fails: server-id header value mismatch |
//! | `entity-headers-aws-spelling` | GetEntity headers spelled `X-Consul-IAM-GetEntity-*` in the header map | login fails: `missing header "X-Consul-IAM-GetEntity-Method"` |
//! | `entity-headers-lowercase` | GetEntity headers spelled `x-consul-iam-getentity-*` in the header map | login fails: missing GetEntity header |
//! | `entity-wrong-role-name` | GetRole asks for the last ARN segment (the session name for an assumed role) | IAM answers `NoSuchEntity` (or a different role): login fails |
//! | `entity-getuser-for-role` | GetUser (`UserName=<role>`) sent for a role | IAM `AccessDenied` (role lacks `iam:GetUser`) or `NoSuchEntity`: login fails |
//! | `entity-unsigned` | embedded IAM request carries no `Authorization`/`X-Amz-Date` | IAM `MissingAuthenticationToken`: login fails |
//! | `entity-server-id-missing` | server-id header not added to the embedded IAM request | login fails: server-id header missing on the IAM request |
//! | `session-token-dropped` | temporary credentials used without `X-Amz-Security-Token` | STS `InvalidClientTokenId`: login fails |
//! | `session-token-unsigned` | session token sent but not in `SignedHeaders` | visible only in the token's `SignedHeaders`: the AWS emulator (like AWS for STS, UNVERIFIED) accepts an unsigned token |
//! | `signing-region-wrong` | credential scope names another region (`us-west-2`, or `us-east-1` when the client region is `us-west-2`) | STS `SignatureDoesNotMatch` (credential scope region) where the endpoint enforces its region (emulator strict region mode); accepted by a lenient endpoint |
//! | `signing-service-wrong` | STS request signed for service `iam` | STS `SignatureDoesNotMatch` (credential scope service): login fails |
//! | `host-mismatch` | signed `host` differs from the URL host (`sts.amazonaws.com`, or `sts.us-east-1.amazonaws.com` when the URL already is the global host) | STS `SignatureDoesNotMatch`: login fails |
//! | `date-stale-16m` | signing time 16 minutes in the past | STS `SignatureDoesNotMatch` "Signature expired": login fails |
//! | `date-future-16m` | signing time 16 minutes in the future | STS `SignatureDoesNotMatch` "Signature not yet current": login fails |
//! | `body-action-misspelt` | STS body `Action=GetCallerIdentty&…` | Consul rejects the body (only `GetCallerIdentity` allowed); STS itself answers `InvalidAction`: login fails |
//! | `body-extra-field` | STS body carries `&DurationSeconds=900` | Consul rejects the body (unexpected parameter): login fails |
//! | `sts-url-query` | STS URL carries `?Action=GetCallerIdentity&Version=2011-06-15` | Consul rejects a query string in the URL: login fails |
//! | `method-get` | STS request method `GET` | Consul rejects a non-POST method: login fails |
//! | `base64url-encoding` | token fields base64url without padding instead of standard base64 | Consul cannot decode the token: login fails |
//! | `headers-json-not-base64` | `iam_request_headers` holds raw JSON instead of base64 | Consul cannot decode the token: login fails |
//! | `content-length-wrong` | `Content-Length` signed and sent as body length + 1 | STS `SignatureDoesNotMatch`: login fails |
//! | `wrong-secret` | requests signed with a corrupted secret key | STS `SignatureDoesNotMatch`: login fails |
//! | `wrong-auth-method` | login names the method with `-x` appended | Consul 403 `ACL not found: auth method "<m>-x" not found` |
//! | `meta-dropped` | `-meta` values not sent | token `Meta`/description lacks the metadata |
//! | `token-sink-trailing-newline` | sink file gets the SecretID plus `\n` | sink content differs from the SecretID |
//! | `logout-skipped` | logout exits 0 without calling Consul | token still exists after logout |
//! | `logout-skip-second` | the second logout call (counted in `IAMCONFORM_MUTANT_STATE_DIR`) exits 0 without calling Consul | the second of two tokens still exists; without the state dir nothing is skipped |
//! | `logout-wrong-token` | logout sends the SecretID with its last character changed | logout fails with 403 `ACL not found`; token still exists |

use std::fmt;

/// Environment variable that selects a mutant.
pub const MUTANT_ENV: &str = "IAMCONFORM_MUTANT";
/// Environment variable naming a directory where stateful mutants keep counters.
pub const MUTANT_STATE_DIR_ENV: &str = "IAMCONFORM_MUTANT_STATE_DIR";

macro_rules! mutants {
    ($( $variant:ident = $name:literal : $bug:literal ; )*) => {
        /// One deliberate bug; see the module documentation for the table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Mutant {
            $(
                #[doc = $bug]
                $variant,
            )*
        }

        impl Mutant {
            /// Every mutant, in table order.
            pub const ALL: &'static [Mutant] = &[$(Mutant::$variant,)*];

            /// The name used in `IAMCONFORM_MUTANT`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Mutant::$variant => $name,)*
                }
            }

            /// One line describing the bug.
            pub fn bug(self) -> &'static str {
                match self {
                    $(Mutant::$variant => $bug,)*
                }
            }
        }
    };
}

mutants! {
    ServerIdOmitted = "server-id-omitted": "No X-Consul-Iam-Serverid header on any request.";
    ServerIdUnsigned = "server-id-unsigned": "Server-id header added to the STS request after signing.";
    ServerIdWrongValue = "server-id-wrong-value": "Server-id value with -wrong appended.";
    EntityHeadersAwsSpelling = "entity-headers-aws-spelling": "GetEntity headers spelled X-Consul-IAM-GetEntity-* in the header map.";
    EntityHeadersLowercase = "entity-headers-lowercase": "GetEntity headers spelled in lower case in the header map.";
    EntityWrongRoleName = "entity-wrong-role-name": "GetRole names the last ARN segment (the session name of an assumed role).";
    EntityGetUserForRole = "entity-getuser-for-role": "GetUser sent for a role.";
    EntityUnsigned = "entity-unsigned": "Embedded IAM request not signed.";
    EntityServerIdMissing = "entity-server-id-missing": "No server-id header on the embedded IAM request.";
    SessionTokenDropped = "session-token-dropped": "Session token of temporary credentials not sent.";
    SessionTokenUnsigned = "session-token-unsigned": "Session token sent but not signed.";
    SigningRegionWrong = "signing-region-wrong": "Credential scope names another region.";
    SigningServiceWrong = "signing-service-wrong": "STS request signed for service iam.";
    HostMismatch = "host-mismatch": "Signed host differs from the URL host.";
    DateStale16m = "date-stale-16m": "Signing time 16 minutes in the past.";
    DateFuture16m = "date-future-16m": "Signing time 16 minutes in the future.";
    BodyActionMisspelt = "body-action-misspelt": "STS body Action=GetCallerIdentty.";
    BodyExtraField = "body-extra-field": "STS body with an extra DurationSeconds parameter.";
    StsUrlQuery = "sts-url-query": "STS URL with a query string.";
    MethodGet = "method-get": "STS request method GET.";
    Base64UrlEncoding = "base64url-encoding": "Token fields in unpadded base64url.";
    HeadersJsonNotBase64 = "headers-json-not-base64": "iam_request_headers holds raw JSON.";
    ContentLengthWrong = "content-length-wrong": "Content-Length one more than the body length.";
    WrongSecret = "wrong-secret": "Requests signed with a corrupted secret key.";
    WrongAuthMethod = "wrong-auth-method": "Login names the auth method with -x appended.";
    MetaDropped = "meta-dropped": "Login drops the -meta values.";
    TokenSinkTrailingNewline = "token-sink-trailing-newline": "Sink file gets a trailing newline.";
    LogoutSkipped = "logout-skipped": "Logout exits 0 without calling Consul.";
    LogoutSkipSecond = "logout-skip-second": "The second logout call exits 0 without calling Consul.";
    LogoutWrongToken = "logout-wrong-token": "Logout sends a corrupted SecretID.";
}

impl Mutant {
    /// Looks a mutant up by name.
    pub fn parse(name: &str) -> Result<Self, UnknownMutant> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.name() == name)
            .ok_or_else(|| UnknownMutant(name.to_owned()))
    }

    /// Reads `IAMCONFORM_MUTANT` from `env`: `Ok(None)` when unset or empty.
    pub fn from_env(env: &dyn crate::Env) -> Result<Option<Self>, UnknownMutant> {
        env.non_empty(MUTANT_ENV)
            .map(|n| Self::parse(&n))
            .transpose()
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `IAMCONFORM_MUTANT` names no known mutant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {MUTANT_ENV} {0:?}; known mutants: {list}", list = known_list())]
pub struct UnknownMutant(pub String);

fn known_list() -> String {
    Mutant::ALL
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_is_unique() {
        let mut names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        for m in Mutant::ALL {
            assert_eq!(Mutant::parse(m.name()), Ok(*m));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Mutant::ALL.len());
        assert!(Mutant::ALL.len() >= 25);
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = Mutant::parse("nope").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "unknown IAMCONFORM_MUTANT \"nope\"; known mutants: server-id-omitted,"
            )
        );
        assert!(msg.contains("logout-wrong-token"));
    }

    #[test]
    fn every_mutant_is_in_the_module_table() {
        let doc = include_str!("mutant.rs");
        for m in Mutant::ALL {
            assert!(
                doc.contains(&format!("//! | `{}` |", m.name())),
                "{m} missing from the table"
            );
        }
    }
}

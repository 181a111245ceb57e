//! The `aws-iam` auth method, as Consul implements it with `hashicorp/consul-awsauth`.
//!
//! A client proves its IAM identity by handing Consul a *signed but unsent* `sts:GetCallerIdentity`
//! request (optionally carrying a signed `iam:GetRole`/`iam:GetUser` request in its headers).
//! Consul checks the request's structure, replays it to STS (and IAM), and trusts the answer.
//! This module reproduces that pipeline with Consul's check order and error texts:
//!
//! 1. [`parse_config`] — the auth method `Config` ([`AwsIamConfig`], [`ConfigError`]);
//! 2. [`Validator::validate_login`] — token decoding and checks (`token.rs`), replay (`sts.rs`,
//!    the only outbound HTTP, governed by [`Outbound`]), response parsing (`responses.rs`), ARN
//!    rules (`arn.rs`), trust (`login.rs`) → [`Identity`] or [`LoginError`];
//!    [`Validator::check_token`] is its first half, every check before the replay, offline
//!    ([`CheckedToken`]);
//! 3. [`project`] / [`blank_identity`] / [`selector_schema`] — the identity as binding rules see it.
//!
//! Go behaviours that leak into Consul's texts (JSON, base64, URL and form parsing) live in
//! `gostd/`. Spec: `shared/spec/consul-aws-iam.md` §1–§3.1; ground truth: the awsauth corpus.
//!
//! ```
//! use iamconform_consul::authmethod::aws_iam::{parse_config, Outbound, Validator};
//! let config = parse_config(&serde_json::json!({
//!     "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/web"],
//! })).unwrap();
//! let validator = Validator::new(config, Outbound::default());
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let err = rt.block_on(validator.validate_login("{}")).unwrap_err();
//! assert_eq!(err.to_string(), "invalid token: unexpected end of JSON input");
//! ```

mod arn;
mod config;
mod gostd;
mod identity;
mod login;
mod responses;
mod sts;
mod token;

pub use arn::ArnError;
pub use config::{AwsIamConfig, ConfigError, parse_config};
pub use identity::{Identity, blank_identity, project, selector_schema};
pub use login::{CheckedToken, LoginError, Validator};
pub use sts::{MAX_RESPONSE_BYTES, Outbound};
pub use token::MAX_BEARER_TOKEN_BYTES;

#[cfg(test)]
mod robustness {
    //! Arbitrary input never panics any parser (a deterministic fuzz smoke test; the inputs are
    //! random strings over the characters that matter to each format, and mutations of valid
    //! inputs).

    use super::gostd::{base64, json, query, url};
    use super::responses::{parse_get_caller_identity, parse_iam_entity};
    use super::token::test_helpers::{STS_BODY, entity_headers, token};
    use super::token::{EntityRequestType, parse_bearer_token};
    use super::{AwsIamConfig, arn};

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % (n as u64)).unwrap_or(0)
        }

        fn string(&mut self, alphabet: &[char], max: usize) -> String {
            let len = self.below(max + 1);
            (0..len)
                .map(|_| alphabet[self.below(alphabet.len())])
                .collect()
        }

        fn mutate(&mut self, s: &str, alphabet: &[char]) -> String {
            let mut chars: Vec<char> = s.chars().collect();
            for _ in 0..=self.below(4) {
                if chars.is_empty() {
                    break;
                }
                let i = self.below(chars.len());
                match self.below(3) {
                    0 => chars[i] = alphabet[self.below(alphabet.len())],
                    1 => {
                        chars.remove(i);
                    }
                    _ => chars.insert(i, alphabet[self.below(alphabet.len())]),
                }
            }
            chars.into_iter().collect()
        }
    }

    const JSON: &[char] = &[
        '{', '}', '[', ']', '"', ':', ',', '\\', 'u', 'n', 'l', 't', 'e', '0', '1', '-', '.', ' ',
        'a', 'A', '=', '\n', 'é',
    ];
    const URL: &[char] = &[
        'h', 't', 'p', 's', ':', '/', '/', '[', ']', '%', '2', '5', 'z', '@', '?', '#', '.', '1',
        ':', ' ', 'é', '*',
    ];
    const XML: &[char] = &[
        '<', '>', '/', '?', '!', '[', ']', '&', ';', '#', 'x', 'a', '=', '"', ' ', '\n', 'G', 'R',
    ];

    #[test]
    fn parsers_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let config = AwsIamConfig {
            enable_iam_entity_details: true,
            bound_iam_principal_arns: vec!["arn:aws:iam::1:role/*".into()],
            ..AwsIamConfig::default()
        };
        let headers = entity_headers(
            "x",
            "https://iam.amazonaws.com/",
            "Action=GetRole&RoleName=r",
        );
        let valid = token("POST", "https://sts.amazonaws.com/", &headers, STS_BODY);
        let role = "<GetRoleResponse><GetRoleResult><Role><Arn>a</Arn><Tags><member><Key>k</Key></member></Tags></Role></GetRoleResult></GetRoleResponse>";
        for _ in 0..3000 {
            let s = rng.string(JSON, 40);
            let _ = json::check_valid(s.as_bytes());
            let _ = json::decode_header(s.as_bytes());
            let _ = parse_bearer_token(&s, &config);
            let _ = parse_bearer_token(&rng.mutate(&valid, JSON), &config);
            let _ = base64::decode_std(rng.string(&['A', 'b', '=', '\n', '+', '_'], 12).as_bytes());
            let u = rng.string(URL, 30);
            if let Ok(parsed) = url::parse(&u) {
                let _ = (
                    parsed.to_string(),
                    parsed.hostname(),
                    parsed.join_path(&u),
                    parsed.request_uri(),
                );
            }
            let _ = query::parse_query(&rng.string(&['a', '=', '&', ';', '%', '4', 'g', '+'], 16));
            let x = rng.mutate(role, XML);
            let _ = parse_iam_entity(x.as_bytes(), EntityRequestType::GetRole);
            let _ = parse_get_caller_identity(rng.string(XML, 40).as_bytes());
            let _ = arn::parse_arn(&rng.string(&['a', 'r', 'n', ':', '/', 'i', 'm'], 24));
        }
    }
}

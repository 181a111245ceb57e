//! Raw → validated: the third stage of loading.
//!
//! Turns a [`RawScenario`] into a [`Scenario`], checking what the types alone cannot say:
//! name syntax, durations, exactly one step key, expectations that fit their step, saved
//! tokens defined before use, Enterprise-only features. Every problem is collected. A value
//! under which the decoder already reported something (`Sp::dirty`) is not checked again, and
//! once a step could not be read, later "not defined" errors are suppressed because that step
//! may have defined the name.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::decode::Problem;
use crate::diag::{did_you_mean, one_of_help};
use crate::duration::parse_go_duration;
use crate::model::{
    ApiCall, ApiExpect, AwsOptions, ClientExpect, ClockShift, ConsulSetup, Endpoint, ExpectAudit,
    ExpectToken, Fault, FaultAction, IdentityOverrides, Login, LoginAs, Logout, Outcome, Preset,
    Replay, Requirement, SavedName, Scenario, SentExpect, SignedHeadersExpect, Step, StepKind,
    TokenRef, Verdict,
};
use crate::raw::{RawExpect, RawScenario, RawStep, Sp};
use crate::tree::Pos;

/// Where a token is named, which decides the words it may be.
#[derive(Clone, Copy)]
enum TokenUse {
    Logout,
    Api,
}

struct Validator {
    problems: Vec<Problem>,
    defined: BTreeSet<String>,
    /// An earlier step could not be read, so it may have defined any name.
    names_unknown: bool,
    enterprise: bool,
    audit: bool,
    /// Where the current step starts, for problems with implicit values.
    step_pos: Pos,
}

/// The mapping a required key belongs in.
#[derive(Clone, Copy)]
struct Parent {
    pos: Pos,
    /// The mapping lost an entry to a reported problem; see [`Sp::flawed`].
    flawed: bool,
}

fn parent_of<T>(sp: &Sp<T>) -> Parent {
    Parent {
        pos: pos_of(sp),
        flawed: sp.flawed,
    }
}

fn pos_of<T>(sp: &Sp<T>) -> Pos {
    Pos {
        line: sp.line,
        col: sp.col,
    }
}

impl Validator {
    fn error(&mut self, pos: Pos, message: impl Into<String>, help: Option<String>) {
        self.problems.push(Problem {
            pos,
            message: message.into(),
            help,
        });
    }

    fn at<T>(&mut self, sp: &Sp<T>, message: impl Into<String>, help: Option<String>) {
        self.error(pos_of(sp), message, help);
    }
}

/// Validates a decoded scenario; `Err` carries every problem found.
pub(crate) fn validate(root: Sp<RawScenario>) -> Result<Scenario, Vec<Problem>> {
    let root_parent = parent_of(&root);
    let raw = root.value;
    let mut v = Validator {
        problems: Vec::new(),
        defined: BTreeSet::new(),
        names_unknown: false,
        enterprise: false,
        audit: raw.consul.audit,
        step_pos: Pos::default(),
    };

    let name = match required(
        &mut v,
        raw.name,
        root_parent,
        "name",
        "add `name: <what the scenario proves>`",
    ) {
        Some(sp) => {
            let name = sp.value.trim().to_owned();
            if name.is_empty() {
                v.at(
                    &sp,
                    "`name` is empty",
                    Some("say in one line what the scenario proves".into()),
                );
            } else if name.contains('\n') {
                v.at(
                    &sp,
                    "`name` spans several lines",
                    Some("keep the name to one line; put detail in a comment".into()),
                );
            }
            name
        }
        None => String::new(),
    };

    let mut tags = Vec::new();
    for tag in &raw.tags {
        let t = tag.value.as_str();
        if t.is_empty() || t.chars().any(char::is_whitespace) {
            v.at(
                tag,
                format!("invalid tag `{t}`"),
                Some("tags are single words such as `login` or `ecs`".into()),
            );
        } else if tags.iter().any(|x: &String| x == t) {
            v.at(
                tag,
                format!("duplicate tag `{t}`"),
                Some("remove the repeated tag".into()),
            );
        } else {
            tags.push(t.to_owned());
        }
    }

    let mut requires = Vec::new();
    for r in &raw.requires {
        match Requirement::from_name(&r.value) {
            Some(req) if requires.contains(&req) => {
                v.at(
                    r,
                    format!("duplicate requirement `{req}`"),
                    Some("remove the repeated entry".into()),
                );
            }
            Some(req) => requires.push(req),
            None => v.at(
                r,
                format!("unknown requirement `{}`", r.value),
                Some(one_of_help(&r.value, &Requirement::NAMES)),
            ),
        }
    }

    let identities = match raw.identities {
        Some(sp) if !sp.dirty => {
            if let serde_json::Value::Object(map) = sp.value {
                Some(IdentityOverrides::new(map))
            } else if sp.value.is_null() {
                None
            } else {
                v.at(&sp, "`identities` must be a mapping", Some("write it like fixtures/identities.yaml: `accounts:` → account ID → `roles`/`users`".into()));
                None
            }
        }
        _ => None,
    };

    let consul = validate_consul(&mut v, raw.consul, &requires);
    // `consul.enterprise: true` needs an Enterprise backend just like `requires: [enterprise]`;
    // folding it in lets the runner decide skips from `requires` alone.
    if consul.enterprise && !requires.contains(&Requirement::Enterprise) {
        requires.push(Requirement::Enterprise);
    }

    let mut steps = Vec::new();
    let raw_steps = required(
        &mut v,
        raw.steps,
        root_parent,
        "steps",
        "add `steps:` with at least one step",
    );
    let raw_steps = match raw_steps {
        Some(list) if list.value.is_empty() && !list.flawed => {
            v.at(
                &list,
                "a scenario needs at least one step",
                Some("add a step such as `- login: { as: ROLE/SESSION, method: METHOD }`".into()),
            );
            Vec::new()
        }
        Some(list) => list.value,
        None => Vec::new(),
    };
    for step in raw_steps {
        let dirty = step.dirty;
        if let Some(s) = validate_step(&mut v, step) {
            steps.push(s);
        }
        // A step that could not be read whole may have been meant to save any name.
        v.names_unknown |= dirty;
    }

    if v.problems.is_empty() {
        Ok(Scenario {
            name,
            tags,
            requires,
            identities,
            aws: AwsOptions {
                strict_regions: raw.aws.strict_regions,
            },
            consul,
            steps,
        })
    } else {
        Err(v.problems)
    }
}

fn validate_consul(
    v: &mut Validator,
    raw: crate::raw::RawConsul,
    requires: &[Requirement],
) -> ConsulSetup {
    let wants_enterprise = requires.contains(&Requirement::Enterprise);
    let enterprise = match &raw.enterprise {
        Some(sp) if !sp.value && wants_enterprise => {
            v.at(
                sp,
                "`enterprise: false` contradicts `requires: [enterprise]`",
                Some("remove one of them".into()),
            );
            false
        }
        Some(sp) => sp.value,
        None => wants_enterprise,
    };
    v.enterprise = enterprise;
    let ce_only = matches!(&raw.enterprise, Some(sp) if !sp.value);

    let preset = raw.preset.and_then(|sp| {
        let p = sp.value.trim();
        if p.is_empty() {
            v.at(
                &sp,
                "`preset` is empty",
                Some("name a preset such as `consul-ecs`, or a path relative to this file".into()),
            );
            None
        } else if p.starts_with('/') || p.contains('\\') || p.get(1..3) == Some(":\\") {
            v.at(
                &sp,
                format!("preset path `{p}` is not relative"),
                Some(
                    "write the path relative to this scenario file so the suite is portable".into(),
                ),
            );
            None
        } else if p.contains('/') || p.ends_with(".yaml") || p.ends_with(".yml") {
            Some(Preset::Path(PathBuf::from(p)))
        } else {
            Some(Preset::Named(p.to_owned()))
        }
    });

    let mut objects = |list: Vec<Sp<serde_json::Value>>, what: &str| -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for sp in list {
            if sp.dirty {
                continue;
            }
            if sp.value.is_object() {
                out.push(sp.value);
            } else {
                v.at(
                    &sp,
                    format!("each of `consul.{what}` must be a mapping"),
                    Some("write the object in Consul's JSON field names, e.g. `{Name: …}`".into()),
                );
            }
        }
        out
    };
    let policies = objects(raw.policies, "policies");
    let roles = objects(raw.roles, "roles");
    let namespaces_pos = raw.namespaces.first().map(pos_of);
    let namespaces = objects(raw.namespaces, "namespaces");
    let auth_methods = objects(raw.auth_methods, "auth_methods");
    let binding_rules = objects(raw.binding_rules, "binding_rules");
    if let Some(pos) = namespaces_pos
        && !enterprise
    {
        v.error(
            pos,
            "namespaces need Consul Enterprise",
            Some(enterprise_help()),
        );
    }

    ConsulSetup {
        preset,
        enterprise,
        ce_only,
        audit: raw.audit,
        policies,
        roles,
        namespaces,
        auth_methods,
        binding_rules,
    }
}

/// A required key: reported at its mapping when missing.
fn required<T>(
    v: &mut Validator,
    value: Option<T>,
    parent: Parent,
    key: &str,
    help: &str,
) -> Option<T> {
    if value.is_none() && !parent.flawed {
        v.error(
            parent.pos,
            format!("`{key}` is required"),
            Some(help.to_owned()),
        );
    }
    value
}

fn enterprise_help() -> String {
    "add `enterprise` to `requires`".to_owned()
}

fn validate_step(v: &mut Validator, sp: Sp<RawStep>) -> Option<Step> {
    let pos = pos_of(&sp);
    let flawed = sp.flawed;
    v.step_pos = pos;
    let raw = sp.value;
    let present: Vec<&str> = [
        raw.login.as_ref().map(|_| "login"),
        raw.logout.as_ref().map(|_| "logout"),
        raw.expect_token.as_ref().map(|_| "expect_token"),
        raw.api.as_ref().map(|_| "api"),
        raw.clock.as_ref().map(|_| "clock"),
        raw.fault.as_ref().map(|_| "fault"),
        raw.replay.as_ref().map(|_| "replay"),
        raw.expect_audit.as_ref().map(|_| "expect_audit"),
        raw.expect_no_secrets.as_ref().map(|_| "expect_no_secrets"),
    ]
    .into_iter()
    .flatten()
    .collect();
    match present.as_slice() {
        [] if flawed => return None,
        [] => {
            v.error(
                pos,
                "step has no step key",
                Some(format!(
                    "start the step with one of {}",
                    StepKind::KEYS.map(|k| format!("`{k}`")).join(", ")
                )),
            );
            return None;
        }
        [_] => {}
        [first, second, ..] => {
            v.error(
                pos,
                format!("step has more than one step key: `{first}` and `{second}`"),
                Some("split it into one step per key, each starting with `- `".into()),
            );
            return None;
        }
    }
    let problems_before = v.problems.len();
    let expect = raw.expect;
    let kind = if let Some(l) = raw.login {
        let login = validate_login(v, l);
        let expect = client_expect(v, expect, "login");
        if let Some(login) = &login {
            v.defined.insert(login.save_as.0.clone());
        }
        StepKind::Login {
            login: login?,
            expect: expect?,
        }
    } else if let Some(l) = raw.logout {
        let token = match &l.value.token {
            Some(t) => token_ref(v, t, TokenUse::Logout),
            None => saved(v, None).map(TokenRef::Saved),
        };
        let expect = outcome_only(v, expect, "logout");
        StepKind::Logout {
            logout: Logout {
                token: token?,
                via: l.value.via,
            },
            expect: expect?,
        }
    } else if let Some(t) = raw.expect_token {
        no_expect(v, expect.as_ref(), "expect_token");
        let token = saved(v, t.value.token.as_ref());
        let works = required(
            v,
            t.value.works,
            parent_of(&t),
            "works",
            "add `works: true` or `works: false`",
        );
        StepKind::ExpectToken(ExpectToken {
            token: token?,
            works: works?,
        })
    } else if let Some(a) = raw.api {
        let call = validate_api(v, a);
        let expect = api_expect(v, expect);
        StepKind::Api {
            api: call?,
            expect: expect?,
        }
    } else if let Some(c) = raw.clock {
        no_expect(v, expect.as_ref(), "clock");
        let cparent = parent_of(&c);
        let advance = required(
            v,
            c.value.advance,
            cparent,
            "advance",
            "add `advance: 16m` (a Go-style duration; negative goes back)",
        )?;
        let advance = duration(v, &advance)?;
        StepKind::Clock(ClockShift { advance })
    } else if let Some(f) = raw.fault {
        no_expect(v, expect.as_ref(), "fault");
        StepKind::Fault(validate_fault(v, f)?)
    } else if let Some(r) = raw.replay {
        let token = saved(v, r.value.token.as_ref());
        let method = r.value.method.and_then(|m| non_empty(v, &m, "method"));
        let expect = client_expect(v, expect, "replay");
        StepKind::Replay {
            replay: Replay {
                token: token?,
                method,
            },
            expect: expect?,
        }
    } else if let Some(a) = raw.expect_audit {
        no_expect(v, expect.as_ref(), "expect_audit");
        if !v.audit {
            v.at(
                &a,
                "`expect_audit` needs the audit log",
                Some("set `consul.audit: true`".into()),
            );
        }
        let help = "list the entries to find, e.g. `contains: [{stage: OperationComplete, endpoint: /v1/acl/login}]`";
        let aparent = parent_of(&a);
        let entries = required(v, a.value.contains, aparent, "contains", help);
        if entries.as_ref().is_some_and(Vec::is_empty) {
            v.error(aparent.pos, "`contains` is empty", Some(help.into()));
        }
        let entries = entries.unwrap_or_default();
        let mut contains = Vec::new();
        for e in entries {
            match e.value {
                serde_json::Value::Object(m) => contains.push(m),
                _ => v.at(
                    &e,
                    "each audit entry must be a mapping",
                    Some("write fields to match, e.g. `{stage: OperationComplete}`".into()),
                ),
            }
        }
        StepKind::ExpectAudit(ExpectAudit { contains })
    } else {
        no_expect(v, expect.as_ref(), "expect_no_secrets");
        StepKind::ExpectNoSecrets
    };
    (v.problems.len() == problems_before).then_some(Step {
        line: pos.line,
        kind,
    })
}

fn no_expect(v: &mut Validator, expect: Option<&Sp<RawExpect>>, kind: &str) {
    if let Some(e) = expect {
        v.at(
            e,
            format!("`{kind}` steps take no `expect`"),
            Some(format!(
                "the `{kind}` step is itself the check; remove `expect`"
            )),
        );
    }
}

fn non_empty(v: &mut Validator, sp: &Sp<String>, what: &str) -> Option<String> {
    let s = sp.value.trim();
    if s.is_empty() {
        v.at(sp, format!("`{what}` is empty"), None);
        None
    } else {
        Some(s.to_owned())
    }
}

fn duration(v: &mut Validator, sp: &Sp<String>) -> Option<time::Duration> {
    match parse_go_duration(sp.value.trim()) {
        Ok(d) => Some(d),
        Err(e) => {
            let help = match &e {
                crate::duration::DurationError::UnknownUnit { unit, .. } => match unit_for(unit) {
                    Some(m) => format!("did you mean `{m}`? {}", e.help()),
                    None => e.help().to_owned(),
                },
                _ => e.help().to_owned(),
            };
            v.at(sp, e.to_string(), Some(help));
            None
        }
    }
}

/// The Go unit meant by a spelled-out one (`min`, `secs`, `hours`).
fn unit_for(unit: &str) -> Option<&'static str> {
    let u = unit.to_ascii_lowercase();
    let u = u.strip_suffix('s').filter(|u| u.len() > 1).unwrap_or(&u);
    match u {
        "ns" | "nanosecond" | "nsec" => Some("ns"),
        "us" | "microsecond" | "usec" => Some("us"),
        "ms" | "millisecond" | "msec" | "milli" => Some("ms"),
        "s" | "sec" | "second" => Some("s"),
        "m" | "min" | "minute" | "mn" => Some("m"),
        "h" | "hr" | "hour" => Some("h"),
        _ => None,
    }
}

fn is_iam_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn parse_login_as(s: &str) -> Option<LoginAs> {
    let mut parts = s.split('/');
    let name = parts.next().filter(|n| is_iam_name(n))?;
    let qualifier = match parts.next() {
        Some(q) if is_iam_name(q) => Some(q.to_owned()),
        Some(_) => return None,
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(LoginAs {
        name: name.to_owned(),
        qualifier,
    })
}

fn is_saved_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

const SAVED_NAME_HELP: &str = "use lowercase letters, digits, `-` and `_`, e.g. `service`";

/// A reference to a saved token that must have been defined by an earlier login.
fn saved(v: &mut Validator, sp: Option<&Sp<String>>) -> Option<SavedName> {
    let Some(sp) = sp else {
        return defined(v, None, SavedName::DEFAULT);
    };
    let name = sp.value.as_str();
    if SavedName::RESERVED.contains(&name) {
        v.at(
            sp,
            format!("`{name}` cannot be used here"),
            Some("name a token saved by an earlier login (`save_as`)".into()),
        );
        return None;
    }
    if !is_saved_name(name) {
        v.at(
            sp,
            format!("invalid token name `{name}`"),
            Some(SAVED_NAME_HELP.into()),
        );
        return None;
    }
    defined(v, Some(sp), name)
}

fn defined(v: &mut Validator, sp: Option<&Sp<String>>, name: &str) -> Option<SavedName> {
    if !v.defined.contains(name) && !v.names_unknown {
        let names: Vec<&str> = v.defined.iter().map(String::as_str).collect();
        let help = match did_you_mean(name, &names) {
            Some(m) => format!("did you mean `{m}`?"),
            None if name == SavedName::DEFAULT => {
                "no earlier login saved a token; add a `login` step before this one, or name a token with `token:`".to_owned()
            }
            None => format!("an earlier `login` step must have `save_as: {name}`"),
        };
        let message = format!("token `{name}` is not defined by an earlier login");
        match sp {
            Some(sp) => v.at(sp, message, Some(help)),
            // The default name is implicit, so point at the step that uses it.
            None => v.error(v.step_pos, message, Some(help)),
        }
        return None;
    }
    Some(SavedName(name.to_owned()))
}

fn token_ref(v: &mut Validator, sp: &Sp<String>, usage: TokenUse) -> Option<TokenRef> {
    match (sp.value.as_str(), usage) {
        ("none", _) => Some(TokenRef::None),
        ("bogus", _) => Some(TokenRef::Bogus),
        ("management", TokenUse::Api) => Some(TokenRef::Management),
        ("management", TokenUse::Logout) => {
            v.at(
                sp,
                "logging out the management token is not allowed",
                Some("log out a token saved by a login, `none` or `bogus`".into()),
            );
            None
        }
        _ => saved(v, Some(sp)).map(TokenRef::Saved),
    }
}

fn endpoint(v: &mut Validator, sp: Option<&Sp<String>>, default: Endpoint) -> Option<Endpoint> {
    let Some(sp) = sp else {
        return Some(default);
    };
    let s = sp.value.trim();
    match s {
        "emulator" => Some(Endpoint::Emulator),
        "aws" => Some(Endpoint::Aws),
        _ if (s.starts_with("http://") || s.starts_with("https://"))
            && s.len() > "https://".len()
            && !s.chars().any(char::is_whitespace) =>
        {
            Some(Endpoint::Url(s.to_owned()))
        }
        _ => {
            v.at(
                sp,
                format!("invalid endpoint `{s}`"),
                Some("use `emulator`, `aws` or a URL starting with http:// or https://".into()),
            );
            None
        }
    }
}

fn validate_login(v: &mut Validator, sp: Sp<crate::raw::RawLogin>) -> Option<Login> {
    let pos = parent_of(&sp);
    let raw = sp.value;
    let before = v.problems.len();
    let identity = required(v, raw.as_, pos, "as", "add `as: ROLE/SESSION` (or USER, USER/ACCESS_KEY_ID) from the identity fixtures").and_then(|as_| {
        let parsed = parse_login_as(as_.value.trim());
        if parsed.is_none() {
            v.at(
                &as_,
                format!("invalid `as` value `{}`", as_.value),
                Some("write ROLE/SESSION, USER or USER/ACCESS_KEY_ID using IAM name characters (letters, digits, +=,.@_-)".into()),
            );
        }
        parsed
    });
    let method = required(
        v,
        raw.method,
        pos,
        "method",
        "add `method: <auth method name>`",
    )
    .and_then(|m| non_empty(v, &m, "method"));
    let server_id = raw.server_id.and_then(|s| non_empty(v, &s, "server_id"));
    let region = match &raw.region {
        None => Some("us-east-1".to_owned()),
        Some(r) => {
            let s = r.value.trim();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                Some(s.to_owned())
            } else {
                v.at(
                    r,
                    format!("invalid region `{s}`"),
                    Some("write a region name such as `us-east-1`".into()),
                );
                None
            }
        }
    };
    let sts_endpoint = endpoint(v, raw.sts_endpoint.as_ref(), Endpoint::Aws);
    let iam_endpoint = endpoint(v, raw.iam_endpoint.as_ref(), Endpoint::Aws);
    let enterprise_only = |v: &mut Validator, field: Option<Sp<String>>, what: &str| {
        let sp = field?;
        let s = non_empty(v, &sp, what)?;
        if !v.enterprise {
            v.at(
                &sp,
                format!("`{what}` needs Consul Enterprise"),
                Some(enterprise_help()),
            );
        }
        Some(s)
    };
    let namespace = enterprise_only(v, raw.namespace, "namespace");
    let partition = enterprise_only(v, raw.partition, "partition");
    let save_as = match &raw.save_as {
        None => SavedName(SavedName::DEFAULT.to_owned()),
        Some(s) if SavedName::RESERVED.contains(&s.value.as_str()) => {
            v.at(
                s,
                format!("`{}` is a reserved word", s.value),
                Some("choose another name, e.g. `service`".into()),
            );
            return None;
        }
        Some(s) if !is_saved_name(&s.value) => {
            v.at(
                s,
                format!("invalid token name `{}`", s.value),
                Some(SAVED_NAME_HELP.into()),
            );
            return None;
        }
        Some(s) => SavedName(s.value.clone()),
    };
    if v.problems.len() != before {
        // Still record the name so later references are not reported twice.
        v.defined.insert(save_as.0);
        return None;
    }
    Some(Login {
        identity: identity?,
        method: method?,
        include_entity: raw.include_entity,
        server_id,
        region: region?,
        meta: raw.meta,
        credentials: raw.credentials,
        corrupt: raw.corrupt,
        sts_endpoint: sts_endpoint?,
        iam_endpoint: iam_endpoint?,
        namespace,
        partition,
        save_as,
    })
}

fn outcome(v: &mut Validator, e: &RawExpect) -> Option<Outcome> {
    let error = match &e.error {
        Some(sp) if sp.value.trim().is_empty() => {
            v.at(
                sp,
                "`error` is empty",
                Some("give a substring of the expected error, or remove `error`".into()),
            );
            return None;
        }
        Some(sp) => Some(sp.value.clone()),
        None => None,
    };
    let ok = match (&e.ok, &error) {
        (Some(ok), Some(_)) if ok.value => {
            v.at(
                ok,
                "`ok: true` contradicts `error`",
                Some("an expected error implies `ok: false`; remove one of them".into()),
            );
            return None;
        }
        (Some(ok), _) => ok.value,
        (None, Some(_)) => false,
        (None, None) => true,
    };
    Some(Outcome { ok, error })
}

fn misplaced(v: &mut Validator, e: &RawExpect, kind: &str, allowed: &[&str]) {
    let keys: [(&str, Option<Pos>, &str); 7] = [
        ("ok", e.ok.as_ref().map(pos_of), "login, logout and replay"),
        (
            "error",
            e.error.as_ref().map(pos_of),
            "login, logout and replay",
        ),
        ("token", e.token.as_ref().map(pos_of), "login and replay"),
        ("sent", e.sent.as_ref().map(pos_of), "login and replay"),
        ("status", e.status.as_ref().map(pos_of), "api"),
        ("body_contains", e.body_contains.as_ref().map(pos_of), "api"),
        ("json", e.json.as_ref().map(pos_of), "api"),
    ];
    for (key, pos, applies) in keys {
        if let Some(pos) = pos
            && !allowed.contains(&key)
        {
            v.error(
                pos,
                format!("`{key}` does not apply to `{kind}` steps"),
                Some(format!(
                    "`{key}` applies to {applies} steps; here use {}",
                    allowed
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }
}

fn client_expect(
    v: &mut Validator,
    expect: Option<Sp<RawExpect>>,
    kind: &str,
) -> Option<ClientExpect> {
    let Some(sp) = expect else {
        return Some(ClientExpect::default());
    };
    let e = sp.value;
    let before = v.problems.len();
    misplaced(v, &e, kind, &["ok", "error", "token", "sent"]);
    let outcome = outcome(v, &e);
    let token = match e.token {
        None => None,
        Some(t) => match t.value {
            serde_json::Value::Object(m) => {
                if outcome.as_ref().is_some_and(|o| !o.ok) {
                    v.error(
                        Pos {
                            line: t.line,
                            col: t.col,
                        },
                        "`token` expectations need a successful login",
                        Some("remove `token`, or expect `ok: true`".into()),
                    );
                }
                Some(m)
            }
            _ => {
                v.error(
                    Pos {
                        line: t.line,
                        col: t.col,
                    },
                    "`token` must be a mapping of token fields",
                    Some("e.g. `token: { ServiceIdentities: [{ServiceName: web}] }`".into()),
                );
                None
            }
        },
    };
    let sent = e.sent.map(|s| {
        let raw = s.value;
        let verdict = raw.verdict.and_then(|sp| {
            let t = sp.value.trim();
            if t.is_empty() || t.chars().any(char::is_whitespace) {
                v.at(
                    &sp,
                    format!("invalid verdict `{t}`"),
                    Some(
                        "write `accepted` or an AWS error code such as `SignatureDoesNotMatch`"
                            .into(),
                    ),
                );
                None
            } else if t == "accepted" {
                Some(Verdict::Accepted)
            } else {
                Some(Verdict::Error(t.to_owned()))
            }
        });
        SentExpect {
            region: raw.region,
            service: raw.service,
            host: raw.host,
            signed_headers: SignedHeadersExpect {
                include: raw
                    .signed_headers
                    .include
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                exclude: raw
                    .signed_headers
                    .exclude
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            },
            server_id_signed: raw.server_id_signed,
            entity: raw.entity,
            verdict,
        }
    });
    (v.problems.len() == before).then_some(ClientExpect {
        outcome: outcome?,
        token,
        sent,
    })
}

fn outcome_only(v: &mut Validator, expect: Option<Sp<RawExpect>>, kind: &str) -> Option<Outcome> {
    let Some(sp) = expect else {
        return Some(Outcome::default());
    };
    let before = v.problems.len();
    misplaced(v, &sp.value, kind, &["ok", "error"]);
    let o = outcome(v, &sp.value);
    (v.problems.len() == before).then_some(o).flatten()
}

fn api_expect(v: &mut Validator, expect: Option<Sp<RawExpect>>) -> Option<ApiExpect> {
    let Some(sp) = expect else {
        return Some(ApiExpect::default());
    };
    let e = sp.value;
    let before = v.problems.len();
    misplaced(v, &e, "api", &["status", "body_contains", "json"]);
    let status = e.status.and_then(|s| {
        if (100..=599).contains(&s.value) {
            Some(s.value)
        } else {
            v.at(
                &s,
                format!("invalid HTTP status {}", s.value),
                Some("use a status from 100 to 599".into()),
            );
            None
        }
    });
    let body_contains = e
        .body_contains
        .and_then(|b| non_empty(v, &b, "body_contains"));
    (v.problems.len() == before).then_some(ApiExpect {
        status,
        body_contains,
        json: e.json.map(|j| j.value),
    })
}

const HTTP_METHODS: [&str; 6] = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"];

fn validate_api(v: &mut Validator, sp: Sp<crate::raw::RawApi>) -> Option<ApiCall> {
    let pos = parent_of(&sp);
    let raw = sp.value;
    let before = v.problems.len();
    let method = required(
        v,
        raw.method,
        pos,
        "method",
        "add `method: GET` (or PUT, POST, DELETE, …)",
    )
    .map(|m| {
        let method = m.value.trim().to_ascii_uppercase();
        if !HTTP_METHODS.contains(&method.as_str()) {
            v.at(
                &m,
                format!("unknown HTTP method `{}`", m.value),
                Some(one_of_help(&method, &HTTP_METHODS)),
            );
        }
        method
    });
    let path = required(v, raw.path, pos, "path", "add `path: /v1/…`").map(|p| {
        let path = p.value.trim().to_owned();
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            v.at(
                &p,
                format!("invalid path `{path}`"),
                Some(
                    "write an absolute path such as `/v1/acl/binding-rule`, without spaces".into(),
                ),
            );
        }
        path
    });
    let token = match &raw.token {
        None => Some(TokenRef::Management),
        Some(t) => token_ref(v, t, TokenUse::Api),
    };
    if v.problems.len() != before {
        return None;
    }
    Some(ApiCall {
        method: method?,
        path: path?,
        body: raw.body,
        token: token?,
    })
}

fn validate_fault(v: &mut Validator, sp: Sp<crate::raw::RawFault>) -> Option<Fault> {
    let pos = parent_of(&sp);
    let service = required(
        v,
        sp.value.service,
        pos,
        "service",
        "add `service: sts` (or `iam`, `any`)",
    );
    let raw = sp.value;
    let action = match (&raw.status, &raw.delay) {
        (Some(s), None) => {
            if (400..=599).contains(&s.value) {
                Some(FaultAction::Status(s.value))
            } else {
                v.at(
                    s,
                    format!("fault status {} is not an error status", s.value),
                    Some("use 400–599, e.g. 503 or 429".into()),
                );
                None
            }
        }
        (None, Some(d)) => match duration(v, d)? {
            d if d.is_positive() => Some(FaultAction::Delay(d)),
            _ => {
                v.at(
                    d,
                    "fault delay must be positive",
                    Some("e.g. `delay: 2s`".into()),
                );
                None
            }
        },
        (Some(_), Some(d)) => {
            v.at(
                d,
                "a fault has either `status` or `delay`, not both",
                Some("use two fault steps".into()),
            );
            None
        }
        (None, None) => {
            v.error(
                pos.pos,
                "a fault needs `status` or `delay`",
                Some("e.g. `status: 503` or `delay: 2s`".into()),
            );
            None
        }
    };
    let count = match &raw.count {
        None => Some(1),
        Some(c) if c.value == 0 => {
            v.at(
                c,
                "`count` must be at least 1",
                Some("remove the fault step instead of using 0".into()),
            );
            None
        }
        Some(c) => Some(c.value),
    };
    Some(Fault {
        service: service?,
        action: action?,
        count: count?,
    })
}

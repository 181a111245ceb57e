use std::path::Path;

use iamconform_scenario::load_str;

/// Loads `text` and returns each diagnostic as `line:col: message [help]`.
fn problems(text: &str) -> Vec<String> {
    match load_str(Path::new("t.yaml"), text) {
        Ok(s) => panic!("expected problems, the file loaded: {s:?}"),
        Err(d) => d
            .iter()
            .map(|d| match &d.help {
                Some(h) => format!("{}:{}: {} [{h}]", d.line, d.col, d.message),
                None => format!("{}:{}: {}", d.line, d.col, d.message),
            })
            .collect(),
    }
}

/// A valid head, so each case only shows what it breaks; steps start on line 3.
const HEAD: &str = "name: n\nsteps:\n";

struct Case {
    what: &'static str,
    text: String,
    want: &'static [&'static str],
}

fn case(what: &'static str, text: &str, want: &'static [&'static str]) -> Case {
    Case {
        what,
        text: text.to_owned(),
        want,
    }
}

fn step(what: &'static str, steps: &str, want: &'static [&'static str]) -> Case {
    Case {
        what,
        text: format!("{HEAD}{steps}"),
        want,
    }
}

#[test]
fn every_kind_of_problem_is_reported_at_its_position() {
    let cases = vec![
        case(
            "unknown top-level key",
            "nmae: n\nsteps: [expect_no_secrets: {}]\n",
            &["1:1: unknown key `nmae` [did you mean `name`?]"],
        ),
        case(
            "unknown key with no close match",
            "name: n\nzzz: 1\nsteps: [expect_no_secrets: {}]\n",
            &[
                "2:1: unknown key `zzz` [expected one of `name`, `tags`, `requires`, `identities`, `aws`, `consul`, `steps`]",
            ],
        ),
        case(
            "missing required keys",
            "tags: [a]\n",
            &[
                "1:1: `name` is required [add `name: <what the scenario proves>`]",
                "1:1: `steps` is required [add `steps:` with at least one step]",
            ],
        ),
        case(
            "required keys present without a value",
            "name:\nsteps:\n",
            &[
                "1:1: `name` is required [add `name: <what the scenario proves>`]",
                "1:1: `steps` is required [add `steps:` with at least one step]",
            ],
        ),
        case(
            "wrong type for a list",
            "name: n\ntags: login\nsteps: [expect_no_secrets: {}]\n",
            &["2:7: expected a sequence, found string \"login\""],
        ),
        case(
            "number where a string is expected",
            "name: 12\nsteps: [expect_no_secrets: {}]\n",
            &["1:7: expected a string, found integer `12` [quote the value to make it a string]"],
        ),
        case(
            "duplicate key",
            "name: a\nname: b\nsteps: [expect_no_secrets: {}]\n",
            &["2:1: duplicate key `name` [the first is at line 1; remove one of them]"],
        ),
        case(
            "yaml syntax error",
            "name: [a\nsteps: x\n",
            &[
                "2:6: invalid YAML: illegal placement of ':' indicator [check indentation, quoting and brackets near this position]",
            ],
        ),
        case(
            "root is not a mapping",
            "- a\n- b\n",
            &["1:1: expected a mapping, found a list"],
        ),
        case(
            "empty file",
            "# only a comment\n",
            &["1:1: the file is empty [`iamconform new NAME` writes a starting scenario]"],
        ),
        case(
            "no steps",
            "name: n\nsteps: []\n",
            &[
                "2:8: a scenario needs at least one step [add a step such as `- login: { as: ROLE/SESSION, method: METHOD }`]",
            ],
        ),
        case(
            "unknown requirement",
            "name: n\nrequires: [enterprize]\nsteps: [expect_no_secrets: {}]\n",
            &[
                "2:12: unknown requirement `enterprize` [did you mean `enterprise`? expected one of `enterprise`, `docker`]",
            ],
        ),
        case(
            "enterprise contradiction",
            "name: n\nrequires: [enterprise]\nconsul: { enterprise: false }\nsteps: [expect_no_secrets: {}]\n",
            &[
                "3:23: `enterprise: false` contradicts `requires: [enterprise]` [remove one of them]",
            ],
        ),
        case(
            "namespaces without enterprise",
            "name: n\nconsul:\n  namespaces: [{Name: a}]\nsteps: [expect_no_secrets: {}]\n",
            &["3:16: namespaces need Consul Enterprise [add `enterprise` to `requires`]"],
        ),
        case(
            "consul object that is not a mapping",
            "name: n\nconsul:\n  policies: [read-kv]\nsteps: [expect_no_secrets: {}]\n",
            &[
                "3:14: each of `consul.policies` must be a mapping [write the object in Consul's JSON field names, e.g. `{Name: …}`]",
            ],
        ),
        case(
            "absolute preset path",
            "name: n\nconsul: { preset: /etc/p.yaml }\nsteps: [expect_no_secrets: {}]\n",
            &[
                "2:19: preset path `/etc/p.yaml` is not relative [write the path relative to this scenario file so the suite is portable]",
            ],
        ),
        case(
            "identities not a mapping",
            "name: n\nidentities: [a]\nsteps: [expect_no_secrets: {}]\n",
            &[
                "2:13: `identities` must be a mapping [write it like fixtures/identities.yaml: `accounts:` → account ID → `roles`/`users`]",
            ],
        ),
        step(
            "unknown step kind",
            "  - loginn: { as: r/s, method: m }\n",
            &["3:5: unknown key `loginn` [did you mean `login`?]"],
        ),
        step(
            "step without a step key",
            "  - expect: { ok: true }\n",
            &[
                "3:5: step has no step key [start the step with one of `login`, `logout`, `expect_token`, `api`, `clock`, `fault`, `replay`, `expect_audit`, `expect_no_secrets`]",
            ],
        ),
        step(
            "two step keys",
            "  - clock: { advance: 1s }\n    fault: { service: sts, status: 503 }\n",
            &[
                "3:5: step has more than one step key: `clock` and `fault` [split it into one step per key, each starting with `- `]",
            ],
        ),
        step(
            "missing required login keys",
            "  - login: { save_as: x }\n",
            &[
                "3:12: `as` is required [add `as: ROLE/SESSION` (or USER, USER/ACCESS_KEY_ID) from the identity fixtures]",
                "3:12: `method` is required [add `method: <auth method name>`]",
            ],
        ),
        step(
            "step key without a value where keys are required",
            "  - login:\n  - clock:\n",
            &[
                "3:10: `as` is required [add `as: ROLE/SESSION` (or USER, USER/ACCESS_KEY_ID) from the identity fixtures]",
                "3:10: `method` is required [add `method: <auth method name>`]",
                "4:10: `advance` is required [add `advance: 16m` (a Go-style duration; negative goes back)]",
            ],
        ),
        step(
            "typo in a login key does not also report it missing",
            "  - login: { as: r/s, mehtod: m }\n",
            &["3:23: unknown key `mehtod` [did you mean `method`?]"],
        ),
        step(
            "invalid as syntax",
            "  - login: { as: role/session/extra, method: m }\n",
            &[
                "3:18: invalid `as` value `role/session/extra` [write ROLE/SESSION, USER or USER/ACCESS_KEY_ID using IAM name characters (letters, digits, +=,.@_-)]",
            ],
        ),
        step(
            "as with a space",
            "  - login: { as: \"web task\", method: m }\n",
            &[
                "3:18: invalid `as` value `web task` [write ROLE/SESSION, USER or USER/ACCESS_KEY_ID using IAM name characters (letters, digits, +=,.@_-)]",
            ],
        ),
        step(
            "unknown enum value",
            "  - login: { as: r/s, method: m, credentials: envv }\n",
            &[
                "3:47: unknown value `envv` [did you mean `env`? expected one of `env`, `flags`, `shared-file`, `ecs`]",
            ],
        ),
        step(
            "wrong type for a bool",
            "  - login: { as: r/s, method: m, include_entity: \"yes\" }\n",
            &["3:50: expected a boolean, found string \"yes\""],
        ),
        step(
            "bad endpoint",
            "  - login: { as: r/s, method: m, sts_endpoint: sts.amazonaws.com }\n",
            &[
                "3:48: invalid endpoint `sts.amazonaws.com` [use `emulator`, `aws` or a URL starting with http:// or https://]",
            ],
        ),
        step(
            "bad region",
            "  - login: { as: r/s, method: m, region: US East }\n",
            &["3:42: invalid region `US East` [write a region name such as `us-east-1`]"],
        ),
        step(
            "namespace without enterprise",
            "  - login: { as: r/s, method: m, namespace: team-a }\n",
            &["3:45: `namespace` needs Consul Enterprise [add `enterprise` to `requires`]"],
        ),
        step(
            "reserved save_as",
            "  - login: { as: r/s, method: m, save_as: none }\n",
            &["3:43: `none` is a reserved word [choose another name, e.g. `service`]"],
        ),
        step(
            "invalid save_as",
            "  - login: { as: r/s, method: m, save_as: My Token }\n",
            &[
                "3:43: invalid token name `My Token` [use lowercase letters, digits, `-` and `_`, e.g. `service`]",
            ],
        ),
        step(
            "error with ok: true",
            "  - login: { as: r/s, method: m }\n    expect: { ok: true, error: denied }\n",
            &[
                "4:19: `ok: true` contradicts `error` [an expected error implies `ok: false`; remove one of them]",
            ],
        ),
        step(
            "token expectation on a failing login",
            "  - login: { as: r/s, method: m }\n    expect: { ok: false, token: { Local: true } }\n",
            &[
                "4:33: `token` expectations need a successful login [remove `token`, or expect `ok: true`]",
            ],
        ),
        step(
            "empty error substring",
            "  - login: { as: r/s, method: m }\n    expect: { error: \"\" }\n",
            &["4:22: `error` is empty [give a substring of the expected error, or remove `error`]"],
        ),
        step(
            "api expectation on a login",
            "  - login: { as: r/s, method: m }\n    expect: { status: 200 }\n",
            &[
                "4:23: `status` does not apply to `login` steps [`status` applies to api steps; here use `ok`, `error`, `token`, `sent`]",
            ],
        ),
        step(
            "token expectation on a logout",
            "  - login: { as: r/s, method: m }\n  - logout: {}\n    expect: { token: {} }\n",
            &[
                "5:22: `token` does not apply to `logout` steps [`token` applies to login and replay steps; here use `ok`, `error`]",
            ],
        ),
        step(
            "unknown expect key",
            "  - login: { as: r/s, method: m }\n    expect: { okay: true }\n",
            &["4:15: unknown key `okay` [did you mean `ok`?]"],
        ),
        step(
            "expect on a step that takes none",
            "  - clock: { advance: 1m }\n    expect: { ok: true }\n",
            &[
                "4:13: `clock` steps take no `expect` [the `clock` step is itself the check; remove `expect`]",
            ],
        ),
        step(
            "bad duration unit",
            "  - clock: { advance: 16min }\n",
            &[
                "3:23: unknown unit `min` in duration `16min` [did you mean `m`? write a number and a unit, repeated: `90s`, `16m`, `1h30m`, `-20m`; units are ns, us, ms, s, m, h]",
            ],
        ),
        step(
            "duration without unit",
            "  - clock: { advance: 90 }\n",
            &["3:23: expected a string, found integer `90` [quote the value to make it a string]"],
        ),
        step(
            "duration string without unit",
            "  - clock: { advance: \"90\" }\n",
            &[
                "3:23: missing unit in duration `90` [write a number and a unit, repeated: `90s`, `16m`, `1h30m`, `-20m`; units are ns, us, ms, s, m, h]",
            ],
        ),
        step(
            "fault with status and delay",
            "  - fault: { service: sts, status: 503, delay: 2s }\n",
            &["3:48: a fault has either `status` or `delay`, not both [use two fault steps]"],
        ),
        step(
            "fault with a success status",
            "  - fault: { service: iam, status: 200 }\n",
            &["3:36: fault status 200 is not an error status [use 400–599, e.g. 503 or 429]"],
        ),
        step(
            "unknown fault service",
            "  - fault: { service: ecs, status: 503 }\n",
            &["3:23: unknown value `ecs` [expected one of `sts`, `iam`, `any`]"],
        ),
        step(
            "fault without an action",
            "  - fault: { service: sts, count: 0 }\n",
            &[
                "3:12: a fault needs `status` or `delay` [e.g. `status: 503` or `delay: 2s`]",
                "3:35: `count` must be at least 1 [remove the fault step instead of using 0]",
            ],
        ),
        step(
            "status out of range for u16",
            "  - api: { method: GET, path: /v1/agent/self }\n    expect: { status: 70000 }\n",
            &["4:23: invalid value integer `70000`, expected u16"],
        ),
        step(
            "api method, path and token",
            "  - api: { method: FETCH, path: v1/acl, token: management2 }\n",
            &[
                "3:20: unknown HTTP method `FETCH` [expected one of `GET`, `PUT`, `POST`, `DELETE`, `HEAD`, `PATCH`]",
                "3:33: invalid path `v1/acl` [write an absolute path such as `/v1/acl/binding-rule`, without spaces]",
                "3:48: token `management2` is not defined by an earlier login [an earlier `login` step must have `save_as: management2`]",
            ],
        ),
        step(
            "saved name used before it is defined",
            "  - logout: { token: svc }\n  - login: { as: r/s, method: m, save_as: svc }\n",
            &[
                "3:22: token `svc` is not defined by an earlier login [an earlier `login` step must have `save_as: svc`]",
            ],
        ),
        step(
            "saved name with a typo",
            "  - login: { as: r/s, method: m, save_as: service }\n  - expect_token: { token: servcie, works: true }\n",
            &["4:28: token `servcie` is not defined by an earlier login [did you mean `service`?]"],
        ),
        step(
            "default token without a login",
            "  - logout: {}\n",
            &[
                "3:5: token `default` is not defined by an earlier login [no earlier login saved a token; add a `login` step before this one, or name a token with `token:`]",
            ],
        ),
        step(
            "management token cannot be logged out",
            "  - logout: { token: management }\n",
            &[
                "3:22: logging out the management token is not allowed [log out a token saved by a login, `none` or `bogus`]",
            ],
        ),
        step(
            "replay of a reserved word",
            "  - replay: { token: bogus }\n",
            &[
                "3:22: `bogus` cannot be used here [name a token saved by an earlier login (`save_as`)]",
            ],
        ),
        step(
            "expect_token without works",
            "  - login: { as: r/s, method: m }\n  - expect_token: {}\n",
            &["4:19: `works` is required [add `works: true` or `works: false`]"],
        ),
        step(
            "expect_audit without the audit log",
            "  - expect_audit: { contains: [{ stage: OperationComplete }] }\n",
            &["3:19: `expect_audit` needs the audit log [set `consul.audit: true`]"],
        ),
        step(
            "expect_no_secrets takes no keys",
            "  - expect_no_secrets: { all: true }\n",
            &["3:26: unknown key `all` [this mapping takes no keys; write `{}`]"],
        ),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let got = problems(&c.text);
        if got != c.want {
            failures.push(format!(
                "{}:\n  text: {:?}\n  want: {:#?}\n  got:  {:#?}",
                c.what, c.text, c.want, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn all_problems_in_a_file_are_reported_at_once_in_file_order() {
    let text = "\
nmae: broken
tags: [a, a]
requires: [enterprize]
consul:
  audti: true
steps:
  - login: { as: web task, method: m, include_entity: maybe }
    expect: { ok: true, error: x }
  - clock: { advance: 5 minutes }
  - fault: { service: sts, status: 200 }
  - logout: { token: nobody }
  - expect_no_secrets: {}
";
    let got = problems(text);
    assert_eq!(
        got,
        [
            "1:1: unknown key `nmae` [did you mean `name`?]",
            "2:11: duplicate tag `a` [remove the repeated tag]",
            "3:12: unknown requirement `enterprize` [did you mean `enterprise`? expected one of `enterprise`, `docker`]",
            "5:3: unknown key `audti` [did you mean `audit`?]",
            "7:18: invalid `as` value `web task` [write ROLE/SESSION, USER or USER/ACCESS_KEY_ID using IAM name characters (letters, digits, +=,.@_-)]",
            "7:55: expected a boolean, found string \"maybe\"",
            "8:19: `ok: true` contradicts `error` [an expected error implies `ok: false`; remove one of them]",
            "9:23: invalid duration `5 minutes` [write a number and a unit, repeated: `90s`, `16m`, `1h30m`, `-20m`; units are ns, us, ms, s, m, h]",
            "10:36: fault status 200 is not an error status [use 400–599, e.g. 503 or 429]",
        ]
    );
}

#[test]
fn diagnostics_render_as_path_line_col_with_help() {
    let err = load_str(
        Path::new("scenarios/login/x.yaml"),
        "name: n\nsteps:\n  - clokc: {}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "scenarios/login/x.yaml:3:5: error: unknown key `clokc` [did you mean `clock`?]"
            .replace(" [", "\n  help: ")
            .replace(']', "")
    );
}

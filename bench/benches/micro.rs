//! Criterion micro-benchmarks of the pure cores: SigV4 verification, Authorization parsing,
//! signing-key derivation, bexpr selectors, HIL bind names, and aws-iam bearer-token checking
//! and validation (the latter with its replay to the AWS emulator on loopback). Results and
//! the command are in `docs/performance.md` ("Micro-benchmarks"). Inputs come from the
//! `iamconform_bench` library, whose tests check they take the intended path (a valid
//! signature, matching selectors, a token that logs in).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iamconform_bench::{
    CONSUL_ECS_SELECTORS, SECRET_ACCESS_KEY, aws_iam_login, aws_iam_schema, credential_store,
    get_caller_identity, mesh_gateway_identity, mesh_gateway_vars, signing_time,
};
use iamconform_bexpr::{Evaluator, parse};
use iamconform_sigv4::{Policy, derive_signing_key, parse_auth, verify};

#[expect(
    clippy::expect_used,
    reason = "a fixture that cannot be built is a broken benchmark, not input"
)]
fn sigv4(c: &mut Criterion) {
    let req = get_caller_identity().expect("the benchmark request signs");
    let headers = req.header_refs();
    let signed = req.signed(&headers);
    let store = credential_store();
    let policy = Policy::default();
    let now = signing_time();
    let mut g = c.benchmark_group("sigv4");
    g.bench_function("verify_get_caller_identity", |b| {
        b.iter(|| verify(black_box(&signed), &policy, now, &store))
    });
    g.bench_function("parse_auth", |b| b.iter(|| parse_auth(black_box(&signed))));
    g.bench_function("derive_signing_key", |b| {
        b.iter(|| {
            derive_signing_key(
                black_box(SECRET_ACCESS_KEY),
                black_box("20260101"),
                "us-east-1",
                "sts",
            )
        })
    });
    g.finish();
}

#[expect(
    clippy::expect_used,
    reason = "a fixture that cannot be built is a broken benchmark, not input"
)]
fn bexpr(c: &mut Criterion) {
    let schema = aws_iam_schema();
    let data = mesh_gateway_identity();
    let evaluators: Vec<Evaluator> = CONSUL_ECS_SELECTORS
        .iter()
        .map(|s| Evaluator::new(s, &schema).expect("the consul-ecs selectors compile"))
        .collect();
    let mut g = c.benchmark_group("bexpr");
    // What a login does per binding rule: evaluate an already compiled selector.
    g.bench_function("evaluate_consul_ecs_rules", |b| {
        b.iter(|| {
            evaluators
                .iter()
                .filter(|e| e.evaluate(black_box(&data)).unwrap_or(false))
                .count()
        })
    });
    // What creating a binding rule (or a login without a cache) does: parse + check.
    g.bench_function("compile_consul_ecs_rules", |b| {
        b.iter(|| {
            CONSUL_ECS_SELECTORS
                .iter()
                .filter_map(|s| Evaluator::new(black_box(s), &schema).ok())
                .count()
        })
    });
    g.bench_function("parse_compound", |b| {
        b.iter(|| {
            parse(black_box(
                r#"entity_name == "my-role" and (entity_id != "x" or not entity_tags["team"] == "web") and account_id matches "^1234""#,
            ))
        })
    });
    g.finish();
}

fn hil(c: &mut Criterion) {
    let vars = mesh_gateway_vars();
    let mut g = c.benchmark_group("hil");
    g.bench_function("service_name_from_tag", |b| {
        b.iter(|| {
            iamconform_hil::interpolate(
                black_box("${entity_tags.consul.hashicorp.com.service-name}"),
                &vars,
                true,
            )
        })
    });
    g.bench_function("three_variables", |b| {
        b.iter(|| {
            iamconform_hil::interpolate(
                black_box("${entity_name}-${entity_id}-${account_id}"),
                &vars,
                true,
            )
        })
    });
    g.bench_function("no_interpolation", |b| {
        b.iter(|| {
            iamconform_hil::interpolate(black_box("consul-ecs-mesh-gateway-role"), &vars, true)
        })
    });
    g.finish();
}

#[expect(
    clippy::expect_used,
    reason = "a fixture that cannot be built is a broken benchmark, not input"
)]
fn aws_iam(c: &mut Criterion) {
    // The AWS emulator the login replays to runs on this runtime's workers; the benchmark
    // thread drives each login with `block_on`, as a Consul request handler would await it.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let login = rt
        .block_on(aws_iam_login())
        .expect("the aws-iam login fixture sets up");
    let token = login.bearer_token.expose();
    let mut g = c.benchmark_group("aws_iam");
    // Decoding and every check Consul makes before contacting AWS.
    g.bench_function("check_bearer_token", |b| {
        b.iter(|| login.validator.check_token(black_box(token)))
    });
    // The whole validation: the checks, then both signed requests replayed over loopback HTTP
    // to the AWS emulator (which verifies them), their XML answers parsed, trust decided.
    g.bench_function("validate_login", |b| {
        b.iter(|| rt.block_on(login.validator.validate_login(black_box(token))))
    });
    g.finish();
}

criterion_group!(benches, sigv4, bexpr, hil, aws_iam);
criterion_main!(benches);

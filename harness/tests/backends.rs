#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! The real-Consul backends through the `iamconform` binary.
//!
//! - Unavailable backends skip every scenario with a one-line reason (no engine, no `consul`
//!   binary, image not pullable, no licence).
//! - `--backend local` runs scenarios on `consul agent -dev` processes; here the `consul` on
//!   the path is a shim that runs the stand-in entrypoint (`iamconform-consul-standin`).
//! - `--backend docker` runs scenarios in containers of the stand-in image
//!   (`scripts/docker-standin`), compared scenario by scenario with the embedded backend, and
//!   leaves no container behind, also after Ctrl-C.
//!
//! Tests that need a Docker engine skip (with a message) when `docker info` fails, unless
//! `IAMCONFORM_REQUIRE_DOCKER=1`, which makes them fail instead. Only loopback is used: the
//! "not pullable" case pulls from `127.0.0.1:1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// Docker tests share the engine and count its containers: one at a time.
static DOCKER: Mutex<()> = Mutex::new(());

const LABEL: &str = "io.iamconform.backend";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn iamconform(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iamconform"));
    c.args(args)
        .current_dir(repo())
        .env_remove("CONSUL_LICENSE")
        .env_remove("CONSUL_LICENSE_PATH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn docker_available() -> bool {
    let up = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !up {
        assert!(
            std::env::var("IAMCONFORM_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "IAMCONFORM_REQUIRE_DOCKER=1 but `docker info` fails: start a Docker engine"
        );
        eprintln!(
            "skipped: no Docker engine (`docker info` fails); set IAMCONFORM_REQUIRE_DOCKER=1 to make this a failure"
        );
    }
    up
}

fn our_containers() -> usize {
    let o = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={LABEL}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// The stand-in image: `IAMCONFORM_STANDIN_IMAGE` when CI built it, else built here from this
/// test's own binaries.
fn standin_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE.get_or_init(build_standin_image).clone()
}

fn build_standin_image() -> String {
    if let Ok(image) = std::env::var("IAMCONFORM_STANDIN_IMAGE") {
        return image;
    }
    let image = "iamconform/consul-standin:test".to_string();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_iamconform"))
        .parent()
        .unwrap();
    let o = Command::new(repo().join("scripts/docker-standin"))
        .arg(bin_dir)
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scripts/docker-standin failed: {}",
        text(&o)
    );
    image
}

#[test]
fn docker_without_an_engine_skips_with_the_reason() {
    let o = iamconform(
        &[
            "run",
            "--backend",
            "docker",
            "scenarios/logout/no-token.yaml",
        ],
        &[(
            "DOCKER_HOST",
            "unix:///nonexistent/iamconform-test/docker.sock",
        )],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("no Docker engine"), "{out}");
    assert!(out.contains("install Docker"), "{out}");
    assert!(out.contains("0 passed, 0 failed, 1 skipped"), "{out}");
}

#[test]
fn local_without_consul_skips_with_the_reason() {
    let o = iamconform(
        &[
            "run",
            "--backend",
            "local",
            "scenarios/logout/no-token.yaml",
        ],
        &[("PATH", "/nonexistent")],
    );
    let out = text(&o);
    assert!(out.contains("no `consul` binary on PATH"), "{out}");
    assert!(out.contains("0 passed, 0 failed, 1 skipped"), "{out}");
    let o = iamconform(
        &[
            "run",
            "--backend",
            "local",
            "--consul-bin",
            "/nonexistent/consul",
            "scenarios/logout/no-token.yaml",
        ],
        &[],
    );
    assert!(
        text(&o).contains("--consul-bin /nonexistent/consul: no such file"),
        "{}",
        text(&o)
    );
}

#[test]
fn compare_rejects_one_backend_and_the_same_backend_twice() {
    let o = iamconform(&["run", "--compare", "embedded"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = iamconform(&["run", "--compare", "docker,docker"], &[]);
    assert!(text(&o).contains("itself"), "{}", text(&o));
}

/// A `consul` that is the stand-in: proves the local backend's start, readiness, reset between
/// scenarios (one agent serves several scenarios) and cleanup without a Consul binary.
#[cfg(unix)]
#[test]
fn local_backend_runs_scenarios_on_a_consul_agent() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let shim = dir.path().join("consul");
    let standin =
        Path::new(env!("CARGO_BIN_EXE_iamconform")).with_file_name("iamconform-consul-standin");
    std::fs::write(
        &shim,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", standin.display()),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = iamconform(
        &[
            "run",
            "--compare",
            "embedded,local",
            "--consul-bin",
            shim.to_str().unwrap(),
            "--jobs",
            "2",
            "scenarios/logout",
        ],
        &[],
    );
    let out = text(&o);
    assert!(out.contains("== backend local"), "{out}");
    assert!(out.contains(" 0 different"), "{out}");
    assert!(
        !out.contains("skipped on either backend") || out.contains(" 0 skipped on either"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(0), "{out}");
}

#[test]
fn docker_image_not_pullable_skips_with_the_reason() {
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    if !docker_available() {
        return;
    }
    // A registry on a closed loopback port: the pull fails at once and nothing leaves the host.
    let o = iamconform(
        &[
            "run",
            "--backend",
            "docker",
            "--consul-image",
            "127.0.0.1:1/hashicorp/consul:1.21.5",
            "scenarios/logout/no-token.yaml",
        ],
        &[],
    );
    let out = text(&o);
    assert!(
        out.contains(
            "image 127.0.0.1:1/hashicorp/consul:1.21.5 is not available and cannot be pulled"
        ),
        "{out}"
    );
    assert!(out.contains("0 passed, 0 failed, 1 skipped"), "{out}");
}

#[test]
fn docker_enterprise_without_a_licence_skips_with_the_reason() {
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    if !docker_available() {
        return;
    }
    // An image without the stand-in label stands for a real Enterprise image.
    let image = "iamconform/unlabelled:test";
    let empty = tempfile::tempdir().unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(empty.path())
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    let mut import = Command::new("docker")
        .args(["import", "-", image])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut import.stdin.take().unwrap(), &tar.stdout).unwrap();
    assert!(import.wait().unwrap().success());
    let o = iamconform(
        &[
            "run",
            "--backend",
            "docker",
            "--enterprise",
            "--consul-image",
            image,
            "scenarios/logout/no-token.yaml",
        ],
        &[],
    );
    let out = text(&o);
    assert!(
        out.contains("no Consul Enterprise licence: set CONSUL_LICENSE"),
        "{out}"
    );
    assert!(out.contains("0 passed, 0 failed, 1 skipped"), "{out}");
    // The same image cannot start (it has no program): the scenario fails with the engine's
    // words, and the container that was created is removed.
    let before = our_containers();
    let o = iamconform(
        &[
            "run",
            "--backend",
            "docker",
            "--consul-image",
            image,
            "scenarios/logout/no-token.yaml",
        ],
        &[],
    );
    let out = text(&o);
    assert!(
        out.contains("cannot start a Consul container from iamconform/unlabelled:test"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(100), "{out}");
    assert_eq!(
        our_containers(),
        before,
        "a container that failed to start was left behind"
    );
}

#[test]
fn docker_backend_matches_embedded_on_the_standin_and_removes_its_containers() {
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    if !docker_available() {
        return;
    }
    let image = standin_image();
    let before = our_containers();
    let since = engine_time();
    let o = iamconform(
        &[
            "run",
            "--compare",
            "embedded,docker",
            "--consul-image",
            &image,
            "--jobs",
            "2",
            "scenarios/logout",
        ],
        &[],
    );
    let out = text(&o);
    assert!(out.contains("== backend docker"), "{out}");
    assert!(
        out.contains(" 0 different, 0 skipped on either backend"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(0), "{out}");
    // One container per worker, reset between scenarios: 6 scenarios, 2 jobs, at most 2 starts.
    let scenarios = std::fs::read_dir(repo().join("scenarios/logout"))
        .unwrap()
        .count();
    let created = containers_created_since(&since);
    assert!(
        scenarios > 2 && (1..=2).contains(&created),
        "{created} containers for {scenarios} scenarios"
    );
    // Enterprise with the audit log: a dedicated container with a bind-mounted log directory.
    let o = iamconform(
        &[
            "run",
            "--backend",
            "docker",
            "--enterprise",
            "--consul-image",
            &image,
            "scenarios/audit",
        ],
        &[],
    );
    let out = text(&o);
    assert!(out.contains(" 0 failed, 0 skipped"), "{out}");
    assert_eq!(our_containers(), before, "containers left behind");
}

#[cfg(unix)]
#[test]
fn docker_containers_are_removed_on_ctrl_c() {
    let _one = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    if !docker_available() {
        return;
    }
    let image = standin_image();
    let before = our_containers();
    // A client that never finishes keeps the container leased until the signal.
    let dir = tempfile::tempdir().unwrap();
    let adapter = dir.path().join("hang.toml");
    std::fs::write(&adapter, "name = \"hang\"\n[login]\nargv = [\"sleep\", \"600\"]\n[logout]\nargv = [\"sleep\", \"600\"]\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamconform"))
        .args([
            "run",
            "--backend",
            "docker",
            "--consul-image",
            &image,
            "--client",
        ])
        .arg(&adapter)
        .arg("scenarios/logout/token-stops-working.yaml")
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the client runs: the container is up and leased by then, and the
    // watchdog that removes containers on signals is installed.
    let mut leased = false;
    for _ in 0..600 {
        if our_containers() > before && has_children(child.id()) {
            leased = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if !leased {
        let _ = child.kill();
        panic!("the client never started (the adapter may be invalid: run the command by hand)");
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
    assert_eq!(
        our_containers(),
        before,
        "containers left behind after Ctrl-C"
    );
}

/// Whether a process has a child (Linux `/proc`).
#[cfg(unix)]
fn has_children(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("children")).is_ok_and(|c| !c.trim().is_empty())
    })
}

/// The CI templates of `ci/` are valid YAML in a consistent style (yamllint) and valid
/// workflow files (check-jsonschema's vendored GitHub and GitLab schemas). The linters come
/// from `.venv` (`.ci/run` installs them); without them the test skips, unless
/// `IAMCONFORM_REQUIRE_INTEROP=1`.
#[test]
fn ci_templates_pass_yaml_and_schema_linters() {
    let venv = repo().join(".venv/bin");
    let (schema, yamllint) = (venv.join("check-jsonschema"), venv.join("yamllint"));
    if !schema.is_file() || !yamllint.is_file() {
        assert!(
            std::env::var("IAMCONFORM_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "IAMCONFORM_REQUIRE_INTEROP=1 but .venv lacks check-jsonschema or yamllint: `.venv/bin/pip install check-jsonschema yamllint`"
        );
        eprintln!("skipped: .venv/bin/check-jsonschema or .venv/bin/yamllint missing");
        return;
    }
    let templates = [
        ("ci/github/iamconform.yml", "vendor.github-workflows"),
        ("ci/gitlab/iamconform.gitlab-ci.yml", "vendor.gitlab-ci"),
    ];
    let style = "{extends: default, rules: {line-length: disable, document-start: disable, \
                 truthy: {check-keys: false}, braces: {max-spaces-inside: 1}}}";
    for (file, builtin) in templates {
        let o = Command::new(&schema)
            .args(["--builtin-schema", builtin, file])
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(o.status.success(), "check-jsonschema {file}: {}", text(&o));
        let o = Command::new(&yamllint)
            .args(["-s", "-d", style, file])
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(o.status.success(), "yamllint {file}: {}", text(&o));
    }
}

/// The engine's clock, for `docker events --since`.
fn engine_time() -> String {
    let o = Command::new("docker")
        .args(["info", "--format", "{{.SystemTime}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn containers_created_since(since: &str) -> usize {
    let until = engine_time();
    let o = Command::new("docker")
        .args([
            "events",
            "--since",
            since,
            "--until",
            &until,
            "--filter",
            "event=create",
            "--filter",
        ])
        .arg(format!("label={LABEL}"))
        .args(["--format", "{{.ID}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

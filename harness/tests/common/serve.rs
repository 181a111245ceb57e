//! `iamconform serve` as a user starts it: the real binary, its ready line, its signals.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use iamconform::http::ConsulHttp;
use iamconform_secret::Secret;
use serde_json::Value;

/// The `iamconform` binary built for these tests, run from the repository root.
pub(crate) fn bin() -> Command {
    command(env!("CARGO_BIN_EXE_iamconform"))
}

/// `exe` (an `iamconform` binary, possibly a copy) run from the repository root, with no
/// inherited management token or mutant and quiet logs.
pub(crate) fn command(exe: &str) -> Command {
    let mut c = Command::new(exe);
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    c.env_remove("IAMCONFORM_MANAGEMENT_TOKEN")
        .env_remove("IAMCONFORM_MUTANT")
        .env("RUST_LOG", "warn");
    c
}

/// A running `iamconform serve` and its ready line; killed when dropped.
pub(crate) struct Serve {
    child: Child,
    pub(crate) ready: Value,
}

impl Serve {
    /// Starts `serve` with these extra flags and waits for its ready line.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::spawn(bin(), args)
    }

    pub(crate) fn spawn(mut command: Command, args: &[&str]) -> Self {
        let mut child = command
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready = serde_json::from_str::<Value>(&line);
        assert!(ready.is_ok(), "no ready line: {line:?}");
        let ready = ready.unwrap();
        Self { child, ready }
    }

    pub(crate) fn consul(&self) -> ConsulHttp {
        ConsulHttp::new(self.ready["consul"].as_str().unwrap())
    }

    pub(crate) fn management(&self) -> Secret<String> {
        Secret::new(
            self.ready["consul_management_token"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    pub(crate) fn aws_addr(&self) -> SocketAddr {
        let sts = self.ready["sts"].as_str().unwrap();
        sts.trim_start_matches("http://").parse().unwrap()
    }

    /// SIGKILL: no shutdown code runs.
    pub(crate) fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and the process must exit 0.
    pub(crate) fn stop(mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(self.child.wait().unwrap().code(), Some(0));
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

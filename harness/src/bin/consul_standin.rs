//! `iamconform-consul-standin`: the entrypoint of the stand-in Consul image (scripts/docker-standin).
//!
//! It takes what `hashicorp/consul`'s entrypoint takes (`agent -dev …`, `CONSUL_LOCAL_CONFIG`,
//! `CONSUL_LICENSE`) and runs `iamconform serve` with the same ports, token, Enterprise mode
//! and audit log, so the docker backend starts it with the same code as real Consul.

use std::process::ExitCode;

use iamconform::backend::docker::standin;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let config = std::env::var("CONSUL_LOCAL_CONFIG").ok();
    let licensed = std::env::var("CONSUL_LICENSE").is_ok_and(|l| !l.trim().is_empty());
    let plan = match standin::serve_args(&argv, config.as_deref(), licensed) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("iamconform-consul-standin: {e}");
            return ExitCode::from(2);
        }
    };
    let exe = std::env::var_os("IAMCONFORM_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("iamconform")))
                .unwrap_or_else(|| "iamconform".into())
        });
    let mut command = std::process::Command::new(&exe);
    command
        .args(&plan.args)
        .env_remove("CONSUL_LOCAL_CONFIG")
        .env_remove("CONSUL_LICENSE");
    if let Some(token) = plan.management_token {
        command.env("IAMCONFORM_MANAGEMENT_TOKEN", token);
    }
    eprintln!(
        "iamconform-consul-standin: {} {}",
        exe.display(),
        plan.args.join(" ")
    );
    // The stand-in announces readiness like Consul, for anyone waiting on the log.
    eprintln!("==> Consul agent running! (iamconform stand-in)");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = command.exec();
        eprintln!(
            "iamconform-consul-standin: cannot run {}: {e}",
            exe.display()
        );
        ExitCode::from(1)
    }
    #[cfg(not(unix))]
    match command.status() {
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!(
                "iamconform-consul-standin: cannot run {}: {e}",
                exe.display()
            );
            ExitCode::from(1)
        }
    }
}

//! The `iamconform` command line. Each subcommand translates its flags into library calls;
//! no rule lives here.

pub mod exit;
mod inspect;
mod lint;
mod run;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Offline conformance harness for clients of Consul's aws-iam auth method.
#[derive(Debug, Parser)]
#[command(name = "iamconform", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios against a client (default: the reference client on the embedded Consul).
    Run(run::RunArgs),
    /// Run the emulators for offline development; prints one JSON line with the endpoints.
    Serve(serve::ServeArgs),
    /// The reference client: the aws-iam part of `consul login` (same flags).
    #[command(disable_help_flag = true)]
    Login {
        /// `consul login` flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The reference client's `consul logout`.
    #[command(disable_help_flag = true)]
    Logout {
        /// `consul logout` flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check scenario files and report every problem as file:line:col.
    Lint {
        /// Files or directories (default: scenarios/).
        paths: Vec<PathBuf>,
    },
    /// Write a commented starting scenario to NAME (a path; `.yaml` is added when missing).
    New {
        /// Where to write it.
        name: PathBuf,
    },
    /// Print the JSON Schema of scenario files (for editors).
    Schema,
    /// Decode a bearer token and list every check it fails, without any AWS access.
    Inspect(inspect::InspectArgs),
    /// Run one login (and optionally logout) of a client and write a scenario pinning what happened.
    Record(inspect::RecordArgs),
    /// Re-render the failures of a JSON report (`run --json FILE`) as diagnoses.
    Explain {
        /// The JSON report.
        report: PathBuf,
    },
    /// List the scenarios that would run.
    List {
        /// Files or directories (default: scenarios/).
        paths: Vec<PathBuf>,
        /// Only scenarios whose path, name or tag contains this.
        #[arg(long)]
        filter: Option<String>,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // `login`/`logout` take Go-style single-dash flags, parsed by the reference client itself.
    match args.get(1).map(String::as_str) {
        Some("login") => return code(iamconform_login::run_login(args[2..].to_vec())),
        Some("logout") => return code(iamconform_login::run_logout(args[2..].to_vec())),
        _ => {}
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match cli.command {
        Command::Run(args) => run::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Login { args } => code(iamconform_login::run_login(args)),
        Command::Logout { args } => code(iamconform_login::run_logout(args)),
        Command::Lint { paths } => lint::lint(paths),
        Command::New { name } => lint::new(name),
        Command::Schema => lint::schema(),
        Command::List { paths, filter } => lint::list(paths, filter),
        Command::Inspect(args) => inspect::main(args),
        Command::Explain { report } => inspect::explain(&report),
        Command::Record(args) => inspect::record(args),
    }
}

fn code(c: i32) -> ExitCode {
    ExitCode::from(u8::try_from(c).unwrap_or(exit::INTERNAL))
}

/// The default scenario directory: `scenarios/` in the current directory.
fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths
    }
}

/// Where the shipped fixtures are: `IAMCONFORM_FIXTURES_DIR`, else `fixtures/` in the current
/// directory, else next to the repository the binary was built from.
pub(crate) fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IAMCONFORM_FIXTURES_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("fixtures");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

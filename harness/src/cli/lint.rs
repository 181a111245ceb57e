//! `iamconform lint`, `new`, `schema` and `list`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{default_paths, exit};
use crate::plan::{Filter, discover};

pub(super) fn lint(paths: Vec<PathBuf>) -> ExitCode {
    let files = match discover(&default_paths(paths)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("iamconform: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let mut bad = 0usize;
    for file in &files {
        if let Err(diags) = iamconform_scenario::load_file(&file.path) {
            bad += 1;
            eprintln!("{diags}");
        }
    }
    if bad == 0 {
        println!("iamconform lint: {} file(s) ok", files.len());
        ExitCode::from(exit::OK)
    } else {
        eprintln!(
            "iamconform lint: {bad} of {} file(s) have problems",
            files.len()
        );
        ExitCode::from(exit::USAGE)
    }
}

pub(super) fn new(name: PathBuf) -> ExitCode {
    let path = if name.extension().is_some() {
        name
    } else {
        name.with_extension("yaml")
    };
    if path.exists() {
        eprintln!(
            "iamconform new: {} already exists; choose another name",
            path.display()
        );
        return ExitCode::from(exit::USAGE);
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_default();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        eprintln!("iamconform new: cannot create {}: {e}", parent.display());
        return ExitCode::from(exit::INTERNAL);
    }
    match std::fs::write(&path, iamconform_scenario::new_scenario_template(&stem)) {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("iamconform new: cannot write {}: {e}", path.display());
            ExitCode::from(exit::INTERNAL)
        }
    }
}

pub(super) fn schema() -> ExitCode {
    match serde_json::to_string_pretty(&iamconform_scenario::json_schema()) {
        Ok(text) => {
            println!("{text}");
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("iamconform schema: {e}");
            ExitCode::from(exit::INTERNAL)
        }
    }
}

pub(super) fn list(paths: Vec<PathBuf>, filter: Option<String>) -> ExitCode {
    let files = match discover(&default_paths(paths)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("iamconform: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let filter = filter.as_deref().map(Filter::parse);
    let mut invalid = false;
    for file in files {
        match iamconform_scenario::load_file(&file.path) {
            Ok(s) => {
                if filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&file.id, &s.name, &s.tags))
                {
                    let line = format!("{}\t{}\t[{}]", file.id, s.name, s.tags.join(", "));
                    // A closed pipe (`iamconform list | head`) ends the listing quietly.
                    if writeln!(std::io::stdout(), "{line}").is_err() {
                        return ExitCode::from(exit::OK);
                    }
                }
            }
            Err(diags) => {
                invalid = true;
                eprintln!("{diags}");
            }
        }
    }
    ExitCode::from(if invalid { exit::USAGE } else { exit::OK })
}

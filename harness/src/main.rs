//! The `iamconform` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    iamconform::cli::main()
}

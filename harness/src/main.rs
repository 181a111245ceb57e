//! The `iamconform` binary; everything lives in the library.

// mimalloc instead of glibc's malloc: a login allocates a few hundred blocks (Go-compatible
// JSON and XML decoding, HTTP clients), where glibc's malloc and free were a fifth of the
// CPU. docs/performance.md, "Allocator", has the figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    iamconform::cli::main()
}

//! The `rubric` binary.

/// mimalloc rather than the system allocator: a run allocates millions of small facts, strings
/// and rows, and glibc's malloc and free took about a quarter of a scheduled round's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rubric::cli::main()
}

//! The `rubric` binary.

/// mimalloc instead of the system allocator: an evaluation allocates and frees many small
/// values per rule, and glibc's malloc spent a large share of a 10,000-entity run in
/// consolidation and page faults.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rubric::cli::main()
}

//! Decides whether the PostgreSQL store tests run or are reported as ignored.
//!
//! `cfg(rubric_postgres_tests)` is set when `RUBRIC_TEST_POSTGRES_URL` is set or `CI` is true
//! (`.ci/run` starts a server with `scripts/ci-postgres.sh`). Without it, plain `cargo test`
//! lists each PostgreSQL test as `ignored, <how to run it>` and counts it in the summary's
//! "N ignored"; with it, those tests run and fail loudly when the server cannot be reached.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rubric_postgres_tests)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=RUBRIC_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    let url = std::env::var_os("RUBRIC_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty());
    let ci = std::env::var("CI").is_ok_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no"
        )
    });
    if url || ci {
        println!("cargo::rustc-cfg=rubric_postgres_tests");
    }
}

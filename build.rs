//! Decides whether the tests that need something installed run or are reported as ignored.
//!
//! `cfg(rubric_postgres_tests)` is set when `RUBRIC_TEST_POSTGRES_URL` is set or `CI` is true
//! (`.ci/run` starts a server with `scripts/ci-postgres.sh`); `cfg(rubric_client_tests)` when
//! one of `RUBRIC_TEST_UPLOAD_CLIENTS`, `RUBRIC_TEST_BACKSTAGE_CLIENTS` or `RUBRIC_TEST_CORTEX_CLI`
//! is set or `CI` is true (`.ci/run` installs the real uploaders, the Backstage and RHDH clients
//! and the Cortex CLI with the `scripts/ci-*.sh` installers). Without them, plain `cargo test` lists each such test as
//! `ignored, <how to run it>` and counts it in the summary's "N ignored"; with them, those tests
//! run and fail loudly when what they need is missing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rubric_postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(rubric_client_tests)");
    const CLIENTS: [&str; 3] = [
        "RUBRIC_TEST_UPLOAD_CLIENTS",
        "RUBRIC_TEST_BACKSTAGE_CLIENTS",
        "RUBRIC_TEST_CORTEX_CLI",
    ];
    for var in CLIENTS {
        println!("cargo::rerun-if-env-changed={var}");
    }
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
    let clients = CLIENTS
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    if clients || ci {
        println!("cargo::rustc-cfg=rubric_client_tests");
    }
}

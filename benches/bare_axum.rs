//! The bare-axum anchor of `benches/serve.sh`: the route of rubric's entity scorecards
//! (`GET /api/v1/entities/{tag}/scorecards`) answering a fixed JSON body with nothing else (no
//! auth, no middleware, no store), on the same multi-threaded tokio runtime as `rubric serve`.
//! What rubric's API does per request on top of axum is the difference between the two under the
//! same `wrk` run.
//!
//! `benches/serve.sh` builds and starts it:
//!
//! ```text
//! bare_axum --bind 127.0.0.1:PORT --body FILE
//! ```
//!
//! (`FILE` is one of rubric's answers, so that both send bodies of the same size.) Run by
//! `cargo bench --bench bare_axum` without those options it does nothing: the load is wrk's.

use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;

/// The allocator of the `rubric` binary, so that the two servers differ only in their handling.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let (Some(bind), Some(body)) = (value("--bind"), value("--body")) else {
        eprintln!("bare_axum: run by benches/serve.sh (--bind ADDR --body FILE); nothing to do");
        return ExitCode::SUCCESS;
    };
    let body = match std::fs::read(body) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            eprintln!("bare_axum: cannot read {body}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime");
    runtime.block_on(async move {
        let app = Router::new().route(
            "/api/v1/entities/{tag}/scorecards",
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
        let listener = match tokio::net::TcpListener::bind(bind.as_str()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bare_axum: cannot bind {bind}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match axum::serve(listener, app).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bare_axum: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

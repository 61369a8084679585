//! Cortex's error body, `{type, message, details, httpStatus, requestId}`, for every error under
//! `/cortex`: the routes' own, the token checks' 401 and 403, the body limit's 413, routing's
//! 404 and 405 and the panic guard's 500.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Where the Cortex API is mounted (`CORTEX_BASE_URL=http://host/cortex`).
pub(crate) const PREFIX: &str = "/cortex";

/// Largest error body read back to be reshaped (rubric's own are a few hundred bytes).
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// A Cortex error body with `status`: `message` says what went wrong, `details` what to do or
/// the context; `type` is the status's name (`NOT_FOUND`) as Cortex's `ErrorResponse` has it.
pub(crate) fn body(status: StatusCode, message: &str, details: &str) -> Response {
    (status, axum::Json(document(status, message, details))).into_response()
}

/// The JSON of [`body`], to extend (the dry run adds `violations`).
pub(crate) fn document(status: StatusCode, message: &str, details: &str) -> Value {
    let kind = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_uppercase()
        .replace([' ', '-'], "_");
    json!({
        "type": kind,
        "message": message,
        "details": details,
        "httpStatus": status.as_u16(),
        "requestId": format!("{:016x}", rand::random::<u64>()),
    })
}

/// Whether a request for `path` is under [`PREFIX`], so its errors are [`reshape`]d.
pub(crate) fn is_under(path: &str) -> bool {
    path == PREFIX || path.starts_with("/cortex/")
}

/// Rewrites an error response (of a request under [`PREFIX`]) whose body is rubric's
/// `{"error", "code"}` (or not JSON at all) into Cortex's shape, keeping the status and headers
/// (`WWW-Authenticate`, `Cache-Control`). Other responses are returned as they are.
pub(crate) async fn reshape(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BYTES)
        .await
        .unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    if parsed
        .as_ref()
        .is_some_and(|v| v.get("httpStatus").is_some() && v.get("type").is_some())
    {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let reason = status.canonical_reason().unwrap_or("error");
    let message = match parsed.as_ref().and_then(|v| v.get("error")?.as_str()) {
        Some(m) => m.to_string(),
        None => {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            if text.is_empty() {
                reason.to_string()
            } else {
                text
            }
        }
    };
    let doc = document(status, &message, reason);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(
        parts,
        Body::from(serde_json::to_vec(&doc).unwrap_or_default()),
    )
}

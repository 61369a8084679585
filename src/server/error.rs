//! API errors: a status and a JSON body `{"error": "...", "code": "..."}`. Internal faults are
//! logged here and answered with a generic message, never with their details.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::jobs::{EvalError, RunError};
use crate::store::StoreError;

/// An error answered to an API caller.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 404 with this message.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// Any status with this message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The JSON body of an error with `status`.
pub fn body(status: StatusCode, message: &str) -> Response {
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "_");
    let json = serde_json::json!({ "error": message, "code": code });
    (status, axum::Json(json)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        body(self.status, &self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store error while answering a request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error: the history store failed",
        )
    }
}

impl From<RunError> for ApiError {
    fn from(e: RunError) -> ApiError {
        match e {
            RunError::Busy(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            RunError::Eval(EvalError::UnknownScorecard(_) | EvalError::UnknownEntity(_)) => {
                ApiError::not_found(e.to_string())
            }
            RunError::Eval(EvalError::Failed(reason)) => {
                tracing::error!(%reason, "on-demand evaluation failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("evaluation failed: {reason}"),
                )
            }
            RunError::Store(s) => s.into(),
        }
    }
}

//! The API's one error shape: `{"error": "…", "details": [...]}` with a fitting status.
//! Invalid plans list every error with its line and column in `details`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::plan::PlanErrors;
use crate::store::StoreError;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// One sentence naming the bad value.
    pub error: String,
    /// Structured details (plan errors with line and column, bad fields).
    pub details: Vec<Value>,
}

impl ApiError {
    /// An error without details.
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            details: Vec::new(),
        }
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }

    /// 404 for `what` (e.g. "plan 7").
    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} does not exist"))
    }

    /// 409: the resource is not in a state that allows this.
    pub fn conflict(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, error)
    }

    /// 422: the body is well-formed but its values are wrong.
    pub fn invalid(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error)
    }

    /// 422 for a plan that does not validate: every error with line and column.
    pub fn plan(errors: &PlanErrors) -> ApiError {
        let n = errors.0.len();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: format!(
                "invalid plan: {n} error{}; nothing was stored or run",
                if n == 1 { "" } else { "s" }
            ),
            details: errors
                .0
                .iter()
                .map(|e| {
                    json!({
                        "line": e.pos.map(|p| p.line),
                        "column": e.pos.map(|p| p.col),
                        "path": e.path,
                        "message": e.message,
                        "text": e.to_string(),
                    })
                })
                .collect(),
        }
    }

    /// The 401 response, with `WWW-Authenticate: Bearer`.
    pub fn into_response_with_auth(self) -> Response {
        let mut r = self.into_response();
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "details": self.details})),
        )
            .into_response()
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

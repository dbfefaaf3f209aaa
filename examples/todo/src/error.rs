//! Every error the service answers, with the contract's status and code.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use saas_core::ErrorBody;

/// An answer other than success. The message is fixed text: it never echoes input, a token or
/// another list's id.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request`.
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// 401 `unauthenticated`.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// 403 `forbidden`: a member whose role does not allow this.
    #[error("your role in this list does not allow this")]
    Forbidden,
    /// 404 `not_found`: no such thing, or not the caller's to see.
    #[error("not found")]
    NotFound,
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(&'static str),
    /// 412 `precondition_failed`.
    #[error("the version does not match")]
    PreconditionFailed,
    /// 413 `payload_too_large`.
    #[error("the body is over 64 KiB")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// 429 `too_many_requests`: the list is over its quota; retry after this many seconds.
    #[error("this list is over its request quota, try again shortly")]
    TooManyRequests(u64),
    /// 503 `unavailable`.
    #[error("a dependency is unavailable, try again")]
    Unavailable,
    /// 500 `internal`: a bug, logged.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The contract's code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.code(), self.to_string()).to_json();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            ApiError::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::TooManyRequests(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<saas_data::Error> for ApiError {
    fn from(e: saas_data::Error) -> ApiError {
        use saas_data::Error as E;
        match e {
            // A list the registry does not place (deleted, or never there) is no list.
            E::NotFound | E::TenantNotProvisioned(_) => ApiError::NotFound,
            E::AlreadyExists | E::ConditionFailed | E::TransactionCanceled { .. } => {
                ApiError::Conflict("the request contradicts the current state")
            }
            E::VersionConflict { .. } => ApiError::PreconditionFailed,
            E::InvalidCursor => ApiError::InvalidRequest("the cursor is not this list's"),
            E::Throttled(_) | E::Unavailable(_) => {
                tracing::warn!(error = %e, "store unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::Internal
            }
        }
    }
}

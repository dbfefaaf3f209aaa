//! The request body as the contract wants it: `application/json`, at most 64 KiB, no unknown
//! fields (the types deny them), each failure its own status.

use axum::extract::{FromRequest, Request};
use http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body taken.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// A JSON body of type `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        let refused = ApiError::InvalidRequest("malformed JSON, or wrong or unknown fields");
        // Every body is an object: serde would also take a struct's fields as an array.
        if bytes.iter().find(|b| !b" \t\r\n".contains(b)) != Some(&b'{') {
            return Err(refused);
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|_| refused)
    }
}

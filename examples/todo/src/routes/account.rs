//! `/health`, `/me`, and the development sign-in (`/dev/token`, `/.well-known/jwks.json`).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use saas_core::Identity;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;

/// `GET /health`.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /me`: the verified caller.
pub(crate) async fn me(identity: Identity) -> Json<Value> {
    let user = identity.user();
    Json(json!({"sub": user.sub, "email": user.verified_email().map(str::to_lowercase)}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    email: String,
}

/// `POST /dev/token {"email"}`: a token for that user, only when the service is its own issuer.
pub(crate) async fn dev_token(
    State(state): State<AppState>,
    body: Result<JsonBody<TokenRequest>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let Some(dev) = &state.dev else {
        return Err(ApiError::NotFound);
    };
    let JsonBody(request) = body?;
    let token = dev
        .mint(&request.email)
        .map_err(|_| ApiError::InvalidRequest("not an email address"))?;
    Ok(Json(json!({"id_token": token})))
}

/// `GET /.well-known/jwks.json`: the development issuer's keys.
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(dev) = &state.dev else {
        return Err(ApiError::NotFound);
    };
    let mut response = dev.jwks_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

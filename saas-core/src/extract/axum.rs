//! `TenantContext` and `Identity` as axum extractors.

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::context::{Identity, TenantContext};
use crate::extract::TenantRejection;

/// Reads the context [`RequireTenantLayer`](crate::RequireTenantLayer) put into the request.
/// Without the layer this is [`TenantRejection::MissingTenantContext`] (500): a wiring bug, never
/// an unauthenticated pass.
///
/// ```
/// use axum::{Router, routing::get};
/// use saas_core::TenantContext;
///
/// async fn whoami(ctx: TenantContext) -> String {
///     format!("{} as {}", ctx.tenant_id(), ctx.role())
/// }
/// let app: Router = Router::new().route("/whoami", get(whoami));
/// # let _ = app;
/// ```
impl<S: Send + Sync> FromRequestParts<S> for TenantContext {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<TenantContext>()
            .cloned()
            .ok_or(TenantRejection::MissingTenantContext)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for TenantContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<TenantContext>().cloned())
    }
}

/// Reads the verified caller the layer put into the request (on every route, with or without a
/// tenant).
impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .ok_or(TenantRejection::MissingTenantContext)
    }
}

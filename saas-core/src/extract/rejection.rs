//! Why a request has no tenant context, and the response it gets.

use http::{HeaderValue, StatusCode, header};

use crate::ErrorBody;
use crate::claims::ClaimError;
#[cfg(feature = "jwt")]
use crate::jwt::JwtError;

/// Why a request was refused a [`TenantContext`](crate::TenantContext).
///
/// [`status`](TenantRejection::status) gives the HTTP status; [`to_response`](TenantRejection::to_response)
/// the whole JSON response, whose message is fixed text that never echoes the token, its claims
/// or a tenant id.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TenantRejection {
    /// No bearer token and no authorizer context: 401.
    #[error("no credentials")]
    MissingCredentials,
    /// The bearer token failed verification: 401, 403 or 503 (see [`JwtError::status`]).
    #[cfg(feature = "jwt")]
    #[error("invalid token: {0}")]
    InvalidToken(#[from] JwtError),
    /// Verified claims grant no usable tenant (missing tenant, bad tenant id, unknown role or
    /// tier): 403.
    #[error("claims grant no tenant: {0}")]
    InvalidClaims(#[from] ClaimError),
    /// The tenant chosen for the request is not one the caller is a member of: 403.
    #[error("not a member of the requested tenant")]
    NotAMember,
    /// Lambda's tenant id and the caller's tenant disagree: 403.
    #[error("tenant does not match the function's tenant")]
    TenantMismatch,
    /// The membership lookup could not answer: 503.
    #[error("membership lookup unavailable")]
    MembershipUnavailable,
    /// The handler asked for a context that no layer put into the request: a wiring bug, 500.
    #[error("no tenant context in the request: is the tenant layer installed?")]
    MissingTenantContext,
}

impl TenantRejection {
    /// The HTTP status for this rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            TenantRejection::MissingCredentials => StatusCode::UNAUTHORIZED,
            #[cfg(feature = "jwt")]
            TenantRejection::InvalidToken(e) => e.status(),
            TenantRejection::InvalidClaims(_)
            | TenantRejection::NotAMember
            | TenantRejection::TenantMismatch => StatusCode::FORBIDDEN,
            TenantRejection::MembershipUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            TenantRejection::MissingTenantContext => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short, fixed, snake_case name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            TenantRejection::MissingCredentials => "missing_credentials",
            #[cfg(feature = "jwt")]
            TenantRejection::InvalidToken(e) => e.kind(),
            TenantRejection::InvalidClaims(_) => "invalid_claims",
            TenantRejection::NotAMember => "not_a_member",
            TenantRejection::TenantMismatch => "tenant_mismatch",
            TenantRejection::MembershipUnavailable => "membership_unavailable",
            TenantRejection::MissingTenantContext => "missing_tenant_context",
        }
    }

    /// The error body: a code by status and a fixed message.
    pub fn body(&self) -> ErrorBody {
        let (code, message) = match self.status() {
            StatusCode::UNAUTHORIZED => ("unauthenticated", "a valid bearer token is required"),
            StatusCode::FORBIDDEN => ("forbidden", "the caller may not act for this tenant"),
            StatusCode::SERVICE_UNAVAILABLE => (
                "unavailable",
                "the identity service cannot be reached; retry later",
            ),
            _ => ("internal", "internal error"),
        };
        ErrorBody::new(code, message)
    }

    /// The full response: status, JSON body, `WWW-Authenticate: Bearer` on 401 (with
    /// `error="invalid_token"` when a token was presented, RFC 6750) and `Retry-After` on 503.
    pub fn to_response(&self) -> http::Response<String> {
        let mut response = http::Response::new(self.body().to_json());
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self.status() {
            StatusCode::UNAUTHORIZED => {
                let value = if matches!(self, TenantRejection::MissingCredentials) {
                    "Bearer"
                } else {
                    r#"Bearer error="invalid_token""#
                };
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for TenantRejection {
    fn into_response(self) -> axum_core::response::Response {
        self.to_response().map(axum_core::body::Body::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_headers() {
        let r = TenantRejection::MissingCredentials.to_response();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert!(r.body().contains("\"unauthenticated\""));

        let r = TenantRejection::MembershipUnavailable.to_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");

        let r = TenantRejection::NotAMember.to_response();
        assert_eq!(r.status(), 403);
        assert!(r.body().contains("\"forbidden\""));

        assert_eq!(TenantRejection::MissingTenantContext.status(), 500);
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn token_errors_keep_their_status() {
        let r = TenantRejection::from(JwtError::Expired).to_response();
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(TenantRejection::from(JwtError::MissingScope).status(), 403);
        assert_eq!(
            TenantRejection::from(JwtError::JwksUnavailable("down".into())).status(),
            503
        );
    }
}

//! The Lambda authorizer of the todo service (HTTP API, payload 2.0, simple responses), the
//! alternative to API Gateway's JWT authorizer: it verifies the bearer token with saas-core's
//! verifier and answers with the caller's identity, never a list. Which list a request may touch
//! is decided behind it, by the service's membership lookup on every request, so API Gateway's
//! cached answer for a token grants nothing but "this caller is who they say".

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use saas_core::jwt::JwtVerifier;
use saas_core::{NoSourceError, Resolved, TenantResolver, authorizer_response, membership_fn};

/// Verifies callers for the authorizer. Build once per cold start.
#[derive(Clone)]
pub struct Authorizer {
    resolver: TenantResolver,
}

impl Authorizer {
    /// An authorizer trusting `verifier`.
    pub fn new(verifier: JwtVerifier) -> Result<Authorizer, NoSourceError> {
        // No route of this authorizer names a tenant: it resolves identities only.
        let resolver = TenantResolver::builder()
            .bearer(verifier)
            .select_tenant(|_| None, membership_fn(|_, _| async { Ok(None) }))
            .build()?;
        Ok(Authorizer { resolver })
    }

    /// Allows a request whose bearer token verifies (with the caller's identity as context),
    /// denies any other.
    pub async fn authorize(
        &self,
        event: &ApiGatewayV2CustomAuthorizerV2Request,
    ) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
        let mut request = http::Request::builder().uri("/");
        for (name, value) in &event.headers {
            request = request.header(name, value);
        }
        let Ok(request) = request.body(()) else {
            return authorizer_response::http_deny();
        };
        let (parts, ()) = request.into_parts();
        match self.resolver.resolve(&parts).await {
            Ok(Resolved::Identity(identity)) => {
                let mut allow = authorizer_response::http_allow_identity(&identity);
                // The owner's tier places the lists they create (silo tables for a tier).
                if let (Some(tier), Some(context)) = (
                    identity.claims().string(crate::model::TIER_CLAIM),
                    allow.context.as_object_mut(),
                ) {
                    context.insert(crate::model::TIER_CLAIM.into(), tier.into());
                }
                allow
            }
            Ok(Resolved::Tenant(_)) => authorizer_response::http_deny(),
            Err(rejection) => {
                tracing::info!(
                    rejection = rejection.kind(),
                    "authorizer refused the caller"
                );
                authorizer_response::http_deny()
            }
        }
    }
}

//! HTTP API (payload v2) events.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

use crate::claims::ClaimMapping;
use crate::context::TenantContext;
use crate::extract::{TenantRejection, context_from_authorizer};

/// The tenant context of an HTTP API event: from a JWT authorizer
/// (`requestContext.authorizer.jwt.claims`) or a Lambda authorizer (`authorizer.lambda`).
///
/// ```
/// use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
/// use saas_core::{ClaimMapping, extract};
///
/// let event: ApiGatewayV2httpRequest = serde_json::from_str(r#"{
///   "version": "2.0", "routeKey": "GET /lists", "rawPath": "/lists",
///   "requestContext": {"http": {"method": "GET"}, "authorizer": {"jwt": {"claims": {
///     "sub": "u-1", "custom:tenantId": "tenant-b", "cognito:groups": "[admins ops]",
///     "custom:userRole": "TenantAdmin", "custom:tenantTier": "Premium"
///   }, "scopes": null}}}
/// }"#)?;
/// let ctx = extract::from_apigw_v2(&event, &ClaimMapping::default())?;
/// assert_eq!(ctx.tenant_id(), "tenant-b");
/// assert_eq!(ctx.groups(), ["admins", "ops"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_apigw_v2(
    event: &ApiGatewayV2httpRequest,
    mapping: &ClaimMapping,
) -> Result<TenantContext, TenantRejection> {
    match &event.request_context.authorizer {
        Some(authorizer) => context_from_authorizer(authorizer, mapping),
        None => Err(TenantRejection::MissingCredentials),
    }
}

//! REST API (payload v1) events.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;

use crate::claims::ClaimMapping;
use crate::context::TenantContext;
use crate::extract::{TenantRejection, context_from_authorizer};

/// The tenant context of a REST API proxy event: from a Cognito user pool authorizer
/// (`requestContext.authorizer.claims`) or a Lambda authorizer's flattened context.
///
/// ```
/// use aws_lambda_events::apigw::ApiGatewayProxyRequest;
/// use saas_core::{ClaimMapping, extract};
///
/// let event: ApiGatewayProxyRequest = serde_json::from_str(r#"{
///   "httpMethod": "GET", "path": "/lists", "headers": {}, "multiValueHeaders": {},
///   "requestContext": {"httpMethod": "GET", "authorizer": {"claims": {
///     "sub": "u-1", "custom:tenantId": "tenant-a",
///     "custom:userRole": "TenantUser", "custom:tenantTier": "Basic"
///   }}}
/// }"#)?;
/// let ctx = extract::from_apigw_v1(&event, &ClaimMapping::default())?;
/// assert_eq!(ctx.tenant_id(), "tenant-a");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_apigw_v1(
    event: &ApiGatewayProxyRequest,
    mapping: &ClaimMapping,
) -> Result<TenantContext, TenantRejection> {
    context_from_authorizer(&event.request_context.authorizer, mapping)
}

//! Lambda's own tenant id (tenant-isolation mode).

use lambda_runtime::Context;

use crate::claims::ClaimMapping;
use crate::context::{TenantContext, TenantId};
use crate::extract::TenantRejection;

/// Checks that `ctx` is for the tenant Lambda runs this invocation for, when Lambda names one
/// (`Context::tenant_id`, set in tenant-isolation mode). No tenant id from Lambda: `Ok`.
pub fn check_lambda_tenant(ctx: &TenantContext, lambda: &Context) -> Result<(), TenantRejection> {
    match lambda.tenant_id.as_deref() {
        Some(id) if id != ctx.tenant_id().as_str() => Err(TenantRejection::TenantMismatch),
        _ => Ok(()),
    }
}

/// A context from Lambda's tenant id alone, for invocations that carry no user (direct or
/// event-source invocations in tenant-isolation mode). The role and tier come from the mapping's
/// defaults; without them this is [`TenantRejection::InvalidClaims`]. No tenant id:
/// [`TenantRejection::MissingCredentials`].
pub fn from_lambda_tenant(
    lambda: &Context,
    mapping: &ClaimMapping,
) -> Result<TenantContext, TenantRejection> {
    use crate::claims::ClaimError;

    let raw = lambda
        .tenant_id
        .as_deref()
        .ok_or(TenantRejection::MissingCredentials)?;
    let tenant = TenantId::new(raw).map_err(|source| ClaimError::InvalidTenantId {
        claim: "tenant_id".into(),
        source,
    })?;
    let role = mapping
        .fallback_role()
        .ok_or_else(|| ClaimError::Missing("role".into()))?;
    let tier = mapping
        .fallback_tier()
        .ok_or_else(|| ClaimError::Missing("tier".into()))?;
    Ok(TenantContext::new(tenant, role, tier, None))
}

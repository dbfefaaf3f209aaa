//! Responses for a Lambda authorizer: a REST API (TOKEN or REQUEST) IAM policy and an HTTP API
//! simple response, both carrying the tenant in their context.
//!
//! The layer reads that context back on the other side ([`keys`] names its entries), so an
//! authorizer written with these helpers and a function behind it agree without configuration.
//!
//! ```
//! # #[cfg(feature = "apigw-v1")] {
//! use saas_core::authorizer_response;
//! # let ctx = saas_core::TenantContext::builder("tenant-a").build();
//! let arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/lists";
//! let response = authorizer_response::rest_allow(&ctx, arn);
//! // Allows the whole stage, so API Gateway's cached policy fits every route.
//! assert_eq!(
//!     response.policy_document.statement[0].resource,
//!     ["arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*"]
//! );
//! assert_eq!(response.context["tenantId"], "tenant-a");
//! # }
//! ```

use serde_json::{Map, Value};

use crate::{Identity, TenantContext};

/// The context keys the authorizer writes and the layer reads.
pub mod keys {
    /// The tenant id.
    pub const TENANT_ID: &str = "tenantId";
    /// The role.
    pub const ROLE: &str = "userRole";
    /// The tier.
    pub const TIER: &str = "tenantTier";
    /// The subject.
    pub const SUB: &str = "sub";
    /// The username.
    pub const USERNAME: &str = "username";
    /// The email.
    pub const EMAIL: &str = "email";
    /// Whether the email is verified: `"true"` or `"false"`.
    pub const EMAIL_VERIFIED: &str = "email_verified";
    /// Groups, space-separated.
    pub const GROUPS: &str = "groups";
    /// Scopes, space-separated.
    pub const SCOPE: &str = "scope";
    /// The token's expiry, seconds since the epoch.
    pub const EXP: &str = "exp";
}

/// The error message that makes API Gateway answer 401 from a REST authorizer: return it as the
/// function's error (`Err("Unauthorized".into())`) for a missing or invalid token. A deny policy
/// gives 403.
pub const UNAUTHORIZED: &str = "Unauthorized";

/// The authorizer context for `ctx`: flat strings and numbers, as REST APIs require.
pub fn context(ctx: &TenantContext) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(keys::TENANT_ID.into(), ctx.tenant_id().as_str().into());
    map.insert(keys::ROLE.into(), ctx.role().as_str().into());
    map.insert(keys::TIER.into(), ctx.tier().as_str().into());
    if let Some(identity) = ctx.identity() {
        caller(&mut map, identity);
    }
    map
}

/// The authorizer context for a verified caller whose tenant the function behind chooses per
/// request (`TenantResolver::select_tenant`): the user, groups, scopes and expiry, no tenant. The
/// layer reads it back as an [`Identity`], and the function's membership lookup authorises the
/// tenant of each request, so the authorizer's cached answer never grants a tenant.
pub fn identity_context(identity: &Identity) -> Map<String, Value> {
    let mut map = Map::new();
    caller(&mut map, identity);
    map
}

fn caller(map: &mut Map<String, Value>, identity: &Identity) {
    let user = identity.user();
    map.insert(keys::SUB.into(), user.sub.clone().into());
    if let Some(username) = &user.username {
        map.insert(keys::USERNAME.into(), username.clone().into());
    }
    if let Some(email) = &user.email {
        map.insert(keys::EMAIL.into(), email.clone().into());
    }
    map.insert(
        keys::EMAIL_VERIFIED.into(),
        if user.email_verified { "true" } else { "false" }.into(),
    );
    if !identity.groups().is_empty() {
        map.insert(keys::GROUPS.into(), identity.groups().join(" ").into());
    }
    if !identity.scopes().is_empty() {
        map.insert(keys::SCOPE.into(), identity.scopes().join(" ").into());
    }
    if let Some(exp) = identity
        .expires_at()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    {
        map.insert(keys::EXP.into(), exp.as_secs().into());
    }
}

/// The resource that covers every route of the stage in `method_arn`
/// (`arn:...:api-id/stage/*`). API Gateway caches an authorizer's policy per token and applies
/// it to later requests on other routes, so a policy for the one method ARN would refuse them.
/// An ARN that does not have the expected shape is returned as it is.
pub fn stage_wildcard(method_arn: &str) -> String {
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(api), Some(stage), Some(_)) if api.starts_with("arn:") && !stage.is_empty() => {
            format!("{api}/{stage}/*")
        }
        _ => method_arn.to_owned(),
    }
}

#[cfg(any(feature = "apigw-v1", feature = "apigw-v2"))]
mod rest {
    use aws_lambda_events::apigw::{
        ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    };
    use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
    use serde_json::Value;

    use super::{context, stage_wildcard};
    use crate::TenantContext;

    fn policy(effect: IamPolicyEffect, resource: String) -> ApiGatewayCustomAuthorizerPolicy {
        let mut statement = IamPolicyStatement::default();
        statement.action = vec!["execute-api:Invoke".into()];
        statement.effect = effect;
        statement.resource = vec![resource];
        let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
        policy.version = Some("2012-10-17".into());
        policy.statement = vec![statement];
        policy
    }

    /// A REST API authorizer response that allows the caller into the stage of `method_arn`,
    /// with the tenant in its context. The principal is the user's `sub` (or the tenant id for a
    /// context without a user).
    pub fn rest_allow(ctx: &TenantContext, method_arn: &str) -> ApiGatewayCustomAuthorizerResponse {
        let mut response = ApiGatewayCustomAuthorizerResponse::default();
        response.principal_id = Some(ctx.subject().unwrap_or(ctx.tenant_id().as_str()).to_owned());
        response.policy_document = policy(IamPolicyEffect::Allow, stage_wildcard(method_arn));
        response.context = Value::Object(context(ctx));
        response
    }

    /// A REST API authorizer response that denies `method_arn` (API Gateway answers 403). For a
    /// missing or invalid token, return [`UNAUTHORIZED`](super::UNAUTHORIZED) as the error
    /// instead (401).
    pub fn rest_deny(principal_id: &str, method_arn: &str) -> ApiGatewayCustomAuthorizerResponse {
        let mut response = ApiGatewayCustomAuthorizerResponse::default();
        response.principal_id = Some(principal_id.to_owned());
        response.policy_document = policy(IamPolicyEffect::Deny, method_arn.to_owned());
        response.context = Value::Object(Default::default());
        response
    }
}

#[cfg(any(feature = "apigw-v1", feature = "apigw-v2"))]
pub use rest::{rest_allow, rest_deny};

#[cfg(feature = "apigw-v2")]
mod http_api {
    use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerSimpleResponse;
    use serde_json::Value;

    use super::context;
    use crate::{Identity, TenantContext};

    /// An HTTP API simple response (payload format 2.0, simple responses enabled) that allows the
    /// caller, with the tenant in its context.
    pub fn http_allow(ctx: &TenantContext) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
        let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
        response.is_authorized = true;
        response.context = Value::Object(context(ctx));
        response
    }

    /// An HTTP API simple response that allows a verified caller without choosing a tenant
    /// (see [`super::identity_context`]): for functions that select the tenant per request.
    pub fn http_allow_identity(identity: &Identity) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
        let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
        response.is_authorized = true;
        response.context = Value::Object(super::identity_context(identity));
        response
    }

    /// An HTTP API simple response that refuses the caller (API Gateway answers 403).
    pub fn http_deny() -> ApiGatewayV2CustomAuthorizerSimpleResponse {
        let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
        response.is_authorized = false;
        response.context = Value::Object(Default::default());
        response
    }
}

#[cfg(feature = "apigw-v2")]
pub use http_api::{http_allow, http_allow_identity, http_deny};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_covers_the_stage() {
        assert_eq!(
            stage_wildcard("arn:aws:execute-api:eu-west-1:123456789012:abc/prod/POST/lists/x"),
            "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/*"
        );
        assert_eq!(stage_wildcard("garbage"), "garbage");
        assert_eq!(stage_wildcard("arn:x/"), "arn:x/");
    }
}

//! The identity API Gateway's authorizer vouches for, in any of its four shapes.

use aws_lambda_events::apigw::ApiGatewayRequestAuthorizer;
use serde_json::{Map, Value};

use crate::claims::{ClaimMapping, Claims, LAMBDA_AUTHORIZER_MAPPING};
use crate::context::{ContextSource, Identity, TenantContext};
use crate::extract::TenantRejection;

/// An identity from an authorizer context, with the claim mapping that reads its tenant.
pub(crate) struct AuthorizerIdentity<'m> {
    pub(crate) identity: Identity,
    pub(crate) mapping: &'m ClaimMapping,
}

impl AuthorizerIdentity<'_> {
    pub(crate) fn into_context(self) -> Result<TenantContext, TenantRejection> {
        Ok(self.mapping.context(self.identity)?)
    }
}

/// Reads the authorizer part of an API Gateway request context:
///
/// - HTTP API JWT authorizer: `authorizer.jwt.claims` (every value a string, arrays as
///   `"[a b]"`) and `authorizer.jwt.scopes`; read with `mapping`;
/// - REST API Cognito authorizer: `authorizer.claims` (strings); read with `mapping`;
/// - Lambda authorizer (REST: flattened string context; HTTP API: `authorizer.lambda`): read
///   with the keys of [`authorizer_response::keys`](crate::authorizer_response::keys).
///
/// `Ok(None)`: the request carries no authorizer identity.
pub(crate) fn authorizer_identity<'m>(
    authorizer: &ApiGatewayRequestAuthorizer,
    mapping: &'m ClaimMapping,
) -> Result<Option<AuthorizerIdentity<'m>>, TenantRejection> {
    if let Some(jwt) = &authorizer.jwt {
        let claims = Claims::from_strings(
            jwt.claims
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        let scopes = match &jwt.scopes {
            Some(scopes) if !scopes.is_empty() => scopes.clone(),
            _ => crate::claims::split_list(claims.string("scope").unwrap_or_default()),
        };
        let identity = mapping.identity(claims, scopes, ContextSource::ApiGatewayJwt)?;
        return Ok(Some(AuthorizerIdentity { identity, mapping }));
    }
    if let Some(Value::Object(claims)) = authorizer.fields.get("claims") {
        let claims = Claims::new(claims.clone());
        let scopes = crate::claims::split_list(claims.string("scope").unwrap_or_default());
        let identity = mapping.identity(claims, scopes, ContextSource::ApiGatewayCognito)?;
        return Ok(Some(AuthorizerIdentity { identity, mapping }));
    }
    let lambda = &LAMBDA_AUTHORIZER_MAPPING;
    if authorizer
        .fields
        .contains_key(crate::authorizer_response::keys::SUB)
        || authorizer.fields.contains_key(lambda.tenant())
    {
        let claims: Map<String, Value> = authorizer
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let claims = Claims::new(claims);
        let scopes = crate::claims::split_list(claims.string("scope").unwrap_or_default());
        let identity =
            lambda.identity(claims, scopes, ContextSource::ApiGatewayLambdaAuthorizer)?;
        return Ok(Some(AuthorizerIdentity {
            identity,
            mapping: lambda,
        }));
    }
    Ok(None)
}

/// The tenant context from an API Gateway authorizer, in any of its shapes (see the
/// [module docs](crate::extract)). No authorizer identity: [`TenantRejection::MissingCredentials`].
pub fn context_from_authorizer(
    authorizer: &ApiGatewayRequestAuthorizer,
    mapping: &ClaimMapping,
) -> Result<TenantContext, TenantRejection> {
    authorizer_identity(authorizer, mapping)?
        .ok_or(TenantRejection::MissingCredentials)?
        .into_context()
}

/// The identity (without a tenant) from an API Gateway authorizer, for routes that choose their
/// tenant per request and authorise it with [`Identity::authorize`].
pub fn identity_from_authorizer(
    authorizer: &ApiGatewayRequestAuthorizer,
    mapping: &ClaimMapping,
) -> Result<Identity, TenantRejection> {
    Ok(authorizer_identity(authorizer, mapping)?
        .ok_or(TenantRejection::MissingCredentials)?
        .identity)
}

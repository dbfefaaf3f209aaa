//! From a request to a tenant: which sources are trusted, and how the tenant is chosen.

use std::fmt;
use std::sync::Arc;

use http::request::Parts;

use crate::claims::{ClaimError, ClaimMapping};
use crate::context::{Identity, TenantContext, TenantId};
use crate::extract::TenantRejection;
#[cfg(feature = "jwt")]
use crate::jwt::{JwtError, JwtVerifier};
use crate::membership::MembershipLookup;

type Selector = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// What a request resolved to: a tenant context, or (on routes that name no tenant, when the
/// tenant is chosen per request) only the caller's identity.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A verified, authorised tenant context.
    Tenant(TenantContext),
    /// A verified caller on a route that names no tenant (`POST /lists`, say).
    Identity(Identity),
}

impl Resolved {
    /// The tenant context, if the request has one.
    pub fn tenant(&self) -> Option<&TenantContext> {
        match self {
            Resolved::Tenant(ctx) => Some(ctx),
            Resolved::Identity(_) => None,
        }
    }

    /// The caller's identity, if there is a user.
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Resolved::Tenant(ctx) => ctx.identity(),
            Resolved::Identity(identity) => Some(identity),
        }
    }
}

/// Resolves a request's tenant from the sources it is told to trust, in this order:
///
/// 1. an API Gateway authorizer context in a `lambda_http` request (if
///    [`api_gateway_authorizer`](TenantResolverBuilder::api_gateway_authorizer) is set);
/// 2. an `Authorization: Bearer` token, verified here (if [`bearer`](TenantResolverBuilder::bearer)
///    is set);
/// 3. Lambda's tenant id alone (if [`lambda_tenant_only`](TenantResolverBuilder::lambda_tenant_only)
///    is set).
///
/// The tenant is the token's tenant claim, unless [`select_tenant`](TenantResolverBuilder::select_tenant)
/// chooses it per request, in which case a [`MembershipLookup`] must authorise it. When Lambda
/// names a tenant (tenant-isolation mode), the resolved tenant must be that one.
///
/// Cheap to clone; build it once at cold start.
#[derive(Clone)]
pub struct TenantResolver(Arc<ResolverInner>);

struct ResolverInner {
    mapping: Arc<ClaimMapping>,
    #[cfg(feature = "jwt")]
    verifier: Option<JwtVerifier>,
    api_gateway: bool,
    lambda_tenant_only: bool,
    selection: Option<(Arc<Selector>, Arc<dyn MembershipLookup>)>,
}

impl fmt::Debug for TenantResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TenantResolver");
        d.field("mapping", &self.0.mapping);
        #[cfg(feature = "jwt")]
        d.field("verifier", &self.0.verifier);
        d.field("api_gateway", &self.0.api_gateway)
            .field("lambda_tenant_only", &self.0.lambda_tenant_only)
            .field("select_tenant", &self.0.selection.is_some())
            .finish()
    }
}

/// A resolver was configured with no source of identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a tenant resolver needs a source: bearer(..), api_gateway_authorizer() or lambda_tenant_only()"
)]
pub struct NoSourceError;

impl TenantResolver {
    /// Starts a resolver configuration.
    pub fn builder() -> TenantResolverBuilder {
        TenantResolverBuilder::default()
    }

    /// Resolves the tenant of a request. Every failure is a typed rejection; nothing panics.
    pub async fn resolve(&self, parts: &Parts) -> Result<Resolved, TenantRejection> {
        let inner = &*self.0;
        let resolved = match self.identity(parts).await? {
            Some(caller) => match &inner.selection {
                Some((select, lookup)) => match select(parts) {
                    Some(raw) => {
                        // An id that cannot exist names no tenant the caller is in.
                        let tenant =
                            TenantId::new(&raw).map_err(|_| TenantRejection::NotAMember)?;
                        Resolved::Tenant(caller.identity.authorize(tenant, &**lookup).await?)
                    }
                    None => Resolved::Identity(caller.identity),
                },
                None => Resolved::Tenant(match caller.context {
                    Some(context) => context?,
                    None => caller.mapping.context(caller.identity)?,
                }),
            },
            None => self.lambda_tenant_only(parts)?,
        };
        #[cfg(feature = "lambda-http")]
        if let (Resolved::Tenant(ctx), Some(lambda)) =
            (&resolved, parts.extensions.get::<lambda_runtime::Context>())
        {
            crate::extract::check_lambda_tenant(ctx, lambda)?;
        }
        Ok(resolved)
    }

    /// Verifies a bare token and reads its tenant claim: for code outside an HTTP request (a
    /// WebSocket message, say). Needs [`bearer`](TenantResolverBuilder::bearer).
    #[cfg(feature = "jwt")]
    pub async fn context_from_token(&self, token: &str) -> Result<TenantContext, TenantRejection> {
        let verifier = self
            .0
            .verifier
            .as_ref()
            .ok_or(TenantRejection::MissingCredentials)?;
        let accepted = verifier.verify_cached(token).await?;
        Ok(self.derived(&accepted).context.clone()?)
    }

    /// What this resolver's mapping makes of a verified token: kept in the verifier's cache
    /// entry, so that a repeated token is mapped once.
    #[cfg(feature = "jwt")]
    fn derived<'a>(&self, accepted: &'a crate::jwt::Accepted) -> std::borrow::Cow<'a, Derived> {
        let mapping = &self.0.mapping;
        let derived = accepted
            .derived
            .get_or_init(|| Derived::new(mapping, &accepted.claims));
        if Arc::ptr_eq(&derived.mapping, mapping) || *derived.mapping == **mapping {
            std::borrow::Cow::Borrowed(derived)
        } else {
            // Another resolver with another mapping shares the verifier: map again.
            std::borrow::Cow::Owned(Derived::new(mapping, &accepted.claims))
        }
    }

    #[allow(clippy::unused_async)]
    async fn identity(&self, parts: &Parts) -> Result<Option<Caller<'_>>, TenantRejection> {
        let inner = &*self.0;
        #[cfg(all(
            feature = "lambda-http",
            any(feature = "apigw-v1", feature = "apigw-v2")
        ))]
        if inner.api_gateway
            && let Some(authorizer) = request_authorizer(parts)
            && let Some(found) = crate::extract::authorizer_identity(authorizer, &inner.mapping)?
        {
            return Ok(Some(Caller {
                identity: found.identity,
                mapping: found.mapping,
                context: None,
            }));
        }
        #[cfg(feature = "jwt")]
        if let Some(verifier) = &inner.verifier
            && let Some(token) = bearer_token(parts)?
        {
            let accepted = verifier.verify_cached(token).await?;
            let derived = self.derived(&accepted);
            return Ok(Some(Caller {
                identity: derived.identity.clone()?,
                mapping: &inner.mapping,
                context: Some(derived.context.clone()),
            }));
        }
        let _ = (inner, parts);
        Ok(None)
    }

    fn lambda_tenant_only(&self, parts: &Parts) -> Result<Resolved, TenantRejection> {
        #[cfg(feature = "lambda-http")]
        if self.0.lambda_tenant_only
            && let Some(lambda) = parts.extensions.get::<lambda_runtime::Context>()
        {
            return crate::extract::from_lambda_tenant(lambda, &self.0.mapping)
                .map(Resolved::Tenant);
        }
        let _ = parts;
        Err(TenantRejection::MissingCredentials)
    }
}

#[cfg(all(
    feature = "lambda-http",
    any(feature = "apigw-v1", feature = "apigw-v2")
))]
fn request_authorizer(
    parts: &Parts,
) -> Option<&aws_lambda_events::apigw::ApiGatewayRequestAuthorizer> {
    use lambda_http::request::RequestContext;
    match parts.extensions.get::<RequestContext>()? {
        #[cfg(feature = "apigw-v1")]
        RequestContext::ApiGatewayV1(ctx) => Some(&ctx.authorizer),
        #[cfg(feature = "apigw-v2")]
        RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.as_ref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The bearer token of a request: `None` without an `Authorization` header or with another
/// scheme; an error for a header that is not text or an empty token.
#[cfg(feature = "jwt")]
fn bearer_token(parts: &Parts) -> Result<Option<&str>, TenantRejection> {
    let Some(value) = parts.headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    // UTF-8 rather than `HeaderValue::to_str`'s byte-by-byte visible-ASCII check: a token is
    // checked character by character when it is verified, and a cached one was.
    let value = std::str::from_utf8(value.as_bytes())
        .map_err(|_| JwtError::Malformed("authorization header is not text"))?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(JwtError::Malformed("empty bearer token").into());
    }
    Ok(Some(token))
}

/// A verified caller, with the tenant context its own claims name when that is already known.
struct Caller<'a> {
    identity: Identity,
    mapping: &'a ClaimMapping,
    context: Option<Result<TenantContext, ClaimError>>,
}

/// A verified token's identity and tenant context under one mapping.
#[cfg(feature = "jwt")]
#[derive(Clone)]
pub(crate) struct Derived {
    mapping: Arc<ClaimMapping>,
    identity: Result<Identity, ClaimError>,
    /// The tenant named by the claims (the identity's error when there is no identity).
    context: Result<TenantContext, ClaimError>,
}

#[cfg(feature = "jwt")]
impl Derived {
    fn new(mapping: &Arc<ClaimMapping>, claims: &crate::Claims) -> Self {
        let identity = mapping.identity(
            claims.clone(),
            crate::jwt::scopes(claims),
            crate::context::ContextSource::Jwt,
        );
        let context = identity
            .clone()
            .and_then(|identity| mapping.context(identity));
        Self {
            mapping: mapping.clone(),
            identity,
            context,
        }
    }
}

/// A selector for [`select_tenant`](TenantResolverBuilder::select_tenant): the `index`-th
/// segment of the path (0-based), if it follows `prefix`. `path_segment("lists", 1)` picks
/// `abc` out of `/lists/abc/todos`, and nothing out of `/lists` or `/me`.
pub fn path_segment(
    prefix: &'static str,
    index: usize,
) -> impl Fn(&Parts) -> Option<String> + Send + Sync + 'static {
    move |parts: &Parts| {
        let mut segments = parts.uri.path().split('/').filter(|s| !s.is_empty());
        if segments.next() != Some(prefix) {
            return None;
        }
        segments.nth(index.checked_sub(1)?).map(str::to_owned)
    }
}

/// Configuration for a [`TenantResolver`].
#[derive(Default)]
#[must_use]
pub struct TenantResolverBuilder {
    mapping: ClaimMapping,
    #[cfg(feature = "jwt")]
    verifier: Option<JwtVerifier>,
    api_gateway: bool,
    lambda_tenant_only: bool,
    selection: Option<(Arc<Selector>, Arc<dyn MembershipLookup>)>,
}

impl fmt::Debug for TenantResolverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantResolverBuilder")
            .field("mapping", &self.mapping)
            .finish_non_exhaustive()
    }
}

impl TenantResolverBuilder {
    /// Which claims hold tenant, role and tier (default: the reference solution's).
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Verify `Authorization: Bearer` tokens with `verifier`.
    #[cfg(feature = "jwt")]
    pub fn bearer(mut self, verifier: JwtVerifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Trust the authorizer context API Gateway put into a `lambda_http` request (JWT, Cognito or
    /// Lambda authorizer). Only for functions that API Gateway alone can invoke.
    #[cfg(feature = "lambda-http")]
    pub fn api_gateway_authorizer(mut self) -> Self {
        self.api_gateway = true;
        self
    }

    /// Accept an invocation with no user whose tenant is Lambda's own tenant id (tenant-isolation
    /// mode), with the mapping's default role and tier.
    #[cfg(feature = "lambda-http")]
    pub fn lambda_tenant_only(mut self) -> Self {
        self.lambda_tenant_only = true;
        self
    }

    /// Choose the tenant per request with `select` (see [`path_segment`]) and authorise it with
    /// `lookup`. When `select` finds no tenant, the request goes on with the caller's
    /// [`Identity`] only.
    pub fn select_tenant<F, L>(mut self, select: F, lookup: L) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
        L: MembershipLookup + 'static,
    {
        self.selection = Some((Arc::new(select), Arc::new(lookup)));
        self
    }

    /// Builds the resolver; it needs at least one source.
    pub fn build(self) -> Result<TenantResolver, NoSourceError> {
        #[cfg(feature = "jwt")]
        let has_bearer = self.verifier.is_some();
        #[cfg(not(feature = "jwt"))]
        let has_bearer = false;
        if !(has_bearer || self.api_gateway || self.lambda_tenant_only) {
            return Err(NoSourceError);
        }
        Ok(TenantResolver(Arc::new(ResolverInner {
            mapping: Arc::new(self.mapping),
            #[cfg(feature = "jwt")]
            verifier: self.verifier,
            api_gateway: self.api_gateway,
            lambda_tenant_only: self.lambda_tenant_only,
            selection: self.selection,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> Parts {
        http::Request::get(uri).body(()).unwrap().into_parts().0
    }

    #[test]
    fn path_segment_picks_after_prefix() {
        let select = path_segment("lists", 1);
        assert_eq!(select(&parts("/lists/abc/todos")), Some("abc".into()));
        assert_eq!(select(&parts("/lists/abc")), Some("abc".into()));
        assert_eq!(select(&parts("/lists")), None);
        assert_eq!(select(&parts("/me")), None);
        assert_eq!(select(&parts("/other/abc")), None);
        assert_eq!(path_segment("lists", 0)(&parts("/lists/abc")), None);
    }
}

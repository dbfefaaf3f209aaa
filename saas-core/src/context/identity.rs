//! Who the caller is, before a tenant is chosen.

use std::sync::Arc;
use std::time::SystemTime;

use crate::claims::Claims;

/// The verified user behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// The subject (`sub`): the identity provider's stable id for the user.
    pub sub: String,
    /// `cognito:username` or `username`, if the token carries one.
    pub username: Option<String>,
    /// The email claim, verified or not: see [`User::verified_email`].
    pub email: Option<String>,
    /// Whether the identity provider verified the email (`email_verified` as JSON `true` or as
    /// the string `"true"`; anything else, or no claim, is `false`).
    pub email_verified: bool,
}

impl User {
    /// The email, only if the identity provider verified it. Match memberships on this, never on
    /// [`User::email`].
    pub fn verified_email(&self) -> Option<&str> {
        if self.email_verified {
            self.email.as_deref()
        } else {
            None
        }
    }
}

/// Where a context came from, so code can tell a token verified here from a context API Gateway
/// vouches for or one carried by an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextSource {
    /// A bearer JWT verified by this process.
    Jwt,
    /// REST API with a Cognito user pool authorizer (`requestContext.authorizer.claims`).
    ApiGatewayCognito,
    /// HTTP API JWT authorizer (`requestContext.authorizer.jwt.claims`).
    ApiGatewayJwt,
    /// A Lambda authorizer's context (REST or HTTP API).
    ApiGatewayLambdaAuthorizer,
    /// Lambda's own tenant id (tenant-isolation mode), with no user.
    LambdaTenantId,
    /// A [`TenantEnvelope`](crate::TenantEnvelope) carried by an asynchronous event.
    Envelope,
    /// Built by a test without a token (`test-util`).
    Test,
}

/// A verified caller: the user, groups, scopes and claims, without a tenant yet.
///
/// An `Identity` becomes a [`TenantContext`](crate::TenantContext) either through the tenant
/// claim of its token or by [`Identity::authorize`](crate::Identity::authorize) for a tenant chosen
/// per request: selecting a tenant is not authorising it.
#[derive(Clone, Debug)]
pub struct Identity(Arc<IdentityInner>);

#[derive(Debug)]
struct IdentityInner {
    user: User,
    groups: Vec<String>,
    scopes: Vec<String>,
    expires_at: Option<SystemTime>,
    claims: Claims,
    source: ContextSource,
}

impl Identity {
    pub(crate) fn new(
        user: User,
        groups: Vec<String>,
        scopes: Vec<String>,
        expires_at: Option<SystemTime>,
        claims: Claims,
        source: ContextSource,
    ) -> Self {
        Self(Arc::new(IdentityInner {
            user,
            groups,
            scopes,
            expires_at,
            claims,
            source,
        }))
    }

    /// The user.
    pub fn user(&self) -> &User {
        &self.0.user
    }

    /// The groups (`cognito:groups` by default).
    pub fn groups(&self) -> &[String] {
        &self.0.groups
    }

    /// The OAuth scopes.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// When the token expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at
    }

    /// Every claim.
    pub fn claims(&self) -> &Claims {
        &self.0.claims
    }

    /// Where the identity came from.
    pub fn source(&self) -> ContextSource {
        self.0.source
    }
}

//! The tenant context: who is calling, for which tenant, with which role and tier.

mod identity;
mod role;
mod tenant_id;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

pub use identity::{ContextSource, Identity, User};
pub use role::{Role, Tier, UnknownValue};
pub use tenant_id::{MAX_TENANT_ID_LEN, TenantId, TenantIdError};

use crate::claims::Claims;

/// A verified tenant context: tenant, role, tier and (unless it came from Lambda's tenant id
/// alone) the user.
///
/// A `TenantContext` exists only after verification: this crate builds it from a verified JWT,
/// from an API Gateway authorizer context, from Lambda's tenant id, or from an envelope on an
/// event; tests build one with `TenantContext::builder` (feature `test-util`). It is one `Arc`
/// (cheap to clone), `Send + Sync`, and lives in request extensions or is passed by value: never
/// put it in a static.
///
/// `Debug` shows the tenant, role, tier and subject, never the claims.
#[derive(Clone)]
pub struct TenantContext(Arc<ContextInner>);

struct ContextInner {
    tenant_id: TenantId,
    role: Role,
    tier: Tier,
    identity: Option<Identity>,
    source: ContextSource,
}

static EMPTY_CLAIMS: std::sync::LazyLock<Claims> = std::sync::LazyLock::new(Claims::default);

impl TenantContext {
    pub(crate) fn new(
        tenant_id: TenantId,
        role: Role,
        tier: Tier,
        identity: Option<Identity>,
    ) -> Self {
        let source = identity
            .as_ref()
            .map_or(ContextSource::LambdaTenantId, Identity::source);
        Self::with_source(tenant_id, role, tier, identity, source)
    }

    pub(crate) fn with_source(
        tenant_id: TenantId,
        role: Role,
        tier: Tier,
        identity: Option<Identity>,
        source: ContextSource,
    ) -> Self {
        Self(Arc::new(ContextInner {
            tenant_id,
            role,
            tier,
            identity,
            source,
        }))
    }

    /// The tenant.
    pub fn tenant_id(&self) -> &TenantId {
        &self.0.tenant_id
    }

    /// The caller's role in the tenant.
    pub fn role(&self) -> Role {
        self.0.role
    }

    /// The tenant's tier.
    pub fn tier(&self) -> Tier {
        self.0.tier
    }

    /// The user, absent only for a context from Lambda's tenant id alone.
    pub fn user(&self) -> Option<&User> {
        self.0.identity.as_ref().map(Identity::user)
    }

    /// The user's subject (`sub`), if there is a user.
    pub fn subject(&self) -> Option<&str> {
        self.user().map(|u| u.sub.as_str())
    }

    /// The verified identity behind the context, if there is a user.
    pub fn identity(&self) -> Option<&Identity> {
        self.0.identity.as_ref()
    }

    /// The user's groups.
    pub fn groups(&self) -> &[String] {
        self.0.identity.as_ref().map_or(&[], Identity::groups)
    }

    /// The token's OAuth scopes.
    pub fn scopes(&self) -> &[String] {
        self.0.identity.as_ref().map_or(&[], Identity::scopes)
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups().iter().any(|g| g == group)
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().iter().any(|s| s == scope)
    }

    /// When the token expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.identity.as_ref().and_then(Identity::expires_at)
    }

    /// Every claim of the token or authorizer context (empty for a tenant-only context).
    pub fn claims(&self) -> &Claims {
        self.0
            .identity
            .as_ref()
            .map_or(&*EMPTY_CLAIMS, Identity::claims)
    }

    /// Where the context came from.
    pub fn source(&self) -> ContextSource {
        self.0.source
    }
}

impl fmt::Debug for TenantContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantContext")
            .field("tenant_id", &self.0.tenant_id)
            .field("role", &self.0.role)
            .field("tier", &self.0.tier)
            .field("sub", &self.subject())
            .field("source", &self.0.source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn context_is_send_sync_and_one_pointer() {
        assert_send_sync::<TenantContext>();
        assert_eq!(
            std::mem::size_of::<TenantContext>(),
            std::mem::size_of::<usize>()
        );
    }
}

//! Authorising a tenant chosen per request: selecting a tenant is not authorising it.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::claims::ClaimError;
use crate::context::{Identity, TenantContext};
use crate::extract::TenantRejection;
use crate::{Role, TenantId, Tier};

/// A boxed, `Send` future, as [`MembershipLookup`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a user may do in a tenant: the answer of a [`MembershipLookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    role: Role,
    tier: Tier,
}

impl Membership {
    /// A membership with `role` in a tenant of `tier`.
    pub fn new(role: Role, tier: Tier) -> Self {
        Self { role, tier }
    }

    /// The user's role in the tenant.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The tenant's tier.
    pub fn tier(&self) -> Tier {
        self.tier
    }
}

/// A membership lookup failed (the store is unreachable, say): the request gets 503, never
/// access.
#[derive(Debug, thiserror::Error)]
#[error("membership lookup failed")]
pub struct MembershipError(#[source] Box<dyn StdError + Send + Sync>);

impl MembershipError {
    /// Wraps the lookup's own error.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self(source.into())
    }
}

/// Decides whether a verified identity is a member of a tenant, and with which role.
///
/// The application provides it (a table of memberships, say). `Ok(None)` means "not a member":
/// the request is refused. `Err` means the answer could not be had: the request is refused with
/// 503.
///
/// ```
/// use saas_core::{membership_fn, Membership, Role, Tier};
///
/// let lookup = membership_fn(|identity, tenant| async move {
///     let owner = identity.user().verified_email() == Some("ann@example.com");
///     Ok((owner && tenant == "tenant-a").then(|| Membership::new(Role::TenantAdmin, Tier::Basic)))
/// });
/// # let _ = lookup;
/// ```
pub trait MembershipLookup: Send + Sync {
    /// The identity's membership in `tenant`, if any.
    fn membership<'a>(
        &'a self,
        identity: &'a Identity,
        tenant: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<Membership>, MembershipError>>;
}

impl<T: MembershipLookup + ?Sized> MembershipLookup for Arc<T> {
    fn membership<'a>(
        &'a self,
        identity: &'a Identity,
        tenant: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<Membership>, MembershipError>> {
        (**self).membership(identity, tenant)
    }
}

/// A [`MembershipLookup`] from an async closure over owned (cheaply cloned) arguments.
pub fn membership_fn<F, Fut>(f: F) -> MembershipFn<F>
where
    F: Fn(Identity, TenantId) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<Membership>, MembershipError>> + Send + 'static,
{
    MembershipFn(f)
}

/// See [`membership_fn`].
#[derive(Clone)]
pub struct MembershipFn<F>(F);

impl<F> fmt::Debug for MembershipFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MembershipFn")
    }
}

impl<F, Fut> MembershipLookup for MembershipFn<F>
where
    F: Fn(Identity, TenantId) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<Membership>, MembershipError>> + Send + 'static,
{
    fn membership<'a>(
        &'a self,
        identity: &'a Identity,
        tenant: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<Membership>, MembershipError>> {
        Box::pin((self.0)(identity.clone(), tenant.clone()))
    }
}

/// Memberships listed in a claim of the token itself, as a pre-token-generation trigger adds
/// them: a JSON object (or a string holding one) from tenant id to role, or to
/// `{"role": .., "tier": ..}`.
///
/// ```text
/// "custom:memberships": "{\"tenant-a\":\"TenantAdmin\",\"tenant-b\":{\"role\":\"TenantViewer\",\"tier\":\"Premium\"}}"
/// ```
///
/// An entry without a tier gets the default tier; without a default, it is refused.
#[derive(Debug, Clone)]
pub struct TokenMemberships {
    claim: String,
    default_tier: Option<Tier>,
}

impl TokenMemberships {
    /// Reads memberships from `claim`.
    pub fn new(claim: impl Into<String>) -> Self {
        Self {
            claim: claim.into(),
            default_tier: None,
        }
    }

    /// The tier of entries that name only a role.
    pub fn default_tier(mut self, tier: Tier) -> Self {
        self.default_tier = Some(tier);
        self
    }

    fn lookup(
        &self,
        identity: &Identity,
        tenant: &TenantId,
    ) -> Result<Option<Membership>, ClaimError> {
        let invalid = |reason| ClaimError::Invalid {
            claim: self.claim.clone(),
            reason,
        };
        let parsed;
        let map = match identity.claims().get(&self.claim) {
            None => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(Value::String(s)) => {
                parsed =
                    serde_json::from_str::<Value>(s).map_err(|_| invalid("not a JSON object"))?;
                parsed
                    .as_object()
                    .ok_or_else(|| invalid("not a JSON object"))?
            }
            Some(_) => return Err(invalid("not a JSON object")),
        };
        let Some(entry) = map.get(tenant.as_str()) else {
            return Ok(None);
        };
        let (role, tier) = match entry {
            Value::String(role) => (role.as_str(), None),
            Value::Object(o) => (
                o.get("role")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("an entry has no role"))?,
                o.get("tier").and_then(Value::as_str),
            ),
            _ => return Err(invalid("an entry is neither a role nor an object")),
        };
        let role = role.parse().map_err(|source| ClaimError::UnknownRole {
            claim: self.claim.clone(),
            source,
        })?;
        let tier = match tier {
            Some(t) => t.parse().map_err(|source| ClaimError::UnknownTier {
                claim: self.claim.clone(),
                source,
            })?,
            None => self
                .default_tier
                .ok_or_else(|| invalid("an entry has no tier and no default is set"))?,
        };
        Ok(Some(Membership::new(role, tier)))
    }
}

impl MembershipLookup for TokenMemberships {
    fn membership<'a>(
        &'a self,
        identity: &'a Identity,
        tenant: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<Membership>, MembershipError>> {
        // A malformed claim is the token's fault, not an outage: it grants nothing (403), and
        // is logged for the operator.
        let membership = self.lookup(identity, tenant).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "membership claim is malformed");
            None
        });
        Box::pin(std::future::ready(Ok(membership)))
    }
}

impl Identity {
    /// Authorises this identity for a tenant chosen per request (from the path, say) through
    /// `lookup`. Not a member: [`TenantRejection::NotAMember`]; lookup failed:
    /// [`TenantRejection::MembershipUnavailable`].
    pub async fn authorize<L>(
        &self,
        tenant: TenantId,
        lookup: &L,
    ) -> Result<TenantContext, TenantRejection>
    where
        L: MembershipLookup + ?Sized,
    {
        match lookup.membership(self, &tenant).await {
            Ok(Some(m)) => Ok(TenantContext::new(
                tenant,
                m.role(),
                m.tier(),
                Some(self.clone()),
            )),
            Ok(None) => Err(TenantRejection::NotAMember),
            Err(e) => {
                tracing::warn!(error = %e, source = ?StdError::source(&e), "membership lookup failed");
                Err(TenantRejection::MembershipUnavailable)
            }
        }
    }
}

//! Carrying the tenant into asynchronous work: EventBridge details, SQS and SNS bodies.

use serde::{Deserialize, Serialize};

use crate::claims::{ClaimError, Claims};
use crate::context::{ContextSource, Identity, TenantContext, User};
use crate::{Role, TenantId, Tier};

/// An event payload with the tenant it belongs to.
///
/// A producer wraps its payload with the request's context; a consumer opens the envelope and
/// gets a context back, so the tenant is never lost in background work and never read from
/// ambient state. The tenant fields are validated again when the envelope is opened (a bad tenant
/// id, role or tier is an error, never a default). The consumer trusts whoever can put events on
/// its bus or queue: keep that to your own producers (resource policies, IAM).
///
/// ```
/// use saas_core::{TenantContext, TenantEnvelope};
///
/// # let ctx = TenantContext::builder("tenant-a").build();
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct TodoCreated { todo: String }
///
/// let json = serde_json::to_string(&TenantEnvelope::new(&ctx, TodoCreated { todo: "t-1".into() }))?;
///
/// // ... in the consumer:
/// let envelope: TenantEnvelope<TodoCreated> = serde_json::from_str(&json)?;
/// let (ctx, event) = envelope.open()?;
/// assert_eq!(ctx.tenant_id(), "tenant-a");
/// assert_eq!(event.todo, "t-1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEnvelope<T> {
    /// Who the event is for.
    pub tenant: EnvelopeTenant,
    /// The payload.
    pub data: T,
}

/// The tenant part of a [`TenantEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeTenant {
    /// The tenant id (checked again on open).
    pub id: String,
    /// The tier.
    pub tier: String,
    /// The role of the user who caused the event.
    pub role: String,
    /// The user's subject, if there was a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The user's verified email, if any (an unverified email is not carried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl<T> TenantEnvelope<T> {
    /// Wraps `data` with the tenant of `ctx`.
    pub fn new(ctx: &TenantContext, data: T) -> Self {
        Self {
            tenant: EnvelopeTenant {
                id: ctx.tenant_id().to_string(),
                tier: ctx.tier().as_str().to_owned(),
                role: ctx.role().as_str().to_owned(),
                sub: ctx.subject().map(str::to_owned),
                email: ctx.user().and_then(User::verified_email).map(str::to_owned),
            },
            data,
        }
    }

    /// Checks the tenant fields and returns the context (source
    /// [`ContextSource::Envelope`]) with the payload.
    pub fn open(self) -> Result<(TenantContext, T), ClaimError> {
        let t = self.tenant;
        let tenant = TenantId::new(&t.id).map_err(|source| ClaimError::InvalidTenantId {
            claim: "tenant.id".into(),
            source,
        })?;
        let tier: Tier = t.tier.parse().map_err(|source| ClaimError::UnknownTier {
            claim: "tenant.tier".into(),
            source,
        })?;
        let role: Role = t.role.parse().map_err(|source| ClaimError::UnknownRole {
            claim: "tenant.role".into(),
            source,
        })?;
        let identity = t.sub.map(|sub| {
            Identity::new(
                User {
                    sub,
                    username: None,
                    email_verified: t.email.is_some(),
                    email: t.email,
                },
                Vec::new(),
                Vec::new(),
                None,
                Claims::default(),
                ContextSource::Envelope,
            )
        });
        let ctx = TenantContext::with_source(tenant, role, tier, identity, ContextSource::Envelope);
        Ok((ctx, self.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tampered_envelopes_do_not_open() {
        for tenant in [
            json!({"id": "tenant#b", "tier": "Basic", "role": "TenantUser"}),
            json!({"id": "tenant-a", "tier": "Gold", "role": "TenantUser"}),
            json!({"id": "tenant-a", "tier": "Basic", "role": "Root"}),
        ] {
            let env: TenantEnvelope<u32> =
                serde_json::from_value(json!({"tenant": tenant, "data": 1})).unwrap();
            assert!(env.open().is_err());
        }
        let extra = json!({"tenant": {"id": "a", "tier": "Basic", "role": "TenantUser", "admin": true}, "data": 1});
        assert!(serde_json::from_value::<TenantEnvelope<u32>>(extra).is_err());
    }

    #[test]
    fn round_trip_keeps_the_tenant() {
        let env: TenantEnvelope<u32> = serde_json::from_value(json!({
            "tenant": {"id": "tenant-b", "tier": "Premium", "role": "TenantAdmin", "sub": "u-9", "email": "b@example.com"},
            "data": 7
        }))
        .unwrap();
        let (ctx, data) = env.open().unwrap();
        assert_eq!(data, 7);
        assert_eq!(ctx.tenant_id(), "tenant-b");
        assert_eq!(ctx.tier(), Tier::Premium);
        assert_eq!(ctx.source(), ContextSource::Envelope);
        assert_eq!(
            ctx.user().and_then(User::verified_email),
            Some("b@example.com")
        );
        let again = TenantEnvelope::new(&ctx, data);
        assert_eq!(again.tenant.id, "tenant-b");
    }
}

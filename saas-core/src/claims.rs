//! Verified claims and the mapping from claims to a tenant context.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::context::{ContextSource, Identity, TenantContext, User};
use crate::{Role, TenantId, TenantIdError, Tier, UnknownValue};

/// The claims of a verified token or of an authorizer context that API Gateway vouches for.
///
/// Only this crate creates `Claims`, after verification, so holding one means the values came
/// from a trusted source. Values are read leniently where sources disagree on shape: API Gateway
/// hands every claim over as a string (`"true"`, `"[a b]"`, `"1700000000"`), a token as JSON.
///
/// `Debug` prints the claim names only, never their values.
#[derive(Clone, Default)]
pub struct Claims(Arc<Map<String, Value>>);

impl Claims {
    #[cfg_attr(
        not(any(
            feature = "jwt",
            feature = "apigw-v1",
            feature = "apigw-v2",
            feature = "test-util"
        )),
        allow(dead_code)
    )]
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Self(Arc::new(map))
    }

    /// A claim's raw value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A claim that is a string (an empty string counts as absent).
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// A boolean claim: JSON `true`/`false`, or the strings `"true"`/`"false"` (any case) as
    /// API Gateway and moto's Cognito write them. Anything else is `None`.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.0.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// A list claim: a JSON array of strings, or a string in the forms API Gateway uses:
    /// `"[a b]"` (HTTP API JWT authorizer), `"a,b"` or `"a b"`.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => split_list(s),
            _ => Vec::new(),
        }
    }

    /// A numeric date claim (seconds since the epoch): a JSON number or a numeric string.
    pub fn seconds(&self, name: &str) -> Option<i64> {
        match self.0.get(name)? {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Every claim.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The claims as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

pub(crate) fn split_list(s: &str) -> Vec<String> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Why verified claims do not make a tenant context.
///
/// Every variant maps to 403: the caller is authenticated, but its claims grant no usable tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// A claim the mapping requires is absent or empty.
    #[error("claim {0:?} is missing")]
    Missing(String),
    /// The tenant claim is not a valid [`TenantId`].
    #[error("claim {claim:?} is not a valid tenant id: {source}")]
    InvalidTenantId {
        /// The claim that held the tenant id.
        claim: String,
        /// What is wrong with it.
        source: TenantIdError,
    },
    /// The role claim holds an unknown role.
    #[error("claim {claim:?}: {source}")]
    UnknownRole {
        /// The role claim.
        claim: String,
        /// The rejected value.
        source: UnknownValue,
    },
    /// The tier claim holds an unknown tier.
    #[error("claim {claim:?}: {source}")]
    UnknownTier {
        /// The tier claim.
        claim: String,
        /// The rejected value.
        source: UnknownValue,
    },
    /// A claim has the wrong shape (for example a membership claim that is not a JSON object).
    #[error("claim {claim:?} is invalid: {reason}")]
    Invalid {
        /// The claim.
        claim: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Which claims hold the tenant, the role, the tier and the user.
///
/// The defaults follow the AWS SaaS reference solution: `custom:tenantId`, `custom:userRole`,
/// `custom:tenantTier`, with Cognito's `cognito:username` and `cognito:groups`. A missing role or
/// tier is an error unless a default is set: nothing is granted by accident.
///
/// ```
/// use saas_core::{ClaimMapping, Role, Tier};
///
/// let mapping = ClaimMapping::default()
///     .tenant_claim("custom:orgId")
///     .default_role(Role::TenantUser)
///     .default_tier(Tier::Basic);
/// assert_eq!(mapping.tenant(), "custom:orgId");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    tenant: Cow<'static, str>,
    role: Cow<'static, str>,
    tier: Cow<'static, str>,
    default_role: Option<Role>,
    default_tier: Option<Tier>,
    groups: Cow<'static, str>,
    email: Cow<'static, str>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self::new()
    }
}

/// The context keys a Lambda authorizer built with
/// [`authorizer_response`](crate::authorizer_response) writes, and the layer reads back.
#[cfg(any(feature = "apigw-v1", feature = "apigw-v2"))]
pub(crate) const LAMBDA_AUTHORIZER_MAPPING: ClaimMapping = ClaimMapping {
    tenant: Cow::Borrowed(crate::authorizer_response::keys::TENANT_ID),
    role: Cow::Borrowed(crate::authorizer_response::keys::ROLE),
    tier: Cow::Borrowed(crate::authorizer_response::keys::TIER),
    default_role: None,
    default_tier: None,
    groups: Cow::Borrowed(crate::authorizer_response::keys::GROUPS),
    email: Cow::Borrowed(crate::authorizer_response::keys::EMAIL),
};

impl ClaimMapping {
    /// The reference solution's mapping (same as `Default`).
    pub const fn new() -> Self {
        Self {
            tenant: Cow::Borrowed("custom:tenantId"),
            role: Cow::Borrowed("custom:userRole"),
            tier: Cow::Borrowed("custom:tenantTier"),
            default_role: None,
            default_tier: None,
            groups: Cow::Borrowed("cognito:groups"),
            email: Cow::Borrowed("email"),
        }
    }

    /// The claim that holds the tenant id.
    pub fn tenant_claim(mut self, name: impl Into<String>) -> Self {
        self.tenant = Cow::Owned(name.into());
        self
    }

    /// The claim that holds the role.
    pub fn role_claim(mut self, name: impl Into<String>) -> Self {
        self.role = Cow::Owned(name.into());
        self
    }

    /// The claim that holds the tier.
    pub fn tier_claim(mut self, name: impl Into<String>) -> Self {
        self.tier = Cow::Owned(name.into());
        self
    }

    /// The claim that holds the groups (a list).
    pub fn groups_claim(mut self, name: impl Into<String>) -> Self {
        self.groups = Cow::Owned(name.into());
        self
    }

    /// The claim that holds the email address.
    pub fn email_claim(mut self, name: impl Into<String>) -> Self {
        self.email = Cow::Owned(name.into());
        self
    }

    /// The role given when the token has no role claim. Without it, a missing role is an error.
    pub fn default_role(mut self, role: Role) -> Self {
        self.default_role = Some(role);
        self
    }

    /// The tier given when the token has no tier claim. Without it, a missing tier is an error.
    pub fn default_tier(mut self, tier: Tier) -> Self {
        self.default_tier = Some(tier);
        self
    }

    /// The name of the tenant claim.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    #[cfg(feature = "lambda")]
    /// The role for a tenant-only context (Lambda's tenant id), if a default is set.
    pub(crate) fn fallback_role(&self) -> Option<Role> {
        self.default_role
    }

    #[cfg(feature = "lambda")]
    /// The tier for a tenant-only context (Lambda's tenant id), if a default is set.
    pub(crate) fn fallback_tier(&self) -> Option<Tier> {
        self.default_tier
    }

    #[cfg_attr(
        not(any(
            feature = "jwt",
            feature = "apigw-v1",
            feature = "apigw-v2",
            feature = "test-util"
        )),
        allow(dead_code)
    )]
    /// The caller's identity from verified claims: who it is, not yet which tenant it acts for.
    pub(crate) fn identity(
        &self,
        claims: Claims,
        scopes: Vec<String>,
        source: ContextSource,
    ) -> Result<Identity, ClaimError> {
        let sub = claims
            .string("sub")
            .ok_or_else(|| ClaimError::Missing("sub".into()))?
            .to_owned();
        let username = claims
            .string("cognito:username")
            .or_else(|| claims.string("username"))
            .map(str::to_owned);
        let email = claims.string(&self.email).map(str::to_owned);
        let email_verified = claims.boolean("email_verified").unwrap_or(false);
        let groups = claims.list(&self.groups);
        let expires_at = claims
            .seconds("exp")
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        Ok(Identity::new(
            User {
                sub,
                username,
                email,
                email_verified,
            },
            groups,
            scopes,
            expires_at,
            claims,
            source,
        ))
    }

    /// The tenant context named by the claims themselves.
    pub(crate) fn context(&self, identity: Identity) -> Result<TenantContext, ClaimError> {
        let claims = identity.claims();
        let tenant = self.tenant_id(claims)?;
        let role = self.role(claims)?;
        let tier = self.tier(claims)?;
        Ok(TenantContext::new(tenant, role, tier, Some(identity)))
    }

    pub(crate) fn tenant_id(&self, claims: &Claims) -> Result<TenantId, ClaimError> {
        let raw = claims
            .string(&self.tenant)
            .ok_or_else(|| ClaimError::Missing(self.tenant.to_string()))?;
        TenantId::new(raw).map_err(|source| ClaimError::InvalidTenantId {
            claim: self.tenant.to_string(),
            source,
        })
    }

    pub(crate) fn role(&self, claims: &Claims) -> Result<Role, ClaimError> {
        match claims.string(&self.role) {
            Some(raw) => raw.parse().map_err(|source| ClaimError::UnknownRole {
                claim: self.role.to_string(),
                source,
            }),
            None => self
                .default_role
                .ok_or_else(|| ClaimError::Missing(self.role.to_string())),
        }
    }

    pub(crate) fn tier(&self, claims: &Claims) -> Result<Tier, ClaimError> {
        match claims.string(&self.tier) {
            Some(raw) => raw.parse().map_err(|source| ClaimError::UnknownTier {
                claim: self.tier.to_string(),
                source,
            }),
            None => self
                .default_tier
                .ok_or_else(|| ClaimError::Missing(self.tier.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        match v {
            Value::Object(map) => Claims::new(map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn lists_in_every_shape() {
        let c = claims(json!({
            "json": ["a", "b", ""],
            "httpapi": "[a b]",
            "rest": "a,b",
            "spaces": " a  b ",
            "empty": "[]",
            "number": 3
        }));
        for name in ["json", "httpapi", "rest", "spaces"] {
            assert_eq!(c.list(name), vec!["a", "b"], "{name}");
        }
        assert!(c.list("empty").is_empty());
        assert!(c.list("number").is_empty());
        assert!(c.list("absent").is_empty());
    }

    #[test]
    fn booleans_as_json_or_strings() {
        let c =
            claims(json!({"a": true, "b": "true", "c": "TRUE", "d": "false", "e": "yes", "f": 1}));
        assert_eq!(c.boolean("a"), Some(true));
        assert_eq!(c.boolean("b"), Some(true));
        assert_eq!(c.boolean("c"), Some(true));
        assert_eq!(c.boolean("d"), Some(false));
        assert_eq!(c.boolean("e"), None);
        assert_eq!(c.boolean("f"), None);
    }

    #[test]
    fn debug_hides_values() {
        let c = claims(json!({"email": "ann@example.com"}));
        let shown = format!("{c:?}");
        assert!(
            shown.contains("email") && !shown.contains("ann@"),
            "{shown}"
        );
    }

    #[test]
    fn mapping_requires_role_and_tier_unless_defaulted() {
        let c = claims(json!({"sub": "u1", "custom:tenantId": "tenant-a"}));
        let id = ClaimMapping::default()
            .identity(c.clone(), vec![], ContextSource::Test)
            .unwrap();
        assert_eq!(
            ClaimMapping::default().context(id.clone()).unwrap_err(),
            ClaimError::Missing("custom:userRole".into())
        );
        let ctx = ClaimMapping::default()
            .default_role(Role::TenantUser)
            .default_tier(Tier::Basic)
            .context(id)
            .unwrap();
        assert_eq!(ctx.tenant_id(), "tenant-a");
        assert_eq!(ctx.role(), Role::TenantUser);
    }
}

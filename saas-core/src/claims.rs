//! Verified claims and the mapping from claims to a tenant context.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
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
/// Claims that arrive as strings (an HTTP API JWT authorizer's) are kept as they came, in one
/// buffer: the typed readers ([`string`](Self::string), [`boolean`](Self::boolean),
/// [`list`](Self::list), [`seconds`](Self::seconds)) read them there, and the JSON view
/// ([`get`](Self::get), [`iter`](Self::iter), [`as_map`](Self::as_map)) is made on first use.
///
/// `Debug` prints the claim names only, never their values.
#[derive(Clone)]
pub struct Claims(Arc<Repr>);

enum Repr {
    Json(Map<String, Value>),
    Strings(StringClaims),
}

/// Claims whose values are all strings: names and values one after another in `text`, the
/// entries in [`name_order`].
struct StringClaims {
    text: Box<str>,
    entries: Box<[StringEntry]>,
    json: OnceLock<Map<String, Value>>,
}

/// Where one claim is in [`StringClaims::text`]: its name, then its value.
#[derive(Clone, Copy)]
struct StringEntry {
    start: u32,
    name_len: u32,
    value_len: u32,
}

impl StringClaims {
    /// The entry's name as bytes: for comparisons, without the char-boundary checks of a `str`
    /// slice.
    #[inline]
    fn name_bytes(&self, e: &StringEntry) -> &[u8] {
        let start = e.start as usize;
        self.text
            .as_bytes()
            .get(start..start + e.name_len as usize)
            .unwrap_or_default()
    }

    fn name(&self, e: &StringEntry) -> &str {
        let start = e.start as usize;
        self.text
            .get(start..start + e.name_len as usize)
            .unwrap_or_default()
    }

    fn value(&self, e: &StringEntry) -> &str {
        let start = e.start as usize + e.name_len as usize;
        self.text
            .get(start..start + e.value_len as usize)
            .unwrap_or_default()
    }

    fn get(&self, name: &str) -> Option<&str> {
        let at = self
            .entries
            .binary_search_by(|e| name_order(self.name_bytes(e), name.as_bytes()))
            .ok()?;
        self.entries.get(at).map(|e| self.value(e))
    }

    fn json(&self) -> &Map<String, Value> {
        self.json.get_or_init(|| {
            self.entries
                .iter()
                .map(|e| {
                    (
                        self.name(e).to_owned(),
                        Value::String(self.value(e).to_owned()),
                    )
                })
                .collect()
        })
    }
}

/// The order of [`StringClaims`]' entries: by length, then by bytes. Names of different
/// lengths (most of them) are told apart without comparing their bytes.
fn name_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// One claim, as it is held.
#[derive(Clone, Copy)]
enum ClaimRef<'a> {
    Json(&'a Value),
    Str(&'a str),
}

impl<'a> ClaimRef<'a> {
    /// The claim if it is a string.
    fn text(self) -> Option<&'a str> {
        match self {
            ClaimRef::Json(Value::String(s)) => Some(s),
            ClaimRef::Str(s) => Some(s),
            ClaimRef::Json(_) => None,
        }
    }
}

impl Default for Claims {
    fn default() -> Self {
        Self(Arc::new(Repr::Json(Map::new())))
    }
}

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
        Self(Arc::new(Repr::Json(map)))
    }

    /// Claims that are all strings, as API Gateway's HTTP API JWT authorizer passes them. A
    /// name given twice keeps its last value, as a JSON object would.
    #[cfg_attr(not(feature = "apigw-v2"), allow(dead_code))]
    pub(crate) fn from_strings<'a>(
        claims: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(claims.len());
        pairs.extend(claims);
        // Latest first, then a stable sort: of a repeated name, the first left is the last given.
        pairs.reverse();
        pairs.sort_by(|a, b| name_order(a.0.as_bytes(), b.0.as_bytes()));
        pairs.dedup_by(|later, earlier| later.0 == earlier.0);
        let bytes: usize = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
        if u32::try_from(bytes).is_err() {
            // Over 4 GiB of claims cannot come from API Gateway; keep them as JSON all the same.
            return Self::new(
                pairs
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), Value::String(v.to_owned())))
                    .collect(),
            );
        }
        let mut text = String::with_capacity(bytes);
        let mut entries: Vec<StringEntry> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            // Within u32: the total is.
            entries.push(StringEntry {
                start: text.len() as u32,
                name_len: name.len() as u32,
                value_len: value.len() as u32,
            });
            text.push_str(name);
            text.push_str(value);
        }
        Self(Arc::new(Repr::Strings(StringClaims {
            text: text.into_boxed_str(),
            entries: entries.into_boxed_slice(),
            json: OnceLock::new(),
        })))
    }

    fn lookup(&self, name: &str) -> Option<ClaimRef<'_>> {
        match &*self.0 {
            Repr::Json(map) => map.get(name).map(ClaimRef::Json),
            Repr::Strings(strings) => strings.get(name).map(ClaimRef::Str),
        }
    }

    /// A claim's raw value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().get(name)
    }

    /// A claim that is a string (an empty string counts as absent).
    pub fn string(&self, name: &str) -> Option<&str> {
        self.lookup(name)?.text().filter(|s| !s.is_empty())
    }

    /// A boolean claim: JSON `true`/`false`, or the strings `"true"`/`"false"` (any case) as
    /// API Gateway and moto's Cognito write them. Anything else is `None`.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.lookup(name)? {
            ClaimRef::Json(Value::Bool(b)) => Some(*b),
            claim => {
                let s = claim.text()?;
                if s.eq_ignore_ascii_case("true") {
                    Some(true)
                } else if s.eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    None
                }
            }
        }
    }

    /// A list claim: a JSON array of strings, or a string in the forms API Gateway uses:
    /// `"[a b]"` (HTTP API JWT authorizer), `"a,b"` or `"a b"`.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.lookup(name) {
            Some(ClaimRef::Json(Value::Array(items))) => items
                .iter()
                .filter_map(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(claim) => claim.text().map(split_list).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// A numeric date claim (seconds since the epoch): a JSON number or a numeric string.
    pub fn seconds(&self, name: &str) -> Option<i64> {
        match self.lookup(name)? {
            ClaimRef::Json(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
            claim => claim.text()?.trim().parse().ok(),
        }
    }

    /// Every claim.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.as_map().iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The claims as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        match &*self.0 {
            Repr::Json(map) => map,
            Repr::Strings(strings) => strings.json(),
        }
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Repr::Json(map) => f.debug_set().entries(map.keys()).finish(),
            Repr::Strings(strings) => f
                .debug_set()
                .entries(strings.entries.iter().map(|e| strings.name(e)))
                .finish(),
        }
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

    /// The same claims as an HTTP API authorizer passes them: every value a string.
    fn string_claims(pairs: &[(&str, &str)]) -> Claims {
        Claims::from_strings(pairs.iter().copied())
    }

    #[test]
    fn string_claims_read_as_json_strings_do() {
        let pairs = [
            ("sub", "u1"),
            ("groups", "[a b]"),
            ("email_verified", "TRUE"),
            ("exp", " 1900000000 "),
            ("empty", ""),
            ("custom:tenantId", "tenant-a"),
            ("bad_exp", "soon"),
        ];
        let strings = string_claims(&pairs);
        let json = Claims::new(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), Value::String((*v).to_owned())))
                .collect(),
        );
        for c in [&strings, &json] {
            assert_eq!(c.string("sub"), Some("u1"));
            assert_eq!(c.string("custom:tenantId"), Some("tenant-a"));
            assert_eq!(c.string("empty"), None, "empty counts as absent");
            assert_eq!(c.string("absent"), None);
            assert_eq!(c.list("groups"), vec!["a", "b"]);
            assert_eq!(c.boolean("email_verified"), Some(true));
            assert_eq!(c.boolean("sub"), None);
            assert_eq!(c.seconds("exp"), Some(1_900_000_000));
            assert_eq!(c.seconds("bad_exp"), None);
        }
        // The JSON view, made on first use, is the same object.
        assert_eq!(strings.as_map(), json.as_map());
        assert_eq!(strings.get("sub"), Some(&json!("u1")));
        let names: Vec<&str> = strings.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), pairs.len());
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    }

    #[test]
    fn string_claims_keep_the_last_of_a_repeated_name() {
        let c = string_claims(&[("a", "1"), ("b", "2"), ("a", "3")]);
        assert_eq!(c.string("a"), Some("3"));
        assert_eq!(c.string("b"), Some("2"));
        assert_eq!(c.as_map().len(), 2);
        assert_eq!(format!("{c:?}"), r#"{"a", "b"}"#);
    }

    #[test]
    fn string_claims_of_every_length_are_found() {
        // Names that share prefixes, and multi-byte text: every lookup lands on its own entry.
        let owned: Vec<(String, String)> = (0..40)
            .map(|i| (format!("{}é{i}", "n".repeat(i % 7)), format!("v{i}ü")))
            .collect();
        let c = Claims::from_strings(owned.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        for (name, value) in &owned {
            assert_eq!(c.string(name), Some(value.as_str()), "{name}");
        }
        assert_eq!(c.string("n"), None);
    }

    #[test]
    fn debug_hides_values() {
        for c in [
            claims(json!({"email": "ann@example.com"})),
            string_claims(&[("email", "ann@example.com")]),
        ] {
            let shown = format!("{c:?}");
            assert!(
                shown.contains("email") && !shown.contains("ann@"),
                "{shown}"
            );
        }
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

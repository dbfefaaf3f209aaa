//! Tenant-scoped credentials (defense in depth): a session policy that lets a role touch only one
//! tenant's keys, STS credentials for it cached per tenant, and a DynamoDB client bound to them.
//!
//! The policy is built from the crate's key layout ([`crate::key`]): `dynamodb:LeadingKeys` must
//! match `"{tenant}#*"` (and `"{tenant}.*"`, the tenant's write shards), on the given tables and
//! their indexes, for item actions only. Actions that carry no partition key (`Scan`,
//! `PartiQL`, table management) are not granted at all: `ForAllValues` conditions are true when
//! a request has no leading key, so granting them would void the isolation.
//!
//! Even if application code computed another tenant's key, DynamoDB would refuse the call. This
//! holds in AWS; the local stand-in (moto) does not enforce session policies.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::config::Credentials;
use saas_core::TenantId;
use serde_json::json;

use crate::error::{Error, Result};
use crate::ttl_cache::TtlCache;

/// The item actions a tenant session may use: each carries the partition keys it touches.
/// (`TransactWriteItems` is authorised through these per-item actions.)
pub const TENANT_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
];

/// STS's limit on an inline session policy, in characters (without whitespace).
const MAX_POLICY_LEN: usize = 2048;

/// The session policy that confines a session to `tenant`'s keys in `table_arns` (and their
/// indexes), as compact JSON.
///
/// ```
/// use saas_data::credentials::session_policy;
///
/// let policy = session_policy(
///     &"tenant-a".parse()?,
///     &["arn:aws:dynamodb:eu-west-1:111122223333:table/app-data".to_owned()],
/// )?;
/// assert!(policy.contains(r#""dynamodb:LeadingKeys":["tenant-a#*","tenant-a.*"]"#));
/// assert!(!policy.contains("Scan"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn session_policy(tenant: &TenantId, table_arns: &[String]) -> Result<String> {
    if table_arns.is_empty() {
        return Err(Error::invalid_request(
            "a session policy needs at least one table",
        ));
    }
    let mut resources = Vec::with_capacity(table_arns.len() * 2);
    for arn in table_arns {
        if !arn.starts_with("arn:") || !arn.contains(":table/") || arn.contains('*') {
            return Err(Error::invalid_request(
                "table ARNs look like arn:aws:dynamodb:REGION:ACCOUNT:table/NAME, without wildcards",
            ));
        }
        resources.push(arn.clone());
        resources.push(format!("{arn}/index/*"));
    }
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TenantItemsOnly",
            "Effect": "Allow",
            "Action": TENANT_ACTIONS,
            "Resource": resources,
            "Condition": {
                "ForAllValues:StringLike": {
                    "dynamodb:LeadingKeys": [format!("{tenant}#*"), format!("{tenant}.*")]
                }
            }
        }]
    });
    let text = policy.to_string();
    if text.len() > MAX_POLICY_LEN {
        return Err(Error::invalid_request(format!(
            "the session policy is {} characters, over STS's {MAX_POLICY_LEN}: name fewer tables",
            text.len()
        )));
    }
    Ok(text)
}

/// Assumes a role for one tenant at a time, with [`session_policy`], and caches each tenant's
/// credentials until shortly before they expire.
///
/// ```no_run
/// # async fn demo(sts: aws_sdk_sts::Client, base: aws_sdk_dynamodb::Config) -> saas_data::Result<()> {
/// use saas_data::credentials::TenantCredentials;
///
/// let creds = TenantCredentials::builder(sts, "arn:aws:iam::111122223333:role/tenant-data")
///     .table_arn("arn:aws:dynamodb:eu-west-1:111122223333:table/app-data")
///     .build()?;
/// let client = creds.dynamodb_client(&base, &"tenant-a".parse().map_err(|_| saas_data::Error::NotFound)?).await?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TenantCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    tables: Vec<String>,
    duration: Duration,
    refresh_before: Duration,
    cache: TtlCache<TenantId, Credentials>,
}

impl fmt::Debug for TenantCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantCredentials")
            .field("role_arn", &self.inner.role_arn)
            .field("tables", &self.inner.tables)
            .finish_non_exhaustive()
    }
}

/// Configures [`TenantCredentials`].
#[must_use]
pub struct TenantCredentialsBuilder {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    tables: Vec<String>,
    duration: Duration,
    refresh_before: Duration,
    max_tenants: u64,
}

impl fmt::Debug for TenantCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantCredentialsBuilder")
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

impl TenantCredentials {
    /// Credentials from assuming `role_arn` with `sts`.
    pub fn builder(
        sts: aws_sdk_sts::Client,
        role_arn: impl Into<String>,
    ) -> TenantCredentialsBuilder {
        TenantCredentialsBuilder {
            sts,
            role_arn: role_arn.into(),
            tables: Vec::new(),
            duration: Duration::from_secs(900),
            refresh_before: Duration::from_secs(60),
            max_tenants: 1000,
        }
    }

    /// `tenant`'s credentials: cached, or assumed now (concurrent callers share one call; if it
    /// fails, the error is that caller's and the next waiter calls).
    /// Cached credentials are used until `refresh_before` ahead of their expiry, and at most
    /// the session's duration.
    pub async fn credentials(&self, tenant: &TenantId) -> Result<Credentials> {
        let inner = &self.inner;
        let load = async {
            let creds = self.assume(tenant).await?;
            let now = Instant::now();
            let mut until = now + inner.duration;
            if let Some(exp) = creds.expiry() {
                let left = exp
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .saturating_sub(inner.refresh_before);
                until = until.min(now + left);
            }
            Ok::<_, Error>((creds, until))
        };
        inner.cache.get_or_load(tenant, load).await
    }

    async fn assume(&self, tenant: &TenantId) -> Result<Credentials> {
        let inner = &self.inner;
        let policy = session_policy(tenant, &inner.tables)?;
        let session: String = format!("tenant-{tenant}").chars().take(64).collect();
        let out = inner
            .sts
            .assume_role()
            .role_arn(&inner.role_arn)
            .role_session_name(session)
            .policy(policy)
            .duration_seconds(i32::try_from(inner.duration.as_secs()).unwrap_or(900))
            .send()
            .await
            .map_err(|e| Error::Unavailable(Box::new(aws_sdk_sts::Error::from(e))))?;
        let creds = out
            .credentials
            .ok_or_else(|| Error::internal("AssumeRole returned no credentials"))?;
        let expiry = SystemTime::try_from(creds.expiration)
            .map_err(|_| Error::internal("AssumeRole returned an invalid expiration"))?;
        tracing::debug!(tenant.id = tenant.as_str(), "tenant credentials assumed");
        Ok(Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            Some(creds.session_token),
            Some(expiry),
            "saas-data-tenant",
        ))
    }

    /// A DynamoDB client for `tenant`: `base` with the tenant's credentials.
    pub async fn dynamodb_client(
        &self,
        base: &aws_sdk_dynamodb::Config,
        tenant: &TenantId,
    ) -> Result<aws_sdk_dynamodb::Client> {
        let creds = self.credentials(tenant).await?;
        let config = base.to_builder().credentials_provider(creds).build();
        Ok(aws_sdk_dynamodb::Client::from_conf(config))
    }
}

impl TenantCredentialsBuilder {
    /// A table the tenant may use (its indexes included). Name every table of the model: the
    /// pool table, or the tenant's silo table.
    pub fn table_arn(mut self, arn: impl Into<String>) -> Self {
        self.tables.push(arn.into());
        self
    }

    /// How long assumed credentials last (900 s to 12 h, default 900 s).
    pub fn session_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// How long before expiry credentials are renewed (default 60 s).
    pub fn refresh_before(mut self, margin: Duration) -> Self {
        self.refresh_before = margin;
        self
    }

    /// How many tenants' credentials are kept (default 1,000).
    pub fn max_tenants(mut self, max: u64) -> Self {
        self.max_tenants = max;
        self
    }

    /// The provider, after checking the settings.
    pub fn build(self) -> Result<TenantCredentials> {
        if !(900..=43_200).contains(&self.duration.as_secs()) {
            return Err(Error::invalid_request(
                "STS sessions last 900 seconds to 12 hours",
            ));
        }
        if self.refresh_before >= self.duration {
            return Err(Error::invalid_request(
                "the refresh margin must be shorter than the session",
            ));
        }
        // Check the policy's shape once, with the longest possible tenant id.
        let longest = TenantId::new(&"x".repeat(saas_core::MAX_TENANT_ID_LEN))
            .map_err(|e| Error::internal(e.to_string()))?;
        session_policy(&longest, &self.tables)?;
        Ok(TenantCredentials {
            inner: Arc::new(Inner {
                cache: TtlCache::new(usize::try_from(self.max_tenants).unwrap_or(usize::MAX)),
                sts: self.sts,
                role_arn: self.role_arn,
                tables: self.tables,
                duration: self.duration,
                refresh_before: self.refresh_before,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_policy() {
        let tenant = TenantId::new("tenant-a").unwrap();
        let arns = vec![
            "arn:aws:dynamodb:us-east-1:111122223333:table/pool".to_owned(),
            "arn:aws:dynamodb:us-east-1:111122223333:table/app-tenant-a".to_owned(),
        ];
        let policy: serde_json::Value =
            serde_json::from_str(&session_policy(&tenant, &arns).unwrap()).unwrap();
        assert_eq!(
            policy,
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "TenantItemsOnly",
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"
                    ],
                    "Resource": [
                        "arn:aws:dynamodb:us-east-1:111122223333:table/pool",
                        "arn:aws:dynamodb:us-east-1:111122223333:table/pool/index/*",
                        "arn:aws:dynamodb:us-east-1:111122223333:table/app-tenant-a",
                        "arn:aws:dynamodb:us-east-1:111122223333:table/app-tenant-a/index/*"
                    ],
                    "Condition": {"ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": ["tenant-a#*", "tenant-a.*"]
                    }}
                }]
            })
        );
    }

    #[test]
    fn patterns_never_match_another_tenant() {
        // The patterns "a#*" and "a.*" against keys of tenants whose ids extend "a".
        fn like(pattern: &str, value: &str) -> bool {
            let prefix = pattern.trim_end_matches('*');
            value.starts_with(prefix)
        }
        let a = TenantId::new("a").unwrap();
        let ns = crate::key::Namespace::Tenant(a);
        for other in ["ab", "a_", "a-b", "b"] {
            let other_ns = crate::key::Namespace::Tenant(TenantId::new(other).unwrap());
            for shard in [0, 3] {
                let pk = other_ns.physical_pk(shard, "a#x");
                assert!(!like("a#*", &pk) && !like("a.*", &pk), "{pk}");
            }
        }
        assert!(like("a#*", &ns.physical_pk(0, "p")));
        assert!(like("a.*", &ns.physical_pk(2, "p")));
        let system = crate::key::Namespace::System.physical_pk(0, "a");
        assert!(!like("a#*", &system) && !like("a.*", &system));
    }

    #[test]
    fn bad_inputs() {
        let t = TenantId::new("t").unwrap();
        assert!(session_policy(&t, &[]).is_err());
        assert!(session_policy(&t, &["arn:aws:dynamodb:*:*:table/*".to_owned()]).is_err());
        assert!(session_policy(&t, &["pool".to_owned()]).is_err());
        let many: Vec<String> = (0..30)
            .map(|i| format!("arn:aws:dynamodb:us-east-1:111122223333:table/table-{i}"))
            .collect();
        assert!(matches!(
            session_policy(&t, &many),
            Err(Error::InvalidRequest(_))
        ));
    }
}

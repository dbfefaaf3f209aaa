//! Silo tables: naming a tenant's table, and creating and deleting tables off the request path.

use std::fmt;
use std::time::{Duration, Instant};

use saas_core::TenantId;

use crate::backend::TableState;
use crate::error::{Error, Result};
use crate::store::{DataStore, Model};

/// Names a tenant's own table: `prefix + tenant id + suffix` (e.g. `app-tenant-a-data`).
///
/// Tenant ids only hold `[A-Za-z0-9_-]`, which DynamoDB table names allow, so the name is
/// valid whenever the prefix and suffix are: they may hold up to 64 of `[A-Za-z0-9_.-]`, and the
/// prefix at least 2, so that every name has DynamoDB's minimum of 3 characters. Distinct tenants
/// always get distinct names.
///
/// ```
/// use saas_data::TableNames;
///
/// let names = TableNames::prefix("app-")?.suffix("-data")?;
/// assert_eq!(names.table_for(&"tenant-a".parse()?), "app-tenant-a-data");
/// assert!(TableNames::prefix("app/").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    prefix: String,
    suffix: String,
}

fn check_affix(affix: &str) -> Result<()> {
    let ok = affix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok || affix.len() > 64 {
        return Err(Error::invalid_request(
            "a table name prefix or suffix holds up to 64 of [A-Za-z0-9_.-]",
        ));
    }
    Ok(())
}

impl TableNames {
    /// Tables named `prefix + tenant id`; the prefix has 2 to 64 characters.
    pub fn prefix(prefix: &str) -> Result<Self> {
        check_affix(prefix)?;
        if prefix.len() < 2 {
            return Err(Error::invalid_request(
                "a table name prefix has at least 2 characters",
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: String::new(),
        })
    }

    /// Appends `suffix` to every name.
    pub fn suffix(mut self, suffix: &str) -> Result<Self> {
        check_affix(suffix)?;
        self.suffix = suffix.to_owned();
        Ok(self)
    }

    /// The table of `tenant`.
    pub fn table_for(&self, tenant: &TenantId) -> String {
        let mut name =
            String::with_capacity(self.prefix.len() + tenant.as_str().len() + self.suffix.len());
        name.push_str(&self.prefix);
        name.push_str(tenant.as_str());
        name.push_str(&self.suffix);
        name
    }
}

/// Creates and deletes tables with the crate's key schema (`_pk`, `_sk`, on-demand billing),
/// waiting until they are usable. Idempotent, and never used on the request path: call it when
/// a tenant is onboarded (the [`Registry`](crate::Registry) does, in the mixed model) or from
/// deployment code.
#[derive(Clone)]
pub struct Provisioner {
    store: DataStore,
    timeout: Duration,
    poll: Duration,
}

impl fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provisioner")
            .field("timeout", &self.timeout)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl Provisioner {
    pub(crate) fn new(store: DataStore) -> Self {
        Self {
            store,
            timeout: Duration::from_secs(300),
            poll: Duration::from_millis(500),
        }
    }

    /// How long to wait for a table to become ACTIVE or go away (default 5 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How often to ask (default 500 ms).
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Creates `table` (pool, control or any table of this crate's schema) unless it exists,
    /// and waits until it is ACTIVE.
    pub async fn create_table(&self, table: &str) -> Result<()> {
        let backend = &self.store.inner.backend.0;
        match backend.table_state(table).await? {
            TableState::Active => return Ok(()),
            TableState::Deleting => {
                return Err(Error::Unavailable(
                    "the table is being deleted; create it again once it is gone".into(),
                ));
            }
            TableState::Missing => backend.create_table(table).await?,
            TableState::Creating | TableState::Other => {}
        }
        self.wait_for(table, TableState::Active).await
    }

    /// Deletes `table` and waits until it is gone. Deleting a missing table succeeds.
    pub async fn delete_table(&self, table: &str) -> Result<()> {
        self.store.inner.backend.0.delete_table(table).await?;
        self.wait_for(table, TableState::Missing).await
    }

    /// The silo table of `tenant`, by the store's [`TableNames`] (silo and mixed models).
    ///
    /// [`Error::TenantNotProvisioned`] when that name is the store's pool or control table: the
    /// tenant id must not turn a shared table into one tenant's (and deletable with it).
    pub fn tenant_table(&self, tenant: &TenantId) -> Result<String> {
        match &self.store.inner.model {
            Model::Silo { names } | Model::Mixed { names, .. } => {
                self.store.silo_table(names, tenant)
            }
            Model::Pool { .. } => Err(Error::invalid_request(
                "the pool model has no table per tenant",
            )),
        }
    }

    /// Creates `tenant`'s silo table and waits until it is ACTIVE; returns its name.
    pub async fn create_tenant_table(&self, tenant: &TenantId) -> Result<String> {
        let table = self.tenant_table(tenant)?;
        self.create_table(&table).await?;
        tracing::info!(tenant.id = tenant.as_str(), "tenant table ready");
        Ok(table)
    }

    /// Deletes `tenant`'s silo table, with all its items, and waits until it is gone.
    pub async fn delete_tenant_table(&self, tenant: &TenantId) -> Result<()> {
        let table = self.tenant_table(tenant)?;
        self.delete_table(&table).await?;
        tracing::info!(tenant.id = tenant.as_str(), "tenant table deleted");
        Ok(())
    }

    async fn wait_for(&self, table: &str, want: TableState) -> Result<()> {
        let started = Instant::now();
        loop {
            let state = self.store.inner.backend.0.table_state(table).await?;
            if state == want {
                return Ok(());
            }
            if started.elapsed() >= self.timeout {
                return Err(Error::Unavailable(
                    format!("table is {state:?}, not {want:?}, after {:?}", self.timeout).into(),
                ));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let t = |s: &str| TenantId::new(s).unwrap();
        let names = TableNames::prefix("t-").unwrap();
        assert_eq!(names.table_for(&t("a")), "t-a");
        assert_ne!(names.table_for(&t("a_")), names.table_for(&t("a")));
        assert!(TableNames::prefix("").is_err());
        assert!(TableNames::prefix("x").is_err());
        assert!(TableNames::prefix("a b").is_err());
        assert!(TableNames::prefix(&"x".repeat(65)).is_err());
        assert!(TableNames::prefix("ok").unwrap().suffix("#").is_err());
    }
}

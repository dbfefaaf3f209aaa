//! The store: built once per process, it hands out tenant-scoped handles and nothing else.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use saas_core::{TenantContext, TenantId};

use crate::backend::Backend;
use crate::cursor::CursorCodec;
use crate::error::{Error, Result};
use crate::key::{MAX_SHARDS, Namespace};
use crate::registry::{Placement, Registry, RegistryCache, TierPolicy};
use crate::scope::DataScope;
use crate::silo::{Provisioner, TableNames};
use crate::transaction::Transaction;
use crate::usage::UsageHook;

/// How tenants are spread over tables.
#[derive(Clone)]
pub(crate) enum Model {
    /// One shared table.
    Pool { table: Arc<str> },
    /// A table per tenant.
    Silo { names: TableNames },
    /// Per tenant, from the registry: the tier decides at onboarding, with overrides.
    Mixed {
        pool_table: Arc<str>,
        names: TableNames,
        policy: TierPolicy,
        cache: RegistryCache,
    },
}

/// Where one namespace's items are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) table: Arc<str>,
    pub(crate) shards: u16,
}

pub(crate) struct StoreInner {
    pub(crate) backend: Backend,
    pub(crate) model: Model,
    /// The table of system items and the tenant registry.
    pub(crate) control_table: Option<Arc<str>>,
    pub(crate) shards: HashMap<TenantId, u16>,
    pub(crate) cursors: CursorCodec,
    pub(crate) usage: Option<Arc<dyn UsageHook>>,
    pub(crate) retry: RetryPolicy,
}

/// How batch calls retry unprocessed items.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) attempts: u32,
    pub(crate) base: Duration,
    pub(crate) max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 8,
            base: Duration::from_millis(25),
            max: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(16));
        exp.min(self.max)
    }
}

/// The entry point: a backend, a partitioning model and settings, built once per process (at
/// cold start) and shared by every request.
///
/// A `DataStore` gives no access to data by itself. Application code gets a [`DataScope`] for
/// one tenant by presenting that tenant's verified [`TenantContext`]
/// ([`DataStore::scope`]); the only other door is [`DataStore::system`], which names its reason.
///
/// ```
/// use saas_data::{Backend, DataStore, Key, Query};
/// # use saas_core::TenantContext;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> saas_data::Result<()> {
/// # let ctx = TenantContext::builder("tenant-a").build();
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Todo { title: String, done: bool }
///
/// // Once per process: DynamoDB in production (`Backend::dynamodb(client)`), here in memory.
/// let backend = Backend::in_memory();
/// let store = DataStore::builder(backend).pool("app-data").build()?;
/// store.provisioner().create_table("app-data").await?;
///
/// // Per request, from the verified context:
/// let data = store.scope(&ctx);
/// let key = Key::new("todos", "T#0001")?;
/// data.put(&key, &Todo { title: "Buy milk".into(), done: false }).create_only().await?;
/// let todo = data.get::<Todo>(&key).await?;
/// assert_eq!(todo.version(), 1);
/// let page = data.query::<Todo>(Query::partition("todos").limit(10)).await?;
/// assert_eq!(page.items.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DataStore {
    pub(crate) inner: Arc<StoreInner>,
}

impl fmt::Debug for DataStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let model = match &self.inner.model {
            Model::Pool { .. } => "pool",
            Model::Silo { .. } => "silo",
            Model::Mixed { .. } => "mixed",
        };
        f.debug_struct("DataStore")
            .field("backend", &self.inner.backend)
            .field("model", &model)
            .finish_non_exhaustive()
    }
}

impl DataStore {
    /// Starts configuring a store on `backend`.
    pub fn builder(backend: Backend) -> DataStoreBuilder {
        DataStoreBuilder {
            backend,
            model: None,
            control_table: None,
            shards: HashMap::new(),
            cursor_key: None,
            usage: None,
            registry_ttl: Duration::from_secs(60),
            registry_capacity: 10_000,
            error: None,
        }
    }

    /// The data of the context's tenant: the only way application code reaches tenant data.
    pub fn scope(&self, ctx: &TenantContext) -> DataScope {
        DataScope::new(self.clone(), Namespace::Tenant(ctx.tenant_id().clone()))
    }

    /// Access without a tenant context, for work that is not a tenant's request: background
    /// jobs, onboarding, migrations, cross-tenant indexes. `reason` says why (it is logged and is
    /// what code review greps for).
    pub fn system(&self, reason: &'static str) -> SystemAccess {
        tracing::debug!(target: "saas_data::system", reason, "system access");
        SystemAccess {
            store: self.clone(),
            reason,
        }
    }

    /// An empty transaction: actions of one or more scopes of this store, all or nothing.
    pub fn transaction(&self) -> Transaction {
        Transaction::new(self.clone())
    }

    /// Creates and deletes tables; never called on the request path.
    pub fn provisioner(&self) -> Provisioner {
        Provisioner::new(self.clone())
    }

    pub(crate) fn same_store(&self, other: &DataStore) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Where `ns`'s items are.
    pub(crate) async fn locate(&self, ns: &Namespace) -> Result<Location> {
        let tenant = match ns {
            Namespace::System => {
                let table = self.inner.control_table.clone().ok_or_else(|| {
                    Error::invalid_request("no control table configured for system items")
                })?;
                return Ok(Location { table, shards: 1 });
            }
            Namespace::Tenant(t) => t,
        };
        let configured = self.inner.shards.get(tenant).copied().unwrap_or(1);
        match &self.inner.model {
            Model::Pool { table } => Ok(Location {
                table: table.clone(),
                shards: configured,
            }),
            Model::Silo { names } => Ok(Location {
                table: self.silo_table(names, tenant)?.into(),
                shards: configured,
            }),
            Model::Mixed { cache, .. } => {
                let record = cache.get_or_load(self, tenant).await?;
                if record.placement == Placement::Silo {
                    self.refuse_shared(&record.table)?;
                }
                record.location()
            }
        }
    }

    /// Whether `table` is one every tenant depends on: the pool table or the control table.
    pub(crate) fn is_shared_table(&self, table: &str) -> bool {
        let pool = match &self.inner.model {
            Model::Pool { table } => Some(table),
            Model::Mixed { pool_table, .. } => Some(pool_table),
            Model::Silo { .. } => None,
        };
        pool.is_some_and(|t| **t == *table) || self.inner.control_table.as_deref() == Some(table)
    }

    /// [`Error::TenantNotProvisioned`] when a tenant's own table would be a shared table.
    pub(crate) fn refuse_shared(&self, table: &str) -> Result<()> {
        if self.is_shared_table(table) {
            return Err(Error::TenantNotProvisioned(
                "the tenant's silo table would be a shared table",
            ));
        }
        Ok(())
    }

    /// `tenant`'s own table by `names`, refused when it is the pool or control table (a tenant
    /// id such as `pool` next to a table `app-pool` and the prefix `app-`): such a tenant would
    /// keep its items in, and on offboarding delete, a table every tenant depends on.
    pub(crate) fn silo_table(&self, names: &TableNames, tenant: &TenantId) -> Result<String> {
        let table = names.table_for(tenant);
        self.refuse_shared(&table)?;
        Ok(table)
    }
}

/// Access that no tenant context vouches for: see [`DataStore::system`].
#[derive(Clone)]
pub struct SystemAccess {
    store: DataStore,
    reason: &'static str,
}

impl fmt::Debug for SystemAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemAccess")
            .field("reason", &self.reason)
            .finish()
    }
}

impl SystemAccess {
    /// Why this access was opened.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The system's own items (in the control table), apart from every tenant's: indexes that
    /// span tenants, such as "the lists a user belongs to".
    pub fn data(&self) -> DataScope {
        DataScope::new(self.store.clone(), Namespace::System)
    }

    /// One tenant's data without a request context, for work done on the tenant's behalf.
    pub fn tenant(&self, tenant: &TenantId) -> DataScope {
        tracing::debug!(target: "saas_data::system", reason = self.reason, tenant.id = tenant.as_str(), "system access to a tenant");
        DataScope::new(self.store.clone(), Namespace::Tenant(tenant.clone()))
    }

    /// The tenant registry (mixed model): onboarding, placement, status.
    pub fn registry(&self) -> Registry {
        Registry::new(self.store.clone())
    }
}

/// Configures a [`DataStore`]: pick one model (`pool`, `silo` or `mixed`).
#[must_use]
pub struct DataStoreBuilder {
    backend: Backend,
    model: Option<Model>,
    control_table: Option<Arc<str>>,
    shards: HashMap<TenantId, u16>,
    cursor_key: Option<Vec<u8>>,
    usage: Option<Arc<dyn UsageHook>>,
    registry_ttl: Duration,
    registry_capacity: u64,
    error: Option<Error>,
}

impl fmt::Debug for DataStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataStoreBuilder").finish_non_exhaustive()
    }
}

impl DataStoreBuilder {
    fn set_model(mut self, model: Model) -> Self {
        if self.model.is_some() {
            self.error = Some(Error::invalid_request(
                "a store has one partitioning model: pool, silo or mixed",
            ));
        }
        self.model = Some(model);
        self
    }

    /// Pool model: every tenant in the shared table `table`, keyed by tenant.
    pub fn pool(self, table: impl Into<String>) -> Self {
        let table: String = table.into();
        self.set_model(Model::Pool {
            table: table.into(),
        })
    }

    /// Silo model: a table per tenant, named by `names` (e.g. `TableNames::prefix("app-")`).
    /// Create each tenant's table with the [`Provisioner`] when the tenant is onboarded.
    pub fn silo(self, names: TableNames) -> Self {
        self.set_model(Model::Silo { names })
    }

    /// Mixed model: each tenant's placement (pool or silo table, write shards, status) comes
    /// from the registry in the control table, decided at onboarding by `policy` (its tier, or a
    /// per-tenant override). Needs [`DataStoreBuilder::control_table`].
    pub fn mixed(
        self,
        pool_table: impl Into<String>,
        names: TableNames,
        policy: TierPolicy,
    ) -> Self {
        let pool_table: String = pool_table.into();
        let cache = RegistryCache::new(Duration::from_secs(60), 10_000);
        self.set_model(Model::Mixed {
            pool_table: pool_table.into(),
            names,
            policy,
            cache,
        })
    }

    /// The table holding system items and, in the mixed model, the tenant registry. In the pool
    /// model it defaults to the pool table.
    pub fn control_table(mut self, table: impl Into<String>) -> Self {
        let table: String = table.into();
        self.control_table = Some(table.into());
        self
    }

    /// How long a registry entry is trusted before it is read again (default 60 s), and how
    /// many are kept (default 10,000). A status change (suspension) takes effect within `ttl`.
    pub fn registry_cache(mut self, ttl: Duration, max_entries: u64) -> Self {
        self.registry_ttl = ttl;
        self.registry_capacity = max_entries;
        self
    }

    /// Spreads `tenant`'s writes over `shards` partition keys (pool and silo models; in the
    /// mixed model the registry says). Fix it before the tenant's first write: items are placed
    /// by a hash of their key, so changing it later hides existing items.
    pub fn write_shards(mut self, tenant: &TenantId, shards: u16) -> Self {
        if shards == 0 || shards > MAX_SHARDS {
            self.error = Some(Error::invalid_request(format!(
                "write shards must be 1 to {MAX_SHARDS}"
            )));
        }
        self.shards.insert(tenant.clone(), shards);
        self
    }

    /// The secret that authenticates pagination cursors (at least 32 bytes; the same in every
    /// instance of the service, e.g. from Secrets Manager). Without it cursors are still bound
    /// to tenant and query, but a tenant could forge a cursor into its own data.
    pub fn cursor_key(mut self, secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        if secret.len() < 32 {
            self.error = Some(Error::invalid_request(
                "the cursor key must be at least 32 bytes",
            ));
        }
        self.cursor_key = Some(secret.to_vec());
        self
    }

    /// Receives every operation's consumed capacity with its tenant.
    pub fn on_usage(mut self, hook: impl UsageHook) -> Self {
        self.usage = Some(Arc::new(hook));
        self
    }

    /// The store, or the first configuration error.
    pub fn build(self) -> Result<DataStore> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut model = self.model.ok_or_else(|| {
            Error::invalid_request("choose a partitioning model: pool, silo or mixed")
        })?;
        let control_table = match (&model, self.control_table) {
            (_, Some(table)) => Some(table),
            (Model::Pool { table }, None) => Some(table.clone()),
            (Model::Mixed { .. }, None) => {
                return Err(Error::invalid_request(
                    "the mixed model needs a control table for its registry",
                ));
            }
            (Model::Silo { .. }, None) => None,
        };
        if let Model::Mixed { cache, .. } = &mut model {
            *cache = RegistryCache::new(self.registry_ttl, self.registry_capacity);
        }
        let cursors = self
            .cursor_key
            .as_deref()
            .map_or_else(CursorCodec::default, CursorCodec::new);
        Ok(DataStore {
            inner: Arc::new(StoreInner {
                backend: self.backend,
                model,
                control_table,
                shards: self.shards,
                cursors,
                usage: self.usage,
                retry: RetryPolicy::default(),
            }),
        })
    }
}

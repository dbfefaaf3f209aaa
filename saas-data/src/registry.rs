//! The tenant registry of the mixed model: where each tenant lives, kept in the control table
//! and cached with a bounded lifetime.

use std::fmt;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use saas_core::{TenantId, Tier};
use serde::{Deserialize, Serialize};

use crate::backend::BoxFuture;
use crate::error::{Error, Result};
use crate::key::{Key, MAX_SHARDS, Namespace};
use crate::query::{Page, Query};
use crate::scope::DataScope;
use crate::store::{DataStore, Location, Model};
use crate::ttl_cache::TtlCache;
use crate::{Record, Update};

/// The registry's partition among the system items of the control table.
const PARTITION: &str = "tenants";

/// Where a tenant's items live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Placement {
    /// The shared pool table.
    Pool,
    /// A table of its own.
    Silo,
}

/// Whether a tenant's data may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TenantStatus {
    /// Being onboarded: its table may not exist yet.
    Provisioning,
    /// In use.
    Active,
    /// Refused until reactivated (data kept).
    Suspended,
    /// Being offboarded.
    Deleting,
}

/// One tenant's entry in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TenantRecord {
    /// The tenant.
    pub tenant: TenantId,
    /// Its tier when it was placed.
    pub tier: Tier,
    /// Pool or silo.
    pub placement: Placement,
    /// The physical table.
    pub table: String,
    /// Its status; only `Active` tenants reach their data.
    pub status: TenantStatus,
    /// Write shards (1 = none).
    pub shards: u16,
}

impl TenantRecord {
    /// The location of an active tenant's items; any other status refuses.
    pub(crate) fn location(&self) -> Result<Location> {
        match self.status {
            TenantStatus::Active => Ok(Location {
                table: self.table.as_str().into(),
                shards: self.shards.max(1),
            }),
            TenantStatus::Provisioning => {
                Err(Error::TenantNotProvisioned("tenant is provisioning"))
            }
            TenantStatus::Suspended => Err(Error::TenantNotProvisioned("tenant is suspended")),
            TenantStatus::Deleting => Err(Error::TenantNotProvisioned("tenant is being deleted")),
        }
    }
}

/// Which tiers get a silo table at onboarding (the rest share the pool).
///
/// ```
/// use saas_core::Tier;
/// use saas_data::{Placement, TierPolicy};
///
/// let policy = TierPolicy::silo_for(&[Tier::Premium, Tier::Platinum]);
/// assert_eq!(policy.placement_for(Tier::Basic), Placement::Pool);
/// assert_eq!(policy.placement_for(Tier::Platinum), Placement::Silo);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierPolicy {
    silo: Vec<Tier>,
}

impl TierPolicy {
    /// Tenants of `tiers` get their own table; the others share the pool.
    pub fn silo_for(tiers: &[Tier]) -> Self {
        Self {
            silo: tiers.to_vec(),
        }
    }

    /// Every tenant in the pool (overrides can still silo one).
    pub fn all_pool() -> Self {
        Self { silo: Vec::new() }
    }

    /// Where a tenant of `tier` goes.
    pub fn placement_for(&self, tier: Tier) -> Placement {
        if self.silo.contains(&tier) {
            Placement::Silo
        } else {
            Placement::Pool
        }
    }
}

/// The per-process cache of registry entries (absent tenants included), with a time to live.
#[derive(Clone)]
pub(crate) struct RegistryCache {
    cache: Arc<TtlCache<TenantId, Option<Arc<TenantRecord>>>>,
    ttl: Duration,
}

impl RegistryCache {
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        Self {
            cache: Arc::new(TtlCache::new(
                usize::try_from(capacity).unwrap_or(usize::MAX),
            )),
            ttl,
        }
    }

    /// The tenant's record, read from the control table at most once per TTL (concurrent misses
    /// share one read; if it fails, the error is that caller's and the next waiter reads).
    pub(crate) async fn get_or_load(
        &self,
        store: &DataStore,
        tenant: &TenantId,
    ) -> Result<Arc<TenantRecord>> {
        let load = async {
            let record = Registry::new(store.clone()).get(tenant).await?;
            Ok::<_, Error>((record.map(Arc::new), Instant::now() + self.ttl))
        };
        let cached = self.cache.get_or_load(tenant, load).await?;
        cached.ok_or(Error::TenantNotProvisioned("tenant is not registered"))
    }

    pub(crate) fn invalidate(&self, tenant: &TenantId) {
        self.cache.invalidate(tenant);
    }
}

/// The tenant registry (mixed model), from [`SystemAccess::registry`](crate::SystemAccess::registry).
///
/// Onboarding places a tenant by its tier ([`TierPolicy`]) or an explicit override, creates its
/// silo table if it gets one (waiting until it is ACTIVE), and only then marks it `Active`:
/// requests for a tenant that is not active are refused with
/// [`Error::TenantNotProvisioned`]. Nothing here runs on the request path.
///
/// ```
/// # use saas_core::TenantContext;
/// use saas_core::Tier;
/// use saas_data::{Backend, DataStore, Error, Key, Placement, TableNames, TierPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Premium tenants get a table of their own (`app-<tenant>`), the rest share `app-pool`.
/// let store = DataStore::builder(Backend::in_memory())
///     .mixed("app-pool", TableNames::prefix("app-")?, TierPolicy::silo_for(&[Tier::Premium]))
///     .control_table("app-control")
///     .build()?;
/// let provisioner = store.provisioner();
/// provisioner.create_table("app-control").await?; // deployment
/// provisioner.create_table("app-pool").await?;
///
/// // Onboarding (a background job, not a request): places the tenant, creates its table.
/// let registry = store.system("tenant onboarding").registry();
/// let big = registry.onboard(&"acme".parse()?, Tier::Premium).await?;
/// assert_eq!((big.placement, big.table.as_str()), (Placement::Silo, "app-acme"));
/// let small = registry.onboard(&"corner-shop".parse()?, Tier::Basic).await?;
/// assert_eq!(small.placement, Placement::Pool);
///
/// // Requests: the registry (cached) says where each tenant's items are.
/// # let acme = TenantContext::builder("acme").tier(Tier::Premium).build();
/// store.scope(&acme).put(&Key::new("todos", "1")?, &serde_json::json!({"t": "x"})).await?;
/// // A tenant that was never onboarded is refused before any read.
/// # let stranger = TenantContext::builder("stranger").build();
/// let refused = store.scope(&stranger).get::<serde_json::Value>(&Key::new("todos", "1")?).await;
/// assert!(matches!(refused, Err(Error::TenantNotProvisioned(_))));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Registry {
    store: DataStore,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    pub(crate) fn new(store: DataStore) -> Self {
        Self { store }
    }

    fn data(&self) -> DataScope {
        DataScope::new(self.store.clone(), Namespace::System)
    }

    fn key(tenant: &TenantId) -> Result<Key> {
        Ok(Key::new(PARTITION, tenant.as_str())?)
    }

    /// The tenant's record, read from the control table (not cached).
    pub async fn get(&self, tenant: &TenantId) -> Result<Option<TenantRecord>> {
        match self
            .data()
            .get::<TenantRecord>(&Self::key(tenant)?)
            .consistent()
            .await
        {
            Ok(record) => Ok(Some(record.into_item())),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page of records, by tenant id.
    pub async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<TenantRecord>> {
        let mut query = Query::partition(PARTITION).limit(limit);
        if let Some(cursor) = cursor {
            query = query.after(cursor);
        }
        self.data().query(query).await
    }

    /// Places and provisions `tenant` of `tier`; `.await` it for its record. Idempotent: an
    /// active tenant's record is returned as it is, and an onboarding that stopped half-way
    /// (status `Provisioning`) is completed.
    pub fn onboard(&self, tenant: &TenantId, tier: Tier) -> Onboard<'_> {
        Onboard {
            registry: self,
            tenant: tenant.clone(),
            tier,
            placement: None,
            shards: 1,
        }
    }

    /// Sets the tenant's status (suspend, reactivate). Every process sees it within the
    /// registry cache's time to live.
    pub async fn set_status(
        &self,
        tenant: &TenantId,
        status: TenantStatus,
    ) -> Result<TenantRecord> {
        let record: Record<TenantRecord> = self
            .data()
            .update(&Self::key(tenant)?, Update::new().set("status", &status))
            .await?;
        self.invalidate(tenant);
        Ok(record.into_item())
    }

    /// Removes the tenant: marks it `Deleting`, deletes its silo table if it has one, then its
    /// record. Items of a pooled tenant stay in the pool table (deleting them needs the
    /// application's partitions; see the data models guide).
    pub async fn offboard(&self, tenant: &TenantId) -> Result<()> {
        let Some(record) = self.get(tenant).await? else {
            return Ok(());
        };
        if record.placement == Placement::Silo {
            // Never a table other tenants depend on, whatever the record says.
            self.store.refuse_shared(&record.table)?;
        }
        self.set_status(tenant, TenantStatus::Deleting).await?;
        if record.placement == Placement::Silo {
            self.store.provisioner().delete_table(&record.table).await?;
        }
        match self.data().delete(&Self::key(tenant)?).await {
            Ok(()) | Err(Error::NotFound) => {}
            Err(e) => return Err(e),
        }
        self.invalidate(tenant);
        Ok(())
    }

    fn invalidate(&self, tenant: &TenantId) {
        if let Model::Mixed { cache, .. } = &self.store.inner.model {
            cache.invalidate(tenant);
        }
    }

    async fn run_onboard(
        &self,
        tenant: &TenantId,
        tier: Tier,
        placement: Option<Placement>,
        shards: u16,
    ) -> Result<TenantRecord> {
        let Model::Mixed {
            pool_table,
            names,
            policy,
            ..
        } = &self.store.inner.model
        else {
            return Err(Error::invalid_request(
                "the registry places tenants only in the mixed model",
            ));
        };
        if shards == 0 || shards > MAX_SHARDS {
            return Err(Error::invalid_request(format!(
                "write shards must be 1 to {MAX_SHARDS}"
            )));
        }
        let key = Self::key(tenant)?;
        let data = self.data();
        let record = match self.get(tenant).await? {
            Some(existing) if existing.status == TenantStatus::Active => return Ok(existing),
            Some(existing) if existing.status == TenantStatus::Provisioning => existing,
            Some(_) => {
                return Err(Error::AlreadyExists);
            }
            None => {
                let placement = placement.unwrap_or_else(|| policy.placement_for(tier));
                let table = match placement {
                    Placement::Pool => pool_table.to_string(),
                    Placement::Silo => self.store.silo_table(names, tenant)?,
                };
                let record = TenantRecord {
                    tenant: tenant.clone(),
                    tier,
                    placement,
                    table,
                    status: TenantStatus::Provisioning,
                    shards,
                };
                match data.put(&key, &record).create_only().await {
                    Ok(_) => record,
                    // Another process onboarded it at the same time: continue with theirs.
                    Err(Error::AlreadyExists) => self
                        .get(tenant)
                        .await?
                        .ok_or_else(|| Error::internal("registry record vanished"))?,
                    Err(e) => return Err(e),
                }
            }
        };
        if record.status == TenantStatus::Active {
            return Ok(record);
        }
        if record.placement == Placement::Silo {
            self.store.refuse_shared(&record.table)?;
        }
        self.store.provisioner().create_table(&record.table).await?;
        let active = self.set_status(tenant, TenantStatus::Active).await?;
        tracing::info!(tenant.id = tenant.as_str(), placement = ?active.placement, "tenant onboarded");
        Ok(active)
    }
}

/// An onboarding: `.await` it for the tenant's record.
#[must_use = "onboarding does nothing until awaited"]
pub struct Onboard<'a> {
    registry: &'a Registry,
    tenant: TenantId,
    tier: Tier,
    placement: Option<Placement>,
    shards: u16,
}

impl fmt::Debug for Onboard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Onboard")
            .field("tenant", &self.tenant)
            .field("tier", &self.tier)
            .field("placement", &self.placement)
            .finish_non_exhaustive()
    }
}

impl Onboard<'_> {
    /// Places the tenant here whatever its tier says.
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = Some(placement);
        self
    }

    /// Spreads the tenant's writes over `shards` partition keys (1 to 100; fixed for the
    /// tenant's life).
    pub fn write_shards(mut self, shards: u16) -> Self {
        self.shards = shards;
        self
    }
}

impl<'a> IntoFuture for Onboard<'a> {
    type Output = Result<TenantRecord>;
    type IntoFuture = BoxFuture<'a, Result<TenantRecord>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.registry
                .run_onboard(&self.tenant, self.tier, self.placement, self.shards)
                .await
        })
    }
}

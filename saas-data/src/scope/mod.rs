//! The tenant-scoped handle: every item operation, always inside one tenant's key space.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;

use saas_core::TenantId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::AttributeValue;

use crate::backend::{
    BackendError, BoxFuture, DeleteRequest, GetRequest, Output, PhysKey, PutRequest, UpdateRequest,
};
use crate::error::{Error, Result};
use crate::expr::{CmpOp, Cond, Condition, Update, UpdateAction};
use crate::item::{self, Item, PK, Record, TENANT, VERSION};
use crate::key::{Key, Namespace, shard_of};
use crate::store::{DataStore, Location};
use crate::stored::StoredItem;
use crate::usage::{Capacity, Operation, Totals, Usage, write_units};
use crate::version::PartitionVersion;

mod batch;
mod paging;
#[cfg(test)]
mod tests;

/// How many times an upsert re-reads and retries when another writer changed the item between
/// its read and its write.
const UPSERT_ATTEMPTS: u32 = 5;

/// One tenant's data (or the system's, from [`DataStore::system`]): the only handle through which
/// items are read and written.
///
/// Every key is placed in the tenant's key space ([`crate::key`]), every item read is checked
/// for the tenant's `_tenant` attribute (another tenant's item is [`Error::NotFound`]), and every
/// operation reports its consumed capacity with the tenant. Cheap to clone; make one per request
/// from the request's context with [`DataStore::scope`].
#[derive(Clone)]
pub struct DataScope {
    pub(crate) store: DataStore,
    pub(crate) ns: Namespace,
    totals: Totals,
}

impl fmt::Debug for DataScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataScope").field("ns", &self.ns).finish()
    }
}

impl DataScope {
    pub(crate) fn new(store: DataStore, ns: Namespace) -> Self {
        Self {
            store,
            ns,
            totals: Totals::default(),
        }
    }

    /// The tenant, or `None` for the system's own items.
    pub fn tenant(&self) -> Option<&TenantId> {
        self.ns.tenant()
    }

    /// The capacity consumed so far through this handle and its clones (for per-request
    /// metering; the store's usage hook sees every operation as well).
    pub fn consumed(&self) -> Capacity {
        self.totals.get()
    }

    /// Reads the item at `key`. Another tenant's item, or none, is [`Error::NotFound`].
    pub fn get<'a, T: DeserializeOwned>(&'a self, key: &'a Key) -> Get<'a, T> {
        Get {
            scope: self,
            key,
            consistent: false,
            _item: PhantomData,
        }
    }

    /// Writes `item` at `key`: by default an upsert (created at version 1, or replaced with its
    /// version + 1); [`Put::create_only`] and [`Put::if_version`] make it conditional.
    pub fn put<'a, V: Serialize + Sync + ?Sized>(
        &'a self,
        key: &'a Key,
        item: &'a V,
    ) -> Put<'a, V> {
        Put {
            scope: self,
            key,
            item,
            mode: PutMode::Upsert,
            condition: None,
        }
    }

    /// Changes some attributes of the existing item at `key` (never creates one) and returns the
    /// item as it is afterwards, its version + 1.
    pub fn update<'a, T: DeserializeOwned>(
        &'a self,
        key: &'a Key,
        update: Update,
    ) -> UpdateItem<'a, T> {
        UpdateItem {
            scope: self,
            key,
            update,
            version: None,
            condition: None,
            _item: PhantomData,
        }
    }

    /// Deletes the item at `key`; [`Error::NotFound`] if there is none (for this tenant).
    pub fn delete<'a>(&'a self, key: &'a Key) -> Delete<'a> {
        Delete {
            scope: self,
            key,
            version: None,
            condition: None,
        }
    }

    /// A mark of `partition` that any acknowledged write to it changes, for caching what is
    /// derived from its items; `None` on DynamoDB, where other processes write (see
    /// [`PartitionVersion`]). Read it before the read the cached value comes from.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use saas_core::TenantContext;
    /// use saas_data::{Backend, DataStore, Key};
    ///
    /// let store = DataStore::builder(Backend::in_memory()).pool("app").build()?;
    /// store.provisioner().create_table("app").await?;
    /// let data = store.scope(&TenantContext::builder("tenant-a").build());
    ///
    /// let before = data.partition_version("todos").await?;
    /// assert!(before.is_some());
    /// assert_eq!(data.partition_version("todos").await?, before);
    /// data.put(&Key::new("todos", "T#1")?, &serde_json::json!({ "title": "milk" })).await?;
    /// assert_ne!(data.partition_version("todos").await?, before);
    ///
    /// // Another tenant's mark never equals this one's.
    /// let other = store.scope(&TenantContext::builder("tenant-b").build());
    /// assert_ne!(other.partition_version("todos").await?, data.partition_version("todos").await?);
    /// # Ok(()) }
    /// ```
    pub async fn partition_version(&self, partition: &str) -> Result<Option<PartitionVersion>> {
        let location = self.location().await?;
        let backend = &self.store.inner.backend.0;
        let pk = self.ns.physical_pk(0, partition);
        let Some((store, mut figure)) = backend.partition_version(&location.table, &pk) else {
            return Ok(None);
        };
        // Counters only grow, so the sum over the shards changes whenever one of them does.
        for shard in 1..location.shards.max(1) {
            let shard_pk = self.ns.physical_pk(shard, partition);
            let Some((_, f)) = backend.partition_version(&location.table, &shard_pk) else {
                return Ok(None);
            };
            figure = figure.wrapping_add(f);
        }
        Ok(Some(PartitionVersion {
            store,
            table: location.table.clone(),
            pk,
            figure,
        }))
    }

    pub(crate) async fn location(&self) -> Result<Location> {
        self.store.locate(&self.ns).await
    }

    pub(crate) fn phys_key(&self, location: &Location, key: &Key) -> PhysKey {
        let shard = shard_of(key, location.shards);
        PhysKey {
            pk: self.ns.physical_pk(shard, key.partition()),
            sk: key.sort().to_owned(),
        }
    }

    pub(crate) fn encode<V: Serialize + ?Sized>(
        &self,
        location: &Location,
        key: &Key,
        item: &V,
        version: u64,
    ) -> Result<Item> {
        item::encode(&self.ns, shard_of(key, location.shards), key, item, version)
    }

    /// Reports consumed capacity to the handle's totals and the store's hook.
    pub(crate) fn report(&self, operation: Operation, table: &str, capacity: Capacity) {
        self.totals.add(capacity);
        if let Some(hook) = &self.store.inner.usage {
            hook.record(&Usage {
                tenant: self.ns.tenant(),
                operation,
                table,
                capacity,
            });
        }
    }

    /// Runs a backend call and reports its capacity.
    ///
    /// A write refused by its condition consumed capacity too, but DynamoDB's error carries no
    /// figures: it is reported at DynamoDB's charge for it, the stored item's size in 1 KB
    /// units (at least one), the same on every backend.
    pub(crate) async fn call<T>(
        &self,
        operation: Operation,
        table: &str,
        fut: impl Future<Output = std::result::Result<Output<T>, BackendError>>,
    ) -> std::result::Result<T, BackendError> {
        match fut.await {
            Ok(out) => {
                self.report(operation, table, out.capacity);
                Ok(out.value)
            }
            Err(BackendError::ConditionFailed { old }) => {
                let size = old.as_ref().map_or(0, item::item_size);
                self.report(operation, table, Capacity::new(0.0, write_units(size)));
                Err(BackendError::ConditionFailed { old })
            }
            Err(e) => Err(e),
        }
    }

    /// The condition "an item of this namespace is there" (optionally at `version`), and'ed with
    /// the caller's condition.
    pub(crate) fn owned_condition(&self, version: Option<u64>, extra: Option<&Condition>) -> Cond {
        let mut cond = Cond::And(vec![
            Cond::Exists(PK.to_owned()),
            Cond::Compare(
                TENANT.to_owned(),
                CmpOp::Eq,
                AttributeValue::S(self.ns.owner().to_owned()),
            ),
        ]);
        if let Some(v) = version {
            cond = Cond::and(cond, version_is(v));
        }
        if let Some(extra) = extra {
            cond = Cond::and(cond, extra.0.clone());
        }
        cond
    }

    /// The condition "no item of this namespace is there" (an item with a foreign `_tenant` in
    /// this key space counts as none and is overwritten), and'ed with the caller's condition.
    pub(crate) fn absent_condition(&self, extra: Option<&Condition>) -> Cond {
        let cond = Cond::Or(vec![
            Cond::NotExists(PK.to_owned()),
            Cond::Compare(
                TENANT.to_owned(),
                CmpOp::Ne,
                AttributeValue::S(self.ns.owner().to_owned()),
            ),
        ]);
        match extra {
            Some(extra) => Cond::and(cond, extra.0.clone()),
            None => cond,
        }
    }

    /// The stored item, when a backend did not return it with a condition failure.
    pub(crate) async fn current(&self, location: &Location, key: &PhysKey) -> Result<Option<Item>> {
        let req = GetRequest {
            table: location.table.clone(),
            key: key.clone(),
            consistent: true,
        };
        self.call(
            Operation::Get,
            &location.table,
            self.store.inner.backend.0.get(req),
        )
        .await
        .map_err(flatten)?
        .map(StoredItem::into_attributes)
        .transpose()
    }

    /// Why a write on an existing item failed: not there (or not ours), another version, or
    /// the caller's condition.
    pub(crate) fn classify_existing(&self, old: Option<&Item>, expected: Option<u64>) -> Error {
        let Some(old) = old.filter(|o| item::owned_by(o, &self.ns)) else {
            return Error::NotFound;
        };
        match expected {
            Some(expected) if item::version_of(old) != Some(expected) => Error::VersionConflict {
                expected,
                actual: item::version_of(old),
            },
            _ => Error::ConditionFailed,
        }
    }

    /// Why a create failed: an item of ours is there, or the caller's condition.
    pub(crate) fn classify_create(&self, old: Option<&Item>) -> Error {
        match old {
            Some(old) if item::owned_by(old, &self.ns) => Error::AlreadyExists,
            _ => Error::ConditionFailed,
        }
    }

    /// The stored item after a condition failure: the backend's copy, or a consistent read.
    pub(crate) async fn old_item(
        &self,
        location: &Location,
        key: &PhysKey,
        old: Option<Item>,
    ) -> Result<Option<Item>> {
        match old {
            Some(old) => Ok(Some(old)),
            None => self.current(location, key).await,
        }
    }

    async fn run_get<T: DeserializeOwned>(&self, key: &Key, consistent: bool) -> Result<Record<T>> {
        let location = self.location().await?;
        let req = GetRequest {
            table: location.table.clone(),
            key: self.phys_key(&location, key),
            consistent,
        };
        let found = self
            .call(
                Operation::Get,
                &location.table,
                self.store.inner.backend.0.get(req),
            )
            .await
            .map_err(flatten)?;
        match found {
            Some(item) => item
                .into_record(&self.ns, key.partition())?
                .ok_or(Error::NotFound),
            None => Err(Error::NotFound),
        }
    }

    async fn run_put<V: Serialize + ?Sized>(
        &self,
        key: &Key,
        value: &V,
        mode: PutMode,
        condition: Option<&Condition>,
    ) -> Result<u64> {
        if let Some(c) = condition {
            c.0.check()?;
        }
        let location = self.location().await?;
        let phys = self.phys_key(&location, key);
        let backend = &self.store.inner.backend.0;
        let put = |item: Item, cond: Cond| {
            let req = PutRequest {
                table: location.table.clone(),
                item,
                condition: Some(cond),
            };
            self.call(Operation::Put, &location.table, backend.put(req))
        };
        match mode {
            PutMode::Create => {
                let item = self.encode(&location, key, value, 1)?;
                match put(item, self.absent_condition(condition)).await {
                    Ok(()) => Ok(1),
                    Err(BackendError::ConditionFailed { old }) => {
                        let old = self.old_item(&location, &phys, old).await?;
                        Err(self.classify_create(old.as_ref()))
                    }
                    Err(e) => Err(flatten(e)),
                }
            }
            PutMode::IfVersion(expected) => {
                let next = expected.checked_add(1).ok_or(Error::VersionConflict {
                    expected,
                    actual: None,
                })?;
                let item = self.encode(&location, key, value, next)?;
                match put(item, self.owned_condition(Some(expected), condition)).await {
                    Ok(()) => Ok(next),
                    Err(BackendError::ConditionFailed { old }) => {
                        let old = self.old_item(&location, &phys, old).await?;
                        Err(self.classify_existing(old.as_ref(), Some(expected)))
                    }
                    Err(e) => Err(flatten(e)),
                }
            }
            PutMode::Upsert => {
                // Optimistic: try to create; if an item of ours is there, replace it at its
                // version; if another writer got in between, read again.
                let mut known: Option<u64> = None;
                for _ in 0..UPSERT_ATTEMPTS {
                    let (version, cond) = match known {
                        None => (1, self.absent_condition(condition)),
                        Some(v) => (
                            v.saturating_add(1),
                            self.owned_condition(Some(v), condition),
                        ),
                    };
                    let item = self.encode(&location, key, value, version)?;
                    match put(item, cond).await {
                        Ok(()) => return Ok(version),
                        Err(BackendError::ConditionFailed { old }) => {
                            let old = self.old_item(&location, &phys, old).await?;
                            let now = old
                                .as_ref()
                                .filter(|o| item::owned_by(o, &self.ns))
                                .and_then(item::version_of);
                            if now == known {
                                // Same state as we wrote against: the caller's condition failed.
                                return Err(Error::ConditionFailed);
                            }
                            known = now;
                        }
                        Err(e) => return Err(flatten(e)),
                    }
                }
                Err(Error::VersionConflict {
                    expected: known.unwrap_or(0),
                    actual: None,
                })
            }
        }
    }

    async fn run_update<T: DeserializeOwned>(
        &self,
        key: &Key,
        update: Update,
        version: Option<u64>,
        condition: Option<&Condition>,
    ) -> Result<Record<T>> {
        update.check()?;
        if let Some(c) = condition {
            c.0.check()?;
        }
        let location = self.location().await?;
        let phys = self.phys_key(&location, key);
        let mut actions = update.actions;
        actions.push(UpdateAction::Add(
            VERSION.to_owned(),
            AttributeValue::N("1".to_owned()),
        ));
        let req = UpdateRequest {
            table: location.table.clone(),
            key: phys.clone(),
            actions,
            condition: Some(self.owned_condition(version, condition)),
        };
        let result = self
            .call(
                Operation::Update,
                &location.table,
                self.store.inner.backend.0.update(req),
            )
            .await;
        match result {
            Ok(item) => item::decode(&self.ns, key.partition(), item)?.ok_or(Error::NotFound),
            Err(BackendError::ConditionFailed { old }) => {
                let old = self.old_item(&location, &phys, old).await?;
                Err(self.classify_existing(old.as_ref(), version))
            }
            Err(e) => Err(flatten(e)),
        }
    }

    async fn run_delete(
        &self,
        key: &Key,
        version: Option<u64>,
        condition: Option<&Condition>,
    ) -> Result<()> {
        if let Some(c) = condition {
            c.0.check()?;
        }
        let location = self.location().await?;
        let phys = self.phys_key(&location, key);
        let req = DeleteRequest {
            table: location.table.clone(),
            key: phys.clone(),
            condition: Some(self.owned_condition(version, condition)),
        };
        let result = self
            .call(
                Operation::Delete,
                &location.table,
                self.store.inner.backend.0.delete(req),
            )
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(BackendError::ConditionFailed { old }) => {
                let old = self.old_item(&location, &phys, old).await?;
                Err(self.classify_existing(old.as_ref(), version))
            }
            Err(e) => Err(flatten(e)),
        }
    }
}

/// `_version = v`.
pub(crate) fn version_is(v: u64) -> Cond {
    Cond::Compare(
        VERSION.to_owned(),
        CmpOp::Eq,
        AttributeValue::N(v.to_string()),
    )
}

/// A backend error as the crate's error (condition failures that were not classified become
/// `ConditionFailed`).
pub(crate) fn flatten(e: BackendError) -> Error {
    match e {
        BackendError::Other(e) => e,
        BackendError::ConditionFailed { .. } => Error::ConditionFailed,
        BackendError::TransactionConditionFailed { index, .. } => Error::TransactionCanceled {
            index,
            cause: Box::new(Error::ConditionFailed),
        },
    }
}

/// A read: `.await` it, or make it strongly consistent first.
#[must_use = "a read does nothing until awaited"]
pub struct Get<'a, T> {
    scope: &'a DataScope,
    key: &'a Key,
    consistent: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Get<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("key", self.key)
            .finish_non_exhaustive()
    }
}

impl<T> Get<'_, T> {
    /// A strongly consistent read (twice the read capacity).
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }
}

impl<'a, T: DeserializeOwned + Send + 'a> IntoFuture for Get<'a, T> {
    type Output = Result<Record<T>>;
    type IntoFuture = BoxFuture<'a, Result<Record<T>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.scope.run_get(self.key, self.consistent).await })
    }
}

#[derive(Debug, Clone, Copy)]
enum PutMode {
    Upsert,
    Create,
    IfVersion(u64),
}

/// A write of a whole item: `.await` it for the new version.
#[must_use = "a write does nothing until awaited"]
pub struct Put<'a, V: ?Sized> {
    scope: &'a DataScope,
    key: &'a Key,
    item: &'a V,
    mode: PutMode,
    condition: Option<Condition>,
}

impl<V: ?Sized> fmt::Debug for Put<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("key", self.key)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl<V: ?Sized> Put<'_, V> {
    /// Only if there is no item yet ([`Error::AlreadyExists`] otherwise); version 1.
    pub fn create_only(mut self) -> Self {
        self.mode = PutMode::Create;
        self
    }

    /// Only if the stored item is at `version` ([`Error::VersionConflict`] otherwise,
    /// [`Error::NotFound`] if there is none); the new version is `version + 1`.
    pub fn if_version(mut self, version: u64) -> Self {
        self.mode = PutMode::IfVersion(version);
        self
    }

    /// Only if `condition` holds on the stored item ([`Error::ConditionFailed`] otherwise).
    pub fn condition(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }
}

impl<'a, V: Serialize + Sync + ?Sized> IntoFuture for Put<'a, V> {
    type Output = Result<u64>;
    type IntoFuture = BoxFuture<'a, Result<u64>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.scope
                .run_put(self.key, self.item, self.mode, self.condition.as_ref())
                .await
        })
    }
}

/// A partial update: `.await` it for the item as it is afterwards.
#[must_use = "an update does nothing until awaited"]
pub struct UpdateItem<'a, T> {
    scope: &'a DataScope,
    key: &'a Key,
    update: Update,
    version: Option<u64>,
    condition: Option<Condition>,
    _item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for UpdateItem<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateItem")
            .field("key", self.key)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl<T> UpdateItem<'_, T> {
    /// Only if the stored item is at `version` ([`Error::VersionConflict`] otherwise).
    pub fn if_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    /// Only if `condition` holds on the stored item ([`Error::ConditionFailed`] otherwise).
    pub fn condition(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }
}

impl<'a, T: DeserializeOwned + Send + 'a> IntoFuture for UpdateItem<'a, T> {
    type Output = Result<Record<T>>;
    type IntoFuture = BoxFuture<'a, Result<Record<T>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.scope
                .run_update(self.key, self.update, self.version, self.condition.as_ref())
                .await
        })
    }
}

/// A delete: `.await` it.
#[must_use = "a delete does nothing until awaited"]
pub struct Delete<'a> {
    scope: &'a DataScope,
    key: &'a Key,
    version: Option<u64>,
    condition: Option<Condition>,
}

impl fmt::Debug for Delete<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delete")
            .field("key", self.key)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Delete<'_> {
    /// Only if the stored item is at `version` ([`Error::VersionConflict`] otherwise).
    pub fn if_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    /// Only if `condition` holds on the stored item ([`Error::ConditionFailed`] otherwise).
    pub fn condition(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }
}

impl<'a> IntoFuture for Delete<'a> {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'a, Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.scope
                .run_delete(self.key, self.version, self.condition.as_ref())
                .await
        })
    }
}

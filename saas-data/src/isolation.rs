//! The isolation test kit: prove, for your own entities, that one tenant cannot read or change
//! another's items through any operation.
//!
//! ```
//! use saas_core::TenantContext;
//! use saas_data::isolation::IsolationKit;
//! use saas_data::{Backend, DataStore, Key};
//!
//! #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Todo { title: String, done: bool }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = DataStore::builder(Backend::in_memory()).pool("app").build()?;
//! store.provisioner().create_table("app").await?;
//! let a = TenantContext::builder("tenant-a").build();
//! let b = TenantContext::builder("tenant-b").build();
//!
//! let report = IsolationKit::new(&store, &a, &b)
//!     .sample(Key::new("todos", "T#1")?, Todo { title: "b's secret".into(), done: false })
//!     .sample(Key::new("todos", "T#2")?, Todo { title: "b's other".into(), done: true })
//!     .run()
//!     .await?;
//! assert!(report.checks > 20);
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fmt;

use saas_core::TenantContext;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Condition, DataScope, DataStore, Error, Key, Query, Update};

/// A tenant reached another's data: which step, and what it saw.
#[derive(Debug, thiserror::Error)]
#[error("isolation violated at {step}: {detail}")]
pub struct IsolationViolation {
    /// The operation that crossed tenants.
    pub step: &'static str,
    /// What happened instead of the expected refusal.
    pub detail: String,
}

/// What a passing run checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsolationReport {
    /// The number of assertions that held.
    pub checks: usize,
}

/// Seeds tenant B with your samples, drives every operation as tenant A against the same keys
/// and partitions (gets, batch gets, queries by partition and by sort key, conditional and
/// versioned writes, deletes, transactions, batch writes), and checks that A never sees B's
/// items, never changes them, never adds to B's partitions, and never gets a cursor of B's
/// accepted. A is left with no items; B keeps its samples.
pub struct IsolationKit<'a, T> {
    store: &'a DataStore,
    a: &'a TenantContext,
    b: &'a TenantContext,
    samples: Vec<(Key, T)>,
}

impl<T> fmt::Debug for IsolationKit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsolationKit")
            .field("a", self.a.tenant_id())
            .field("b", self.b.tenant_id())
            .field("samples", &self.samples.len())
            .finish()
    }
}

fn violation(step: &'static str, detail: impl Into<String>) -> IsolationViolation {
    IsolationViolation {
        step,
        detail: detail.into(),
    }
}

impl<'a, T> IsolationKit<'a, T>
where
    T: Serialize + DeserializeOwned + PartialEq + fmt::Debug + Clone + Send + Sync + 'static,
{
    /// A kit for tenants `a` (the one that tries) and `b` (the one that must stay untouched).
    pub fn new(store: &'a DataStore, a: &'a TenantContext, b: &'a TenantContext) -> Self {
        Self {
            store,
            a,
            b,
            samples: Vec::new(),
        }
    }

    /// One of B's items: its key and value. Give at least one; keys must be distinct and not
    /// yet used by either tenant.
    pub fn sample(mut self, key: Key, item: T) -> Self {
        self.samples.push((key, item));
        self
    }

    /// Runs every check; the first crossing is an [`IsolationViolation`].
    pub async fn run(self) -> Result<IsolationReport, IsolationViolation> {
        let mut checks = 0usize;
        if self.samples.is_empty() {
            return Err(violation("setup", "the kit needs at least one sample"));
        }
        let a = self.store.scope(self.a);
        let b = self.store.scope(self.b);
        let keys: Vec<Key> = self.samples.iter().map(|(k, _)| k.clone()).collect();
        let partitions: BTreeSet<String> = keys.iter().map(|k| k.partition().to_owned()).collect();

        // What B already has in those partitions, to tell afterwards that A added nothing.
        let mut before = Vec::with_capacity(partitions.len());
        for partition in &partitions {
            before.push(sort_keys(&b, partition).await?);
        }
        for (key, item) in &self.samples {
            b.put(key, item)
                .create_only()
                .await
                .map_err(|e| violation("seed", format!("B could not create {key:?}: {e}")))?;
        }

        // Reads.
        for key in &keys {
            expect_not_found("get", a.get::<T>(key).await.map(|_| ()))?;
            checks += 1;
            expect_not_found(
                "consistent get",
                a.get::<T>(key).consistent().await.map(|_| ()),
            )?;
            checks += 1;
        }
        let found = a
            .batch_get::<T>(&keys)
            .await
            .map_err(|e| violation("batch_get", e.to_string()))?;
        if found.iter().any(Option::is_some) {
            return Err(violation("batch_get", "A read an item of B"));
        }
        checks += 1;
        for partition in &partitions {
            for query in [
                Query::partition(partition.clone()),
                Query::partition(partition.clone()).descending(),
                Query::partition(partition.clone()).limit(1),
            ] {
                let page = a
                    .query::<T>(query)
                    .await
                    .map_err(|e| violation("query", e.to_string()))?;
                if !page.items.is_empty() || page.next_cursor.is_some() {
                    return Err(violation("query", "A's query returned B's items"));
                }
                checks += 1;
            }
            // B's cursor is not A's.
            let page = b
                .query::<T>(Query::partition(partition.clone()).limit(1))
                .await
                .map_err(|e| violation("query as B", e.to_string()))?;
            if let Some(cursor) = page.next_cursor {
                match a
                    .query::<T>(Query::partition(partition.clone()).limit(1).after(cursor))
                    .await
                {
                    Err(Error::InvalidCursor) => checks += 1,
                    other => {
                        return Err(violation(
                            "cursor swap",
                            format!(
                                "B's cursor used by A gave {:?}",
                                other.map(|p| p.items.len())
                            ),
                        ));
                    }
                }
            }
        }
        // Sort-key conditions aimed at exactly B's keys.
        for key in &keys {
            let partition = key.partition().to_owned();
            for query in [
                Query::partition(partition.clone()).sort_eq(key.sort()),
                Query::partition(partition.clone()).sort_prefix(key.sort()),
                Query::partition(partition).sort_between(key.sort(), key.sort()),
            ] {
                let page = a
                    .query::<T>(query)
                    .await
                    .map_err(|e| violation("query by sort key", e.to_string()))?;
                if !page.items.is_empty() || page.next_cursor.is_some() {
                    return Err(violation(
                        "query by sort key",
                        "A's query returned B's items",
                    ));
                }
                checks += 1;
            }
        }

        // Writes that need an existing item.
        for (key, item) in &self.samples {
            expect_not_found(
                "put if_version",
                a.put(key, item).if_version(1).await.map(|_| ()),
            )?;
            expect_not_found(
                "update",
                a.update::<T>(key, Update::new().set("isolation_probe", &true))
                    .await
                    .map(|_| ()),
            )?;
            expect_not_found(
                "update if_version",
                a.update::<T>(key, Update::new().set("isolation_probe", &true))
                    .if_version(1)
                    .await
                    .map(|_| ()),
            )?;
            expect_not_found("delete", a.delete(key).await)?;
            expect_not_found("delete if_version", a.delete(key).if_version(1).await)?;
            let tx = self
                .store
                .transaction()
                .update(&a, key, Update::new().set("isolation_probe", &true), None)
                .commit()
                .await;
            match tx {
                Err(e) if e.is_not_found() => {}
                other => return Err(violation("transaction update", format!("{other:?}"))),
            }
            let store = self.store;
            for (step, tx) in [
                (
                    "transaction replace",
                    store.transaction().replace(&a, key, item, 1),
                ),
                (
                    "transaction delete",
                    store.transaction().delete(&a, key, None),
                ),
                (
                    "transaction check",
                    store
                        .transaction()
                        .check(&a, key, Condition::not_exists("isolation_probe")),
                ),
            ] {
                match tx.commit().await {
                    Err(e) if e.is_not_found() => {}
                    other => return Err(violation(step, format!("{other:?}"))),
                }
            }
            checks += 9;
        }

        // Writes into A's own space at the same keys, then removal.
        for (key, item) in &self.samples {
            a.put(key, item)
                .create_only()
                .await
                .map_err(|e| violation("create as A", e.to_string()))?;
            a.put(key, item)
                .await
                .map_err(|e| violation("upsert as A", e.to_string()))?;
            checks += 2;
        }
        a.batch_put(&self.samples)
            .await
            .map_err(|e| violation("batch_put as A", e.to_string()))?;
        a.batch_delete(&keys)
            .await
            .map_err(|e| violation("batch_delete as A", e.to_string()))?;
        checks += 2;

        // B is untouched, and has nothing it did not write.
        check_untouched(&b, &self.samples).await?;
        checks += self.samples.len();
        for (partition, before) in partitions.iter().zip(before) {
            let mut expected = before;
            expected.extend(
                keys.iter()
                    .filter(|k| k.partition() == partition)
                    .map(|k| k.sort().to_owned()),
            );
            expected.sort_unstable();
            let found = sort_keys(&b, partition).await?;
            if found != expected {
                return Err(violation(
                    "B after A",
                    format!(
                        "partition {partition:?} holds {} items of B, expected {}",
                        found.len(),
                        expected.len()
                    ),
                ));
            }
            checks += 1;
        }
        Ok(IsolationReport { checks })
    }
}

fn expect_not_found(
    step: &'static str,
    result: crate::Result<()>,
) -> Result<(), IsolationViolation> {
    match result {
        Err(Error::NotFound) => Ok(()),
        Ok(()) => Err(violation(step, "succeeded on B's item")),
        Err(e) => Err(violation(step, format!("expected NotFound, got {e}"))),
    }
}

/// Every sort key of `partition` in `scope`, page by page (whatever the items' types).
async fn sort_keys(scope: &DataScope, partition: &str) -> Result<Vec<String>, IsolationViolation> {
    let mut sorts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = Query::partition(partition).limit(crate::MAX_PAGE_SIZE);
        if let Some(cursor) = cursor.take() {
            query = query.after(cursor);
        }
        let page = scope
            .query::<serde::de::IgnoredAny>(query)
            .await
            .map_err(|e| violation("listing B's items", e.to_string()))?;
        sorts.extend(page.items.iter().map(|r| r.key().sort().to_owned()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(sorts),
        }
    }
}

async fn check_untouched<T>(b: &DataScope, samples: &[(Key, T)]) -> Result<(), IsolationViolation>
where
    T: DeserializeOwned + PartialEq + fmt::Debug + Send + 'static,
{
    for (key, item) in samples {
        let record = b
            .get::<T>(key)
            .consistent()
            .await
            .map_err(|e| violation("B after A", format!("{key:?}: {e}")))?;
        if record.version() != 1 || record.item() != item {
            return Err(violation(
                "B after A",
                format!("{key:?} changed: version {}", record.version()),
            ));
        }
    }
    Ok(())
}

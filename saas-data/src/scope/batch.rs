//! Batch reads and writes: split to DynamoDB's limits, unprocessed items retried with backoff.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{DataScope, flatten};
use crate::backend::{
    BATCH_GET_MAX, BATCH_WRITE_MAX, BatchGetRequest, BatchWrite, BatchWriteRequest, PhysKey,
};
use crate::error::{Error, Result};
use crate::item::{self, Item, PK, Record, SK};
use crate::key::Key;
use crate::store::Location;
use crate::usage::Operation;

impl DataScope {
    /// Reads many items: the answer has one entry per key, in order (`None` where there is no
    /// item for this tenant). Split into calls of 100 keys; keys DynamoDB leaves unprocessed are
    /// retried with exponential backoff, and [`Error::Throttled`] if some remain after the last
    /// attempt. Repeated keys are read once.
    pub async fn batch_get<T: DeserializeOwned>(
        &self,
        keys: &[Key],
    ) -> Result<Vec<Option<Record<T>>>> {
        let location = self.location().await?;
        let phys: Vec<PhysKey> = keys.iter().map(|k| self.phys_key(&location, k)).collect();
        let mut unique: Vec<PhysKey> = Vec::with_capacity(phys.len());
        let mut seen = HashSet::with_capacity(phys.len());
        for key in &phys {
            if seen.insert(key) {
                unique.push(key.clone());
            }
        }
        let mut found: HashMap<PhysKey, Item> = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_MAX) {
            self.batch_get_chunk(&location, chunk.to_vec(), &mut found)
                .await?;
        }
        let mut out = Vec::with_capacity(keys.len());
        for (key, phys) in keys.iter().zip(&phys) {
            let record = match found.get(phys) {
                Some(item) => item::decode(&self.ns, key.partition(), item.clone())?,
                None => None,
            };
            out.push(record);
        }
        Ok(out)
    }

    async fn batch_get_chunk(
        &self,
        location: &Location,
        mut pending: Vec<PhysKey>,
        found: &mut HashMap<PhysKey, Item>,
    ) -> Result<()> {
        let retry = self.store.inner.retry;
        let mut attempt = 0;
        loop {
            let req = BatchGetRequest {
                table: location.table.clone(),
                keys: pending,
                consistent: false,
            };
            let out = self
                .call(
                    Operation::BatchGet,
                    &location.table,
                    self.store.inner.backend.0.batch_get(req),
                )
                .await
                .map_err(flatten)?;
            for item in out.items {
                if let Some(key) = phys_key_of(&item) {
                    found.insert(key, item);
                }
            }
            if out.unprocessed.is_empty() {
                return Ok(());
            }
            attempt += 1;
            if attempt >= retry.attempts {
                return Err(Error::Throttled(
                    format!(
                        "{} keys still unprocessed after {attempt} attempts",
                        out.unprocessed.len()
                    )
                    .into(),
                ));
            }
            tokio::time::sleep(retry.delay(attempt)).await;
            pending = out.unprocessed;
        }
    }

    /// Writes many items, each created or replaced whole at version 1, without conditions.
    ///
    /// A bulk load: split into calls of 25, unprocessed writes retried with backoff. Not atomic
    /// across calls (if it fails, some calls may have been written), and it does not check or
    /// continue versions: to change existing items safely use [`DataScope::put`] with
    /// [`Put::if_version`](crate::Put::if_version), and for all-or-nothing a
    /// [`Transaction`](crate::Transaction). A key may appear once.
    pub async fn batch_put<V: Serialize>(&self, items: &[(Key, V)]) -> Result<()> {
        let location = self.location().await?;
        let mut writes = Vec::with_capacity(items.len());
        for (key, value) in items {
            writes.push(BatchWrite::Put(self.encode(&location, key, value, 1)?));
        }
        self.batch_write(&location, writes).await
    }

    /// Deletes many items (absent ones are no error), in calls of 25, unprocessed deletes
    /// retried with backoff; not atomic across calls. A key may appear once.
    pub async fn batch_delete(&self, keys: &[Key]) -> Result<()> {
        let location = self.location().await?;
        let writes = keys
            .iter()
            .map(|k| BatchWrite::Delete(self.phys_key(&location, k)))
            .collect();
        self.batch_write(&location, writes).await
    }

    async fn batch_write(&self, location: &Location, writes: Vec<BatchWrite>) -> Result<()> {
        let mut seen = HashSet::with_capacity(writes.len());
        for write in &writes {
            let key = match write {
                BatchWrite::Put(item) => phys_key_of(item),
                BatchWrite::Delete(key) => Some(key.clone()),
            };
            if !key.is_some_and(|k| seen.insert(k)) {
                return Err(Error::invalid_request("a key appears twice in one batch"));
            }
        }
        let retry = self.store.inner.retry;
        let mut writes = writes;
        while !writes.is_empty() {
            let rest = writes.split_off(writes.len().min(BATCH_WRITE_MAX));
            let mut pending = std::mem::replace(&mut writes, rest);
            let mut attempt = 0;
            loop {
                let req = BatchWriteRequest {
                    table: location.table.clone(),
                    writes: pending,
                };
                let unprocessed = self
                    .call(
                        Operation::BatchWrite,
                        &location.table,
                        self.store.inner.backend.0.batch_write(req),
                    )
                    .await
                    .map_err(flatten)?;
                if unprocessed.is_empty() {
                    break;
                }
                attempt += 1;
                if attempt >= retry.attempts {
                    return Err(Error::Throttled(
                        format!(
                            "{} writes still unprocessed after {attempt} attempts",
                            unprocessed.len()
                        )
                        .into(),
                    ));
                }
                tokio::time::sleep(retry.delay(attempt)).await;
                pending = unprocessed;
            }
        }
        Ok(())
    }
}

/// The physical key of a physical item.
fn phys_key_of(item: &Item) -> Option<PhysKey> {
    match (item.get(PK), item.get(SK)) {
        (Some(serde_dynamo::AttributeValue::S(pk)), Some(serde_dynamo::AttributeValue::S(sk))) => {
            Some(PhysKey {
                pk: pk.clone(),
                sk: sk.clone(),
            })
        }
        _ => None,
    }
}

//! The embedded backend: DynamoDB's semantics on [`redb`], in memory or in a file.
//!
//! Each DynamoDB table is one redb table (`t/<name>`), keyed by `(_pk, _sk)`. redb orders tuples
//! element by element and strings byte-wise, which is DynamoDB's order for string keys, so a query
//! is one range scan bounded to its partition and sort range. Items are stored in a compact binary
//! encoding ([`codec`]). A metadata table records which tables exist.
//!
//! Every write request is checked on its own first (keys, item rules, sizes, conditions) in the
//! caller's future. Then it is applied in a redb write transaction: its condition is evaluated on
//! the stored item, then the write is applied, or nothing of it is. Capacity is computed with
//! DynamoDB's rules, so local figures match what the same calls cost there.
//!
//! On a file, writes are committed in groups ([`writer`]): one writer thread takes every write
//! queued while the previous commit was in flight (at most [`writer::MAX_BATCH`] requests or
//! about [`writer::MAX_BATCH_BYTES`] of items), applies them in queue order in one transaction,
//! makes it durable (one `fsync` for all of them), and only then answers each request with its
//! own result. The durable step is a [`journal`] record: what the batch changed, appended to
//! `<file>-journal` and synced before redb commits the batch without syncing; a checkpoint
//! commits redb durably every 5 seconds and the journal starts over, and opening the file after
//! a crash replays what the journal holds past the last checkpoint. A durable commit costs one
//! `fsync` whatever it holds and redb runs one write transaction at a time, so a commit per
//! write caps durable writes at the disk's `fsync` rate; shared commits do not. Each request
//! stays atomic and independent: one that is refused (a condition, an invalid update) writes
//! nothing and the others commit; a failed commit answers every request of its batch
//! `Unavailable`, none as written.
//!
//! In memory, each write is its own transaction, committed inline in the returned future (the
//! same code with a batch of one). Reads run in read transactions and see committed data only.
//! A get or a query page (bounded: 400 KB, 1 MB) runs inline in the caller's future, from redb's
//! page cache; a batch get (up to 100 items) and table lookups run on Tokio's blocking pool on a
//! file.

mod codec;
mod db;
mod deserializer;
mod encoded;
mod eval;
mod journal;
mod number;
mod ops;
mod versions;
mod writer;
mod writes;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::Database;
use redb::backends::InMemoryBackend;

use self::db::{Applied, Tables};
use self::versions::{Touched, Versions, slot};
use self::writer::{Job, Stats, Writer};

use super::{
    Backend, BackendResult, BatchGetOutput, BatchGetRequest, BatchWrite, BatchWriteRequest,
    BoxFuture, DeleteRequest, GetRequest, PhysKey, PutRequest, QueryOutput, QueryRequest,
    RawBackend, TableState, TransactAction, UpdateRequest,
};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::stored::StoredItem;
use crate::usage::Capacity;

pub(crate) use self::deserializer::{DeError, from_encoded};
pub(crate) use self::encoded::EncodedItem;

impl Backend {
    /// An embedded store in memory (for unit tests): nothing survives the process.
    ///
    /// It has DynamoDB's semantics (conditions, sort order, 1 MB query pages, all-or-nothing
    /// transactions, capacity figures), so code tested on it behaves the same on DynamoDB.
    /// Tables are created with [`Provisioner::create_table`](crate::Provisioner::create_table),
    /// as on DynamoDB.
    ///
    /// ```
    /// use saas_data::{Backend, DataStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> saas_data::Result<()> {
    /// let store = DataStore::builder(Backend::in_memory()).pool("app-data").build()?;
    /// store.provisioner().create_table("app-data").await?;
    /// # Ok(()) }
    /// ```
    pub fn in_memory() -> Backend {
        Backend(Arc::new(Embedded::in_memory()))
    }

    /// An embedded store in the file at `path` (created if missing): data written and
    /// acknowledged survives a restart.
    ///
    /// Every write is committed durably before it returns. Concurrent writes share commits
    /// (group commit: the writes queued while a commit is in flight go into the next one, on a
    /// writer thread of the store's own), so durable writes are not capped at one `fsync` each;
    /// each write still succeeds or fails on its own. Only one `Backend` (in any process) may
    /// have the file open; clone the `Backend` to share it. Dropping the last clone answers the
    /// writes still queued, stops the writer and closes the file.
    ///
    /// The store is two files: `path` and, beside it, `path` with `-journal` appended, which
    /// holds the writes since the last checkpoint (at most about 5 seconds of them). Copy or
    /// move both together, and only while the store is closed: opening `path` without its
    /// journal after a crash loses what the journal held.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the file cannot be opened: already open (by this process or
    /// another), not a redb database, corrupt, or not accessible.
    ///
    /// ```
    /// use saas_data::{Backend, DataStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let backend = Backend::open(dir.path().join("data.redb"))?;
    /// let store = DataStore::builder(backend).pool("app-data").build()?;
    /// store.provisioner().create_table("app-data").await?;
    /// # Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Backend> {
        Ok(Backend(Arc::new(Embedded::open(path.as_ref())?)))
    }
}

/// The embedded backend.
pub(crate) struct Embedded {
    /// `None` when the in-memory database could not be created: every call is `Unavailable`.
    db: Option<Arc<Database>>,
    /// The file, or `None` in memory.
    path: Option<PathBuf>,
    /// The file's group-commit writer; `None` in memory, where writes commit inline.
    writer: Option<Writer>,
    stats: Arc<Stats>,
    /// The partitions' change counters, bumped by every commit.
    versions: Arc<Versions>,
}

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Embedded");
        match &self.path {
            Some(path) => s.field("kind", &"file").field("path", path),
            None => s.field("kind", &"memory"),
        };
        s.finish_non_exhaustive()
    }
}

impl Embedded {
    fn in_memory() -> Embedded {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(|e| tracing::error!(error = %e, "cannot create the in-memory store"))
            .ok();
        Embedded {
            db: db.map(Arc::new),
            path: None,
            writer: None,
            stats: Arc::new(Stats::default()),
            versions: Arc::new(Versions::default()),
        }
    }

    fn open(path: &Path) -> Result<Embedded> {
        Ok(Embedded::open_with(path, journal::Checkpoints::default())?.0)
    }

    /// Opens the file at `path` and its journal, replaying what the journal holds that the
    /// file's durable state does not: `(store, records replayed)`.
    fn open_with(path: &Path, checkpoints: journal::Checkpoints) -> Result<(Embedded, usize)> {
        let db = Arc::new(Database::create(path).map_err(|e| Error::Unavailable(Box::new(e)))?);
        let (journal, replayed) =
            journal::Journal::open(&db, &journal::path_for(path), checkpoints)?;
        if replayed > 0 {
            let path = path.display();
            tracing::info!(records = replayed, %path, "replayed the store's journal");
        }
        let stats = Arc::new(Stats::default());
        let versions = Arc::new(Versions::default());
        let writer = Writer::start(db.clone(), journal, stats.clone(), versions.clone())?;
        let store = Embedded {
            db: Some(db),
            path: Some(path.to_owned()),
            writer: Some(writer),
            stats,
            versions,
        };
        Ok((store, replayed))
    }

    /// Commits and the requests they carried so far.
    #[cfg(test)]
    fn commit_stats(&self) -> (u64, u64) {
        self.stats.get()
    }

    /// Applies `work` in a write transaction and commits it: queued for the writer on a file
    /// (sharing its commit with the writes queued with it), inline in memory. `bytes`: about how
    /// much it writes; `touched`: what it writes to.
    async fn write<T, E>(
        &self,
        bytes: usize,
        touched: Touched,
        work: impl FnOnce(&mut Tables<'_>) -> Applied<T, E> + Send + 'static,
    ) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let (request, answer) = writer::request(bytes, touched, work);
        let job: Box<dyn Job> = Box::new(request);
        match (&self.writer, &self.db) {
            (Some(writer), _) => writer.send(job).await?,
            (None, Some(db)) => {
                writer::commit(db, &mut vec![job], &self.stats, &self.versions, None);
            }
            (None, None) => {
                return Err(
                    Error::Unavailable("the in-memory store could not be created".into()).into(),
                );
            }
        }
        answer
            .await
            .map_err(|_| Error::Unavailable("the store's writer stopped before answering".into()))?
    }

    /// Runs `work` (a read) on the database: inline in memory, on the blocking pool for a file.
    fn run<T, E>(
        &self,
        work: impl FnOnce(&Database) -> std::result::Result<T, E> + Send + 'static,
    ) -> BoxFuture<'_, std::result::Result<T, E>>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let db = self.db.clone();
        let blocking = self.path.is_some();
        Box::pin(async move {
            let db = db.ok_or_else(unavailable)?;
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) if blocking => runtime
                    .spawn_blocking(move || work(&db))
                    .await
                    .map_err(|e| E::from(Error::Internal(Box::new(e))))?,
                _ => work(&db),
            }
        })
    }

    /// Runs `work`, a bounded read (one item of at most 400 KB, or one query page of at most
    /// 1 MB), inline in the caller's future, in memory and on a file alike.
    ///
    /// redb serves reads from its own page cache (1 GiB by default), so once the pages have been
    /// read a bounded read is CPU work, which costs less than the hand-off to the blocking pool
    /// and back: the load bench went from 8.2k to 11.2k pages of 50 todos per second with it
    /// (`docs/performance.md`). A page not yet cached is read with `pread`.
    fn run_inline<T, E>(
        &self,
        work: impl FnOnce(&Database) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<Error>,
    {
        let db = self.db.as_deref().ok_or_else(unavailable)?;
        work(db)
    }
}

fn unavailable() -> Error {
    Error::Unavailable("the in-memory store could not be created".into())
}

impl RawBackend for Embedded {
    fn get(&self, req: GetRequest) -> BoxFuture<'_, BackendResult<Option<StoredItem>>> {
        Box::pin(async move { self.run_inline(|db| ops::get(db, &req)) })
    }

    fn put(&self, req: PutRequest) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let req = writes::check_put(req)?;
            let (table, key) = req.target();
            let touched = Touched::Slots(vec![slot(table, &key.pk)]);
            self.write(req.size(), touched, move |tables| writes::put(tables, &req))
                .await
        })
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, BackendResult<Item>> {
        Box::pin(async move {
            writes::check_update(&req)?;
            let bytes = key_bytes(&req.key);
            let touched = Touched::Slots(vec![slot(&req.table, &req.key.pk)]);
            self.write(bytes, touched, move |tables| writes::update(tables, &req))
                .await
        })
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            writes::check_delete(&req)?;
            let bytes = key_bytes(&req.key);
            let touched = Touched::Slots(vec![slot(&req.table, &req.key.pk)]);
            self.write(bytes, touched, move |tables| writes::delete(tables, &req))
                .await
        })
    }

    fn query(&self, req: QueryRequest) -> BoxFuture<'_, BackendResult<QueryOutput>> {
        Box::pin(async move { self.run_inline(|db| ops::query(db, &req)) })
    }

    fn batch_get(&self, req: BatchGetRequest) -> BoxFuture<'_, BackendResult<BatchGetOutput>> {
        self.run(move |db| ops::batch_get(db, &req))
    }

    fn batch_write(&self, req: BatchWriteRequest) -> BoxFuture<'_, BackendResult<Vec<BatchWrite>>> {
        Box::pin(async move {
            let req = writes::check_batch_write(req)?;
            let table = req.table();
            let bytes = req
                .writes()
                .map(|(key, size)| size.unwrap_or_else(|| key_bytes(key)))
                .sum();
            let touched = Touched::Slots(req.writes().map(|(k, _)| slot(table, &k.pk)).collect());
            self.write(bytes, touched, move |tables| {
                writes::batch_write(tables, &req)
            })
            .await
        })
    }

    fn transact_write(
        &self,
        actions: Vec<TransactAction>,
    ) -> BoxFuture<'_, BackendResult<Vec<Capacity>>> {
        Box::pin(async move {
            let actions = writes::check_transact_write(actions)?;
            let bytes = actions.iter().map(writes::QueuedAction::bytes).sum();
            let touched = Touched::Slots(
                actions
                    .iter()
                    .map(|action| {
                        let (table, key) = action.target();
                        slot(table, &key.pk)
                    })
                    .collect(),
            );
            self.write(bytes, touched, move |tables| {
                writes::transact_write(tables, &actions)
            })
            .await
        })
    }

    fn create_table(&self, table: &str) -> BoxFuture<'_, Result<()>> {
        let table = table.to_owned();
        Box::pin(async move {
            db::check_create_table(&table)?;
            self.write(table.len(), Touched::Tables, move |tables| {
                tables.create_table(&table)
            })
            .await
        })
    }

    fn delete_table(&self, table: &str) -> BoxFuture<'_, Result<()>> {
        let table = table.to_owned();
        Box::pin(async move {
            self.write(table.len(), Touched::Tables, move |tables| {
                tables.delete_table(&table)
            })
            .await
        })
    }

    fn table_state(&self, table: &str) -> BoxFuture<'_, Result<TableState>> {
        let table = table.to_owned();
        self.run(move |db| db::table_state(db, &table))
    }

    fn partition_version(&self, table: &str, pk: &str) -> Option<(u64, u64)> {
        Some(self.versions.read(table, pk))
    }
}

/// About how many bytes a write of only this key stores (an update's or a delete's share of a
/// commit's budget).
fn key_bytes(key: &PhysKey) -> usize {
    key.pk.len() + key.sk.len() + 64
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod group_tests;

#[cfg(test)]
mod journal_tests;

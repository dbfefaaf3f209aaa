//! The embedded backend: DynamoDB's semantics on [`redb`], in memory or in a file.
//!
//! Each DynamoDB table is one redb table (`t/<name>`), keyed by `(_pk, _sk)`. redb orders tuples
//! element by element and strings byte-wise, which is DynamoDB's order for string keys, so a query
//! is one range scan bounded to its partition and sort range. Items are stored in a compact binary
//! encoding ([`codec`]). A metadata table records which tables exist.
//!
//! Every write is one redb write transaction: the condition is evaluated on the stored item, then
//! the write is applied and committed (durably, for a file), or nothing is. Capacity is computed
//! with DynamoDB's rules, so local figures match what the same calls cost there.
//!
//! redb is synchronous. In memory the work runs inline in the returned future; on a file it runs
//! on Tokio's blocking pool, so a commit's `fsync` never stalls the async runtime.

mod codec;
mod db;
mod eval;
mod number;
mod ops;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::Database;
use redb::backends::InMemoryBackend;

use super::{
    Backend, BackendResult, BatchGetOutput, BatchGetRequest, BatchWrite, BatchWriteRequest,
    BoxFuture, DeleteRequest, GetRequest, PutRequest, QueryOutput, QueryRequest, RawBackend,
    TableState, TransactAction, UpdateRequest,
};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::usage::Capacity;

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
    /// Every write is committed durably before it returns. Only one `Backend` (in any process)
    /// may have the file open; clone the `Backend` to share it.
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
        }
    }

    fn open(path: &Path) -> Result<Embedded> {
        let db = Database::create(path).map_err(|e| Error::Unavailable(Box::new(e)))?;
        Ok(Embedded {
            db: Some(Arc::new(db)),
            path: Some(path.to_owned()),
        })
    }

    /// Runs `work` on the database: inline in memory, on the blocking pool for a file.
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
            let db = db.ok_or_else(|| {
                Error::Unavailable("the in-memory store could not be created".into())
            })?;
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) if blocking => runtime
                    .spawn_blocking(move || work(&db))
                    .await
                    .map_err(|e| E::from(Error::Internal(Box::new(e))))?,
                _ => work(&db),
            }
        })
    }
}

impl RawBackend for Embedded {
    fn get(&self, req: GetRequest) -> BoxFuture<'_, BackendResult<Option<Item>>> {
        self.run(move |db| ops::get(db, &req))
    }

    fn put(&self, req: PutRequest) -> BoxFuture<'_, BackendResult<()>> {
        self.run(move |db| ops::put(db, &req))
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, BackendResult<Item>> {
        self.run(move |db| ops::update(db, &req))
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, BackendResult<()>> {
        self.run(move |db| ops::delete(db, &req))
    }

    fn query(&self, req: QueryRequest) -> BoxFuture<'_, BackendResult<QueryOutput>> {
        self.run(move |db| ops::query(db, &req))
    }

    fn batch_get(&self, req: BatchGetRequest) -> BoxFuture<'_, BackendResult<BatchGetOutput>> {
        self.run(move |db| ops::batch_get(db, &req))
    }

    fn batch_write(&self, req: BatchWriteRequest) -> BoxFuture<'_, BackendResult<Vec<BatchWrite>>> {
        self.run(move |db| ops::batch_write(db, &req))
    }

    fn transact_write(
        &self,
        actions: Vec<TransactAction>,
    ) -> BoxFuture<'_, BackendResult<Vec<Capacity>>> {
        self.run(move |db| ops::transact_write(db, &actions))
    }

    fn create_table(&self, table: &str) -> BoxFuture<'_, Result<()>> {
        let table = table.to_owned();
        self.run(move |db| db::create_table(db, &table))
    }

    fn delete_table(&self, table: &str) -> BoxFuture<'_, Result<()>> {
        let table = table.to_owned();
        self.run(move |db| db::delete_table(db, &table))
    }

    fn table_state(&self, table: &str) -> BoxFuture<'_, Result<TableState>> {
        let table = table.to_owned();
        self.run(move |db| db::table_state(db, &table))
    }
}

#[cfg(test)]
mod tests;

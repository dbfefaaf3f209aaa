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
mod eval;
mod number;

use std::collections::HashSet;
use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::backends::InMemoryBackend;
use redb::{
    Database, ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction,
};
use serde_dynamo::AttributeValue;

use super::{
    BATCH_GET_MAX, BATCH_WRITE_MAX, Backend, BackendError, BackendResult, BatchGetOutput,
    BatchGetRequest, BatchWrite, BatchWriteRequest, BoxFuture, DeleteRequest, GetRequest, Output,
    PhysKey, PutRequest, QUERY_PAGE_BYTES, QueryOutput, QueryRequest, RawBackend, TRANSACT_MAX,
    TableState, TransactAction, UpdateRequest,
};
use crate::error::{Error, Result};
use crate::expr::{Cond, UpdateAction};
use crate::item::{Item, PK, SK, check_size, item_size};
use crate::query::SortCondition;
use crate::usage::{Capacity, read_units, write_units};

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

/// Lists the tables that exist: name → nothing.
const TABLES: TableDefinition<&str, ()> = TableDefinition::new("saas-data/tables");

/// A table's items: `(_pk, _sk)` → encoded item.
type ItemKey = (&'static str, &'static str);
type ItemValue = &'static [u8];

/// The redb table holding DynamoDB table `name`'s items.
fn items_table_name(name: &str) -> String {
    format!("t/{name}")
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
        self.run(move |db| get(db, &req))
    }

    fn put(&self, req: PutRequest) -> BoxFuture<'_, BackendResult<()>> {
        self.run(move |db| put(db, &req))
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, BackendResult<Item>> {
        self.run(move |db| update(db, &req))
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, BackendResult<()>> {
        self.run(move |db| delete(db, &req))
    }

    fn query(&self, req: QueryRequest) -> BoxFuture<'_, BackendResult<QueryOutput>> {
        self.run(move |db| query(db, &req))
    }

    fn batch_get(&self, req: BatchGetRequest) -> BoxFuture<'_, BackendResult<BatchGetOutput>> {
        self.run(move |db| batch_get(db, &req))
    }

    fn batch_write(&self, req: BatchWriteRequest) -> BoxFuture<'_, BackendResult<Vec<BatchWrite>>> {
        self.run(move |db| batch_write(db, &req))
    }

    fn transact_write(
        &self,
        actions: Vec<TransactAction>,
    ) -> BoxFuture<'_, BackendResult<Vec<Capacity>>> {
        self.run(move |db| transact_write(db, &actions))
    }

    fn create_table(&self, table: &str) -> BoxFuture<'_, Result<()>> {
        let table = table.to_owned();
        self.run(move |db| create_table(db, &table))
    }

    fn delete_table(&self, table: &str) -> BoxFuture<'_, Result<()>> {
        let table = table.to_owned();
        self.run(move |db| delete_table(db, &table))
    }

    fn table_state(&self, table: &str) -> BoxFuture<'_, Result<TableState>> {
        let table = table.to_owned();
        self.run(move |db| table_state(db, &table))
    }
}

// ---- redb plumbing ----

/// Classifies redb's errors: storage and I/O failures are `Unavailable`, the rest `Internal`.
trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T, E: Into<redb::Error>> Db<T> for std::result::Result<T, E> {
    fn db(self) -> Result<T> {
        self.map_err(|e| {
            let e = e.into();
            match e {
                redb::Error::Io(_)
                | redb::Error::Backend(_)
                | redb::Error::Corrupted(_)
                | redb::Error::PreviousIo
                | redb::Error::DatabaseClosed
                | redb::Error::DatabaseAlreadyOpen
                | redb::Error::LockProtocolMismatch
                | redb::Error::UpgradeRequired(_)
                | redb::Error::RepairAborted
                | redb::Error::Unsupported => Error::Unavailable(Box::new(e)),
                e => Error::Internal(Box::new(e)),
            }
        })
    }
}

fn table_not_found(table: &str) -> Error {
    Error::Unavailable(format!("table not found: {table}").into())
}

/// Runs `work` in one write transaction: committed if it succeeds, rolled back if not.
fn write<T>(
    db: &Database,
    work: impl FnOnce(&WriteTransaction) -> std::result::Result<T, BackendError>,
) -> std::result::Result<T, BackendError> {
    let txn = db.begin_write().db()?;
    match work(&txn) {
        Ok(value) => {
            txn.commit().db()?;
            Ok(value)
        }
        Err(e) => {
            // Nothing was committed; a failed rollback changes nothing for the caller.
            let _ = txn.abort();
            Err(e)
        }
    }
}

fn ensure_table(txn: &WriteTransaction, table: &str) -> Result<()> {
    match txn.open_table(TABLES).db()?.get(table).db()? {
        Some(_) => Ok(()),
        None => Err(table_not_found(table)),
    }
}

/// A table's items, for writing (an error if the table does not exist).
fn write_items<'t>(
    txn: &'t WriteTransaction,
    table: &str,
) -> Result<redb::Table<'t, ItemKey, ItemValue>> {
    ensure_table(txn, table)?;
    txn.open_table(TableDefinition::new(&items_table_name(table)))
        .db()
}

/// A table's items, for reading (an error if the table does not exist).
fn read_items(
    txn: &redb::ReadTransaction,
    table: &str,
) -> Result<redb::ReadOnlyTable<ItemKey, ItemValue>> {
    match txn.open_table(TableDefinition::new(&items_table_name(table))) {
        Err(TableError::TableDoesNotExist(_)) => Err(table_not_found(table)),
        other => other.db(),
    }
}

fn decode(bytes: &[u8]) -> Result<Item> {
    codec::decode(bytes).map_err(|e| Error::Internal(Box::new(e)))
}

/// The stored item at `key`.
fn load(table: &impl ReadableTable<ItemKey, ItemValue>, key: &PhysKey) -> Result<Option<Item>> {
    match table.get((key.pk.as_str(), key.sk.as_str())).db()? {
        Some(value) => decode(value.value()).map(Some),
        None => Ok(None),
    }
}

fn store(
    table: &mut redb::Table<'_, ItemKey, ItemValue>,
    key: &PhysKey,
    item: &Item,
) -> Result<()> {
    let bytes = codec::encode(item);
    table
        .insert((key.pk.as_str(), key.sk.as_str()), bytes.as_slice())
        .db()?;
    Ok(())
}

// ---- DynamoDB's rules ----

/// Refuses keys DynamoDB refuses: empty, or longer than 2048 (partition) / 1024 (sort) bytes.
fn check_key(key: &PhysKey) -> Result<()> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(Error::invalid_request("a key attribute is an empty string"));
    }
    if key.pk.len() > 2048 || key.sk.len() > 1024 {
        return Err(Error::invalid_request("a key attribute is too long"));
    }
    Ok(())
}

/// The key of an item to put: its `_pk` and `_sk` strings.
fn key_of(item: &Item) -> Result<PhysKey> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
            let key = PhysKey {
                pk: pk.clone(),
                sk: sk.clone(),
            };
            check_key(&key)?;
            Ok(key)
        }
        _ => Err(Error::invalid_request(
            "the item has no string _pk and _sk key attributes",
        )),
    }
}

/// An item as written: DynamoDB's content rules, then its size.
fn check_item(item: &Item) -> Result<()> {
    eval::check_item(item)?;
    check_size(item)
}

fn check_condition(cond: Option<&Cond>) -> Result<()> {
    cond.map_or(Ok(()), eval::check_condition)
}

/// Whether the write may go ahead: no condition, or it holds on the stored item (or an empty one).
fn passes(cond: Option<&Cond>, old: Option<&Item>) -> bool {
    match (cond, old) {
        (None, _) => true,
        (Some(cond), Some(old)) => eval::holds(cond, old),
        (Some(cond), None) => eval::holds(cond, &Item::new()),
    }
}

/// The item after `actions`: the stored one, or a new one with only its key.
fn updated(old: Option<&Item>, key: &PhysKey, actions: &[UpdateAction]) -> Result<Item> {
    let mut item = match old {
        Some(old) => old.clone(),
        None => Item::from([
            (PK.to_owned(), AttributeValue::S(key.pk.clone())),
            (SK.to_owned(), AttributeValue::S(key.sk.clone())),
        ]),
    };
    eval::apply(&mut item, actions)?;
    check_item(&item)?;
    Ok(item)
}

fn size(item: Option<&Item>) -> usize {
    item.map_or(0, item_size)
}

/// A write's units: the larger of the item before and after, as DynamoDB charges.
fn write_capacity(old: Option<&Item>, new: Option<&Item>) -> Capacity {
    Capacity::new(0.0, write_units(size(old).max(size(new))))
}

fn read_capacity(bytes: usize, consistent: bool) -> Capacity {
    Capacity::new(read_units(bytes, consistent), 0.0)
}

/// Refuses a table name DynamoDB refuses: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn check_table_name(table: &str) -> Result<()> {
    let valid = (3..=255).contains(&table.len())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_request(
            "a table name is 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'",
        ))
    }
}

// ---- operations ----

fn get(db: &Database, req: &GetRequest) -> BackendResult<Option<Item>> {
    check_key(&req.key)?;
    let txn = db.begin_read().db()?;
    let item = load(&read_items(&txn, &req.table)?, &req.key)?;
    Ok(Output {
        capacity: read_capacity(size(item.as_ref()), req.consistent),
        value: item,
    })
}

fn put(db: &Database, req: &PutRequest) -> BackendResult<()> {
    let key = key_of(&req.item)?;
    check_item(&req.item)?;
    check_condition(req.condition.as_ref())?;
    write(db, |txn| {
        let mut table = write_items(txn, &req.table)?;
        let old = load(&table, &key)?;
        if !passes(req.condition.as_ref(), old.as_ref()) {
            return Err(BackendError::ConditionFailed { old });
        }
        store(&mut table, &key, &req.item)?;
        Ok(Output {
            value: (),
            capacity: write_capacity(old.as_ref(), Some(&req.item)),
        })
    })
}

fn update(db: &Database, req: &UpdateRequest) -> BackendResult<Item> {
    check_key(&req.key)?;
    check_condition(req.condition.as_ref())?;
    write(db, |txn| {
        let mut table = write_items(txn, &req.table)?;
        let old = load(&table, &req.key)?;
        if !passes(req.condition.as_ref(), old.as_ref()) {
            return Err(BackendError::ConditionFailed { old });
        }
        let new = updated(old.as_ref(), &req.key, &req.actions)?;
        store(&mut table, &req.key, &new)?;
        Ok(Output {
            capacity: write_capacity(old.as_ref(), Some(&new)),
            value: new,
        })
    })
}

fn delete(db: &Database, req: &DeleteRequest) -> BackendResult<()> {
    check_key(&req.key)?;
    check_condition(req.condition.as_ref())?;
    write(db, |txn| {
        let mut table = write_items(txn, &req.table)?;
        let old = load(&table, &req.key)?;
        if !passes(req.condition.as_ref(), old.as_ref()) {
            return Err(BackendError::ConditionFailed { old });
        }
        if old.is_some() {
            table
                .remove((req.key.pk.as_str(), req.key.sk.as_str()))
                .db()?;
        }
        Ok(Output {
            value: (),
            capacity: write_capacity(old.as_ref(), None),
        })
    })
}

fn query(db: &Database, req: &QueryRequest) -> BackendResult<QueryOutput> {
    if req.limit == 0 {
        return Err(Error::invalid_request("a query limit is at least 1").into());
    }
    if req.pk.is_empty() {
        return Err(Error::invalid_request("a key attribute is an empty string").into());
    }
    let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
    let (low, high) = sort_range(&req.sort, req.start_after.as_deref(), req.descending);
    let txn = db.begin_read().db()?;
    let table = read_items(&txn, &req.table)?;
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut last_sort = None;
    if !is_empty_range(&low, &high) {
        let pk = req.pk.as_str();
        // The first partition key after `pk`: every `(pk, _)` sorts before `(pk + "\0", "")`.
        let next_pk = format!("{pk}\0");
        let lower = match &low {
            Bound::Unbounded => Bound::Included((pk, "")),
            Bound::Included(sk) => Bound::Included((pk, sk.as_str())),
            Bound::Excluded(sk) => Bound::Excluded((pk, sk.as_str())),
        };
        let upper = match &high {
            Bound::Unbounded => Bound::Excluded((next_pk.as_str(), "")),
            Bound::Included(sk) => Bound::Included((pk, sk.as_str())),
            Bound::Excluded(sk) => Bound::Excluded((pk, sk.as_str())),
        };
        let mut range = table.range::<(&str, &str)>((lower, upper)).db()?;
        loop {
            let next = if req.descending {
                range.next_back()
            } else {
                range.next()
            };
            let Some(entry) = next else { break };
            let (key, value) = entry.db()?;
            let (_, sk) = key.value();
            if !req.sort.matches(sk) {
                continue;
            }
            let item = decode(value.value())?;
            bytes += item_size(&item);
            items.push(item);
            if items.len() >= limit || bytes >= QUERY_PAGE_BYTES {
                last_sort = Some(sk.to_owned());
                break;
            }
        }
    }
    Ok(Output {
        value: QueryOutput { items, last_sort },
        capacity: read_capacity(bytes, req.consistent),
    })
}

/// The sort keys a query reads: its sort condition's range, narrowed to what follows
/// `start_after` in the query's direction.
fn sort_range(
    sort: &SortCondition,
    start_after: Option<&str>,
    descending: bool,
) -> (Bound<String>, Bound<String>) {
    use Bound::{Excluded, Included, Unbounded};
    let (mut low, mut high) = match sort {
        SortCondition::All => (Unbounded, Unbounded),
        SortCondition::Eq(v) => (Included(v.clone()), Included(v.clone())),
        SortCondition::BeginsWith(p) => (
            Included(p.clone()),
            prefix_end(p).map_or(Unbounded, Excluded),
        ),
        SortCondition::Between(a, b) => (Included(a.clone()), Included(b.clone())),
        SortCondition::Lt(v) => (Unbounded, Excluded(v.clone())),
        SortCondition::Le(v) => (Unbounded, Included(v.clone())),
        SortCondition::Gt(v) => (Excluded(v.clone()), Unbounded),
        SortCondition::Ge(v) => (Included(v.clone()), Unbounded),
    };
    if let Some(after) = start_after {
        if descending {
            let tighter = match &high {
                Unbounded => true,
                Included(h) => after <= h.as_str(),
                Excluded(h) => after < h.as_str(),
            };
            if tighter {
                high = Excluded(after.to_owned());
            }
        } else {
            let tighter = match &low {
                Unbounded => true,
                Included(l) => after >= l.as_str(),
                Excluded(l) => after > l.as_str(),
            };
            if tighter {
                low = Excluded(after.to_owned());
            }
        }
    }
    (low, high)
}

/// Whether no string lies between the bounds (an unbounded low end is `""`, included).
fn is_empty_range(low: &Bound<String>, high: &Bound<String>) -> bool {
    match (low, high) {
        (_, Bound::Unbounded) => false,
        (Bound::Unbounded, Bound::Included(_)) => false,
        (Bound::Unbounded, Bound::Excluded(h)) => h.is_empty(),
        (Bound::Included(l), Bound::Included(h)) => l > h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h))
        | (Bound::Excluded(l), Bound::Included(h)) => l >= h,
    }
}

/// The smallest string above every string that starts with `prefix` (`None`: there is none).
/// UTF-8's byte order is code point order, so the last character that can be incremented is.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut end = prefix.to_owned();
    while let Some(last) = end.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            end.push(next);
            return Some(end);
        }
    }
    None
}

fn batch_get(db: &Database, req: &BatchGetRequest) -> BackendResult<BatchGetOutput> {
    if req.keys.is_empty() || req.keys.len() > BATCH_GET_MAX {
        return Err(Error::invalid_request(format!(
            "a batch read takes 1 to {BATCH_GET_MAX} keys"
        ))
        .into());
    }
    let mut seen = HashSet::with_capacity(req.keys.len());
    for key in &req.keys {
        check_key(key)?;
        if !seen.insert(key) {
            return Err(Error::invalid_request("a key appears twice in one batch").into());
        }
    }
    let txn = db.begin_read().db()?;
    let table = read_items(&txn, &req.table)?;
    let mut items = Vec::with_capacity(req.keys.len());
    let mut capacity = Capacity::default();
    for key in &req.keys {
        if let Some(item) = load(&table, key)? {
            capacity += read_capacity(item_size(&item), req.consistent);
            items.push(item);
        }
    }
    Ok(Output {
        value: BatchGetOutput {
            items,
            unprocessed: Vec::new(),
        },
        capacity,
    })
}

fn batch_write(db: &Database, req: &BatchWriteRequest) -> BackendResult<Vec<BatchWrite>> {
    if req.writes.is_empty() || req.writes.len() > BATCH_WRITE_MAX {
        return Err(Error::invalid_request(format!(
            "a batch write takes 1 to {BATCH_WRITE_MAX} writes"
        ))
        .into());
    }
    let mut keys = Vec::with_capacity(req.writes.len());
    let mut seen = HashSet::with_capacity(req.writes.len());
    for w in &req.writes {
        let key = match w {
            BatchWrite::Put(item) => {
                check_item(item)?;
                key_of(item)?
            }
            BatchWrite::Delete(key) => {
                check_key(key)?;
                key.clone()
            }
        };
        if !seen.insert(key.clone()) {
            return Err(Error::invalid_request("a key appears twice in one batch").into());
        }
        keys.push(key);
    }
    write(db, |txn| {
        let mut table = write_items(txn, &req.table)?;
        let mut capacity = Capacity::default();
        for (w, key) in req.writes.iter().zip(&keys) {
            let old = load(&table, key)?;
            match w {
                BatchWrite::Put(item) => {
                    store(&mut table, key, item)?;
                    capacity += write_capacity(old.as_ref(), Some(item));
                }
                BatchWrite::Delete(_) => {
                    if old.is_some() {
                        table.remove((key.pk.as_str(), key.sk.as_str())).db()?;
                    }
                    capacity += write_capacity(old.as_ref(), None);
                }
            }
        }
        Ok(Output {
            value: Vec::new(),
            capacity,
        })
    })
}

fn transact_write(db: &Database, actions: &[TransactAction]) -> BackendResult<Vec<Capacity>> {
    if actions.is_empty() || actions.len() > TRANSACT_MAX {
        return Err(Error::invalid_request(format!(
            "a transaction takes 1 to {TRANSACT_MAX} actions"
        ))
        .into());
    }
    // Validate everything before reading anything, as DynamoDB does.
    let mut keys = Vec::with_capacity(actions.len());
    let mut seen = HashSet::with_capacity(actions.len());
    for action in actions {
        let (key, condition) = match action {
            TransactAction::Put {
                item, condition, ..
            } => {
                check_item(item)?;
                (key_of(item)?, condition.as_ref())
            }
            TransactAction::Update { key, condition, .. }
            | TransactAction::Delete { key, condition, .. } => {
                check_key(key)?;
                (key.clone(), condition.as_ref())
            }
            TransactAction::ConditionCheck { key, condition, .. } => {
                check_key(key)?;
                (key.clone(), Some(condition))
            }
        };
        check_condition(condition)?;
        if !seen.insert((action.table(), key.clone())) {
            return Err(Error::invalid_request("a transaction touches the same item twice").into());
        }
        keys.push((key, condition));
    }
    write(db, |txn| {
        for action in actions {
            ensure_table(txn, action.table())?;
        }
        let mut each = Vec::with_capacity(actions.len());
        for (index, (action, (key, condition))) in actions.iter().zip(&keys).enumerate() {
            let mut table = write_items(txn, action.table())?;
            let old = load(&table, key)?;
            if !passes(*condition, old.as_ref()) {
                return Err(BackendError::TransactionConditionFailed { index, old });
            }
            let capacity = match action {
                TransactAction::Put { item, .. } => {
                    store(&mut table, key, item)?;
                    write_capacity(old.as_ref(), Some(item))
                }
                TransactAction::Update { actions, .. } => {
                    let new = updated(old.as_ref(), key, actions)?;
                    store(&mut table, key, &new)?;
                    write_capacity(old.as_ref(), Some(&new))
                }
                TransactAction::Delete { .. } => {
                    if old.is_some() {
                        table.remove((key.pk.as_str(), key.sk.as_str())).db()?;
                    }
                    write_capacity(old.as_ref(), None)
                }
                TransactAction::ConditionCheck { .. } => read_capacity(size(old.as_ref()), true),
            };
            // Transactions cost twice.
            each.push(Capacity::new(
                capacity.read_units * 2.0,
                capacity.write_units * 2.0,
            ));
        }
        let total = each.iter().fold(Capacity::default(), |sum, c| sum + *c);
        Ok(Output {
            value: each,
            capacity: total,
        })
    })
}

fn create_table(db: &Database, table: &str) -> Result<()> {
    check_table_name(table)?;
    write(db, |txn| {
        txn.open_table(TABLES).db()?.insert(table, ()).db()?;
        txn.open_table::<ItemKey, ItemValue>(TableDefinition::new(&items_table_name(table)))
            .db()?;
        Ok(())
    })
    .map_err(into_error)
}

fn delete_table(db: &Database, table: &str) -> Result<()> {
    write(db, |txn| {
        txn.open_table(TABLES).db()?.remove(table).db()?;
        txn.delete_table(TableDefinition::<ItemKey, ItemValue>::new(
            &items_table_name(table),
        ))
        .db()?;
        Ok(())
    })
    .map_err(into_error)
}

fn table_state(db: &Database, table: &str) -> Result<TableState> {
    let txn = db.begin_read().db()?;
    let exists = match txn.open_table(TABLES) {
        Err(TableError::TableDoesNotExist(_)) => false,
        tables => tables.db()?.get(table).db()?.is_some(),
    };
    Ok(if exists {
        TableState::Active
    } else {
        TableState::Missing
    })
}

/// A table operation's error (it has no conditions).
fn into_error(e: BackendError) -> Error {
    match e {
        BackendError::Other(e) => e,
        BackendError::ConditionFailed { .. } | BackendError::TransactionConditionFailed { .. } => {
            Error::internal("unexpected condition failure")
        }
    }
}

#[cfg(test)]
mod tests;

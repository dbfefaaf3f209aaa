//! Storage backends: DynamoDB and the embedded store, behind one crate-private trait.
//!
//! A backend knows physical tables, physical keys (`_pk`, `_sk`) and whole items; it knows
//! nothing of tenants. Tenant scoping, key layout, versions, cursors, batching and retries live
//! above it, once, so every backend gets them the same way. Backends must give DynamoDB's
//! semantics: byte-wise sort key order, conditions evaluated atomically with the write, at most
//! 1 MB of items per query call, a transaction applied entirely or not at all, and DynamoDB's
//! capacity figures.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Error;
use crate::expr::{Cond, UpdateAction};
use crate::item::Item;
use crate::query::SortCondition;
use crate::stored::StoredItem;
use crate::usage::Capacity;

#[cfg(feature = "dynamodb")]
pub(crate) mod dynamodb;
#[cfg(feature = "embedded")]
pub(crate) mod embedded;

/// A boxed `Send` future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The most keys one `BatchGetItem` call takes.
pub(crate) const BATCH_GET_MAX: usize = 100;
/// The most writes one `BatchWriteItem` call takes.
pub(crate) const BATCH_WRITE_MAX: usize = 25;
/// The most actions one `TransactWriteItems` call takes.
pub(crate) const TRANSACT_MAX: usize = 100;
/// The most bytes of items one query call reads before it stops (DynamoDB's 1 MB).
#[cfg_attr(not(feature = "embedded"), allow(dead_code))] // DynamoDB applies it itself.
pub(crate) const QUERY_PAGE_BYTES: usize = 1024 * 1024;

/// A physical primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PhysKey {
    pub(crate) pk: String,
    pub(crate) sk: String,
}

/// A result with the capacity it consumed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Output<T> {
    pub(crate) value: T,
    pub(crate) capacity: Capacity,
}

/// Why a backend call failed.
#[derive(Debug)]
pub(crate) enum BackendError {
    /// The write's condition did not hold. `old` is the stored item if the backend returned it
    /// (DynamoDB's `ReturnValuesOnConditionCheckFailure = ALL_OLD`); `None` when there was no item
    /// or it was not returned.
    ConditionFailed { old: Option<Item> },
    /// A transaction was cancelled by the condition of action `index` (`old` as above).
    TransactionConditionFailed { index: usize, old: Option<Item> },
    /// Anything else, already classified.
    Other(Error),
}

impl From<Error> for BackendError {
    fn from(e: Error) -> Self {
        BackendError::Other(e)
    }
}

/// The result of a backend call.
pub(crate) type BackendResult<T> = Result<Output<T>, BackendError>;

/// `GetItem`.
#[derive(Debug, Clone)]
pub(crate) struct GetRequest {
    pub(crate) table: Arc<str>,
    pub(crate) key: PhysKey,
    pub(crate) consistent: bool,
}

/// `PutItem`: writes the whole item if `condition` holds (on the stored item, or on an empty one).
#[derive(Debug, Clone)]
pub(crate) struct PutRequest {
    pub(crate) table: Arc<str>,
    pub(crate) item: Item,
    pub(crate) condition: Option<Cond>,
}

/// `UpdateItem` with `ReturnValues = ALL_NEW`: applies the actions if `condition` holds. Creates the
/// item if absent (and the condition allows it), as DynamoDB does.
#[derive(Debug, Clone)]
pub(crate) struct UpdateRequest {
    pub(crate) table: Arc<str>,
    pub(crate) key: PhysKey,
    pub(crate) actions: Vec<UpdateAction>,
    pub(crate) condition: Option<Cond>,
}

/// `DeleteItem`: deletes if `condition` holds (deleting an absent item is not an error).
#[derive(Debug, Clone)]
pub(crate) struct DeleteRequest {
    pub(crate) table: Arc<str>,
    pub(crate) key: PhysKey,
    pub(crate) condition: Option<Cond>,
}

/// `Query` on `_pk = pk AND <sort condition on _sk>`.
#[derive(Debug, Clone)]
pub(crate) struct QueryRequest {
    pub(crate) table: Arc<str>,
    pub(crate) pk: String,
    pub(crate) sort: SortCondition,
    pub(crate) descending: bool,
    /// At most this many items (≥ 1).
    pub(crate) limit: u32,
    /// Continue after this sort key (`ExclusiveStartKey`).
    pub(crate) start_after: Option<String>,
    pub(crate) consistent: bool,
}

/// One `Query` call's answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryOutput {
    pub(crate) items: Vec<StoredItem>,
    /// `LastEvaluatedKey`'s sort key: set when the call stopped at its limit or at 1 MB, even if
    /// nothing follows (as DynamoDB does).
    pub(crate) last_sort: Option<String>,
}

/// `BatchGetItem` on one table (at most [`BATCH_GET_MAX`] distinct keys).
#[derive(Debug, Clone)]
pub(crate) struct BatchGetRequest {
    pub(crate) table: Arc<str>,
    pub(crate) keys: Vec<PhysKey>,
    pub(crate) consistent: bool,
}

/// One `BatchGetItem` call's answer: the items found (any order) and the keys not processed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchGetOutput {
    pub(crate) items: Vec<Item>,
    pub(crate) unprocessed: Vec<PhysKey>,
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BatchWrite {
    Put(Item),
    Delete(PhysKey),
}

/// `BatchWriteItem` on one table (at most [`BATCH_WRITE_MAX`] writes, distinct keys).
#[derive(Debug, Clone)]
pub(crate) struct BatchWriteRequest {
    pub(crate) table: Arc<str>,
    pub(crate) writes: Vec<BatchWrite>,
}

/// One action of a transaction.
#[derive(Debug, Clone)]
pub(crate) enum TransactAction {
    Put {
        table: Arc<str>,
        item: Item,
        condition: Option<Cond>,
    },
    Update {
        table: Arc<str>,
        key: PhysKey,
        actions: Vec<UpdateAction>,
        condition: Option<Cond>,
    },
    Delete {
        table: Arc<str>,
        key: PhysKey,
        condition: Option<Cond>,
    },
    ConditionCheck {
        table: Arc<str>,
        key: PhysKey,
        condition: Cond,
    },
}

impl TransactAction {
    pub(crate) fn table(&self) -> &Arc<str> {
        match self {
            TransactAction::Put { table, .. }
            | TransactAction::Update { table, .. }
            | TransactAction::Delete { table, .. }
            | TransactAction::ConditionCheck { table, .. } => table,
        }
    }
}

/// A table's lifecycle state, as the provisioner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "dynamodb"), allow(dead_code))] // The embedded store has no transitions.
pub(crate) enum TableState {
    Missing,
    Creating,
    Active,
    Deleting,
    Other,
}

/// What a storage engine must do. Implemented by the DynamoDB and embedded backends.
pub(crate) trait RawBackend: Send + Sync + fmt::Debug + 'static {
    fn get(&self, req: GetRequest) -> BoxFuture<'_, BackendResult<Option<StoredItem>>>;
    fn put(&self, req: PutRequest) -> BoxFuture<'_, BackendResult<()>>;
    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, BackendResult<Item>>;
    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, BackendResult<()>>;
    fn query(&self, req: QueryRequest) -> BoxFuture<'_, BackendResult<QueryOutput>>;
    fn batch_get(&self, req: BatchGetRequest) -> BoxFuture<'_, BackendResult<BatchGetOutput>>;
    /// Returns the writes not processed.
    fn batch_write(&self, req: BatchWriteRequest) -> BoxFuture<'_, BackendResult<Vec<BatchWrite>>>;
    /// All or nothing (at most [`TRANSACT_MAX`] actions, each key once). Capacity is per action
    /// index when the backend can tell, else the total on index 0.
    fn transact_write(
        &self,
        actions: Vec<TransactAction>,
    ) -> BoxFuture<'_, BackendResult<Vec<Capacity>>>;

    /// Creates a table with the crate's key schema (`_pk` S hash, `_sk` S range), on-demand
    /// billing. Succeeds if it already exists. Does not wait.
    fn create_table(&self, table: &str) -> BoxFuture<'_, Result<(), Error>>;
    /// Deletes a table. Succeeds if it does not exist. Does not wait.
    fn delete_table(&self, table: &str) -> BoxFuture<'_, Result<(), Error>>;
    /// The table's state.
    fn table_state(&self, table: &str) -> BoxFuture<'_, Result<TableState, Error>>;
    /// `(store, figure)` of the partition `pk` of `table`, a figure that any acknowledged write
    /// to the partition has changed; `None` where the backend cannot know of every write
    /// (DynamoDB: other processes write to it).
    fn partition_version(&self, _table: &str, _pk: &str) -> Option<(u64, u64)> {
        None
    }
}

/// Where a [`DataStore`](crate::DataStore) keeps its data: DynamoDB or the embedded store.
///
/// Cheap to clone; build it once per process (at cold start), not per request.
#[derive(Clone)]
pub struct Backend(pub(crate) Arc<dyn RawBackend>);

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

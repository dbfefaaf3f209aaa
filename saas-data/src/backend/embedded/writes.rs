//! The write requests, in two halves: checked and encoded by the caller, applied by the writer.
//!
//! The first half (`check_*`) runs in the caller's future before the request is queued: the
//! request alone is checked (keys, DynamoDB's item rules, sizes, conditions) and every item it
//! stores is encoded into the bytes that will be stored ([`ToStore`]), so the attribute maps are
//! built and dropped on the caller's thread. The second half runs in a write transaction shared
//! with the other requests of its commit, on the writer thread, which every durable write goes
//! through one at a time: it reads and decides everything (conditions, an updated item) before it
//! writes anything, so a request that is refused leaves no trace in the shared transaction; only
//! the writes themselves can fail part-way (`Failed::Torn`), and then the whole commit is rolled
//! back.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use serde_dynamo::AttributeValue;

use super::codec;
use super::db::{Applied, Tables, Torn, load};
use super::eval;
use super::ops::{check_key, read_capacity};
use crate::backend::{
    BATCH_WRITE_MAX, BackendError, BatchWrite, BatchWriteRequest, DeleteRequest, Output, PhysKey,
    PutRequest, TRANSACT_MAX, TransactAction, UpdateRequest,
};
use crate::error::{Error, Result};
use crate::expr::{Cond, UpdateAction};
use crate::item::{Item, PK, SK, check_size, item_size};
use crate::usage::{Capacity, write_units};

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

/// Refuses a condition DynamoDB refuses before reading the item.
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

/// A write's units: the larger of the item before (if any) and after, as DynamoDB charges.
fn write_capacity(old: Option<&Item>, new_size: usize) -> Capacity {
    Capacity::new(0.0, write_units(old.map_or(0, item_size).max(new_size)))
}

/// An item to store, checked and encoded before its request is queued.
#[derive(Debug)]
pub(super) struct ToStore {
    /// The stored form ([`codec`]).
    bytes: Vec<u8>,
    /// Its size as DynamoDB counts it.
    size: usize,
}

impl ToStore {
    /// Checks `item` as written (its key, DynamoDB's content rules, its size) and encodes it.
    fn new(item: &Item) -> Result<(PhysKey, ToStore)> {
        let key = key_of(item)?;
        check_item(item)?;
        let to_store = ToStore {
            bytes: codec::encode(item),
            size: item_size(item),
        };
        Ok((key, to_store))
    }

    /// Its size as DynamoDB counts it.
    pub(super) fn size(&self) -> usize {
        self.size
    }
}

/// A `PutItem` as queued.
#[derive(Debug)]
pub(super) struct QueuedPut {
    table: Arc<str>,
    key: PhysKey,
    item: ToStore,
    condition: Option<Cond>,
}

impl QueuedPut {
    /// The table and key it writes.
    pub(super) fn target(&self) -> (&Arc<str>, &PhysKey) {
        (&self.table, &self.key)
    }

    /// The item's size as DynamoDB counts it.
    pub(super) fn size(&self) -> usize {
        self.item.size
    }
}

/// `PutItem`, checked and encoded before it is queued.
pub(super) fn check_put(req: PutRequest) -> Result<QueuedPut> {
    let (key, item) = ToStore::new(&req.item)?;
    check_condition(req.condition.as_ref())?;
    Ok(QueuedPut {
        table: req.table,
        key,
        item,
        condition: req.condition,
    })
}

/// `PutItem` in the batch's transaction: the whole item, if the condition holds.
pub(super) fn put(tables: &mut Tables<'_>, req: &QueuedPut) -> Applied<Output<()>> {
    let old = load(tables.items(&req.table)?, &req.key)?;
    if !passes(req.condition.as_ref(), old.as_ref()) {
        return Err(BackendError::ConditionFailed { old }.into());
    }
    tables.store(&req.table, &req.key, &req.item.bytes).torn()?;
    Ok(Output {
        value: (),
        capacity: write_capacity(old.as_ref(), req.item.size),
    })
}

/// `UpdateItem`, checked before it is queued.
pub(super) fn check_update(req: &UpdateRequest) -> Result<()> {
    check_key(&req.key)?;
    check_condition(req.condition.as_ref())
}

/// `UpdateItem` with `ALL_NEW` in the batch's transaction: the stored item (or a new one)
/// changed, if the condition holds.
pub(super) fn update(tables: &mut Tables<'_>, req: &UpdateRequest) -> Applied<Output<Item>> {
    let old = load(tables.items(&req.table)?, &req.key)?;
    if !passes(req.condition.as_ref(), old.as_ref()) {
        return Err(BackendError::ConditionFailed { old }.into());
    }
    let new = updated(old.as_ref(), &req.key, &req.actions)?;
    tables
        .store(&req.table, &req.key, &codec::encode(&new))
        .torn()?;
    Ok(Output {
        capacity: write_capacity(old.as_ref(), item_size(&new)),
        value: new,
    })
}

/// `DeleteItem`, checked before it is queued.
pub(super) fn check_delete(req: &DeleteRequest) -> Result<()> {
    check_key(&req.key)?;
    check_condition(req.condition.as_ref())
}

/// `DeleteItem` in the batch's transaction, if the condition holds.
pub(super) fn delete(tables: &mut Tables<'_>, req: &DeleteRequest) -> Applied<Output<()>> {
    let old = load(tables.items(&req.table)?, &req.key)?;
    if !passes(req.condition.as_ref(), old.as_ref()) {
        return Err(BackendError::ConditionFailed { old }.into());
    }
    if old.is_some() {
        tables.remove(&req.table, &req.key).torn()?;
    }
    Ok(Output {
        value: (),
        capacity: write_capacity(old.as_ref(), 0),
    })
}

/// A `BatchWriteItem` as queued: each write's key, and the item it stores (`None`: a delete).
#[derive(Debug)]
pub(super) struct QueuedBatchWrite {
    table: Arc<str>,
    writes: Vec<(PhysKey, Option<ToStore>)>,
}

impl QueuedBatchWrite {
    /// The table it writes to.
    pub(super) fn table(&self) -> &Arc<str> {
        &self.table
    }

    /// Each write's key and the size of what it stores (`None`: a delete).
    pub(super) fn writes(&self) -> impl Iterator<Item = (&PhysKey, Option<usize>)> {
        self.writes
            .iter()
            .map(|(key, item)| (key, item.as_ref().map(ToStore::size)))
    }
}

/// `BatchWriteItem`, checked and encoded before it is queued.
pub(super) fn check_batch_write(req: BatchWriteRequest) -> Result<QueuedBatchWrite> {
    if req.writes.is_empty() || req.writes.len() > BATCH_WRITE_MAX {
        return Err(Error::invalid_request(format!(
            "a batch write takes 1 to {BATCH_WRITE_MAX} writes"
        )));
    }
    let mut writes = Vec::with_capacity(req.writes.len());
    let mut seen = HashSet::with_capacity(req.writes.len());
    for w in &req.writes {
        let (key, item) = match w {
            BatchWrite::Put(item) => {
                let (key, item) = ToStore::new(item)?;
                (key, Some(item))
            }
            BatchWrite::Delete(key) => {
                check_key(key)?;
                (key.clone(), None)
            }
        };
        if !seen.insert(key.clone()) {
            return Err(Error::invalid_request("a key appears twice in one batch"));
        }
        writes.push((key, item));
    }
    Ok(QueuedBatchWrite {
        table: req.table,
        writes,
    })
}

/// `BatchWriteItem` on one table in the batch's transaction: nothing left unprocessed.
pub(super) fn batch_write(
    tables: &mut Tables<'_>,
    req: &QueuedBatchWrite,
) -> Applied<Output<Vec<BatchWrite>>> {
    let table = tables.items(&req.table)?;
    // Every read before the first write: a stored item that cannot be read refuses the batch
    // with nothing written.
    let olds = req
        .writes
        .iter()
        .map(|(key, _)| load(table, key))
        .collect::<Result<Vec<_>>>()?;
    let mut capacity = Capacity::default();
    for ((key, item), old) in req.writes.iter().zip(&olds) {
        match item {
            Some(item) => {
                tables.store(&req.table, key, &item.bytes).torn()?;
                capacity += write_capacity(old.as_ref(), item.size);
            }
            None => {
                if old.is_some() {
                    tables.remove(&req.table, key).torn()?;
                }
                capacity += write_capacity(old.as_ref(), 0);
            }
        }
    }
    Ok(Output {
        value: Vec::new(),
        capacity,
    })
}

/// What a transaction's action writes, as queued.
#[derive(Debug)]
enum Write {
    Put(ToStore),
    Update(Vec<UpdateAction>),
    Delete,
    Check,
}

/// One action of a `TransactWriteItems` as queued.
#[derive(Debug)]
pub(super) struct QueuedAction {
    table: Arc<str>,
    key: PhysKey,
    write: Write,
    condition: Option<Cond>,
}

impl QueuedAction {
    /// The table and key it touches.
    pub(super) fn target(&self) -> (&Arc<str>, &PhysKey) {
        (&self.table, &self.key)
    }

    /// About how many bytes it stores: the item's size for a put, else its key's.
    pub(super) fn bytes(&self) -> usize {
        match &self.write {
            Write::Put(item) => item.size,
            _ => super::key_bytes(&self.key),
        }
    }
}

/// `TransactWriteItems`, checked and encoded before it is queued (everything, before reading
/// anything, as DynamoDB does).
pub(super) fn check_transact_write(actions: Vec<TransactAction>) -> Result<Vec<QueuedAction>> {
    if actions.is_empty() || actions.len() > TRANSACT_MAX {
        return Err(Error::invalid_request(format!(
            "a transaction takes 1 to {TRANSACT_MAX} actions"
        )));
    }
    let mut queued = Vec::with_capacity(actions.len());
    for action in actions {
        let (table, key, write, condition) = match action {
            TransactAction::Put {
                table,
                item,
                condition,
            } => {
                let (key, item) = ToStore::new(&item)?;
                (table, key, Write::Put(item), condition)
            }
            TransactAction::Update {
                table,
                key,
                actions,
                condition,
            } => (table, key, Write::Update(actions), condition),
            TransactAction::Delete {
                table,
                key,
                condition,
            } => (table, key, Write::Delete, condition),
            TransactAction::ConditionCheck {
                table,
                key,
                condition,
            } => (table, key, Write::Check, Some(condition)),
        };
        if !matches!(write, Write::Put(_)) {
            check_key(&key)?;
        }
        check_condition(condition.as_ref())?;
        // At most 100 actions: a scan costs less than hashing every key.
        if queued
            .iter()
            .any(|a: &QueuedAction| a.key == key && a.table == table)
        {
            return Err(Error::invalid_request(
                "a transaction touches the same item twice",
            ));
        }
        queued.push(QueuedAction {
            table,
            key,
            write,
            condition,
        });
    }
    Ok(queued)
}

/// What a transaction's action does to its item, decided before anything is written.
enum Change<'a> {
    Store(Cow<'a, [u8]>),
    Remove,
    Keep,
}

/// `TransactWriteItems` in the batch's transaction: every action, or none (the first failing
/// condition cancels all).
pub(super) fn transact_write(
    tables: &mut Tables<'_>,
    actions: &[QueuedAction],
) -> Applied<Output<Vec<Capacity>>> {
    for action in actions {
        tables.ensure(&action.table)?;
    }
    // Every condition and every updated item first: an action that fails cancels the
    // transaction before any of its actions has written.
    let mut changes = Vec::with_capacity(actions.len());
    let mut each = Vec::with_capacity(actions.len());
    for (index, action) in actions.iter().enumerate() {
        let old = load(tables.items(&action.table)?, &action.key)?;
        if !passes(action.condition.as_ref(), old.as_ref()) {
            return Err(BackendError::TransactionConditionFailed { index, old }.into());
        }
        let (change, capacity) = match &action.write {
            Write::Put(item) => (
                Change::Store(Cow::Borrowed(item.bytes.as_slice())),
                write_capacity(old.as_ref(), item.size),
            ),
            Write::Update(updates) => {
                let new = updated(old.as_ref(), &action.key, updates)?;
                let capacity = write_capacity(old.as_ref(), item_size(&new));
                (Change::Store(Cow::Owned(codec::encode(&new))), capacity)
            }
            Write::Delete => (
                if old.is_some() {
                    Change::Remove
                } else {
                    Change::Keep
                },
                write_capacity(old.as_ref(), 0),
            ),
            Write::Check => (
                Change::Keep,
                read_capacity(old.as_ref().map_or(0, item_size), true),
            ),
        };
        changes.push(change);
        // Transactions cost twice.
        each.push(Capacity::new(
            capacity.read_units * 2.0,
            capacity.write_units * 2.0,
        ));
    }
    for (action, change) in actions.iter().zip(changes) {
        match change {
            Change::Keep => {}
            Change::Store(bytes) => {
                tables.store(&action.table, &action.key, &bytes).torn()?;
            }
            Change::Remove => {
                tables.remove(&action.table, &action.key).torn()?;
            }
        }
    }
    let total = each.iter().fold(Capacity::default(), |sum, c| sum + *c);
    Ok(Output {
        value: each,
        capacity: total,
    })
}

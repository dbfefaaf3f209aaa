//! The operations, with DynamoDB's rules: keys, conditions, updates, query ranges, capacity.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Bound;

use redb::{Database, ReadableDatabase};
use serde_dynamo::AttributeValue;

use super::db::{Applied, Db, Tables, Torn, load, read_items, store};
use super::encoded::EncodedItem;
use super::eval;
use crate::backend::{
    BATCH_GET_MAX, BATCH_WRITE_MAX, BackendError, BackendResult, BatchGetOutput, BatchGetRequest,
    BatchWrite, BatchWriteRequest, DeleteRequest, GetRequest, Output, PhysKey, PutRequest,
    QUERY_PAGE_BYTES, QueryOutput, QueryRequest, TRANSACT_MAX, TransactAction, UpdateRequest,
};
use crate::error::{Error, Result};
use crate::expr::{Cond, UpdateAction};
use crate::item::{Item, PK, SK, check_size, item_size};
use crate::query::SortCondition;
use crate::stored::StoredItem;
use crate::usage::{Capacity, read_units, write_units};

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

/// An item's size as DynamoDB counts it; 0 when absent.
fn size(item: Option<&Item>) -> usize {
    item.map_or(0, item_size)
}

/// A write's units: the larger of the item before and after, as DynamoDB charges.
fn write_capacity(old: Option<&Item>, new: Option<&Item>) -> Capacity {
    Capacity::new(0.0, write_units(size(old).max(size(new))))
}

/// A read's units: `bytes` in 4 KB units, halved when eventually consistent.
fn read_capacity(bytes: usize, consistent: bool) -> Capacity {
    Capacity::new(read_units(bytes, consistent), 0.0)
}

/// `GetItem`.
pub(super) fn get(db: &Database, req: &GetRequest) -> BackendResult<Option<StoredItem>> {
    check_key(&req.key)?;
    let txn = db.begin_read().db()?;
    let table = read_items(&txn, &req.table)?;
    let item = match table.get((req.key.pk.as_str(), req.key.sk.as_str())).db()? {
        Some(value) => Some(read_encoded(value.value())?),
        None => None,
    };
    Ok(Output {
        capacity: read_capacity(item.as_ref().map_or(0, EncodedItem::size), req.consistent),
        value: item.map(StoredItem::Encoded),
    })
}

/// A stored item, checked, kept encoded.
fn read_encoded(bytes: &[u8]) -> Result<EncodedItem> {
    EncodedItem::read(bytes).map_err(|e| Error::Internal(Box::new(e)))
}

// Every write comes in two halves: a check of the request alone, made by the caller before the
// request is queued, and its work in a write transaction shared with the other requests of its
// commit. The work reads and decides everything (conditions, the updated item) before it writes
// anything, so a request that is refused leaves no trace in the shared transaction; only the
// writes themselves can fail part-way (`Failed::Torn`), and then the whole commit is rolled back.

/// `PutItem`, checked before it is queued: the item's key.
pub(super) fn check_put(req: &PutRequest) -> Result<PhysKey> {
    let key = key_of(&req.item)?;
    check_item(&req.item)?;
    check_condition(req.condition.as_ref())?;
    Ok(key)
}

/// `PutItem` in the batch's transaction: the whole item, if the condition holds.
pub(super) fn put(tables: &mut Tables<'_>, req: &PutRequest, key: &PhysKey) -> Applied<Output<()>> {
    let table = tables.items(&req.table)?;
    let old = load(table, key)?;
    if !passes(req.condition.as_ref(), old.as_ref()) {
        return Err(BackendError::ConditionFailed { old }.into());
    }
    store(table, key, &req.item).torn()?;
    Ok(Output {
        value: (),
        capacity: write_capacity(old.as_ref(), Some(&req.item)),
    })
}

/// `UpdateItem`, checked before it is queued.
pub(super) fn check_update(req: &UpdateRequest) -> Result<()> {
    check_key(&req.key)?;
    check_condition(req.condition.as_ref())
}

/// `UpdateItem` with `ALL_NEW` in the batch's transaction: the stored item (or a new one) changed, if the
/// condition holds.
pub(super) fn update(tables: &mut Tables<'_>, req: &UpdateRequest) -> Applied<Output<Item>> {
    let table = tables.items(&req.table)?;
    let old = load(table, &req.key)?;
    if !passes(req.condition.as_ref(), old.as_ref()) {
        return Err(BackendError::ConditionFailed { old }.into());
    }
    let new = updated(old.as_ref(), &req.key, &req.actions)?;
    store(table, &req.key, &new).torn()?;
    Ok(Output {
        capacity: write_capacity(old.as_ref(), Some(&new)),
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
    let table = tables.items(&req.table)?;
    let old = load(table, &req.key)?;
    if !passes(req.condition.as_ref(), old.as_ref()) {
        return Err(BackendError::ConditionFailed { old }.into());
    }
    if old.is_some() {
        table
            .remove((req.key.pk.as_str(), req.key.sk.as_str()))
            .db()
            .torn()?;
    }
    Ok(Output {
        value: (),
        capacity: write_capacity(old.as_ref(), None),
    })
}

/// `Query`: one partition, in sort key order, until the limit or 1 MB of items.
pub(super) fn query(db: &Database, req: &QueryRequest) -> BackendResult<QueryOutput> {
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
            let item = read_encoded(value.value())?;
            bytes += item.size();
            items.push(StoredItem::Encoded(item));
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
pub(super) fn sort_range(
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
pub(super) fn is_empty_range(low: &Bound<String>, high: &Bound<String>) -> bool {
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
pub(super) fn prefix_end(prefix: &str) -> Option<String> {
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

/// `BatchGetItem` on one table: everything found, nothing left unprocessed.
pub(super) fn batch_get(db: &Database, req: &BatchGetRequest) -> BackendResult<BatchGetOutput> {
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

/// `BatchWriteItem`, checked before it is queued: each write's key.
pub(super) fn check_batch_write(req: &BatchWriteRequest) -> Result<Vec<PhysKey>> {
    if req.writes.is_empty() || req.writes.len() > BATCH_WRITE_MAX {
        return Err(Error::invalid_request(format!(
            "a batch write takes 1 to {BATCH_WRITE_MAX} writes"
        )));
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
            return Err(Error::invalid_request("a key appears twice in one batch"));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// `BatchWriteItem` on one table in the batch's transaction (`keys` from [`check_batch_write`]): nothing left
/// unprocessed.
pub(super) fn batch_write(
    tables: &mut Tables<'_>,
    req: &BatchWriteRequest,
    keys: &[PhysKey],
) -> Applied<Output<Vec<BatchWrite>>> {
    let table = tables.items(&req.table)?;
    // Every read before the first write: a stored item that cannot be read refuses the batch
    // with nothing written.
    let olds = keys
        .iter()
        .map(|key| load(table, key))
        .collect::<Result<Vec<_>>>()?;
    let mut capacity = Capacity::default();
    for ((w, key), old) in req.writes.iter().zip(keys).zip(&olds) {
        match w {
            BatchWrite::Put(item) => {
                store(table, key, item).torn()?;
                capacity += write_capacity(old.as_ref(), Some(item));
            }
            BatchWrite::Delete(_) => {
                if old.is_some() {
                    table
                        .remove((key.pk.as_str(), key.sk.as_str()))
                        .db()
                        .torn()?;
                }
                capacity += write_capacity(old.as_ref(), None);
            }
        }
    }
    Ok(Output {
        value: Vec::new(),
        capacity,
    })
}

/// The condition of a transaction's action.
fn condition_of(action: &TransactAction) -> Option<&Cond> {
    match action {
        TransactAction::Put { condition, .. }
        | TransactAction::Update { condition, .. }
        | TransactAction::Delete { condition, .. } => condition.as_ref(),
        TransactAction::ConditionCheck { condition, .. } => Some(condition),
    }
}

/// `TransactWriteItems`, checked before it is queued (everything, before reading anything, as
/// DynamoDB does): each action's key.
pub(super) fn check_transact_write(actions: &[TransactAction]) -> Result<Vec<PhysKey>> {
    if actions.is_empty() || actions.len() > TRANSACT_MAX {
        return Err(Error::invalid_request(format!(
            "a transaction takes 1 to {TRANSACT_MAX} actions"
        )));
    }
    let mut keys = Vec::with_capacity(actions.len());
    let mut seen = HashSet::with_capacity(actions.len());
    for action in actions {
        let key = match action {
            TransactAction::Put { item, .. } => {
                check_item(item)?;
                key_of(item)?
            }
            TransactAction::Update { key, .. }
            | TransactAction::Delete { key, .. }
            | TransactAction::ConditionCheck { key, .. } => {
                check_key(key)?;
                key.clone()
            }
        };
        check_condition(condition_of(action))?;
        if !seen.insert((action.table(), key.clone())) {
            return Err(Error::invalid_request(
                "a transaction touches the same item twice",
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// What a transaction's action does to its item, decided before anything is written.
enum Change<'a> {
    Store(Cow<'a, Item>),
    Remove,
    Keep,
}

/// `TransactWriteItems` in the batch's transaction (`keys` from [`check_transact_write`]): every action, or none
/// (the first failing condition cancels all).
pub(super) fn transact_write(
    tables: &mut Tables<'_>,
    actions: &[TransactAction],
    keys: &[PhysKey],
) -> Applied<Output<Vec<Capacity>>> {
    for action in actions {
        tables.ensure(action.table())?;
    }
    // Every condition and every updated item first: an action that fails cancels the
    // transaction before any of its actions has written.
    let mut changes = Vec::with_capacity(actions.len());
    let mut each = Vec::with_capacity(actions.len());
    for (index, (action, key)) in actions.iter().zip(keys).enumerate() {
        let old = load(tables.items(action.table())?, key)?;
        if !passes(condition_of(action), old.as_ref()) {
            return Err(BackendError::TransactionConditionFailed { index, old }.into());
        }
        let (change, capacity) = match action {
            TransactAction::Put { item, .. } => (
                Change::Store(Cow::Borrowed(item)),
                write_capacity(old.as_ref(), Some(item)),
            ),
            TransactAction::Update { actions, .. } => {
                let new = updated(old.as_ref(), key, actions)?;
                let capacity = write_capacity(old.as_ref(), Some(&new));
                (Change::Store(Cow::Owned(new)), capacity)
            }
            TransactAction::Delete { .. } => (
                if old.is_some() {
                    Change::Remove
                } else {
                    Change::Keep
                },
                write_capacity(old.as_ref(), None),
            ),
            TransactAction::ConditionCheck { .. } => {
                (Change::Keep, read_capacity(size(old.as_ref()), true))
            }
        };
        changes.push(change);
        // Transactions cost twice.
        each.push(Capacity::new(
            capacity.read_units * 2.0,
            capacity.write_units * 2.0,
        ));
    }
    for ((action, key), change) in actions.iter().zip(keys).zip(changes) {
        match change {
            Change::Keep => {}
            Change::Store(item) => {
                store(tables.items(action.table()).torn()?, key, &item).torn()?;
            }
            Change::Remove => {
                tables
                    .items(action.table())
                    .torn()?
                    .remove((key.pk.as_str(), key.sk.as_str()))
                    .db()
                    .torn()?;
            }
        }
    }
    let total = each.iter().fold(Capacity::default(), |sum, c| sum + *c);
    Ok(Output {
        value: each,
        capacity: total,
    })
}

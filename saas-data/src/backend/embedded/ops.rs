//! The reads, with DynamoDB's rules (keys, query ranges, 1 MB pages, capacity); the writes are in
//! [`writes`](super::writes).

use std::collections::HashSet;
use std::ops::Bound;

use redb::{Database, ReadableDatabase};

use super::db::{Db, load, read_items};
use super::encoded::EncodedItem;
use crate::backend::{
    BATCH_GET_MAX, BackendResult, BatchGetOutput, BatchGetRequest, GetRequest, Output, PhysKey,
    QUERY_PAGE_BYTES, QueryOutput, QueryRequest,
};
use crate::error::{Error, Result};
use crate::item::item_size;
use crate::query::SortCondition;
use crate::stored::StoredItem;
use crate::usage::{Capacity, read_units};

/// Refuses keys DynamoDB refuses: empty, or longer than 2048 (partition) / 1024 (sort) bytes.
pub(super) fn check_key(key: &PhysKey) -> Result<()> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(Error::invalid_request("a key attribute is an empty string"));
    }
    if key.pk.len() > 2048 || key.sk.len() > 1024 {
        return Err(Error::invalid_request("a key attribute is too long"));
    }
    Ok(())
}

/// A read's units: `bytes` in 4 KB units, halved when eventually consistent.
pub(super) fn read_capacity(bytes: usize, consistent: bool) -> Capacity {
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

//! Items: the application's serde types stored as DynamoDB attributes beside the crate's own key,
//! tenant and version attributes.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::AttributeValue;

use crate::error::{Error, Result};
use crate::key::{Key, Namespace};

/// A physical item: attribute name to value.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The physical partition key attribute.
pub(crate) const PK: &str = "_pk";
/// The physical sort key attribute.
pub(crate) const SK: &str = "_sk";
/// The owner of the item, checked on every read.
pub(crate) const TENANT: &str = "_tenant";
/// The item's version, 1 on creation, +1 on every change.
pub(crate) const VERSION: &str = "_version";

/// Attribute names the crate keeps for itself: `_pk`, `_sk`, `_tenant`, `_version` and every
/// name that starts with `_saas`. An item whose serialized form uses one is an
/// [`Error::InvalidItem`].
pub const RESERVED_ATTRIBUTES: &[&str] = &[PK, SK, TENANT, VERSION];

/// DynamoDB's item size limit (400 KB), names and values included.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

#[inline]
pub(crate) fn is_reserved(name: &str) -> bool {
    is_reserved_name(name.as_bytes())
}

/// [`is_reserved`] on a name's bytes.
#[inline]
pub(crate) fn is_reserved_name(name: &[u8]) -> bool {
    // Every reserved name starts with `_`; the application's names seldom do.
    name.first() == Some(&b'_')
        && (RESERVED_ATTRIBUTES.iter().any(|r| r.as_bytes() == name) || name.starts_with(b"_saas"))
}

/// An item read back: its key, its version and the application's value.
///
/// ```
/// # use saas_data::{Key, Record};
/// # fn show(record: Record<String>) {
/// let (key, version, value): (Key, u64, String) = record.into_parts();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    key: Key,
    version: u64,
    item: T,
}

impl<T> Record<T> {
    pub(crate) fn new(key: Key, version: u64, item: T) -> Self {
        Self { key, version, item }
    }

    /// The item's key inside its tenant.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The item's version: 1 when created, +1 on every write. Pass it back to make a write
    /// conditional on nobody having changed the item since (optimistic concurrency).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The value.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// The value, by value.
    pub fn into_item(self) -> T {
        self.item
    }

    /// Key, version and value.
    pub fn into_parts(self) -> (Key, u64, T) {
        (self.key, self.version, self.item)
    }
}

/// Serializes `value` to attributes, refusing reserved names and non-map values.
pub(crate) fn to_attributes<T: Serialize + ?Sized>(value: &T) -> Result<Item> {
    let item: serde_dynamo::Item = serde_dynamo::to_item(value)
        .map_err(|e| Error::InvalidItem(format!("cannot serialize item: {e}")))?;
    let item = item.into_inner();
    if let Some(name) = item.keys().find(|n| is_reserved(n)) {
        return Err(Error::InvalidItem(format!(
            "attribute name {name:?} is reserved by saas-data"
        )));
    }
    Ok(item)
}

/// The full physical item for `key` of `ns` in `shard`, at `version`.
pub(crate) fn encode<T: Serialize + ?Sized>(
    ns: &Namespace,
    shard: u16,
    key: &Key,
    value: &T,
    version: u64,
) -> Result<Item> {
    finish(to_attributes(value)?, ns, shard, key, version)
}

/// Adds the key, owner and version attributes to serialized attributes, and checks the size.
pub(crate) fn finish(
    mut item: Item,
    ns: &Namespace,
    shard: u16,
    key: &Key,
    version: u64,
) -> Result<Item> {
    item.insert(
        PK.to_owned(),
        AttributeValue::S(ns.physical_pk(shard, key.partition())),
    );
    item.insert(SK.to_owned(), AttributeValue::S(key.sort().to_owned()));
    item.insert(TENANT.to_owned(), AttributeValue::S(ns.owner().to_owned()));
    item.insert(VERSION.to_owned(), AttributeValue::N(version.to_string()));
    check_size(&item)?;
    Ok(item)
}

/// Whether a physical item belongs to `ns`. An item without the attribute, or with another
/// owner, does not: reads treat it as absent, whatever its key says.
pub(crate) fn owned_by(item: &Item, ns: &Namespace) -> bool {
    matches!(item.get(TENANT), Some(AttributeValue::S(owner)) if owner == ns.owner())
}

/// The version attribute of a physical item.
pub(crate) fn version_of(item: &Item) -> Option<u64> {
    match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// The sort key attribute of a physical item.
pub(crate) fn sort_of(item: &Item) -> Option<&str> {
    match item.get(SK) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

/// Reads a physical item of `ns` back as a record of `partition`. `Ok(None)` when the item is not
/// this namespace's (a forged or foreign `_tenant`): the caller reports "not found".
pub(crate) fn decode<T: DeserializeOwned>(
    ns: &Namespace,
    partition: &str,
    mut item: Item,
) -> Result<Option<Record<T>>> {
    if !owned_by(&item, ns) {
        foreign_item_skipped();
        return Ok(None);
    }
    let version =
        version_of(&item).ok_or_else(|| Error::internal("stored item has no valid _version"))?;
    let sort = match item.remove(SK) {
        Some(AttributeValue::S(s)) => s,
        _ => return Err(Error::internal("stored item has no string _sk")),
    };
    item.retain(|name, _| !is_reserved(name));
    let key = Key::new(partition, sort)?;
    let value = serde_dynamo::from_item(item)
        .map_err(|e| Error::InvalidItem(format!("cannot deserialize item: {e}")))?;
    Ok(Some(Record::new(key, version, value)))
}

/// Logs a read that found an item under the namespace's key with another owner.
pub(crate) fn foreign_item_skipped() {
    tracing::warn!(
        target: "saas_data::isolation",
        "item with a foreign tenant attribute skipped"
    );
}

/// Refuses an item over [`MAX_ITEM_SIZE`].
pub(crate) fn check_size(item: &Item) -> Result<()> {
    let size = item_size(item);
    if size > MAX_ITEM_SIZE {
        return Err(Error::ItemTooLarge {
            size: Some(size),
            limit: MAX_ITEM_SIZE,
        });
    }
    Ok(())
}

/// An item's size as DynamoDB counts it: attribute names plus values.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(n, v)| n.len() + value_size(v)).sum()
}

/// A value's size as DynamoDB counts it (numbers: one byte per two significant digits plus
/// one; lists and maps: 3 bytes plus one per element).
pub(crate) fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(ss) => ss.iter().map(String::len).sum(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(bs) => bs.iter().map(Vec::len).sum(),
    }
}

/// A number's size: one byte per two significant digits of its mantissa, plus one.
pub(crate) fn number_size(n: &str) -> usize {
    number_size_of(n.as_bytes())
}

/// [`number_size`] of a number's text as bytes.
pub(crate) fn number_size_of(n: &[u8]) -> usize {
    let mantissa = n
        .split(|&b| b == b'e' || b == b'E')
        .next()
        .unwrap_or_default();
    // Digits from the first non-zero one to the last non-zero one, counted without copying.
    let (mut digits, mut first, mut last) = (0usize, None, 0usize);
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        if b != b'0' {
            first.get_or_insert(digits);
            last = digits;
        }
        digits += 1;
    }
    let significant = first.map_or(0, |first| last - first + 1);
    significant.max(1).div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use saas_core::TenantId;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Todo {
        title: String,
        done: bool,
    }

    fn ns(t: &str) -> Namespace {
        Namespace::Tenant(TenantId::new(t).unwrap())
    }

    #[test]
    fn round_trip() {
        let key = Key::new("todos", "T#1").unwrap();
        let todo = Todo {
            title: "ünïcode ✓".into(),
            done: false,
        };
        let item = encode(&ns("a"), 0, &key, &todo, 3).unwrap();
        assert_eq!(item.get(PK), Some(&AttributeValue::S("a#todos".into())));
        assert_eq!(item.get(TENANT), Some(&AttributeValue::S("a".into())));
        let record: Record<Todo> = decode(&ns("a"), "todos", item.clone()).unwrap().unwrap();
        assert_eq!(record.version(), 3);
        assert_eq!(record.key(), &key);
        assert_eq!(record.into_item(), todo);
        // Read as another tenant: absent.
        assert!(decode::<Todo>(&ns("b"), "todos", item).unwrap().is_none());
    }

    #[test]
    fn reserved_names_are_exactly_the_listed_ones_and_the_saas_prefix() {
        // `is_reserved_name` looks past the first byte only for `_`.
        assert!(RESERVED_ATTRIBUTES.iter().all(|r| r.starts_with('_')));
        for name in RESERVED_ATTRIBUTES
            .iter()
            .copied()
            .chain(["_saas", "_saas_x"])
        {
            assert!(is_reserved(name), "{name}");
        }
        for name in [
            "", "_", "_p", "_pkx", "pk", "sk", "x_pk", "_sa", "title", "é",
        ] {
            assert!(!is_reserved(name), "{name}");
        }
    }

    #[test]
    fn reserved_names_and_non_maps_are_refused() {
        #[derive(serde::Serialize)]
        struct Forged {
            _tenant: String,
        }
        let key = Key::new("p", "s").unwrap();
        let err = encode(
            &ns("a"),
            0,
            &key,
            &Forged {
                _tenant: "b".into(),
            },
            1,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidItem(_)), "{err}");
        let err = encode(&ns("a"), 0, &key, &42u32, 1).unwrap_err();
        assert!(matches!(err, Error::InvalidItem(_)), "{err}");
        let mut m = HashMap::new();
        m.insert("_saas_x".to_owned(), 1);
        assert!(encode(&ns("a"), 0, &key, &m, 1).is_err());
    }

    #[test]
    fn sizes_follow_dynamodb() {
        assert_eq!(number_size("123"), 3);
        assert_eq!(number_size("-0.0012300"), 2 + 1);
        assert_eq!(number_size("0"), 2);
        assert_eq!(number_size("1e10"), 2);
        assert_eq!(number_size("100.25"), 3 + 1);
        assert_eq!(number_size("0.000"), 2);
        assert_eq!(number_size("-12345678901234567890"), 10 + 1);
        let mut item = Item::new();
        item.insert("ab".into(), AttributeValue::S("xyz".into()));
        item.insert(
            "l".into(),
            AttributeValue::L(vec![AttributeValue::Bool(true)]),
        );
        assert_eq!(item_size(&item), (2 + 3) + (1 + 3 + 1 + 1));
        item.insert("big".into(), AttributeValue::S("x".repeat(MAX_ITEM_SIZE)));
        assert!(matches!(
            check_size(&item),
            Err(Error::ItemTooLarge {
                limit: MAX_ITEM_SIZE,
                ..
            })
        ));
    }
}

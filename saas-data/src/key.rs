//! Keys: what application code names (a partition and a sort key inside its tenant) and the
//! physical layout this crate stores them under.
//!
//! # Physical layout
//!
//! Every table this crate manages, pool or silo, has the same key schema: a string partition key
//! `_pk` and a string sort key `_sk`. For a [`Key`] `(partition, sort)` of tenant `t`:
//!
//! | what | `_pk` | `_sk` |
//! |---|---|---|
//! | a tenant's item | `t#partition` | `sort` |
//! | a tenant's item in write shard `s` (1 ≤ s < n) | `t.s#partition` | `sort` |
//! | a system item ([`crate::DataStore::system`]) | `#system#partition` | `sort` |
//!
//! Every item also stores `_tenant` (the tenant id, checked again on every read) and `_version`.
//!
//! A tenant id is `[A-Za-z0-9_-]{1,64}` (see [`saas_core::TenantId`]), so it never holds `#` or
//! `.`: the text before the first `#` or `.` of a `_pk` is always the whole tenant id. No id of
//! one tenant, and no partition name, can produce a key in another tenant's space (`a` and `ab`
//! give `a#…` and `ab#…`), and system keys start with `#`, which no tenant key can. The same
//! prefix, `t#` (and `t.` when sharded), is what the tenant-scoped session policy allows in
//! `dynamodb:LeadingKeys`.

use std::fmt;

use saas_core::TenantId;

/// The longest partition name, in bytes (DynamoDB allows 2048 for the whole partition key).
pub const MAX_PARTITION_LEN: usize = 1024;
/// The longest sort key, in bytes (DynamoDB's limit for a sort key).
pub const MAX_SORT_LEN: usize = 1024;
/// The most write shards a tenant can be spread over.
pub const MAX_SHARDS: u16 = 100;

const SYSTEM_PREFIX: &str = "#system#";

/// Why a key cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The partition name is empty.
    #[error("partition is empty")]
    EmptyPartition,
    /// The sort key is empty.
    #[error("sort key is empty")]
    EmptySort,
    /// The partition name is longer than [`MAX_PARTITION_LEN`] bytes.
    #[error("partition is longer than {MAX_PARTITION_LEN} bytes")]
    PartitionTooLong,
    /// The sort key is longer than [`MAX_SORT_LEN`] bytes.
    #[error("sort key is longer than {MAX_SORT_LEN} bytes")]
    SortTooLong,
}

/// The address of an item inside its tenant: a partition (an entity collection such as
/// `"todos"`) and a sort key (`"TODO#0001"`).
///
/// Any non-empty UTF-8 text fits, delimiters included: the tenant is never part of a `Key`, the
/// crate adds it from the [`TenantContext`](saas_core::TenantContext).
///
/// ```
/// use saas_data::Key;
///
/// let key = Key::new("todos", "TODO#42")?;
/// assert_eq!(key.partition(), "todos");
/// assert!(Key::new("", "x").is_err());
/// # Ok::<(), saas_data::KeyError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    partition: String,
    sort: String,
}

impl Key {
    /// A key, checked against DynamoDB's limits.
    pub fn new(partition: impl Into<String>, sort: impl Into<String>) -> Result<Self, KeyError> {
        let partition = partition.into();
        let sort = sort.into();
        validate_partition(&partition)?;
        validate_sort(&sort)?;
        Ok(Self { partition, sort })
    }

    /// The partition name.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The sort key.
    pub fn sort(&self) -> &str {
        &self.sort
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?}, {:?})", self.partition, self.sort)
    }
}

pub(crate) fn validate_partition(partition: &str) -> Result<(), KeyError> {
    if partition.is_empty() {
        return Err(KeyError::EmptyPartition);
    }
    if partition.len() > MAX_PARTITION_LEN {
        return Err(KeyError::PartitionTooLong);
    }
    Ok(())
}

pub(crate) fn validate_sort(sort: &str) -> Result<(), KeyError> {
    if sort.is_empty() {
        return Err(KeyError::EmptySort);
    }
    if sort.len() > MAX_SORT_LEN {
        return Err(KeyError::SortTooLong);
    }
    Ok(())
}

/// Whose key space an operation runs in.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Namespace {
    /// One tenant's items.
    Tenant(TenantId),
    /// The system's own items (registry, cross-tenant indexes), reachable only through
    /// [`crate::DataStore::system`].
    System,
}

impl Namespace {
    /// The value of `_tenant` on this namespace's items.
    pub(crate) fn owner(&self) -> &str {
        match self {
            Namespace::Tenant(t) => t.as_str(),
            Namespace::System => "#system",
        }
    }

    /// The tenant, if any.
    pub(crate) fn tenant(&self) -> Option<&TenantId> {
        match self {
            Namespace::Tenant(t) => Some(t),
            Namespace::System => None,
        }
    }

    /// The physical partition key of `partition` in shard `shard` (0 when unsharded).
    pub(crate) fn physical_pk(&self, shard: u16, partition: &str) -> String {
        match self {
            Namespace::Tenant(t) if shard == 0 => {
                let mut pk = String::with_capacity(t.as_str().len() + 1 + partition.len());
                pk.push_str(t.as_str());
                pk.push('#');
                pk.push_str(partition);
                pk
            }
            Namespace::Tenant(t) => format!("{t}.{shard}#{partition}"),
            // System items are never sharded.
            Namespace::System => format!("{SYSTEM_PREFIX}{partition}"),
        }
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Namespace::Tenant(t) => write!(f, "Tenant({t})"),
            Namespace::System => f.write_str("System"),
        }
    }
}

/// The shard (0..shards) an item lives in: a stable hash of its key, the same in every process.
pub(crate) fn shard_of(key: &Key, shards: u16) -> u16 {
    if shards <= 1 {
        return 0;
    }
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(key.partition.as_bytes());
    ctx.update(&[0]);
    ctx.update(key.sort.as_bytes());
    let digest = ctx.finish();
    let bytes = digest.as_ref();
    let n = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    u16::try_from(n % u32::from(shards)).unwrap_or(0)
}

/// What a physical partition key says about its owner: `(tenant or None for system, shard,
/// partition)`. `None` for a key not in this crate's layout.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn parse_pk(pk: &str) -> Option<(Option<&str>, u16, &str)> {
    if let Some(partition) = pk.strip_prefix(SYSTEM_PREFIX) {
        return Some((None, 0, partition));
    }
    let end = pk.find(['#', '.'])?;
    let tenant = &pk[..end];
    TenantId::validate(tenant).ok()?;
    let rest = &pk[end..];
    if let Some(partition) = rest.strip_prefix('#') {
        return Some((Some(tenant), 0, partition));
    }
    let rest = rest.strip_prefix('.')?;
    let hash = rest.find('#')?;
    let shard: u16 = rest[..hash].parse().ok()?;
    if shard == 0 || rest[..hash].starts_with('0') {
        return None;
    }
    Some((Some(tenant), shard, &rest[hash + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> Namespace {
        Namespace::Tenant(TenantId::new(id).unwrap())
    }

    #[test]
    fn keys_are_validated() {
        assert_eq!(Key::new("", "s"), Err(KeyError::EmptyPartition));
        assert_eq!(Key::new("p", ""), Err(KeyError::EmptySort));
        assert_eq!(
            Key::new("p".repeat(1025), "s"),
            Err(KeyError::PartitionTooLong)
        );
        assert_eq!(Key::new("p", "s".repeat(1025)), Err(KeyError::SortTooLong));
        assert!(Key::new("p".repeat(1024), "é".repeat(512)).is_ok());
        assert!(Key::new("a#b", "c#d").is_ok());
    }

    #[test]
    fn layout() {
        assert_eq!(tenant("t-1").physical_pk(0, "todos"), "t-1#todos");
        assert_eq!(tenant("t-1").physical_pk(3, "todos"), "t-1.3#todos");
        assert_eq!(Namespace::System.physical_pk(0, "users"), "#system#users");
        assert_eq!(Namespace::System.physical_pk(7, "users"), "#system#users");
    }

    #[test]
    fn every_key_decodes_to_its_owner() {
        let tenants = ["a", "ab", "a_b", "a-b", "b", "ZZ"];
        let partitions = ["p", "b#c", "#", ".", "b.1#x", "#system#x", "ü"];
        for t in tenants {
            for p in partitions {
                for shard in [0, 1, 12] {
                    let pk = tenant(t).physical_pk(shard, p);
                    assert_eq!(parse_pk(&pk), Some((Some(t), shard, p)), "{pk}");
                    // A tenant's keys never start with another tenant's prefix.
                    for other in tenants.iter().filter(|o| **o != t) {
                        assert!(!pk.starts_with(&format!("{other}#")), "{pk} vs {other}");
                        assert!(!pk.starts_with(&format!("{other}.")), "{pk} vs {other}");
                    }
                    assert!(!pk.starts_with(SYSTEM_PREFIX));
                }
            }
        }
        assert_eq!(parse_pk("#system#a#b"), Some((None, 0, "a#b")));
        assert_eq!(parse_pk("nope"), None);
        assert_eq!(parse_pk("a.0#x"), None);
        assert_eq!(parse_pk("a.01#x"), None);
        assert_eq!(parse_pk("é#x"), None);
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of(&Key::new("p", "s").unwrap(), 1), 0);
        let mut counts = [0u32; 4];
        for i in 0..4000 {
            let key = Key::new("todos", format!("T#{i}")).unwrap();
            let s = shard_of(&key, 4);
            assert_eq!(s, shard_of(&key, 4));
            counts[usize::from(s)] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }
}

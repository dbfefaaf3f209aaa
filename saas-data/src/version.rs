//! [`PartitionVersion`]: a mark that tells a reader whether a tenant's partition changed, without
//! reading it, for caches of what is derived from it.

use std::sync::Arc;

/// A mark of one tenant's partition, from [`DataScope::partition_version`]: equal marks mean
/// that no write to the partition was acknowledged between the two reads of them, so a value
/// derived from a read of the partition that followed the first mark (a serialized page, a
/// count) still holds under an equal one.
///
/// It names the store, the table, the tenant's physical partition key and a change figure, so a
/// cache keyed by it is keyed by tenant: a mark of one tenant never equals one of another.
/// Only the embedded store gives marks ([`Backend::in_memory`], [`Backend::open`]): it is written
/// by this process alone (redb locks its file), and every write bumps the figure of what it
/// touched once committed, before it is acknowledged. A DynamoDB table is written by other
/// processes too, so there the mark is `None` and a cache must not be used.
///
/// Marks are exact in one direction only: a write always changes the mark, and a mark may also
/// change without a write to the partition (partitions share counters), which only costs a
/// cache a miss.
///
/// [`DataScope::partition_version`]: crate::DataScope::partition_version
/// [`Backend::in_memory`]: crate::Backend::in_memory
/// [`Backend::open`]: crate::Backend::open
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionVersion {
    pub(crate) store: u64,
    pub(crate) table: Arc<str>,
    pub(crate) pk: String,
    pub(crate) figure: u64,
}

impl PartitionVersion {
    /// About how many bytes it holds, for a cache's weight.
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.table.len() + self.pk.len()
    }
}

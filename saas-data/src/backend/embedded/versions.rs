//! Change counters: how a reader learns, without reading a partition, whether anything was
//! written to it since it last looked.
//!
//! Each partition (`table`, `_pk`) hashes to one of [`SLOTS`] counters. The committer adds one to
//! the counter of every partition a batch touched once the batch's commit has returned, before
//! any request of it is answered; creating or deleting a table adds one to an epoch counted in
//! every partition's figure. Two partitions may share a counter, so a write to one may change the
//! figure of another (a spurious change, never a missed one).
//!
//! What a reader may rely on: a write acknowledged before [`Versions::read`] was called changed
//! the figure from any read made before that write was queued. The counters only grow, so a
//! figure never comes back to an earlier value. This holds because this process is the only
//! writer: redb locks its file, and every write goes through the committer.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many counters the partitions share.
pub(super) const SLOTS: usize = 4096;

/// What a write request touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Touched {
    /// These partitions' counters ([`slot`]).
    Slots(Vec<usize>),
    /// A table was created or deleted: every partition's figure.
    Tables,
}

/// The counter of the partition `pk` of `table`.
pub(super) fn slot(table: &str, pk: &str) -> usize {
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one((table, pk));
    (hash % SLOTS as u64) as usize
}

/// One store's counters.
#[derive(Debug)]
pub(super) struct Versions {
    /// Which store they count, unique in the process, so that figures of two stores never meet.
    store: u64,
    epoch: AtomicU64,
    slots: Box<[AtomicU64]>,
}

impl Default for Versions {
    fn default() -> Self {
        static STORES: AtomicU64 = AtomicU64::new(0);
        Versions {
            store: STORES.fetch_add(1, Ordering::Relaxed),
            epoch: AtomicU64::new(0),
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Versions {
    /// `(the store, the figure)` of the partition `pk` of `table`.
    pub(super) fn read(&self, table: &str, pk: &str) -> (u64, u64) {
        let epoch = self.epoch.load(Ordering::Acquire);
        let counter = self
            .slots
            .get(slot(table, pk))
            .map_or(0, |c| c.load(Ordering::Acquire));
        (self.store, epoch.wrapping_add(counter))
    }

    /// Counts a committed write of `touched`.
    pub(super) fn bump(&self, touched: &Touched) {
        match touched {
            Touched::Tables => {
                self.epoch.fetch_add(1, Ordering::AcqRel);
            }
            Touched::Slots(slots) => {
                for &s in slots {
                    if let Some(counter) = self.slots.get(s) {
                        counter.fetch_add(1, Ordering::AcqRel);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_changes_its_partition_and_only_what_shares_its_counter() {
        let v = Versions::default();
        let before = v.read("t", "a");
        let other = (0..1000)
            .map(|i| format!("p{i}"))
            .find(|pk| slot("t", pk) != slot("t", "a"))
            .unwrap();
        let other_before = v.read("t", &other);
        v.bump(&Touched::Slots(vec![slot("t", "a")]));
        assert_ne!(v.read("t", "a"), before);
        assert_eq!(v.read("t", &other), other_before);
        assert!(v.read("t", "a").1 > before.1);
    }

    #[test]
    fn a_table_change_changes_every_partition() {
        let v = Versions::default();
        let a = v.read("t", "a");
        let b = v.read("u", "b");
        v.bump(&Touched::Tables);
        assert_ne!(v.read("t", "a"), a);
        assert_ne!(v.read("u", "b"), b);
    }

    #[test]
    fn two_stores_never_share_a_figure() {
        let (one, two) = (Versions::default(), Versions::default());
        assert_ne!(one.read("t", "a"), two.read("t", "a"));
    }

    #[test]
    fn the_same_partition_always_hashes_to_the_same_counter() {
        assert_eq!(slot("table", "T#x"), slot("table", "T#x"));
        assert!(slot("table", "T#x") < SLOTS);
    }
}

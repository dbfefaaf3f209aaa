//! The answered pages of todos, cached per list and per mark of its todos' partition.
//!
//! A page is keyed by the [`PartitionVersion`] read before the query it comes from, with the
//! request's limit and cursor. The mark names the store, the table and the list's own partition
//! key, so one list's page can never answer for another, and any acknowledged write to the list's
//! todos changes the mark, so a page is never answered after a write it does not show. The
//! caller's role is checked before the cache is consulted, as for a read of the store. Only the
//! embedded store gives marks; on DynamoDB (`None`) every page is read from the table.

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use saas_data::PartitionVersion;

/// About this many bytes of pages are kept.
const CAPACITY_BYTES: u64 = 32 << 20;
/// About the size of one cached page (50 todos), to size the cache's tables.
const PAGE_BYTES_HINT: u64 = 12 << 10;

/// What a page is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    /// The mark of the list's todos, read before the query.
    pub(crate) version: PartitionVersion,
    pub(crate) limit: u32,
    pub(crate) cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct PageWeight;

impl Weighter<PageKey, Bytes> for PageWeight {
    fn weight(&self, key: &PageKey, page: &Bytes) -> u64 {
        let key_bytes = key.version.weight() + key.cursor.as_ref().map_or(0, String::len);
        (key_bytes + page.len()) as u64
    }
}

/// The cached pages: bounded by bytes, shared by the service's requests.
#[derive(Clone)]
pub(crate) struct PageCache(std::sync::Arc<Cache<PageKey, Bytes, PageWeight>>);

impl Default for PageCache {
    fn default() -> Self {
        let items = (CAPACITY_BYTES / PAGE_BYTES_HINT) as usize;
        PageCache(std::sync::Arc::new(Cache::with_weighter(
            items,
            CAPACITY_BYTES,
            PageWeight,
        )))
    }
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache")
            .field("pages", &self.0.len())
            .field("bytes", &self.0.weight())
            .finish()
    }
}

impl PageCache {
    /// The page cached under `key`.
    pub(crate) fn get(&self, key: &PageKey) -> Option<Bytes> {
        self.0.get(key)
    }

    /// Keeps `page` under `key`.
    pub(crate) fn insert(&self, key: PageKey, page: Bytes) {
        self.0.insert(key, page);
    }
}

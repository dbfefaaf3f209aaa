//! A bounded per-process cache whose entries each carry their own deadline, with concurrent
//! misses of one key sharing one load (`quick_cache`, as saas-core's verified-token cache).
//!
//! Used for what the request path reads often and changes rarely: registry entries and
//! tenant-scoped STS credentials. Keys are tenant ids, so an entry only ever answers for the
//! tenant it was loaded for.

use std::future::Future;
use std::hash::Hash;
use std::time::Instant;

use quick_cache::sync::{Cache, EntryAction, EntryResult};

/// An entry and the moment it stops answering.
#[derive(Clone)]
struct Timed<V> {
    value: V,
    until: Instant,
}

/// Entries of at most `capacity` keys, each living until the deadline its load gave it.
pub(crate) struct TtlCache<K, V> {
    entries: Cache<K, Timed<V>>,
}

impl<K, V> TtlCache<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// At most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// `key`'s value while its deadline is ahead, else what `load` gives (with its deadline),
    /// kept for the next callers. Concurrent callers of one key wait for the first one's load;
    /// if that load fails, nothing is kept, the failure is that caller's, and the next waiter
    /// loads in turn.
    pub(crate) async fn get_or_load<E, F>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: Future<Output = Result<(V, Instant), E>>,
    {
        let now = Instant::now();
        // A hit takes the shard's read lock only; `entry_async` always takes its write lock.
        if let Some(entry) = self.entries.get(key)
            && entry.until > now
        {
            return Ok(entry.value);
        }
        let guard = match self
            .entries
            .entry_async(key, |_, entry| {
                if entry.until > now {
                    EntryAction::Retain(entry.value.clone())
                } else {
                    EntryAction::ReplaceWithGuard
                }
            })
            .await
        {
            EntryResult::Retained(value) => return Ok(value),
            EntryResult::Vacant(guard) | EntryResult::Replaced(guard, _) => guard,
            // `entry_async` waits for another caller's load rather than timing out, and the
            // callback above never removes.
            EntryResult::Removed(..) | EntryResult::Timeout => {
                let (value, _) = load.await?;
                return Ok(value);
            }
        };
        let (value, until) = load.await?;
        let _ = guard.insert(Timed {
            value: value.clone(),
            until,
        });
        Ok(value)
    }

    /// Forgets `key`'s entry: the next caller loads it again.
    pub(crate) fn invalidate(&self, key: &K) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn counting(
        loads: &Arc<AtomicUsize>,
        value: u32,
        ttl: Duration,
    ) -> impl Future<Output = Result<(u32, Instant), &'static str>> + use<> {
        let loads = loads.clone();
        async move {
            loads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok((value, Instant::now() + ttl))
        }
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load_and_hits_load_nothing() {
        let cache = Arc::new(TtlCache::<String, u32>::new(10));
        let loads = Arc::new(AtomicUsize::new(0));
        let key = "tenant-a".to_owned();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (cache, loads, key) = (cache.clone(), loads.clone(), key.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load(&key, counting(&loads, 7, Duration::from_secs(60)))
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let again = cache
            .get_or_load(&key, counting(&loads, 8, Duration::from_secs(60)))
            .await;
        assert_eq!((again, loads.load(Ordering::SeqCst)), (Ok(7), 1));
    }

    #[tokio::test]
    async fn an_entry_past_its_deadline_is_loaded_again() {
        let cache = TtlCache::<String, u32>::new(10);
        let loads = Arc::new(AtomicUsize::new(0));
        let key = "tenant-a".to_owned();
        let ttl = Duration::from_millis(50);
        assert_eq!(
            cache.get_or_load(&key, counting(&loads, 1, ttl)).await,
            Ok(1)
        );
        assert_eq!(
            cache.get_or_load(&key, counting(&loads, 2, ttl)).await,
            Ok(1)
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            cache.get_or_load(&key, counting(&loads, 3, ttl)).await,
            Ok(3)
        );
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn keys_do_not_answer_for_each_other_and_invalidate_forgets_one() {
        let cache = TtlCache::<String, u32>::new(10);
        let loads = Arc::new(AtomicUsize::new(0));
        let ttl = Duration::from_secs(60);
        let (a, b) = ("a".to_owned(), "b".to_owned());
        assert_eq!(cache.get_or_load(&a, counting(&loads, 1, ttl)).await, Ok(1));
        assert_eq!(cache.get_or_load(&b, counting(&loads, 2, ttl)).await, Ok(2));
        cache.invalidate(&a);
        assert_eq!(cache.get_or_load(&a, counting(&loads, 3, ttl)).await, Ok(3));
        assert_eq!(cache.get_or_load(&b, counting(&loads, 4, ttl)).await, Ok(2));
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_load_is_not_kept() {
        let cache = TtlCache::<String, u32>::new(10);
        let key = "a".to_owned();
        let failed: Result<u32, &str> = cache.get_or_load(&key, async { Err("throttled") }).await;
        assert_eq!(failed, Err("throttled"));
        let loads = Arc::new(AtomicUsize::new(0));
        let ok = cache
            .get_or_load(&key, counting(&loads, 5, Duration::from_secs(60)))
            .await;
        assert_eq!((ok, loads.load(Ordering::SeqCst)), (Ok(5), 1));
    }

    #[tokio::test]
    async fn it_holds_at_most_its_capacity() {
        let cache = TtlCache::<u32, u32>::new(4);
        for key in 0..100 {
            let _ = cache
                .get_or_load(&key, async move {
                    Ok::<_, ()>((key, Instant::now() + Duration::from_secs(60)))
                })
                .await;
        }
        assert!(cache.entries.len() <= 4, "{}", cache.entries.len());
    }
}

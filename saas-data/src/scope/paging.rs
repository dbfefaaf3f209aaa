//! Queries: pages of exactly `limit` items with a cursor exactly when more follow, across write
//! shards when the tenant has them.

use serde::de::DeserializeOwned;

use super::{DataScope, flatten};
use crate::backend::QueryRequest;
use crate::cursor::Position;
use crate::error::Result;
use crate::query::{Page, Query};
use crate::store::Location;
use crate::stored::StoredItem;
use crate::usage::Operation;

/// What one shard gave for a page.
struct ShardRun {
    items: Vec<StoredItem>,
    /// No items of this shard after those in `items`.
    exhausted: bool,
}

impl DataScope {
    /// One page of `query` in this scope's tenant.
    ///
    /// `next_cursor` is set exactly when more items follow (the backend is asked for one item
    /// more than the page holds). Items whose `_tenant` is not this tenant's are skipped.
    pub async fn query<T: DeserializeOwned>(&self, query: Query) -> Result<Page<T>> {
        query.validate()?;
        let location = self.location().await?;
        let shards = usize::from(location.shards.max(1));
        let fingerprint = query.fingerprint();
        let owner = self.ns.owner();
        let positions = match &query.cursor {
            Some(cursor) => self
                .store
                .inner
                .cursors
                .decode(owner, &fingerprint, cursor, shards)?,
            None => vec![Position::Start; shards],
        };
        let limit = query.limit as usize;

        let mut runs = Vec::with_capacity(shards);
        for (shard, position) in positions.iter().enumerate() {
            let run = match position {
                Position::Done => ShardRun {
                    items: Vec::new(),
                    exhausted: true,
                },
                Position::Start => {
                    self.read_shard(&location, &query, shard, None, limit + 1)
                        .await?
                }
                Position::After(sort) => {
                    self.read_shard(&location, &query, shard, Some(sort.clone()), limit + 1)
                        .await?
                }
            };
            runs.push(run);
        }

        // Merge the shards' runs in sort key order; sort keys are unique across shards because
        // a key lives in exactly one shard.
        let fetched: Vec<usize> = runs.iter().map(|r| r.items.len()).collect();
        let mut tagged: Vec<(usize, StoredItem)> = runs
            .iter_mut()
            .enumerate()
            .flat_map(|(shard, run)| run.items.drain(..).map(move |item| (shard, item)))
            .collect();
        if shards > 1 {
            tagged.sort_by(|(_, a), (_, b)| {
                let (a, b) = (a.sort(), b.sort());
                if query.descending {
                    b.cmp(&a)
                } else {
                    a.cmp(&b)
                }
            });
        }
        // A shard that is not exhausted fetched `limit + 1` items, so "more" is exactly this.
        let more = tagged.len() > limit;
        tagged.truncate(limit);

        let next_cursor = more.then(|| {
            let mut next = positions;
            let mut taken = vec![0usize; shards];
            for (shard, item) in &tagged {
                if let Some(sort) = item.sort() {
                    next[*shard] = Position::After(sort.to_owned());
                    taken[*shard] += 1;
                }
            }
            for shard in 0..shards {
                if runs[shard].exhausted && taken[shard] == fetched[shard] {
                    next[shard] = Position::Done;
                }
            }
            self.store.inner.cursors.encode(owner, &fingerprint, &next)
        });

        let mut items = Vec::with_capacity(tagged.len());
        for (_, raw) in tagged {
            if let Some(record) = raw.into_record(&self.ns, &query.partition)? {
                items.push(record);
            }
        }
        Ok(Page { items, next_cursor })
    }

    /// Up to `want` items of one shard after `start`, following the backend's 1 MB pages and
    /// skipping items that are not this tenant's.
    async fn read_shard(
        &self,
        location: &Location,
        query: &Query,
        shard: usize,
        mut start: Option<String>,
        want: usize,
    ) -> Result<ShardRun> {
        let shard = u16::try_from(shard).unwrap_or(0);
        let pk = self.ns.physical_pk(shard, &query.partition);
        let mut items = Vec::new();
        loop {
            let remaining = want.saturating_sub(items.len()).max(1);
            let req = QueryRequest {
                table: location.table.clone(),
                pk: pk.clone(),
                sort: query.sort.clone(),
                descending: query.descending,
                limit: u32::try_from(remaining).unwrap_or(u32::MAX),
                start_after: start.take(),
                consistent: query.consistent,
            };
            let out = self
                .call(
                    Operation::Query,
                    &location.table,
                    self.store.inner.backend.0.query(req),
                )
                .await
                .map_err(flatten)?;
            items.extend(out.items.into_iter().filter(|i| i.owned_by(&self.ns)));
            match out.last_sort {
                Some(last) if items.len() < want => start = Some(last),
                Some(_) => {
                    return Ok(ShardRun {
                        items,
                        exhausted: false,
                    });
                }
                None => {
                    return Ok(ShardRun {
                        items,
                        exhausted: true,
                    });
                }
            }
        }
    }
}

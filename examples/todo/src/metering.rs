//! Every request metered under its list: requests, compute time and the DynamoDB capacity it
//! consumed, sent to saas-metrics (EMF: `saas-usage` reads it) and kept per list for
//! `GET /lists/{list}/usage`.
//!
//! The capacity comes from saas-data's usage hook, which runs on the task of the operation: the
//! middleware gives each request a [`RequestMeter`] (a task-local for that request only, never
//! shared between requests), and the hook adds what the request's own list consumed to it. The
//! per-list totals are kept in the list's key space (`usage/totals`), added to every second by
//! one writer from a [`UsageBook`] of pending deltas, so metering adds no write to a request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use saas_core::{TenantContext, TenantId};
use saas_data::{DataStore, Key, Update};
use serde::{Deserialize, Serialize};

tokio::task_local! {
    /// The meter of the request running on this task (set by [`meter`] for that request only).
    static METER: RequestMeter;
}

/// What one request of one list consumed so far.
#[derive(Debug, Clone)]
pub(crate) struct RequestMeter {
    list: TenantId,
    capacity: Arc<Mutex<(f64, f64)>>,
}

/// saas-data's usage hook: charges the capacity to the request running on this task, if the
/// operation was in that request's list (a request's other reads, the caller's list index, are
/// not the list's).
pub(crate) fn on_usage(usage: &saas_data::Usage<'_>) {
    let _ = METER.try_with(|meter| {
        if usage.tenant == Some(&meter.list) {
            let mut c = meter.capacity.lock().unwrap_or_else(|e| e.into_inner());
            c.0 += usage.capacity.read_units;
            c.1 += usage.capacity.write_units;
        }
    });
}

/// A list's usage: what the contract's `GET /lists/{list}/usage` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Totals {
    /// Requests made against the list.
    pub(crate) requests: u64,
    /// DynamoDB read capacity units.
    pub(crate) read_units: f64,
    /// DynamoDB write capacity units.
    pub(crate) write_units: f64,
    /// Handler time, milliseconds.
    pub(crate) compute_ms: f64,
}

/// The stored form: whole numbers, so concurrent writers can add atomically.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct StoredTotals {
    requests: i64,
    read_milli: i64,
    write_milli: i64,
    compute_us: i64,
}

impl StoredTotals {
    fn of(t: &Totals) -> StoredTotals {
        StoredTotals {
            requests: i64::try_from(t.requests).unwrap_or(i64::MAX),
            read_milli: (t.read_units * 1000.0).round() as i64,
            write_milli: (t.write_units * 1000.0).round() as i64,
            compute_us: (t.compute_ms * 1000.0).round() as i64,
        }
    }

    fn totals(&self) -> Totals {
        Totals {
            requests: u64::try_from(self.requests).unwrap_or(0),
            read_units: self.read_milli as f64 / 1000.0,
            write_units: self.write_milli as f64 / 1000.0,
            compute_ms: self.compute_us as f64 / 1000.0,
        }
    }
}

fn usage_key() -> Option<Key> {
    Key::new("usage", "totals").ok()
}

/// Deltas not yet stored, per list. Keyed by list: a list's figures are only ever its own.
#[derive(Debug, Default, Clone)]
pub(crate) struct UsageBook(Arc<Mutex<HashMap<TenantId, Totals>>>);

impl UsageBook {
    fn add(&self, list: &TenantId, delta: Totals) {
        let mut book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let t = book.entry(list.clone()).or_default();
        t.requests += delta.requests;
        t.read_units += delta.read_units;
        t.write_units += delta.write_units;
        t.compute_ms += delta.compute_ms;
    }

    fn pending(&self, list: &TenantId) -> Totals {
        let book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        book.get(list).copied().unwrap_or_default()
    }

    /// Forgets `list`'s pending figures (the list is being deleted).
    pub(crate) fn forget(&self, list: &TenantId) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(list);
    }

    /// Adds every pending delta to its list's stored totals. A delta that cannot be stored goes
    /// back into the book for the next flush.
    pub(crate) async fn flush(&self, store: &DataStore) {
        let pending: Vec<(TenantId, Totals)> = {
            let mut book = self.0.lock().unwrap_or_else(|e| e.into_inner());
            book.drain().collect()
        };
        for (list, delta) in pending {
            if let Err(e) = store_delta(store, &list, &delta).await {
                tracing::warn!(error = %e, "usage not stored yet; kept for the next flush");
                self.add(&list, delta);
            }
        }
    }

    /// Flushes every `period` for as long as the returned task runs.
    pub(crate) fn spawn_flusher(
        &self,
        store: DataStore,
        period: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let book = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                book.flush(&store).await;
            }
        })
    }

    /// The list's usage: stored totals plus what is pending.
    pub(crate) async fn read(
        &self,
        store: &DataStore,
        ctx: &TenantContext,
    ) -> Result<Totals, saas_data::Error> {
        let key = usage_key().ok_or(saas_data::Error::NotFound)?;
        let stored = match store.scope(ctx).get::<StoredTotals>(&key).await {
            Ok(found) => found.into_item().totals(),
            Err(saas_data::Error::NotFound) => Totals::default(),
            Err(e) => return Err(e),
        };
        let pending = self.pending(ctx.tenant_id());
        Ok(Totals {
            requests: stored.requests + pending.requests,
            read_units: stored.read_units + pending.read_units,
            write_units: stored.write_units + pending.write_units,
            compute_ms: stored.compute_ms + pending.compute_ms,
        })
    }
}

async fn store_delta(
    store: &DataStore,
    list: &TenantId,
    delta: &Totals,
) -> Result<(), saas_data::Error> {
    let Some(key) = usage_key() else {
        return Ok(());
    };
    let data = store.system("usage metering").tenant(list);
    let d = StoredTotals::of(delta);
    let update = || {
        Update::new()
            .add("requests", d.requests)
            .add("read_milli", d.read_milli)
            .add("write_milli", d.write_milli)
            .add("compute_us", d.compute_us)
    };
    match data.update::<StoredTotals>(&key, update()).await {
        Ok(_) => Ok(()),
        Err(saas_data::Error::NotFound) => match data.put(&key, &d).create_only().await {
            Ok(_) => Ok(()),
            // Another writer created it first: add to theirs.
            Err(saas_data::Error::AlreadyExists) => data
                .update::<StoredTotals>(&key, update())
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// The middleware on the list routes (inside the tenant layer and saas-metrics' layer): times the
/// handler, collects the capacity it consumed in its list, records it into the invocation's
/// `TenantMetrics` and the book.
pub(crate) async fn meter(
    State(meter_state): State<MeterState>,
    request: Request,
    next: Next,
) -> Response {
    let MeterState { book, store } = meter_state;
    let Some(ctx) = request.extensions().get::<TenantContext>().cloned() else {
        return next.run(request).await;
    };
    let metrics = request
        .extensions()
        .get::<saas_metrics::TenantMetrics>()
        .cloned();
    let meter = RequestMeter {
        list: ctx.tenant_id().clone(),
        capacity: Arc::default(),
    };
    let started = Instant::now();
    let response = METER.scope(meter.clone(), next.run(request)).await;
    let elapsed = started.elapsed();
    let (read, write) = *meter.capacity.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = metrics
        && let Err(e) = m.record_capacity(read, write)
    {
        tracing::warn!(error = %e, "capacity not recorded");
    }
    book.add(
        ctx.tenant_id(),
        Totals {
            requests: 1,
            read_units: read,
            write_units: write,
            compute_ms: elapsed.as_secs_f64() * 1e3,
        },
    );
    if let Some(store) = store {
        book.flush(&store).await;
    }
    response
}

/// What the metering middleware needs: the book, and the store when usage is stored with each
/// request (on Lambda).
#[derive(Clone)]
pub(crate) struct MeterState {
    pub(crate) book: UsageBook,
    pub(crate) store: Option<DataStore>,
}

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
use futures_util::future::join_all;
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

/// How many lists' deltas a flush stores at once.
const FLUSH_AT_ONCE: usize = 64;

fn usage_key() -> Option<Key> {
    Key::new("usage", "totals").ok()
}

/// Figures not yet stored, per list, in the stored units (whole numbers, so that a delta taken
/// out is exactly the delta put in). Keyed by list: a list's figures are only ever its own.
///
/// A flush moves the pending figures to `inflight`, then stores each list's and takes it out of
/// `inflight` under `gate`; a read takes the same gate, so it sees each delta exactly once:
/// still in the book, or already in the stored totals.
#[derive(Debug, Default, Clone)]
pub(crate) struct UsageBook(Arc<BookInner>);

#[derive(Debug, Default)]
struct BookInner {
    figures: Mutex<Figures>,
    /// Held while a list's delta is stored and taken out of `inflight`, and while a read adds
    /// the stored totals to the book's.
    gate: tokio::sync::Mutex<()>,
    /// One flush at a time.
    flushing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Figures {
    pending: HashMap<TenantId, StoredTotals>,
    inflight: HashMap<TenantId, StoredTotals>,
}

impl StoredTotals {
    fn plus(self, o: StoredTotals) -> StoredTotals {
        StoredTotals {
            requests: self.requests.saturating_add(o.requests),
            read_milli: self.read_milli.saturating_add(o.read_milli),
            write_milli: self.write_milli.saturating_add(o.write_milli),
            compute_us: self.compute_us.saturating_add(o.compute_us),
        }
    }

    fn minus(self, o: StoredTotals) -> StoredTotals {
        StoredTotals {
            requests: self.requests.saturating_sub(o.requests),
            read_milli: self.read_milli.saturating_sub(o.read_milli),
            write_milli: self.write_milli.saturating_sub(o.write_milli),
            compute_us: self.compute_us.saturating_sub(o.compute_us),
        }
    }

    fn is_zero(&self) -> bool {
        self.requests == 0 && self.read_milli == 0 && self.write_milli == 0 && self.compute_us == 0
    }
}

impl UsageBook {
    fn figures(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.0.figures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, list: &TenantId, delta: Totals) {
        let mut figures = self.figures();
        let t = figures.pending.entry(list.clone()).or_default();
        *t = t.plus(StoredTotals::of(&delta));
    }

    /// Forgets `list`'s figures not yet stored (the list is being deleted).
    pub(crate) fn forget(&self, list: &TenantId) {
        let mut figures = self.figures();
        figures.pending.remove(list);
        figures.inflight.remove(list);
    }

    /// Adds every list's figures not yet stored to its stored totals. What cannot be stored
    /// stays in the book for the next flush.
    pub(crate) async fn flush(&self, store: &DataStore) {
        let _one_at_a_time = self.0.flushing.lock().await;
        let batch: Vec<(TenantId, StoredTotals)> = {
            let mut figures = self.figures();
            let Figures { pending, inflight } = &mut *figures;
            for (list, delta) in pending.drain() {
                let t = inflight.entry(list).or_default();
                *t = t.plus(delta);
            }
            inflight.iter().map(|(l, d)| (l.clone(), *d)).collect()
        };
        // The lists' deltas are stored together, FLUSH_AT_ONCE at a time: the embedded store
        // commits writes that wait together with one fsync (its group commit), DynamoDB takes
        // them in parallel. One at a time, a flush of N lists cost N commits.
        for chunk in batch.chunks(FLUSH_AT_ONCE) {
            let _gate = self.0.gate.lock().await;
            let stored = join_all(
                chunk
                    .iter()
                    .map(|(list, delta)| store_delta(store, list, delta)),
            )
            .await;
            let mut figures = self.figures();
            for ((list, delta), result) in chunk.iter().zip(stored) {
                match result {
                    // Stored, or the list is gone (its place in the registry taken back).
                    Ok(()) | Err(saas_data::Error::TenantNotProvisioned(_)) => {
                        if let Some(t) = figures.inflight.get_mut(list) {
                            *t = t.minus(*delta);
                            if t.is_zero() {
                                figures.inflight.remove(list);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "usage not stored yet; kept for the next flush");
                    }
                }
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

    /// The list's usage: stored totals plus what is not stored yet, each delta exactly once.
    pub(crate) async fn read(
        &self,
        store: &DataStore,
        ctx: &TenantContext,
    ) -> Result<Totals, saas_data::Error> {
        let key = usage_key().ok_or(saas_data::Error::NotFound)?;
        let _gate = self.0.gate.lock().await;
        let stored = match store
            .scope(ctx)
            .get::<StoredTotals>(&key)
            .consistent()
            .await
        {
            Ok(found) => found.into_item(),
            Err(saas_data::Error::NotFound) => StoredTotals::default(),
            Err(e) => return Err(e),
        };
        let figures = self.figures();
        let list = ctx.tenant_id();
        let book = [figures.pending.get(list), figures.inflight.get(list)]
            .into_iter()
            .flatten()
            .fold(StoredTotals::default(), |a, b| a.plus(*b));
        Ok(stored.plus(book).totals())
    }
}

async fn store_delta(
    store: &DataStore,
    list: &TenantId,
    d: &StoredTotals,
) -> Result<(), saas_data::Error> {
    let Some(key) = usage_key() else {
        return Ok(());
    };
    let data = store.system("usage metering").tenant(list);
    let update = || {
        Update::new()
            .add("requests", d.requests)
            .add("read_milli", d.read_milli)
            .add("write_milli", d.write_milli)
            .add("compute_us", d.compute_us)
    };
    match data.update::<StoredTotals>(&key, update()).await {
        Ok(_) => Ok(()),
        Err(saas_data::Error::NotFound) => match data.put(&key, d).create_only().await {
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

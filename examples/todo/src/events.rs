//! Changes flow out as events: each change writes its event into the outbox in the same
//! transaction as the change itself, so an event exists exactly when its change does; a publisher
//! then hands outbox events to the bus and removes them once delivered (retrying until then), and
//! the consumer turns them into the list's activity feed.
//!
//! Every event travels in a [`TenantEnvelope`]: the consumer gets the list back from the envelope
//! (checked again when opened), never from ambient state. Locally the bus is in-process; delivery
//! is at least once, and the consumer is idempotent (an activity item is keyed by its event id).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use saas_core::{TenantContext, TenantEnvelope};
use saas_data::{DataScope, DataStore, Key, Query, Transaction};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::error::ApiError;
use crate::model::{new_id, now};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    /// A todo was created.
    #[serde(rename = "todo.created")]
    TodoCreated,
    /// A todo's title (or its done flag, back to not done) changed.
    #[serde(rename = "todo.updated")]
    TodoUpdated,
    /// A todo was marked done.
    #[serde(rename = "todo.completed")]
    TodoCompleted,
    /// A todo was deleted.
    #[serde(rename = "todo.deleted")]
    TodoDeleted,
    /// Someone was given access to the list (or a new role in it).
    #[serde(rename = "member.added")]
    MemberAdded,
    /// Someone's access was removed.
    #[serde(rename = "member.removed")]
    MemberRemoved,
}

/// One change, as the activity feed shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Change {
    /// The event id: sortable by time, the activity item's key.
    pub(crate) id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub(crate) kind: Kind,
    /// The todo it happened to, for todo events.
    pub(crate) todo: Option<String>,
    /// The member it happened to, for member events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) member: Option<String>,
    /// Who did it (their email).
    pub(crate) actor: String,
    /// When, RFC 3339 UTC.
    pub(crate) at: String,
}

/// An outbox item: the event, in its envelope, waiting for delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Outbox {
    envelope: TenantEnvelope<Change>,
}

const OUTBOX: &str = "outbox";
/// The list's activity feed partition.
pub(crate) const ACTIVITY: &str = "activity";

/// The outbox: system data, one partition, oldest first.
fn outbox(store: &DataStore) -> DataScope {
    store.system("the event outbox").data()
}

/// The change `kind` by `ctx`'s caller, to `todo` or `member`.
pub(crate) fn change(
    ctx: &TenantContext,
    kind: Kind,
    todo: Option<&str>,
    member: Option<&str>,
) -> Result<Change, ApiError> {
    Ok(Change {
        id: new_id("e", true)?,
        kind,
        todo: todo.map(str::to_owned),
        member: member.map(str::to_owned),
        actor: crate::routes::caller_email(ctx.user())?,
        at: now(),
    })
}

/// Adds `change`'s outbox item to `tx`, so that it commits with the change or not at all.
pub(crate) fn record(
    tx: Transaction,
    store: &DataStore,
    ctx: &TenantContext,
    change: Change,
) -> Result<Transaction, ApiError> {
    let key = Key::new(OUTBOX, format!("{}#{}", change.id, ctx.tenant_id()))
        .map_err(|_| ApiError::Internal)?;
    let item = Outbox {
        envelope: TenantEnvelope::new(ctx, change),
    };
    Ok(tx.create(&outbox(store), &key, &item))
}

/// Delivers outbox events: in the background, woken after each commit that wrote one and every
/// second to retry; or, where no background task can run (Lambda), right after the commit.
#[derive(Clone)]
pub(crate) struct Publisher {
    wake: Arc<Notify>,
    inline: Option<(DataStore, Bus)>,
}

/// Where delivered events go.
#[derive(Clone, Debug)]
pub enum Bus {
    /// In-process: straight to the consumer (the local run).
    Local,
    /// Amazon EventBridge (`TODO_EVENT_BUS`): `PutEvents` with source [`SOURCE`], the change's
    /// type as detail type and the envelope as detail; the consumer is its own Lambda
    /// (`todo-activity`) behind a rule.
    EventBridge {
        /// The client, configured the standard way.
        client: aws_sdk_eventbridge::Client,
        /// The bus name or ARN.
        bus: String,
    },
}

/// The `source` of the service's EventBridge events.
pub const SOURCE: &str = "todo.service";

impl Bus {
    async fn publish(
        &self,
        store: &DataStore,
        envelope: TenantEnvelope<Change>,
    ) -> Result<(), ApiError> {
        match self {
            Bus::Local => consume(store, envelope).await,
            Bus::EventBridge { client, bus } => {
                let kind = serde_json::to_value(envelope.data.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let detail = serde_json::to_string(&envelope).map_err(|_| ApiError::Internal)?;
                let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(SOURCE)
                    .detail_type(kind)
                    .detail(detail)
                    .build();
                let out = client.put_events().entries(entry).send().await.map_err(|e| {
                    tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e), "PutEvents failed");
                    ApiError::Unavailable
                })?;
                if out.failed_entry_count() > 0 {
                    tracing::warn!(entries = ?out.entries(), "EventBridge refused the event");
                    return Err(ApiError::Unavailable);
                }
                Ok(())
            }
        }
    }
}

impl Publisher {
    /// Starts the background publisher over `store`, delivering to `bus`.
    pub(crate) fn spawn(store: DataStore, bus: Bus) -> (Publisher, tokio::task::JoinHandle<()>) {
        let wake = Arc::new(Notify::new());
        let publisher = Publisher {
            wake: wake.clone(),
            inline: None,
        };
        let task = tokio::spawn(async move {
            loop {
                // Pass after pass while full ones go out: a backlog drains at the store's pace,
                // not one pass per wake-up.
                while deliver(&store, &bus, BACKGROUND_PASS).await {}
                let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            }
        });
        (publisher, task)
    }

    /// A publisher that delivers on the request, after its commit.
    pub(crate) fn inline(store: DataStore, bus: Bus) -> Publisher {
        Publisher {
            wake: Arc::new(Notify::new()),
            inline: Some((store, bus)),
        }
    }

    /// A change was committed: deliver it now (inline) or wake the background publisher.
    pub(crate) async fn committed(&self) {
        match &self.inline {
            // One pass: a request carries at most that much of the backlog.
            Some((store, bus)) => {
                deliver(store, bus, INLINE_PASS).await;
            }
            None => self.wake.notify_one(),
        }
    }
}

/// Outbox events read, and delivered together, in one pass of the background publisher. Its
/// deliveries share the store's commits with the requests' writes; passes of 100 fell behind
/// creates at 256 connections on the embedded store (the server was still delivering 5.5 s
/// after an 8 s load), passes of 500 kept up (1 s), `docs/performance-todo.md`.
pub(crate) const BACKGROUND_PASS: usize = 500;

/// Outbox events delivered in one pass on a request's own time (Lambda), after its commit.
const INLINE_PASS: usize = 100;

/// One pass over the outbox: up to `pass` events, each to the bus and then out of the outbox,
/// all of them at once (the embedded store commits the writes that wait together with one
/// `fsync`; one at a time, each event cost two). An event the bus refuses stays for the next
/// pass; the write that caused it is never undone. True when the pass was full and every event
/// went out: more may be waiting.
pub(crate) async fn deliver(store: &DataStore, bus: &Bus, pass: usize) -> bool {
    let outbox = outbox(store);
    let page = match outbox
        .query::<Outbox>(
            Query::partition(OUTBOX)
                .limit(u32::try_from(pass).unwrap_or(u32::MAX))
                .consistent(),
        )
        .await
    {
        Ok(page) => page,
        Err(e) => {
            tracing::warn!(error = %e, "outbox not readable; retrying");
            return false;
        }
    };
    let full = page.items.len() >= pass;
    let outbox = &outbox;
    let delivered = join_all(page.items.into_iter().map(|record| async move {
        let (key, version, item) = record.into_parts();
        match bus.publish(store, item.envelope).await {
            Ok(()) => {
                if let Err(e) = outbox.delete(&key).if_version(version).await {
                    tracing::warn!(error = %e, "delivered event not removed; it will be again");
                    return false;
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "event not delivered; retrying");
                false
            }
        }
    }))
    .await;
    full && delivered.into_iter().all(|ok| ok)
}

/// The consumer of an EventBridge event's detail (`todo-activity`): the envelope is checked, the
/// list's activity item written once.
pub async fn consume_detail(
    store: &DataStore,
    detail: serde_json::Value,
) -> Result<(), ConsumeError> {
    let envelope: TenantEnvelope<Change> =
        serde_json::from_value(detail).map_err(|_| ConsumeError::NotAnEvent)?;
    let (ctx, change) = envelope.open().map_err(|_| ConsumeError::NotAnEvent)?;
    write_activity(store, &ctx, &change)
        .await
        .map_err(|_| ConsumeError::NotStored)
}

/// Why an event was not consumed (the Lambda fails, and EventBridge retries it).
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The detail is not one of the service's event envelopes.
    #[error("not a todo event envelope")]
    NotAnEvent,
    /// The activity item could not be written.
    #[error("the activity item could not be stored")]
    NotStored,
}

/// The consumer: the event's list from its envelope, its activity item written once.
async fn consume(store: &DataStore, envelope: TenantEnvelope<Change>) -> Result<(), ApiError> {
    let (ctx, change) = envelope.open().map_err(|e| {
        tracing::error!(error = %e, "an event whose envelope does not open");
        ApiError::Internal
    })?;
    write_activity(store, &ctx, &change).await
}

/// The list's activity item for `change`, written once (a redelivery is not an error).
async fn write_activity(
    store: &DataStore,
    ctx: &TenantContext,
    change: &Change,
) -> Result<(), ApiError> {
    let key = Key::new(ACTIVITY, change.id.clone()).map_err(|_| ApiError::Internal)?;
    match store.scope(ctx).put(&key, change).create_only().await {
        Ok(_) | Err(saas_data::Error::AlreadyExists) => Ok(()),
        // The list was deleted (its place taken back) before its event came: nothing to feed.
        Err(saas_data::Error::TenantNotProvisioned(why)) => {
            tracing::info!(why, "activity of a list that is gone: dropped");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

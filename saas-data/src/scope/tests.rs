//! The scoped layer over a backend that misbehaves on purpose: unprocessed batch items, items
//! forged around the crate, condition failures that do not return the old item.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use saas_core::TenantContext;
use serde_dynamo::AttributeValue;

use crate::backend::{
    Backend, BackendError, BackendResult, BatchGetOutput, BatchGetRequest, BatchWrite,
    BatchWriteRequest, BoxFuture, DeleteRequest, GetRequest, Output, PutRequest, QueryOutput,
    QueryRequest, RawBackend, TableState, TransactAction, UpdateRequest,
};
use crate::error::Error;
use crate::item::Item;
use crate::stored::StoredItem;
use crate::usage::Capacity;
use crate::{DataStore, Key, Query};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Todo {
    title: String,
}

/// Wraps a real backend: leaves half of every batch unprocessed for the first `flaky` calls, and
/// can hide the old item on condition failures (as a backend that does not support
/// `ReturnValuesOnConditionCheckFailure`).
#[derive(Debug)]
struct Flaky {
    inner: Backend,
    flaky: AtomicUsize,
    hide_old: bool,
    calls: AtomicUsize,
}

impl Flaky {
    fn new(flaky: usize, hide_old: bool) -> Arc<Self> {
        Arc::new(Self {
            inner: Backend::in_memory(),
            flaky: AtomicUsize::new(flaky),
            hide_old,
            calls: AtomicUsize::new(0),
        })
    }

    fn take_flaky(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.flaky
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn hide<T>(&self, r: BackendResult<T>) -> BackendResult<T> {
        match r {
            Err(BackendError::ConditionFailed { .. }) if self.hide_old => {
                Err(BackendError::ConditionFailed { old: None })
            }
            other => other,
        }
    }
}

impl RawBackend for Flaky {
    fn get(&self, req: GetRequest) -> BoxFuture<'_, BackendResult<Option<StoredItem>>> {
        self.inner.0.get(req)
    }
    fn put(&self, req: PutRequest) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move { self.hide(self.inner.0.put(req).await) })
    }
    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, BackendResult<Item>> {
        Box::pin(async move { self.hide(self.inner.0.update(req).await) })
    }
    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move { self.hide(self.inner.0.delete(req).await) })
    }
    fn query(&self, req: QueryRequest) -> BoxFuture<'_, BackendResult<QueryOutput>> {
        self.inner.0.query(req)
    }
    fn batch_get(&self, mut req: BatchGetRequest) -> BoxFuture<'_, BackendResult<BatchGetOutput>> {
        Box::pin(async move {
            let held = if self.take_flaky() {
                req.keys.split_off(req.keys.len() / 2)
            } else {
                Vec::new()
            };
            if req.keys.is_empty() {
                // DynamoDB refuses an empty batch; a throttled one-key batch answers nothing.
                return Ok(Output {
                    value: BatchGetOutput {
                        items: Vec::new(),
                        unprocessed: held,
                    },
                    capacity: Capacity::default(),
                });
            }
            let mut out = self.inner.0.batch_get(req).await?;
            out.value.unprocessed.extend(held);
            Ok(out)
        })
    }
    fn batch_write(
        &self,
        mut req: BatchWriteRequest,
    ) -> BoxFuture<'_, BackendResult<Vec<BatchWrite>>> {
        Box::pin(async move {
            let held = if self.take_flaky() {
                req.writes.split_off(req.writes.len() / 2)
            } else {
                Vec::new()
            };
            if req.writes.is_empty() {
                return Ok(Output {
                    value: held,
                    capacity: Capacity::default(),
                });
            }
            let mut out = self.inner.0.batch_write(req).await?;
            out.value.extend(held);
            Ok(out)
        })
    }
    fn transact_write(
        &self,
        actions: Vec<TransactAction>,
    ) -> BoxFuture<'_, BackendResult<Vec<Capacity>>> {
        Box::pin(async move {
            match self.inner.0.transact_write(actions).await {
                Err(BackendError::TransactionConditionFailed { index, .. }) if self.hide_old => {
                    Err(BackendError::TransactionConditionFailed { index, old: None })
                }
                other => other,
            }
        })
    }
    fn create_table(&self, table: &str) -> BoxFuture<'_, crate::Result<()>> {
        self.inner.0.create_table(table)
    }
    fn delete_table(&self, table: &str) -> BoxFuture<'_, crate::Result<()>> {
        self.inner.0.delete_table(table)
    }
    fn table_state(&self, table: &str) -> BoxFuture<'_, crate::Result<TableState>> {
        self.inner.0.table_state(table)
    }
}

async fn store(backend: Arc<Flaky>) -> DataStore {
    let store = DataStore::builder(Backend(backend))
        .pool("app-data")
        .build()
        .unwrap();
    store.provisioner().create_table("app-data").await.unwrap();
    store
}

fn ctx(t: &str) -> TenantContext {
    TenantContext::builder(t).build()
}

fn items(n: usize) -> Vec<(Key, Todo)> {
    (0..n)
        .map(|i| {
            (
                Key::new("p", format!("{i:04}")).unwrap(),
                Todo {
                    title: i.to_string(),
                },
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn unprocessed_batch_items_are_retried() {
    let backend = Flaky::new(5, false);
    let store = store(backend.clone()).await;
    let data = store.scope(&ctx("a"));
    let items = items(60);
    data.batch_put(&items).await.unwrap();
    let keys: Vec<Key> = items.iter().map(|(k, _)| k.clone()).collect();
    let got = data.batch_get::<Todo>(&keys).await.unwrap();
    assert!(got.iter().all(Option::is_some));
    assert_eq!(
        backend.flaky.load(Ordering::SeqCst),
        0,
        "every flaky call was used"
    );
    assert!(
        backend.calls.load(Ordering::SeqCst) > 3 + 1,
        "retries happened"
    );
}

#[tokio::test(start_paused = true)]
async fn batches_give_up_as_throttled() {
    let backend = Flaky::new(usize::MAX, false);
    let store = store(backend).await;
    let data = store.scope(&ctx("a"));
    let err = data.batch_put(&items(4)).await.unwrap_err();
    assert!(matches!(err, Error::Throttled(_)), "{err:?}");
    assert!(err.is_retryable());
    let err = data
        .batch_get::<Todo>(&[Key::new("p", "1").unwrap(), Key::new("p", "2").unwrap()])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Throttled(_)), "{err:?}");
}

#[tokio::test]
async fn failures_are_classified_without_the_old_item() {
    let store = store(Flaky::new(0, true)).await;
    let data = store.scope(&ctx("a"));
    let k = Key::new("p", "1").unwrap();
    data.put(&k, &Todo { title: "x".into() })
        .create_only()
        .await
        .unwrap();
    assert!(matches!(
        data.put(&k, &Todo { title: "y".into() })
            .create_only()
            .await,
        Err(Error::AlreadyExists)
    ));
    assert!(matches!(
        data.put(&k, &Todo { title: "y".into() })
            .if_version(5)
            .await,
        Err(Error::VersionConflict {
            expected: 5,
            actual: Some(1)
        })
    ));
    assert_eq!(data.put(&k, &Todo { title: "z".into() }).await.unwrap(), 2);
    let missing = Key::new("p", "2").unwrap();
    assert!(matches!(data.delete(&missing).await, Err(Error::NotFound)));
    let err = store
        .transaction()
        .create(&data, &missing, &Todo { title: "n".into() })
        .delete(&data, &k, Some(1))
        .commit()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::TransactionCanceled { index: 1, cause } if matches!(**cause, Error::VersionConflict { expected: 1, actual: Some(2) })
        ),
        "{err:?}"
    );
}

/// Writes a physical item around the crate, as raw table access or a bad migration would.
async fn raw_put(store: &DataStore, pk: &str, sk: &str, owner: Option<&str>) {
    let mut item: Item = HashMap::new();
    item.insert("_pk".into(), AttributeValue::S(pk.into()));
    item.insert("_sk".into(), AttributeValue::S(sk.into()));
    item.insert("_version".into(), AttributeValue::N("1".into()));
    item.insert("title".into(), AttributeValue::S("forged".into()));
    if let Some(owner) = owner {
        item.insert("_tenant".into(), AttributeValue::S(owner.into()));
    }
    let req = PutRequest {
        table: "app-data".into(),
        item,
        condition: None,
    };
    store.inner.backend.0.put(req).await.unwrap();
}

#[tokio::test]
async fn forged_items_are_not_found_on_the_embedded_store() {
    let store = store(Flaky::new(0, false)).await;
    raw_put(&store, "a#p", "1", Some("b")).await;
    raw_put(&store, "a#p", "2", None).await;
    raw_put(&store, "b#p", "3", Some("a")).await;
    let keys: Vec<Key> = ["1", "2", "3"]
        .iter()
        .map(|s| Key::new("p", *s).unwrap())
        .collect();
    for tenant in ["a", "b"] {
        let data = store.scope(&ctx(tenant));
        for k in &keys {
            assert!(
                matches!(data.get::<Todo>(k).await, Err(Error::NotFound)),
                "{tenant} {k:?}"
            );
            assert!(matches!(data.delete(k).await, Err(Error::NotFound)));
            assert!(matches!(
                data.put(k, &Todo { title: "x".into() }).if_version(1).await,
                Err(Error::NotFound)
            ));
        }
        let page = data.query::<Todo>(Query::partition("p")).await.unwrap();
        assert!(
            page.items.is_empty() && page.next_cursor.is_none(),
            "{tenant}"
        );
        assert!(
            data.batch_get::<Todo>(&keys)
                .await
                .unwrap()
                .iter()
                .all(Option::is_none)
        );
    }
    // A's create treats the forged item in its space as absent.
    let a = store.scope(&ctx("a"));
    assert_eq!(
        a.put(
            &keys[0],
            &Todo {
                title: "mine".into()
            }
        )
        .create_only()
        .await
        .unwrap(),
        1
    );
    // Among real items, a forged one is skipped without breaking paging.
    for i in 0..5 {
        a.put(
            &Key::new("q", format!("{i}")).unwrap(),
            &Todo {
                title: i.to_string(),
            },
        )
        .await
        .unwrap();
    }
    raw_put(&store, "a#q", "2a", Some("b")).await;
    let mut seen = Vec::new();
    let mut query = Query::partition("q").limit(2);
    loop {
        let page = a.query::<Todo>(query.clone()).await.unwrap();
        seen.extend(page.items.iter().map(|r| r.key().sort().to_owned()));
        match page.next_cursor {
            Some(c) => query = Query::partition("q").limit(2).after(c),
            None => break,
        }
    }
    assert_eq!(seen, vec!["0", "1", "2", "3", "4"]);
}

#[tokio::test]
async fn usage_is_reported_with_the_tenant() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let store = DataStore::builder(Backend::in_memory())
        .pool("app-data")
        .on_usage(move |u: &crate::Usage<'_>| {
            sink.lock()
                .unwrap()
                .push((u.tenant.map(ToString::to_string), u.operation, u.capacity));
        })
        .build()
        .unwrap();
    store.provisioner().create_table("app-data").await.unwrap();
    let data = store.scope(&ctx("a"));
    let k = Key::new("p", "1").unwrap();
    data.put(
        &k,
        &Todo {
            title: "x".repeat(3000),
        },
    )
    .await
    .unwrap();
    data.get::<Todo>(&k).await.unwrap();
    data.get::<Todo>(&k).consistent().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|(t, ..)| t.as_deref() == Some("a")));
    // ~3 KB: 3 write units, 0.5 read unit eventually consistent, 1 strongly consistent.
    assert_eq!(seen[0].2, Capacity::new(0.0, 3.0));
    assert_eq!(seen[1].2, Capacity::new(0.5, 0.0));
    assert_eq!(seen[2].2, Capacity::new(1.0, 0.0));
    assert_eq!(data.consumed(), Capacity::new(1.5, 3.0));
}

#[tokio::test]
async fn refused_writes_report_what_dynamodb_charges_for_them() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let store = DataStore::builder(Backend::in_memory())
        .pool("app-data")
        .on_usage(move |u: &crate::Usage<'_>| {
            sink.lock().unwrap().push((u.operation, u.capacity));
        })
        .build()
        .unwrap();
    store.provisioner().create_table("app-data").await.unwrap();
    let data = store.scope(&ctx("a"));
    let k = Key::new("p", "1").unwrap();
    let big = Todo {
        title: "x".repeat(3000),
    };
    data.put(&k, &big).create_only().await.unwrap();
    seen.lock().unwrap().clear();
    // Refused by its condition: charged by the stored item's size (~3 KB: 3 units).
    let err = data.put(&k, &big).create_only().await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists), "{err:?}");
    let err = data.delete(&k).if_version(7).await.unwrap_err();
    assert!(matches!(err, Error::VersionConflict { .. }), "{err:?}");
    // Refused on a missing item: one unit.
    let missing = Key::new("p", "none").unwrap();
    let err = data
        .update::<Todo>(&missing, crate::Update::new().set("title", "y"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (crate::Operation::Put, Capacity::new(0.0, 3.0)),
            (crate::Operation::Delete, Capacity::new(0.0, 3.0)),
            (crate::Operation::Update, Capacity::new(0.0, 1.0)),
            // Then a consistent read tells "not there" from "not yours".
            (crate::Operation::Get, Capacity::new(1.0, 0.0)),
        ]
    );
    assert_eq!(data.consumed(), Capacity::new(1.0, 3.0 + 3.0 + 3.0 + 1.0));
}

/// Every future a handler awaits is `Send`, so the scope works inside axum and Lambda handlers.
#[test]
fn futures_are_send() {
    fn send<T: Send>(_: T) {}
    let store = DataStore::builder(Backend::in_memory())
        .pool("app-data")
        .build()
        .unwrap();
    let data = store.scope(&ctx("a"));
    let k = Key::new("p", "1").unwrap();
    let todo = Todo { title: "x".into() };
    send(std::future::IntoFuture::into_future(data.get::<Todo>(&k)));
    send(std::future::IntoFuture::into_future(data.put(&k, &todo)));
    send(std::future::IntoFuture::into_future(
        data.update::<Todo>(&k, crate::Update::new().set("title", "y")),
    ));
    send(std::future::IntoFuture::into_future(data.delete(&k)));
    send(data.query::<Todo>(Query::partition("p")));
    send(data.batch_get::<Todo>(std::slice::from_ref(&k)));
    send(data.batch_put(&[(k.clone(), todo.clone())]));
    send(data.batch_delete(std::slice::from_ref(&k)));
    send(store.transaction().create(&data, &k, &todo).commit());
    let registry = store.system("test").registry();
    send(std::future::IntoFuture::into_future(
        registry.onboard(&"a".parse().unwrap(), saas_core::Tier::Basic),
    ));
    send(store.provisioner().create_table("app-data"));
}

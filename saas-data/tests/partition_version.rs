//! `DataScope::partition_version` on the embedded store, in memory and on a file (group commit):
//! every kind of acknowledged write changes its partition's mark, a read does not, marks of two
//! tenants never meet, and a write whose caller went away before the answer changes the mark
//! all the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use saas_core::TenantContext;
use saas_data::{Backend, DataScope, DataStore, Error, Key, Query, Update};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Todo {
    title: String,
}

fn todo(title: &str) -> Todo {
    Todo {
        title: title.to_owned(),
    }
}

fn key(sk: &str) -> Key {
    Key::new("todos", sk).unwrap()
}

async fn store(backend: Backend) -> DataStore {
    let store = DataStore::builder(backend).pool("app").build().unwrap();
    store.provisioner().create_table("app").await.unwrap();
    store
}

fn scope(store: &DataStore, tenant: &str) -> DataScope {
    store.scope(&TenantContext::builder(tenant).build())
}

/// Runs every kind of write on `data` and checks that each one changed the mark.
async fn every_write_changes_the_mark(store: &DataStore, data: &DataScope) {
    let mut mark = data.partition_version("todos").await.unwrap().unwrap();
    let mut changed = |label: &str, now| {
        assert_ne!(now, mark, "{label} left the mark as it was");
        mark = now;
    };

    data.put(&key("a"), &todo("a")).create_only().await.unwrap();
    changed(
        "a put",
        data.partition_version("todos").await.unwrap().unwrap(),
    );

    data.update::<Todo>(&key("a"), Update::new().set("title", &"b"))
        .await
        .unwrap();
    changed(
        "an update",
        data.partition_version("todos").await.unwrap().unwrap(),
    );

    data.batch_put(&[(key("b"), todo("b")), (key("c"), todo("c"))])
        .await
        .unwrap();
    changed(
        "a batch put",
        data.partition_version("todos").await.unwrap().unwrap(),
    );

    store
        .transaction()
        .create(data, &key("d"), &todo("d"))
        .delete(data, &key("b"), None)
        .commit()
        .await
        .unwrap();
    changed(
        "a transaction",
        data.partition_version("todos").await.unwrap().unwrap(),
    );

    data.batch_delete(&[key("c")]).await.unwrap();
    changed(
        "a batch delete",
        data.partition_version("todos").await.unwrap().unwrap(),
    );

    data.delete(&key("a")).await.unwrap();
    changed(
        "a delete",
        data.partition_version("todos").await.unwrap().unwrap(),
    );

    // Reads, and a refused write, leave it.
    let _ = data.get::<Todo>(&key("d")).await.unwrap();
    let page = data.query::<Todo>(Query::partition("todos")).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let refused = data.put(&key("d"), &todo("again")).create_only().await;
    assert!(matches!(refused, Err(Error::AlreadyExists)), "{refused:?}");
    assert_eq!(data.partition_version("todos").await.unwrap(), Some(mark));
}

#[tokio::test]
async fn every_write_in_memory_changes_the_mark() {
    let store = store(Backend::in_memory()).await;
    every_write_changes_the_mark(&store, &scope(&store, "tenant-a")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_on_a_file_changes_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(Backend::open(dir.path().join("store.redb")).unwrap()).await;
    every_write_changes_the_mark(&store, &scope(&store, "tenant-a")).await;
}

#[tokio::test]
async fn marks_name_their_tenant_partition_and_store() {
    let one = store(Backend::in_memory()).await;
    let two = store(Backend::in_memory()).await;
    let (a, b) = (scope(&one, "tenant-a"), scope(&one, "tenant-b"));
    let mark = |s: DataScope, p: &'static str| async move {
        s.partition_version(p).await.unwrap().unwrap()
    };
    let a_todos = mark(a.clone(), "todos").await;
    assert_ne!(a_todos, mark(b.clone(), "todos").await);
    assert_ne!(a_todos, mark(a.clone(), "notes").await);
    assert_ne!(a_todos, mark(scope(&two, "tenant-a"), "todos").await);
    assert_eq!(a_todos, mark(a, "todos").await);
}

#[tokio::test]
async fn creating_or_deleting_a_table_changes_every_mark() {
    let store = store(Backend::in_memory()).await;
    let data = scope(&store, "tenant-a");
    let before = data.partition_version("todos").await.unwrap();
    store.provisioner().create_table("other").await.unwrap();
    assert_ne!(data.partition_version("todos").await.unwrap(), before);
}

/// The caller's future is dropped once its write is queued (a client that hangs up): the write
/// still commits, and the mark still changes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_caller_went_away_still_changes_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(Backend::open(dir.path().join("store.redb")).unwrap()).await;
    let data = scope(&store, "tenant-a");
    let before = data.partition_version("todos").await.unwrap();
    {
        let item = todo("gone");
        let k = key("gone");
        let mut put = pin!(data.put(&k, &item).into_future());
        let mut cx = Context::from_waker(Waker::noop());
        // Poll until the request is queued and waits for its commit, then drop it.
        for _ in 0..100 {
            match put.as_mut().poll(&mut cx) {
                Poll::Pending => {}
                Poll::Ready(r) => panic!("answered on a first poll: {r:?}"),
            }
            tokio::task::yield_now().await;
            if data.get::<Todo>(&k).await.is_ok() {
                break;
            }
        }
    }
    for _ in 0..200 {
        if data.get::<Todo>(&key("gone")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        data.get::<Todo>(&key("gone")).await.unwrap().into_parts().2,
        todo("gone")
    );
    assert_ne!(data.partition_version("todos").await.unwrap(), before);
}

#[tokio::test]
async fn a_dynamodb_store_gives_no_mark() {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let store = DataStore::builder(Backend::dynamodb(aws_sdk_dynamodb::Client::from_conf(
        config,
    )))
    .pool("app")
    .build()
    .unwrap();
    assert_eq!(
        scope(&store, "tenant-a")
            .partition_version("todos")
            .await
            .unwrap(),
        None
    );
}

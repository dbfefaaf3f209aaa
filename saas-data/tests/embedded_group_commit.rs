//! The file store under concurrent writers (whose writes share commits): every acknowledged
//! write is there after the store is dropped and the file opened again, and each caller gets its
//! own answer: one winner among creates of one key, one among updates at one version, and
//! transactions all or nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use saas_core::TenantContext;
use saas_data::{Backend, DataScope, DataStore, Error, Key, Query, Update};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Todo {
    title: String,
    n: u64,
}

fn store(path: &Path) -> DataStore {
    DataStore::builder(Backend::open(path).unwrap())
        .pool("app")
        .cursor_key([7u8; 32])
        .build()
        .unwrap()
}

fn scope(store: &DataStore) -> DataScope {
    store.scope(&TenantContext::builder("tenant-a").build())
}

fn key(sk: &str) -> Key {
    Key::new("todos", sk).unwrap()
}

fn todo(title: &str, n: u64) -> Todo {
    Todo {
        title: title.to_owned(),
        n,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_of_many_writers_survives_reopening() {
    const TASKS: u64 = 64;
    const EACH: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let expected: Vec<(Key, Todo)>;
    {
        let store = store(&path);
        store.provisioner().create_table("app").await.unwrap();
        let data = scope(&store);
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let data = data.clone();
                tokio::spawn(async move {
                    let mut written = Vec::new();
                    for i in 0..EACH {
                        let k = key(&format!("T#{t:03}#{i:03}"));
                        let v = todo(&format!("task {t} todo {i} ✓"), t * 1000 + i);
                        if i % 2 == 0 {
                            data.put(&k, &v).create_only().await.unwrap();
                        } else {
                            data.put(&k, &v).await.unwrap();
                        }
                        written.push((k, v));
                    }
                    written
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.append(&mut t.await.unwrap());
        }
        expected = all;
        // Dropped here, as when the process stops: the file is closed when the drop returns.
    }
    let store = store(&path);
    let data = scope(&store);
    for (k, v) in &expected {
        let got = data.get::<Todo>(k).await.unwrap();
        assert_eq!((got.item(), got.version()), (v, 1), "{k:?}");
    }
    let mut listed = 0;
    let mut page = data
        .query::<Todo>(Query::partition("todos").limit(1000))
        .await
        .unwrap();
    listed += page.items.len();
    while let Some(cursor) = page.next_cursor.take() {
        page = data
            .query::<Todo>(Query::partition("todos").limit(1000).after(cursor))
            .await
            .unwrap();
        listed += page.items.len();
    }
    assert_eq!(listed as u64, TASKS * EACH, "nothing more, nothing less");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conditional_writes_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("store.redb"));
    store.provisioner().create_table("app").await.unwrap();
    let data = scope(&store);
    data.put(&key("counter"), &todo("counter", 0))
        .await
        .unwrap();
    // 48 callers at once: even ones create one shared key, odd ones update the counter at
    // version 1. One create and one update win; every other caller is refused and wrote nothing.
    let tasks: Vec<_> = (0..48u64)
        .map(|i| {
            let data = data.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    let r = data
                        .put(&key("shared"), &todo("shared", i))
                        .create_only()
                        .await;
                    (i, r.map(|_| ()))
                } else {
                    let r = data
                        .update::<Todo>(&key("counter"), Update::new().set("n", &i))
                        .if_version(1)
                        .await;
                    (i, r.map(|_| ()))
                }
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(())) if i % 2 == 0 => created.push(i),
            (i, Ok(())) => updated.push(i),
            (i, Err(Error::AlreadyExists)) if i % 2 == 0 => {}
            (i, Err(Error::VersionConflict { expected: 1, .. })) if i % 2 == 1 => {}
            (i, Err(e)) => panic!("caller {i}: {e:?}"),
        }
    }
    assert_eq!(
        (created.len(), updated.len()),
        (1, 1),
        "{created:?} {updated:?}"
    );
    let shared = data.get::<Todo>(&key("shared")).await.unwrap();
    assert_eq!((shared.item().n, shared.version()), (created[0], 1));
    let counter = data.get::<Todo>(&key("counter")).await.unwrap();
    assert_eq!((counter.item().n, counter.version()), (updated[0], 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("store.redb"));
    store.provisioner().create_table("app").await.unwrap();
    let data = scope(&store);
    // 32 transactions at once, each creating an item of its own and the one shared "lock":
    // exactly one commits, and no other leaves its own item behind.
    let tasks: Vec<_> = (0..32u64)
        .map(|i| {
            let store = store.clone();
            let data = data.clone();
            tokio::spawn(async move {
                let r = store
                    .transaction()
                    .create(&data, &key(&format!("own#{i:02}")), &todo("own", i))
                    .create(&data, &key("lock"), &todo("lock", i))
                    .commit()
                    .await;
                (i, r)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(())) => winners.push(i),
            (_, Err(Error::TransactionCanceled { .. })) => {}
            (i, Err(e)) => panic!("transaction {i}: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let lock = data.get::<Todo>(&key("lock")).await.unwrap();
    assert_eq!(lock.item().n, winners[0]);
    let own: BTreeSet<String> = data
        .query::<Todo>(Query::partition("todos").limit(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.key().sort().to_owned())
        .filter(|sk| sk.starts_with("own#"))
        .collect();
    assert_eq!(
        own,
        BTreeSet::from([format!("own#{:02}", winners[0])]),
        "the cancelled transactions wrote nothing"
    );
}

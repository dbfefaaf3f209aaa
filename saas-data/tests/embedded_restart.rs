//! The file store keeps what it acknowledged: write, drop the store, reopen, read everything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use saas_core::TenantContext;
use saas_data::{Backend, DataStore, Error, Key, Query, Update};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Todo {
    title: String,
    done: bool,
}

fn store(path: &std::path::Path) -> DataStore {
    DataStore::builder(Backend::open(path).unwrap())
        .pool("app")
        .cursor_key([1u8; 32])
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("todo.redb");
    let a = TenantContext::builder("tenant-a").build();
    let b = TenantContext::builder("tenant-b").build();
    let cursor;
    {
        let store = store(&path);
        store.provisioner().create_table("app").await.unwrap();
        let data = store.scope(&a);
        let items: Vec<(Key, Todo)> = (0..500)
            .map(|i| {
                let todo = Todo {
                    title: format!("todo {i} ✓"),
                    done: i % 3 == 0,
                };
                (Key::new("todos", format!("T#{i:04}")).unwrap(), todo)
            })
            .collect();
        data.batch_put(&items).await.unwrap();
        data.update::<Todo>(&items[7].0, Update::new().set("done", &true))
            .await
            .unwrap();
        data.delete(&items[8].0).await.unwrap();
        store
            .scope(&b)
            .put(
                &Key::new("todos", "T#0000").unwrap(),
                &Todo {
                    title: "b".into(),
                    done: false,
                },
            )
            .await
            .unwrap();
        cursor = data
            .query::<Todo>(Query::partition("todos").limit(100))
            .await
            .unwrap()
            .next_cursor
            .unwrap();
        // The store (and its file lock) goes away here, as when a process stops.
    }
    let store = store(&path);
    let data = store.scope(&a);
    let mut all = Vec::new();
    let mut page = data
        .query::<Todo>(Query::partition("todos").limit(1000))
        .await
        .unwrap();
    all.append(&mut page.items);
    assert!(page.next_cursor.is_none());
    assert_eq!(all.len(), 499);
    let t7 = data
        .get::<Todo>(&Key::new("todos", "T#0007").unwrap())
        .await
        .unwrap();
    assert_eq!((t7.version(), t7.item().done), (2, true));
    assert!(matches!(
        data.get::<Todo>(&Key::new("todos", "T#0008").unwrap())
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        data.get::<Todo>(&Key::new("todos", "T#0499").unwrap())
            .await
            .unwrap()
            .item()
            .title,
        "todo 499 ✓"
    );
    // A cursor from before the restart continues where it was (same cursor key).
    let next = data
        .query::<Todo>(Query::partition("todos").limit(100).after(cursor))
        .await
        .unwrap();
    assert_eq!(next.items[0].key().sort(), "T#0101");
    let b_item = store
        .scope(&b)
        .get::<Todo>(&Key::new("todos", "T#0000").unwrap())
        .await
        .unwrap();
    assert_eq!(b_item.item().title, "b");
}

#[tokio::test]
async fn a_second_open_of_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.redb");
    let _first = Backend::open(&path).unwrap();
    let second = Backend::open(&path);
    assert!(matches!(second, Err(Error::Unavailable(_))), "{second:?}");
}

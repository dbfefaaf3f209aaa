//! The file store's journal through the store: crash images (the store's files copied while it
//! is open, as a process killed at that moment leaves them: the page cache holds every write
//! that returned) reopened, and clean closes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::journal::{Checkpoints, path_for};
use super::tests::{T, get, item, key, n, s, table};
use super::*;
use crate::expr::UpdateAction;
use serde_dynamo::AttributeValue;

/// No checkpoint while a test runs: everything since the open is in the journal only.
const NEVER: Checkpoints = Checkpoints {
    bytes: u64::MAX,
    interval: Duration::from_secs(3600),
};

async fn open(path: &Path, checkpoints: Checkpoints) -> (Embedded, usize) {
    let (e, replayed) = Embedded::open_with(path, checkpoints).unwrap();
    e.create_table(T).await.unwrap();
    (e, replayed)
}

/// Copies the store's file and journal into `dir`, as a crash at this moment would leave them.
fn crash_image(path: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join("copy.redb");
    std::fs::copy(path, &copy).unwrap();
    std::fs::copy(path_for(path), path_for(&copy)).unwrap();
    copy
}

async fn put(e: &Embedded, pk: &str, sk: &str, attrs: &[(&str, AttributeValue)]) {
    e.put(PutRequest {
        table: table(),
        item: item(pk, sk, attrs),
        condition: None,
    })
    .await
    .unwrap();
}

fn count(item: &Item) -> &str {
    match item.get("count") {
        Some(AttributeValue::N(count)) => count,
        other => panic!("no count: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_crash_through_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let e = Arc::new(open(&path, NEVER).await.0);
    // Concurrent puts (group commits of several), an update, a delete, and tables created and
    // deleted with items in them.
    let puts: Vec<_> = (0..64)
        .map(|i| {
            let e = e.clone();
            tokio::spawn(async move {
                let sk = format!("todo#{i:02}");
                put(&e, "list#a", &sk, &[("title", s("a todo"))]).await;
            })
        })
        .collect();
    for put in puts {
        put.await.unwrap();
    }
    e.update(UpdateRequest {
        table: table(),
        key: key("list#a", "todo#01"),
        actions: vec![UpdateAction::Add("count".into(), n("3"))],
        condition: None,
    })
    .await
    .unwrap();
    e.delete(DeleteRequest {
        table: table(),
        key: key("list#a", "todo#02"),
        condition: None,
    })
    .await
    .unwrap();
    for name in ["kept-table", "gone-table"] {
        e.create_table(name).await.unwrap();
        e.put(PutRequest {
            table: Arc::from(name),
            item: item("p", "s", &[]),
            condition: None,
        })
        .await
        .unwrap();
    }
    e.delete_table("gone-table").await.unwrap();
    assert_eq!(e.stats.checkpoints(), 0);

    let image = tempfile::tempdir().unwrap();
    let copy = crash_image(&path, image.path());
    drop(Arc::into_inner(e));

    // Without its journal the file holds none of it: the journal is what makes it durable.
    let bare = tempfile::tempdir().unwrap();
    let bare_copy = bare.path().join("bare.redb");
    std::fs::copy(&copy, &bare_copy).unwrap();
    let (without, replayed) = Embedded::open_with(&bare_copy, NEVER).unwrap();
    assert_eq!(replayed, 0);
    assert_eq!(without.table_state(T).await.unwrap(), TableState::Missing);
    drop(without);

    let (e, replayed) = Embedded::open_with(&copy, NEVER).unwrap();
    assert!(replayed > 0);
    for i in 0..64 {
        let found = get(&e, &key("list#a", &format!("todo#{i:02}"))).await;
        assert_eq!(found.is_some(), i != 2, "todo#{i:02}");
    }
    let updated = get(&e, &key("list#a", "todo#01")).await.unwrap();
    assert_eq!(count(&updated), "3");
    assert_eq!(
        e.table_state("kept-table").await.unwrap(),
        TableState::Active
    );
    assert_eq!(
        e.table_state("gone-table").await.unwrap(),
        TableState::Missing
    );
    let kept = e
        .get(GetRequest {
            table: Arc::from("kept-table"),
            key: key("p", "s"),
            consistent: true,
        })
        .await
        .unwrap();
    assert!(kept.value.is_some());
    drop(e);

    // The replay was made durable under the next generation: nothing is replayed twice.
    let (e, replayed) = Embedded::open_with(&copy, NEVER).unwrap();
    assert_eq!(replayed, 0);
    assert!(get(&e, &key("list#a", "todo#63")).await.is_some());
}

#[tokio::test]
async fn replay_stops_before_the_records_of_an_earlier_generation() {
    // Checkpoints every few records: the journal is overwritten from its start again and
    // again, and records of earlier generations, holding older counts, lie past the last ones.
    let every_few = Checkpoints {
        bytes: 1_000,
        interval: Duration::from_secs(3600),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let (e, _) = open(&path, every_few).await;
    for i in 1..=250 {
        put(&e, "list#a", "counter", &[("count", n(&i.to_string()))]).await;
    }
    assert!(e.stats.checkpoints() > 10, "{}", e.stats.checkpoints());
    let image = tempfile::tempdir().unwrap();
    let copy = crash_image(&path, image.path());
    let journal = std::fs::metadata(path_for(&copy)).unwrap().len();
    assert!(journal > 1_000, "{journal}");
    drop(e);

    let (e, _) = Embedded::open_with(&copy, NEVER).unwrap();
    let counter = get(&e, &key("list#a", "counter")).await.unwrap();
    assert_eq!(count(&counter), "250");
}

#[tokio::test]
async fn a_torn_record_at_the_end_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let (e, _) = open(&path, NEVER).await;
    for i in 1..=20 {
        put(&e, "list#a", "counter", &[("count", n(&i.to_string()))]).await;
    }
    let image = tempfile::tempdir().unwrap();
    let copy = crash_image(&path, image.path());
    drop(e);

    // The start of a record that never finished: a header, part of a body.
    let journal = path_for(&copy);
    let mut bytes = std::fs::read(&journal).unwrap();
    let first_record = bytes[..64].to_vec();
    bytes.extend_from_slice(&first_record);
    std::fs::write(&journal, bytes).unwrap();

    let (e, replayed) = Embedded::open_with(&copy, NEVER).unwrap();
    assert_eq!(replayed, 21, "the table's creation and 20 puts");
    let counter = get(&e, &key("list#a", "counter")).await.unwrap();
    assert_eq!(count(&counter), "20");
}

#[tokio::test]
async fn a_clean_close_leaves_nothing_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let (e, _) = open(&path, NEVER).await;
    put(&e, "list#a", "todo#1", &[]).await;
    drop(e);
    let (e, replayed) = Embedded::open_with(&path, NEVER).unwrap();
    assert_eq!(replayed, 0);
    assert!(get(&e, &key("list#a", "todo#1")).await.is_some());
}

#[tokio::test]
async fn a_journal_left_by_another_store_is_not_replayed() {
    // A store crashes with writes in its journal only, then its file is deleted (to start over)
    // and its journal left behind: the new store at the same path starts empty.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let (e, _) = open(&path, NEVER).await;
    put(&e, "list#a", "todo#1", &[]).await;
    let image = tempfile::tempdir().unwrap();
    let copy = crash_image(&path, image.path());
    drop(e);
    std::fs::remove_file(&copy).unwrap();

    let (e, replayed) = Embedded::open_with(&copy, NEVER).unwrap();
    assert_eq!(replayed, 0);
    assert_eq!(e.table_state(T).await.unwrap(), TableState::Missing);
}

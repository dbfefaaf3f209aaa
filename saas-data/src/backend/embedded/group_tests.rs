//! Group commit on the file store: batches built by hand (what one commit holds is then known),
//! and concurrent callers through the writer thread.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::db::Failed;
use super::tests::{T, get, item, key, n, s, table};
use super::writer::{self, Job, MAX_BATCH};
use super::*;
use crate::backend::{BackendError, DeleteRequest, Output};
use crate::expr::{CmpOp, Cond, UpdateAction};
use crate::item::PK;

fn not_there() -> Option<Cond> {
    Some(Cond::NotExists(PK.to_owned()))
}

fn put_req(item: Item, condition: Option<Cond>) -> PutRequest {
    PutRequest {
        table: table(),
        item,
        condition,
    }
}

async fn open(path: &Path) -> Embedded {
    let e = Embedded::open(path).unwrap();
    e.create_table(T).await.unwrap();
    e
}

type Answer<T> = oneshot::Receiver<BackendResult<T>>;

/// A batch assembled by hand, to be committed as one.
#[derive(Default)]
struct Batch(Vec<Box<dyn Job>>);

impl Batch {
    fn put(&mut self, req: PutRequest) -> Answer<()> {
        let req = writes::check_put(req).unwrap();
        self.push(move |tables| writes::put(tables, &req))
    }

    fn update(&mut self, req: UpdateRequest) -> Answer<Item> {
        writes::check_update(&req).unwrap();
        self.push(move |tables| writes::update(tables, &req))
    }

    fn transact(&mut self, actions: Vec<TransactAction>) -> Answer<Vec<Capacity>> {
        let actions = writes::check_transact_write(actions).unwrap();
        self.push(move |tables| writes::transact_write(tables, &actions))
    }

    fn push<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut Tables<'_>) -> Applied<Output<T>> + Send + 'static,
    ) -> Answer<T> {
        let (request, answer) = writer::request(100, super::versions::Touched::Tables, work);
        self.0.push(Box::new(request));
        answer
    }

    fn commit(mut self, e: &Embedded) {
        let db = e.db.as_ref().unwrap();
        writer::commit(db, &mut self.0, &e.stats, &e.versions, None);
        assert!(self.0.is_empty(), "every request is answered");
    }
}

fn answer<T>(mut rx: Answer<T>) -> BackendResult<T> {
    rx.try_recv().expect("answered when the commit returns")
}

#[tokio::test]
async fn one_commit_keeps_each_requests_own_result() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(&dir.path().join("data.redb")).await;
    e.put(put_req(item("p", "old", &[("v", n("1"))]), None))
        .await
        .unwrap();
    let commits_before = e.commit_stats().0;

    let mut b = Batch::default();
    // 0: a plain put.
    let a = b.put(put_req(item("p", "a", &[("v", s("a1"))]), None));
    // 1: a create of an existing key: refused, the stored item reported.
    let refused = b.put(put_req(item("p", "old", &[("v", n("99"))]), not_there()));
    // 2, 3: two creates of one key in the same commit: the first wins, the second sees it.
    let first = b.put(put_req(item("p", "x", &[("by", s("first"))]), not_there()));
    let second = b.put(put_req(item("p", "x", &[("by", s("second"))]), not_there()));
    // 4: a condition on what request 0 wrote in this same commit.
    let after_a = b.update(UpdateRequest {
        table: table(),
        key: key("p", "a"),
        actions: vec![UpdateAction::Set("w".into(), s("seen"))],
        condition: Some(Cond::Compare("v".into(), CmpOp::Eq, s("a1"))),
    });
    // 5: an update that fails on the stored item (adding to a string): nothing written.
    let bad_update = b.update(UpdateRequest {
        table: table(),
        key: key("p", "a"),
        actions: vec![
            UpdateAction::Set("z".into(), s("never")),
            UpdateAction::Add("v".into(), n("1")),
        ],
        condition: None,
    });
    // 6: a transaction whose second action's condition fails after its first would write.
    let tx_cond = b.transact(vec![
        TransactAction::Put {
            table: table(),
            item: item("p", "t1", &[]),
            condition: None,
        },
        TransactAction::ConditionCheck {
            table: table(),
            key: key("p", "old"),
            condition: Cond::Compare("v".into(), CmpOp::Eq, n("2")),
        },
    ]);
    // 7: a transaction whose second action's update fails after its first would write.
    let tx_update = b.transact(vec![
        TransactAction::Delete {
            table: table(),
            key: key("p", "old"),
            condition: None,
        },
        TransactAction::Update {
            table: table(),
            key: key("p", "a"),
            actions: vec![UpdateAction::Add("v".into(), n("1"))],
            condition: None,
        },
    ]);
    // 8: a transaction that holds.
    let tx_ok = b.transact(vec![
        TransactAction::Put {
            table: table(),
            item: item("p", "t2", &[]),
            condition: not_there(),
        },
        TransactAction::Update {
            table: table(),
            key: key("p", "old"),
            actions: vec![UpdateAction::Add("v".into(), n("1"))],
            condition: None,
        },
    ]);
    // 9: a put to a table that does not exist.
    let missing = b.put(PutRequest {
        table: Arc::from("nope"),
        item: item("p", "m", &[]),
        condition: None,
    });
    b.commit(&e);

    assert!(answer(a).is_ok());
    match answer(refused) {
        Err(BackendError::ConditionFailed { old }) => {
            assert_eq!(old, Some(item("p", "old", &[("v", n("1"))])));
        }
        other => panic!("{other:?}"),
    }
    assert!(answer(first).is_ok());
    match answer(second) {
        Err(BackendError::ConditionFailed { old }) => {
            assert_eq!(old, Some(item("p", "x", &[("by", s("first"))])));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        answer(after_a).unwrap().value,
        item("p", "a", &[("v", s("a1")), ("w", s("seen"))])
    );
    assert!(
        matches!(
            answer(bad_update),
            Err(BackendError::Other(Error::InvalidRequest(_)))
        ),
        "adding to a string"
    );
    assert!(matches!(
        answer(tx_cond),
        Err(BackendError::TransactionConditionFailed { index: 1, .. })
    ));
    assert!(matches!(
        answer(tx_update),
        Err(BackendError::Other(Error::InvalidRequest(_)))
    ));
    assert_eq!(answer(tx_ok).unwrap().value.len(), 2);
    assert!(matches!(
        answer(missing),
        Err(BackendError::Other(Error::Unavailable(_)))
    ));

    // One commit for all of them.
    assert_eq!(e.commit_stats().0, commits_before + 1);
    // What the store holds: the successes only, nothing of the refused requests.
    assert_eq!(
        get(&e, &key("p", "a")).await,
        Some(item("p", "a", &[("v", s("a1")), ("w", s("seen"))]))
    );
    assert_eq!(
        get(&e, &key("p", "old")).await,
        Some(item("p", "old", &[("v", n("2"))])),
        "only the holding transaction changed it (not deleted by the failed one)"
    );
    assert_eq!(
        get(&e, &key("p", "x")).await,
        Some(item("p", "x", &[("by", s("first"))]))
    );
    assert_eq!(get(&e, &key("p", "t1")).await, None);
    assert_eq!(get(&e, &key("p", "t2")).await, Some(item("p", "t2", &[])));
}

#[tokio::test]
async fn tables_created_and_deleted_in_a_batch_are_seen_by_the_requests_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(&dir.path().join("data.redb")).await;
    e.put(put_req(item("p", "kept", &[]), None)).await.unwrap();
    let other: Arc<str> = Arc::from("other-table");
    let put_other = |sk: &str| PutRequest {
        table: other.clone(),
        item: item("p", sk, &[]),
        condition: None,
    };

    let mut b = Batch::default();
    // 0: a put to a table that does not exist yet: refused.
    let early = b.put(put_other("early"));
    // 1, 2: the table created, then written to, in the same commit.
    let created = b.push(|tables| {
        tables
            .create_table("other-table")
            .map_err(|e| match e {
                Failed::Refused(e) => Failed::Refused(BackendError::Other(e)),
                Failed::Torn(e) => Failed::Torn(e),
            })
            .map(|()| Output {
                value: (),
                capacity: Capacity::default(),
            })
    });
    let late = b.put(put_other("late"));
    // 3, 4: the store's own table written to (opened by request 0's check), deleted, then
    // written to again: refused, the table is gone.
    let before_delete = b.put(put_req(item("p", "before-delete", &[]), None));
    let deleted = b.push(|tables| {
        tables
            .delete_table(T)
            .map_err(|e| match e {
                Failed::Refused(e) => Failed::Refused(BackendError::Other(e)),
                Failed::Torn(e) => Failed::Torn(e),
            })
            .map(|()| Output {
                value: (),
                capacity: Capacity::default(),
            })
    });
    let after_delete = b.put(put_req(item("p", "after-delete", &[]), None));
    b.commit(&e);

    assert!(
        matches!(
            answer(early),
            Err(BackendError::Other(Error::Unavailable(_)))
        ),
        "a table that does not exist yet is not written to"
    );
    answer(created).unwrap();
    answer(late).unwrap();
    answer(before_delete).unwrap();
    answer(deleted).unwrap();
    assert!(
        matches!(
            answer(after_delete),
            Err(BackendError::Other(Error::Unavailable(_)))
        ),
        "a table deleted earlier in the batch is not written to"
    );

    let got = e
        .get(GetRequest {
            table: other.clone(),
            key: key("p", "late"),
            consistent: true,
        })
        .await
        .unwrap();
    assert!(got.value.is_some(), "the write after the create stands");
    let early_got = e
        .get(GetRequest {
            table: other,
            key: key("p", "early"),
            consistent: true,
        })
        .await
        .unwrap();
    assert!(early_got.value.is_none());
    assert_eq!(e.table_state(T).await.unwrap(), TableState::Missing);
    // Created again, the table is empty: its items went with it.
    e.create_table(T).await.unwrap();
    for sk in ["kept", "before-delete", "after-delete"] {
        assert_eq!(get(&e, &key("p", sk)).await, None, "{sk}");
    }
}

#[tokio::test]
async fn a_batch_that_breaks_while_writing_answers_everyone_unavailable_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(&dir.path().join("data.redb")).await;
    let commits_before = e.commit_stats().0;
    let mut b = Batch::default();
    let before = b.put(put_req(item("p", "1", &[]), None));
    // Writes, then fails as a write failing on the disk would.
    let torn = b.push(|tables| {
        let req = writes::check_put(put_req(item("p", "2", &[]), None)).map_err(Failed::Torn)?;
        writes::put(tables, &req)?;
        Err(Failed::Torn(Error::Unavailable("the disk said no".into())))
    });
    let after = b.put(put_req(item("p", "3", &[]), None));
    b.commit(&e);
    for r in [answer(before), answer(torn), answer(after)] {
        assert!(
            matches!(r, Err(BackendError::Other(Error::Unavailable(_)))),
            "{r:?}"
        );
    }
    assert_eq!(e.commit_stats().0, commits_before, "nothing committed");
    for sk in ["1", "2", "3"] {
        assert_eq!(get(&e, &key("p", sk)).await, None, "{sk}");
    }
}

#[tokio::test]
async fn a_batch_of_refusals_is_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(&dir.path().join("data.redb")).await;
    e.put(put_req(item("p", "1", &[]), None)).await.unwrap();
    let commits_before = e.commit_stats().0;
    let mut b = Batch::default();
    let answers: Vec<_> = (0..3)
        .map(|_| b.put(put_req(item("p", "1", &[("v", n("2"))]), not_there())))
        .collect();
    b.commit(&e);
    for a in answers {
        assert!(matches!(
            answer(a),
            Err(BackendError::ConditionFailed { .. })
        ));
    }
    assert_eq!(e.commit_stats().0, commits_before, "no fsync for nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_survive_reopening() {
    const WRITES: usize = 1000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let e = Arc::new(open(&path).await);
    let (commits_before, requests_before) = e.commit_stats();
    let tasks: Vec<_> = (0..WRITES)
        .map(|i| {
            let e = e.clone();
            tokio::spawn(async move {
                let v = format!("value {i}");
                e.put(put_req(
                    item("p", &format!("{i:04}"), &[("v", s(&v))]),
                    None,
                ))
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let (commits, requests) = e.commit_stats();
    let (commits, requests) = (commits - commits_before, requests - requests_before);
    eprintln!("{WRITES} concurrent writes: {commits} commits");
    assert_eq!(requests, WRITES as u64);
    assert!(
        commits * 10 <= WRITES as u64,
        "{commits} commits for {WRITES} concurrent writes: not grouped"
    );
    assert!(
        commits >= WRITES.div_ceil(MAX_BATCH) as u64,
        "{commits} commits: more than {MAX_BATCH} requests in one"
    );
    // Every acknowledged write is on the disk: drop the store (the file is free at once), open
    // it again, read them all.
    drop(Arc::into_inner(e).expect("no other owner"));
    let e = Embedded::open(&path).unwrap();
    for i in 0..WRITES {
        assert_eq!(
            get(&e, &key("p", &format!("{i:04}"))).await,
            Some(item(
                "p",
                &format!("{i:04}"),
                &[("v", s(&format!("value {i}")))]
            )),
            "{i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_key_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let e = Arc::new(open(&dir.path().join("data.redb")).await);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let e = e.clone();
            tokio::spawn(async move {
                let by = format!("{i}");
                let r = e
                    .put(put_req(item("p", "k", &[("by", s(&by))]), not_there()))
                    .await;
                (by, r)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (by, Ok(_)) => winners.push(by),
            (_, Err(BackendError::ConditionFailed { old: Some(_) })) => {}
            (_, other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        get(&e, &key("p", "k")).await,
        Some(item("p", "k", &[("by", s(&winners[0]))]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_answers_what_is_queued_and_frees_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let e = Arc::new(open(&path).await);
    // Callers that stop waiting: their requests may still be queued when the store goes.
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let e = e.clone();
            tokio::spawn(async move {
                e.put(put_req(item("p", &format!("{i:03}"), &[]), None))
                    .await
            })
        })
        .collect();
    tokio::task::yield_now().await;
    for t in &tasks {
        t.abort();
    }
    let mut acknowledged = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if let Ok(r) = t.await {
            r.unwrap();
            acknowledged.push(i);
        }
    }
    drop(Arc::into_inner(e).expect("no other owner"));
    // The writer has stopped and closed the file: it opens again at once.
    let e = Embedded::open(&path).unwrap();
    for i in acknowledged {
        assert!(
            get(&e, &key("p", &format!("{i:03}"))).await.is_some(),
            "{i}"
        );
    }
    // And a store that is dropped idle stops its writer too.
    drop(e);
    drop(Embedded::open(&path).unwrap());
}

#[tokio::test]
async fn deletes_and_batches_commit_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    {
        let e = open(&path).await;
        e.batch_write(BatchWriteRequest {
            table: table(),
            writes: (0..25)
                .map(|i| BatchWrite::Put(item("p", &format!("{i:02}"), &[])))
                .collect(),
        })
        .await
        .unwrap();
        e.delete(DeleteRequest {
            table: table(),
            key: key("p", "07"),
            condition: Some(Cond::Exists("nope".into())),
        })
        .await
        .unwrap_err();
        e.delete(DeleteRequest {
            table: table(),
            key: key("p", "08"),
            condition: None,
        })
        .await
        .unwrap();
        e.delete_table("other").await.unwrap();
    }
    let e = Embedded::open(&path).unwrap();
    assert!(get(&e, &key("p", "07")).await.is_some());
    assert_eq!(get(&e, &key("p", "08")).await, None);
    assert!(get(&e, &key("p", "24")).await.is_some());
}

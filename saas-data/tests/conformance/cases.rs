//! The cases: each gets a fresh harness (tenants A and B ready) and must hold on every backend
//! and model.

use saas_core::{TenantId, Tier};
use saas_data::isolation::IsolationKit;
use saas_data::{
    Condition, DataStore, Error, Key, MAX_ITEM_SIZE, Operation, Placement, Query, Record,
    TenantStatus, Update,
};
use serde::{Deserialize, Serialize};

use crate::harness::{Engine, Harness, Layout};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Todo {
    pub(crate) title: String,
    pub(crate) done: bool,
    #[serde(default)]
    pub(crate) rank: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

fn todo(title: &str) -> Todo {
    Todo {
        title: title.to_owned(),
        done: false,
        rank: 0,
        note: None,
    }
}

fn key(partition: &str, sort: &str) -> Key {
    Key::new(partition, sort).unwrap()
}

fn sorts<T>(items: &[Record<T>]) -> Vec<String> {
    items.iter().map(|r| r.key().sort().to_owned()).collect()
}

/// Every item of a query, page by page with `limit`; returns the sort keys and the page count.
async fn drain(data: &saas_data::DataScope, query: Query) -> (Vec<String>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut next = Some(query.clone());
    while let Some(q) = next.take() {
        let page = data.query::<Todo>(q).await.unwrap();
        pages += 1;
        all.extend(sorts(&page.items));
        if let Some(cursor) = page.next_cursor {
            assert!(!page.items.is_empty(), "a cursor on an empty page");
            next = Some(query.clone().after(cursor));
        }
        assert!(pages < 10_000, "paging does not end");
    }
    (all, pages)
}

async fn seed(data: &saas_data::DataScope, partition: &str, n: usize) -> Vec<String> {
    let items: Vec<(Key, Todo)> = (0..n)
        .map(|i| {
            (
                key(partition, &format!("T#{i:05}")),
                todo(&format!("todo {i}")),
            )
        })
        .collect();
    data.batch_put(&items).await.unwrap();
    items.iter().map(|(k, _)| k.sort().to_owned()).collect()
}

pub(crate) async fn crud_round_trip(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "T#1");
    assert!(matches!(data.get::<Todo>(&k).await, Err(Error::NotFound)));
    let v = data.put(&k, &todo("buy milk")).create_only().await.unwrap();
    assert_eq!(v, 1);
    let got = data.get::<Todo>(&k).await.unwrap();
    assert_eq!((got.version(), got.item()), (1, &todo("buy milk")));
    assert_eq!(got.key(), &k);
    let consistent = data.get::<Todo>(&k).consistent().await.unwrap();
    assert_eq!(consistent, got);
    data.delete(&k).await.unwrap();
    assert!(matches!(data.get::<Todo>(&k).await, Err(Error::NotFound)));
}

pub(crate) async fn create_only_conflicts(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "T#1");
    data.put(&k, &todo("first")).create_only().await.unwrap();
    let err = data
        .put(&k, &todo("second"))
        .create_only()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists), "{err:?}");
    assert_eq!(err.http_status(), 409);
    assert_eq!(data.get::<Todo>(&k).await.unwrap().item().title, "first");
    // B may create the same key in its own space.
    let b = h.store.scope(&h.b);
    assert_eq!(b.put(&k, &todo("b's")).create_only().await.unwrap(), 1);
}

pub(crate) async fn upsert_versions(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "T#1");
    for expected in 1..=4 {
        let v = data.put(&k, &todo(&format!("v{expected}"))).await.unwrap();
        assert_eq!(v, expected);
    }
    let got = data.get::<Todo>(&k).await.unwrap();
    assert_eq!((got.version(), got.item().title.as_str()), (4, "v4"));
    // An upsert with a condition that does not hold writes nothing.
    let err = data
        .put(&k, &todo("nope"))
        .condition(Condition::eq("done", &true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed), "{err:?}");
    assert_eq!(data.get::<Todo>(&k).await.unwrap().version(), 4);
}

pub(crate) async fn if_version(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "T#1");
    let err = data.put(&k, &todo("x")).if_version(1).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    data.put(&k, &todo("v1")).create_only().await.unwrap();
    assert_eq!(data.put(&k, &todo("v2")).if_version(1).await.unwrap(), 2);
    let err = data
        .put(&k, &todo("stale"))
        .if_version(1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionConflict {
                expected: 1,
                actual: Some(2)
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.http_status(), 412);
    assert_eq!(data.get::<Todo>(&k).await.unwrap().item().title, "v2");
}

pub(crate) async fn update(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "T#1");
    let err = data
        .update::<Todo>(&k, Update::new().set("done", &true))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound),
        "update never creates: {err:?}"
    );
    let mut first = todo("t");
    first.note = Some("n".into());
    data.put(&k, &first).create_only().await.unwrap();

    let r = data
        .update::<Todo>(
            &k,
            Update::new()
                .set("done", &true)
                .add("rank", 5)
                .remove("note"),
        )
        .await
        .unwrap();
    assert_eq!(r.version(), 2);
    assert_eq!(
        r.item(),
        &Todo {
            title: "t".into(),
            done: true,
            rank: 5,
            note: None
        }
    );
    let r = data
        .update::<Todo>(&k, Update::new().add("rank", -7))
        .if_version(2)
        .await
        .unwrap();
    assert_eq!((r.version(), r.item().rank), (3, -2));
    let err = data
        .update::<Todo>(&k, Update::new().set("title", "stale"))
        .if_version(2)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionConflict {
                expected: 2,
                actual: Some(3)
            }
        ),
        "{err:?}"
    );
    let err = data
        .update::<Todo>(&k, Update::new().set("title", "x"))
        .condition(Condition::eq("done", &false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed), "{err:?}");
    for bad in [
        Update::new(),
        Update::new().set("_version", &9),
        Update::new().set("_tenant", "tenant-b"),
        Update::new().set("title", "a").remove("title"),
    ] {
        let err = data.update::<Todo>(&k, bad).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    }
    let final_ = data.get::<Todo>(&k).await.unwrap();
    assert_eq!((final_.version(), final_.item().title.as_str()), (3, "t"));
}

pub(crate) async fn delete(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "T#1");
    assert!(matches!(data.delete(&k).await, Err(Error::NotFound)));
    data.put(&k, &todo("t")).create_only().await.unwrap();
    data.put(&k, &todo("t2")).await.unwrap();
    let err = data.delete(&k).if_version(1).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionConflict {
                expected: 1,
                actual: Some(2)
            }
        ),
        "{err:?}"
    );
    let err = data
        .delete(&k)
        .condition(Condition::eq("done", &true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed), "{err:?}");
    assert_eq!(data.get::<Todo>(&k).await.unwrap().version(), 2);
    data.delete(&k).if_version(2).await.unwrap();
    assert!(matches!(data.get::<Todo>(&k).await, Err(Error::NotFound)));
}

pub(crate) async fn conditions(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "T#1");
    let mut t = todo("alpha");
    t.rank = 10;
    data.put(&k, &t).create_only().await.unwrap();
    let holds = [
        Condition::eq("rank", &10),
        Condition::ne("rank", &9),
        Condition::gt("rank", &9),
        Condition::ge("rank", &10),
        Condition::lt("rank", &11),
        Condition::le("rank", &10),
        Condition::gt("rank", &-100),
        Condition::begins_with("title", "alp"),
        Condition::exists("title"),
        Condition::not_exists("note"),
        Condition::ne("note", "x"),
        Condition::eq("title", "alpha").and(Condition::eq("done", &false)),
        Condition::eq("title", "nope").or(Condition::eq("rank", &10)),
        Condition::eq("title", "nope").not(),
    ];
    for (i, c) in holds.into_iter().enumerate() {
        data.update::<Todo>(&k, Update::new().set("done", &false))
            .condition(c)
            .await
            .unwrap_or_else(|e| panic!("condition {i} should hold: {e}"));
    }
    let fails = [
        Condition::eq("rank", &9),
        Condition::gt("rank", &10),
        Condition::lt("rank", &10),
        // Numbers compare as numbers: 10 > 9 although "10" < "9" as text.
        Condition::lt("rank", &9),
        Condition::eq("rank", "10"),
        Condition::gt("title", &1),
        Condition::begins_with("title", "lp"),
        Condition::exists("note"),
        Condition::lt("note", "z"),
        Condition::eq("title", "alpha").and(Condition::eq("done", &true)),
        Condition::eq("title", "alpha").not(),
    ];
    for (i, c) in fails.into_iter().enumerate() {
        let err = data
            .update::<Todo>(&k, Update::new().set("done", &true))
            .condition(c)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ConditionFailed),
            "condition {i}: {err:?}"
        );
    }
    let err = data
        .delete(&k)
        .condition(Condition::exists("_tenant"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(!data.get::<Todo>(&k).await.unwrap().item().done);
}

pub(crate) async fn query_orders_and_ranges(h: Harness) {
    let data = h.store.scope(&h.a);
    let all = seed(&data, "todos", 25).await;
    seed(&data, "other", 3).await;
    let (asc, _) = drain(&data, Query::partition("todos")).await;
    assert_eq!(asc, all);
    let (desc, _) = drain(&data, Query::partition("todos").descending().limit(7)).await;
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(desc, rev);
    let (prefix, _) = drain(&data, Query::partition("todos").sort_prefix("T#0001")).await;
    assert_eq!(prefix, all[10..20].to_vec());
    let (between, _) = drain(
        &data,
        Query::partition("todos").sort_between("T#00003", "T#00006"),
    )
    .await;
    assert_eq!(between, all[3..=6].to_vec());
    let page = data
        .query::<Todo>(Query::partition("todos").sort_eq("T#00004"))
        .await
        .unwrap();
    assert_eq!(
        (sorts(&page.items), page.next_cursor),
        (vec![all[4].clone()], None)
    );
    for (q, expected) in [
        (
            Query::partition("todos").sort_lt("T#00003"),
            all[..3].to_vec(),
        ),
        (
            Query::partition("todos").sort_le("T#00003"),
            all[..=3].to_vec(),
        ),
        (
            Query::partition("todos").sort_gt("T#00021"),
            all[22..].to_vec(),
        ),
        (
            Query::partition("todos").sort_ge("T#00021"),
            all[21..].to_vec(),
        ),
    ] {
        assert_eq!(drain(&data, q.limit(2)).await.0, expected);
    }
    let (desc_range, _) = drain(
        &data,
        Query::partition("todos")
            .sort_lt("T#00003")
            .descending()
            .limit(1),
    )
    .await;
    assert_eq!(
        desc_range,
        vec![all[2].clone(), all[1].clone(), all[0].clone()]
    );
    let r = data
        .query::<Todo>(Query::partition("todos").sort_eq("T#00009"))
        .await
        .unwrap();
    assert_eq!(r.items[0].item().title, "todo 9");
    assert_eq!(r.items[0].version(), 1);
    for bad in [
        Query::partition("todos").limit(0),
        Query::partition("todos").limit(1001),
        Query::partition(""),
        Query::partition("todos").sort_between("b", "a"),
    ] {
        let err = data.query::<Todo>(bad).await.unwrap_err();
        assert_eq!(err.http_status(), 400, "{err:?}");
    }
}

pub(crate) async fn query_page_boundaries(h: Harness) {
    let data = h.store.scope(&h.a);
    // Empty partition: no items, no cursor.
    let page = data.query::<Todo>(Query::partition("none")).await.unwrap();
    assert!(page.items.is_empty() && page.next_cursor.is_none());
    let all = seed(&data, "todos", 10).await;
    // Exactly one full page: no cursor.
    let page = data
        .query::<Todo>(Query::partition("todos").limit(10))
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next_cursor.is_none()), (10, true));
    // Two exact pages: the second has no cursor.
    let (items, pages) = drain(&data, Query::partition("todos").limit(5)).await;
    assert_eq!((items, pages), (all.clone(), 2));
    // Limit 1: ten pages of one.
    let (items, pages) = drain(&data, Query::partition("todos").limit(1)).await;
    assert_eq!((items, pages), (all.clone(), 10));
    // Descending, uneven.
    let (items, pages) = drain(&data, Query::partition("todos").limit(3).descending()).await;
    assert_eq!(pages, 4);
    assert_eq!(items.len(), 10);
    // The limit may change between pages.
    let first = data
        .query::<Todo>(Query::partition("todos").limit(4))
        .await
        .unwrap();
    let rest = data
        .query::<Todo>(
            Query::partition("todos")
                .limit(100)
                .after(first.next_cursor.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(sorts(&rest.items), all[4..].to_vec());
    assert!(rest.next_cursor.is_none());
}

pub(crate) async fn query_thousand_items(h: Harness) {
    let data = h.store.scope(&h.a);
    let all = seed(&data, "todos", 1000).await;
    let page = data
        .query::<Todo>(Query::partition("todos").limit(1000))
        .await
        .unwrap();
    assert_eq!(sorts(&page.items), all);
    assert!(page.next_cursor.is_none());
    let (items, pages) = drain(&data, Query::partition("todos").limit(300)).await;
    assert_eq!((items.len(), pages), (1000, 4));
    assert_eq!(items, all);
    let page = data
        .query::<Todo>(Query::partition("todos").limit(999))
        .await
        .unwrap();
    assert!(page.next_cursor.is_some());
}

pub(crate) async fn cursor_attacks(h: Harness) {
    let a = h.store.scope(&h.a);
    let b = h.store.scope(&h.b);
    seed(&a, "todos", 5).await;
    seed(&b, "todos", 5).await;
    let q = Query::partition("todos").limit(2);
    let a_cursor = a
        .query::<Todo>(q.clone())
        .await
        .unwrap()
        .next_cursor
        .unwrap();
    let b_cursor = b
        .query::<Todo>(q.clone())
        .await
        .unwrap()
        .next_cursor
        .unwrap();
    // Swapped between tenants.
    for (scope, cursor) in [(&a, &b_cursor), (&b, &a_cursor)] {
        let err = scope
            .query::<Todo>(q.clone().after(cursor.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCursor), "{err:?}");
        assert_eq!(err.http_status(), 400);
    }
    // Another query of the same tenant.
    for other in [
        Query::partition("other").limit(2),
        Query::partition("todos").descending().limit(2),
        Query::partition("todos").sort_prefix("T#").limit(2),
    ] {
        let err = a
            .query::<Todo>(other.after(a_cursor.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCursor), "{err:?}");
    }
    // Edited: every character changed in turn.
    let chars: Vec<char> = a_cursor.chars().collect();
    for i in 0..chars.len() {
        let mut edited = chars.clone();
        edited[i] = if edited[i] == 'A' { 'B' } else { 'A' };
        let edited: String = edited.into_iter().collect();
        let err = a.query::<Todo>(q.clone().after(edited)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidCursor), "char {i}: {err:?}");
    }
    for garbage in ["", "x", "====", "%00", &"A".repeat(100_000)] {
        let err = a.query::<Todo>(q.clone().after(garbage)).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidCursor),
            "{garbage:.10}: {err:?}"
        );
    }
    // The genuine cursor still works.
    let page = a.query::<Todo>(q.after(a_cursor)).await.unwrap();
    assert_eq!(page.items.len(), 2);
}

pub(crate) async fn batches(h: Harness) {
    let data = h.store.scope(&h.a);
    let all = seed(&data, "todos", 120).await;
    let mut keys: Vec<Key> = all.iter().map(|s| key("todos", s)).collect();
    keys.extend((0..30).map(|i| key("todos", &format!("missing-{i}"))));
    keys.push(key("todos", &all[0])); // a repeated key
    let got = data.batch_get::<Todo>(&keys).await.unwrap();
    assert_eq!(got.len(), 151);
    for (i, record) in got.iter().enumerate() {
        match i {
            0..120 => assert_eq!(record.as_ref().unwrap().key().sort(), all[i]),
            120..150 => assert!(record.is_none()),
            _ => assert_eq!(record.as_ref().unwrap().key().sort(), all[0]),
        }
    }
    data.batch_delete(&keys[..60]).await.unwrap();
    let (left, _) = drain(&data, Query::partition("todos").limit(1000)).await;
    assert_eq!(left, all[60..].to_vec());
    let dup = vec![
        (key("todos", "d"), todo("1")),
        (key("todos", "d"), todo("2")),
    ];
    let err = data.batch_put(&dup).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(matches!(
        data.get::<Todo>(&key("todos", "d")).await,
        Err(Error::NotFound)
    ));
    // Empty batches are fine.
    data.batch_put::<Todo>(&[]).await.unwrap();
    assert!(data.batch_get::<Todo>(&[]).await.unwrap().is_empty());
}

pub(crate) async fn transactions(h: Harness) {
    let a = h.store.scope(&h.a);
    let (k1, k2, k3) = (key("todos", "1"), key("todos", "2"), key("outbox", "e1"));
    a.put(&k2, &todo("existing")).create_only().await.unwrap();

    // Action 1 fails (k2 exists): nothing is written.
    let err = h
        .store
        .transaction()
        .create(&a, &k1, &todo("new"))
        .create(&a, &k2, &todo("dup"))
        .create(&a, &k3, &todo("event"))
        .commit()
        .await
        .unwrap_err();
    match &err {
        Error::TransactionCanceled { index: 1, cause } => {
            assert!(matches!(**cause, Error::AlreadyExists), "{cause:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_conflict());
    assert!(matches!(a.get::<Todo>(&k1).await, Err(Error::NotFound)));
    assert!(matches!(a.get::<Todo>(&k3).await, Err(Error::NotFound)));

    // A version conflict names its action.
    let err = h
        .store
        .transaction()
        .create(&a, &k1, &todo("new"))
        .update(&a, &k2, Update::new().set("done", &true), Some(7))
        .commit()
        .await
        .unwrap_err();
    match &err {
        Error::TransactionCanceled { index: 1, cause } => assert!(
            matches!(
                **cause,
                Error::VersionConflict {
                    expected: 7,
                    actual: Some(1)
                }
            ),
            "{cause:?}"
        ),
        other => panic!("{other:?}"),
    }
    // A missing item for delete or check.
    let err = h
        .store
        .transaction()
        .delete(&a, &key("todos", "ghost"), None)
        .commit()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = h
        .store
        .transaction()
        .create(&a, &k1, &todo("new"))
        .check(&a, &k2, Condition::eq("done", &true))
        .commit()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TransactionCanceled { index: 1, cause } if matches!(**cause, Error::ConditionFailed)),
        "{err:?}"
    );

    // All succeed together, across a tenant and the system's items.
    let system = h
        .store
        .system("conformance: cross-scope transaction")
        .data();
    // A check on an item created in the same transaction touches it twice: refused up front.
    let twice = h
        .store
        .transaction()
        .create(&a, &k1, &todo("new"))
        .check(&a, &k1, Condition::exists("title"))
        .condition(Condition::eq("done", &false))
        .commit()
        .await;
    assert!(matches!(twice, Err(Error::InvalidRequest(_))), "{twice:?}");
    h.store
        .transaction()
        .create(&a, &k1, &todo("new"))
        .update(&a, &k2, Update::new().set("done", &true), Some(1))
        .create(&a, &k3, &todo("event"))
        .create(&system, &key("index", "tenant-a"), &todo("index entry"))
        .commit()
        .await
        .unwrap();
    assert_eq!(a.get::<Todo>(&k1).await.unwrap().version(), 1);
    let k2_now = a.get::<Todo>(&k2).await.unwrap();
    assert_eq!((k2_now.version(), k2_now.item().done), (2, true));
    assert!(system.get::<Todo>(&key("index", "tenant-a")).await.is_ok());
    // The system item is not tenant A's, nor the other way round.
    assert!(matches!(
        a.get::<Todo>(&key("index", "tenant-a")).await,
        Err(Error::NotFound)
    ));

    // Limits.
    let mut big = h.store.transaction();
    for i in 0..101 {
        big = big.create(&a, &key("many", &i.to_string()), &todo("x"));
    }
    assert!(matches!(big.commit().await, Err(Error::InvalidRequest(_))));
    let twice = h
        .store
        .transaction()
        .create(&a, &key("t", "same"), &todo("x"))
        .delete(&a, &key("t", "same"), None)
        .commit()
        .await;
    assert!(matches!(twice, Err(Error::InvalidRequest(_))), "{twice:?}");
    assert!(matches!(
        h.store.transaction().commit().await,
        Err(Error::InvalidRequest(_))
    ));
    let mut hundred = h.store.transaction();
    for i in 0..100 {
        hundred = hundred.create(&a, &key("many", &format!("{i:03}")), &todo("x"));
    }
    hundred.commit().await.unwrap();
    assert_eq!(
        drain(&a, Query::partition("many").limit(1000))
            .await
            .0
            .len(),
        100
    );
    // A scope of another store cannot join.
    let other = DataStore::builder(saas_data::Backend::in_memory())
        .pool("x")
        .build()
        .unwrap();
    let err = h
        .store
        .transaction()
        .create(&other.scope(&h.a), &k1, &todo("x"))
        .commit()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

pub(crate) async fn large_items(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("blobs", "big");
    // Near the limit (moto counts sizes its own way and stops at 405,000 bytes, so keep a margin
    // that fits both), counting the crate's own attributes and the field names.
    let near_len = MAX_ITEM_SIZE - 6_000;
    let mut near = todo("");
    near.note = Some("x".repeat(near_len));
    data.put(&k, &near).create_only().await.unwrap();
    let back = data.get::<Todo>(&k).await.unwrap();
    assert_eq!(back.item().note.as_ref().map(String::len), Some(near_len));
    let mut over = todo("");
    over.note = Some("x".repeat(MAX_ITEM_SIZE + 1));
    let err = data.put(&key("blobs", "over"), &over).await.unwrap_err();
    assert!(matches!(err, Error::ItemTooLarge { .. }), "{err:?}");
    assert_eq!(err.http_status(), 413);
    assert!(matches!(
        data.get::<Todo>(&key("blobs", "over")).await,
        Err(Error::NotFound)
    ));
    // An update that would grow the item past the limit writes nothing.
    let err = data
        .update::<Todo>(&k, Update::new().set("title", &"y".repeat(7_000)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ItemTooLarge { .. }), "{err:?}");
    assert_eq!(data.get::<Todo>(&k).await.unwrap().version(), 1);
    // Three large items on one page: the 1 MB pages of the store are followed.
    for i in 0..3 {
        data.put(&key("big3", &i.to_string()), &near).await.unwrap();
    }
    let page = data
        .query::<Todo>(Query::partition("big3").limit(10))
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next_cursor), (3, None));
}

pub(crate) async fn unicode_keys_sort_bytewise(h: Harness) {
    let data = h.store.scope(&h.a);
    let sorts_in = [
        "Zebra", "apple", "Äpfel", "日本", "émigré", "😀", "a", "ab", "a#b", "a b",
    ];
    for s in sorts_in {
        data.put(&key("ünïcödé 🗂", s), &todo(&format!("title {s} ✓")))
            .await
            .unwrap();
    }
    let mut expected: Vec<String> = sorts_in.iter().map(|s| s.to_string()).collect();
    expected.sort(); // Rust's str order is byte-wise, as DynamoDB's.
    let (got, _) = drain(&data, Query::partition("ünïcödé 🗂").limit(3)).await;
    assert_eq!(got, expected);
    let r = data.get::<Todo>(&key("ünïcödé 🗂", "日本")).await.unwrap();
    assert_eq!(r.item().title, "title 日本 ✓");
    let (p, _) = drain(&data, Query::partition("ünïcödé 🗂").sort_prefix("a")).await;
    assert_eq!(p, vec!["a", "a b", "a#b", "ab", "apple"]);
}

pub(crate) async fn reserved_attributes(h: Harness) {
    #[derive(Serialize)]
    struct Forged {
        title: String,
        _tenant: String,
    }
    let data = h.store.scope(&h.a);
    let k = key("todos", "forged");
    let err = data
        .put(
            &k,
            &Forged {
                title: "x".into(),
                _tenant: "tenant-b".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidItem(_)), "{err:?}");
    let mut map = std::collections::HashMap::new();
    map.insert("_version", 99);
    assert!(matches!(
        data.put(&k, &map).await,
        Err(Error::InvalidItem(_))
    ));
    assert!(matches!(
        data.put(&k, &5u8).await,
        Err(Error::InvalidItem(_))
    ));
    assert!(matches!(data.get::<Todo>(&k).await, Err(Error::NotFound)));
    // A stored item that is not a Todo.
    data.put(&k, &serde_json::json!({"title": 5}))
        .await
        .unwrap();
    assert!(matches!(
        data.get::<Todo>(&k).await,
        Err(Error::InvalidItem(_))
    ));
}

pub(crate) async fn isolation_kit(h: Harness) {
    let samples = || {
        vec![
            (key("todos", "T#1"), todo("b's secret")),
            (key("todos", "T#2"), todo("b's other")),
            (key("lists", "L#1"), todo("b's list")),
        ]
    };
    let mut kit = IsolationKit::new(&h.store, &h.a, &h.b);
    for (k, t) in samples() {
        kit = kit.sample(k, t);
    }
    let report = kit.run().await.unwrap();
    assert!(report.checks >= 30, "{report:?}");
    // And the other way round, on fresh keys.
    let mut kit = IsolationKit::new(&h.store, &h.b, &h.a);
    for (k, t) in samples() {
        kit = kit.sample(key(&format!("{}-2", k.partition()), k.sort()), t);
    }
    kit.run().await.unwrap();
}

pub(crate) async fn prefix_tenant_ids(h: Harness) {
    // "a" and "ab", "a_b" and "a-b": no one's key is a prefix of another's key space.
    let ids = ["a", "ab", "a_b", "a-b", "a-b-"];
    let mut scopes = Vec::new();
    for id in ids {
        let ctx = h.tenant(id, Tier::Basic).await;
        scopes.push((id, h.store.scope(&ctx)));
    }
    for (id, data) in &scopes {
        // Partitions with the key delimiter and other tenants' ids in them.
        for partition in ["b", "b#c", "#", "ab#x", "system", "#system#x"] {
            data.put(&key(partition, "s"), &todo(id))
                .create_only()
                .await
                .unwrap();
        }
    }
    for (id, data) in &scopes {
        for partition in ["b", "b#c", "#", "ab#x", "system", "#system#x"] {
            let page = data
                .query::<Todo>(Query::partition(partition))
                .await
                .unwrap();
            assert_eq!(page.items.len(), 1, "{id} {partition}");
            assert_eq!(&page.items[0].item().title, id);
        }
        // "b" of tenant "a" is not "b#c" of tenant "a", nor "ab"'s anything.
        let page = data
            .query::<Todo>(Query::partition("b").sort_prefix(""))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
    }
    let system = h.store.system("conformance: prefix check").data();
    assert!(
        system
            .query::<Todo>(Query::partition("x"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        system
            .query::<Todo>(Query::partition("system#x"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub(crate) async fn usage_is_reported(h: Harness) {
    let data = h.store.scope(&h.a);
    let k = key("todos", "1");
    data.put(&k, &todo("x")).await.unwrap();
    data.get::<Todo>(&k).await.unwrap();
    data.query::<Todo>(Query::partition("todos")).await.unwrap();
    data.update::<Todo>(&k, Update::new().set("done", &true))
        .await
        .unwrap();
    data.delete(&k).await.unwrap();
    let log = h.usage.lock().unwrap().clone();
    let mine: Vec<_> = log
        .iter()
        .filter(|(t, ..)| t.as_deref() == Some("tenant-a"))
        .collect();
    for op in [
        Operation::Put,
        Operation::Get,
        Operation::Query,
        Operation::Update,
        Operation::Delete,
    ] {
        assert!(
            mine.iter().any(|(_, o, ..)| *o == op),
            "{op:?} not reported: {log:?}"
        );
    }
    assert!(!log.iter().any(|(t, ..)| t.as_deref() == Some("tenant-b")));
    let consumed = data.consumed();
    let (read, write): (f64, f64) = mine
        .iter()
        .fold((0.0, 0.0), |(r, w), (_, _, r2, w2)| (r + r2, w + w2));
    assert!((consumed.read_units - read).abs() < 1e-9);
    assert!((consumed.write_units - write).abs() < 1e-9);
    if h.engine == Engine::Dynamo {
        // moto reports fixed figures per call (0.5 for an update, say), not DynamoDB's.
        assert!(
            consumed.write_units > 0.0 && consumed.read_units > 0.0,
            "{consumed:?}"
        );
    } else {
        // The embedded store computes DynamoDB's figures: 1 WCU per small write (put, update,
        // delete), 0.5 RCU per eventually consistent read (get, query).
        assert_eq!(consumed.write_units, 3.0, "{consumed:?}");
        assert_eq!(consumed.read_units, 1.0, "{consumed:?}");
    }
}

pub(crate) async fn system_items_are_apart(h: Harness) {
    let system = h.store.system("conformance: user index");
    let index = system.data();
    assert_eq!(index.tenant(), None);
    index
        .put(&key("todos", "1"), &todo("system's"))
        .await
        .unwrap();
    let a = h.store.scope(&h.a);
    assert!(matches!(
        a.get::<Todo>(&key("todos", "1")).await,
        Err(Error::NotFound)
    ));
    a.put(&key("todos", "1"), &todo("a's")).await.unwrap();
    assert_eq!(
        index
            .get::<Todo>(&key("todos", "1"))
            .await
            .unwrap()
            .item()
            .title,
        "system's"
    );
    // System access to a named tenant is that tenant's data.
    let as_a = system.tenant(&TenantId::new("tenant-a").unwrap());
    assert_eq!(
        as_a.get::<Todo>(&key("todos", "1"))
            .await
            .unwrap()
            .item()
            .title,
        "a's"
    );
    assert_eq!(system.reason(), "conformance: user index");
}

pub(crate) async fn placement_refusals(h: Harness) {
    let stranger = crate::harness::ctx("stranger", Tier::Basic);
    let data = h.store.scope(&stranger);
    let result = data.get::<Todo>(&key("todos", "1")).await;
    match h.layout {
        // The pool has room for everyone: a tenant with no items simply has none.
        Layout::Pool => assert!(matches!(result, Err(Error::NotFound))),
        // No silo table: the store is not ready for this tenant.
        Layout::Silo => assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}"),
        // Not registered: refused before any read.
        Layout::Mixed => {
            assert!(
                matches!(result, Err(Error::TenantNotProvisioned(_))),
                "{result:?}"
            );
            let registry = h.store.system("conformance: registry").registry();
            let b = TenantId::new("tenant-b").unwrap();
            let record = registry.get(&b).await.unwrap().unwrap();
            assert_eq!(record.placement, Placement::Silo);
            assert_eq!(record.table, format!("{}tenant-b", h.prefix));
            let a = registry
                .get(&TenantId::new("tenant-a").unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (a.placement, a.table.as_str()),
                (Placement::Pool, h.pool_table.as_str())
            );
            // Onboarding again is idempotent.
            assert_eq!(registry.onboard(&b, Tier::Premium).await.unwrap(), record);
            // Suspension takes effect (the registry invalidates this process's cache).
            let scope_b = h.store.scope(&h.b);
            scope_b.put(&key("todos", "1"), &todo("b")).await.unwrap();
            registry
                .set_status(&b, TenantStatus::Suspended)
                .await
                .unwrap();
            let err = scope_b.get::<Todo>(&key("todos", "1")).await.unwrap_err();
            assert!(matches!(err, Error::TenantNotProvisioned(_)), "{err:?}");
            assert_eq!(err.http_status(), 403);
            registry.set_status(&b, TenantStatus::Active).await.unwrap();
            assert!(scope_b.get::<Todo>(&key("todos", "1")).await.is_ok());
            // A per-tenant override: a basic tenant in a silo.
            let c = TenantId::new("tenant-c").unwrap();
            let rc = registry
                .onboard(&c, Tier::Basic)
                .placement(Placement::Silo)
                .await
                .unwrap();
            assert_eq!(rc.placement, Placement::Silo);
            let listed = registry.list(100, None).await.unwrap();
            let ids: Vec<_> = listed
                .items
                .iter()
                .map(|r| r.item().tenant.to_string())
                .collect();
            assert_eq!(ids, vec!["tenant-a", "tenant-b", "tenant-c"]);
            // Offboarding removes the silo table and the record.
            registry.offboard(&c).await.unwrap();
            assert!(registry.get(&c).await.unwrap().is_none());
        }
    }
}

pub(crate) async fn write_shards(h: Harness) {
    let hot = TenantId::new("hot").unwrap();
    let ctx = crate::harness::ctx("hot", Tier::Basic);
    let store = match h.layout {
        Layout::Mixed => {
            h.store
                .system("conformance: hot tenant")
                .registry()
                .onboard(&hot, Tier::Basic)
                .write_shards(4)
                .await
                .unwrap();
            h.store.clone()
        }
        Layout::Pool | Layout::Silo => {
            let _ = h.tenant("hot", Tier::Basic).await;
            h.rebuilt(|b| b.write_shards(&hot, 4))
        }
    };
    let data = store.scope(&ctx);
    let all = seed(&data, "events", 57).await;
    for (i, s) in all.iter().enumerate().step_by(7) {
        assert_eq!(
            data.get::<Todo>(&key("events", s))
                .await
                .unwrap()
                .item()
                .title,
            format!("todo {i}")
        );
    }
    for limit in [1, 5, 10, 57, 100] {
        let (got, _) = drain(&data, Query::partition("events").limit(limit)).await;
        assert_eq!(got, all, "limit {limit}");
        let (desc, _) = drain(&data, Query::partition("events").limit(limit).descending()).await;
        let mut rev = all.clone();
        rev.reverse();
        assert_eq!(desc, rev, "limit {limit} descending");
    }
    let (between, _) = drain(
        &data,
        Query::partition("events")
            .sort_between("T#00010", "T#00019")
            .limit(3),
    )
    .await;
    assert_eq!(between, all[10..20].to_vec());
    let page = data
        .query::<Todo>(Query::partition("events").limit(57))
        .await
        .unwrap();
    assert!(page.next_cursor.is_none());
    data.batch_delete(&[key("events", &all[0])]).await.unwrap();
    let txn = store
        .transaction()
        .update(
            &data,
            &key("events", &all[1]),
            Update::new().set("done", &true),
            Some(1),
        )
        .create(&data, &key("events", &all[0]), &todo("again"));
    txn.commit().await.unwrap();
    assert!(
        data.get::<Todo>(&key("events", &all[1]))
            .await
            .unwrap()
            .item()
            .done
    );
}

pub(crate) async fn shared_table_names_are_refused(h: Harness) {
    // The silo prefix is `cf…-`, the pool table (pool and mixed models) `cf…-pool` and the
    // control table `cf…-control`: tenants `pool` and `control` would get a shared table as
    // their own (and delete it when offboarded).
    for id in ["pool", "control"] {
        let tenant = TenantId::new(id).unwrap();
        let ctx = crate::harness::ctx(id, Tier::Premium);
        let data = h.store.scope(&ctx);
        match h.layout {
            // No table per tenant: the id is as good as any.
            Layout::Pool => {
                data.put(&key("todos", "1"), &todo(id)).await.unwrap();
                assert_eq!(
                    data.get::<Todo>(&key("todos", "1"))
                        .await
                        .unwrap()
                        .item()
                        .title,
                    id
                );
            }
            // The silo model has no pool table: only `control` would take a shared one.
            Layout::Silo if id == "pool" => {
                let table = h
                    .store
                    .provisioner()
                    .create_tenant_table(&tenant)
                    .await
                    .unwrap();
                assert_eq!(table, h.pool_table);
                data.put(&key("todos", "1"), &todo(id)).await.unwrap();
            }
            Layout::Silo => {
                let provisioner = h.store.provisioner();
                let err = provisioner.create_tenant_table(&tenant).await.unwrap_err();
                assert!(matches!(err, Error::TenantNotProvisioned(_)), "{err:?}");
                let err = provisioner.delete_tenant_table(&tenant).await.unwrap_err();
                assert!(matches!(err, Error::TenantNotProvisioned(_)), "{err:?}");
                let err = data.put(&key("todos", "1"), &todo(id)).await.unwrap_err();
                assert!(matches!(err, Error::TenantNotProvisioned(_)), "{err:?}");
                let err = data.get::<Todo>(&key("todos", "1")).await.unwrap_err();
                assert!(matches!(err, Error::TenantNotProvisioned(_)), "{err:?}");
            }
            Layout::Mixed => {
                let registry = h.store.system("conformance: shared table names").registry();
                let err = registry.onboard(&tenant, Tier::Premium).await.unwrap_err();
                assert!(matches!(err, Error::TenantNotProvisioned(_)), "{err:?}");
                assert!(registry.get(&tenant).await.unwrap().is_none());
                // Pooled by an override, the same id is fine, and offboarding drops no table.
                let record = registry
                    .onboard(&tenant, Tier::Premium)
                    .placement(Placement::Pool)
                    .await
                    .unwrap();
                assert_eq!(record.table, h.pool_table);
                data.put(&key("todos", "1"), &todo(id)).await.unwrap();
                registry.offboard(&tenant).await.unwrap();
            }
        }
    }
    // The shared tables are all still there.
    let a = h.store.scope(&h.a);
    a.put(&key("todos", "after"), &todo("still here"))
        .await
        .unwrap();
    let system = h.store.system("conformance: shared table names").data();
    system
        .put(&key("index", "after"), &todo("still here"))
        .await
        .unwrap();
}

//! The embedded backend on the raw trait.

use std::ops::Bound;
use std::sync::Arc;

use redb::TableDefinition;
use serde_dynamo::AttributeValue;

use super::db::{ItemKey, ItemValue, items_table_name};
use super::ops::{is_empty_range, prefix_end, sort_range};
use super::*;
use crate::backend::{BATCH_GET_MAX, BackendError, DeleteRequest, PhysKey, TRANSACT_MAX};
use crate::error::Error;
use crate::expr::{CmpOp, Cond, UpdateAction};
use crate::item::{Item, MAX_ITEM_SIZE, PK, SK, item_size};
use crate::query::SortCondition;
use crate::usage::read_units;

pub(super) const T: &str = "items";

async fn store() -> Embedded {
    let e = Embedded::in_memory();
    e.create_table(T).await.unwrap();
    e
}

pub(super) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

pub(super) fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.to_owned())
}

pub(super) fn key(pk: &str, sk: &str) -> PhysKey {
    PhysKey {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
    }
}

pub(super) fn item(pk: &str, sk: &str, attrs: &[(&str, AttributeValue)]) -> Item {
    let mut item: Item = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    item.insert(PK.to_owned(), s(pk));
    item.insert(SK.to_owned(), s(sk));
    item
}

pub(super) fn table() -> Arc<str> {
    Arc::from(T)
}

fn cond(name: &str, op: CmpOp, v: AttributeValue) -> Cond {
    Cond::Compare(name.to_owned(), op, v)
}

async fn put(e: &Embedded, item: Item, condition: Option<Cond>) -> BackendResult<()> {
    e.put(PutRequest {
        table: table(),
        item,
        condition,
    })
    .await
}

pub(super) async fn get(e: &Embedded, k: &PhysKey) -> Option<Item> {
    e.get(GetRequest {
        table: table(),
        key: k.clone(),
        consistent: true,
    })
    .await
    .unwrap()
    .value
    .map(|item| item.into_attributes().unwrap())
}

async fn query(
    e: &Embedded,
    pk: &str,
    sort: SortCondition,
    descending: bool,
    limit: u32,
    start_after: Option<&str>,
) -> QueryOutput {
    e.query(QueryRequest {
        table: table(),
        pk: pk.to_owned(),
        sort,
        descending,
        limit,
        start_after: start_after.map(str::to_owned),
        consistent: false,
    })
    .await
    .unwrap()
    .value
}

fn sorts(out: &QueryOutput) -> Vec<&str> {
    out.items
        .iter()
        .map(|i| i.sort().expect("no sort key"))
        .collect()
}

/// Sort keys in byte order, with non-ASCII characters where a naive order would differ.
const ORDERED: &[&str] = &[
    "A",
    "B",
    "Z",
    "a",
    "aa",
    "b",
    "z",
    "~",
    "é",
    "ü",
    "ｚ",
    "\u{10000}",
    "😀",
];

async fn filled() -> Embedded {
    let e = store().await;
    // Stored out of order, beside neighbouring partitions.
    for sk in ORDERED.iter().rev() {
        put(&e, item("p", sk, &[]), None).await.unwrap();
    }
    for pk in ["o", "p\u{0}", "pa", "q"] {
        put(&e, item(pk, "a", &[]), None).await.unwrap();
    }
    e
}

#[tokio::test]
async fn queries_sort_bytewise_in_both_directions() {
    let mut bytewise = ORDERED.to_vec();
    bytewise.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(bytewise, ORDERED);
    let e = filled().await;
    let up = query(&e, "p", SortCondition::All, false, 100, None).await;
    assert_eq!(sorts(&up), ORDERED);
    assert_eq!(up.last_sort, None);
    let down = query(&e, "p", SortCondition::All, true, 100, None).await;
    let mut reversed = ORDERED.to_vec();
    reversed.reverse();
    assert_eq!(sorts(&down), reversed);
    assert_eq!(down.last_sort, None);
    let empty = query(&e, "nothing", SortCondition::All, false, 100, None).await;
    assert!(empty.items.is_empty() && empty.last_sort.is_none());
}

#[tokio::test]
async fn queries_continue_after_a_key_and_stop_at_the_limit() {
    let e = filled().await;
    let page = query(&e, "p", SortCondition::All, false, 3, None).await;
    assert_eq!(sorts(&page), ["A", "B", "Z"]);
    assert_eq!(page.last_sort.as_deref(), Some("Z"));
    let next = query(&e, "p", SortCondition::All, false, 3, Some("Z")).await;
    assert_eq!(sorts(&next), ["a", "aa", "b"]);
    // A start key that is not stored also works.
    let next = query(&e, "p", SortCondition::All, false, 2, Some("ab")).await;
    assert_eq!(sorts(&next), ["b", "z"]);
    let down = query(&e, "p", SortCondition::All, true, 2, Some("é")).await;
    assert_eq!(sorts(&down), ["~", "z"]);
    assert_eq!(down.last_sort.as_deref(), Some("z"));
    // The limit reached on the last item: the key is still set, as DynamoDB does.
    let all = query(&e, "p", SortCondition::All, false, 13, None).await;
    assert_eq!(all.items.len(), 13);
    assert_eq!(all.last_sort.as_deref(), Some("😀"));
    let after_last = query(&e, "p", SortCondition::All, false, 13, Some("😀")).await;
    assert!(after_last.items.is_empty() && after_last.last_sort.is_none());
    let before_first = query(&e, "p", SortCondition::All, true, 5, Some("A")).await;
    assert!(before_first.items.is_empty());
    // A start key outside the sort range leaves the range as it is.
    let ge = query(&e, "p", SortCondition::Ge("b".into()), false, 2, Some("a")).await;
    assert_eq!(sorts(&ge), ["b", "z"]);
}

#[tokio::test]
async fn queries_select_by_sort_condition() {
    let e = filled().await;
    let cases: Vec<(SortCondition, bool, Vec<&str>)> = vec![
        (SortCondition::Eq("aa".into()), false, vec!["aa"]),
        (SortCondition::Eq("missing".into()), false, vec![]),
        (
            SortCondition::BeginsWith("a".into()),
            false,
            vec!["a", "aa"],
        ),
        (SortCondition::BeginsWith("a".into()), true, vec!["aa", "a"]),
        (
            SortCondition::BeginsWith(String::new()),
            false,
            ORDERED.to_vec(),
        ),
        (SortCondition::BeginsWith("é".into()), true, vec!["é"]),
        (
            SortCondition::BeginsWith("\u{10FFFF}".into()),
            false,
            vec![],
        ),
        (
            SortCondition::Between("b".into(), "ü".into()),
            false,
            vec!["b", "z", "~", "é", "ü"],
        ),
        (
            SortCondition::Between("b".into(), "ü".into()),
            true,
            vec!["ü", "é", "~", "z", "b"],
        ),
        (SortCondition::Lt("a".into()), false, vec!["A", "B", "Z"]),
        (
            SortCondition::Le("a".into()),
            true,
            vec!["a", "Z", "B", "A"],
        ),
        (
            SortCondition::Gt("ｚ".into()),
            false,
            vec!["\u{10000}", "😀"],
        ),
        (
            SortCondition::Ge("ｚ".into()),
            true,
            vec!["😀", "\u{10000}", "ｚ"],
        ),
    ];
    for (sort, descending, expected) in cases {
        let out = query(&e, "p", sort.clone(), descending, 100, None).await;
        assert_eq!(sorts(&out), expected, "{sort:?} descending={descending}");
    }
}

#[test]
fn prefix_ends_and_empty_ranges() {
    assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
    assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_end("\u{10FFFF}"), None);
    assert_eq!(prefix_end(""), None);
    let (l, h) = sort_range(
        &SortCondition::Between("b".into(), "d".into()),
        Some("d"),
        false,
    );
    assert!(is_empty_range(&l, &h));
    let (l, h) = sort_range(&SortCondition::Eq("b".into()), Some("b"), true);
    assert!(is_empty_range(&l, &h));
    let (l, h) = sort_range(&SortCondition::Lt("b".into()), Some("a"), false);
    assert!(!is_empty_range(&l, &h));
    assert!(is_empty_range(
        &Bound::Unbounded,
        &Bound::Excluded(String::new())
    ));
}

#[tokio::test]
async fn a_query_stops_after_the_item_that_crosses_one_megabyte() {
    let e = store().await;
    let big = |sk: &str| item("p", sk, &[("data", s(&"x".repeat(MAX_ITEM_SIZE - 100)))]);
    for sk in ["1", "2", "3", "4"] {
        put(&e, big(sk), None).await.unwrap();
    }
    let page = query(&e, "p", SortCondition::All, false, 10, None).await;
    assert_eq!(sorts(&page), ["1", "2", "3"]);
    assert_eq!(page.last_sort.as_deref(), Some("3"));
    let rest = query(&e, "p", SortCondition::All, false, 10, Some("3")).await;
    assert_eq!(sorts(&rest), ["4"]);
    assert_eq!(rest.last_sort, None);
    let down = query(&e, "p", SortCondition::All, true, 10, None).await;
    assert_eq!(sorts(&down), ["4", "3", "2"]);
    assert_eq!(down.last_sort.as_deref(), Some("2"));
    // 3 items of ~400 KB, eventually consistent: (3 × 400 KB) / 4 KB / 2.
    let out = e
        .query(QueryRequest {
            table: table(),
            pk: "p".into(),
            sort: SortCondition::All,
            descending: false,
            limit: 10,
            start_after: None,
            consistent: false,
        })
        .await
        .unwrap();
    let bytes: usize = out
        .value
        .items
        .iter()
        .map(|i| item_size(&i.clone().into_attributes().unwrap()))
        .sum();
    assert_eq!(out.capacity, Capacity::new(read_units(bytes, false), 0.0));
    assert_eq!(out.capacity.read_units, 150.0);
}

#[tokio::test]
async fn puts_are_conditional_and_return_the_old_item() {
    let e = store().await;
    let k = key("p", "s");
    let first = item("p", "s", &[("v", n("1"))]);
    let absent = Cond::NotExists(PK.into());
    put(&e, first.clone(), Some(absent.clone())).await.unwrap();
    match put(&e, item("p", "s", &[("v", n("2"))]), Some(absent)).await {
        Err(BackendError::ConditionFailed { old }) => assert_eq!(old, Some(first.clone())),
        other => panic!("{other:?}"),
    }
    match put(&e, first.clone(), Some(cond("v", CmpOp::Eq, n("1")))).await {
        Ok(_) => {}
        other => panic!("{other:?}"),
    }
    match put(&e, item("p", "t", &[]), Some(Cond::Exists(PK.into()))).await {
        Err(BackendError::ConditionFailed { old: None }) => {}
        other => panic!("{other:?}"),
    }
    // The whole item is replaced.
    let second = item("p", "s", &[("w", s("x"))]);
    put(&e, second.clone(), Some(cond("v", CmpOp::Lt, n("1.5"))))
        .await
        .unwrap();
    assert_eq!(get(&e, &k).await, Some(second));
    assert_eq!(get(&e, &key("p", "t")).await, None);
}

#[tokio::test]
async fn every_condition_operator_on_stored_items() {
    let e = store().await;
    let stored = item(
        "p",
        "s",
        &[
            ("n", n("10")),
            ("neg", n("-1")),
            ("k", n("1e3")),
            ("name", s("tmp-1")),
        ],
    );
    put(&e, stored, None).await.unwrap();
    let holds = |c: Cond| {
        let e = &e;
        async move {
            match put(
                e,
                item(
                    "p",
                    "s",
                    &[
                        ("n", n("10")),
                        ("neg", n("-1")),
                        ("k", n("1e3")),
                        ("name", s("tmp-1")),
                    ],
                ),
                Some(c),
            )
            .await
            {
                Ok(_) => true,
                Err(BackendError::ConditionFailed { old: Some(_) }) => false,
                Err(other) => panic!("{other:?}"),
            }
        }
    };
    assert!(holds(cond("n", CmpOp::Gt, n("9"))).await);
    assert!(!holds(cond("n", CmpOp::Lt, n("9"))).await);
    assert!(holds(cond("neg", CmpOp::Lt, n("0.5"))).await);
    assert!(holds(cond("k", CmpOp::Eq, n("1000"))).await);
    assert!(holds(cond("k", CmpOp::Le, n("1000.0"))).await);
    assert!(holds(cond("k", CmpOp::Ge, n("999.99"))).await);
    assert!(!holds(cond("k", CmpOp::Ne, n("1000"))).await);
    assert!(holds(cond("missing", CmpOp::Ne, n("1"))).await);
    assert!(!holds(cond("missing", CmpOp::Eq, n("1"))).await);
    assert!(!holds(cond("missing", CmpOp::Lt, n("1"))).await);
    assert!(!holds(cond("name", CmpOp::Gt, n("1"))).await);
    assert!(holds(cond("name", CmpOp::Ne, n("1"))).await);
    assert!(holds(cond("name", CmpOp::Gt, s("tmp-0"))).await);
    assert!(holds(Cond::BeginsWith("name".into(), "tmp-".into())).await);
    assert!(!holds(Cond::BeginsWith("n".into(), "1".into())).await);
    assert!(holds(Cond::Exists("name".into())).await);
    assert!(holds(Cond::NotExists("other".into())).await);
    assert!(!holds(Cond::Not(Box::new(Cond::Exists("name".into())))).await);
    assert!(
        holds(Cond::And(vec![
            Cond::Exists("n".into()),
            cond("n", CmpOp::Eq, n("10.0"))
        ]))
        .await
    );
    assert!(
        holds(Cond::Or(vec![
            Cond::Exists("x".into()),
            Cond::Exists("n".into())
        ]))
        .await
    );
    assert!(
        !holds(Cond::Or(vec![
            Cond::Exists("x".into()),
            Cond::Exists("y".into())
        ]))
        .await
    );
    match put(&e, item("p", "s", &[]), Some(Cond::Invalid("bad".into()))).await {
        Err(BackendError::Other(Error::InvalidRequest(_))) => {}
        other => panic!("{other:?}"),
    }
}

async fn update(
    e: &Embedded,
    k: &PhysKey,
    actions: Vec<UpdateAction>,
    condition: Option<Cond>,
) -> BackendResult<Item> {
    e.update(UpdateRequest {
        table: table(),
        key: k.clone(),
        actions,
        condition,
    })
    .await
}

#[tokio::test]
async fn updates_apply_actions_and_create_missing_items() {
    let e = store().await;
    let k = key("p", "s");
    let created = update(
        &e,
        &k,
        vec![
            UpdateAction::Set("title".into(), s("new")),
            UpdateAction::Add("count".into(), n("5")),
        ],
        Some(Cond::NotExists(PK.into())),
    )
    .await
    .unwrap();
    assert_eq!(
        created.value,
        item("p", "s", &[("title", s("new")), ("count", n("5"))])
    );
    assert_eq!(created.capacity, Capacity::new(0.0, 1.0));
    let changed = update(
        &e,
        &k,
        vec![
            UpdateAction::Remove("title".into()),
            UpdateAction::Add("count".into(), n("-7")),
            UpdateAction::Set("done".into(), AttributeValue::Bool(true)),
        ],
        Some(cond("count", CmpOp::Eq, n("5"))),
    )
    .await
    .unwrap()
    .value;
    let expected = item(
        "p",
        "s",
        &[("count", n("-2")), ("done", AttributeValue::Bool(true))],
    );
    assert_eq!(changed, expected);
    assert_eq!(get(&e, &k).await, Some(expected.clone()));
    // A failed condition returns the stored item and changes nothing.
    match update(
        &e,
        &k,
        vec![UpdateAction::Remove("done".into())],
        Some(cond("count", CmpOp::Gt, n("0"))),
    )
    .await
    {
        Err(BackendError::ConditionFailed { old }) => assert_eq!(old, Some(expected.clone())),
        other => panic!("{other:?}"),
    }
    match update(
        &e,
        &key("p", "absent"),
        vec![],
        Some(Cond::Exists(PK.into())),
    )
    .await
    {
        Err(BackendError::ConditionFailed { old: None }) => {}
        other => panic!("{other:?}"),
    }
    // ADD on something that is not a number.
    for bad in [
        vec![UpdateAction::Add("done".into(), n("1"))],
        vec![UpdateAction::Add("count".into(), s("1"))],
        vec![UpdateAction::Set(PK.into(), s("other"))],
    ] {
        match update(&e, &k, bad, None).await {
            Err(BackendError::Other(Error::InvalidRequest(_))) => {}
            other => panic!("{other:?}"),
        }
    }
    // Too large: refused with its size, nothing written.
    match update(
        &e,
        &k,
        vec![UpdateAction::Set(
            "big".into(),
            s(&"x".repeat(MAX_ITEM_SIZE)),
        )],
        None,
    )
    .await
    {
        Err(BackendError::Other(Error::ItemTooLarge {
            size: Some(size),
            limit,
        })) => {
            assert!(size > MAX_ITEM_SIZE);
            assert_eq!(limit, MAX_ITEM_SIZE);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&e, &k).await, Some(expected));
    assert_eq!(get(&e, &key("p", "absent")).await, None);
}

#[tokio::test]
async fn deletes_are_conditional() {
    let e = store().await;
    let k = key("p", "s");
    let it = item("p", "s", &[("v", n("1"))]);
    let delete = |c: Option<Cond>| {
        e.delete(DeleteRequest {
            table: table(),
            key: k.clone(),
            condition: c,
        })
    };
    // Absent and unconditional: fine, 1 unit.
    assert_eq!(
        delete(None).await.unwrap().capacity,
        Capacity::new(0.0, 1.0)
    );
    match delete(Some(Cond::Exists(PK.into()))).await {
        Err(BackendError::ConditionFailed { old: None }) => {}
        other => panic!("{other:?}"),
    }
    put(&e, it.clone(), None).await.unwrap();
    match delete(Some(cond("v", CmpOp::Eq, n("2")))).await {
        Err(BackendError::ConditionFailed { old }) => assert_eq!(old, Some(it.clone())),
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&e, &k).await, Some(it));
    delete(Some(cond("v", CmpOp::Eq, n("1")))).await.unwrap();
    assert_eq!(get(&e, &k).await, None);
}

fn tx_put(sk: &str, condition: Option<Cond>) -> TransactAction {
    TransactAction::Put {
        table: table(),
        item: item("p", sk, &[]),
        condition,
    }
}

#[tokio::test]
async fn transactions_are_all_or_nothing() {
    let e = store().await;
    put(&e, item("p", "3", &[("v", n("1"))]), None)
        .await
        .unwrap();
    put(&e, item("p", "4", &[("v", n("1"))]), None)
        .await
        .unwrap();
    let actions = vec![
        tx_put("0", None),
        TransactAction::Update {
            table: table(),
            key: key("p", "1"),
            actions: vec![UpdateAction::Add("v".into(), n("1"))],
            condition: None,
        },
        TransactAction::Delete {
            table: table(),
            key: key("p", "4"),
            condition: None,
        },
        TransactAction::ConditionCheck {
            table: table(),
            key: key("p", "3"),
            condition: cond("v", CmpOp::Eq, n("2")),
        },
    ];
    match e.transact_write(actions.clone()).await {
        Err(BackendError::TransactionConditionFailed { index: 3, old }) => {
            assert_eq!(old, Some(item("p", "3", &[("v", n("1"))])));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&e, &key("p", "0")).await, None);
    assert_eq!(get(&e, &key("p", "1")).await, None);
    assert!(get(&e, &key("p", "4")).await.is_some());
    // With the check holding, everything is applied; the checked item is unchanged.
    let mut actions = actions;
    actions[3] = TransactAction::ConditionCheck {
        table: table(),
        key: key("p", "3"),
        condition: cond("v", CmpOp::Eq, n("1")),
    };
    let out = e.transact_write(actions).await.unwrap();
    // Writes: 2 × 1 WCU; the check: 2 × a consistent read.
    assert_eq!(
        out.value,
        vec![
            Capacity::new(0.0, 2.0),
            Capacity::new(0.0, 2.0),
            Capacity::new(0.0, 2.0),
            Capacity::new(2.0, 0.0),
        ]
    );
    assert_eq!(out.capacity, Capacity::new(2.0, 6.0));
    assert_eq!(get(&e, &key("p", "0")).await, Some(item("p", "0", &[])));
    assert_eq!(
        get(&e, &key("p", "1")).await,
        Some(item("p", "1", &[("v", n("1"))]))
    );
    assert_eq!(get(&e, &key("p", "4")).await, None);
    assert_eq!(
        get(&e, &key("p", "3")).await,
        Some(item("p", "3", &[("v", n("1"))]))
    );
}

#[tokio::test]
async fn transactions_are_validated_first() {
    let e = store().await;
    let invalid = |r: BackendResult<Vec<Capacity>>| {
        assert!(
            matches!(r, Err(BackendError::Other(Error::InvalidRequest(_)))),
            "{r:?}"
        );
    };
    invalid(e.transact_write(vec![]).await);
    invalid(
        e.transact_write(
            (0..=TRANSACT_MAX)
                .map(|i| tx_put(&i.to_string(), None))
                .collect(),
        )
        .await,
    );
    invalid(
        e.transact_write(vec![
            tx_put("a", None),
            TransactAction::Delete {
                table: table(),
                key: key("p", "a"),
                condition: None,
            },
        ])
        .await,
    );
    // The same key in two tables is two items.
    e.create_table("other").await.unwrap();
    let mut other = tx_put("a", None);
    if let TransactAction::Put { table, .. } = &mut other {
        *table = Arc::from("other");
    }
    e.transact_write(vec![tx_put("a", None), other])
        .await
        .unwrap();
    // A missing table fails the whole transaction.
    let mut missing = tx_put("b", None);
    if let TransactAction::Put { table, .. } = &mut missing {
        *table = Arc::from("missing");
    }
    match e.transact_write(vec![tx_put("c", None), missing]).await {
        Err(BackendError::Other(Error::Unavailable(_))) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&e, &key("p", "c")).await, None);
    // An item too large, and an update gone too large: nothing written.
    let big = TransactAction::Put {
        table: table(),
        item: item("p", "big", &[("x", s(&"x".repeat(MAX_ITEM_SIZE)))]),
        condition: None,
    };
    match e.transact_write(vec![tx_put("d", None), big]).await {
        Err(BackendError::Other(Error::ItemTooLarge { .. })) => {}
        other => panic!("{other:?}"),
    }
    let grow = TransactAction::Update {
        table: table(),
        key: key("p", "a"),
        actions: vec![UpdateAction::Set("x".into(), s(&"x".repeat(MAX_ITEM_SIZE)))],
        condition: None,
    };
    match e.transact_write(vec![tx_put("d", None), grow]).await {
        Err(BackendError::Other(Error::ItemTooLarge { size: Some(_), .. })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&e, &key("p", "d")).await, None);
    assert_eq!(get(&e, &key("p", "a")).await, Some(item("p", "a", &[])));
}

#[tokio::test]
async fn batches_read_and_write_in_one_call() {
    let e = store().await;
    put(&e, item("p", "gone", &[]), None).await.unwrap();
    let writes = vec![
        BatchWrite::Put(item("p", "1", &[("v", s(&"x".repeat(2000)))])),
        BatchWrite::Put(item("p", "2", &[])),
        BatchWrite::Delete(key("p", "gone")),
        BatchWrite::Delete(key("p", "never")),
    ];
    let out = e
        .batch_write(BatchWriteRequest {
            table: table(),
            writes,
        })
        .await
        .unwrap();
    assert!(out.value.is_empty());
    assert_eq!(out.capacity, Capacity::new(0.0, 2.0 + 1.0 + 1.0 + 1.0));
    let read = e
        .batch_get(BatchGetRequest {
            table: table(),
            keys: vec![key("p", "1"), key("p", "gone"), key("p", "2")],
            consistent: false,
        })
        .await
        .unwrap();
    let found = QueryOutput {
        items: read
            .value
            .items
            .iter()
            .cloned()
            .map(StoredItem::from)
            .collect(),
        last_sort: None,
    };
    let mut found = sorts(&found);
    found.sort_unstable();
    assert_eq!(found, ["1", "2"]);
    assert!(read.value.unprocessed.is_empty());
    assert_eq!(read.capacity, Capacity::new(0.5 + 0.5, 0.0));
    // Refused: a repeated key, too many keys, none.
    let dup = e
        .batch_write(BatchWriteRequest {
            table: table(),
            writes: vec![
                BatchWrite::Put(item("p", "x", &[])),
                BatchWrite::Delete(key("p", "x")),
            ],
        })
        .await;
    assert!(
        matches!(dup, Err(BackendError::Other(Error::InvalidRequest(_)))),
        "{dup:?}"
    );
    let too_many = e
        .batch_get(BatchGetRequest {
            table: table(),
            keys: (0..=BATCH_GET_MAX)
                .map(|i| key("p", &i.to_string()))
                .collect(),
            consistent: false,
        })
        .await;
    assert!(matches!(
        too_many,
        Err(BackendError::Other(Error::InvalidRequest(_)))
    ));
    let none = e
        .batch_write(BatchWriteRequest {
            table: table(),
            writes: vec![],
        })
        .await;
    assert!(matches!(
        none,
        Err(BackendError::Other(Error::InvalidRequest(_)))
    ));
}

#[tokio::test]
async fn capacity_follows_dynamodb() {
    let e = store().await;
    let k = key("p", "s");
    let read = |consistent: bool| {
        e.get(GetRequest {
            table: table(),
            key: k.clone(),
            consistent,
        })
    };
    // Absent: one unit (half when eventually consistent).
    assert_eq!(read(true).await.unwrap().capacity, Capacity::new(1.0, 0.0));
    assert_eq!(read(false).await.unwrap().capacity, Capacity::new(0.5, 0.0));
    // 5 KB: 5 write units; 2 read units (4 KB each).
    let big = item("p", "s", &[("d", s(&"x".repeat(5 * 1024 - 10)))]);
    assert!(item_size(&big) > 4 * 1024 && item_size(&big) <= 5 * 1024);
    let out = e
        .put(PutRequest {
            table: table(),
            item: big,
            condition: None,
        })
        .await
        .unwrap();
    assert_eq!(out.capacity, Capacity::new(0.0, 5.0));
    assert_eq!(read(true).await.unwrap().capacity, Capacity::new(2.0, 0.0));
    assert_eq!(read(false).await.unwrap().capacity, Capacity::new(1.0, 0.0));
    // Replacing it by a small item costs the larger of the two.
    let out = e
        .put(PutRequest {
            table: table(),
            item: item("p", "s", &[]),
            condition: None,
        })
        .await
        .unwrap();
    assert_eq!(out.capacity, Capacity::new(0.0, 5.0));
    let out = e
        .delete(DeleteRequest {
            table: table(),
            key: k.clone(),
            condition: None,
        })
        .await
        .unwrap();
    assert_eq!(out.capacity, Capacity::new(0.0, 1.0));
    // An empty query still reads one unit.
    let out = e
        .query(QueryRequest {
            table: table(),
            pk: "p".into(),
            sort: SortCondition::All,
            descending: false,
            limit: 10,
            start_after: None,
            consistent: true,
        })
        .await
        .unwrap();
    assert_eq!(out.capacity, Capacity::new(1.0, 0.0));
}

#[tokio::test]
async fn missing_tables_are_unavailable() {
    let e = Embedded::in_memory();
    assert_eq!(e.table_state(T).await.unwrap(), TableState::Missing);
    let unavailable = |r: std::result::Result<(), BackendError>| match r {
        Err(BackendError::Other(Error::Unavailable(source))) => {
            assert!(source.to_string().contains("table not found"), "{source}");
        }
        other => panic!("{other:?}"),
    };
    let k = key("p", "s");
    unavailable(
        e.get(GetRequest {
            table: table(),
            key: k.clone(),
            consistent: false,
        })
        .await
        .map(drop),
    );
    unavailable(put(&e, item("p", "s", &[]), None).await.map(drop));
    unavailable(update(&e, &k, vec![], None).await.map(drop));
    unavailable(
        e.delete(DeleteRequest {
            table: table(),
            key: k.clone(),
            condition: None,
        })
        .await
        .map(drop),
    );
    unavailable(
        e.query(QueryRequest {
            table: table(),
            pk: "p".into(),
            sort: SortCondition::All,
            descending: false,
            limit: 1,
            start_after: None,
            consistent: false,
        })
        .await
        .map(drop),
    );
    unavailable(
        e.batch_get(BatchGetRequest {
            table: table(),
            keys: vec![k.clone()],
            consistent: false,
        })
        .await
        .map(drop),
    );
    unavailable(
        e.batch_write(BatchWriteRequest {
            table: table(),
            writes: vec![BatchWrite::Delete(k.clone())],
        })
        .await
        .map(drop),
    );
    unavailable(e.transact_write(vec![tx_put("s", None)]).await.map(drop));
    // Another table existing changes nothing.
    e.create_table("other").await.unwrap();
    unavailable(put(&e, item("p", "s", &[]), None).await.map(drop));
}

#[tokio::test]
async fn tables_are_created_and_deleted_idempotently() {
    let e = Embedded::in_memory();
    e.delete_table(T).await.unwrap();
    e.create_table(T).await.unwrap();
    put(&e, item("p", "s", &[]), None).await.unwrap();
    e.create_table(T).await.unwrap();
    assert_eq!(e.table_state(T).await.unwrap(), TableState::Active);
    assert!(
        get(&e, &key("p", "s")).await.is_some(),
        "create_table keeps the items"
    );
    e.delete_table(T).await.unwrap();
    e.delete_table(T).await.unwrap();
    assert_eq!(e.table_state(T).await.unwrap(), TableState::Missing);
    e.create_table(T).await.unwrap();
    assert_eq!(
        get(&e, &key("p", "s")).await,
        None,
        "delete_table removes the items"
    );
    for bad in ["ab", "with space", "ünï", &"x".repeat(256)] {
        assert!(
            matches!(e.create_table(bad).await, Err(Error::InvalidRequest(_))),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn bad_requests_are_refused() {
    let e = store().await;
    let invalid = |r: std::result::Result<(), BackendError>| {
        assert!(
            matches!(r, Err(BackendError::Other(Error::InvalidRequest(_)))),
            "{r:?}"
        );
    };
    let mut keyless = item("p", "s", &[]);
    keyless.remove(SK);
    invalid(put(&e, keyless, None).await.map(drop));
    invalid(put(&e, item("", "s", &[]), None).await.map(drop));
    invalid(
        put(&e, item("p", &"x".repeat(1025), &[]), None)
            .await
            .map(drop),
    );
    invalid(
        e.get(GetRequest {
            table: table(),
            key: key("p", ""),
            consistent: false,
        })
        .await
        .map(drop),
    );
    invalid(
        e.query(QueryRequest {
            table: table(),
            pk: "p".into(),
            sort: SortCondition::All,
            descending: false,
            limit: 0,
            start_after: None,
            consistent: false,
        })
        .await
        .map(drop),
    );
    let bad_number = put(&e, item("p", "s", &[("n", n("twelve"))]), None).await;
    assert!(
        matches!(bad_number, Err(BackendError::Other(Error::InvalidItem(_)))),
        "{bad_number:?}"
    );
    let too_big = put(
        &e,
        item("p", "s", &[("x", s(&"x".repeat(MAX_ITEM_SIZE)))]),
        None,
    )
    .await;
    assert!(matches!(
        too_big,
        Err(BackendError::Other(Error::ItemTooLarge {
            size: Some(_),
            ..
        }))
    ));
}

#[tokio::test]
async fn every_value_type_is_stored_exactly() {
    let e = store().await;
    let mut it = codec_sample();
    it.insert(PK.into(), s("p"));
    it.insert(SK.into(), s("s"));
    put(&e, it.clone(), None).await.unwrap();
    assert_eq!(get(&e, &key("p", "s")).await, Some(it));
}

fn codec_sample() -> Item {
    let mut m = Item::new();
    m.insert(
        "inner".into(),
        AttributeValue::L(vec![n("1.50"), AttributeValue::Null(true)]),
    );
    Item::from([
        ("n".to_owned(), n("-0.00100")),
        ("e".to_owned(), n("1E+3")),
        ("b".to_owned(), AttributeValue::B(vec![0, 255])),
        ("t".to_owned(), AttributeValue::Bool(true)),
        ("m".to_owned(), AttributeValue::M(m)),
        (
            "ss".to_owned(),
            AttributeValue::Ss(vec!["b".into(), "a".into()]),
        ),
        (
            "ns".to_owned(),
            AttributeValue::Ns(vec!["2".into(), "1".into()]),
        ),
        ("bs".to_owned(), AttributeValue::Bs(vec![vec![2], vec![1]])),
    ])
}

#[tokio::test]
async fn corrupt_stored_items_are_internal_errors() {
    let e = store().await;
    let db = e.db.clone().unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn
            .open_table(TableDefinition::<ItemKey, ItemValue>::new(
                &items_table_name(T),
            ))
            .unwrap();
        t.insert(("p", "s"), [1u8, 5, 0xff].as_slice()).unwrap();
    }
    txn.commit().unwrap();
    let r = e
        .get(GetRequest {
            table: table(),
            key: key("p", "s"),
            consistent: false,
        })
        .await;
    assert!(
        matches!(r, Err(BackendError::Other(Error::Internal(_)))),
        "{r:?}"
    );
}

#[tokio::test]
async fn debug_shows_the_kind_and_path_only() {
    let e = store().await;
    put(&e, item("secret-pk", "s", &[("v", s("secret"))]), None)
        .await
        .unwrap();
    let shown = format!("{e:?}");
    assert_eq!(shown, r#"Embedded { kind: "memory", .. }"#);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let file = Backend::open(&path).unwrap();
    let shown = format!("{file:?}");
    assert!(
        shown.contains("\"file\"") && shown.contains("db.redb"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_file_keeps_acknowledged_writes_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    {
        let e = Embedded::open(&path).unwrap();
        e.create_table(T).await.unwrap();
        put(&e, item("p", "1", &[("v", s("one ✓"))]), None)
            .await
            .unwrap();
        put(&e, item("p", "2", &[]), None).await.unwrap();
        e.delete(DeleteRequest {
            table: table(),
            key: key("p", "2"),
            condition: None,
        })
        .await
        .unwrap();
    }
    let e = Embedded::open(&path).unwrap();
    assert_eq!(e.table_state(T).await.unwrap(), TableState::Active);
    assert_eq!(
        get(&e, &key("p", "1")).await,
        Some(item("p", "1", &[("v", s("one ✓"))]))
    );
    assert_eq!(get(&e, &key("p", "2")).await, None);
}

#[tokio::test]
async fn a_file_opens_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let first = Backend::open(&path).unwrap();
    assert!(matches!(Backend::open(&path), Err(Error::Unavailable(_))));
    drop(first);
    Backend::open(&path).unwrap();
    // Not a database, or not reachable: unavailable, no panic.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, vec![0x5a; 10_000]).unwrap();
    assert!(matches!(Backend::open(&junk), Err(Error::Unavailable(_))));
    assert!(matches!(
        Backend::open(dir.path().join("no/such/dir/x")),
        Err(Error::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conditional_writes_serialize() {
    // 20 tasks each add 1 to a counter through a version check; every success is counted once.
    let e = Arc::new(store().await);
    let k = key("p", "counter");
    put(&e, item("p", "counter", &[("v", n("0"))]), None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let e = e.clone();
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let current = get(&e, &k).await.unwrap();
                let v = current.get("v").cloned().unwrap();
                let r = update(
                    &e,
                    &k,
                    vec![UpdateAction::Add("v".into(), n("1"))],
                    Some(cond("v", CmpOp::Eq, v)),
                )
                .await;
                match r {
                    Ok(_) => return,
                    Err(BackendError::ConditionFailed { .. }) => continue,
                    Err(other) => panic!("{other:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(get(&e, &k).await.unwrap().get("v"), Some(&n("20")));
}

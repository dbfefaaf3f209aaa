//! The backend against a local DynamoDB (moto): set `SAAS_TEST_MOTO_ENDPOINT`, e.g.
//! `http://127.0.0.1:5077`. Without it these tests are skipped, unless `SAAS_REQUIRE_MOTO` is set.
//! Each test uses its own tables, so they run in parallel against one server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_dynamo::AttributeValue as Av;

use super::*;
use crate::backend::{BackendError, PhysKey};
use crate::expr::{CmpOp, Cond, UpdateAction};
use crate::query::SortCondition;
use crate::stored::StoredItem;

fn endpoint() -> Option<String> {
    match std::env::var("SAAS_TEST_MOTO_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("SAAS_REQUIRE_MOTO").is_none(),
                "SAAS_REQUIRE_MOTO is set but SAAS_TEST_MOTO_ENDPOINT is not"
            );
            eprintln!("skipping: SAAS_TEST_MOTO_ENDPOINT is not set");
            None
        }
    }
}

fn config(endpoint: &str) -> aws_sdk_dynamodb::Config {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build()
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() % 1_000_000_000)
        .unwrap_or(0);
    format!("{prefix}-{}-{t}-{n}", std::process::id())
}

/// A backend and a fresh table on it, or `None` when moto is not configured.
async fn setup(prefix: &str) -> Option<(Backend, Arc<str>)> {
    let endpoint = endpoint()?;
    let backend = Backend::dynamodb(Client::from_conf(config(&endpoint)));
    let table: Arc<str> = unique(prefix).into();
    backend.0.create_table(&table).await.unwrap();
    Some((backend, table))
}

fn key(pk: &str, sk: &str) -> PhysKey {
    PhysKey {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
    }
}

fn item(pk: &str, sk: &str, attrs: &[(&str, Av)]) -> Item {
    let mut item: Item = attrs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect();
    item.insert(PK.to_owned(), Av::S(pk.to_owned()));
    item.insert(SK.to_owned(), Av::S(sk.to_owned()));
    item
}

fn n(v: &str) -> Av {
    Av::N(v.to_owned())
}

fn s(v: &str) -> Av {
    Av::S(v.to_owned())
}

async fn put(backend: &Backend, table: &Arc<str>, item: Item, condition: Option<Cond>) {
    let req = PutRequest {
        table: table.clone(),
        item,
        condition,
    };
    backend.0.put(req).await.unwrap();
}

async fn get(backend: &Backend, table: &Arc<str>, key: PhysKey) -> Option<Item> {
    let req = GetRequest {
        table: table.clone(),
        key,
        consistent: true,
    };
    let found = backend.0.get(req).await.unwrap().value;
    found.map(|item| item.into_attributes().unwrap())
}

fn query(table: &Arc<str>, pk: &str, sort: SortCondition) -> QueryRequest {
    QueryRequest {
        table: table.clone(),
        pk: pk.to_owned(),
        sort,
        descending: false,
        limit: 100,
        start_after: None,
        consistent: true,
    }
}

fn sorts(items: &[StoredItem]) -> Vec<String> {
    items.iter().map(|i| i.sort().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn table_lifecycle() {
    let Some((backend, table)) = setup("life").await else {
        return;
    };
    let raw = &backend.0;
    // moto creates tables ACTIVE at once; DynamoDB would say Creating first.
    assert!(matches!(
        raw.table_state(&table).await.unwrap(),
        TableState::Active | TableState::Creating
    ));
    raw.create_table(&table).await.unwrap(); // idempotent
    raw.delete_table(&table).await.unwrap();
    assert!(matches!(
        raw.table_state(&table).await.unwrap(),
        TableState::Missing | TableState::Deleting
    ));
    raw.delete_table(&table).await.unwrap(); // idempotent
    assert_eq!(
        raw.table_state(&unique("never")).await.unwrap(),
        TableState::Missing
    );
}

#[tokio::test]
async fn every_attribute_type_round_trips() {
    let Some((backend, table)) = setup("types").await else {
        return;
    };
    let stored = item(
        "t#p",
        "ünï ✓",
        &[
            ("s", s("text ✓")),
            ("empty", s("")),
            ("n", n("-12.5")),
            ("big", n("12345678901234567890123456789012345678")),
            ("b", Av::B(vec![0, 1, 255])),
            ("t", Av::Bool(true)),
            ("z", Av::Null(true)),
            ("ss", Av::Ss(vec!["a".into(), "b".into()])),
            ("ns", Av::Ns(vec!["1".into(), "2.5".into()])),
            ("bs", Av::Bs(vec![vec![1], vec![2, 3]])),
            ("l", Av::L(vec![n("1"), s("x"), Av::Null(true)])),
            (
                "m",
                Av::M(HashMap::from([
                    ("inner".to_owned(), Av::L(vec![Av::Bool(false)])),
                    (
                        "deep".to_owned(),
                        Av::M(HashMap::from([("x".to_owned(), n("0"))])),
                    ),
                ])),
            ),
        ],
    );
    put(&backend, &table, stored.clone(), None).await;
    let mut back = get(&backend, &table, key("t#p", "ünï ✓")).await.unwrap();
    // Sets come back in any order.
    for set in ["ss", "ns"] {
        if let Some(Av::Ss(v) | Av::Ns(v)) = back.get_mut(set) {
            v.sort();
        }
    }
    if let Some(Av::Bs(v)) = back.get_mut("bs") {
        v.sort();
    }
    assert_eq!(back, stored);
    assert_eq!(get(&backend, &table, key("t#p", "nope")).await, None);
}

#[tokio::test]
async fn failed_conditions_return_the_stored_item() {
    let Some((backend, table)) = setup("cond").await else {
        return;
    };
    let raw = &backend.0;
    let k = key("t#p", "1");
    let absent = Cond::NotExists(PK.to_owned());
    put(
        &backend,
        &table,
        item("t#p", "1", &[("v", n("1"))]),
        Some(absent.clone()),
    )
    .await;

    let err = raw
        .put(PutRequest {
            table: table.clone(),
            item: item("t#p", "1", &[("v", n("2"))]),
            condition: Some(absent),
        })
        .await
        .unwrap_err();
    // moto 5.2 returns the item with ReturnValuesOnConditionCheckFailure, as DynamoDB does.
    match err {
        BackendError::ConditionFailed { old: Some(old) } => assert_eq!(old.get("v"), Some(&n("1"))),
        other => panic!("{other:?}"),
    }
    let err = raw
        .update(UpdateRequest {
            table: table.clone(),
            key: k.clone(),
            actions: vec![UpdateAction::Set("v".into(), n("3"))],
            condition: Some(Cond::Compare("v".into(), CmpOp::Eq, n("9"))),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BackendError::ConditionFailed { old: Some(old) } if old.get("v") == Some(&n("1"))),
        "{err:?}"
    );
    let err = raw
        .delete(DeleteRequest {
            table: table.clone(),
            key: k.clone(),
            condition: Some(Cond::Not(Box::new(Cond::Exists("v".into())))),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BackendError::ConditionFailed { old: Some(_) }),
        "{err:?}"
    );
    // No item: nothing to return.
    let err = raw
        .delete(DeleteRequest {
            table: table.clone(),
            key: key("t#p", "ghost"),
            condition: Some(Cond::Exists(PK.to_owned())),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::ConditionFailed { old: None }),
        "{err:?}"
    );
    assert_eq!(
        get(&backend, &table, k).await.unwrap().get("v"),
        Some(&n("1"))
    );
    // A construction error is refused before anything is sent.
    let err = raw
        .delete(DeleteRequest {
            table: table.clone(),
            key: key("t#p", "1"),
            condition: Some(Cond::Invalid("bad".into())),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Other(Error::InvalidRequest(_))));
}

#[tokio::test]
async fn update_returns_all_new() {
    let Some((backend, table)) = setup("update").await else {
        return;
    };
    let raw = &backend.0;
    put(
        &backend,
        &table,
        item(
            "t#p",
            "1",
            &[("title", s("a")), ("note", s("x")), ("rank", n("2"))],
        ),
        None,
    )
    .await;
    let out = raw
        .update(UpdateRequest {
            table: table.clone(),
            key: key("t#p", "1"),
            actions: vec![
                UpdateAction::Set("title".into(), s("b")),
                UpdateAction::Remove("note".into()),
                UpdateAction::Add("rank".into(), n("-5")),
                UpdateAction::Add("count".into(), n("1")),
            ],
            condition: Some(Cond::Compare("title".into(), CmpOp::Eq, s("a"))),
        })
        .await
        .unwrap();
    assert_eq!(
        out.value,
        item(
            "t#p",
            "1",
            &[("title", s("b")), ("rank", n("-3")), ("count", n("1"))]
        )
    );
    assert!(out.capacity.write_units > 0.0 && out.capacity.read_units == 0.0);
    // Without a condition, an update creates the item, as DynamoDB does.
    let out = raw
        .update(UpdateRequest {
            table: table.clone(),
            key: key("t#p", "new"),
            actions: vec![UpdateAction::Add("n".into(), n("1"))],
            condition: None,
        })
        .await
        .unwrap();
    assert_eq!(out.value, item("t#p", "new", &[("n", n("1"))]));
}

#[tokio::test]
async fn queries() {
    let Some((backend, table)) = setup("query").await else {
        return;
    };
    let raw = &backend.0;
    let mut expected = vec![
        "Zebra", "apple", "Äpfel", "日本", "émigré", "😀", "a", "ab", "a#b", "a b", "T#1", "T#2",
        "T#3",
    ];
    for sk in &expected {
        put(&backend, &table, item("t#p", sk, &[]), None).await;
    }
    put(&backend, &table, item("t#other", "a", &[]), None).await;
    expected.sort(); // byte-wise, as DynamoDB
    let all = raw
        .query(query(&table, "t#p", SortCondition::All))
        .await
        .unwrap();
    assert_eq!(sorts(&all.value.items), expected);
    assert_eq!(all.value.last_sort, None);

    let mut q = query(&table, "t#p", SortCondition::All);
    q.descending = true;
    q.limit = 3;
    let page = raw.query(q.clone()).await.unwrap().value;
    let rev: Vec<&str> = expected.iter().rev().copied().collect();
    assert_eq!(sorts(&page.items), rev[..3]);
    assert_eq!(page.last_sort.as_deref(), Some(rev[2]));
    q.start_after = page.last_sort;
    let next = raw.query(q).await.unwrap().value;
    assert_eq!(sorts(&next.items), rev[3..6]);

    let cases = [
        (SortCondition::BeginsWith(String::new()), expected.clone()),
        (
            SortCondition::BeginsWith("a".into()),
            vec!["a", "a b", "a#b", "ab", "apple"],
        ),
        (SortCondition::Eq("ab".into()), vec!["ab"]),
        (
            SortCondition::Between("T#1".into(), "T#2".into()),
            vec!["T#1", "T#2"],
        ),
        (SortCondition::Lt("T#2".into()), vec!["T#1"]),
        (SortCondition::Le("T#2".into()), vec!["T#1", "T#2"]),
        (SortCondition::Gt("émigré".into()), vec!["日本", "😀"]),
        (
            SortCondition::Ge("émigré".into()),
            vec!["émigré", "日本", "😀"],
        ),
    ];
    for (sort, want) in cases {
        let got = raw.query(query(&table, "t#p", sort.clone())).await.unwrap();
        assert_eq!(sorts(&got.value.items), want, "{sort:?}");
    }
    // Paging with a sort condition and `start_after`.
    let mut q = query(&table, "t#p", SortCondition::BeginsWith("a".into()));
    q.limit = 2;
    q.start_after = Some("a b".into());
    let page = raw.query(q).await.unwrap().value;
    assert_eq!(sorts(&page.items), ["a#b", "ab"]);
    assert_eq!(page.last_sort.as_deref(), Some("ab"));
    // An empty partition.
    let none = raw
        .query(query(&table, "t#none", SortCondition::All))
        .await
        .unwrap();
    assert!(none.value.items.is_empty() && none.value.last_sort.is_none());
}

#[tokio::test]
async fn batches() {
    let Some((backend, table)) = setup("batch").await else {
        return;
    };
    let raw = &backend.0;
    let writes: Vec<BatchWrite> = (0..25)
        .map(|i| BatchWrite::Put(item("t#p", &format!("{i:02}"), &[("i", n(&i.to_string()))])))
        .collect();
    let out = raw
        .batch_write(BatchWriteRequest {
            table: table.clone(),
            writes,
        })
        .await
        .unwrap();
    assert!(out.value.is_empty());
    assert!(out.capacity.write_units > 0.0 && out.capacity.read_units == 0.0);

    let mut keys: Vec<PhysKey> = (0..25).map(|i| key("t#p", &format!("{i:02}"))).collect();
    keys.push(key("t#p", "missing"));
    let out = raw
        .batch_get(BatchGetRequest {
            table: table.clone(),
            keys,
            consistent: true,
        })
        .await
        .unwrap();
    assert_eq!(out.value.items.len(), 25);
    assert!(out.value.unprocessed.is_empty());
    assert!(out.capacity.read_units > 0.0 && out.capacity.write_units == 0.0);

    let out = raw
        .batch_write(BatchWriteRequest {
            table: table.clone(),
            writes: vec![
                BatchWrite::Delete(key("t#p", "00")),
                BatchWrite::Put(item("t#p", "01", &[("i", n("100"))])),
            ],
        })
        .await
        .unwrap();
    assert!(out.value.is_empty());
    assert_eq!(get(&backend, &table, key("t#p", "00")).await, None);
    assert_eq!(
        get(&backend, &table, key("t#p", "01"))
            .await
            .unwrap()
            .get("i"),
        Some(&n("100"))
    );
    // Empty batches are answered without a call.
    let out = raw
        .batch_get(BatchGetRequest {
            table: table.clone(),
            keys: Vec::new(),
            consistent: false,
        })
        .await
        .unwrap();
    assert!(out.value.items.is_empty() && out.capacity.is_zero());
}

#[tokio::test]
async fn failed_transaction_writes_nothing_and_names_its_action() {
    let Some((backend, table)) = setup("txn").await else {
        return;
    };
    let raw = &backend.0;
    put(
        &backend,
        &table,
        item("t#p", "taken", &[("v", n("7"))]),
        None,
    )
    .await;
    let absent = || Some(Cond::NotExists(PK.to_owned()));
    let actions = vec![
        TransactAction::Put {
            table: table.clone(),
            item: item("t#p", "a", &[]),
            condition: absent(),
        },
        TransactAction::Update {
            table: table.clone(),
            key: key("t#p", "b"),
            actions: vec![UpdateAction::Add("n".into(), n("1"))],
            condition: None,
        },
        TransactAction::Put {
            table: table.clone(),
            item: item("t#p", "taken", &[]),
            condition: absent(),
        },
        TransactAction::Delete {
            table: table.clone(),
            key: key("t#p", "c"),
            condition: None,
        },
    ];
    match raw.transact_write(actions).await.unwrap_err() {
        BackendError::TransactionConditionFailed { index: 2, old } => {
            // moto returns the item in the cancellation reason, as DynamoDB does.
            assert_eq!(old.unwrap().get("v"), Some(&n("7")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&backend, &table, key("t#p", "a")).await, None);
    assert_eq!(get(&backend, &table, key("t#p", "b")).await, None);

    let actions = vec![
        TransactAction::Put {
            table: table.clone(),
            item: item("t#p", "a", &[]),
            condition: absent(),
        },
        TransactAction::ConditionCheck {
            table: table.clone(),
            key: key("t#p", "taken"),
            condition: Cond::Compare("v".into(), CmpOp::Eq, n("7")),
        },
        TransactAction::Delete {
            table: table.clone(),
            key: key("t#p", "taken"),
            condition: None,
        },
    ];
    // The same item twice is refused by DynamoDB (the layer above refuses it first).
    let err = raw.transact_write(actions.clone()).await.unwrap_err();
    assert!(
        matches!(err, BackendError::Other(Error::InvalidRequest(_))),
        "{err:?}"
    );
    let out = raw.transact_write(actions[..2].to_vec()).await.unwrap();
    assert_eq!(out.value.len(), 2);
    assert!(get(&backend, &table, key("t#p", "a")).await.is_some());
}

#[tokio::test]
async fn item_size_limit() {
    let Some((backend, table)) = setup("size").await else {
        return;
    };
    let raw = &backend.0;
    let big = "x".repeat(crate::item::MAX_ITEM_SIZE);
    let err = raw
        .put(PutRequest {
            table: table.clone(),
            item: item("t#p", "big", &[("x", s(&big))]),
            condition: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BackendError::Other(Error::ItemTooLarge { size: None, .. })
        ),
        "{err:?}"
    );
    put(
        &backend,
        &table,
        item("t#p", "near", &[("x", s(&big[..400_000]))]),
        None,
    )
    .await;
    let err = raw
        .update(UpdateRequest {
            table: table.clone(),
            key: key("t#p", "near"),
            actions: vec![UpdateAction::Set("y".into(), s(&big[..10_000]))],
            condition: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::Other(Error::ItemTooLarge { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn queries_stop_at_one_megabyte() {
    let Some((backend, table)) = setup("mb").await else {
        return;
    };
    // Under moto's own item limit (405,000 bytes, DynamoDB's is 409,600).
    let big = s(&"x".repeat(390_000));
    for sk in ["1", "2", "3"] {
        put(
            &backend,
            &table,
            item("t#p", sk, &[("x", big.clone())]),
            None,
        )
        .await;
    }
    let mut q = query(&table, "t#p", SortCondition::All);
    let mut seen = Vec::new();
    loop {
        let page = backend.0.query(q.clone()).await.unwrap().value;
        assert!(page.items.len() < 3, "a page over 1 MB");
        seen.extend(sorts(&page.items));
        match page.last_sort {
            Some(last) => {
                assert_eq!(seen.last(), Some(&last));
                q.start_after = Some(last);
            }
            None => break,
        }
    }
    assert_eq!(seen, ["1", "2", "3"]);
}

#[tokio::test]
async fn missing_table_is_unavailable() {
    let Some(endpoint) = endpoint() else { return };
    let backend = Backend::dynamodb(Client::from_conf(config(&endpoint)));
    let table: Arc<str> = unique("missing").into();
    let err = backend
        .0
        .get(GetRequest {
            table: table.clone(),
            key: key("t#p", "1"),
            consistent: false,
        })
        .await
        .unwrap_err();
    match err {
        BackendError::Other(e @ Error::Unavailable(_)) => assert!(e.is_retryable()),
        other => panic!("{other:?}"),
    }
    let err = backend
        .0
        .query(query(&table, "t#p", SortCondition::All))
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::Other(Error::Unavailable(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    // Nothing listens on port 9 (discard); no moto needed.
    let mut config = config("http://127.0.0.1:9").to_builder();
    config.set_retry_config(Some(
        aws_sdk_dynamodb::config::retry::RetryConfig::disabled(),
    ));
    let backend = Backend::dynamodb(Client::from_conf(config.build()));
    let err = backend.0.table_state("t").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}

/// Consumed capacity as this server reports it (printed for the record; moto's figures are
/// fixed per call, DynamoDB's depend on item sizes).
#[tokio::test]
async fn capacity_is_reported() {
    let Some((backend, table)) = setup("cap").await else {
        return;
    };
    let raw = &backend.0;
    let mut seen = Vec::new();
    let out = raw
        .put(PutRequest {
            table: table.clone(),
            item: item("t#p", "1", &[]),
            condition: None,
        })
        .await
        .unwrap();
    seen.push(("put", out.capacity));
    for consistent in [false, true] {
        let out = raw
            .get(GetRequest {
                table: table.clone(),
                key: key("t#p", "1"),
                consistent,
            })
            .await
            .unwrap();
        seen.push((
            if consistent { "get consistent" } else { "get" },
            out.capacity,
        ));
    }
    let out = raw
        .update(UpdateRequest {
            table: table.clone(),
            key: key("t#p", "1"),
            actions: vec![UpdateAction::Add("n".into(), n("1"))],
            condition: None,
        })
        .await
        .unwrap();
    seen.push(("update", out.capacity));
    let out = raw
        .query(query(&table, "t#p", SortCondition::All))
        .await
        .unwrap();
    seen.push(("query", out.capacity));
    let out = raw
        .batch_get(BatchGetRequest {
            table: table.clone(),
            keys: vec![key("t#p", "1"), key("t#p", "2")],
            consistent: false,
        })
        .await
        .unwrap();
    seen.push(("batch_get (2 keys)", out.capacity));
    let out = raw
        .batch_write(BatchWriteRequest {
            table: table.clone(),
            writes: vec![
                BatchWrite::Put(item("t#p", "2", &[])),
                BatchWrite::Put(item("t#p", "3", &[])),
            ],
        })
        .await
        .unwrap();
    seen.push(("batch_write (2 puts)", out.capacity));
    let out = raw
        .transact_write(vec![
            TransactAction::Put {
                table: table.clone(),
                item: item("t#p", "4", &[]),
                condition: None,
            },
            TransactAction::Delete {
                table: table.clone(),
                key: key("t#p", "3"),
                condition: None,
            },
        ])
        .await
        .unwrap();
    seen.push(("transact_write (2 actions)", out.capacity));
    assert_eq!(out.value.len(), 2);
    let out = raw
        .delete(DeleteRequest {
            table: table.clone(),
            key: key("t#p", "1"),
            condition: None,
        })
        .await
        .unwrap();
    seen.push(("delete", out.capacity));
    for (call, c) in &seen {
        eprintln!(
            "capacity {call}: read {} write {}",
            c.read_units, c.write_units
        );
    }
    for (call, c) in seen {
        let reads = call.starts_with("get") || call == "query" || call.starts_with("batch_get");
        if reads {
            assert!(c.read_units > 0.0 && c.write_units == 0.0, "{call}: {c:?}");
        } else if !call.starts_with("transact") {
            // moto reports no capacity for transactions.
            assert!(c.write_units > 0.0 && c.read_units == 0.0, "{call}: {c:?}");
        }
    }
}

#[cfg(feature = "tenant-credentials")]
mod tenant_credentials {
    use std::sync::Mutex;

    use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
    use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

    use super::*;
    use crate::credentials::TenantCredentials;

    /// Records the access key id each request is signed with.
    #[derive(Debug, Clone, Default)]
    struct Signers(Arc<Mutex<Vec<String>>>);

    impl Signers {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl Intercept for Signers {
        fn name(&self) -> &'static str {
            "Signers"
        }

        fn read_before_transmit(
            &self,
            context: &BeforeTransmitInterceptorContextRef<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
            let auth = context
                .request()
                .headers()
                .get("authorization")
                .unwrap_or_default();
            let key = auth
                .split("Credential=")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_default();
            self.0.lock().unwrap().push(key.to_owned());
            Ok(())
        }
    }

    #[test]
    fn one_owner_per_call() {
        assert_eq!(owner(["a#x", "a#y", "a.3#z"]).unwrap(), Some("a"));
        assert_eq!(owner(["#system#x", "#system#y"]).unwrap(), None);
        assert_eq!(owner(std::iter::empty()).unwrap(), None);
        for mixed in [
            &["a#x", "ab#x"][..],
            &["a#x", "#system#a"],
            &["#system#a", "a#x"],
        ] {
            let err = owner(mixed.iter().copied()).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidRequest(m) if m.contains("cannot span tenants")),
                "{mixed:?}: {err:?}"
            );
        }
        assert!(matches!(owner(["nokey"]), Err(Error::InvalidRequest(_))));
        assert!(matches!(owner(["a#x", ""]), Err(Error::InvalidRequest(_))));
    }

    /// moto does not enforce session policies: this proves the plumbing (tenant calls are signed
    /// with the tenant's session, system and admin calls with the base credentials, mixed calls
    /// are refused before anything is sent).
    #[tokio::test]
    async fn tenant_calls_are_signed_with_the_tenants_session() {
        let Some(endpoint) = endpoint() else { return };
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new("us-east-1"))
                .endpoint_url(&endpoint)
                .credentials_provider(aws_sdk_sts::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .build(),
        );
        let table: Arc<str> = unique("creds").into();
        let credentials =
            TenantCredentials::builder(sts, "arn:aws:iam::123456789012:role/tenant-data")
                .table_arn(format!(
                    "arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
                ))
                .build()
                .unwrap();
        let a_key = credentials
            .credentials(&"tenant-a".parse().unwrap())
            .await
            .unwrap()
            .access_key_id()
            .to_owned();
        let b_key = credentials
            .credentials(&"tenant-b".parse().unwrap())
            .await
            .unwrap()
            .access_key_id()
            .to_owned();
        assert_ne!(a_key, b_key);
        let signers = Signers::default();
        let client = Client::from_conf(
            config(&endpoint)
                .to_builder()
                .interceptor(signers.clone())
                .build(),
        );
        let backend = Backend::dynamodb_with_tenant_credentials(client, credentials);
        let raw = &backend.0;
        raw.create_table(&table).await.unwrap();
        put(&backend, &table, item("tenant-a#p", "1", &[]), None).await;
        put(&backend, &table, item("tenant-b.2#p", "1", &[]), None).await;
        put(&backend, &table, item("#system#p", "1", &[]), None).await;
        assert!(
            get(&backend, &table, key("tenant-a#p", "1"))
                .await
                .is_some()
        );
        raw.query(query(&table, "tenant-b#p", SortCondition::All))
            .await
            .unwrap();
        let base = "testing".to_owned();
        assert_eq!(
            signers.take(),
            [&base, &a_key, &b_key, &base, &a_key, &b_key].map(String::clone)
        );
        let err = raw
            .batch_get(BatchGetRequest {
                table: table.clone(),
                keys: vec![key("tenant-a#p", "1"), key("tenant-b#p", "1")],
                consistent: false,
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, BackendError::Other(Error::InvalidRequest(_))),
            "{err:?}"
        );
        let err = raw
            .transact_write(vec![
                TransactAction::Put {
                    table: table.clone(),
                    item: item("tenant-a#p", "2", &[]),
                    condition: None,
                },
                TransactAction::Put {
                    table: table.clone(),
                    item: item("#system#p", "2", &[]),
                    condition: None,
                },
            ])
            .await
            .unwrap_err();
        assert!(
            matches!(err, BackendError::Other(Error::InvalidRequest(_))),
            "{err:?}"
        );
        assert_eq!(get(&backend, &table, key("tenant-a#p", "2")).await, None);
        raw.delete_table(&table).await.unwrap();
        // The refused calls sent nothing.
        assert_eq!(signers.take(), [&a_key, &base].map(String::clone));
    }
}

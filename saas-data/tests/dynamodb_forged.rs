//! Items written around the crate (raw SDK access, a bad migration) with a forged or missing
//! `_tenant` attribute are "not found" for every operation, on DynamoDB (moto on 127.0.0.1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::types::AttributeValue as Av;
use saas_core::TenantContext;
use saas_data::{Backend, DataStore, Error, Key, Query, Update};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Todo {
    title: String,
    done: bool,
}

fn endpoint() -> Option<String> {
    match std::env::var("SAAS_TEST_MOTO_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("SAAS_REQUIRE_MOTO").is_none(),
                "SAAS_REQUIRE_MOTO is set but SAAS_TEST_MOTO_ENDPOINT is not: run scripts/test"
            );
            eprintln!("skipping: SAAS_TEST_MOTO_ENDPOINT is not set");
            None
        }
    }
}

fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn raw_put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
    owner: Option<&str>,
) {
    let mut req = client
        .put_item()
        .table_name(table)
        .item("_pk", Av::S(pk.into()))
        .item("_sk", Av::S(sk.into()))
        .item("_version", Av::N("1".into()))
        .item("title", Av::S("forged".into()))
        .item("done", Av::Bool(false));
    if let Some(owner) = owner {
        req = req.item("_tenant", Av::S(owner.into()));
    }
    req.send().await.unwrap();
}

#[tokio::test]
async fn forged_items_are_not_found() {
    let Some(endpoint) = endpoint() else { return };
    let raw = client(&endpoint);
    let table = format!("forged-{}", std::process::id());
    let store = DataStore::builder(Backend::dynamodb(raw.clone()))
        .pool(&table)
        .build()
        .unwrap();
    store.provisioner().create_table(&table).await.unwrap();
    let a = store.scope(&TenantContext::builder("tenant-a").build());
    let b = store.scope(&TenantContext::builder("tenant-b").build());

    // In A's key space: one claiming to be B's, one with no owner.
    raw_put(&raw, &table, "tenant-a#todos", "T#1", Some("tenant-b")).await;
    raw_put(&raw, &table, "tenant-a#todos", "T#2", None).await;
    // In B's key space, claiming to be A's.
    raw_put(&raw, &table, "tenant-b#todos", "T#3", Some("tenant-a")).await;

    let keys: Vec<Key> = ["T#1", "T#2", "T#3"]
        .iter()
        .map(|s| Key::new("todos", *s).unwrap())
        .collect();
    for scope in [&a, &b] {
        for key in &keys {
            assert!(
                matches!(scope.get::<Todo>(key).await, Err(Error::NotFound)),
                "{key:?}"
            );
            assert!(matches!(
                scope
                    .update::<Todo>(key, Update::new().set("done", &true))
                    .await,
                Err(Error::NotFound)
            ));
            assert!(matches!(scope.delete(key).await, Err(Error::NotFound)));
        }
        let page = scope
            .query::<Todo>(Query::partition("todos"))
            .await
            .unwrap();
        assert!(page.items.is_empty() && page.next_cursor.is_none());
        assert!(
            scope
                .batch_get::<Todo>(&keys)
                .await
                .unwrap()
                .iter()
                .all(Option::is_none)
        );
    }
    // A's own create at the forged key treats it as absent and replaces it.
    let v = a
        .put(
            &keys[0],
            &Todo {
                title: "mine".into(),
                done: false,
            },
        )
        .create_only()
        .await
        .unwrap();
    assert_eq!(v, 1);
    assert_eq!(a.get::<Todo>(&keys[0]).await.unwrap().item().title, "mine");
    // The forged item in B's space is still B's problem only: A never sees it.
    assert!(matches!(
        b.get::<Todo>(&keys[2]).await,
        Err(Error::NotFound)
    ));
}

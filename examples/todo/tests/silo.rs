//! Silo tables for a tier (the mixed model, `TODO_REGISTRY_TABLE`): a list whose owner's
//! verified `custom:tier` is premium gets a table of its own, created when the list is and
//! deleted with it; the others share the pool. What members see is the same either way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Svc, Target, dev_claims, id, items, moto_endpoint, sign_as};
use reqwest::StatusCode;
use saas_data::{
    Backend, DataStore, Placement, TableNames, TenantRecord, TenantStatus, TierPolicy,
};
use serde_json::json;

common::on_every_target!(
    a_premium_owners_list_gets_a_table_of_its_own,
    members_of_silo_and_pool_lists_see_the_same_service,
    deleting_a_silo_list_drops_its_table,
    an_unknown_tier_is_refused_not_read_as_basic,
);

/// A caller whose token carries `custom:tier` (as Cognito puts an administrator-set attribute).
fn with_tier(svc: &Svc, email: &str, tier: &str) -> common::Api {
    let mut claims = dev_claims(svc, email);
    claims["custom:tier"] = tier.into();
    common::Api {
        email: email.to_owned(),
        ..svc.with_token(&sign_as(svc, &claims))
    }
}

/// The registry's records for `lists`, read from the store itself (the in-process server is
/// stopped for it, since the embedded store is one process's file), and the service again.
async fn registry(svc: Svc, lists: &[&str]) -> (Svc, Vec<Option<TenantRecord>>) {
    let silo = svc.silo.clone().expect("a mixed-model service");
    let store = match (&svc.target, &svc.table) {
        (Target::Dynamodb, Some(table)) => {
            let client = common::dynamo_client(&moto_endpoint().unwrap());
            mixed(Backend::dynamodb(client), table, &silo)
        }
        _ => {
            let svc = stopped(svc).await;
            let mut config = todo::Config::local(svc.dir.path());
            config.silo = Some(silo.clone());
            let mut records = Vec::new();
            {
                let store = open(&config).await;
                for list in lists {
                    records.push(record(&store, list).await);
                }
            }
            return (svc.restart().await, records);
        }
    };
    let mut records = Vec::new();
    for list in lists {
        records.push(record(&store, list).await);
    }
    (svc, records)
}

fn mixed(backend: Backend, pool: &str, silo: &todo::SiloConfig) -> DataStore {
    DataStore::builder(backend)
        .mixed(
            pool,
            TableNames::prefix(&silo.prefix).unwrap(),
            TierPolicy::silo_for(todo::SILO_TIERS),
        )
        .control_table(silo.registry_table.clone())
        .build()
        .unwrap()
}

async fn record(store: &DataStore, list: &str) -> Option<TenantRecord> {
    store
        .system("test: where the list lives")
        .registry()
        .get(&list.parse().unwrap())
        .await
        .unwrap()
}

/// The in-process server stopped (its store file released); the binary keeps running.
async fn stopped(svc: Svc) -> Svc {
    let Svc {
        server,
        dir,
        url,
        http,
        target,
        table,
        identity,
        silo,
    } = svc;
    drop(server);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A stand-in that answers nothing: `restart` replaces it.
    Svc {
        server: common::Handle::Stopped,
        dir,
        url,
        http,
        target,
        table,
        identity,
        silo,
    }
}

async fn open(config: &todo::Config) -> DataStore {
    for _ in 0..50 {
        match todo::open_store(config).await {
            Ok(store) => return store,
            Err(e) => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("the data directory is still held by the stopped server");
}

/// Whether DynamoDB (moto) has this table; `None` on the embedded target.
async fn table_exists(svc: &Svc, table: &str) -> Option<bool> {
    if svc.target != Target::Dynamodb {
        return None;
    }
    let client = common::dynamo_client(&moto_endpoint().unwrap());
    Some(
        client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .is_ok(),
    )
}

async fn a_premium_owners_list_gets_a_table_of_its_own(t: Target) {
    if !t.available() {
        return;
    }
    let svc = t.start_with_silos().await;
    let prefix = svc.silo.clone().unwrap().prefix;
    let pam = with_tier(&svc, "pam@example.com", "premium");
    let bea = with_tier(&svc, "bea@example.com", "basic");
    let nat = svc.user("nat@example.com").await; // no tier claim at all

    let premium = id(&pam.create_list("premium").await);
    let basic = id(&bea.create_list("basic").await);
    let plain = id(&nat.create_list("plain").await);
    let todo = pam.create_todo(&premium, "in its own table").await;
    assert_eq!(todo["title"], "in its own table");

    let (svc, records) = registry(svc, &[&premium, &basic, &plain]).await;
    let [Some(p), Some(b), Some(n)] = &records[..] else {
        panic!("every list is registered: {records:?}");
    };
    assert_eq!(p.placement, Placement::Silo);
    assert_eq!(p.table, format!("{prefix}{premium}"));
    assert_eq!(p.status, TenantStatus::Active);
    assert_eq!(p.tier, saas_core::Tier::Premium);
    let pool = svc
        .table
        .clone()
        .unwrap_or_else(|| todo::LOCAL_TABLE.to_owned());
    for pooled in [b, n] {
        assert_eq!(pooled.placement, Placement::Pool, "{pooled:?}");
        assert_eq!(pooled.table, pool);
        assert_eq!(pooled.tier, saas_core::Tier::Basic);
    }
    if let Some(exists) = table_exists(&svc, &p.table).await {
        assert!(exists, "the silo table {} exists", p.table);
        // Its todo is in that table, not in the pool.
        let client = common::dynamo_client(&moto_endpoint().unwrap());
        let silo_items = client.scan().table_name(&p.table).send().await.unwrap();
        let pool_items = client
            .scan()
            .table_name(svc.table.as_ref().unwrap())
            .send()
            .await
            .unwrap();
        let mentions = |items: &[std::collections::HashMap<
            String,
            aws_sdk_dynamodb::types::AttributeValue,
        >]| {
            items
                .iter()
                .filter(|i| format!("{i:?}").contains("in its own table"))
                .count()
        };
        assert_eq!(mentions(silo_items.items()), 1);
        assert_eq!(mentions(pool_items.items()), 0);
    }
    // After the restart the registry still places it.
    let pam = with_tier(&svc, "pam@example.com", "premium");
    let body = pam
        .get(&format!("/lists/{premium}/todos"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&body).len(), 1, "{body}");
}

async fn members_of_silo_and_pool_lists_see_the_same_service(t: Target) {
    if !t.available() {
        return;
    }
    let svc = t.start_with_silos().await;
    let pam = with_tier(&svc, "pam@example.com", "platinum");
    let bob = svc.user("bob@example.com").await;
    let silo = id(&pam.create_list("platinum list").await);
    let pool = id(&bob.create_list("bob's own").await);
    pam.share(&silo, "bob@example.com", "editor").await;

    let lists = bob.my_lists().await;
    assert!(
        lists.contains(&(silo.clone(), "editor".into())),
        "{lists:?}"
    );
    assert!(lists.contains(&(pool.clone(), "owner".into())), "{lists:?}");
    let todo = bob.create_todo(&silo, "bob was here").await;
    let done = bob
        .patch(
            &format!("/lists/{silo}/todos/{}", id(&todo)),
            &json!({"done": true}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(done["done"], true);
    // The owner sees it; a stranger learns nothing, as in the pool.
    let page = pam
        .get(&format!("/lists/{silo}/todos"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&page)[0]["created_by"], "bob@example.com");
    let eve = with_tier(&svc, "eve@example.com", "premium");
    eve.get(&format!("/lists/{silo}")).await.not_found();
    eve.get(&format!("/lists/{silo}/todos")).await.not_found();
    // The activity feed and the usage come back from the list's own table.
    let mut feed = Vec::new();
    for _ in 0..50 {
        feed = items(
            &pam.get(&format!("/lists/{silo}/activity"))
                .await
                .expect(StatusCode::OK),
        )
        .clone();
        if feed.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kinds: Vec<&str> = feed.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["todo.completed", "todo.created", "member.added"],
        "{feed:?}"
    );
    let usage = pam
        .get(&format!("/lists/{silo}/usage"))
        .await
        .expect(StatusCode::OK);
    assert!(usage["requests"].as_u64().unwrap() >= 4, "{usage}");
    // Revoking works there too.
    pam.delete(&format!("/lists/{silo}/members/bob%40example.com"))
        .await
        .no_content();
    bob.get(&format!("/lists/{silo}/todos")).await.not_found();
}

async fn deleting_a_silo_list_drops_its_table(t: Target) {
    if !t.available() {
        return;
    }
    let svc = t.start_with_silos().await;
    let pam = with_tier(&svc, "pam@example.com", "premium");
    let list = id(&pam.create_list("short-lived").await);
    pam.create_todo(&list, "soon gone").await;
    pam.share(&list, "bob@example.com", "viewer").await;
    let table = format!("{}{list}", svc.silo.as_ref().unwrap().prefix);
    assert_ne!(table_exists(&svc, &table).await, Some(false));

    pam.delete(&format!("/lists/{list}")).await.no_content();
    pam.get(&format!("/lists/{list}")).await.not_found();
    let bob = svc.user("bob@example.com").await;
    bob.get(&format!("/lists/{list}/todos")).await.not_found();
    assert!(bob.my_lists().await.is_empty());
    assert!(pam.my_lists().await.is_empty());
    assert_ne!(table_exists(&svc, &table).await, Some(true));
    let (_, records) = registry(svc, &[&list]).await;
    assert!(records[0].is_none(), "{records:?}");
}

async fn an_unknown_tier_is_refused_not_read_as_basic(t: Target) {
    if !t.available() {
        return;
    }
    let svc = t.start_with_silos().await;
    let gold = with_tier(&svc, "goldie@example.com", "gold");
    gold.post("/lists", &json!({"name": "mine"}))
        .await
        .forbidden();
    assert!(gold.my_lists().await.is_empty());
}

//! Tenant-scoped credentials against moto's STS and DynamoDB on 127.0.0.1.
//!
//! moto returns real-looking credentials for AssumeRole but does not enforce session policies:
//! this test proves the plumbing (policy accepted, credentials cached per tenant and renewed
//! before expiry, a client bound to them works), not the isolation, which only AWS enforces.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use saas_core::{TenantContext, TenantId};
use saas_data::credentials::TenantCredentials;
use saas_data::{Backend, DataStore, Key};

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

fn sts(endpoint: &str) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

fn dynamo_config(endpoint: &str) -> aws_sdk_dynamodb::Config {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build()
}

const ROLE: &str = "arn:aws:iam::123456789012:role/tenant-data";

#[tokio::test]
async fn assumed_credentials_are_cached_per_tenant_and_usable() {
    let Some(endpoint) = endpoint() else { return };
    let table = format!("creds-{}", std::process::id());
    let creds = TenantCredentials::builder(sts(&endpoint), ROLE)
        .table_arn(format!(
            "arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
        ))
        .build()
        .unwrap();
    let a: TenantId = "tenant-a".parse().unwrap();
    let b: TenantId = "tenant-b".parse().unwrap();
    let a1 = creds.credentials(&a).await.unwrap();
    let a2 = creds.credentials(&a).await.unwrap();
    let b1 = creds.credentials(&b).await.unwrap();
    assert_eq!(a1.access_key_id(), a2.access_key_id(), "cached per tenant");
    assert_ne!(
        a1.access_key_id(),
        b1.access_key_id(),
        "one session per tenant"
    );
    assert!(a1.session_token().is_some());
    assert!(a1.expiry().is_some());

    // A DynamoDB client bound to tenant A's credentials works for tenant A's items.
    let client = creds
        .dynamodb_client(&dynamo_config(&endpoint), &a)
        .await
        .unwrap();
    let store = DataStore::builder(Backend::dynamodb(client))
        .pool(&table)
        .build()
        .unwrap();
    store.provisioner().create_table(&table).await.unwrap();
    let ctx = TenantContext::builder("tenant-a").build();
    let key = Key::new("todos", "1").unwrap();
    store
        .scope(&ctx)
        .put(&key, &serde_json::json!({"title": "x"}))
        .await
        .unwrap();
    let got = store
        .scope(&ctx)
        .get::<serde_json::Value>(&key)
        .await
        .unwrap();
    assert_eq!(got.item()["title"], "x");
}

#[tokio::test]
async fn credentials_are_renewed_before_expiry() {
    let Some(endpoint) = endpoint() else { return };
    // Sessions of 900 s renewed 899.5 s before expiry: fresh for half a second.
    let creds = TenantCredentials::builder(sts(&endpoint), ROLE)
        .table_arn("arn:aws:dynamodb:us-east-1:123456789012:table/pool")
        .refresh_before(Duration::from_millis(899_500))
        .build()
        .unwrap();
    let a: TenantId = "tenant-a".parse().unwrap();
    let first = creds.credentials(&a).await.unwrap();
    assert_eq!(
        creds.credentials(&a).await.unwrap().access_key_id(),
        first.access_key_id()
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let renewed = creds.credentials(&a).await.unwrap();
    assert_ne!(renewed.access_key_id(), first.access_key_id());
}

#[tokio::test]
async fn concurrent_first_calls_share_one_assume_role() {
    let Some(endpoint) = endpoint() else { return };
    let creds = TenantCredentials::builder(sts(&endpoint), ROLE)
        .table_arn("arn:aws:dynamodb:us-east-1:123456789012:table/pool")
        .build()
        .unwrap();
    let a: TenantId = "tenant-c".parse().unwrap();
    let calls = (0..20).map(|_| {
        let creds = creds.clone();
        let a = a.clone();
        tokio::spawn(async move {
            creds
                .credentials(&a)
                .await
                .unwrap()
                .access_key_id()
                .to_owned()
        })
    });
    let mut keys = Vec::new();
    for call in calls {
        keys.push(call.await.unwrap());
    }
    keys.dedup();
    assert_eq!(
        keys.len(),
        1,
        "20 concurrent callers got {} sessions",
        keys.len()
    );
}

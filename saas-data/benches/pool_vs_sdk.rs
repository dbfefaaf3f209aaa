//! The pool adapter against raw `aws-sdk-dynamodb` calls on the same local server (moto, from
//! `SAAS_TEST_MOTO_ENDPOINT`): get, put and a 20-item query, each the same request on the wire
//! apart from the adapter's condition and key layout. Skipped without the endpoint.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    missing_docs
)]

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue as Av, ReturnConsumedCapacity};
use criterion::{Criterion, criterion_group, criterion_main};
use saas_core::TenantContext;
use saas_data::{Backend, DataStore, Key, Query};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Todo {
    title: String,
    done: bool,
}

fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn benches(c: &mut Criterion) {
    let Ok(endpoint) = std::env::var("SAAS_TEST_MOTO_ENDPOINT") else {
        println!(
            "pool_vs_sdk: SAAS_TEST_MOTO_ENDPOINT is not set; skipped (scripts/bench-dynamodb runs it)"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let raw = client(&endpoint);
    let table = format!("bench-{}", std::process::id());
    let store = DataStore::builder(Backend::dynamodb(raw.clone()))
        .pool(&table)
        .build()
        .unwrap();
    rt.block_on(store.provisioner().create_table(&table))
        .unwrap();
    let ctx = TenantContext::builder("tenant-a").build();
    let data = store.scope(&ctx);
    let todo = Todo {
        title: "bench todo".into(),
        done: false,
    };
    let items: Vec<(Key, Todo)> = (0..20)
        .map(|i| {
            (
                Key::new("todos", format!("T#{i:03}")).unwrap(),
                todo.clone(),
            )
        })
        .collect();
    rt.block_on(data.batch_put(&items)).unwrap();
    let key = items[0].0.clone();

    let mut group = c.benchmark_group("dynamodb_get");
    group.bench_function("raw_sdk", |b| {
        b.iter(|| {
            rt.block_on(
                raw.get_item()
                    .table_name(&table)
                    .key("_pk", Av::S("tenant-a#todos".into()))
                    .key("_sk", Av::S("T#000".into()))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
            )
            .unwrap()
        })
    });
    group.bench_function("pool_adapter", |b| {
        b.iter(|| rt.block_on(async { data.get::<Todo>(&key).await }).unwrap())
    });
    group.finish();

    // Both sides send the same versioned replace: one PutItem conditional on the owner and the
    // version, as an application's optimistic update does.
    let mut group = c.benchmark_group("dynamodb_put");
    // Criterion calls each routine several times (warm-up, measurement): the version lives on.
    let raw_version = std::cell::Cell::new(0u64);
    group.bench_function("raw_sdk", |b| {
        b.iter(|| {
            let version = raw_version.get();
            let condition = if version == 0 {
                "attribute_not_exists(#pk)"
            } else {
                "attribute_exists(#pk) AND #t = :t AND #v = :v"
            };
            let mut req = raw
                .put_item()
                .table_name(&table)
                .item("_pk", Av::S("tenant-a#raw".into()))
                .item("_sk", Av::S("T#000".into()))
                .item("_tenant", Av::S("tenant-a".into()))
                .item("_version", Av::N((version + 1).to_string()))
                .item("title", Av::S("bench todo".into()))
                .item("done", Av::Bool(false))
                .condition_expression(condition)
                .expression_attribute_names("#pk", "_pk")
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            if version > 0 {
                req = req
                    .expression_attribute_names("#t", "_tenant")
                    .expression_attribute_names("#v", "_version")
                    .expression_attribute_values(":t", Av::S("tenant-a".into()))
                    .expression_attribute_values(":v", Av::N(version.to_string()));
            }
            rt.block_on(req.send()).unwrap();
            raw_version.set(version + 1);
        })
    });
    group.bench_function("pool_adapter", |b| {
        let mut version = rt.block_on(async { data.put(&key, &todo).await }).unwrap();
        b.iter(|| {
            let next = rt.block_on(async { data.put(&key, &todo).if_version(version).await });
            version = next.unwrap();
        })
    });
    group.finish();

    let mut group = c.benchmark_group("dynamodb_query20");
    group.bench_function("raw_sdk", |b| {
        b.iter(|| {
            rt.block_on(
                raw.query()
                    .table_name(&table)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", "_pk")
                    .expression_attribute_values(":pk", Av::S("tenant-a#todos".into()))
                    .limit(21)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
            )
            .unwrap()
        })
    });
    group.bench_function("pool_adapter", |b| {
        b.iter(|| {
            rt.block_on(data.query::<Todo>(Query::partition("todos").limit(20)))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = pool_vs_sdk;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(pool_vs_sdk);

//! DynamoDB capacity from saas-data, metered per tenant by saas-metrics and apportioned by
//! `usage`: the crates meet only through public APIs (`DataScope::consumed`, the usage hook,
//! `TenantMetrics::record_capacity`, `EmfReader`), and each tenant's figure is its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use saas_core::TenantContext;
use saas_data::{Backend, DataStore, Key, Query};
use saas_metrics::usage::{Bill, EmfReader};
use saas_metrics::{MemorySink, Metrics};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Todo {
    title: String,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenants_capacity_is_metered_under_it_and_billed_to_it() {
    let hooked: Arc<Mutex<BTreeMap<String, (f64, f64)>>> = Arc::default();
    let seen = hooked.clone();
    let store = DataStore::builder(Backend::in_memory())
        .pool("app-data")
        .cursor_key("a cursor key of at least thirty-two bytes")
        .on_usage(move |u: &saas_data::Usage<'_>| {
            let tenant = u.tenant.map(|t| t.to_string()).unwrap_or_default();
            let mut seen = seen.lock().unwrap();
            let entry = seen.entry(tenant).or_default();
            entry.0 += u.capacity.read_units;
            entry.1 += u.capacity.write_units;
        })
        .build()
        .unwrap();
    store.provisioner().create_table("app-data").await.unwrap();
    let sink = MemorySink::new();
    let metrics = Metrics::builder("TodoApp")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink.clone())
        .build();

    // Invocations of two tenants at once; b writes bigger items and more of them.
    let mut tasks = Vec::new();
    for (tenant, items, size) in [("tenant-a", 3usize, 100usize), ("tenant-b", 12, 5000)] {
        for invocation in 0..4 {
            let (store, metrics) = (store.clone(), metrics.clone());
            tasks.push(tokio::spawn(async move {
                let ctx = TenantContext::builder(tenant).build();
                let m = metrics.for_tenant(&ctx);
                let data = store.scope(&ctx);
                for i in 0..items {
                    let todo = Todo {
                        title: format!("todo {invocation}-{i}"),
                        body: "x".repeat(size),
                    };
                    let key = Key::new("todos", format!("T#{invocation:02}-{i:04}")).unwrap();
                    data.put(&key, &todo).create_only().await.unwrap();
                    let got = data.get::<Todo>(&key).await.unwrap();
                    assert_eq!(got.item().title, todo.title);
                }
                let page = data
                    .query::<Todo>(Query::partition("todos").limit(50))
                    .await
                    .unwrap();
                assert!(!page.items.is_empty());
                let used = data.consumed();
                m.record_capacity(used.read_units, used.write_units)
                    .unwrap();
                m.flush().await.unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }

    let hooked = hooked.lock().unwrap().clone();
    assert_eq!(hooked.len(), 2, "{hooked:?}");
    for tenant in ["tenant-a", "tenant-b"] {
        let (read, write) = hooked[tenant];
        assert!(read > 0.0 && write > 0.0, "{tenant}: {read} {write}");
        assert_eq!(
            sink.sum("TenantReadCapacityUnits", tenant),
            read,
            "{tenant}"
        );
        assert_eq!(
            sink.sum("TenantWriteCapacityUnits", tenant),
            write,
            "{tenant}"
        );
    }
    // Bigger and more items cost b more write capacity than a.
    assert!(
        hooked["tenant-b"].1 > 10.0 * hooked["tenant-a"].1,
        "{hooked:?}"
    );

    // The EMF lines the sink would have printed give the same figures, and the bill follows them.
    let lines = sink.emf_lines().unwrap().join("\n");
    let usage = EmfReader::new().read(lines.as_bytes()).unwrap();
    let report = Bill::parse(["dynamodb-write=100"])
        .unwrap()
        .apportion(&usage);
    let (a, b) = (hooked["tenant-a"].1, hooked["tenant-b"].1);
    let a_cents = report.tenant("tenant-a").unwrap().total().cents() as f64;
    assert!((a_cents - 10_000.0 * a / (a + b)).abs() <= 1.0, "{a_cents}");
    assert_eq!(report.total(), report.bill_total());
}

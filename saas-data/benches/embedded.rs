//! The embedded backend under load: get, put and a page of 50 through the tenant scope on a store
//! holding 100,000 items, in memory and in a file. Prints throughput and p50/p99 latencies from one
//! timed pass of 20,000 operations each (criterion's statistics follow).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use saas_core::TenantContext;
use saas_data::{Backend, DataStore, Key, Query};
use serde::{Deserialize, Serialize};

const ITEMS: usize = 100_000;
const TIMED_OPS: usize = 20_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Todo {
    title: String,
    done: bool,
    created_by: String,
    version_note: u64,
}

fn todo(i: usize) -> Todo {
    Todo {
        title: format!("todo number {i} with a title of typical length"),
        done: i.is_multiple_of(2),
        created_by: "ann@example.com".into(),
        version_note: i as u64,
    }
}

fn key(i: usize) -> Key {
    Key::new("todos", format!("T#{i:08}")).unwrap()
}

/// A pseudo-random index sequence (no rand dependency): a multiplicative walk mod ITEMS.
fn spread(n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(|i| (i.wrapping_mul(7919) + 13) % ITEMS)
}

async fn loaded(backend: Backend) -> DataStore {
    let store = DataStore::builder(backend).pool("bench").build().unwrap();
    store.provisioner().create_table("bench").await.unwrap();
    let data = store.scope(&TenantContext::builder("tenant-a").build());
    let items: Vec<(Key, Todo)> = (0..ITEMS).map(|i| (key(i), todo(i))).collect();
    for chunk in items.chunks(5_000) {
        data.batch_put(chunk).await.unwrap();
    }
    store
}

fn percentiles(label: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{label:<28} {:>9.0} ops/s   p50 {:>7.1} µs   p99 {:>7.1} µs   ({} ops)",
        samples.len() as f64 / total.as_secs_f64(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples.len()
    );
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stores = [
        ("memory", rt.block_on(loaded(Backend::in_memory()))),
        (
            "file",
            rt.block_on(loaded(
                Backend::open(dir.path().join("bench.redb")).unwrap(),
            )),
        ),
    ];
    let ctx = TenantContext::builder("tenant-a").build();

    println!("\nembedded backend, {ITEMS} items of tenant-a, one task:");
    for (name, store) in &stores {
        let data = store.scope(&ctx);
        rt.block_on(async {
            let mut samples = Vec::with_capacity(TIMED_OPS);
            let started = Instant::now();
            for i in spread(TIMED_OPS) {
                let t = Instant::now();
                black_box(data.get::<Todo>(&key(i)).await.unwrap());
                samples.push(t.elapsed());
            }
            percentiles(&format!("{name}/get"), samples, started.elapsed());
            let mut samples = Vec::with_capacity(TIMED_OPS);
            let started = Instant::now();
            for i in spread(TIMED_OPS) {
                let t = Instant::now();
                data.put(&key(i), &todo(i)).await.unwrap();
                samples.push(t.elapsed());
            }
            percentiles(&format!("{name}/put (upsert)"), samples, started.elapsed());
        });
    }
    println!();

    for (name, store) in &stores {
        let data = store.scope(&ctx);
        let mut group = c.benchmark_group(format!("embedded_{name}"));
        let mut i = 0usize;
        group.bench_function("get", |b| {
            b.iter(|| {
                i = (i + 7919) % ITEMS;
                rt.block_on(async { data.get::<Todo>(&key(i)).await })
                    .unwrap()
            })
        });
        group.bench_function("put_upsert", |b| {
            b.iter(|| {
                i = (i + 7919) % ITEMS;
                rt.block_on(async { data.put(&key(i), &todo(i)).await })
                    .unwrap()
            })
        });
        // The read path of a list page: 51 items read, owner-checked and deserialized, 50 kept.
        group.bench_function("query_page_50", |b| {
            b.iter(|| {
                let page = rt
                    .block_on(async {
                        data.query::<Todo>(Query::partition("todos").limit(50))
                            .await
                    })
                    .unwrap();
                assert_eq!(page.items.len(), 50);
                page
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = embedded;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(embedded);

//! Durable writes on the embedded file store: puts/s with 1, 16 and 64 concurrent writers,
//! beside the disk's own rate of single `fsync`s, measured in the same directory in the same run.
//!
//! One writer waits for each commit before sending the next put, so it pays one commit (one
//! `fsync`) per write: the rate without group commit. With 16 or 64 writers, the puts queued
//! while a commit is in flight go into the next commit together.
//!
//! Prints one timed pass per case (throughput, p50/p99 latency); criterion's statistics follow
//! (one iteration = one put by each of `n` concurrent writers).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    missing_docs
)]

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use saas_core::TenantContext;
use saas_data::{Backend, DataScope, DataStore, Key};
use serde::{Deserialize, Serialize};

/// How long each timed pass runs.
const PASS: Duration = Duration::from_secs(3);
const WRITERS: [usize; 3] = [1, 16, 64];

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Todo {
    title: String,
    done: bool,
    created_by: String,
}

fn todo(i: usize) -> Todo {
    Todo {
        title: format!("todo number {i} with a title of typical length"),
        done: false,
        created_by: "ann@example.com".into(),
    }
}

/// A directory on the disk the store uses (`target/tmp`, not a tmpfs `/tmp`).
fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// The disk's rate of single durable writes: `write` 100 bytes, then `sync_data`, in a loop.
/// `append`: each write extends the file; else the same 100 bytes are overwritten in place.
fn fsync_rate(dir: &Path, append: bool) -> f64 {
    let path = dir.join(if append { "append" } else { "overwrite" });
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap();
    let data = [b'x'; 100];
    file.write_all(&data).unwrap();
    file.sync_all().unwrap();
    let mut n = 0u64;
    let started = Instant::now();
    while started.elapsed() < PASS {
        if !append {
            file.seek(SeekFrom::Start(0)).unwrap();
        }
        file.write_all(&data).unwrap();
        file.sync_data().unwrap();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn store_in(dir: &Path) -> DataStore {
    let store = DataStore::builder(Backend::open(dir.join("group.redb")).unwrap())
        .pool("bench")
        .build()
        .unwrap();
    store.provisioner().create_table("bench").await.unwrap();
    store
}

/// `writers` tasks putting new items for `PASS`: puts/s, p50 and p99 latency.
async fn timed(data: &DataScope, writers: usize, round: usize) -> (f64, Duration, Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let data = data.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while started.elapsed() < PASS {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let key = Key::new("todos", format!("R{round}#W{w:03}#{i:09}")).unwrap();
                let t = Instant::now();
                data.put(&key, &todo(i)).await.unwrap();
                samples.push(t.elapsed());
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.append(&mut t.await.unwrap());
    }
    let elapsed = started.elapsed();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (
        samples.len() as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.99),
        samples.len(),
    )
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = bench_dir();
    println!(
        "\ndurable writes in {} (embedded file store, redb, Durability::Immediate):",
        dir.path().display()
    );
    let append = fsync_rate(dir.path(), true);
    let overwrite = fsync_rate(dir.path(), false);
    println!(
        "{:<34} {append:>9.0} /s",
        "disk: write 100 B + sync_data (append)"
    );
    println!(
        "{:<34} {overwrite:>9.0} /s",
        "disk: write 100 B + sync_data (in place)"
    );
    let store = rt.block_on(store_in(dir.path()));
    let data = store.scope(&TenantContext::builder("tenant-a").build());
    for (round, writers) in WRITERS.into_iter().enumerate() {
        let (rate, p50, p99, n) = rt.block_on(timed(&data, writers, round));
        println!(
            "{:<34} {rate:>9.0} puts/s   p50 {:>7.0} µs   p99 {:>7.0} µs   ({n} puts, {:.2}x the disk's fsync rate)",
            format!("put, {writers} concurrent writer(s)"),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            rate / append,
        );
    }
    println!();

    let mut group = c.benchmark_group("group_commit");
    let mut i = 0usize;
    for writers in WRITERS {
        group.bench_function(format!("put_x{writers}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut tasks = Vec::with_capacity(writers);
                    for _ in 0..writers {
                        i += 1;
                        let data = data.clone();
                        let key = Key::new("todos", format!("C#{i:09}")).unwrap();
                        tasks.push(tokio::spawn(async move { data.put(&key, &todo(i)).await }));
                    }
                    for t in tasks {
                        t.await.unwrap().unwrap();
                    }
                });
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = group_commit;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(group_commit);

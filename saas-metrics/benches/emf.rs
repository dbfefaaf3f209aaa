//! One invocation's metrics in EMF: a fresh `TenantMetrics` from `Metrics::for_tenant`, 10
//! counters recorded, and `flush` producing the one EMF document and writing it (to
//! `io::sink()`): the work a handler adds per request. Nothing else is recorded (no property, no
//! consumption metric), and the flush future, which the EMF sink completes at once, is polled
//! directly rather than through a runtime's `block_on`, so the figure is the crate's own work.
//! Before measuring, the same invocation is run once into a buffer to check that it makes
//! exactly one document holding the 10 metrics.
//!
//! PutMetricData is measured by `benches/cloudwatch_flush.rs` (`scripts/bench-cloudwatch`).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::future::Future;
use std::hint::black_box;
use std::io::{self, Write};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use saas_core::TenantContext;
use saas_metrics::{Metrics, Sink};

const NAMES: [&str; 10] = [
    "TodosCreated",
    "TodosCompleted",
    "TodosDeleted",
    "ListsShared",
    "CacheHits",
    "CacheMisses",
    "ItemsRead",
    "ItemsWritten",
    "Retries",
    "Notifications",
];

/// Polls a future that must be ready at once (the EMF sink writes synchronously).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the EMF flush did not complete at once"),
    }
}

/// One invocation: a fresh `TenantMetrics`, 10 counters, one flush.
fn invocation(metrics: &Metrics, ctx: &TenantContext) {
    let m = metrics.for_tenant(ctx);
    for (i, name) in NAMES.iter().enumerate() {
        m.count(name, (i + 1) as f64).unwrap();
    }
    ready(m.flush()).unwrap();
}

fn metrics(sink: Sink) -> Metrics {
    Metrics::builder("TodoApp")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink)
        .build()
}

/// A writer into a shared buffer, to look at what one invocation wrote.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The invocation makes exactly one EMF document with the 10 metrics.
fn check_one_document(ctx: &TenantContext) {
    let buffer = Buffer::default();
    invocation(&metrics(Sink::emf_writer(buffer.clone())), ctx);
    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one EMF document expected, got: {out}");
    let doc: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let defs = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap();
    assert_eq!(defs.len(), NAMES.len());
    for (i, name) in NAMES.iter().enumerate() {
        assert_eq!(doc[name], serde_json::json!(i + 1), "{name} in {out}");
    }
}

fn benches(c: &mut Criterion) {
    let ctx = TenantContext::builder("tenant-a").build();
    check_one_document(&ctx);
    let emf = metrics(Sink::emf_writer(io::sink()));
    c.bench_function("metrics/emf_10_counters_one_invocation", |b| {
        b.iter(|| invocation(black_box(&emf), black_box(&ctx)))
    });
}

criterion_group! {
    name = metrics_emf;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(metrics_emf);

//! One invocation's metrics in EMF: a fresh `TenantMetrics` from `Metrics::for_tenant`, 10
//! counters recorded, and `flush` producing the one EMF document (with the tenant property the
//! crate adds) and writing it (to `io::sink()`): the work a handler adds per request. The flush
//! future, which the EMF sink completes at once, is polled directly rather than through a
//! runtime's `block_on`, so the figure is the crate's own work. Before measuring, each case is
//! run once into a buffer to check the documents it makes.
//!
//! Cases:
//! - `metrics/emf_10_counters_one_invocation`: the op above, nothing else recorded.
//! - `metrics/emf_10_counters_and_a_property_one_invocation`: the same with a handler property
//!   (a request id).
//! - `metrics/emf_layer_like_invocation`: what the `InvocationMetricsLayer` and a handler record
//!   together: an `operation` dimension, a property, 10 counters, a timing and two consumption
//!   metrics; two documents (application and consumption).
//!
//! For an instruction count that load does not disturb, `EMF_BENCH_ITERATIONS=N` runs the first
//! case N times and exits, without criterion:
//! `EMF_BENCH_ITERATIONS=10000 valgrind --tool=callgrind target/release/deps/emf-<hash>`; the
//! difference between two values of N, divided by their difference, is the cost of one op.
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

use criterion::Criterion;
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
#[inline(never)]
fn invocation(metrics: &Metrics, ctx: &TenantContext) {
    let m = metrics.for_tenant(ctx);
    for (i, name) in NAMES.iter().enumerate() {
        m.count(name, (i + 1) as f64).unwrap();
    }
    ready(m.flush()).unwrap();
}

/// The same with a property of the handler's.
#[inline(never)]
fn invocation_with_property(metrics: &Metrics, ctx: &TenantContext) {
    let m = metrics.for_tenant(ctx);
    m.property("request_id", "8f14e45f-ceea-467f-a0e6-0b1a4f3c2d1e")
        .unwrap();
    for (i, name) in NAMES.iter().enumerate() {
        m.count(name, (i + 1) as f64).unwrap();
    }
    ready(m.flush()).unwrap();
}

/// What the layer and a handler record together.
#[inline(never)]
fn layer_like_invocation(metrics: &Metrics, ctx: &TenantContext) {
    let m = metrics.for_tenant(ctx);
    m.dimension("operation", "create_todo").unwrap();
    m.property("request_id", "8f14e45f-ceea-467f-a0e6-0b1a4f3c2d1e")
        .unwrap();
    for (i, name) in NAMES.iter().enumerate() {
        m.count(name, (i + 1) as f64).unwrap();
    }
    m.timing("Duration", Duration::from_micros(12_345)).unwrap();
    m.record_request().unwrap();
    m.record_compute(Duration::from_micros(12_345)).unwrap();
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

/// One case: an invocation.
type Invocation = fn(&Metrics, &TenantContext);

/// The documents `run` writes for one invocation, parsed.
fn documents(ctx: &TenantContext, run: Invocation) -> Vec<serde_json::Value> {
    let buffer = Buffer::default();
    run(&metrics(Sink::emf_writer(buffer.clone())), ctx);
    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    out.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Each case makes the documents it is meant to: the 10 metrics and the tenant property in one
/// document (and the consumption metrics in a second one for the layer-like case).
fn check_documents(ctx: &TenantContext) {
    let cases: [(Invocation, usize, bool); 3] = [
        (invocation, 1, false),
        (invocation_with_property, 1, true),
        (layer_like_invocation, 2, true),
    ];
    for (run, count, property) in cases {
        let docs = documents(ctx, run);
        assert_eq!(docs.len(), count, "{docs:?}");
        let doc = &docs[0];
        let defs = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(defs.len(), NAMES.len() + usize::from(count == 2));
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(doc[name], serde_json::json!(i + 1), "{name} in {doc}");
        }
        for doc in &docs {
            assert_eq!(doc["tenant_id"], "tenant-a", "{doc}");
            assert_eq!(doc.get("request_id").is_some(), property, "{doc}");
        }
    }
}

fn benches(c: &mut Criterion) {
    let ctx = TenantContext::builder("tenant-a").build();
    check_documents(&ctx);
    let emf = metrics(Sink::emf_writer(io::sink()));
    c.bench_function("metrics/emf_10_counters_one_invocation", |b| {
        b.iter(|| invocation(black_box(&emf), black_box(&ctx)))
    });
    c.bench_function(
        "metrics/emf_10_counters_and_a_property_one_invocation",
        |b| b.iter(|| invocation_with_property(black_box(&emf), black_box(&ctx))),
    );
    c.bench_function("metrics/emf_layer_like_invocation", |b| {
        b.iter(|| layer_like_invocation(black_box(&emf), black_box(&ctx)))
    });
}

fn main() {
    // A fixed number of ops, for an instruction count (callgrind) rather than a time.
    if let Ok(n) = std::env::var("EMF_BENCH_ITERATIONS") {
        let n: u64 = n.parse().expect("EMF_BENCH_ITERATIONS is a number");
        let ctx = TenantContext::builder("tenant-a").build();
        check_documents(&ctx);
        let emf = metrics(Sink::emf_writer(io::sink()));
        for _ in 0..n {
            invocation(black_box(&emf), black_box(&ctx));
        }
        return;
    }
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
}

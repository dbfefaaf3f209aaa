//! One invocation's metrics: 10 counters recorded for a tenant, a property, and the EMF document
//! produced and written (to `io::sink()`), the work a handler adds per request. Beside it, the
//! same invocation flushed through PutMetricData to a local CloudWatch stand-in (moto behind the
//! CBOR proxy, from `SAAS_TEST_CLOUDWATCH_ENDPOINT`; skipped without it).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use saas_core::TenantContext;
use saas_metrics::{CloudWatchSink, Metrics, Sink};

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

async fn invocation(metrics: &Metrics, ctx: &TenantContext) {
    let m = metrics.for_tenant(ctx);
    for (i, name) in NAMES.iter().enumerate() {
        m.count(name, i as f64).unwrap();
    }
    m.property("request_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
        .unwrap();
    m.flush().await.unwrap();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ctx = TenantContext::builder("tenant-a").build();
    let emf = Metrics::builder("TodoApp")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(Sink::emf_writer(std::io::sink()))
        .build();
    c.bench_function("metrics/emf_10_counters_one_invocation", |b| {
        b.iter(|| rt.block_on(invocation(black_box(&emf), &ctx)))
    });

    let Ok(endpoint) = std::env::var("SAAS_TEST_CLOUDWATCH_ENDPOINT") else {
        println!("metrics/putmetricdata: SAAS_TEST_CLOUDWATCH_ENDPOINT is not set; skipped");
        return;
    };
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        ))
        .build();
    let sink = CloudWatchSink::builder(aws_sdk_cloudwatch::Client::from_conf(config)).build();
    let cw = Metrics::builder("TodoAppBench")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink)
        .build();
    c.bench_function("metrics/putmetricdata_10_counters_one_invocation", |b| {
        b.iter(|| rt.block_on(invocation(&cw, &ctx)))
    });
}

criterion_group! {
    name = metrics;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(metrics);

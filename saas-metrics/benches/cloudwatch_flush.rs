//! What the PutMetricData sink adds to an invocation, against the local CloudWatch stand-in
//! (moto behind `scripts/cloudwatch_cbor_proxy.py` on 127.0.0.1, from
//! `SAAS_TEST_CLOUDWATCH_ENDPOINT`; `scripts/bench-cloudwatch` starts both). Skipped, with a
//! message and exit status 0, when the variable is unset.
//!
//! One op is one invocation's 10 counters reaching their destination:
//!
//! - `raw_sdk_put_metric_data` (the floor): the handler builds the 10 `MetricDatum`s itself
//!   (dimensions `service`, `tier`; unit Count; a timestamp) and makes one `PutMetricData` call
//!   with the `aws-sdk-cloudwatch` client;
//! - `cloudwatch_sink`: a fresh `TenantMetrics` from `Metrics::for_tenant`, 10 `count`s, and
//!   `flush` through `CloudWatchSink`, which makes that same call (checked before measuring: the
//!   two request bodies have the same length and differ only in the timestamps' bytes);
//! - `emf_writer`: the same invocation flushed as one EMF document to `io::sink()`, for
//!   comparison (what the default sink costs instead of a call).
//!
//! Both CloudWatch cases use one client, so connection handling is the same.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudwatch::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_cloudwatch::error::BoxError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use criterion::{Criterion, criterion_group, criterion_main};
use saas_core::TenantContext;
use saas_metrics::{CloudWatchSink, Metrics, Sink};

const NAMESPACE: &str = "TodoAppBench";
const SERVICE: &str = "todo";
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

/// Keeps the body of every request sent, to compare what both sides put on the wire.
#[derive(Debug, Default, Clone)]
struct Bodies(Arc<Mutex<Vec<Vec<u8>>>>);

impl Intercept for Bodies {
    fn name(&self) -> &'static str {
        "Bodies"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context
            .request()
            .body()
            .bytes()
            .unwrap_or_default()
            .to_vec();
        self.0.lock().unwrap().push(body);
        Ok(())
    }
}

fn client(endpoint: &str, bodies: Option<&Bodies>) -> Client {
    let mut config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"));
    if let Some(bodies) = bodies {
        config = config.interceptor(bodies.clone());
    }
    Client::from_conf(config.build())
}

/// One invocation through `metrics`: a fresh `TenantMetrics`, 10 counters, one flush.
async fn invocation(metrics: &Metrics, ctx: &TenantContext) {
    let m = metrics.for_tenant(ctx);
    for (i, name) in NAMES.iter().enumerate() {
        m.count(name, (i + 1) as f64).unwrap();
    }
    m.flush().await.unwrap();
}

/// The floor: the same 10 data points built by hand and sent in one PutMetricData call.
async fn raw_put(client: &Client, tier: &str) {
    let dimensions = vec![
        Dimension::builder().name("service").value(SERVICE).build(),
        Dimension::builder().name("tier").value(tier).build(),
    ];
    let timestamp = DateTime::from(SystemTime::now());
    let data = NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            MetricDatum::builder()
                .metric_name(*name)
                .set_dimensions(Some(dimensions.clone()))
                .unit(StandardUnit::Count)
                .timestamp(timestamp)
                .value((i + 1) as f64)
                .build()
        })
        .collect();
    client
        .put_metric_data()
        .namespace(NAMESPACE)
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap();
}

fn cloudwatch_metrics(client: Client) -> (Metrics, CloudWatchSink) {
    let sink = CloudWatchSink::builder(client).build();
    let metrics = Metrics::builder(NAMESPACE)
        .unwrap()
        .service(SERVICE)
        .unwrap()
        .sink(sink.clone())
        .build();
    (metrics, sink)
}

/// Both sides send the same request: same body length, differing only in the timestamps.
fn check_same_request(rt: &tokio::runtime::Runtime, endpoint: &str, ctx: &TenantContext) {
    let bodies = Bodies::default();
    let client = client(endpoint, Some(&bodies));
    let (metrics, sink) = cloudwatch_metrics(client.clone());
    rt.block_on(invocation(&metrics, ctx));
    rt.block_on(raw_put(&client, ctx.tier().as_str()));
    assert_eq!(sink.buffered(), 0, "the sink kept data points: {sink:?}");
    let bodies = bodies.0.lock().unwrap();
    assert_eq!(bodies.len(), 2, "one PutMetricData call each");
    let (ours, raw) = (&bodies[0], &bodies[1]);
    assert_eq!(ours.len(), raw.len(), "request bodies differ in length");
    let differing = ours.iter().zip(raw.iter()).filter(|(a, b)| a != b).count();
    // A timestamp is an 8-byte float per data point.
    assert!(
        differing <= 8 * NAMES.len(),
        "request bodies differ in {differing} bytes, more than the timestamps"
    );
    println!(
        "cloudwatch_flush: both sides send one PutMetricData of {} bytes ({differing} bytes differ: timestamps)",
        raw.len()
    );
}

fn benches(c: &mut Criterion) {
    let endpoint = match std::env::var("SAAS_TEST_CLOUDWATCH_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => e.trim().trim_end_matches('/').to_owned(),
        _ => {
            println!(
                "cloudwatch_flush: SAAS_TEST_CLOUDWATCH_ENDPOINT is not set; nothing measured \
                 (scripts/bench-cloudwatch starts moto and the CBOR proxy and runs this bench)"
            );
            return;
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ctx = TenantContext::builder("tenant-a").build();
    let tier = ctx.tier().as_str().to_owned();
    check_same_request(&rt, &endpoint, &ctx);

    let raw = client(&endpoint, None);
    let (cloudwatch, _sink) = cloudwatch_metrics(raw.clone());
    let emf = Metrics::builder(NAMESPACE)
        .unwrap()
        .service(SERVICE)
        .unwrap()
        .sink(Sink::emf_writer(std::io::sink()))
        .build();

    let mut group = c.benchmark_group("cloudwatch_flush_10_metrics");
    group.bench_function("raw_sdk_put_metric_data", |b| {
        b.iter(|| rt.block_on(raw_put(black_box(&raw), &tier)))
    });
    group.bench_function("cloudwatch_sink", |b| {
        b.iter(|| rt.block_on(invocation(black_box(&cloudwatch), &ctx)))
    });
    group.bench_function("emf_writer", |b| {
        b.iter(|| rt.block_on(invocation(black_box(&emf), &ctx)))
    });
    group.finish();
}

criterion_group! {
    name = cloudwatch_flush;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(cloudwatch_flush);

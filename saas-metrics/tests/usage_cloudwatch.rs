//! Reading consumption back from CloudWatch (moto on 127.0.0.1, through the CBOR proxy that
//! `scripts/moto.sh` starts): figures written by `CloudWatchSink` come back per tenant through
//! `read_cloudwatch` and through `saas-usage --cloudwatch`; other periods, services and dimension
//! sets stay out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use saas_core::TenantContext;
use saas_metrics::usage::{Period, UsageError, read_cloudwatch};
use saas_metrics::{CloudWatchSink, Metrics};
use serde_json::Value;

use common::cloudwatch_endpoint as endpoint;

const HOUR_MS: i64 = 3_600_000;

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    Client::from_conf(config)
}

fn now_ms() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(d.as_millis()).unwrap()
}

/// A service name of its own per test and run: moto's GetMetricData matches dimensions without
/// the namespace, so the `service` dimension keeps runs against one moto apart.
fn unique(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), now_ms())
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// The hours around now, on the hour.
fn around_now() -> Period {
    let hour = now_ms() / HOUR_MS * HOUR_MS;
    Period::from_millis(Some(hour - 2 * HOUR_MS), Some(hour + 2 * HOUR_MS)).unwrap()
}

async fn seed(client: &Client, namespace: &str, service: &str) {
    let metrics = Metrics::builder(namespace)
        .unwrap()
        .service(service)
        .unwrap()
        .sink(CloudWatchSink::builder(client.clone()).build())
        .build();
    let a = TenantContext::builder("tenant-a").build();
    let b = TenantContext::builder("tenant-b").build();
    for ms in [10, 20, 30] {
        let m = metrics.for_tenant(&a);
        m.record_request().unwrap();
        m.record_compute(Duration::from_millis(ms)).unwrap();
        m.record_capacity(1.5, 2.0).unwrap();
        m.count("TodosCreated", 1.0).unwrap(); // an application metric: not consumption
        m.flush().await.unwrap();
    }
    let m = metrics.for_tenant(&a);
    m.record_storage(100).unwrap();
    m.record_storage(300).unwrap();
    m.flush().await.unwrap();
    let m = metrics.for_tenant(&b);
    m.record_request().unwrap();
    m.record_compute(Duration::from_millis(5)).unwrap();
    m.flush().await.unwrap();

    // What must stay out: five hours ago, another service, another dimension set.
    let datum = |dims: Vec<Dimension>, at: i64| {
        MetricDatum::builder()
            .metric_name("TenantRequests")
            .unit(StandardUnit::Count)
            .value(1000.0)
            .set_dimensions(Some(dims))
            .timestamp(DateTime::from_millis(at))
            .build()
    };
    let other_service = format!("{service}-other");
    client
        .put_metric_data()
        .namespace(namespace)
        .metric_data(datum(
            vec![dim("service", service), dim("tenant_id", "tenant-a")],
            now_ms() - 5 * HOUR_MS,
        ))
        .metric_data(datum(
            vec![dim("service", &other_service), dim("tenant_id", "tenant-a")],
            now_ms(),
        ))
        .metric_data(datum(
            vec![
                dim("service", service),
                dim("tenant_id", "tenant-a"),
                dim("route", "/todos"),
            ],
            now_ms(),
        ))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn consumption_written_by_the_sink_reads_back_per_tenant() {
    let Some(endpoint) = endpoint() else { return };
    let client = client(&endpoint);
    let namespace = format!("SaasTest/usage/{}", unique("ns"));
    let service = unique("usage");
    seed(&client, &namespace, &service).await;

    let usage = read_cloudwatch(&client, &namespace, Some(&service), around_now())
        .await
        .unwrap();
    assert_eq!(usage.tenants().len(), 2, "{usage:?}");
    let a = usage.tenant("tenant-a").unwrap();
    assert_eq!(a.requests, 3.0);
    assert_eq!(a.compute_ms, 60.0);
    assert_eq!(a.read_units, 4.5);
    assert_eq!(a.write_units, 6.0);
    assert_eq!(a.storage_bytes, 200.0);
    let b = usage.tenant("tenant-b").unwrap();
    assert_eq!((b.requests, b.compute_ms, b.write_units), (1.0, 5.0, 0.0));

    // The command reads the same through the standard SDK settings.
    let period = around_now();
    let from = saas_metrics_rfc3339(period.from_ms().unwrap());
    let to = saas_metrics_rfc3339(period.to_ms().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_saas-usage"))
        .args([
            "--cloudwatch",
            "--namespace",
            &namespace,
            "--service",
            &service,
        ])
        .args(["--from", &from, "--to", &to])
        .args([
            "--bill",
            "compute=65",
            "--bill",
            "requests=4",
            "--format",
            "json",
        ])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tenants"][0]["tenant"], "tenant-a");
    assert_eq!(report["tenants"][0]["cost"]["compute"], "60.00");
    assert_eq!(report["tenants"][0]["cost"]["requests"], "3.00");
    assert_eq!(report["tenants"][1]["total"], "6.00");
    assert_eq!(report["total"], "69.00");
}

fn saas_metrics_rfc3339(ms: i64) -> String {
    use aws_sdk_cloudwatch::primitives::DateTimeFormat;
    DateTime::from_millis(ms)
        .fmt(DateTimeFormat::DateTime)
        .unwrap()
}

#[tokio::test]
async fn periods_cloudwatch_cannot_answer_are_refused_before_any_call() {
    // A closed port: a call would fail with a CloudWatch error, not a period error.
    let client = client("http://127.0.0.1:9");
    let open = Period::parse(Some("2026-11-01"), None).unwrap();
    let err = read_cloudwatch(&client, "App", None, open)
        .await
        .unwrap_err();
    assert!(matches!(err, UsageError::InvalidPeriod(_)), "{err}");
    let half = Period::parse(Some("2026-11-01T00:30:00Z"), Some("2026-11-02")).unwrap();
    let err = read_cloudwatch(&client, "App", None, half)
        .await
        .unwrap_err();
    assert!(matches!(err, UsageError::InvalidPeriod(_)), "{err}");
}

#[tokio::test]
async fn cloudwatch_unreachable_is_a_cloudwatch_error() {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled())
        .build();
    let client = Client::from_conf(config);
    let err = read_cloudwatch(&client, "App", None, Period::month("2026-11").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UsageError::CloudWatch {
                operation: "ListMetrics",
                ..
            }
        ),
        "{err}"
    );
}

//! `CloudWatchSink` end to end: `Metrics` flushes go through PutMetricData to moto (through
//! `scripts/cloudwatch_cbor_proxy.py`, `SAAS_TEST_CLOUDWATCH_ENDPOINT`) and read back with
//! GetMetricStatistics, GetMetricData and ListMetrics; and with CloudWatch unreachable (a closed
//! port on 127.0.0.1) the request is unaffected, the points stay buffered within the bound, and
//! once it is reachable again they and the dropped count (`SaasMetricsDropped`) arrive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, StandardUnit, Statistic,
};
use http::{Request, Response, StatusCode};
use saas_core::{TenantContext, Tier};
use saas_metrics::layer::InvocationMetricsLayer;
use saas_metrics::{CloudWatchSink, DROPPED_METRIC, Error, Metrics, TenantMetrics, Unit};
use tower::{Layer, Service, ServiceExt, service_fn};
use tracing::instrument::WithSubscriber;

use common::{Capture, cloudwatch_client as client, cloudwatch_endpoint as endpoint};

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A namespace of its own per test and run.
fn namespace(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("SaasMetricsTest/{test}/{}-{nanos}", std::process::id())
}

/// The whole minute `minutes` back (moto's buckets start at the first datum or StartTime).
fn minutes_ago(minutes: u64) -> SystemTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(now / 60 * 60 - minutes * 60)
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// Sum, SampleCount and Maximum of `metric` with exactly `dims` over the last and next 30
/// minutes, or None when CloudWatch has no datapoint; only datapoints in `unit` count.
async fn stats(
    cw: &Client,
    ns: &str,
    metric: &str,
    dims: &[Dimension],
    unit: StandardUnit,
) -> Option<(f64, f64, f64)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = cw
        .get_metric_statistics()
        .namespace(ns)
        .metric_name(metric)
        .set_dimensions(Some(dims.to_vec()))
        .start_time(DateTime::from_secs(now - 1800))
        .end_time(DateTime::from_secs(now + 1800))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Maximum)
        .unit(unit.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetMetricStatistics: {}", DisplayErrorContext(e)));
    let points = out.datapoints();
    if points.is_empty() {
        return None;
    }
    for p in points {
        assert_eq!(p.unit(), Some(&unit), "{metric}: {p:?}");
    }
    let sum = points.iter().map(|p| p.sum().unwrap()).sum();
    let count = points.iter().map(|p| p.sample_count().unwrap()).sum();
    let max = points
        .iter()
        .map(|p| p.maximum().unwrap())
        .fold(f64::MIN, f64::max);
    Some((sum, count, max))
}

async fn sum(cw: &Client, ns: &str, metric: &str, dims: &[Dimension], unit: StandardUnit) -> f64 {
    stats(cw, ns, metric, dims, unit)
        .await
        .unwrap_or_else(|| panic!("no datapoint of {metric} {dims:?}"))
        .0
}

#[tokio::test]
async fn flushes_of_two_tenants_arrive_with_values_units_and_dimensions() {
    let Some(endpoint) = endpoint() else { return };
    let cw = client(&endpoint);
    let ns = namespace("two-tenants");
    let sink = CloudWatchSink::builder(cw.clone()).build();
    let metrics = Metrics::builder(&ns)
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink.clone())
        .build();
    let t = minutes_ago(2);
    // Tenant ids of this run: moto's GetMetricData ignores the namespace of a query with
    // dimensions (moto 5.2.5, `get_metric_data`), so earlier runs' figures would count.
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000_000;
    let (ta, tb) = (format!("tenant-a-{run}"), format!("tenant-b-{run}"));

    let a = metrics.for_tenant(&TenantContext::builder(&ta).build());
    a.metric("TodosCreated").timestamp(t).count(1.0).unwrap();
    a.metric("TodosCreated").timestamp(t).count(2.0).unwrap();
    for v in [10.0, 20.0, 20.0] {
        a.metric("Latency")
            .unit(Unit::Milliseconds)
            .high_resolution()
            .timestamp(t)
            .gauge(v)
            .unwrap();
    }
    a.metric("Payload")
        .unit(Unit::Bytes)
        .dimension("route", "/todos")
        .timestamp(t)
        .gauge(512.0)
        .unwrap();
    a.record_request().unwrap();
    a.record_compute(Duration::from_millis(40)).unwrap();
    a.record_capacity(1.5, 2.0).unwrap();
    a.record_storage(1024).unwrap();

    let b = metrics.for_tenant(&TenantContext::builder(&tb).tier(Tier::Premium).build());
    b.metric("TodosCreated").timestamp(t).count(5.0).unwrap();
    b.record_request().unwrap();
    b.record_request().unwrap();
    b.record_compute(Duration::from_millis(7)).unwrap();

    a.flush().await.unwrap();
    b.flush().await.unwrap();
    assert_eq!(sink.buffered(), 0);
    assert_eq!(sink.dropped(), 0);

    let service = dim("service", "todo");
    let basic = [service.clone(), dim("tier", "Basic")];
    let premium = [service.clone(), dim("tier", "Premium")];
    let tenant_a = [service.clone(), dim("tenant_id", &ta)];
    let tenant_b = [service.clone(), dim("tenant_id", &tb)];
    use StandardUnit as U;

    // The application's metrics: per service and tier; the counter summed per invocation.
    assert_eq!(
        stats(&cw, &ns, "TodosCreated", &basic, U::Count).await,
        Some((3.0, 1.0, 3.0))
    );
    assert_eq!(
        stats(&cw, &ns, "TodosCreated", &premium, U::Count).await,
        Some((5.0, 1.0, 5.0))
    );
    // Every value of a gauge (sent as distinct values with counts).
    assert_eq!(
        stats(&cw, &ns, "Latency", &basic, U::Milliseconds).await,
        Some((50.0, 3.0, 20.0))
    );
    assert_eq!(stats(&cw, &ns, "Latency", &basic, U::Count).await, None);
    let routed = [
        service.clone(),
        dim("tier", "Basic"),
        dim("route", "/todos"),
    ];
    assert_eq!(sum(&cw, &ns, "Payload", &routed, U::Bytes).await, 512.0);

    // Consumption: per tenant.
    assert_eq!(
        sum(&cw, &ns, "TenantRequests", &tenant_a, U::Count).await,
        1.0
    );
    assert_eq!(
        sum(&cw, &ns, "TenantRequests", &tenant_b, U::Count).await,
        2.0
    );
    assert_eq!(
        sum(&cw, &ns, "TenantComputeTime", &tenant_a, U::Milliseconds).await,
        40.0
    );
    assert_eq!(
        sum(&cw, &ns, "TenantComputeTime", &tenant_b, U::Milliseconds).await,
        7.0
    );
    assert_eq!(
        stats(&cw, &ns, "TenantComputeTime", &tenant_a, U::Count).await,
        None
    );
    assert_eq!(
        sum(&cw, &ns, "TenantReadCapacityUnits", &tenant_a, U::Count).await,
        1.5
    );
    assert_eq!(
        sum(&cw, &ns, "TenantWriteCapacityUnits", &tenant_a, U::Count).await,
        2.0
    );
    assert_eq!(
        sum(&cw, &ns, "TenantStorageBytes", &tenant_a, U::Bytes).await,
        1024.0
    );
    assert_eq!(
        stats(&cw, &ns, "TenantReadCapacityUnits", &tenant_b, U::Count).await,
        None
    );

    // Only the consumption metrics carry tenant_id (the tenant is a dimension nowhere else).
    for (tenant, expected) in [
        (
            &ta,
            &[
                "TenantComputeTime",
                "TenantReadCapacityUnits",
                "TenantRequests",
                "TenantStorageBytes",
                "TenantWriteCapacityUnits",
            ][..],
        ),
        (&tb, &["TenantComputeTime", "TenantRequests"][..]),
    ] {
        let listed = cw
            .list_metrics()
            .namespace(&ns)
            .dimensions(
                DimensionFilter::builder()
                    .name("tenant_id")
                    .value(tenant)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListMetrics: {}", DisplayErrorContext(e)));
        let names: BTreeSet<&str> = listed
            .metrics()
            .iter()
            .map(|m| m.metric_name().unwrap())
            .collect();
        assert_eq!(names, expected.iter().copied().collect(), "{tenant}");
    }

    // GetMetricData gives each tenant's consumption in one call.
    let query = |id: &str, dims: &[Dimension]| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(&ns)
                            .metric_name("TenantRequests")
                            .set_dimensions(Some(dims.to_vec()))
                            .build(),
                    )
                    .period(3600)
                    .stat("Sum")
                    .build(),
            )
            .build()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let data = cw
        .get_metric_data()
        .metric_data_queries(query("a", &tenant_a))
        .metric_data_queries(query("b", &tenant_b))
        .start_time(DateTime::from_secs(now - 1800))
        .end_time(DateTime::from_secs(now + 1800))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetMetricData: {}", DisplayErrorContext(e)));
    let total = |id: &str| -> f64 {
        data.metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .unwrap()
            .values()
            .iter()
            .sum()
    };
    assert_eq!((total("a"), total("b")), (1.0, 2.0));
}

/// Answers 201 with the tenant, or fails on `/fail`; counts `TodosCreated` first.
async fn handler(req: Request<String>) -> Result<Response<String>, std::io::Error> {
    let m = req.extensions().get::<TenantMetrics>().cloned().unwrap();
    m.count("TodosCreated", 1.0).unwrap();
    if req.uri().path() == "/fail" {
        return Err(std::io::Error::other("handler failed"));
    }
    let mut response = Response::new(format!("created for {}", m.tenant_id()));
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

fn request(path: &str) -> Request<String> {
    let mut req = Request::builder().uri(path).body(String::new()).unwrap();
    req.extensions_mut()
        .insert(TenantContext::builder("tenant-a").build());
    req
}

#[tokio::test]
async fn unreachable_cloudwatch_leaves_the_response_alone_and_keeps_the_points() {
    let started = Instant::now();
    let sink =
        CloudWatchSink::builder(client(&format!("http://127.0.0.1:{}", closed_port()))).build();
    let metrics = Metrics::builder("Test")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink.clone())
        .build();
    let mut app = InvocationMetricsLayer::new(metrics.clone()).layer(service_fn(handler));

    let capture = Capture::default();
    let response = app
        .ready()
        .await
        .unwrap()
        .call(request("/"))
        .with_subscriber(capture.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.body(), "created for tenant-a");
    let logged = capture.find("WARN", "metrics flush failed");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("PutMetricData failed"), "{logged:?}");
    // TodosCreated, Invocations, ColdStart, Duration; TenantRequests, TenantComputeTime.
    assert_eq!(sink.buffered(), 6);
    assert_eq!(sink.dropped(), 0);

    // The handler's error goes out as it was; its points join the buffer.
    let failed = app.ready().await.unwrap().call(request("/fail")).await;
    assert_eq!(failed.unwrap_err().to_string(), "handler failed");
    // TodosCreated, Invocations, ServerErrors, Duration; TenantRequests, TenantComputeTime.
    assert_eq!(sink.buffered(), 12);

    // A direct flush says what it kept.
    let m = metrics.for_tenant(&TenantContext::builder("tenant-b").build());
    m.count("Direct", 1.0).unwrap();
    match m.flush().await {
        Err(Error::Sink(e)) => {
            assert!(
                e.to_string()
                    .contains("PutMetricData failed (13 data points kept)"),
                "{e}"
            );
        }
        other => panic!("expected a sink error, got {other:?}"),
    }
    assert_eq!(sink.buffered(), 13);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "an unreachable CloudWatch took {:?}",
        started.elapsed()
    );
}

/// Forwards every connection on `listener` to `upstream`.
fn forward(listener: tokio::net::TcpListener, upstream: SocketAddr) {
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

#[tokio::test]
async fn the_buffer_is_bounded_and_what_it_dropped_is_reported_once_cloudwatch_is_back() {
    let Some(endpoint) = endpoint() else { return };
    let upstream: SocketAddr = endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("SAAS_TEST_CLOUDWATCH_ENDPOINT is http://127.0.0.1:PORT");
    let port = closed_port();
    let cw = client(&format!("http://127.0.0.1:{port}"));
    let ns = namespace("outage");
    let sink = CloudWatchSink::builder(cw.clone()).max_buffered(5).build();
    // No dimension at all: the points and the dropped count are read back alike.
    let metrics = Metrics::builder(&ns)
        .unwrap()
        .tier_dimension(false)
        .sink(sink.clone())
        .build();
    let t = minutes_ago(2);
    let flush = |names: &[&str]| {
        let m = metrics.for_tenant(&TenantContext::builder("tenant-a").build());
        for (i, name) in (1u32..).zip(names) {
            m.metric(name).timestamp(t).count(f64::from(i)).unwrap();
        }
        async move { m.flush().await }
    };

    // Unreachable: 8 points, 5 kept (the newest), 3 dropped.
    let first = flush(&["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7"]).await;
    assert!(matches!(first, Err(Error::Sink(_))), "{first:?}");
    assert_eq!((sink.buffered(), sink.dropped()), (5, 3));
    // Still unreachable: 2 more, the 2 oldest kept dropped.
    let second = flush(&["N0", "N1"]).await;
    assert!(matches!(second, Err(Error::Sink(_))), "{second:?}");
    assert_eq!((sink.buffered(), sink.dropped()), (5, 5));

    // CloudWatch is back on the same address: the next flush sends what was kept, what it
    // brings (one more drop: 6 points for 5 places) and the count of everything dropped.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    forward(listener, upstream);
    flush(&["Last"])
        .await
        .unwrap_or_else(|e| panic!("flush once reachable: {e}"));
    assert_eq!((sink.buffered(), sink.dropped()), (0, 0));

    let read = client(&endpoint);
    for (name, value) in [
        ("M6", 7.0),
        ("M7", 8.0),
        ("N0", 1.0),
        ("N1", 2.0),
        ("Last", 1.0),
    ] {
        assert_eq!(
            stats(&read, &ns, name, &[], StandardUnit::Count).await,
            Some((value, 1.0, value)),
            "{name}"
        );
    }
    for name in ["M0", "M1", "M2", "M3", "M4", "M5"] {
        assert_eq!(
            stats(&read, &ns, name, &[], StandardUnit::Count).await,
            None,
            "{name} was dropped"
        );
    }
    assert_eq!(
        stats(&read, &ns, DROPPED_METRIC, &[], StandardUnit::Count).await,
        Some((6.0, 1.0, 6.0))
    );

    // Reported once: a later flush sends no second report.
    flush(&["After"]).await.unwrap();
    assert_eq!(
        stats(&read, &ns, DROPPED_METRIC, &[], StandardUnit::Count).await,
        Some((6.0, 1.0, 6.0))
    );
    assert_eq!(
        sum(&read, &ns, "After", &[], StandardUnit::Count).await,
        1.0
    );
}

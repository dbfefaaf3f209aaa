//! `aws-sdk-cloudwatch` against moto on 127.0.0.1, through `scripts/cloudwatch_cbor_proxy.py`.
//!
//! The SDK speaks Smithy RPC v2 CBOR and moto only CloudWatch's JSON protocol; `scripts/moto.sh`
//! starts the translating proxy and exports `SAAS_TEST_CLOUDWATCH_ENDPOINT` (docs/local-aws.md).
//! These tests prove the round trip for what a PutMetricData sink sends (units, dimensions,
//! explicit timestamps, `Values`/`Counts`, `StatisticValues`, gzip-compressed bodies) and that
//! moto's answers and errors reach the SDK as typed output and typed service errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudwatch::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_cloudwatch::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::RequestId;
use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsError;
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Datapoint, Dimension, DimensionFilter, Metric, MetricDataQuery, MetricDatum, MetricStat,
    StandardUnit, Statistic, StatisticSet,
};

fn endpoint() -> Option<String> {
    match std::env::var("SAAS_TEST_CLOUDWATCH_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("SAAS_REQUIRE_MOTO").is_none(),
                "SAAS_REQUIRE_MOTO is set but SAAS_TEST_CLOUDWATCH_ENDPOINT is not: run scripts/test"
            );
            eprintln!("skipping: SAAS_TEST_CLOUDWATCH_ENDPOINT is not set");
            None
        }
    }
}

/// Records each sent request's `Content-Encoding`, to see the SDK's gzip request compression.
#[derive(Debug, Default, Clone)]
struct Encodings(Arc<Mutex<Vec<Option<String>>>>);

impl Intercept for Encodings {
    fn name(&self) -> &'static str {
        "Encodings"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let encoding = context.request().headers().get("content-encoding");
        self.0.lock().unwrap().push(encoding.map(str::to_owned));
        Ok(())
    }
}

fn client(endpoint: &str, encodings: &Encodings) -> Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .interceptor(encodings.clone())
        .build();
    Client::from_conf(config)
}

/// A namespace of its own per test and run, so reruns against one moto never meet old data.
fn namespace(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("SaasTest/{test}/{}-{nanos}", std::process::id())
}

/// The whole minute `minutes` back. moto's GetMetricStatistics buckets start at the first datum
/// and its GetMetricData buckets at StartTime, so data stamped with one whole minute lands in one
/// bucket stamped with that minute in both (as on CloudWatch, which aligns to the period).
fn minutes_ago(minutes: i64) -> DateTime {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    DateTime::from_secs(now.unwrap() / 60 * 60 - minutes * 60)
}

fn offset(t: DateTime, secs: i64) -> DateTime {
    DateTime::from_secs(t.secs() + secs)
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// The service error in `err`. A body the SDK cannot parse also lands here (as an unhandled
/// error without a code), so callers check the variant or the code too.
fn service_error<E: std::error::Error + 'static, R: std::fmt::Debug>(err: &SdkError<E, R>) -> &E {
    err.as_service_error()
        .unwrap_or_else(|| panic!("expected a service error, got {}", DisplayErrorContext(err)))
}

/// One datapoint is expected: returns it.
fn only(datapoints: &[Datapoint]) -> &Datapoint {
    assert_eq!(datapoints.len(), 1, "datapoints: {datapoints:?}");
    &datapoints[0]
}

#[tokio::test]
async fn put_metric_data_reads_back_with_units_dimensions_and_timestamps() {
    let Some(endpoint) = endpoint() else { return };
    let encodings = Encodings::default();
    let cw = client(&endpoint, &encodings);
    let ns = namespace("roundtrip");
    let t = minutes_ago(3);
    let route = [dim("tenant", "acme"), dim("route", "/orders")];
    let latency = |datum: aws_sdk_cloudwatch::types::builders::MetricDatumBuilder| {
        datum
            .metric_name("Latency")
            .set_dimensions(Some(route.to_vec()))
            .unit(StandardUnit::Milliseconds)
            .timestamp(t)
    };

    let put = cw
        .put_metric_data()
        .namespace(&ns)
        // Latency: 120 once, 10 three times and 20 once, and a statistic set of 5 samples.
        .metric_data(latency(MetricDatum::builder().value(120.0).storage_resolution(1)).build())
        .metric_data(
            latency(MetricDatum::builder())
                .values(10.0)
                .counts(3.0)
                .values(20.0)
                .counts(1.0)
                .build(),
        )
        .metric_data(
            latency(MetricDatum::builder())
                .statistic_values(
                    StatisticSet::builder()
                        .sample_count(5.0)
                        .sum(250.0)
                        .minimum(30.0)
                        .maximum(90.0)
                        .build(),
                )
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name("Requests")
                .dimensions(dim("tenant", "acme"))
                .unit(StandardUnit::Count)
                .timestamp(t)
                .value(3.0)
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name("Requests")
                .dimensions(dim("tenant", "globex"))
                .unit(StandardUnit::Count)
                .timestamp(t)
                .value(7.0)
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name("ResponseBytes")
                .dimensions(dim("tenant", "acme"))
                .unit(StandardUnit::Bytes)
                .timestamp(t)
                .value(2048.0)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutMetricData: {}", DisplayErrorContext(e)));
    assert!(put.request_id().is_some(), "x-amzn-requestid comes back");
    assert_eq!(
        *encodings.0.lock().unwrap(),
        [None],
        "a small body is not compressed"
    );

    // ListMetrics, filtered on tenant=acme. moto lists a metric with two or more dimensions once
    // per datum (its dimension comparison is pairwise), hence the set.
    let listed = cw
        .list_metrics()
        .namespace(&ns)
        .dimensions(
            DimensionFilter::builder()
                .name("tenant")
                .value("acme")
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListMetrics: {}", DisplayErrorContext(e)));
    let metrics: BTreeSet<(String, Vec<(String, String)>)> = listed
        .metrics()
        .iter()
        .map(|m| {
            assert_eq!(m.namespace(), Some(ns.as_str()));
            let mut dims: Vec<_> = m
                .dimensions()
                .iter()
                .map(|d| (d.name().unwrap().to_owned(), d.value().unwrap().to_owned()))
                .collect();
            dims.sort();
            (m.metric_name().unwrap().to_owned(), dims)
        })
        .collect();
    let acme = ("tenant".to_owned(), "acme".to_owned());
    let expected: BTreeSet<_> = [
        (
            "Latency".to_owned(),
            vec![("route".to_owned(), "/orders".to_owned()), acme.clone()],
        ),
        ("Requests".to_owned(), vec![acme.clone()]),
        ("ResponseBytes".to_owned(), vec![acme.clone()]),
    ]
    .into_iter()
    .collect();
    assert_eq!(metrics, expected);

    // GetMetricStatistics: Sum, SampleCount and Maximum over all three Latency shapes.
    let stats = |metric: &str, dims: &[Dimension], unit: StandardUnit| {
        cw.get_metric_statistics()
            .namespace(&ns)
            .metric_name(metric)
            .set_dimensions(Some(dims.to_vec()))
            .start_time(offset(t, -120))
            .end_time(offset(t, 120))
            .period(60)
            .statistics(Statistic::Sum)
            .statistics(Statistic::SampleCount)
            .statistics(Statistic::Maximum)
            .unit(unit)
            .send()
    };
    let out = stats("Latency", &route, StandardUnit::Milliseconds)
        .await
        .unwrap_or_else(|e| panic!("GetMetricStatistics: {}", DisplayErrorContext(e)));
    let point = only(out.datapoints());
    assert_eq!(point.timestamp(), Some(&t), "the datapoint's timestamp");
    assert_eq!(point.sum(), Some(120.0 + 10.0 * 3.0 + 20.0 + 250.0));
    assert_eq!(point.sample_count(), Some(1.0 + 4.0 + 5.0));
    assert_eq!(point.maximum(), Some(120.0));
    assert_eq!(point.minimum(), None, "only the asked statistics");
    assert_eq!(point.unit(), Some(&StandardUnit::Milliseconds));

    // The unit and the dimensions of the request arrive: they filter.
    let wrong_unit = stats("Latency", &route, StandardUnit::Count).await.unwrap();
    assert!(wrong_unit.datapoints().is_empty(), "{wrong_unit:?}");
    let acme_requests = stats("Requests", &[dim("tenant", "acme")], StandardUnit::Count)
        .await
        .unwrap();
    let point = only(acme_requests.datapoints());
    assert_eq!(point.sum(), Some(3.0));
    assert_eq!(point.unit(), Some(&StandardUnit::Count));
    let bytes = stats(
        "ResponseBytes",
        &[dim("tenant", "acme")],
        StandardUnit::Bytes,
    )
    .await
    .unwrap();
    let point = only(bytes.datapoints());
    assert_eq!(point.sum(), Some(2048.0));
    assert_eq!(point.unit(), Some(&StandardUnit::Bytes));

    // GetMetricData: MetricStat queries with dimensions, Sum over 60 s.
    let query = |id: &str, metric: &str, dims: &[Dimension]| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(&ns)
                            .metric_name(metric)
                            .set_dimensions(Some(dims.to_vec()))
                            .build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .build()
    };
    let data = cw
        .get_metric_data()
        .metric_data_queries(query("latency", "Latency", &route))
        .metric_data_queries(query("globex", "Requests", &[dim("tenant", "globex")]))
        .start_time(offset(t, -120))
        .end_time(offset(t, 120))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetMetricData: {}", DisplayErrorContext(e)));
    let results = data.metric_data_results();
    assert_eq!(results.len(), 2, "{results:?}");
    let result = |id: &str| results.iter().find(|r| r.id() == Some(id)).unwrap();
    assert_eq!(result("latency").values(), [420.0]);
    assert_eq!(result("latency").timestamps(), [t]);
    assert_eq!(result("globex").values(), [7.0]);
    assert_eq!(result("globex").timestamps(), [t]);
}

#[tokio::test]
async fn large_put_metric_data_is_gzipped_and_arrives_whole() {
    let Some(endpoint) = endpoint() else { return };
    let encodings = Encodings::default();
    let cw = client(&endpoint, &encodings);
    let ns = namespace("gzip");
    let t = minutes_ago(2);
    // 500 data points of ~100 bytes each: past the SDK's 10 KiB compression threshold.
    let mut put = cw.put_metric_data().namespace(&ns);
    for i in 0..500_u32 {
        put = put.metric_data(
            MetricDatum::builder()
                .metric_name("Batch")
                .dimensions(dim("tenant", "acme"))
                .dimensions(dim("function", "orders-api-handler"))
                .unit(StandardUnit::Count)
                .timestamp(t)
                .value(f64::from(i))
                .build(),
        );
    }
    put.send()
        .await
        .unwrap_or_else(|e| panic!("PutMetricData: {}", DisplayErrorContext(e)));
    assert_eq!(
        *encodings.0.lock().unwrap(),
        [Some("gzip".to_owned())],
        "the SDK compresses PutMetricData bodies of 10 KiB and more"
    );

    let out = cw
        .get_metric_statistics()
        .namespace(&ns)
        .metric_name("Batch")
        .dimensions(dim("tenant", "acme"))
        .start_time(offset(t, -60))
        .end_time(offset(t, 60))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetMetricStatistics: {}", DisplayErrorContext(e)));
    let point = only(out.datapoints());
    assert_eq!(point.sample_count(), Some(500.0));
    assert_eq!(point.sum(), Some(f64::from(499 * 500 / 2)));
}

#[tokio::test]
async fn invalid_requests_come_back_as_typed_service_errors() {
    let Some(endpoint) = endpoint() else { return };
    let cw = client(&endpoint, &Encodings::default());
    let ns = namespace("errors");
    let t = minutes_ago(1);

    // Values and Counts of different lengths.
    let err = cw
        .put_metric_data()
        .namespace(&ns)
        .metric_data(
            MetricDatum::builder()
                .metric_name("Bad")
                .values(1.0)
                .values(2.0)
                .counts(1.0)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let PutMetricDataError::InvalidParameterValueException(e) = service_error(&err) else {
        panic!(
            "expected InvalidParameterValue, got {}",
            DisplayErrorContext(&err)
        );
    };
    assert!(e.message().unwrap().contains("same size"), "{e:?}");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);

    // StartTime not before EndTime.
    let err = cw
        .get_metric_statistics()
        .namespace(&ns)
        .metric_name("Bad")
        .start_time(t)
        .end_time(t)
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap_err();
    let service = service_error(&err);
    assert!(
        matches!(
            service,
            GetMetricStatisticsError::InvalidParameterValueException(_)
        ),
        "{}",
        DisplayErrorContext(&err)
    );
    assert_eq!(service.code(), Some("InvalidParameterValue"));
    assert!(
        service.message().unwrap().contains("StartTime"),
        "{service:?}"
    );

    // Neither Statistics nor ExtendedStatistics.
    let err = cw
        .get_metric_statistics()
        .namespace(&ns)
        .metric_name("Bad")
        .start_time(offset(t, -60))
        .end_time(t)
        .period(60)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            service_error(&err),
            GetMetricStatisticsError::InvalidParameterCombinationException(_)
        ),
        "{}",
        DisplayErrorContext(&err)
    );

    // An operation the proxy does not translate is refused in a form the SDK reads.
    let err = cw.describe_alarms().send().await.unwrap_err();
    let service = service_error(&err);
    assert_eq!(
        service.code(),
        Some("UnknownOperationException"),
        "{service:?}"
    );
    assert!(service.message().unwrap().contains("OUTPUT_SHAPES"));
}

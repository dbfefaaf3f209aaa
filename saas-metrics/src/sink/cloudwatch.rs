//! CloudWatch PutMetricData: batched to the API's limits, retried by the SDK's retry policy,
//! and kept in a bounded buffer across flushes when CloudWatch cannot be reached; sent inline by
//! each flush, or after the invocation's response (feature `extension`, [`crate::extension`]).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;

use super::{BoxFuture, RawSink, Sink};
use crate::error::{Error, Result};
use crate::group::{MetricData, MetricGroup};
use crate::unit::Resolution;

/// The most data points in one PutMetricData call.
pub const MAX_DATA_PER_REQUEST: usize = 1000;
/// The most distinct values in one data point's `Values` array.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// The request size aimed at, under PutMetricData's 1 MB payload limit (estimated generously).
const MAX_REQUEST_BYTES: usize = 800 * 1024;
/// The default bound on data points kept for a later flush.
pub const DEFAULT_MAX_BUFFERED: usize = 10_000;
/// The metric that reports data points dropped because the buffer was full.
pub const DROPPED_METRIC: &str = "SaasMetricsDropped";

/// A data point waiting to be sent, with an estimate of its size on the wire.
#[derive(Debug, Clone)]
struct Pending {
    namespace: Arc<str>,
    datum: MetricDatum,
    size: usize,
    /// For the [`DROPPED_METRIC`] point: the drops it reports. It is never buffered: unsent, its
    /// count goes back to the counter, so that the report itself cannot be dropped.
    reports_dropped: u64,
}

/// Sends metrics with `PutMetricData` through `aws-sdk-cloudwatch`.
///
/// Each flush sends at the end of the invocation, in calls of at most 1,000 data points (and
/// well under 1 MB); retries are the client's (configure them with `aws_config`'s retry
/// settings). If CloudWatch cannot be reached, the flush returns [`Error::Sink`] (the
/// [`crate::layer`] logs it and answers the request as if nothing happened) and the data points
/// stay buffered for the next flush, at most [`CloudWatchSinkBuilder::max_buffered`] of them; the
/// oldest beyond that are dropped and counted in [`DROPPED_METRIC`], sent with the next
/// successful flush.
///
/// PutMetricData has no properties: the tenant id reaches CloudWatch only as a dimension
/// ([`crate::MetricsBuilder::tenant_dimension`], and the consumption metrics by default).
///
/// With the feature `extension`, [`CloudWatchSinkBuilder::build_after_response`] gives the sink
/// together with its [`crate::extension::AfterResponse`]: while that runs beside the Lambda
/// runtime, a flush only puts its points in the same bounded buffer and PutMetricData goes out
/// after the invocation's response has been posted. Anywhere else (no extension running, or
/// outside Lambda) such a sink sends inline, exactly like one from
/// [`CloudWatchSinkBuilder::build`].
///
/// ```no_run
/// # async fn doc() -> Result<(), saas_metrics::Error> {
/// use saas_metrics::{CloudWatchSink, Metrics};
///
/// let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let sink = CloudWatchSink::builder(aws_sdk_cloudwatch::Client::new(&config)).build();
/// let metrics = Metrics::builder("TodoApp")?.service("todo")?.sink(sink).build();
/// # let _ = metrics; Ok(()) }
/// ```
#[derive(Clone)]
pub struct CloudWatchSink(Arc<Inner>);

struct Inner {
    client: Client,
    buffer: Mutex<VecDeque<Pending>>,
    max_buffered: usize,
    dropped: AtomicU64,
    /// Whether a flush only buffers its points: true only while the sink's after-response
    /// extension runs ([`crate::extension::AfterResponse::run`]).
    deferred: AtomicBool,
}

impl fmt::Debug for CloudWatchSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudWatchSink")
            .field("buffered", &self.buffered())
            .field("max_buffered", &self.0.max_buffered)
            .field("dropped", &self.dropped())
            .field("deferred", &self.0.deferred.load(Ordering::Relaxed))
            .finish()
    }
}

/// Builds a [`CloudWatchSink`].
#[derive(Debug)]
#[must_use]
pub struct CloudWatchSinkBuilder {
    client: Client,
    max_buffered: usize,
}

impl CloudWatchSinkBuilder {
    /// The most data points kept across flushes while CloudWatch is unreachable
    /// ([`DEFAULT_MAX_BUFFERED`]).
    pub fn max_buffered(mut self, max: usize) -> Self {
        self.max_buffered = max.max(1);
        self
    }

    /// The sink, sending inline: each flush calls PutMetricData before it returns.
    pub fn build(self) -> CloudWatchSink {
        CloudWatchSink(Arc::new(Inner {
            client: self.client,
            buffer: Mutex::new(VecDeque::new()),
            max_buffered: self.max_buffered,
            dropped: AtomicU64::new(0),
            deferred: AtomicBool::new(false),
        }))
    }

    /// The sink and the Lambda extension that sends its points after each invocation's response
    /// (feature `extension`): the two come as a pair, so that a sink can only be deferred by its
    /// own extension. Give the sink to [`crate::MetricsBuilder::sink`] and run the extension with
    /// [`crate::extension::AfterResponse::run`]; until that runs (and outside Lambda) the sink
    /// sends inline. See [`crate::extension`].
    #[cfg(feature = "extension")]
    #[cfg_attr(docsrs, doc(cfg(feature = "extension")))]
    pub fn build_after_response(self) -> (CloudWatchSink, crate::extension::AfterResponse) {
        let sink = self.build();
        let extension = crate::extension::AfterResponse::new(sink.clone());
        (sink, extension)
    }
}

impl CloudWatchSink {
    /// A sink sending through `client` (configured the standard way: `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, ...).
    pub fn builder(client: Client) -> CloudWatchSinkBuilder {
        CloudWatchSinkBuilder {
            client,
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }

    /// Data points waiting for a successful flush.
    pub fn buffered(&self) -> usize {
        self.lock().len()
    }

    /// Data points dropped because the buffer was full, not yet reported.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Makes flushes only buffer (`true`) or send inline again (`false`).
    #[cfg(feature = "extension")]
    pub(crate) fn set_deferred(&self, deferred: bool) {
        self.0.deferred.store(deferred, Ordering::Release);
    }

    /// Sends what is buffered (and the count of what was dropped), as a flush would.
    #[cfg(feature = "extension")]
    pub(crate) async fn send_buffered(&self) -> Result<()> {
        self.send(Vec::new()).await
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Pending>> {
        self.0.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds to the back of the buffer, dropping (and counting) the oldest beyond the bound.
    fn buffer(&self, more: impl IntoIterator<Item = Pending>) {
        let mut buffer = self.lock();
        buffer.extend(more);
        let excess = buffer.len().saturating_sub(self.0.max_buffered);
        if excess > 0 {
            buffer.drain(..excess);
            self.0.dropped.fetch_add(excess as u64, Ordering::Relaxed);
            tracing::warn!(
                dropped = excess,
                "CloudWatch metrics buffer full: oldest data points dropped"
            );
        }
    }

    /// Puts unsent data back at the front, ahead of anything buffered since.
    fn requeue(&self, unsent: Vec<Pending>) {
        let mut buffer = self.lock();
        for p in unsent.into_iter().rev() {
            buffer.push_front(p);
        }
        let excess = buffer.len().saturating_sub(self.0.max_buffered);
        if excess > 0 {
            buffer.drain(..excess);
            self.0.dropped.fetch_add(excess as u64, Ordering::Relaxed);
        }
    }

    async fn send(&self, groups: Vec<MetricGroup>) -> Result<()> {
        let mut fresh = Vec::new();
        for group in &groups {
            fresh.extend(data(group));
        }
        self.buffer(fresh);
        let mut pending: Vec<Pending> = self.lock().drain(..).collect();
        let dropped = self.0.dropped.swap(0, Ordering::Relaxed);
        match pending.first().map(|p| p.namespace.clone()) {
            Some(namespace) if dropped > 0 => {
                let datum = MetricDatum::builder()
                    .metric_name(DROPPED_METRIC)
                    .unit(StandardUnit::Count)
                    .value(dropped as f64)
                    .timestamp(DateTime::from(std::time::SystemTime::now()))
                    .build();
                pending.push(Pending {
                    namespace,
                    size: 128,
                    datum,
                    reports_dropped: dropped,
                });
            }
            // Nothing to send it with: report it next time.
            _ => {
                self.0.dropped.fetch_add(dropped, Ordering::Relaxed);
            }
        }
        let mut failure = None;
        let mut unsent = Vec::new();
        for batch in batches(pending) {
            if failure.is_some() {
                unsent.extend(batch);
                continue;
            }
            let namespace = batch.first().map(|p| p.namespace.to_string());
            let result = self
                .0
                .client
                .put_metric_data()
                .set_namespace(namespace)
                .set_metric_data(Some(batch.iter().map(|p| p.datum.clone()).collect()))
                .send()
                .await;
            if let Err(e) = result {
                let e = aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string();
                tracing::warn!(error = %e, points = batch.len(), "PutMetricData failed; kept for the next flush");
                failure = Some(e);
                unsent.extend(batch);
            }
        }
        match failure {
            None => Ok(()),
            Some(e) => {
                let (reports, unsent): (Vec<Pending>, Vec<Pending>) =
                    unsent.into_iter().partition(|p| p.reports_dropped > 0);
                let unreported: u64 = reports.iter().map(|p| p.reports_dropped).sum();
                self.0.dropped.fetch_add(unreported, Ordering::Relaxed);
                let count = unsent.len();
                self.requeue(unsent);
                Err(Error::Sink(
                    format!("PutMetricData failed ({count} data points kept): {e}").into(),
                ))
            }
        }
    }
}

impl RawSink for CloudWatchSink {
    fn publish(&self, groups: Vec<MetricGroup>) -> BoxFuture<'_, Result<()>> {
        if self.0.deferred.load(Ordering::Acquire) {
            // The extension sends them once the response is out: the same bound, the same
            // dropped count as points kept after a failed send.
            self.buffer(groups.iter().flat_map(data));
            return Box::pin(std::future::ready(Ok(())));
        }
        Box::pin(self.send(groups))
    }
}

impl From<CloudWatchSink> for Sink {
    fn from(sink: CloudWatchSink) -> Sink {
        Sink(Arc::new(sink))
    }
}

/// The data points of a group: one per metric, its values as distinct values and counts (at most
/// 150 distinct values a point, so a metric with more becomes several points).
fn data(group: &MetricGroup) -> Vec<Pending> {
    let dimensions: Vec<Dimension> = group
        .dimensions
        .iter()
        .map(|(n, v)| Dimension::builder().name(n).value(v).build())
        .collect();
    let dims_size: usize = group
        .dimensions
        .iter()
        .map(|(n, v)| n.len() + v.len() + 32)
        .sum();
    let timestamp = DateTime::from(group.timestamp);
    let mut out = Vec::new();
    for metric in &group.metrics {
        for (values, counts) in distinct(metric) {
            let mut datum = MetricDatum::builder()
                .metric_name(&metric.name)
                .set_dimensions(Some(dimensions.clone()))
                .unit(StandardUnit::from(metric.unit.as_str()))
                .timestamp(timestamp);
            if metric.resolution == Resolution::High {
                datum = datum.storage_resolution(1);
            }
            let size = metric.name.len() + dims_size + values.len() * 40 + 128;
            datum = if let ([v], [c]) = (values.as_slice(), counts.as_slice())
                && *c == 1.0
            {
                datum.value(*v)
            } else {
                datum.set_values(Some(values)).set_counts(Some(counts))
            };
            out.push(Pending {
                namespace: group.namespace.clone(),
                datum: datum.build(),
                size,
                reports_dropped: 0,
            });
        }
    }
    out
}

/// A metric's values as (distinct values, their counts), split at 150 distinct values.
fn distinct(metric: &MetricData) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut sorted = metric.values.clone();
    sorted.sort_by(f64::total_cmp);
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    for v in sorted {
        match pairs.last_mut() {
            Some((last, count)) if *last == v => *count += 1.0,
            _ => pairs.push((v, 1.0)),
        }
    }
    pairs
        .chunks(MAX_VALUES_PER_DATUM)
        .map(|chunk| chunk.iter().copied().unzip())
        .collect()
}

/// Splits into calls: one namespace per call, at most 1,000 points and about 800 KB.
fn batches(pending: Vec<Pending>) -> Vec<Vec<Pending>> {
    let mut out: Vec<Vec<Pending>> = Vec::new();
    let mut size = 0;
    for p in pending {
        let fits = out.last().is_some_and(|b| {
            b.len() < MAX_DATA_PER_REQUEST
                && size + p.size <= MAX_REQUEST_BYTES
                && b.first().is_some_and(|f| f.namespace == p.namespace)
        });
        if fits {
            size += p.size;
            if let Some(b) = out.last_mut() {
                b.push(p);
            }
        } else {
            size = p.size;
            out.push(vec![p]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::Unit;
    use serde_json::Map;

    fn group(values: Vec<f64>, metrics: usize) -> MetricGroup {
        MetricGroup {
            namespace: "Test".into(),
            timestamp: std::time::SystemTime::now(),
            dimensions: vec![("service".into(), "todo".into())],
            metrics: (0..metrics)
                .map(|i| MetricData {
                    name: format!("m{i}"),
                    unit: Unit::Milliseconds,
                    resolution: Resolution::High,
                    values: values.clone(),
                })
                .collect(),
            properties: Arc::new(Map::new()),
        }
    }

    /// A client for a port of 127.0.0.1 where nothing listens, trying once.
    fn unreachable() -> Client {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled())
            .build();
        Client::from_conf(config)
    }

    #[tokio::test]
    async fn unsent_points_stay_within_the_bound_and_every_drop_is_counted() {
        let sink = CloudWatchSink::builder(unreachable())
            .max_buffered(3)
            .build();
        let err = sink.send(vec![group(vec![1.0], 5)]).await.unwrap_err();
        assert!(err.to_string().contains("3 data points kept"), "{err}");
        assert_eq!((sink.buffered(), sink.dropped()), (3, 2));
        // The newest are kept, in order.
        let names: Vec<_> = sink
            .lock()
            .iter()
            .map(|p| p.datum.metric_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["m2", "m3", "m4"]);
        // The report of the drops is never buffered (where it could be dropped in turn): its
        // count goes back to the counter.
        for _ in 0..3 {
            sink.send(vec![group(vec![1.0], 2)]).await.unwrap_err();
        }
        assert_eq!((sink.buffered(), sink.dropped()), (3, 2 + 3 * 2));
        assert!(sink.lock().iter().all(|p| p.reports_dropped == 0));
        assert!(
            sink.lock()
                .iter()
                .all(|p| p.datum.metric_name() != Some(DROPPED_METRIC))
        );
    }

    #[test]
    fn values_become_distinct_values_with_counts() {
        let points = data(&group(vec![3.0, 1.0, 3.0, 2.0, 3.0], 1));
        assert_eq!(points.len(), 1);
        let d = &points[0].datum;
        assert_eq!(d.values(), &[1.0, 2.0, 3.0]);
        assert_eq!(d.counts(), &[1.0, 1.0, 3.0]);
        assert_eq!(d.storage_resolution(), Some(1));
        assert_eq!(d.unit(), Some(&StandardUnit::Milliseconds));
        assert_eq!(d.dimensions()[0].name(), Some("service"));
        let single = data(&group(vec![7.0], 1));
        assert_eq!(single[0].datum.value(), Some(7.0));
        assert!(single[0].datum.values().is_empty());
    }

    #[test]
    fn more_than_150_distinct_values_make_several_points() {
        let values: Vec<f64> = (0..400).map(f64::from).collect();
        let points = data(&group(values, 1));
        let sizes: Vec<usize> = points.iter().map(|p| p.datum.values().len()).collect();
        assert_eq!(sizes, [150, 150, 100]);
        let total: f64 = points.iter().flat_map(|p| p.datum.counts()).sum();
        assert_eq!(total, 400.0);
    }

    #[test]
    fn batches_hold_at_most_1000_points_of_one_namespace() {
        let mut pending = data(&group(vec![1.0], 2500));
        let mut other = data(&group(vec![1.0], 3));
        for p in &mut other {
            p.namespace = "Other".into();
        }
        pending.extend(other);
        let sizes: Vec<usize> = batches(pending).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1000, 1000, 500, 3]);
    }

    #[test]
    fn batches_stay_under_the_payload_limit() {
        let values: Vec<f64> = (0..150).map(f64::from).collect();
        let pending = data(&group(values, 400));
        let batches = batches(pending);
        assert!(batches.len() > 1);
        for b in &batches {
            assert!(b.iter().map(|p| p.size).sum::<usize>() <= MAX_REQUEST_BYTES);
        }
    }
}

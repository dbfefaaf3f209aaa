//! The metrics manager: [`Metrics`] is built once at cold start; [`TenantMetrics`] records one
//! invocation's metrics for its tenant and flushes them to the sink.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use saas_core::TenantContext;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::consumption;
use crate::error::{Error, Result};
use crate::group::{MetricData, MetricGroup};
use crate::name::{self, MAX_DIMENSIONS};
use crate::sink::Sink;
use crate::unit::{Resolution, Unit};
use crate::{SERVICE, TENANT_ID, TIER};

/// What a flush does when nothing was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnEmpty {
    /// Publish nothing, say nothing.
    Skip,
    /// Publish nothing and log a warning (Powertools' default).
    #[default]
    Warn,
    /// Publish nothing and fail with [`Error::Empty`].
    Error,
}

/// The default cap on values one invocation may hold before recording fails.
pub const DEFAULT_MAX_VALUES: usize = 10_000;

/// The metrics configuration, built once at cold start and shared: namespace, service, sink and
/// what is a dimension. Cheap to clone. It holds no tenant: each invocation gets its own
/// [`TenantMetrics`] from [`Metrics::for_tenant`].
///
/// ```
/// use saas_metrics::{Metrics, MemorySink, Unit};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), saas_metrics::Error> {
/// let sink = MemorySink::new();                      // Sink::emf_stdout() in a Lambda
/// let metrics = Metrics::builder("TodoApp")?.service("todo")?.sink(sink.clone()).build();
///
/// // In a handler, from the verified context:
/// let ctx = saas_core::TenantContext::builder("tenant-a").build();
/// let m = metrics.for_tenant(&ctx);
/// m.count("TodosCreated", 1.0)?;
/// m.timing("StoreLatency", std::time::Duration::from_millis(12))?;
/// m.property("list_id", "L-42")?;
/// m.flush().await?;
///
/// assert_eq!(sink.sum("TodosCreated", "tenant-a"), 1.0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Metrics(Arc<Config>);

struct Config {
    namespace: Arc<str>,
    service: Option<String>,
    sink: Sink,
    tenant_dimension: bool,
    tier_dimension: bool,
    consumption_dimension: bool,
    on_empty: OnEmpty,
    max_values: usize,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.0.namespace)
            .field("service", &self.0.service)
            .field("sink", &self.0.sink)
            .field("tenant_dimension", &self.0.tenant_dimension)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Starts a configuration for CloudWatch namespace `namespace` (1-255 of `0-9 A-Z a-z . - _
    /// / # :` and space; not `AWS/...`).
    pub fn builder(namespace: &str) -> Result<MetricsBuilder> {
        name::namespace(namespace)?;
        Ok(MetricsBuilder {
            namespace: namespace.into(),
            service: None,
            sink: None,
            tenant_dimension: false,
            tier_dimension: true,
            consumption_dimension: true,
            on_empty: OnEmpty::default(),
            max_values: DEFAULT_MAX_VALUES,
        })
    }

    /// A configuration from Powertools' settings: the namespace from
    /// `POWERTOOLS_METRICS_NAMESPACE` and the service from `POWERTOOLS_SERVICE_NAME` (when set),
    /// so a function moved from Powertools keeps its metrics where they were.
    pub fn from_env() -> Result<MetricsBuilder> {
        let namespace = std::env::var("POWERTOOLS_METRICS_NAMESPACE").unwrap_or_default();
        let builder = Metrics::builder(&namespace)?;
        match std::env::var("POWERTOOLS_SERVICE_NAME") {
            Ok(service) if !service.is_empty() => builder.service(&service),
            _ => Ok(builder),
        }
    }

    /// The metrics of one invocation of `ctx`'s tenant. Make one per invocation (the
    /// [`crate::layer`] does); flush it when the invocation ends.
    pub fn for_tenant(&self, ctx: &TenantContext) -> TenantMetrics {
        let mut properties = Map::new();
        properties.insert(TENANT_ID.into(), ctx.tenant_id().as_str().into());
        properties.insert(TIER.into(), ctx.tier().as_str().into());
        TenantMetrics {
            config: self.clone(),
            tenant: ctx.tenant_id().as_str().into(),
            tier: ctx.tier().as_str().into(),
            state: Arc::new(Mutex::new(State {
                properties_bytes: properties.iter().map(|(k, v)| property_bytes(k, v)).sum(),
                properties: Arc::new(properties),
                ..State::default()
            })),
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.0.namespace
    }
}

/// Builds [`Metrics`].
#[derive(Debug)]
#[must_use]
pub struct MetricsBuilder {
    namespace: Arc<str>,
    service: Option<String>,
    sink: Option<Sink>,
    tenant_dimension: bool,
    tier_dimension: bool,
    consumption_dimension: bool,
    on_empty: OnEmpty,
    max_values: usize,
}

impl MetricsBuilder {
    /// The `service` dimension on every metric (Powertools' name for it).
    pub fn service(mut self, service: &str) -> Result<Self> {
        name::dimension_value(service)?;
        self.service = Some(service.to_owned());
        Ok(self)
    }

    /// Where flushes go: [`Sink::emf_stdout`] by default.
    pub fn sink(mut self, sink: impl Into<Sink>) -> Self {
        self.sink = Some(sink.into());
        self
    }

    /// Makes `tenant_id` a dimension of the application's metrics (default: a property only).
    ///
    /// A dimension lets CloudWatch graph and alarm per tenant, but every metric becomes one
    /// custom metric per tenant, each billed monthly: 10 metrics for 1,000 tenants are 10,000
    /// custom metrics. As a property, the tenant is in every EMF line for Logs Insights at no
    /// metric cost. See `docs/metering.md`.
    pub fn tenant_dimension(mut self, enabled: bool) -> Self {
        self.tenant_dimension = enabled;
        self
    }

    /// Makes `tier` a dimension of the application's metrics (default: yes; tiers are few).
    pub fn tier_dimension(mut self, enabled: bool) -> Self {
        self.tier_dimension = enabled;
        self
    }

    /// Keeps `tenant_id` a dimension of the consumption metrics ([`consumption`]) (default: yes,
    /// so CloudWatch's GetMetricData can give each tenant's figures: 5 custom metrics per tenant
    /// at most). Without it, consumption is read from the EMF lines in the logs only.
    pub fn consumption_tenant_dimension(mut self, enabled: bool) -> Self {
        self.consumption_dimension = enabled;
        self
    }

    /// What a flush with nothing recorded does ([`OnEmpty::Warn`] by default).
    pub fn on_empty(mut self, policy: OnEmpty) -> Self {
        self.on_empty = policy;
        self
    }

    /// The most values one invocation may hold ([`DEFAULT_MAX_VALUES`]); recording beyond it
    /// fails with [`Error::TooManyValues`] so memory stays bounded.
    pub fn max_values(mut self, max: usize) -> Self {
        self.max_values = max;
        self
    }

    /// The configuration.
    pub fn build(self) -> Metrics {
        Metrics(Arc::new(Config {
            namespace: self.namespace,
            service: self.service,
            sink: self.sink.unwrap_or_else(Sink::emf_stdout),
            tenant_dimension: self.tenant_dimension,
            tier_dimension: self.tier_dimension,
            consumption_dimension: self.consumption_dimension,
            on_empty: self.on_empty,
            max_values: self.max_values,
        }))
    }
}

/// How repeated values of one metric are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregation {
    /// One value, the sum (counters).
    Sum,
    /// Every value (gauges, timings): CloudWatch computes the statistics.
    Each,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupKind {
    Application,
    Consumption,
}

#[derive(Debug)]
struct PendingGroup {
    kind: GroupKind,
    extra: Vec<(String, String)>,
    timestamp: Option<SystemTime>,
    metrics: Vec<(MetricData, Aggregation)>,
}

#[derive(Debug, Default)]
struct State {
    groups: Vec<PendingGroup>,
    dimensions: Vec<(String, String)>,
    properties: Arc<Map<String, Value>>,
    /// The bytes the properties take in an EMF document (see [`MAX_PROPERTIES_BYTES`]).
    properties_bytes: usize,
    values: usize,
}

/// The most bytes the properties (the crate's and the handler's) may take in one EMF document.
/// With 30 dimensions of the longest names and values (about 93 KB once escaped) they still leave
/// every document's fixed part under half of [`crate::MAX_DOCUMENT_BYTES`], which is what the EMF
/// sink needs to split the metrics; so a property too large is refused when it is set, not found
/// at flush time with the whole flush lost.
const MAX_PROPERTIES_BYTES: usize = 32 * 1000;

/// What member `key` with `value` takes in an EMF document: `,"key":value`.
fn property_bytes(key: &str, value: &Value) -> usize {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; a value that cannot be written counts as nothing here and
    // fails the document instead.
    let _ = serde_json::to_writer(&mut out, key);
    let _ = serde_json::to_writer(&mut out, value);
    out.len() + 2
}

/// One invocation's metrics, for one tenant: cheap to clone, safe to share between the tasks of
/// the invocation. Flush it at the end ([`TenantMetrics::flush`]); the [`crate::layer`] does.
///
/// Counters ([`TenantMetrics::count`]) are summed; gauges and timings keep every value.
#[derive(Clone)]
pub struct TenantMetrics {
    config: Metrics,
    tenant: Arc<str>,
    tier: Arc<str>,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for TenantMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantMetrics")
            .field("tenant", &self.tenant)
            .field("namespace", &self.config.0.namespace)
            .finish_non_exhaustive()
    }
}

/// A metric with options, from [`TenantMetrics::metric`]; record it with a terminal method.
#[derive(Debug)]
#[must_use = "a metric is recorded by count, gauge or timing"]
pub struct MetricBuilder<'a> {
    metrics: &'a TenantMetrics,
    name: &'a str,
    unit: Option<Unit>,
    resolution: Resolution,
    dimensions: Vec<(String, String)>,
    timestamp: Option<SystemTime>,
    error: Option<Error>,
}

impl MetricBuilder<'_> {
    /// The unit (by default `Count` for counters, `Milliseconds` for timings, `None` for gauges).
    pub fn unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }

    /// One-second storage resolution.
    pub fn high_resolution(mut self) -> Self {
        self.resolution = Resolution::High;
        self
    }

    /// A dimension of this metric only, on top of the invocation's.
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        if self.error.is_none() {
            let checked = name::dimension_name(name)
                .and_then(|()| name::dimension_value(value))
                .and_then(|()| {
                    if is_builtin(name) {
                        Err(conflict(name, "set by the crate", "a dimension"))
                    } else {
                        Ok(())
                    }
                });
            match checked {
                Ok(()) => {
                    self.dimensions.retain(|(n, _)| n != name);
                    self.dimensions.push((name.to_owned(), value.to_owned()));
                }
                Err(e) => self.error = Some(e),
            }
        }
        self
    }

    /// When the value was taken (default: the flush). 14 days back to 2 hours ahead.
    pub fn timestamp(mut self, at: SystemTime) -> Self {
        self.timestamp = Some(at);
        self
    }

    /// Adds `value` to the counter.
    pub fn count(self, value: f64) -> Result<()> {
        self.record(value, Unit::Count, Aggregation::Sum)
    }

    /// Records a gauge value.
    pub fn gauge(self, value: f64) -> Result<()> {
        self.record(value, Unit::None, Aggregation::Each)
    }

    /// Records a duration, in milliseconds unless another time unit was set.
    ///
    /// A unit other than `Seconds`, `Milliseconds` or `Microseconds` is refused
    /// ([`Error::Conflict`]): a duration in `Bytes` would be a wrong figure.
    pub fn timing(self, elapsed: Duration) -> Result<()> {
        let unit = self.unit.unwrap_or(Unit::Milliseconds);
        let value = match unit {
            Unit::Seconds => elapsed.as_secs_f64(),
            Unit::Milliseconds => elapsed.as_secs_f64() * 1e3,
            Unit::Microseconds => elapsed.as_secs_f64() * 1e6,
            other => {
                return Err(conflict(
                    self.name,
                    "a timing (Seconds, Milliseconds or Microseconds)",
                    other.as_str(),
                ));
            }
        };
        self.record(value, Unit::Milliseconds, Aggregation::Each)
    }

    fn record(self, value: f64, default_unit: Unit, aggregation: Aggregation) -> Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(at) = self.timestamp {
            name::timestamp(at, SystemTime::now())?;
        }
        let data = MetricData {
            name: self.name.to_owned(),
            unit: self.unit.unwrap_or(default_unit),
            resolution: self.resolution,
            values: vec![value],
        };
        self.metrics.push(
            GroupKind::Application,
            self.dimensions,
            self.timestamp,
            data,
            aggregation,
        )
    }
}

impl TenantMetrics {
    /// The tenant these metrics are recorded for.
    pub fn tenant_id(&self) -> &str {
        &self.tenant
    }

    /// Adds `value` to counter `name` (unit `Count`).
    pub fn count(&self, name: &str, value: f64) -> Result<()> {
        self.metric(name).count(value)
    }

    /// Records gauge `name` at `value` in `unit`.
    pub fn gauge(&self, name: &str, value: f64, unit: Unit) -> Result<()> {
        self.metric(name).unit(unit).gauge(value)
    }

    /// Records timing `name` (unit `Milliseconds`).
    pub fn timing(&self, name: &str, elapsed: Duration) -> Result<()> {
        self.metric(name).timing(elapsed)
    }

    /// A metric with options: unit, high resolution, its own dimensions, a timestamp.
    pub fn metric<'a>(&'a self, name: &'a str) -> MetricBuilder<'a> {
        MetricBuilder {
            metrics: self,
            name,
            unit: None,
            resolution: Resolution::Standard,
            dimensions: Vec::new(),
            timestamp: None,
            error: None,
        }
    }

    /// A dimension on every application metric of this invocation (e.g. `operation`).
    ///
    /// Refused, with nothing changed: a name the crate sets (`service`, `tier`, `tenant_id`), a
    /// name already used as a property or a metric, or one dimension too many for any metric.
    pub fn dimension(&self, name: &str, value: &str) -> Result<()> {
        name::dimension_name(name)?;
        name::dimension_value(value)?;
        if is_builtin(name) {
            return Err(conflict(name, "set by the crate", "a dimension"));
        }
        let mut state = self.lock();
        if state.properties.contains_key(name) {
            return Err(conflict(name, "a property", "a dimension"));
        }
        if let Some(clash) = state.metric_named(name) {
            return Err(conflict(name, clash, "a dimension"));
        }
        let mut dimensions = state.dimensions.clone();
        dimensions.retain(|(n, _)| n != name);
        dimensions.push((name.to_owned(), value.to_owned()));
        // Every application metric gets the invocation's dimensions: the pending ones with their
        // own, and those still to come.
        let count = state
            .groups
            .iter()
            .filter(|g| g.kind == GroupKind::Application)
            .map(|g| self.dimension_count(GroupKind::Application, &dimensions, &g.extra))
            .chain([self.dimension_count(GroupKind::Application, &dimensions, &[])])
            .max()
            .unwrap_or(0);
        if count > MAX_DIMENSIONS {
            return Err(Error::TooManyDimensions {
                count,
                max: MAX_DIMENSIONS,
            });
        }
        state.dimensions = dimensions;
        Ok(())
    }

    /// A property: searchable in the logs (CloudWatch Logs Insights), not a dimension, so a
    /// high-cardinality value (a request id, a list id) costs nothing in metrics.
    ///
    /// Refused, with nothing changed: a key the crate sets, a key already used as a dimension or
    /// a metric, and properties that would take more than 32,000 bytes of a document together
    /// ([`Error::PropertyTooLarge`]).
    pub fn property(&self, key: &str, value: impl Serialize) -> Result<()> {
        name::property(key)?;
        if is_builtin(key) {
            return Err(conflict(key, "set by the crate", "a property"));
        }
        let value = serde_json::to_value(value).map_err(|e| Error::Sink(Box::new(e)))?;
        let size = property_bytes(key, &value);
        let mut state = self.lock();
        if state.dimensions.iter().any(|(n, _)| n == key)
            || state
                .groups
                .iter()
                .any(|g| g.extra.iter().any(|(n, _)| n == key))
        {
            return Err(conflict(key, "a dimension", "a property"));
        }
        if let Some(clash) = state.metric_named(key) {
            return Err(conflict(key, clash, "a property"));
        }
        let replaced = state
            .properties
            .get(key)
            .map_or(0, |old| property_bytes(key, old));
        let total = state.properties_bytes - replaced + size;
        if total > MAX_PROPERTIES_BYTES {
            return Err(Error::PropertyTooLarge {
                key: key.chars().take(64).collect(),
                size,
                max: MAX_PROPERTIES_BYTES,
            });
        }
        Arc::make_mut(&mut state.properties).insert(key.to_owned(), value);
        state.properties_bytes = total;
        Ok(())
    }

    /// Consumption: one request of this tenant ([`consumption::REQUESTS`]).
    pub fn record_request(&self) -> Result<()> {
        self.consume(consumption::REQUESTS, 1.0, Unit::Count, Aggregation::Sum)
    }

    /// Consumption: compute time spent for this tenant ([`consumption::COMPUTE_TIME`], ms).
    pub fn record_compute(&self, elapsed: Duration) -> Result<()> {
        self.consume(
            consumption::COMPUTE_TIME,
            elapsed.as_secs_f64() * 1e3,
            Unit::Milliseconds,
            Aggregation::Sum,
        )
    }

    /// Consumption: DynamoDB capacity units this tenant consumed (what saas-data's usage hook or
    /// `DataScope::consumed` reports). Zeros are not recorded.
    pub fn record_capacity(&self, read_units: f64, write_units: f64) -> Result<()> {
        name::value(consumption::READ_CAPACITY, read_units)?;
        name::value(consumption::WRITE_CAPACITY, write_units)?;
        if read_units != 0.0 {
            self.consume(
                consumption::READ_CAPACITY,
                read_units,
                Unit::Count,
                Aggregation::Sum,
            )?;
        }
        if write_units != 0.0 {
            self.consume(
                consumption::WRITE_CAPACITY,
                write_units,
                Unit::Count,
                Aggregation::Sum,
            )?;
        }
        Ok(())
    }

    /// Consumption: the bytes this tenant stores now (a gauge, [`consumption::STORAGE`]).
    pub fn record_storage(&self, bytes: u64) -> Result<()> {
        self.consume(
            consumption::STORAGE,
            bytes as f64,
            Unit::Bytes,
            Aggregation::Each,
        )
    }

    fn consume(&self, name: &str, value: f64, unit: Unit, aggregation: Aggregation) -> Result<()> {
        let data = MetricData {
            name: name.to_owned(),
            unit,
            resolution: Resolution::Standard,
            values: vec![value],
        };
        self.push(GroupKind::Consumption, Vec::new(), None, data, aggregation)
    }

    /// Publishes everything recorded so far to the sink and starts afresh. Called by the
    /// [`crate::layer`] when the invocation ends, handler error or not.
    pub async fn flush(&self) -> Result<()> {
        let groups = self.take(SystemTime::now());
        if groups.is_empty() {
            return match self.config.0.on_empty {
                OnEmpty::Skip => Ok(()),
                OnEmpty::Warn => {
                    tracing::warn!(tenant.id = %self.tenant, "no metrics to flush");
                    Ok(())
                }
                OnEmpty::Error => Err(Error::Empty),
            };
        }
        self.config.0.sink.publish(groups).await
    }

    /// Takes what was recorded as groups stamped `now` where no timestamp was given.
    pub(crate) fn take(&self, now: SystemTime) -> Vec<MetricGroup> {
        let mut state = self.lock();
        let pending = std::mem::take(&mut state.groups);
        state.values = 0;
        let properties = state.properties.clone();
        let invocation_dims = state.dimensions.clone();
        drop(state);
        pending
            .into_iter()
            .filter(|g| !g.metrics.is_empty())
            .map(|g| {
                let mut dimensions = self.base_dimensions(g.kind);
                if g.kind == GroupKind::Application {
                    merge(&mut dimensions, invocation_dims.iter().cloned());
                    merge(&mut dimensions, g.extra);
                }
                MetricGroup {
                    namespace: self.config.0.namespace.clone(),
                    timestamp: g.timestamp.unwrap_or(now),
                    dimensions,
                    metrics: g.metrics.into_iter().map(|(m, _)| m).collect(),
                    properties: properties.clone(),
                }
            })
            .collect()
    }

    fn base_dimension_count(&self, kind: GroupKind) -> usize {
        let c = &self.config.0;
        let (tier, tenant) = match kind {
            GroupKind::Application => (c.tier_dimension, c.tenant_dimension),
            GroupKind::Consumption => (false, c.consumption_dimension),
        };
        usize::from(c.service.is_some()) + usize::from(tier) + usize::from(tenant)
    }

    /// How many dimensions a metric of `kind` with dimensions `extra` has, given the
    /// invocation's `invocation` (consumption metrics have only the crate's).
    fn dimension_count(
        &self,
        kind: GroupKind,
        invocation: &[(String, String)],
        extra: &[(String, String)],
    ) -> usize {
        let base = self.base_dimension_count(kind);
        if kind == GroupKind::Consumption {
            return base + extra.len();
        }
        let own = extra
            .iter()
            .filter(|(n, _)| !invocation.iter().any(|(m, _)| m == n))
            .count();
        base + invocation.len() + own
    }

    fn base_dimensions(&self, kind: GroupKind) -> Vec<(String, String)> {
        let c = &self.config.0;
        let mut dims = Vec::with_capacity(3);
        if let Some(service) = &c.service {
            dims.push((SERVICE.to_owned(), service.clone()));
        }
        let (tier, tenant) = match kind {
            GroupKind::Application => (c.tier_dimension, c.tenant_dimension),
            GroupKind::Consumption => (false, c.consumption_dimension),
        };
        if tier {
            dims.push((TIER.to_owned(), self.tier.to_string()));
        }
        if tenant {
            dims.push((TENANT_ID.to_owned(), self.tenant.to_string()));
        }
        dims
    }

    fn push(
        &self,
        kind: GroupKind,
        extra: Vec<(String, String)>,
        timestamp: Option<SystemTime>,
        data: MetricData,
        aggregation: Aggregation,
    ) -> Result<()> {
        name::metric(&data.name)?;
        let value = data.values.first().copied().unwrap_or_default();
        name::value(&data.name, value)?;
        if is_builtin(&data.name) {
            return Err(conflict(&data.name, "set by the crate", "a metric"));
        }
        let mut state = self.lock();
        if state.properties.contains_key(&data.name) {
            return Err(conflict(&data.name, "a property", "a metric"));
        }
        if state.dimensions.iter().any(|(n, _)| *n == data.name)
            || extra.iter().any(|(n, _)| *n == data.name)
        {
            return Err(conflict(&data.name, "a dimension", "a metric"));
        }
        if let Some((n, _)) = extra
            .iter()
            .find(|(n, _)| is_builtin(n) || state.properties.contains_key(n.as_str()))
        {
            let first = if is_builtin(n) {
                "set by the crate"
            } else {
                "a property"
            };
            return Err(conflict(n, first, "a dimension"));
        }
        let count = self.dimension_count(kind, &state.dimensions, &extra);
        if count > MAX_DIMENSIONS {
            return Err(Error::TooManyDimensions {
                count,
                max: MAX_DIMENSIONS,
            });
        }
        let max = self.config.0.max_values;
        let State { groups, values, .. } = &mut *state;
        let index = groups
            .iter()
            .position(|g| g.kind == kind && g.extra == extra && g.timestamp == timestamp);
        let existing = index.and_then(|i| {
            groups[i]
                .metrics
                .iter_mut()
                .find(|(m, _)| m.name == data.name)
        });
        // Every check comes before the first write: an error leaves nothing recorded.
        match existing {
            Some((existing, agg)) => {
                if existing.unit != data.unit
                    || existing.resolution != data.resolution
                    || *agg != aggregation
                {
                    return Err(Error::Conflict {
                        metric: data.name,
                        first: describe(existing.unit, existing.resolution, *agg),
                        second: describe(data.unit, data.resolution, aggregation),
                    });
                }
                match aggregation {
                    Aggregation::Sum => {
                        let sum = existing.values.first().copied().unwrap_or_default() + value;
                        name::value(&existing.name, sum)?;
                        existing.values = vec![sum];
                    }
                    Aggregation::Each => {
                        if *values >= max {
                            return Err(Error::TooManyValues(max));
                        }
                        existing.values.push(value);
                        *values += 1;
                    }
                }
            }
            None => {
                if *values >= max {
                    return Err(Error::TooManyValues(max));
                }
                *values += 1;
                match index {
                    Some(i) => groups[i].metrics.push((data, aggregation)),
                    None => groups.push(PendingGroup {
                        kind,
                        extra,
                        timestamp,
                        metrics: vec![(data, aggregation)],
                    }),
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data: every update above
        // validates before it writes.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn metric_named(&self, name: &str) -> Option<&'static str> {
        self.groups
            .iter()
            .any(|g| g.metrics.iter().any(|(m, _)| m.name == name))
            .then_some("a metric")
    }
}

impl Drop for TenantMetrics {
    fn drop(&mut self) {
        // The last handle of an invocation that was never flushed: say so rather than lose the
        // figures in silence.
        if Arc::strong_count(&self.state) == 1 {
            let pending = self.lock().values;
            if pending > 0 {
                tracing::warn!(
                    tenant.id = %self.tenant,
                    values = pending,
                    "metrics dropped without a flush"
                );
            }
        }
    }
}

/// A member the crate sets: `tenant_id`, `tier` and `service` are never the handler's to choose.
fn is_builtin(key: &str) -> bool {
    key == TENANT_ID || key == TIER || key == SERVICE
}

fn merge(into: &mut Vec<(String, String)>, more: impl IntoIterator<Item = (String, String)>) {
    for (name, value) in more {
        match into.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => into.push((name, value)),
        }
    }
}

fn describe(unit: Unit, resolution: Resolution, aggregation: Aggregation) -> String {
    let kind = match aggregation {
        Aggregation::Sum => "a counter",
        Aggregation::Each => "a gauge or timing",
    };
    format!("{kind} in {unit} at {}s resolution", resolution.seconds())
}

fn conflict(name: &str, first: &str, second: &str) -> Error {
    Error::Conflict {
        metric: name.to_owned(),
        first: first.to_owned(),
        second: second.to_owned(),
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;

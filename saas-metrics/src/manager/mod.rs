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
use crate::pending::{self, Aggregation, GroupKind, GroupRef, List, Names, Pending, State, Values};
use crate::sink::emf::{self, EmfWriter, MetricRef, NameText, PropertyRef, Source};
use crate::sink::json::{self, Text};
use crate::unit::{Resolution, Unit};
use crate::{SERVICE, TENANT_ID, TIER};

mod config;

pub use config::{DEFAULT_MAX_VALUES, Metrics, MetricsBuilder, OnEmpty};

/// The most bytes the properties (the crate's and the handler's) may take in one EMF document.
/// With 30 dimensions of the longest names and values (about 93 KB once escaped) they still leave
/// every document's fixed part under half of [`crate::MAX_DOCUMENT_BYTES`], which is what the EMF
/// sink needs to split the metrics; so a property too large is refused when it is set, not found
/// at flush time with the whole flush lost.
const MAX_PROPERTIES_BYTES: usize = 32 * 1000;

/// What member `key` with `value` takes in an EMF document: `,"key":value`.
fn property_bytes(key: &str, value: PropertyRef<'_>) -> usize {
    let mut len = json::Len(2);
    json::string(&mut len, key);
    match value {
        PropertyRef::Text(text) => json::text(&mut len, text),
        PropertyRef::Json(v) => json::value(&mut len, v),
    }
    len.0
}

/// One invocation's metrics, for one tenant: cheap to clone, safe to share between the tasks of
/// the invocation. Flush it at the end ([`TenantMetrics::flush`]); the [`crate::layer`] does.
///
/// Counters ([`TenantMetrics::count`]) are summed; gauges and timings keep every value.
#[derive(Clone)]
pub struct TenantMetrics {
    config: Metrics,
    ctx: TenantContext,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for TenantMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantMetrics")
            .field("tenant", &self.tenant_id())
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
        let recorded = Recorded {
            name: self.name,
            unit: self.unit.unwrap_or(default_unit),
            resolution: self.resolution,
            value,
            aggregation,
        };
        if self.dimensions.is_empty() && self.timestamp.is_none() {
            self.metrics.push_plain(GroupKind::Application, recorded)
        } else {
            self.metrics.push(
                GroupKind::Application,
                self.dimensions,
                self.timestamp,
                recorded,
            )
        }
    }
}

/// One value recorded, before it is checked.
struct Recorded<'a> {
    name: &'a str,
    unit: Unit,
    resolution: Resolution,
    value: f64,
    aggregation: Aggregation,
}

impl TenantMetrics {
    /// The tenant these metrics are recorded for.
    pub fn tenant_id(&self) -> &str {
        self.ctx.tenant_id().as_str()
    }

    /// Adds `value` to counter `name` (unit `Count`).
    pub fn count(&self, name: &str, value: f64) -> Result<()> {
        self.application(name, Unit::Count, value, Aggregation::Sum)
    }

    /// Records gauge `name` at `value` in `unit`.
    pub fn gauge(&self, name: &str, value: f64, unit: Unit) -> Result<()> {
        self.application(name, unit, value, Aggregation::Each)
    }

    /// What `metric(name)` with only a unit records (the shortcuts above).
    fn application(
        &self,
        name: &str,
        unit: Unit,
        value: f64,
        aggregation: Aggregation,
    ) -> Result<()> {
        let recorded = Recorded {
            name,
            unit,
            resolution: Resolution::Standard,
            value,
            aggregation,
        };
        self.push_plain(GroupKind::Application, recorded)
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
        if state.has_property(name) {
            return Err(conflict(name, "a property", "a dimension"));
        }
        if let Some(clash) = state.has_metric(name).then_some("a metric") {
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
        let size = property_bytes(key, PropertyRef::Json(&value));
        let mut state = self.lock();
        if state.dimensions.iter().any(|(n, _)| n == key)
            || state
                .groups
                .iter()
                .any(|g| g.extra.iter().any(|(n, _)| n == key))
        {
            return Err(conflict(key, "a dimension", "a property"));
        }
        if let Some(clash) = state.has_metric(key).then_some("a metric") {
            return Err(conflict(key, clash, "a property"));
        }
        let slot = state.property(key);
        let replaced = match slot {
            Ok(i) => state
                .properties
                .get(i)
                .map_or(0, |(_, old)| property_bytes(key, PropertyRef::Json(old))),
            Err(_) => 0,
        };
        let handlers = state.properties_bytes - replaced + size;
        if self.builtin_properties_bytes() + handlers > MAX_PROPERTIES_BYTES {
            return Err(Error::PropertyTooLarge {
                key: key.chars().take(64).collect(),
                size,
                max: MAX_PROPERTIES_BYTES,
            });
        }
        match slot {
            Ok(i) => {
                if let Some(entry) = state.properties.get_mut(i) {
                    entry.1 = value;
                }
            }
            Err(i) => state.properties.insert(i, (key.to_owned(), value)),
        }
        state.properties_bytes = handlers;
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
        let recorded = Recorded {
            name,
            unit,
            resolution: Resolution::Standard,
            value,
            aggregation,
        };
        self.push_plain(GroupKind::Consumption, recorded)
    }

    /// Publishes everything recorded so far to the sink and starts afresh. Called by the
    /// [`crate::layer`] when the invocation ends, handler error or not.
    pub async fn flush(&self) -> Result<()> {
        let now = SystemTime::now();
        let sink = &self.config.0.sink;
        let published = match sink.as_emf() {
            Some(emf) => self.write_emf(emf, now),
            None => {
                let groups = self.take(now);
                if groups.is_empty() {
                    None
                } else {
                    Some(sink.publish(groups).await)
                }
            }
        };
        match published {
            Some(result) => result,
            None => match self.config.0.on_empty {
                OnEmpty::Skip => Ok(()),
                OnEmpty::Warn => {
                    tracing::warn!(tenant.id = %self.tenant_id(), "no metrics to flush");
                    Ok(())
                }
                OnEmpty::Error => Err(Error::Empty),
            },
        }
    }

    /// Writes what was recorded to the EMF sink straight from the state, stamped `now` where no
    /// timestamp was given, and forgets it (written or not, as for any sink). `None` when
    /// nothing was recorded.
    fn write_emf(&self, emf: &EmfWriter, now: SystemTime) -> Option<Result<()>> {
        let mut state = self.lock();
        if state.is_empty() {
            return None;
        }
        let result = emf.write_with(|buffer, ends| {
            state.try_each_group(|group| {
                let document = PendingDocument {
                    metrics: self,
                    state: &state,
                    group,
                    timestamp: group.timestamp.unwrap_or(now),
                };
                emf::write_documents(buffer, ends, &document, true)
            })
        });
        state.clear_metrics();
        Some(result)
    }

    /// Takes what was recorded as groups stamped `now` where no timestamp was given.
    pub(crate) fn take(&self, now: SystemTime) -> Vec<MetricGroup> {
        let mut state = self.lock();
        if state.is_empty() {
            state.clear_metrics();
            return Vec::new();
        }
        let properties = Arc::new(self.property_map(&state));
        let mut groups = Vec::new();
        state.each_group(|g| {
            let mut dimensions = Vec::new();
            self.each_dimension(g.kind, &state.dimensions, g.extra, |n, v| {
                dimensions.push((n.as_str().to_owned(), v.as_str().to_owned()));
            });
            groups.push(MetricGroup {
                namespace: self.config.0.namespace.clone(),
                timestamp: g.timestamp.unwrap_or(now),
                dimensions,
                metrics: g
                    .metrics
                    .iter()
                    .map(|m| MetricData {
                        name: state.names.text(&m.name).to_owned(),
                        unit: m.unit,
                        resolution: m.resolution,
                        values: m.values.as_slice().to_vec(),
                    })
                    .collect(),
                properties: properties.clone(),
            });
        });
        state.clear_metrics();
        groups
    }

    /// Every property, the crate's and the handler's, as a flushed group shows them.
    fn property_map(&self, state: &State) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert(TENANT_ID.into(), self.tenant_id().into());
        map.insert(TIER.into(), self.ctx.tier().as_str().into());
        for (key, value) in &state.properties {
            map.insert(key.clone(), value.clone());
        }
        map
    }

    /// What the crate's properties take in an EMF document.
    fn builtin_properties_bytes(&self) -> usize {
        let tenant = PropertyRef::Text(Text::Any(self.tenant_id()));
        let tier = PropertyRef::Text(Text::Any(self.ctx.tier().as_str()));
        property_bytes(TENANT_ID, tenant) + property_bytes(TIER, tier)
    }

    /// Whether the tier and the tenant id are dimensions of the metrics of `kind`.
    fn builtin_dimensions(&self, kind: GroupKind) -> (bool, bool) {
        let c = &self.config.0;
        match kind {
            GroupKind::Application => (c.tier_dimension, c.tenant_dimension),
            GroupKind::Consumption => (false, c.consumption_dimension),
        }
    }

    fn base_dimension_count(&self, kind: GroupKind) -> usize {
        let (tier, tenant) = self.builtin_dimensions(kind);
        usize::from(self.config.0.service.is_some()) + usize::from(tier) + usize::from(tenant)
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

    /// Calls `each` with the dimension set of a group of `kind` with its own dimensions `extra`,
    /// in order: the crate's (`service`, `tier`, `tenant_id`, as configured), then the
    /// invocation's (the group's own value where it has one of the same name), then the group's
    /// other own ones. Consumption metrics have only the crate's.
    #[inline]
    fn each_dimension<'a>(
        &'a self,
        kind: GroupKind,
        invocation: &'a [(String, String)],
        extra: &'a [(String, String)],
        mut each: impl FnMut(Text<'a>, Text<'a>),
    ) {
        let (tier, tenant) = self.builtin_dimensions(kind);
        if let Some(service) = &self.config.0.service {
            each(Text::Plain(SERVICE), Text::Any(service));
        }
        if tier {
            each(Text::Plain(TIER), Text::Any(self.ctx.tier().as_str()));
        }
        if tenant {
            each(Text::Plain(TENANT_ID), Text::Any(self.tenant_id()));
        }
        if kind == GroupKind::Consumption {
            return;
        }
        for (name, value) in invocation {
            let value = extra
                .iter()
                .find(|(n, _)| n == name)
                .map_or(value, |(_, own)| own);
            each(Text::Any(name), Text::Any(value));
        }
        for (name, value) in extra {
            if !invocation.iter().any(|(n, _)| n == name) {
                each(Text::Any(name), Text::Any(value));
            }
        }
    }

    /// Records a metric of `kind` without dimensions or a timestamp of its own: the common
    /// case, kept short.
    fn push_plain(&self, kind: GroupKind, recorded: Recorded<'_>) -> Result<()> {
        let metric = checked(recorded)?;
        let name = metric.name;
        let max = self.config.0.max_values;
        let mut state = self.lock();
        if state.has_property(name) {
            return Err(conflict(name, "a property", "a metric"));
        }
        if state.dimensions.iter().any(|(n, _)| n == name) {
            return Err(conflict(name, "a dimension", "a metric"));
        }
        // The invocation's dimensions alone are within the bound: checked when set.
        let (list, names, values) = state.plain_list(kind);
        record(list, names, values, max, metric)
    }

    /// Records a metric with dimensions or a timestamp of its own.
    fn push(
        &self,
        kind: GroupKind,
        extra: Vec<(String, String)>,
        timestamp: Option<SystemTime>,
        recorded: Recorded<'_>,
    ) -> Result<()> {
        let metric = checked(recorded)?;
        let name = metric.name;
        let mut state = self.lock();
        if state.has_property(name) {
            return Err(conflict(name, "a property", "a metric"));
        }
        if state.dimensions.iter().any(|(n, _)| n == name) || extra.iter().any(|(n, _)| n == name) {
            return Err(conflict(name, "a dimension", "a metric"));
        }
        if let Some((n, _)) = extra
            .iter()
            .find(|(n, _)| is_builtin(n) || state.has_property(n))
        {
            let first = if is_builtin(n) {
                "set by the crate"
            } else {
                "a property"
            };
            return Err(conflict(n, first, "a dimension"));
        }
        let max = self.config.0.max_values;
        let count = self.dimension_count(kind, &state.dimensions, &extra);
        if count > MAX_DIMENSIONS {
            return Err(Error::TooManyDimensions {
                count,
                max: MAX_DIMENSIONS,
            });
        }
        let (list, names, values) = state.group_list(kind, extra, timestamp);
        record(list, names, values, max, metric)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data: every update above
        // validates before it writes.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The recorded value as a [`Metric`], once its name and value pass the checks that need no
/// lock: a valid name the crate does not set, a finite value in range.
fn checked(recorded: Recorded<'_>) -> Result<Metric<'_>> {
    let Recorded {
        name,
        unit,
        resolution,
        value,
        aggregation,
    } = recorded;
    let plain = name::metric_is_plain(name)?;
    name::value(name, value)?;
    if is_builtin(name) {
        return Err(conflict(name, "set by the crate", "a metric"));
    }
    Ok(Metric {
        name,
        prefix: pending::prefix(name.as_bytes()),
        plain,
        unit,
        resolution,
        value,
        aggregation,
    })
}

/// One value of a metric, checked, to record.
struct Metric<'a> {
    name: &'a str,
    prefix: u64,
    plain: bool,
    unit: Unit,
    resolution: Resolution,
    value: f64,
    aggregation: Aggregation,
}

/// Records `metric` in `list`: summed into or added to the metric of that name, or as a new one,
/// within `max` values held. Every check comes before the first write: an error leaves nothing
/// recorded. An empty list must have been started ([`State::plain_list`]).
#[inline(always)]
fn record(
    list: &mut List,
    names: &mut Names,
    values: &mut usize,
    max: usize,
    metric: Metric<'_>,
) -> Result<()> {
    let Metric {
        name,
        prefix,
        plain,
        unit,
        resolution,
        value,
        aggregation,
    } = metric;
    let existing = list
        .metrics
        .iter_mut()
        .find(|m| names.is(&m.name, name.as_bytes(), prefix));
    match existing {
        Some(existing) => {
            if existing.unit != unit
                || existing.resolution != resolution
                || existing.aggregation != aggregation
            {
                return Err(Error::Conflict {
                    metric: name.to_owned(),
                    first: describe(existing.unit, existing.resolution, existing.aggregation),
                    second: describe(unit, resolution, aggregation),
                });
            }
            match aggregation {
                Aggregation::Sum => {
                    let held = existing.values.as_slice().first().copied();
                    let total = held.unwrap_or_default() + value;
                    name::value(name, total)?;
                    existing.values = Values::One(total);
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
            if list.metrics.capacity() == 0 {
                list.metrics = Vec::with_capacity(METRICS_CAPACITY);
            }
            let Some(held) = names.push(name, prefix, plain) else {
                return Err(Error::TooManyValues(max));
            };
            list.metrics.push(Pending {
                name: held,
                unit,
                resolution,
                aggregation,
                values: Values::One(value),
            });
        }
    }
    Ok(())
}

/// The metrics a group has room for when its first is recorded.
const METRICS_CAPACITY: usize = 16;

/// One pending group as an EMF document source: what the EMF sink writes, straight from the
/// state.
struct PendingDocument<'a> {
    metrics: &'a TenantMetrics,
    state: &'a State,
    group: GroupRef<'a>,
    timestamp: SystemTime,
}

impl Source for PendingDocument<'_> {
    fn namespace(&self) -> &str {
        &self.metrics.config.0.namespace
    }

    fn timestamp(&self) -> SystemTime {
        self.timestamp
    }

    fn dimensions<'a>(&'a self, each: impl FnMut(Text<'a>, Text<'a>)) {
        let group = self.group;
        self.metrics
            .each_dimension(group.kind, &self.state.dimensions, group.extra, each);
    }

    fn properties<'a>(&'a self, mut each: impl FnMut(Text<'a>, PropertyRef<'a>)) {
        // In key order, as a flushed group's map has them: the handler's are sorted, and
        // `tenant_id` < `tier`. A member that is a dimension is not a property too.
        let (tier_dimension, tenant_dimension) = self.metrics.builtin_dimensions(self.group.kind);
        let mut handlers = self.state.properties.iter().peekable();
        let mut handlers_before = |key: &str, each: &mut dyn FnMut(Text<'a>, PropertyRef<'a>)| {
            while let Some((k, v)) = handlers.next_if(|(k, _)| k.as_str() < key) {
                each(Text::Any(k), PropertyRef::Json(v));
            }
        };
        handlers_before(TENANT_ID, &mut each);
        if !tenant_dimension {
            let tenant = Text::Any(self.metrics.tenant_id());
            each(Text::Plain(TENANT_ID), PropertyRef::Text(tenant));
        }
        handlers_before(TIER, &mut each);
        if !tier_dimension {
            let tier = Text::Any(self.metrics.ctx.tier().as_str());
            each(Text::Plain(TIER), PropertyRef::Text(tier));
        }
        for (k, v) in handlers {
            each(Text::Any(k), PropertyRef::Json(v));
        }
    }

    fn metrics(&self) -> impl Iterator<Item = MetricRef<'_>> + Clone {
        self.group.metrics.iter().map(|m| MetricRef {
            name: NameText::Json(self.state.names.json(&m.name)),
            unit: m.unit,
            resolution: m.resolution,
            values: m.values.as_slice(),
        })
    }

    fn metric_count(&self) -> usize {
        self.group.metrics.len()
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
                    tenant.id = %self.tenant_id(),
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

#[cold]
fn describe(unit: Unit, resolution: Resolution, aggregation: Aggregation) -> String {
    let kind = match aggregation {
        Aggregation::Sum => "a counter",
        Aggregation::Each => "a gauge or timing",
    };
    format!("{kind} in {unit} at {}s resolution", resolution.seconds())
}

#[cold]
fn conflict(name: &str, first: &str, second: &str) -> Error {
    Error::Conflict {
        metric: name.to_owned(),
        first: first.to_owned(),
        second: second.to_owned(),
    }
}

#[cfg(test)]
mod tests;

//! The configuration built once at cold start: [`Metrics`] and its builder.

use std::fmt;
use std::sync::{Arc, Mutex};

use saas_core::TenantContext;

use super::TenantMetrics;
use crate::error::Result;
use crate::name;
use crate::pending::State;
use crate::sink::Sink;

/// What a flush does when nothing was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnEmpty {
    /// Publish nothing, say nothing.
    Skip,
    /// Publish nothing and log a warning (Powertools' default).
    #[default]
    Warn,
    /// Publish nothing and fail with [`Error::Empty`](crate::Error::Empty).
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
pub struct Metrics(pub(super) Arc<Config>);

pub(super) struct Config {
    pub(super) namespace: Arc<str>,
    pub(super) service: Option<String>,
    pub(super) sink: Sink,
    pub(super) tenant_dimension: bool,
    pub(super) tier_dimension: bool,
    pub(super) consumption_dimension: bool,
    pub(super) on_empty: OnEmpty,
    pub(super) max_values: usize,
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
        TenantMetrics {
            config: self.clone(),
            ctx: ctx.clone(),
            state: Arc::new(Mutex::new(State::default())),
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

    /// Keeps `tenant_id` a dimension of the consumption metrics ([`consumption`](crate::consumption)) (default: yes,
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
    /// fails with [`Error::TooManyValues`](crate::Error::TooManyValues) so memory stays bounded.
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

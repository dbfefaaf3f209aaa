//! Invocation metrics per tenant, as a `tower` layer that sits inside saas-core's
//! `RequireTenantLayer`.
//!
//! For each request it makes the invocation's [`TenantMetrics`] from the verified
//! [`TenantContext`] in the request's extensions, puts it there for the handler
//! (`req.extensions().get::<TenantMetrics>()`, or axum's `Extension<TenantMetrics>`), and when
//! the handler is done, with a response or an error, records and flushes:
//!
//! | metric | unit | when |
//! |---|---|---|
//! | `Invocations` | Count | every request |
//! | `ColdStart` | Count | the first request this layer sees |
//! | `ClientErrors` | Count | a 4xx response |
//! | `ServerErrors` | Count | a 5xx response, or the service's error |
//! | `Duration` | Milliseconds | the handler's wall time |
//! | [`crate::consumption::REQUESTS`], [`crate::consumption::COMPUTE_TIME`] | | consumption, per tenant |
//!
//! A flush that fails is logged; the response goes out as the handler made it.
//!
//! ```
//! use saas_metrics::{Metrics, MemorySink, TenantMetrics};
//! use saas_metrics::layer::InvocationMetricsLayer;
//! use tower::{Layer, Service, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sink = MemorySink::new();
//! let metrics = Metrics::builder("TodoApp")?.service("todo")?.sink(sink.clone()).build();
//! let handler = service_fn(|req: http::Request<String>| async move {
//!     let m = req.extensions().get::<TenantMetrics>().cloned();
//!     if let Some(m) = m { m.count("TodosListed", 3.0)?; }
//!     Ok::<_, saas_metrics::Error>(http::Response::new(String::new()))
//! });
//! let mut app = InvocationMetricsLayer::new(metrics).layer(handler);
//!
//! // RequireTenantLayer puts the verified context here; a test context stands in for it.
//! let mut req = http::Request::new(String::new());
//! req.extensions_mut().insert(saas_core::TenantContext::builder("tenant-a").build());
//! app.ready().await?.call(req).await?;
//!
//! assert_eq!(sink.sum("Invocations", "tenant-a"), 1.0);
//! assert_eq!(sink.sum("TodosListed", "tenant-a"), 3.0);
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use saas_core::TenantContext;

use crate::manager::{Metrics, TenantMetrics};

type OperationFn = dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync;

/// Adds [`InvocationMetrics`] around a service. Cheap to clone; build once at cold start.
#[derive(Clone)]
pub struct InvocationMetricsLayer {
    metrics: Metrics,
    cold: Arc<AtomicBool>,
    operation: Option<Arc<OperationFn>>,
}

impl fmt::Debug for InvocationMetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvocationMetricsLayer")
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl InvocationMetricsLayer {
    /// Invocation metrics recorded with `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        InvocationMetricsLayer {
            metrics,
            cold: Arc::new(AtomicBool::new(true)),
            operation: None,
        }
    }

    /// Names each request's `operation` dimension (e.g. from the method and the matched route;
    /// keep it low-cardinality: never ids). `None` leaves it out.
    pub fn operation(
        mut self,
        name: impl Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.operation = Some(Arc::new(name));
        self
    }
}

impl<S> tower_layer::Layer<S> for InvocationMetricsLayer {
    type Service = InvocationMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InvocationMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`InvocationMetricsLayer`].
#[derive(Clone, Debug)]
pub struct InvocationMetrics<S> {
    inner: S,
    layer: InvocationMetricsLayer,
}

impl<S> InvocationMetrics<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The future of [`InvocationMetrics`].
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, ResB> tower_service::Service<http::Request<B>> for InvocationMetrics<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResB: Send + 'static,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Some(ctx) = req.extensions().get::<TenantContext>().cloned() else {
            // A wiring mistake (this layer outside RequireTenantLayer): nothing to meter for.
            tracing::error!("InvocationMetricsLayer: no TenantContext in the request; not metered");
            return Box::pin(self.inner.call(req));
        };
        let (mut parts, body) = req.into_parts();
        let metrics = self.layer.metrics.for_tenant(&ctx);
        let operation = self.layer.operation.as_ref().and_then(|f| f(&parts));
        parts.extensions.insert(metrics.clone());
        let cold = self.layer.cold.swap(false, Ordering::Relaxed);
        let started = Instant::now();
        let future = self.inner.call(http::Request::from_parts(parts, body));
        Box::pin(async move {
            let result = future.await;
            let elapsed = started.elapsed();
            let status = result.as_ref().ok().map(|r| r.status());
            let recorded = record(&metrics, operation.as_deref(), cold, elapsed, status);
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "invocation metrics not recorded");
            }
            if let Err(e) = metrics.flush().await {
                tracing::warn!(error = %e, "metrics flush failed; the response is unaffected");
            }
            result
        })
    }
}

/// Records the invocation's metrics. Each is recorded on its own, so that one refused (an
/// operation name that is not a valid dimension value, a name the handler took for something
/// else) loses only itself: the invocation and its consumption are still counted. Returns the
/// first error.
fn record(
    m: &TenantMetrics,
    operation: Option<&str>,
    cold: bool,
    elapsed: std::time::Duration,
    status: Option<http::StatusCode>,
) -> crate::Result<()> {
    let mut results = Vec::with_capacity(7);
    if let Some(op) = operation {
        results.push(m.dimension("operation", op));
    }
    results.push(m.count("Invocations", 1.0));
    if cold {
        results.push(m.count("ColdStart", 1.0));
    }
    match status {
        Some(s) if s.is_client_error() => results.push(m.count("ClientErrors", 1.0)),
        Some(s) if s.is_server_error() => results.push(m.count("ServerErrors", 1.0)),
        Some(_) => {}
        None => results.push(m.count("ServerErrors", 1.0)),
    }
    results.push(m.timing("Duration", elapsed));
    results.push(m.record_request());
    results.push(m.record_compute(elapsed));
    results.into_iter().collect()
}

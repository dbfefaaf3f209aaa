//! Per-tenant metrics for AWS Lambda: CloudWatch Embedded Metric Format on stdout by default,
//! PutMetricData as an option, and what each tenant consumes.
//!
//! [`Metrics`] is the configuration, built once at cold start; [`Metrics::for_tenant`] gives one
//! invocation's [`TenantMetrics`] from its verified [`saas_core::TenantContext`]. Nothing about a
//! tenant lives in a static: invocations in flight at once each record and flush their own.
//! The tenant id is a property of every EMF line (searchable, free) and a dimension only when
//! asked ([`MetricsBuilder::tenant_dimension`]); consumption ([`consumption`]) is kept per
//! tenant so that the `saas-usage` command can apportion a bill.
//!
//! ```
//! use std::time::Duration;
//! use saas_metrics::{Metrics, MemorySink, Unit};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), saas_metrics::Error> {
//! let sink = MemorySink::new();                      // default: Sink::emf_stdout()
//! let metrics = Metrics::builder("TodoApp")?.service("todo")?.sink(sink.clone()).build();
//!
//! let ctx = saas_core::TenantContext::builder("tenant-a").build();
//! let m = metrics.for_tenant(&ctx);
//! m.dimension("operation", "create_todo")?;
//! m.count("TodosCreated", 1.0)?;
//! m.metric("PayloadSize").unit(Unit::Bytes).high_resolution().gauge(512.0)?;
//! m.record_capacity(0.5, 1.0)?;                     // from saas-data's usage report
//! m.flush().await?;
//!
//! let line = &sink.emf_lines()?[0];
//! assert!(line.contains(r#""Dimensions":[["service","tier","operation"]]"#));
//! assert!(line.contains(r#""tenant_id":"tenant-a""#));
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `emf` | yes | [`Sink::emf_stdout`], [`Sink::emf_writer`] |
//! | `cloudwatch` | | [`CloudWatchSink`]: PutMetricData (`aws-sdk-cloudwatch`), batched, retried, buffered |
//! | `extension` | | [`extension`]: the [`CloudWatchSink`] sends after the response, from a Lambda internal extension |
//! | `layer` | | [`layer`]: invocation metrics per tenant as a `tower` layer |
//! | `usage` | | [`usage`] and the `saas-usage` command: cost per tenant from EMF lines or CloudWatch |
//! | `test-util` | | helpers for tests (the [`MemorySink`] is always there) |
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod consumption;
mod error;
#[cfg(feature = "extension")]
#[cfg_attr(docsrs, doc(cfg(feature = "extension")))]
pub mod extension;
mod group;
#[cfg(feature = "layer")]
pub mod layer;
mod manager;
mod name;
mod pending;
mod sink;
mod unit;
#[cfg(feature = "usage")]
pub mod usage;

#[doc(inline)]
pub use error::{Error, NameKind, Result};
#[doc(inline)]
pub use group::{MetricData, MetricGroup};
#[doc(inline)]
pub use manager::{
    DEFAULT_MAX_VALUES, MetricBuilder, Metrics, MetricsBuilder, OnEmpty, TenantMetrics,
};
#[doc(inline)]
pub use name::{MAX_AGE, MAX_AHEAD, MAX_DIMENSION_VALUE_LEN, MAX_DIMENSIONS, MAX_NAME_LEN};
#[doc(inline)]
pub use sink::Sink;
#[cfg(feature = "cloudwatch")]
#[doc(inline)]
pub use sink::cloudwatch::{
    CloudWatchSink, CloudWatchSinkBuilder, DEFAULT_MAX_BUFFERED, DROPPED_METRIC,
    MAX_DATA_PER_REQUEST, MAX_VALUES_PER_DATUM,
};
#[doc(inline)]
pub use sink::emf::{
    MAX_DOCUMENT_BYTES, MAX_METRICS_PER_DOCUMENT, MAX_VALUES_PER_METRIC, documents as emf_documents,
};
#[doc(inline)]
pub use sink::memory::MemorySink;
#[doc(inline)]
pub use unit::{Resolution, Unit};

/// The member that carries the tenant id (a property, or a dimension when so configured).
pub const TENANT_ID: &str = "tenant_id";
/// The member that carries the tenant's tier.
pub const TIER: &str = "tier";
/// The dimension that carries the service name.
pub const SERVICE: &str = "service";
